package mailsession

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
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
	// LocalHost is the name sent in EHLO (mail.smtp.localhost).
	LocalHost string

	User     string
	Password string // secret: never logged, never formatted
	Auth     bool   // authenticate (mail.<p>.auth; always true for stores with a user)
	// Mechanisms is the ordered list of SASL mechanisms allowed
	// (mail.<p>.auth.mechanisms), upper case.
	Mechanisms []string
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

// isSMTP reports whether the endpoint is a transport.
func (ep *endpoint) isSMTP() bool { return ep.Protocol == "smtp" || ep.Protocol == "smtps" }

// settings is the complete, validated configuration of a Session.
type settings struct {
	props     map[string]string // effective properties after every overlay
	transport *endpoint
	store     *endpoint // nil when no store is configured
	from      string    // mail.from
	debug     bool      // mail.debug
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
type propReader struct {
	props map[string]string
	proto string // e.g. "smtps"
	base  string // e.g. "smtp"
	alt   string // a last fallback prefix ("pop3" for a Liferay IMAP store), or ""
	err   error
}

// lookup returns the value of mail.<proto>.<name>, then mail.<base>.<name>,
// and the key it came from.
func (r *propReader) lookup(name string) (value, key string, ok bool) {
	for _, p := range []string{r.proto, r.base, r.alt} {
		if p == "" {
			continue
		}
		key = "mail." + p + "." + name
		if v, found := r.props[key]; found {
			return strings.TrimSpace(v), key, true
		}
	}
	return "", "mail." + r.proto + "." + name, false
}

func (r *propReader) str(name, def string) string {
	if v, _, ok := r.lookup(name); ok && v != "" {
		return v
	}
	return def
}

func (r *propReader) fail(key, value string, err error) {
	if r.err == nil {
		r.err = &SettingError{Key: key, Value: value, Err: err}
	}
}

func (r *propReader) boolean(name string, def bool) bool {
	v, key, ok := r.lookup(name)
	if !ok || v == "" {
		return def
	}
	b, err := parseBool(v)
	if err != nil {
		r.fail(key, v, err)
		return def
	}
	return b
}

func (r *propReader) integer(name string, def, min, max int) int {
	v, key, ok := r.lookup(name)
	if !ok || v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		r.fail(key, v, fmt.Errorf("not a whole number"))
		return def
	}
	if n < min || n > max {
		r.fail(key, v, fmt.Errorf("out of range %d..%d", min, max))
		return def
	}
	return n
}

// millis reads a JavaMail timeout in milliseconds. 0 keeps our finite
// default unless allowZero: JavaMail's 0 means "infinite", which we refuse.
func (r *propReader) millis(name string, def time.Duration, allowZero bool) time.Duration {
	v, key, ok := r.lookup(name)
	if !ok || v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		r.fail(key, v, fmt.Errorf("not a number of milliseconds"))
		return def
	}
	if n < 0 {
		r.fail(key, v, fmt.Errorf("negative timeout"))
		return def
	}
	if n == 0 && !allowZero {
		return def
	}
	return time.Duration(n) * time.Millisecond
}

// parseBool accepts what JavaMail users write: true/false, yes/no, on/off, 1/0.
func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean (true or false)")
}

// resolveSettings turns effective properties plus Go-only options into
// validated settings. It never dials.
func resolveSettings(props map[string]string, c *config) (*settings, error) {
	s := &settings{props: props}
	if v, ok := props["mail.debug"]; ok && strings.TrimSpace(v) != "" {
		b, err := parseBool(v)
		if err != nil {
			return nil, &SettingError{Key: "mail.debug", Value: v, Err: err}
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
		if c.portal && st.User == "" && st.Password == "" {
			// Liferay's Authenticator answers every protocol with the SMTP
			// credentials: a POP account without its own login uses them.
			st.User, st.Password = t.User, t.Password
		}
		st.Auth = st.User != ""
		s.store = st
	}
	s.warnings = append(s.warnings, unknownKeyWarnings(props)...)
	return s, nil
}

func resolveEndpoint(props map[string]string, proto string, c *config, warns *[]Warning) (*endpoint, error) {
	base := strings.TrimSuffix(proto, "s")
	r := &propReader{props: props, proto: proto, base: base}
	if c.portal && base == "imap" {
		r.alt = "pop3" // Liferay's Control Panel writes its store fields as mail.pop3.*
	}
	ep := &endpoint{Protocol: proto}
	ep.Host = r.str("host", strings.TrimSpace(props["mail.host"]))
	if ep.Host == "" {
		ep.Host = "localhost"
	}
	if err := checkLine(ep.Host); err != nil || strings.ContainsAny(ep.Host, " /") {
		_, key, _ := r.lookup("host")
		return nil, &SettingError{Key: key, Value: ep.Host, Err: fmt.Errorf("not a host name")}
	}

	secure := proto != base
	ep.ImplicitTLS = secure || r.boolean("ssl.enable", false)
	if sf := r.str("socketFactory.class", ""); sf != "" {
		// The classic JavaMail recipe for SMTPS: an SSL socket factory.
		if strings.Contains(sf, "SSLSocketFactory") {
			ep.ImplicitTLS = true
		}
	}
	defPort := defaultPorts[proto]
	if ep.ImplicitTLS {
		defPort = defaultPorts[base+"s"]
	}
	defPort = r.integer("socketFactory.port", defPort, 1, 65535)
	ep.Port = r.integer("port", defPort, 1, 65535)
	ep.LocalHost = r.str("localhost", r.str("localaddress", ""))
	if ep.LocalHost == "" {
		ep.LocalHost = "localhost"
	}
	if err := checkLine(ep.LocalHost); err != nil {
		_, key, _ := r.lookup("localhost")
		return nil, &SettingError{Key: key, Value: ep.LocalHost, Err: err}
	}

	ep.User = r.str("user", strings.TrimSpace(props["mail.user"]))
	if v, _, ok := r.lookup("password"); ok {
		ep.Password = v
	}
	if ep.Password == "" {
		ep.Password = props["mail.password"]
	}
	if err := checkLine(ep.User); err != nil {
		return nil, &SettingError{Key: "mail." + proto + ".user", Value: ep.User, Err: err}
	}
	if err := checkLine(ep.Password); err != nil {
		return nil, &SettingError{Key: "mail." + proto + ".password", Err: err}
	}
	ep.Auth = r.boolean("auth", false)
	mechs := r.str("auth.mechanisms", "")
	if mechs == "" {
		if c.token != nil {
			mechs = "XOAUTH2 OAUTHBEARER"
		} else {
			mechs = "PLAIN LOGIN CRAM-MD5"
		}
	}
	for _, m := range strings.FieldsFunc(mechs, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' }) {
		m = strings.ToUpper(m)
		if !knownMechanism(m) {
			_, key, _ := r.lookup("auth.mechanisms")
			return nil, &SettingError{Key: key, Value: mechs, Err: fmt.Errorf("unsupported SASL mechanism %q (supported: %s)", m, strings.Join(supportedMechanisms, " "))}
		}
		if r.boolean("auth."+strings.ToLower(m)+".disable", false) {
			continue // JavaMail's mail.smtp.auth.<mech>.disable
		}
		ep.Mechanisms = append(ep.Mechanisms, m)
	}
	ep.Token = c.token
	ep.AllowCleartextAuth = r.boolean("auth.allowcleartext", c.allowCleartext)

	ep.StartTLS = r.boolean("starttls.enable", false)
	ep.StartTLSRequired = r.boolean("starttls.required", false)
	if ep.StartTLSRequired {
		ep.StartTLS = true
	}
	ep.CheckServerIdentity = r.boolean("ssl.checkserveridentity", true)
	if trust, key, ok := r.lookup("ssl.trust"); ok && trust != "" {
		if trust == "*" {
			ep.TrustAll = true
			*warns = append(*warns, Warning{key, "every server certificate is trusted without verification"})
		} else {
			ep.TrustHosts = strings.Fields(trust)
		}
	}
	ep.TLSMin, ep.TLSMax = tls.VersionTLS12, 0
	if v, key, ok := r.lookup("ssl.protocols"); ok && v != "" {
		min, max, w, err := parseTLSProtocols(v)
		if err != nil {
			return nil, &SettingError{Key: key, Value: v, Err: err}
		}
		if w != "" {
			*warns = append(*warns, Warning{key, w})
		}
		ep.TLSMin, ep.TLSMax = min, max
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
		if v, key, ok := r.lookup("dsn.notify"); ok && v != "" {
			n, err := parseDSNNotify(v)
			if err != nil {
				return nil, &SettingError{Key: key, Value: v, Err: err}
			}
			ep.DSNNotify = n
		}
		if v, key, ok := r.lookup("dsn.ret"); ok && v != "" {
			switch strings.ToUpper(v) {
			case "FULL", "HDRS":
				ep.DSNRet = strings.ToUpper(v)
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
			if _, err := parseAddress(ep.From); err != nil {
				_, key, _ := r.lookup("from")
				return nil, &SettingError{Key: key, Value: ep.From, Err: err}
			}
		}
		if ep.Auth && ep.User == "" && c.token == nil {
			_, key, _ := r.lookup("auth")
			return nil, &SettingError{Key: key, Value: "true", Err: fmt.Errorf("authentication asked for but no user set (mail.%s.user or mail.user)", proto)}
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
