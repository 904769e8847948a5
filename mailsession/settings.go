package mailsession

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Default timeouts. JavaMail's are infinite; ours are finite so a dead server
// never hangs a caller forever.
const (
	DefaultConnectTimeout = 30 * time.Second
	DefaultTimeout        = 60 * time.Second // read
	DefaultWriteTimeout   = 60 * time.Second

	defaultPoolSize    = 2
	defaultPoolTimeout = 45 * time.Second // JavaMail's IMAP connectionpooltimeout default
	// idleCheckAfter is how long a pooled connection may rest before it is
	// checked with NOOP before reuse.
	idleCheckAfter = 5 * time.Second
)

// Protocol default ports.
var defaultPorts = map[string]int{
	"smtp": 25, "smtps": 465,
	"pop3": 110, "pop3s": 995,
	"imap": 143, "imaps": 993,
}

// endpoint is the resolved configuration of one protocol endpoint: the
// transport (smtp|smtps) or the store (pop3|pop3s|imap|imaps). It is built
// once at construction and never changed.
type endpoint struct {
	Protocol string // smtp, smtps, pop3, pop3s, imap, imaps
	Host     string
	Port     int
	// LocalHost is the name sent in EHLO (mail.smtp.localhost, else the
	// local host's canonical name found at construction).
	LocalHost string
	// EHLO is false when mail.smtp.ehlo=false: HELO is said instead.
	EHLO bool

	User     string
	Password string // secret: never logged, never formatted
	// AuthzID is the identity to act as, other than User
	// (mail.<p>.sasl.authorizationid): sent with PLAIN and SCRAM, the
	// only mechanisms Mechanisms then holds.
	AuthzID string
	Auth    bool // authenticate (mail.<p>.auth; always true for stores with a user)
	// Mechanisms is the ordered list of SASL mechanisms allowed
	// (mail.<p>.auth.mechanisms), upper case.
	Mechanisms []string
	// XOAUTH2TwoLine sends XOAUTH2's initial response after the server's
	// "+" rather than on the AUTH line, Microsoft's POP3 form
	// (mail.pop3.auth.xoauth2.two.line.authentication.format).
	XOAUTH2TwoLine bool
	// Token returns an OAuth2 access token for XOAUTH2/OAUTHBEARER; nil
	// means the password is the token (JavaMail's way).
	Token TokenSource
	// AllowCleartextAuth permits credentials over an unencrypted connection
	// to a host that is not loopback (mail.<p>.auth.allowcleartext).
	AllowCleartextAuth bool

	ImplicitTLS      bool // smtps/pop3s/imaps or mail.<p>.ssl.enable
	StartTLS         bool // mail.<p>.starttls.enable: upgrade when offered
	StartTLSRequired bool // mail.<p>.starttls.required: refuse to go on without TLS

	TrustAll            bool     // mail.<p>.ssl.trust=*
	TrustHosts          []string // mail.<p>.ssl.trust=host list
	CheckServerIdentity bool     // mail.<p>.ssl.checkserveridentity (default true)
	TLSMin, TLSMax      uint16   // from mail.<p>.ssl.protocols; min never below TLS 1.2
	CipherSuites        []uint16 // from mail.<p>.ssl.ciphersuites; nil: Go's defaults
	RootCAs             *x509.CertPool
	TLSConfig           *tls.Config // base config from an option, cloned per use

	// Proxy is how the server is reached (mail.<p>.proxy.*, socks.*, WithDialer).
	Proxy proxySpec

	ConnectTimeout time.Duration
	ReadTimeout    time.Duration
	WriteTimeout   time.Duration

	// SMTP only.
	SendPartial    bool
	DSNNotify      []string
	DSNRet         string
	QuitWait       bool
	RsetBeforeQuit bool
	PoolSize       int
	PoolTimeout    time.Duration
	Pipelining     bool   // use PIPELINING when offered (mail.smtp.pipelining, default true)
	Chunking       bool   // use CHUNKING (BDAT) when offered (mail.smtp.chunking, default true)
	From           string // mail.smtp.from: envelope sender
}

// Addr is host:port.
func (ep *endpoint) Addr() string { return net.JoinHostPort(ep.Host, strconv.Itoa(ep.Port)) }

// String describes the endpoint without any secret.
func (ep *endpoint) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s://%s", ep.Protocol, ep.Addr())
	if ep.User != "" {
		fmt.Fprintf(&b, " user=%s", ep.User)
	}
	if ep.Password != "" {
		b.WriteString(" password=<redacted>")
	}
	switch {
	case ep.ImplicitTLS:
		b.WriteString(" tls=implicit")
	case ep.StartTLSRequired:
		b.WriteString(" tls=starttls-required")
	case ep.StartTLS:
		b.WriteString(" tls=starttls")
	default:
		b.WriteString(" tls=none")
	}
	return b.String()
}

// GoString keeps %#v from printing the password.
func (ep *endpoint) GoString() string { return "endpoint(" + ep.String() + ")" }

// Format makes %v and %+v print String, never the fields.
func (ep *endpoint) Format(f fmt.State, verb rune) { fmt.Fprint(f, ep.String()) }

// settings is the complete, validated configuration of a Session.
type settings struct {
	props     map[string]string // effective properties after every overlay
	transport *endpoint
	store     *endpoint   // nil when no store is configured
	from      string      // mail.from
	debug     bool        // mail.debug
	dkim      *dkimSigner // nil: messages are not signed
	warnings  []Warning
}

// Warning is something legal in the configuration that is almost surely
// wrong: an unknown key, a port that belongs to another protocol, TLS settings
// that do not match the port.
type Warning struct {
	Key     string // the property concerned, if any
	Message string
}

// String gives the key and the advice on one line.
func (w Warning) String() string {
	if w.Key == "" {
		return w.Message
	}
	return w.Key + ": " + w.Message
}

// propReader reads typed values from the effective properties for one
// protocol prefix, falling back from the secure variant (smtps) to the plain
// one (smtp) as Liferay copies its SMTP fields to whichever protocol is
// chosen, and recording the first validation error.
//
// Values are read as JavaMail's PropUtil reads them from what
// java.util.Properties leaves (trailing blanks kept): see boolean and
// integer. Where the reading differs from JavaMail's, or JavaMail's reading
// is surely not what the operator meant, a warning says so.
type propReader struct {
	props map[string]string
	proto string // e.g. "smtps"
	base  string // e.g. "smtp"
	alt   string // a last fallback prefix ("pop3" for a Liferay IMAP store), or ""
	err   error
	warns *[]Warning
}

// lookup returns the value of mail.<proto>.<name>, then mail.<base>.<name>,
// as it stands (not trimmed), and the key it came from.
func (r *propReader) lookup(name string) (value, key string, ok bool) {
	for _, p := range []string{r.proto, r.base, r.alt} {
		if p == "" {
			continue
		}
		key = "mail." + p + "." + name
		if v, found := r.props[key]; found {
			if p == r.base && r.proto != r.base && v != "" && !strings.HasPrefix(name, "proxy.") && !strings.HasPrefix(name, "socks.") {
				// JavaMail's SMTPSSLTransport (and the pop3s and imaps
				// stores) read mail.<proto>.* only. (The proxy keys'
				// fall-back is resolveProxy's to report.)
				r.warn(key, fmt.Sprintf("read for %s here, but JavaMail reads only mail.%s.%s for %s and ignores this key: write mail.%s.%s", r.proto, r.proto, name, r.proto, r.proto, name))
			}
			return v, key, true
		}
	}
	return "", "mail." + r.proto + "." + name, false
}

func (r *propReader) warn(key, msg string) {
	if r.warns != nil && !slices.Contains(*r.warns, Warning{Key: key, Message: msg}) {
		*r.warns = append(*r.warns, Warning{Key: key, Message: msg})
	}
}

// str returns the value trimmed. A blank around it, which JavaMail would
// keep as part of the value, is reported.
func (r *propReader) str(name, def string) string {
	v, key, ok := r.lookup(name)
	if !ok {
		return def
	}
	t := strings.TrimSpace(v)
	if t != v && t != "" {
		r.warn(key, fmt.Sprintf("%q has a blank around it: ignored here, but JavaMail keeps it as part of the value; remove it", v))
	}
	if t == "" {
		return def
	}
	return t
}

// list returns the value trimmed, without a warning: JavaMail splits these
// values at blanks too.
func (r *propReader) list(name string) (value, key string, ok bool) {
	v, key, ok := r.lookup(name)
	return strings.TrimSpace(v), key, ok
}

func (r *propReader) fail(key, value string, err error) {
	if r.err == nil {
		r.err = &SettingError{Key: key, Value: value, Err: err}
	}
}

func (r *propReader) boolean(name string, def bool) bool {
	v, key, ok := r.lookup(name)
	if !ok {
		return def
	}
	b, w := javaMailBool(v, def)
	if w != "" {
		r.warn(key, w)
	}
	return b
}

// javaMailBool reads a boolean as JavaMail's PropUtil does: for a key whose
// default is false only "true" (in any case) is true; for a key whose
// default is true anything but "false" (in any case) is true. Nothing is
// trimmed. The warning, for a value that is neither "true" nor "false",
// says what it was read as.
func javaMailBool(v string, def bool) (value bool, warning string) {
	if v == "" {
		return def, ""
	}
	isTrue, isFalse := strings.EqualFold(v, "true"), strings.EqualFold(v, "false")
	if def {
		value = !isFalse
	} else {
		value = isTrue
	}
	if !isTrue && !isFalse {
		rule := `only "true", in any case, turns it on`
		if def {
			rule = `only "false", in any case, turns it off`
		}
		warning = fmt.Sprintf("%q is neither true nor false: read as %v, as JavaMail reads it (%s)", v, value, rule)
	}
	return value, warning
}

// javaMailInt reads a whole number as JavaMail's PropUtil does: an optional
// sign and decimal digits, or "0x" and hexadecimal digits, nothing trimmed.
// ok is false for anything else, which JavaMail silently replaces by the
// default.
func javaMailInt(v string) (n int64, ok bool) {
	var err error
	if hex, isHex := strings.CutPrefix(v, "0x"); isHex {
		n, err = strconv.ParseInt(hex, 16, 32)
	} else {
		n, err = strconv.ParseInt(v, 10, 32)
	}
	return n, err == nil
}

// number reads a whole number key. A value JavaMail reads as a number is
// used. A value JavaMail would silently replace by its default because of a
// blank around an otherwise good number ("25 ") is read as the default too,
// as JavaMail does, with a warning; any other value that is not a number
// is a *SettingError (JavaMail would use the default without a word). what
// names the unit in errors.
func (r *propReader) number(name string, def int64, what string) (n int64, key string, set bool) {
	v, key, ok := r.lookup(name)
	if !ok || v == "" {
		return def, key, false
	}
	if n, ok := javaMailInt(v); ok {
		return n, key, true
	}
	if t := strings.TrimSpace(v); t == "" {
		r.warn(key, fmt.Sprintf("%q is blank: read as the default, as JavaMail does", v))
		return def, key, false
	} else if _, ok := javaMailInt(t); ok {
		r.warn(key, fmt.Sprintf("%q is not a number to JavaMail (the blank is part of the value): read as the default, as JavaMail does; remove the blank to use %s", v, t))
		return def, key, false
	}
	r.fail(key, v, fmt.Errorf("not %s (JavaMail would silently use its default; refused here)", what))
	return def, key, false
}

func (r *propReader) integer(name string, def, min, max int) int {
	n, key, set := r.number(name, int64(def), "a whole number")
	if !set {
		return def
	}
	if n < int64(min) || n > int64(max) {
		r.fail(key, r.props[key], fmt.Errorf("out of range %d..%d", min, max))
		return def
	}
	return int(n)
}

// millis reads a JavaMail timeout in milliseconds. 0 keeps our finite
// default unless allowZero: JavaMail's 0 means "infinite", which we refuse.
func (r *propReader) millis(name string, def time.Duration, allowZero bool) time.Duration {
	n, key, set := r.number(name, -1, "a number of milliseconds")
	if !set {
		return def
	}
	if n < 0 {
		r.fail(key, r.props[key], fmt.Errorf("negative timeout"))
		return def
	}
	if n == 0 && !allowZero {
		return def
	}
	return time.Duration(n) * time.Millisecond
}

// resolveSettings turns effective properties plus Go-only options into
// validated settings. It never dials. Warnings and errors name the keys as
// the operator wrote them (c.sourceKeys: mail.session.mail.smtp.port for a
// portal file).
func resolveSettings(props map[string]string, c *config) (*settings, error) {
	s, err := resolveSettingsKeys(props, c)
	if err != nil {
		var se *SettingError
		if errors.As(err, &se) {
			se.Key = c.sourceKey(se.Key)
		}
		return nil, err
	}
	for i := range s.warnings {
		s.warnings[i].Key = c.sourceKey(s.warnings[i].Key)
	}
	return s, nil
}

func resolveSettingsKeys(props map[string]string, c *config) (*settings, error) {
	s := &settings{props: props, warnings: append([]Warning(nil), c.preWarnings...)}
	if v := props["mail.debug"]; v != "" {
		// JavaMail: Boolean.valueOf, "true" in any case.
		b, w := javaMailBool(v, false)
		if w != "" {
			s.warnings = append(s.warnings, Warning{"mail.debug", w})
		}
		s.debug = b
	}
	s.from = strings.TrimSpace(props["mail.from"])
	if s.from != "" {
		if _, err := parseAddress(s.from); err != nil {
			return nil, &SettingError{Key: "mail.from", Value: s.from, Err: err}
		}
	}

	tp := strings.ToLower(strings.TrimSpace(props["mail.transport.protocol"]))
	if tp == "" {
		tp = "smtp"
	}
	s.warnings = append(s.warnings, protocolCaseWarnings(props)...)
	if tp != "smtp" && tp != "smtps" {
		return nil, &SettingError{Key: "mail.transport.protocol", Value: tp, Err: fmt.Errorf("unknown transport protocol (want smtp or smtps)")}
	}
	t, err := resolveEndpoint(props, tp, c, &s.warnings)
	if err != nil {
		return nil, err
	}
	s.transport = t

	sp := strings.ToLower(strings.TrimSpace(props["mail.store.protocol"]))
	if sp != "" {
		switch sp {
		case "pop3", "pop3s", "imap", "imaps":
		default:
			return nil, &SettingError{Key: "mail.store.protocol", Value: sp, Err: fmt.Errorf("unknown store protocol (want pop3, pop3s, imap or imaps)")}
		}
		st, err := resolveEndpoint(props, sp, c, &s.warnings)
		if err != nil {
			return nil, err
		}
		if c.portal {
			// Liferay's POP reader (POPNotificationsMessageListener) takes
			// mail.smtp.user and mail.smtp.password for a store user or
			// password that is not set, each on its own.
			if strings.TrimSpace(st.User) == "" {
				st.User = t.User
			}
			if strings.TrimSpace(st.Password) == "" {
				st.Password = t.Password
			}
		}
		st.Auth = st.User != ""
		s.store = st
	}
	if s.dkim, err = resolveDKIM(props, c, s.defaultFrom(), &s.warnings); err != nil {
		return nil, err
	}
	s.warnings = append(s.warnings, unknownKeyWarnings(props)...)
	return s, nil
}

// hostValue checks a host name as JavaMail would use it: a blank around it
// is part of the name to JavaMail, which then fails to connect; here it is
// refused at construction.
func hostValue(key, v string) error {
	if t := strings.TrimSpace(v); t != v && t != "" {
		return &SettingError{Key: key, Value: v, Err: fmt.Errorf("a host name with a blank around it (JavaMail would look it up as it is and fail to connect): remove the blank")}
	}
	if err := checkLine(v); err != nil || strings.ContainsAny(v, " /\t") {
		return &SettingError{Key: key, Value: v, Err: fmt.Errorf("not a host name")}
	}
	return nil
}

// protocolCaseWarnings reports a protocol name that JavaMail would not
// find (it looks providers up by the exact name: "SMTP" or "smtp " is a
// NoSuchProviderException there) but that is read here in lower case
// without blanks.
func protocolCaseWarnings(props map[string]string) []Warning {
	var w []Warning
	for _, k := range []string{"mail.transport.protocol", "mail.store.protocol"} {
		v := props[k]
		if n := strings.ToLower(strings.TrimSpace(v)); v != "" && n != v {
			w = append(w, Warning{k, fmt.Sprintf("%q is read here as %q; JavaMail knows no protocol %q (NoSuchProviderException): write it so", v, n, v)})
		}
	}
	return w
}

// readAuthzID reads mail.<p>.sasl.authorizationid. JavaMail sends it with
// PLAIN and logs in with LOGIN or XOAUTH2 as the user, without it; here the
// mechanisms that cannot carry it are not used while it is set, so that a
// session never reads or sends as the wrong identity. Reported as a
// warning; an error when no allowed mechanism is left.
func readAuthzID(r *propReader, ep *endpoint) error {
	v, key, ok := r.lookup("sasl.authorizationid")
	if !ok || v == "" {
		return nil
	}
	if err := checkLine(v); err != nil {
		return &SettingError{Key: key, Err: err}
	}
	ep.AuthzID = v
	kept := slices.DeleteFunc(slices.Clone(ep.Mechanisms), func(m string) bool { return !carriesAuthzID(m) })
	if len(kept) == 0 {
		return &SettingError{Key: key, Value: v, Err: fmt.Errorf("an authorization identity is sent with PLAIN or SCRAM only, and mail.%s.auth.mechanisms allows neither (%s)", ep.Protocol, strings.Join(ep.Mechanisms, " "))}
	}
	if len(kept) < len(ep.Mechanisms) {
		r.warn(key, fmt.Sprintf("sent with PLAIN and SCRAM only: %s, which cannot carry it, are not used while it is set (JavaMail logs in with them as %s, without it)",
			strings.Join(slices.DeleteFunc(slices.Clone(ep.Mechanisms), carriesAuthzID), " "), ep.User))
	}
	ep.Mechanisms = kept
	return nil
}

func resolveEndpoint(props map[string]string, proto string, c *config, warns *[]Warning) (*endpoint, error) {
	base := strings.TrimSuffix(proto, "s")
	r := &propReader{props: props, proto: proto, base: base, warns: warns}
	if c.portal && base == "imap" {
		r.alt = "pop3" // Liferay's Control Panel writes its store fields as mail.pop3.*
	}
	ep := &endpoint{Protocol: proto}
	token := c.token
	if base != "smtp" && c.storeToken != nil {
		token = c.storeToken // WithStoreTokenSource: the store's account
	}
	hostKey := "mail.host"
	if v, key, ok := r.lookup("host"); ok && v != "" {
		ep.Host, hostKey = v, key
	} else {
		ep.Host = props["mail.host"]
	}
	if ep.Host == "" {
		ep.Host = "localhost"
	}
	if err := hostValue(hostKey, ep.Host); err != nil {
		return nil, err
	}

	secure := proto != base
	useSSL := secure || r.boolean("ssl.enable", false) // JavaMail's useSSL
	ep.ImplicitTLS = useSSL
	sfClass := r.str("socketFactory.class", "")
	if strings.Contains(sfClass, "SSLSocketFactory") {
		// The classic JavaMail recipe for SMTPS: an SSL socket factory.
		ep.ImplicitTLS = true
	}
	if fb, key, ok := r.lookup("socketFactory.fallback"); ok && fb != "" {
		if b, _ := javaMailBool(fb, true); b && sfClass != "" {
			r.warn(key, "JavaMail key, not supported here: falling back to a plain connection when the socket factory fails is never done (as with false)")
		}
	}
	defPort := defaultPorts[proto]
	if ep.ImplicitTLS {
		defPort = defaultPorts[base+"s"]
	}
	ep.Port = r.integer("port", defPort, 1, 65535)
	// JavaMail's SocketFetcher: with a socket factory class, its port
	// (ssl.socketFactory.port with ssl.socketFactory.class under SSL, else
	// socketFactory.port) is the port connected to, whatever port says;
	// without one the factory port is not used at all.
	sfPortName := ""
	switch {
	case useSSL && r.str("ssl.socketFactory.class", "") != "":
		sfPortName = "ssl.socketFactory.port"
	case sfClass != "":
		sfPortName = "socketFactory.port"
	}
	for _, name := range []string{"socketFactory.port", "ssl.socketFactory.port"} {
		if _, key, ok := r.lookup(name); ok && name != sfPortName {
			r.warn(key, "not used: JavaMail uses it only with "+strings.TrimSuffix(name, "port")+"class set")
		}
	}
	if sfPortName != "" {
		ep.Port = r.integer(sfPortName, ep.Port, 1, 65535)
	}
	ep.EHLO = r.boolean("ehlo", true)
	ep.LocalHost = r.str("localhost", r.str("localaddress", ""))
	if ep.LocalHost == "" && base == "smtp" {
		ep.LocalHost = c.localHostName()
	}
	if err := checkLine(ep.LocalHost); err != nil {
		_, key, _ := r.lookup("localhost")
		return nil, &SettingError{Key: key, Value: ep.LocalHost, Err: err}
	}

	userKey := "mail.user"
	if v, key, ok := r.lookup("user"); ok && v != "" {
		ep.User, userKey = v, key
	} else {
		ep.User = props["mail.user"]
	}
	if t := strings.TrimSpace(ep.User); t != ep.User {
		if t == "" {
			ep.User = ""
		} else {
			r.warn(userKey, fmt.Sprintf("%q has a blank around it, which is part of the login name (as in JavaMail): remove it if the server does not expect it", ep.User))
		}
	}
	passKey := "mail.password"
	if v, key, ok := r.lookup("password"); ok && v != "" {
		ep.Password, passKey = v, key
	} else {
		ep.Password = props["mail.password"]
	}
	if ep.Password != "" && strings.TrimSpace(ep.Password) != ep.Password {
		r.warn(passKey, "the password has a blank at its start or end, which is part of it (as in JavaMail): check the file")
	}
	if err := checkLine(ep.User); err != nil {
		return nil, &SettingError{Key: "mail." + proto + ".user", Value: ep.User, Err: err}
	}
	if err := checkLine(ep.Password); err != nil {
		return nil, &SettingError{Key: "mail." + proto + ".password", Err: err}
	}
	ep.Auth = r.boolean("auth", false)
	mechs, mechKey, _ := r.list("auth.mechanisms")
	if strings.Contains(mechs, ",") {
		r.warn(mechKey, fmt.Sprintf("%q: JavaMail splits this list at blanks only, so it finds no mechanism named with a comma and cannot authenticate; read here as %q: separate the names with blanks", mechs, strings.Join(strings.FieldsFunc(mechs, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' }), " ")))
	}
	if mechs == "" {
		if token != nil {
			mechs = "XOAUTH2 OAUTHBEARER"
		} else {
			// SCRAM first (the password never crosses the wire; a
			// -PLUS mechanism only over TLS), then JavaMail's own
			// mechanisms we have (it has no CRAM-MD5): CRAM-MD5 is
			// used only when auth.mechanisms names it.
			mechs = strings.Join(scramMechanisms, " ") + " PLAIN LOGIN"
		}
	}
	for _, m := range strings.FieldsFunc(mechs, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' }) {
		m = strings.ToUpper(m)
		if !knownMechanism(m) {
			return nil, &SettingError{Key: mechKey, Value: mechs, Err: fmt.Errorf("unsupported SASL mechanism %q (supported: %s)", m, strings.Join(supportedMechanisms, " "))}
		}
		if r.boolean("auth."+strings.ToLower(m)+".disable", false) {
			continue // JavaMail's mail.smtp.auth.<mech>.disable
		}
		ep.Mechanisms = append(ep.Mechanisms, m)
	}
	if strings.HasPrefix(proto, "pop3") {
		ep.XOAUTH2TwoLine = r.boolean("auth.xoauth2.two.line.authentication.format", false)
	}
	ep.Token = token
	if err := readAuthzID(r, ep); err != nil {
		return nil, err
	}
	ep.AllowCleartextAuth = r.boolean("auth.allowcleartext", c.allowCleartext)

	ep.StartTLS = r.boolean("starttls.enable", false)
	ep.StartTLSRequired = r.boolean("starttls.required", false)
	if ep.StartTLSRequired {
		ep.StartTLS = true
	}
	ep.CheckServerIdentity = r.boolean("ssl.checkserveridentity", true)
	if trust, key, ok := r.list("ssl.trust"); ok && trust != "" {
		if trust == "*" {
			ep.TrustAll = true
			*warns = append(*warns, Warning{key, "every server certificate is trusted without verification"})
		} else {
			ep.TrustHosts = strings.Fields(trust)
			if slices.ContainsFunc(ep.TrustHosts, func(h string) bool { return strings.EqualFold(h, ep.Host) }) {
				*warns = append(*warns, Warning{key, fmt.Sprintf("names %s, so its certificate is accepted without verification (JavaMail's meaning, kept): prefer a trust store (WithRootCAs, SSL_CERT_FILE)", ep.Host)})
			} else {
				*warns = append(*warns, Warning{key, fmt.Sprintf("does not name %s, so its certificate is refused whatever it is (JavaMail's meaning, kept)", ep.Host)})
			}
		}
	}
	ep.TLSMin, ep.TLSMax = tls.VersionTLS12, 0
	if v, key, ok := r.list("ssl.protocols"); ok && v != "" {
		min, max, w, err := parseTLSProtocols(v)
		if err != nil {
			return nil, &SettingError{Key: key, Value: v, Err: err}
		}
		if w != "" {
			*warns = append(*warns, Warning{key, w})
		}
		ep.TLSMin, ep.TLSMax = min, max
	}
	if v, key, ok := r.list("ssl.ciphersuites"); ok && v != "" {
		suites, tls13, err := parseCipherSuites(v)
		if err != nil {
			return nil, &SettingError{Key: key, Value: v, Err: err}
		}
		ep.CipherSuites = suites
		switch {
		case len(tls13) > 0:
			*warns = append(*warns, Warning{key, "TLS 1.3 cipher suites cannot be chosen here: with " + strings.Join(tls13, " ") + " named, every TLS 1.3 suite of Go is enabled"})
		case ep.TLSMin > tls.VersionTLS12:
			return nil, &SettingError{Key: key, Value: v, Err: fmt.Errorf("names no TLS 1.3 suite, but ssl.protocols allows only TLS 1.3")}
		default:
			// As in Java: without a TLS 1.3 suite enabled, TLS 1.3
			// cannot be negotiated.
			ep.TLSMax = tls.VersionTLS12
		}
	}
	ep.RootCAs = c.rootCAs
	ep.TLSConfig = c.tlsConfig

	ep.ConnectTimeout = r.millis("connectiontimeout", DefaultConnectTimeout, false)
	ep.ReadTimeout = r.millis("timeout", DefaultTimeout, false)
	ep.WriteTimeout = r.millis("writetimeout", DefaultWriteTimeout, false)
	if c.connectTimeout > 0 {
		ep.ConnectTimeout = c.connectTimeout
	}
	if c.readTimeout > 0 {
		ep.ReadTimeout = c.readTimeout
	}
	if c.writeTimeout > 0 {
		ep.WriteTimeout = c.writeTimeout
	}
	resolveProxy(r, ep, c, warns)

	if base == "smtp" {
		ep.SendPartial = r.boolean("sendpartial", false)
		if v, key, ok := r.list("dsn.notify"); ok && v != "" {
			n, err := parseDSNNotify(v)
			if err != nil {
				return nil, &SettingError{Key: key, Value: v, Err: err}
			}
			ep.DSNNotify = n
		}
		if v, key, ok := r.list("dsn.ret"); ok && v != "" {
			switch strings.ToUpper(v) {
			case "FULL", "HDRS":
				ep.DSNRet = strings.ToUpper(v)
				if raw, _, _ := r.lookup("dsn.ret"); raw != ep.DSNRet {
					r.warn(key, fmt.Sprintf("%q is sent here as RET=%s; JavaMail sends the value as it is", raw, ep.DSNRet))
				}
			default:
				return nil, &SettingError{Key: key, Value: v, Err: fmt.Errorf("want FULL or HDRS")}
			}
		}
		ep.QuitWait = r.boolean("quitwait", true)
		ep.RsetBeforeQuit = r.boolean("rsetbeforequit", false)
		ep.Pipelining = r.boolean("pipelining", true)
		ep.Chunking = r.boolean("chunking", true)
		ep.PoolSize = r.integer("connectionpoolsize", defaultPoolSize, 1, 1000)
		ep.PoolTimeout = r.millis("connectionpooltimeout", defaultPoolTimeout, true)
		if c.poolSize > 0 {
			ep.PoolSize = c.poolSize
		}
		if c.poolTimeout != nil {
			ep.PoolTimeout = *c.poolTimeout
		}
		ep.From = r.str("from", "")
		if ep.From != "" {
			a, err := parseAddress(ep.From)
			_, key, _ := r.lookup("from")
			if err != nil {
				return nil, &SettingError{Key: key, Value: ep.From, Err: err}
			}
			// JavaMail's normalizeAddress: a value starting with "<" or
			// ending with ">" is sent as it is, anything else in <>.
			if a.Address != ep.From && "<"+a.Address+">" != ep.From {
				sent := ep.From
				if !strings.HasPrefix(sent, "<") && !strings.HasSuffix(sent, ">") {
					sent = "<" + sent + ">"
				}
				r.warn(key, fmt.Sprintf("%q is not a bare address: JavaMail sends it as it is (MAIL FROM:%s), which servers refuse; here only %s is sent", ep.From, sent, a.Address))
			}
		}
		if ep.Auth && token == nil {
			_, key, _ := r.lookup("auth")
			switch {
			case ep.User == "":
				return nil, &SettingError{Key: key, Value: "true", Err: fmt.Errorf("%w: authentication asked for but no user set (mail.%s.user or mail.user)", ErrAuth, proto)}
			case ep.Password == "":
				return nil, &SettingError{Key: "mail." + proto + ".password", Err: fmt.Errorf("%w: no password specified: %s=true and a user but no password (JavaMail refuses to connect: \"no password specified?\")", ErrAuth, key)}
			}
		}
		if !ep.EHLO && (ep.StartTLS || ep.Auth) {
			_, key, _ := r.lookup("ehlo")
			r.warn(key, "false: HELO is said and the server's extensions are unknown, so STARTTLS and AUTH cannot be used (as in JavaMail)")
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	*warns = append(*warns, portWarnings(ep)...)
	return ep, nil
}

// portWarnings flags a port that belongs to another protocol and TLS settings
// that do not match the port.
func portWarnings(ep *endpoint) []Warning {
	key := "mail." + ep.Protocol + ".port"
	base := strings.TrimSuffix(ep.Protocol, "s")
	var w []Warning
	for proto, port := range defaultPorts {
		if port == ep.Port && strings.TrimSuffix(proto, "s") != base {
			w = append(w, Warning{key, fmt.Sprintf("port %d is the %s port, not a %s port", port, strings.ToUpper(proto), strings.ToUpper(base))})
		}
	}
	implicitPort := ep.Port == defaultPorts[base+"s"]
	plainPorts := []int{defaultPorts[base]}
	if base == "smtp" {
		plainPorts = append(plainPorts, 587)
	}
	plainPort := false
	for _, p := range plainPorts {
		plainPort = plainPort || p == ep.Port
	}
	switch {
	case ep.ImplicitTLS && plainPort:
		w = append(w, Warning{key, fmt.Sprintf("implicit TLS (%s or ssl.enable) on port %d, which expects a plain connection (use STARTTLS there, or port %d)", ep.Protocol, ep.Port, defaultPorts[base+"s"])})
	case !ep.ImplicitTLS && implicitPort:
		w = append(w, Warning{key, fmt.Sprintf("port %d expects implicit TLS: use protocol %ss or mail.%s.ssl.enable=true", ep.Port, base, ep.Protocol)})
	}
	if ep.Auth && !ep.ImplicitTLS && !ep.StartTLS && !isLoopbackHost(ep.Host) {
		w = append(w, Warning{"mail." + ep.Protocol + ".auth", "credentials need TLS: enable mail." + ep.Protocol + ".starttls.enable or ssl.enable"})
	}
	sort.Slice(w, func(i, j int) bool { return w[i].Message < w[j].Message })
	return w
}

func parseTLSProtocols(v string) (min, max uint16, warning string, err error) {
	var dropped []string
	for _, p := range strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' }) {
		var ver uint16
		switch strings.ToUpper(p) {
		case "TLSV1.2":
			ver = tls.VersionTLS12
		case "TLSV1.3":
			ver = tls.VersionTLS13
		case "SSLV3", "TLSV1", "TLSV1.1", "SSLV2HELLO":
			dropped = append(dropped, p)
			continue
		default:
			return 0, 0, "", fmt.Errorf("unknown protocol %q (want TLSv1.2 and/or TLSv1.3)", p)
		}
		if min == 0 || ver < min {
			min = ver
		}
		if ver > max {
			max = ver
		}
	}
	if min == 0 {
		return 0, 0, "", fmt.Errorf("no protocol of TLS 1.2 or later")
	}
	if len(dropped) > 0 {
		warning = "ignored insecure protocols " + strings.Join(dropped, " ") + ": the minimum is TLS 1.2"
	}
	return min, max, warning, nil
}

func parseDSNNotify(v string) ([]string, error) {
	var out []string
	for _, n := range strings.FieldsFunc(strings.ToUpper(v), func(r rune) bool { return r == ',' || r == ' ' }) {
		switch n {
		case "NEVER", "SUCCESS", "FAILURE", "DELAY":
			out = append(out, n)
		default:
			return nil, fmt.Errorf("unknown NOTIFY value %q (want NEVER or SUCCESS,FAILURE,DELAY)", n)
		}
	}
	if len(out) > 1 {
		for _, n := range out {
			if n == "NEVER" {
				return nil, fmt.Errorf("NEVER cannot be combined with other values")
			}
		}
	}
	return out, nil
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// sourceKey names key as the operator wrote it.
func (c *config) sourceKey(key string) string {
	if k, ok := c.sourceKeys[key]; ok {
		return k
	}
	return key
}

// localHostName is the EHLO name without mail.smtp.localhost: the local
// host's canonical name, found once per session. "" means none was found:
// each connection then says its local address (see smtpConn.hello).
func (c *config) localHostName() string {
	if c.localName != nil {
		return c.localName()
	}
	return canonicalLocalName(systemNames{})
}

// nameSource is what canonicalLocalName asks: the host name and the
// resolver.
type nameSource interface {
	Hostname() (string, error)
	LookupHost(ctx context.Context, host string) ([]string, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
	LookupCNAME(ctx context.Context, host string) (string, error)
}

// systemNames is the operating system's host name and Go's resolver.
type systemNames struct{}

func (systemNames) Hostname() (string, error) { return os.Hostname() }
func (systemNames) LookupHost(ctx context.Context, h string) ([]string, error) {
	return net.DefaultResolver.LookupHost(ctx, h)
}
func (systemNames) LookupAddr(ctx context.Context, a string) ([]string, error) {
	return net.DefaultResolver.LookupAddr(ctx, a)
}
func (systemNames) LookupCNAME(ctx context.Context, h string) (string, error) {
	return net.DefaultResolver.LookupCNAME(ctx, h)
}

// nameLookupTimeout bounds the look-ups of the local host's name at
// construction.
const nameLookupTimeout = 2 * time.Second

// canonicalLocalName follows JavaMail's
// InetAddress.getLocalHost().getCanonicalHostName(): the host name,
// resolved to its first address, and that address resolved back to a name.
// Where JavaMail would use the bare address (no reverse name), the RFC 5321
// address literal is used ("[192.0.2.1]", "[IPv6:2001:db8::1]"). A name
// without a dot is completed from its CNAME when that has one (as hostname
// -f), since servers such as Postfix with reject_non_fqdn_helo_hostname
// refuse a bare name. "" when the host name does not resolve: JavaMail then
// uses the connection's local address.
func canonicalLocalName(ns nameSource) string {
	h, err := ns.Hostname()
	if err != nil || h == "" {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), nameLookupTimeout)
	defer cancel()
	addrs, err := ns.LookupHost(ctx, h)
	if err != nil || len(addrs) == 0 {
		return ""
	}
	name := ""
	if names, err := ns.LookupAddr(ctx, addrs[0]); err == nil && len(names) > 0 {
		name = strings.TrimSuffix(names[0], ".")
	}
	if name == "" {
		return addressLiteral(addrs[0])
	}
	if !strings.Contains(name, ".") {
		if cn, err := ns.LookupCNAME(ctx, name); err == nil {
			if cn = strings.TrimSuffix(cn, "."); strings.Contains(cn, ".") {
				name = cn
			}
		}
	}
	return name
}

// addressLiteral writes an IP address as an RFC 5321 address literal
// ("localhost" for something that is not an address).
func addressLiteral(addr string) string {
	ip := net.ParseIP(addr)
	switch {
	case ip == nil:
		return "localhost"
	case ip.To4() != nil:
		return "[" + ip.String() + "]"
	default:
		return "[IPv6:" + ip.String() + "]"
	}
}

// parseCipherSuites maps JavaMail's mail.<p>.ssl.ciphersuites (Java names,
// which are the IANA names Go uses too) to Go's suite IDs for TLS 1.2.
// tls13 lists the TLS 1.3 suites named: Go cannot choose among them (it
// always enables its three). An unknown or insecure name is an error.
func parseCipherSuites(v string) (ids []uint16, tls13 []string, err error) {
	for _, name := range strings.Fields(strings.ReplaceAll(v, ",", " ")) {
		if id, ok := cipherSuiteID(name, tls.CipherSuites()); ok {
			if isTLS13Suite(id) {
				tls13 = append(tls13, name)
			} else {
				ids = append(ids, id)
			}
			continue
		}
		if _, ok := cipherSuiteID(name, tls.InsecureCipherSuites()); ok {
			return nil, nil, fmt.Errorf("cipher suite %s is insecure and not allowed", name)
		}
		if name == "TLS_EMPTY_RENEGOTIATION_INFO_SCSV" {
			continue // a signalling value, not a suite; Go sends it itself
		}
		return nil, nil, fmt.Errorf("unknown cipher suite %q (the IANA names, as in Java)", name)
	}
	if len(ids) == 0 && len(tls13) == 0 {
		return nil, nil, fmt.Errorf("no cipher suite named")
	}
	return ids, tls13, nil
}

func cipherSuiteID(name string, suites []*tls.CipherSuite) (uint16, bool) {
	for _, s := range suites {
		if strings.EqualFold(s.Name, name) {
			return s.ID, true
		}
	}
	return 0, false
}

func isTLS13Suite(id uint16) bool {
	switch id {
	case tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384, tls.TLS_CHACHA20_POLY1305_SHA256:
		return true
	}
	return false
}
