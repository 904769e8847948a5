package mailsession

import (
	"fmt"
	"sort"
	"strings"
)

// Key documents one honoured JavaMail property.
type Key struct {
	Name string // for per-protocol keys, "mail.<p>.name" with <p> a protocol
	Doc  string
}

// globalKeys are the session-wide JavaMail keys honoured.
var globalKeys = []Key{
	{"mail.transport.protocol", "smtp (default) or smtps (implicit TLS)"},
	{"mail.store.protocol", "pop3, pop3s, imap or imaps; unset means no store"},
	{"mail.host", "default host for every protocol without mail.<p>.host (default localhost)"},
	{"mail.user", "default user for every protocol without mail.<p>.user"},
	{"mail.password", "default password (an extension; JavaMail has none)"},
	{"mail.from", "default From address and last-resort envelope sender"},
	{"mail.debug", "true: protocol trace to the debug logger, AUTH redacted"},
}

// protocolKeys are honoured under mail.<p>. for p in smtp, smtps, pop3,
// pop3s, imap, imaps. A mail.smtps.X key falls back to mail.smtp.X (and
// pop3s to pop3, imaps to imap), as Liferay copies its SMTP fields to the
// protocol chosen.
var protocolKeys = []Key{
	{"host", "server host name"},
	{"port", "server port (25/465, 110/995, 143/993 by default)"},
	{"user", "login name"},
	{"password", "login password, or the OAuth2 token for XOAUTH2/OAUTHBEARER (never logged)"},
	{"auth", "true: authenticate (SMTP); stores authenticate whenever a user is set"},
	{"auth.mechanisms", "allowed SASL mechanisms in order of preference: PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER"},
	{"auth.plain.disable", "true: never use PLAIN (likewise auth.login.disable, auth.cram-md5.disable, auth.xoauth2.disable, auth.oauthbearer.disable)"},
	{"auth.allowcleartext", "true: allow credentials over an unencrypted connection to a host that is not loopback (extension; default false)"},
	{"from", "SMTP envelope sender (MAIL FROM)"},
	{"localhost", "name sent in EHLO (default localhost)"},
	{"localaddress", "used as the EHLO name when localhost is unset"},
	{"starttls.enable", "true: upgrade with STARTTLS when the server offers it"},
	{"starttls.required", "true: refuse to go on without STARTTLS"},
	{"ssl.enable", "true: implicit TLS (as the smtps/pop3s/imaps protocols)"},
	{"ssl.trust", "* or a space-separated host list whose certificates are accepted without verification; a server not in the list is refused"},
	{"ssl.checkserveridentity", "false: do not check the host name in the certificate (default true)"},
	{"ssl.protocols", "TLS versions allowed, e.g. \"TLSv1.2 TLSv1.3\"; older ones are ignored"},
	{"socketFactory.class", "javax.net.ssl.SSLSocketFactory means implicit TLS (the classic SMTPS recipe)"},
	{"socketFactory.port", "default port when port is unset"},
	{"proxy.host", "HTTP proxy the connection goes through (CONNECT), as host or host:port; wins over socks.host, as in JavaMail; any 2xx reply opens the tunnel (RFC 9110; JavaMail takes only 200)"},
	{"proxy.port", "HTTP proxy port (default 80, or the port in proxy.host); read only with proxy.host"},
	{"proxy.user", "HTTP proxy user: Basic Proxy-Authorization when proxy.password is set too"},
	{"proxy.password", "HTTP proxy password (never logged); used only with proxy.user"},
	{"socks.host", "SOCKS5 proxy the connection goes through (no authentication), as host or host:port; used only without proxy.host; the server's host name is resolved by the proxy (JavaMail resolves it locally when it can)"},
	{"socks.port", "SOCKS5 proxy port (default 1080, or the port in socks.host)"},
	{"connectiontimeout", "connect timeout in milliseconds (default 30000; 0 keeps the default)"},
	{"timeout", "read timeout per I/O in milliseconds (default 60000)"},
	{"writetimeout", "write timeout per I/O in milliseconds (default 60000)"},
	{"sendpartial", "true: send to the valid recipients when some are rejected (SMTP)"},
	{"dsn.notify", "DSN NOTIFY: NEVER, or SUCCESS,FAILURE,DELAY (SMTP)"},
	{"dsn.ret", "DSN RET: FULL or HDRS (SMTP)"},
	{"quitwait", "false: do not wait for the reply to QUIT (SMTP; default true)"},
	{"rsetbeforequit", "true: send RSET before QUIT (SMTP)"},
	{"pipelining", "false: never pipeline MAIL/RCPT/DATA, even when the server offers PIPELINING (extension; default true)"},
	{"chunking", "false: send the message with DATA, even when the server offers CHUNKING (BDAT, RFC 3030) (extension; default true)"},
	{"connectionpoolsize", "SMTP connections kept and used at once (default 2)"},
	{"connectionpooltimeout", "milliseconds an idle SMTP connection is kept (default 45000; 0 closes after each send)"},
}

// ignoredKeys are legal JavaMail (or Liferay) keys this library accepts and
// deliberately does not act upon; Check does not report them as unknown.
var ignoredKeys = []string{
	"ehlo", "reportsuccess", "socketFactory.fallback", "socketFactory", "ssl.socketFactory",
	"ssl.socketFactory.class", "ssl.socketFactory.port", "ssl.ciphersuites", "sasl.enable",
	"sasl.mechanisms", "sasl.authorizationid", "sasl.realm", "sasl.usecanonicalhostname",
	"auth.ntlm.domain", "auth.ntlm.flags", "noop.strict", "mailextension", "userset",
	"allow8bitmime", "submitter", "localport", "apop.enable", "rsetbeforequit", "disabletop", "forgettopheaders",
	"cachewriteto", "filecache.enable", "keepmessagecontent", "finalizecleanclose",
	"partialfetch", "fetchsize", "peek", "statuscachetimeout", "appendbuffersize",
	"separatestoreconnection", "allowreadonlyselect", "enablesasl", "compress.enable",
}

// globalIgnored are session-wide keys accepted without action.
var globalIgnored = map[string]bool{
	"mail.session.mail": true, "mail.mime.charset": true, "mail.mime.address.strict": true,
	"mail.mime.encodefilename": true, "mail.mime.decodefilename": true,
	"mail.mime.encodeparameters": true, "mail.mime.decodeparameters": true,
	"mail.mime.splitlongparameters": true, "mail.event.scope": true, "mail.event.executor": true,
	"mail.session.jndi.name": true, "mail.session.mail.advanced.properties": true,
	"mail.transport.protocol.rfc822": true,
}

var protocols = []string{"smtp", "smtps", "pop3", "pop3s", "imap", "imaps"}

// Keys lists every honoured JavaMail key with its documentation, per
// protocol keys spelled out for each protocol.
func Keys() []Key {
	out := append([]Key(nil), globalKeys...)
	for _, p := range protocols {
		for _, k := range protocolKeys {
			out = append(out, Key{Name: "mail." + p + "." + k.Name, Doc: k.Doc})
		}
	}
	return out
}

// knownKey reports whether key is honoured or deliberately ignored.
func knownKey(key string) bool {
	if globalIgnored[key] {
		return true
	}
	for _, k := range globalKeys {
		if k.Name == key {
			return true
		}
	}
	for _, p := range protocols {
		rest, ok := strings.CutPrefix(key, "mail."+p+".")
		if !ok {
			continue
		}
		for _, k := range protocolKeys {
			if strings.EqualFold(k.Name, rest) {
				return true
			}
		}
		for _, k := range ignoredKeys {
			if strings.EqualFold(k, rest) {
				return true
			}
		}
		if strings.HasPrefix(rest, "auth.") && strings.HasSuffix(rest, ".disable") {
			return true
		}
	}
	return strings.HasPrefix(key, "mail.mime.")
}

// unknownKeyWarnings reports every mail.* key that is neither honoured nor
// known-and-ignored, with the nearest known key when it looks like a typo
// (mail.smpt.host → mail.smtp.host).
func unknownKeyWarnings(props map[string]string) []Warning {
	var w []Warning
	for key := range props {
		if !strings.HasPrefix(key, "mail.") || knownKey(key) {
			continue
		}
		msg := "unknown key, ignored"
		if near := nearestKey(key); near != "" {
			msg = fmt.Sprintf("unknown key, ignored (did you mean %s?)", near)
		}
		w = append(w, Warning{Key: key, Message: msg})
	}
	sort.Slice(w, func(i, j int) bool { return w[i].Key < w[j].Key })
	return w
}

func nearestKey(key string) string {
	best, bestD := "", 4
	for _, k := range Keys() {
		if d := editDistance(strings.ToLower(key), strings.ToLower(k.Name)); d < bestD {
			best, bestD = k.Name, d
		}
	}
	return best
}

// editDistance is the Damerau–Levenshtein (optimal string alignment)
// distance, so a swap of two letters (smpt/smtp) counts as one edit.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
