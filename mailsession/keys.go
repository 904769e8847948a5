package mailsession

//go:generate go test -run ^TestKeysDoc$ -args -update-keys-doc

import (
	"fmt"
	"sort"
	"strings"
)

// Support says what the library does with a key.
type Support string

// The kinds of support a key has.
const (
	// Honoured: the JavaMail key means here what it means to JavaMail
	// (differences, such as our finite timeouts, are in Doc).
	Honoured Support = "honoured"
	// Extension: a key of this library (or of Liferay's properties) that
	// JavaMail does not define.
	Extension Support = "extension"
	// NotSupported: a JavaMail key this library does not act upon; when it
	// is set, Warnings says "JavaMail key, not supported here: <why>".
	NotSupported Support = "not supported"
	// Liferay: a key of Liferay's portal properties read by
	// FromPortalProperties itself, not a JavaMail key.
	Liferay Support = "Liferay"
)

// Key documents one property: its name, what it does here, and whether it
// is honoured, an extension or not supported.
type Key struct {
	Name    string // for per-protocol keys, "mail.<p>.name" with <p> a protocol
	Doc     string
	Support Support
}

// globalKeys are the session-wide keys.
var globalKeys = []Key{
	{"mail.transport.protocol", "smtp (default) or smtps (implicit TLS)", Honoured},
	{"mail.store.protocol", "pop3, pop3s, imap or imaps; unset means no store", Honoured},
	{"mail.host", "default host for every protocol without mail.<p>.host (default localhost)", Honoured},
	{"mail.user", "default user for every protocol without mail.<p>.user", Honoured},
	{"mail.password", "default password (JavaMail has none)", Extension},
	{"mail.from", "default From address and last-resort envelope sender", Honoured},
	{"mail.debug", "true: protocol trace to the debug logger, AUTH redacted", Honoured},
	{"mail.mime.charset", "messages are always composed in UTF-8; any other charset is reported", NotSupported},
	{"mail.mime.address.strict", "addresses are always parsed strictly (RFC 5322)", NotSupported},
	{"mail.mime.encodefilename", "non-ASCII file names are always encoded as RFC 2231 parameters", NotSupported},
	{"mail.mime.decodefilename", "Received.Parts always decodes file names (RFC 2231 and RFC 2047, which JavaMail decodes only with this key); Raw stays the bytes", NotSupported},
	{"mail.mime.encodeparameters", "non-ASCII parameters are always encoded as RFC 2231 parameters", NotSupported},
	{"mail.mime.decodeparameters", "Received.Parts always decodes RFC 2231 parameters (JavaMail's default too); Raw stays the bytes", NotSupported},
	{"mail.mime.splitlongparameters", "parameters are written by mime.FormatMediaType, not split", NotSupported},
	{"mail.event.scope", "there are no JavaMail events (connection, transport, store listeners) here", NotSupported},
	{"mail.event.executor", "there are no JavaMail events (connection, transport, store listeners) here", NotSupported},
	{"mail.transport.protocol.rfc822", "the transport for e-mail addresses is always mail.transport.protocol", NotSupported},
	{"mail.session.mail", "Liferay's settings-source flag: true uses the Control Panel settings (AUTH from the login, the advanced box applied), false (default) the mail.session.* keys alone", Liferay},
	{"mail.session.jndi.name", "look the session up under this name first (mail/MailSession, java:, java:comp/env/)", Liferay},
	{"mail.session.mail.advanced.properties", "the Control Panel's additional JavaMail properties, in .properties syntax, applied last when mail.session.mail=true", Liferay},
	{"admin.email.from.name", "Liferay's default sender name, the From without mail.session.mail.from", Liferay},
	{"admin.email.from.address", "Liferay's default sender address, the From without mail.session.mail.from", Liferay},
	{"mail.send.blacklist", "Liferay's MailEngine: addresses never mailed; read by the outbox (mailsession/outbox, outbox.Keys), not by Send", Liferay},
	{"mail.audit.trail", "Liferay's MailEngine: addresses that get every message as Bcc; read by the outbox, not by Send", Liferay},
	{"mail.batch.size", "Liferay's MailEngine: recipients per envelope; read by the outbox, not by Send", Liferay},
	{"mail.outbox.ratelimit", "envelopes per second the outbox sends; read by the outbox", Extension},
	{"mail.outbox.workers", "the outbox's workers (default: the SMTP pool size); read by the outbox", Extension},
	{"mail.dkim.domain", "sign every message with DKIM (RFC 6376) for this domain (d=); with mail.dkim.selector and mail.dkim.key.file. A domain that is not the default From's (nor its parent or child) is a warning: DMARC would not count it", Extension},
	{"mail.dkim.selector", "the DKIM selector (s=): the public key is at <selector>._domainkey.<domain> (see DKIMRecord)", Extension},
	{"mail.dkim.key.file", "the DKIM private key, PEM: PKCS#8 (RSA or Ed25519) or PKCS#1 (RSA); RSA keys need 2048 bits or more; a key others may read is a warning", Extension},
	{"mail.dkim.headers", "the header fields DKIM signs when present, separated by commas, colons or blanks; must name From, which is over-signed (default: From, Reply-To, Sender, To, Cc, Subject, Date, Message-ID, In-Reply-To, References, MIME-Version, Content-Type, Content-Transfer-Encoding, List-Unsubscribe, List-Unsubscribe-Post, List-Id)", Extension},
	{"mail.outbox.maxage", "how long the outbox retries temporary failures (default 120h); read by the outbox", Extension},
}

// protocolKeys are read under mail.<p>. for p in smtp, smtps, pop3,
// pop3s, imap, imaps. A mail.smtps.X key falls back to mail.smtp.X (and
// pop3s to pop3, imaps to imap), as Liferay copies its SMTP fields to the
// protocol chosen.
var protocolKeys = []Key{
	{"host", "server host name", Honoured},
	{"port", "server port (25/465, 110/995, 143/993 by default)", Honoured},
	{"user", "login name", Honoured},
	{"password", "login password, or the OAuth2 token for XOAUTH2/OAUTHBEARER (never logged; Liferay's key, JavaMail takes the password from an Authenticator)", Extension},
	{"auth", "true: authenticate (SMTP; with a user and a password, else construction fails with ErrAuth); stores authenticate whenever a user is set", Honoured},
	{"auth.mechanisms", "allowed SASL mechanisms in order of preference, separated by blanks: PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER SCRAM-SHA-256 SCRAM-SHA-256-PLUS SCRAM-SHA-1 SCRAM-SHA-1-PLUS (default SCRAM-SHA-256-PLUS SCRAM-SHA-1-PLUS SCRAM-SHA-256 SCRAM-SHA-1 PLAIN LOGIN: JavaMail's PLAIN LOGIN, after SCRAM, which JavaMail lacks; no CRAM-MD5, which JavaMail lacks too). A -PLUS mechanism (channel binding: tls-exporter with TLS 1.3, tls-unique with TLS 1.2) is used only over TLS, and over TLS a SCRAM mechanism listed with its -PLUS variant becomes that variant when the server offers it. Unset, a store logs in with SASL when the server offers SCRAM, else with USER/PASS (POP3) or LOGIN (IMAP); set, always with SASL. A comma, which JavaMail does not split at, is reported", Honoured},
	{"auth.plain.disable", "true: never use PLAIN (likewise auth.login.disable, auth.cram-md5.disable, auth.xoauth2.disable, auth.oauthbearer.disable, auth.scram-sha-256.disable, auth.scram-sha-256-plus.disable, auth.scram-sha-1.disable, auth.scram-sha-1-plus.disable)", Honoured},
	{"auth.allowcleartext", "true: allow credentials over an unencrypted connection to a host that is not loopback (default false)", Extension},
	{"from", "SMTP envelope sender (MAIL FROM); of a value with a display name or angle brackets only the address is sent (JavaMail sends the value as it is, reported)", Honoured},
	{"localhost", "name sent in EHLO (default: the local host's canonical name, as JavaMail)", Honoured},
	{"localaddress", "used as the EHLO name when localhost is unset; the connection is not bound to it (reported)", Honoured},
	{"ehlo", "false: say HELO, not EHLO (no extensions: no STARTTLS, no AUTH)", Honoured},
	{"starttls.enable", "true: upgrade with STARTTLS when the server offers it", Honoured},
	{"starttls.required", "true: refuse to go on without STARTTLS", Honoured},
	{"ssl.enable", "true: implicit TLS (as the smtps/pop3s/imaps protocols)", Honoured},
	{"ssl.trust", "* or a space-separated host list whose certificates are accepted without verification (reported); a server not in the list is refused", Honoured},
	{"ssl.checkserveridentity", "false: do not check the host name in the certificate (default true; JavaMail 1.6's default is false)", Honoured},
	{"ssl.protocols", "TLS versions allowed, e.g. \"TLSv1.2 TLSv1.3\"; older ones are ignored (reported)", Honoured},
	{"ssl.ciphersuites", "TLS 1.2 cipher suites allowed, IANA names as in Java; TLS 1.3 suites cannot be chosen (reported); insecure ones are refused", Honoured},
	{"socketFactory.class", "javax.net.ssl.SSLSocketFactory means implicit TLS (the classic SMTPS recipe); with any class set, socketFactory.port is the port", Honoured},
	{"socketFactory.port", "with socketFactory.class set, the port connected to (whatever port says); unused without it (reported)", Honoured},
	{"socketFactory.fallback", "false is what is always done: no plain connection when TLS fails (true is reported)", Honoured},
	{"ssl.socketFactory.class", "with implicit TLS, makes ssl.socketFactory.port the port; the class itself is not loaded (use WithTLSConfig)", Honoured},
	{"ssl.socketFactory.port", "with implicit TLS and ssl.socketFactory.class set, the port connected to", Honoured},
	{"connectiontimeout", "connect timeout in milliseconds (default 30000; 0 keeps the default: JavaMail's 0 is infinite)", Honoured},
	{"timeout", "read timeout per I/O in milliseconds (default 60000; JavaMail's default is infinite)", Honoured},
	{"writetimeout", "write timeout per I/O in milliseconds (default 60000)", Honoured},
	{"sendpartial", "true: send to the valid recipients when some are rejected (SMTP)", Honoured},
	{"dsn.notify", "DSN NOTIFY: NEVER, or SUCCESS,FAILURE,DELAY (SMTP)", Honoured},
	{"dsn.ret", "DSN RET: FULL or HDRS (SMTP)", Honoured},
	{"quitwait", "false: do not wait for the reply to QUIT (SMTP; default true)", Honoured},
	{"rsetbeforequit", "true: send RSET before QUIT (SMTP: JavaMail reads it for POP3 only and sends no RSET over SMTP)", Honoured},
	{"pipelining", "false: never pipeline MAIL/RCPT/DATA, even when the server offers PIPELINING (default true)", Extension},
	{"chunking", "false: send the message with DATA, even when the server offers CHUNKING (BDAT, RFC 3030) (default true)", Extension},
	{"connectionpoolsize", "SMTP connections kept and used at once (default 2; JavaMail has this key for IMAP only)", Extension},
	{"connectionpooltimeout", "milliseconds an idle SMTP connection is kept (default 45000; 0 closes after each send)", Extension},
	{"reportsuccess", "Send returns nil or a *SendError with every recipient's outcome; there is no success exception", NotSupported},
	{"socketFactory", "a Java socket factory object cannot be given here: use WithTLSConfig", NotSupported},
	{"ssl.socketFactory", "a Java socket factory object cannot be given here: use WithTLSConfig", NotSupported},
	{"sasl.enable", "the SASL mechanisms are built in (auth.mechanisms), there is no Java SASL", NotSupported},
	{"sasl.mechanisms", "the SASL mechanisms are built in: use auth.mechanisms", NotSupported},
	{"sasl.authorizationid", "the identity to act as (a shared mailbox, a Dovecot master user's target), sent with the user's credentials by PLAIN and SCRAM. While it is set, stores log in with SASL, and LOGIN, CRAM-MD5, XOAUTH2 and OAUTHBEARER, which cannot carry it, are not used (JavaMail logs in with them as the user, without it: reported as a warning); no allowed mechanism left is an error", Honoured},
	{"sasl.realm", "no SASL realm is used (DIGEST-MD5 is not offered)", NotSupported},
	{"sasl.usecanonicalhostname", "no Java SASL, so no canonical host name for it", NotSupported},
	{"auth.ntlm.domain", "NTLM is not supported", NotSupported},
	{"auth.ntlm.flags", "NTLM is not supported", NotSupported},
	{"auth.xoauth2.two.line.authentication.format", "true: XOAUTH2 over POP3 sends its initial response after the server's \"+\", never on the AUTH line (Microsoft's two-line form, as Liferay sets it for Outlook.com/Office 365); false (default): on the AUTH line, unless that would make the line longer than 255 octets (RFC 5034). Read for POP3 only (SMTP sends a long response after 334 anyway; IMAP inlines it with SASL-IR)", Honoured},
	{"noop.strict", "a pooled connection is checked with NOOP and any 250 reply counts", NotSupported},
	{"mailextension", "no extra MAIL FROM parameters are sent", NotSupported},
	{"userset", "the connection check always uses NOOP, never RSET", NotSupported},
	{"allow8bitmime", "messages are composed 7-bit safe (quoted-printable or base64), so 8BITMIME is not needed", NotSupported},
	{"submitter", "no AUTH= parameter is sent with MAIL FROM", NotSupported},
	{"localport", "the local port is chosen by the system", NotSupported},
	{"apop.enable", "APOP is not supported (use TLS and a SASL mechanism)", NotSupported},
	{"disabletop", "POP3 messages are fetched whole with RETR (TOP is not used)", NotSupported},
	{"forgettopheaders", "POP3 messages are fetched whole with RETR (TOP is not used)", NotSupported},
	{"cachewriteto", "messages are streamed, not cached", NotSupported},
	{"filecache.enable", "messages are streamed, not cached", NotSupported},
	{"keepmessagecontent", "messages are streamed, not cached", NotSupported},
	{"finalizecleanclose", "stores are closed by Store.Close or the session, never by a finalizer", NotSupported},
	{"partialfetch", "IMAP messages are fetched whole", NotSupported},
	{"fetchsize", "IMAP messages are fetched whole", NotSupported},
	{"peek", "IMAP fetches never mark messages \\Seen", NotSupported},
	{"statuscachetimeout", "there is no IMAP folder model (no STATUS cache)", NotSupported},
	{"appendbuffersize", "there is no IMAP APPEND here", NotSupported},
	{"separatestoreconnection", "there is no IMAP folder model (one connection a Store)", NotSupported},
	{"allowreadonlyselect", "there is no IMAP folder model", NotSupported},
	{"enablesasl", "the SASL mechanisms are built in (auth.mechanisms)", NotSupported},
	{"compress.enable", "IMAP COMPRESS is not supported", NotSupported},
	{"proxy.host", "HTTP proxy the connection goes through (CONNECT), as host or host:port; wins over socks.host, as in JavaMail; any 2xx reply opens the tunnel (RFC 9110; JavaMail takes only 200, reported)", Honoured},
	{"proxy.port", "HTTP proxy port (default 80, or the port in proxy.host); read only with proxy.host", Honoured},
	{"proxy.user", "HTTP proxy user: Basic Proxy-Authorization when proxy.password is set too", Honoured},
	{"proxy.password", "HTTP proxy password (never logged); used only with proxy.user", Honoured},
	{"socks.host", "SOCKS5 proxy the connection goes through (no authentication), as host or host:port; used only without proxy.host; the server's host name is resolved by the proxy (JavaMail resolves it locally when it can, reported)", Honoured},
	{"socks.port", "SOCKS5 proxy port (default 1080, or the port in socks.host)", Honoured},
}

var protocols = []string{"smtp", "smtps", "pop3", "pop3s", "imap", "imaps"}

// Keys lists every key this library knows, JavaMail's and its own, with
// what each does here and its Support; per-protocol keys are spelled out
// for each protocol. The package documentation's table is generated from
// it.
func Keys() []Key {
	out := append([]Key(nil), globalKeys...)
	for _, p := range protocols {
		for _, k := range protocolKeys {
			out = append(out, Key{Name: "mail." + p + "." + k.Name, Doc: k.Doc, Support: k.Support})
		}
	}
	return out
}

// lookupKey finds the documentation of key: a global key, a per-protocol
// key (any case after the protocol, as JavaMail's keys are spelled in
// mixed case), or an auth.<mechanism>.disable key.
func lookupKey(key string) (Key, bool) {
	for _, k := range globalKeys {
		if k.Name == key {
			return k, true
		}
	}
	for _, p := range protocols {
		rest, ok := strings.CutPrefix(key, "mail."+p+".")
		if !ok {
			continue
		}
		for _, k := range protocolKeys {
			if strings.EqualFold(k.Name, rest) {
				return k, true
			}
		}
		if strings.HasPrefix(rest, "auth.") && strings.HasSuffix(rest, ".disable") {
			return Key{Name: key, Support: Honoured}, true
		}
	}
	if strings.HasPrefix(key, "mail.mime.") {
		return Key{Name: key, Doc: "message composition is fixed here (UTF-8, RFC 2047 and RFC 2231 encodings)", Support: NotSupported}, true
	}
	return Key{}, false
}

// knownKey reports whether key is documented in Keys (whatever its
// support).
func knownKey(key string) bool {
	_, ok := lookupKey(key)
	return ok
}

// unknownKeyWarnings reports every mail.* key that is not known, with the
// nearest known key when it looks like a typo (mail.smpt.host →
// mail.smtp.host), and every JavaMail key that is set but not supported.
func unknownKeyWarnings(props map[string]string) []Warning {
	var w []Warning
	for key, value := range props {
		if !strings.HasPrefix(key, "mail.") {
			continue
		}
		if k, ok := lookupKey(key); ok {
			if k.Support == NotSupported && !(key == "mail.mime.charset" && strings.EqualFold(strings.TrimSpace(value), "utf-8")) {
				w = append(w, Warning{Key: key, Message: "JavaMail key, not supported here: " + k.Doc})
			}
			continue
		}
		msg := "unknown key, ignored"
		if near := nearestKey(key); near != "" {
			msg = fmt.Sprintf("unknown key, ignored (did you mean %s?)", near)
		}
		w = append(w, Warning{Key: key, Message: msg})
	}
	if _, ok := props["mail.smtp.localaddress"]; ok {
		w = append(w, Warning{Key: "mail.smtp.localaddress", Message: "only the EHLO name here: the connection is not bound to this local address, as JavaMail does"})
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
