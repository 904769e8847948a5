package mailsession

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/jmailgo/jmail/mailsession/mailtest"
)

// warningFor returns the message of the warning about key, or "".
func warningFor(ws []Warning, key string) string {
	var msgs []string
	for _, w := range ws {
		if w.Key == key {
			msgs = append(msgs, w.Message)
		}
	}
	return strings.Join(msgs, " | ")
}

// Booleans as JavaMail's PropUtil reads them: default-false keys are true
// only for "true" in any case, default-true keys are false only for
// "false"; anything else is read so, with a warning; nothing is trimmed.
func TestJavaMailBooleans(t *testing.T) {
	cases := []struct {
		key, value string
		get        func(*endpoint) bool
		want       bool
		warn       string // "" for none
	}{
		{"mail.smtp.sendpartial", "true", func(e *endpoint) bool { return e.SendPartial }, true, ""},
		{"mail.smtp.sendpartial", "TRUE", func(e *endpoint) bool { return e.SendPartial }, true, ""},
		{"mail.smtp.sendpartial", "False", func(e *endpoint) bool { return e.SendPartial }, false, ""},
		{"mail.smtp.sendpartial", "yes", func(e *endpoint) bool { return e.SendPartial }, false, `"yes" is neither true nor false: read as false`},
		{"mail.smtp.sendpartial", "1", func(e *endpoint) bool { return e.SendPartial }, false, `read as false`},
		{"mail.smtp.sendpartial", "true ", func(e *endpoint) bool { return e.SendPartial }, false, `"true " is neither true nor false: read as false`},
		{"mail.smtp.starttls.enable", "on", func(e *endpoint) bool { return e.StartTLS }, false, `only "true", in any case, turns it on`},
		{"mail.smtp.quitwait", "no", func(e *endpoint) bool { return e.QuitWait }, true, `"no" is neither true nor false: read as true`},
		{"mail.smtp.quitwait", "0", func(e *endpoint) bool { return e.QuitWait }, true, `only "false", in any case, turns it off`},
		{"mail.smtp.quitwait", "false ", func(e *endpoint) bool { return e.QuitWait }, true, `read as true`},
		{"mail.smtp.quitwait", "FALSE", func(e *endpoint) bool { return e.QuitWait }, false, ""},
		{"mail.smtp.ssl.checkserveridentity", "off", func(e *endpoint) bool { return e.CheckServerIdentity }, true, `read as true`},
		{"mail.smtp.pipelining", "", func(e *endpoint) bool { return e.Pipelining }, true, ""},
	}
	for _, c := range cases {
		t.Run(c.key+"="+strconv.Quote(c.value), func(t *testing.T) {
			s := mustSession(t, props(c.key, c.value))
			if got := c.get(s.set.transport); got != c.want {
				t.Errorf("read as %v, want %v (JavaMail's reading)", got, c.want)
			}
			w := warningFor(s.Warnings(), c.key)
			if c.warn == "" && w != "" || !strings.Contains(w, c.warn) {
				t.Errorf("warning %q, want one containing %q", w, c.warn)
			}
		})
	}
	// mail.debug is Boolean.valueOf: "yes" is false.
	s := mustSession(t, props("mail.debug", "yes"))
	if s.set.debug || !strings.Contains(warningFor(s.Warnings(), "mail.debug"), "read as false") {
		t.Errorf("mail.debug=yes: debug=%v warnings %v", s.set.debug, s.Warnings())
	}
}

// Numbers as PropUtil reads them from what java.util.Properties leaves: a
// blank makes the value not a number, so JavaMail uses the default; here
// too, with a warning. Any other non-number is refused at construction.
func TestJavaMailNumbers(t *testing.T) {
	ok := []struct {
		kv   []string
		port int
		warn string
	}{
		{[]string{"mail.smtp.port", "587"}, 587, ""},
		{[]string{"mail.smtp.port", "+587"}, 587, ""},
		{[]string{"mail.smtp.port", "0x24B"}, 587, ""}, // PropUtil reads 0x as hexadecimal
		{[]string{"mail.smtp.port", "587 "}, 25, `"587 " is not a number to JavaMail (the blank is part of the value): read as the default`},
		{[]string{"mail.transport.protocol", "smtps", "mail.smtps.port", "2465 "}, 465, "read as the default"},
		{[]string{"mail.smtp.port", " "}, 25, "is blank: read as the default"},
	}
	for _, c := range ok {
		s := mustSession(t, props(c.kv...))
		key := c.kv[len(c.kv)-2]
		if s.set.transport.Port != c.port {
			t.Errorf("%q: port %d, want %d", c.kv, s.set.transport.Port, c.port)
		}
		w := warningFor(s.Warnings(), key)
		if c.warn == "" && w != "" || !strings.Contains(w, c.warn) {
			t.Errorf("%q: warning %q, want %q", c.kv, w, c.warn)
		}
	}
	s := mustSession(t, props("mail.smtp.timeout", "5000 "))
	if s.set.transport.ReadTimeout != DefaultTimeout || !strings.Contains(warningFor(s.Warnings(), "mail.smtp.timeout"), "read as the default") {
		t.Errorf("timeout %v warnings %v", s.set.transport.ReadTimeout, s.Warnings())
	}

	bad := []struct{ key, value string }{
		{"mail.smtp.port", "25x"},
		{"mail.smtp.port", "2 5"},
		{"mail.smtp.port", "0x"},
		{"mail.smtp.port", "99999999999"}, // not an int to Java either
		{"mail.smtp.timeout", "ten "},
		{"mail.smtp.connectionpoolsize", "1.5"},
	}
	for _, c := range bad {
		_, err := FromProperties(props(c.key, c.value), WithLogger(quietLogger()))
		var se *SettingError
		if !errors.As(err, &se) || se.Key != c.key || !strings.Contains(err.Error(), strconv.Quote(c.value)) {
			t.Errorf("%s=%q: err %v, want a *SettingError naming the key and value", c.key, c.value, err)
		}
	}
}

// Strings as Properties leaves them: a host with a blank is refused (JavaMail
// would fail to connect to it), a user or password keeps its blank (as
// JavaMail sends it) with a warning.
func TestJavaMailStrings(t *testing.T) {
	for _, kv := range [][]string{
		{"mail.smtp.host", "smtp.example.com "},
		{"mail.host", "smtp.example.com "},
		{"mail.store.protocol", "imap", "mail.imap.host", "imap.example.com\t"},
	} {
		_, err := FromProperties(props(kv...), WithLogger(quietLogger()))
		var se *SettingError
		if !errors.As(err, &se) || se.Key != kv[len(kv)-2] || !strings.Contains(err.Error(), "blank") {
			t.Errorf("%q: err %v, want a *SettingError about the blank", kv, err)
		}
	}
	s := mustSession(t, props("mail.smtp.user", "alice ", "mail.smtp.password", "pw ", "mail.smtp.auth", "true", "mail.smtp.localhost", "app.example.com "))
	ep := s.set.transport
	if ep.User != "alice " || ep.Password != "pw " {
		t.Errorf("user %q password kept %v: JavaMail keeps the blank", ep.User, ep.Password == "pw ")
	}
	if ep.LocalHost != "app.example.com" {
		t.Errorf("EHLO name %q", ep.LocalHost)
	}
	ws := s.Warnings()
	for key, want := range map[string]string{
		"mail.smtp.user":      "part of the login name",
		"mail.smtp.password":  "blank at its start or end",
		"mail.smtp.localhost": "JavaMail keeps it",
	} {
		if w := warningFor(ws, key); !strings.Contains(w, want) {
			t.Errorf("%s: warning %q, want %q", key, w, want)
		}
	}
	if strings.Contains(fmt.Sprint(ws), "pw ") {
		t.Errorf("a warning shows the password: %v", ws)
	}
}

// socketFactory.port is the port connected to when a socket factory class
// is set (JavaMail's SocketFetcher), and unused without one.
func TestSocketFactoryPort(t *testing.T) {
	cases := []struct {
		kv   []string
		port int
		warn string // on mail.smtp.socketFactory.port
	}{
		{[]string{"mail.smtp.socketFactory.class", "javax.net.ssl.SSLSocketFactory", "mail.smtp.socketFactory.port", "465", "mail.smtp.port", "25"}, 465, ""},
		{[]string{"mail.smtp.socketFactory.class", "javax.net.ssl.SSLSocketFactory", "mail.smtp.port", "2465"}, 2465, ""},
		{[]string{"mail.smtp.socketFactory.port", "2525", "mail.smtp.port", "587"}, 587, "JavaMail uses it only with socketFactory.class set"},
		{[]string{"mail.smtp.socketFactory.port", "2525"}, 25, "not used"},
		{[]string{"mail.smtp.ssl.enable", "true", "mail.smtp.ssl.socketFactory.class", "x.Factory", "mail.smtp.ssl.socketFactory.port", "1465"}, 1465, ""},
	}
	for _, c := range cases {
		s := mustSession(t, props(c.kv...))
		if s.set.transport.Port != c.port {
			t.Errorf("%q: port %d, want %d", c.kv, s.set.transport.Port, c.port)
		}
		if w := warningFor(s.Warnings(), "mail.smtp.socketFactory.port"); c.warn == "" && w != "" || !strings.Contains(w, c.warn) {
			t.Errorf("%q: warning %q, want %q", c.kv, w, c.warn)
		}
	}
}

// mail.smtp.auth=true with a user and no password is refused before any
// connection, matching ErrAuth (JavaMail: "no password specified").
func TestAuthWithoutPassword(t *testing.T) {
	cases := []struct {
		name string
		kv   []string
		key  string
	}{
		{"smtp", []string{"mail.smtp.auth", "true", "mail.smtp.user", "alice"}, "mail.smtp.password"},
		{"smtps", []string{"mail.transport.protocol", "smtps", "mail.smtps.auth", "true", "mail.user", "alice"}, "mail.smtps.password"},
		{"no user", []string{"mail.smtp.auth", "true"}, "mail.smtp.auth"},
	}
	for _, c := range cases {
		_, err := FromProperties(props(c.kv...), WithLogger(quietLogger()))
		var se *SettingError
		if !errors.Is(err, ErrAuth) || !errors.As(err, &se) || se.Key != c.key {
			t.Errorf("%s: err %v, want ErrAuth naming %s", c.name, err, c.key)
		}
	}
	// A token source stands for the password.
	if _, err := FromProperties(props("mail.smtp.auth", "true", "mail.smtp.user", "alice"), WithLogger(quietLogger()),
		WithTokenSource(func(context.Context) (string, error) { return "t", nil })); err != nil {
		t.Errorf("with a token source: %v", err)
	}
}

// heloRecorder is a go-smtp server that records the name of every EHLO or
// HELO and whether it was EHLO.
type heloRecorder struct {
	mu    sync.Mutex
	names []string
}

func (h *heloRecorder) NewSession(c *smtp.Conn) (smtp.Session, error) {
	h.mu.Lock()
	h.names = append(h.names, c.Hostname())
	h.mu.Unlock()
	return discardSession{}, nil
}

func (h *heloRecorder) got() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.names...)
}

func startHeloRecorder(t *testing.T) (*heloRecorder, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &heloRecorder{}
	srv := smtp.NewServer(h)
	srv.Domain = "localhost"
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return h, ln.Addr().(*net.TCPAddr).Port
}

// The EHLO name: mail.smtp.localhost, else the canonical local name found
// at construction, else the connection's local address literal.
func TestEHLOName(t *testing.T) {
	cases := []struct {
		name string
		opts []Option
		kv   []string
		want string
	}{
		{"localhost key", nil, []string{"mail.smtp.localhost", "app.example.com"}, "app.example.com"},
		{"localaddress key", nil, []string{"mail.smtp.localaddress", "10.1.2.3"}, "10.1.2.3"},
		{"canonical name", []Option{func(c *config) { c.localName = func() string { return "host.example.com" } }}, nil, "host.example.com"},
		{"nothing found", []Option{func(c *config) { c.localName = func() string { return "" } }}, nil, "[127.0.0.1]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, port := startHeloRecorder(t)
			kv := append([]string{"mail.smtp.host", "127.0.0.1", "mail.smtp.port", strconv.Itoa(port), "mail.from", "app@example.com"}, c.kv...)
			s := mustSession(t, props(kv...), c.opts...)
			sendOK(t, s, "a@example.com")
			if got := h.got(); len(got) != 1 || got[0] != c.want {
				t.Errorf("EHLO names %q, want [%s]", got, c.want)
			}
		})
	}
	// Without options, the name is the system's, computed once.
	s := mustSession(t, nil)
	if want := canonicalLocalName(systemNames{}); s.set.transport.LocalHost != want {
		t.Errorf("default EHLO name %q, want %q", s.set.transport.LocalHost, want)
	}
}

type fakeNames struct {
	host    string
	hostErr error
	addrs   map[string][]string
	reverse map[string][]string
	cname   map[string]string
}

func (f *fakeNames) Hostname() (string, error) { return f.host, f.hostErr }
func (f *fakeNames) LookupHost(_ context.Context, h string) ([]string, error) {
	if a, ok := f.addrs[h]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}
func (f *fakeNames) LookupAddr(_ context.Context, a string) ([]string, error) {
	if n, ok := f.reverse[a]; ok {
		return n, nil
	}
	return nil, errors.New("no PTR")
}
func (f *fakeNames) LookupCNAME(_ context.Context, h string) (string, error) {
	if n, ok := f.cname[h]; ok {
		return n, nil
	}
	return "", errors.New("no CNAME")
}

func TestCanonicalLocalName(t *testing.T) {
	cases := []struct {
		name string
		ns   *fakeNames
		want string
	}{
		{"reverse name", &fakeNames{host: "web1", addrs: map[string][]string{"web1": {"192.0.2.7"}}, reverse: map[string][]string{"192.0.2.7": {"web1.example.com."}}}, "web1.example.com"},
		{"short reverse, CNAME completes", &fakeNames{host: "web1", addrs: map[string][]string{"web1": {"192.0.2.7"}}, reverse: map[string][]string{"192.0.2.7": {"web1"}}, cname: map[string]string{"web1": "web1.corp.example."}}, "web1.corp.example"},
		{"short reverse, nothing better", &fakeNames{host: "web1", addrs: map[string][]string{"web1": {"192.0.2.7"}}, reverse: map[string][]string{"192.0.2.7": {"web1"}}}, "web1"},
		{"no reverse: address literal", &fakeNames{host: "web1", addrs: map[string][]string{"web1": {"192.0.2.7"}}}, "[192.0.2.7]"},
		{"IPv6 literal", &fakeNames{host: "web1", addrs: map[string][]string{"web1": {"2001:db8::7"}}}, "[IPv6:2001:db8::7]"},
		{"hostname unresolvable", &fakeNames{host: "web1"}, ""},
		{"no hostname", &fakeNames{hostErr: errors.New("x")}, ""},
	}
	for _, c := range cases {
		if got := canonicalLocalName(c.ns); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// mail.smtp.ehlo=false says HELO, and then neither STARTTLS nor AUTH can
// be used (a warning says so).
func TestEHLOFalseSaysHELO(t *testing.T) {
	srv := mailtest.NewServer(t)
	p := srv.Properties(mailtest.Plain, "")
	p.Set("mail.smtp.ehlo", "false")
	p.Set("mail.smtp.auth", "false")
	s := mustSession(t, p)
	sendOK(t, s, mailtest.DefaultUser)
	cmds := srv.SMTPCommands()
	if count(cmds, "HELO") != 1 || count(cmds, "EHLO") != 0 {
		t.Errorf("commands %v: want HELO and no EHLO", cmds)
	}
	s2 := mustSession(t, props("mail.smtp.ehlo", "false", "mail.smtp.starttls.enable", "true"))
	if !strings.Contains(warningFor(s2.Warnings(), "mail.smtp.ehlo"), "STARTTLS and AUTH cannot be used") {
		t.Errorf("warnings %v", s2.Warnings())
	}
}

// starttls.enable against a server without STARTTLS: one EHLO, not two.
func TestStartTLSNotOfferedOneEHLO(t *testing.T) {
	srv := mailtest.NewServer(t)
	srv.SetFaults(mailtest.Faults{NoSTARTTLS: true})
	p := srv.Properties(mailtest.Plain, "")
	p.Set("mail.smtp.starttls.enable", "true")
	s := mustSession(t, p)
	sendOK(t, s, mailtest.DefaultUser)
	if cmds := srv.SMTPCommands(); count(cmds, "EHLO") != 1 || count(cmds, "STARTTLS") != 0 {
		t.Errorf("commands %v: want one EHLO and no STARTTLS", cmds)
	}
}

// ssl.trust naming the host turns verification off: the warning says so,
// on the endpoint's Check report too.
func TestSSLTrustWarnings(t *testing.T) {
	cases := []struct {
		trust, want string
	}{
		{"smtp.example.com", "names smtp.example.com, so its certificate is accepted without verification"},
		{"other.example.com SMTP.example.com", "accepted without verification"},
		{"other.example.com", "does not name smtp.example.com, so its certificate is refused"},
		{"*", "every server certificate is trusted without verification"},
	}
	for _, c := range cases {
		s := mustSession(t, props("mail.smtp.host", "smtp.example.com", "mail.smtp.ssl.trust", c.trust))
		if w := warningFor(s.Warnings(), "mail.smtp.ssl.trust"); !strings.Contains(w, c.want) {
			t.Errorf("trust %q: warning %q, want %q", c.trust, w, c.want)
		}
	}
	srv := mailtest.NewServer(t)
	p := srv.Properties(mailtest.StartTLS, "")
	p.Set("mail.smtp.ssl.trust", srv.Host())
	s := mustSession(t, p)
	rep, err := s.Check(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fmt.Sprint(rep.Transport.Warnings), "mail.smtp.ssl.trust: names "+srv.Host()) {
		t.Errorf("Check's transport warnings %v lack the ssl.trust one", rep.Transport.Warnings)
	}
}

// Every JavaMail key set but not supported is reported, naming why; Keys
// says which each key is.
func TestNotSupportedKeysReported(t *testing.T) {
	cases := []struct{ key, value, want string }{
		{"mail.smtp.reportsuccess", "true", "JavaMail key, not supported here: Send returns nil or a *SendError"},
		{"mail.smtp.auth.ntlm.domain", "CORP", "NTLM is not supported"},
		{"mail.pop3.apop.enable", "true", "APOP is not supported"},
		{"mail.imap.partialfetch", "false", "IMAP messages are fetched whole"},
		{"mail.mime.charset", "ISO-8859-1", "always composed in UTF-8"},
		{"mail.mime.foldtext", "false", "message composition is fixed here"},
		{"mail.event.scope", "session", "no JavaMail events"},
		{"mail.smtp.localaddress", "10.0.0.1", "not bound to this local address"},
		{"mail.smtp.socketFactory.fallback", "true", "falling back to a plain connection"},
	}
	for _, c := range cases {
		kv := []string{c.key, c.value}
		if c.key == "mail.smtp.socketFactory.fallback" {
			kv = append(kv, "mail.smtp.socketFactory.class", "javax.net.ssl.SSLSocketFactory")
		}
		s := mustSession(t, props(kv...))
		if w := warningFor(s.Warnings(), c.key); !strings.Contains(w, c.want) {
			t.Errorf("%s=%s: warning %q, want %q", c.key, c.value, w, c.want)
		}
	}
	for _, kv := range [][]string{{"mail.mime.charset", "UTF-8"}, {"mail.smtp.socketFactory.fallback", "false"}, {"mail.smtp.ehlo", "true"}} {
		if w := mustSession(t, props(kv...)).Warnings(); len(w) != 0 {
			t.Errorf("%q: warnings %v, want none", kv, w)
		}
	}
	seen := map[Support]int{}
	for _, k := range Keys() {
		if k.Doc == "" || k.Support == "" {
			t.Errorf("key %s lacks its doc or support", k.Name)
		}
		seen[k.Support]++
	}
	for _, s := range []Support{Honoured, Extension, NotSupported, Liferay} {
		if seen[s] == 0 {
			t.Errorf("no key is %s", s)
		}
	}
}

func TestCipherSuites(t *testing.T) {
	s := mustSession(t, props("mail.smtp.ssl.ciphersuites", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"))
	ep := s.set.transport
	if len(ep.CipherSuites) != 2 || ep.CipherSuites[0] != 0xc02f || ep.TLSMax != 0x0303 {
		t.Errorf("suites %x max %x: want the two suites and TLS 1.2 at most (no TLS 1.3 suite enabled, as in Java)", ep.CipherSuites, ep.TLSMax)
	}
	if cfg := tlsConfigFor(ep); len(cfg.CipherSuites) != 2 {
		t.Errorf("tls.Config suites %x", cfg.CipherSuites)
	}
	s = mustSession(t, props("mail.smtp.ssl.ciphersuites", "TLS_AES_128_GCM_SHA256 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"))
	if w := warningFor(s.Warnings(), "mail.smtp.ssl.ciphersuites"); !strings.Contains(w, "TLS 1.3 cipher suites cannot be chosen") || s.set.transport.TLSMax != 0 {
		t.Errorf("warning %q max %x", w, s.set.transport.TLSMax)
	}
	for _, v := range []string{"TLS_RSA_WITH_RC4_128_SHA", "TLS_BOGUS_SUITE", "SSL_RSA_WITH_3DES_EDE_CBC_SHA"} {
		_, err := FromProperties(props("mail.smtp.ssl.ciphersuites", v), WithLogger(quietLogger()))
		var se *SettingError
		if !errors.As(err, &se) || se.Key != "mail.smtp.ssl.ciphersuites" {
			t.Errorf("%s: err %v", v, err)
		}
	}
	_, err := FromProperties(props("mail.smtp.ssl.protocols", "TLSv1.3", "mail.smtp.ssl.ciphersuites", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"), WithLogger(quietLogger()))
	if err == nil {
		t.Errorf("TLS 1.3 only with TLS 1.2 suites accepted")
	}
	// On the wire: a TLS 1.2 suite list negotiates it.
	srv := mailtest.NewServer(t)
	p := srv.Properties(mailtest.StartTLS, "")
	p.Set("mail.smtp.ssl.ciphersuites", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384")
	s = mustSession(t, p, WithRootCAs(srv.CertPool()))
	rep, err := s.Check(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Transport.TLSVersion != "TLS 1.2" {
		t.Errorf("TLS version %q, want TLS 1.2", rep.Transport.TLSVersion)
	}
}

// TestProtocolAndDSNSpellingWarned: values JavaMail would take as they are
// (and fail on, or send as written) but that are normalised here are
// reported, not silently changed.
func TestProtocolAndDSNSpellingWarned(t *testing.T) {
	s := mustSession(t, props("mail.transport.protocol", "SMTP ", "mail.store.protocol", "IMAP", "mail.smtp.dsn.ret", "hdrs"))
	want := map[string]string{"mail.transport.protocol": "NoSuchProviderException", "mail.store.protocol": "NoSuchProviderException", "mail.smtp.dsn.ret": "RET=HDRS"}
	for _, w := range s.Warnings() {
		if sub, ok := want[w.Key]; ok && strings.Contains(w.Message, sub) {
			delete(want, w.Key)
		}
	}
	if len(want) != 0 {
		t.Errorf("no warning for %v: %v", want, s.Warnings())
	}
	if s.set.transport.Protocol != "smtp" || s.set.transport.DSNRet != "HDRS" {
		t.Errorf("read as %q, RET %q", s.set.transport.Protocol, s.set.transport.DSNRet)
	}
}

// Differences found by the JavaMail oracle (integration_javamail_test.go),
// pinned here: with smtps JavaMail reads only mail.smtps.*, so a fall-back
// to mail.smtp.* is warned naming that key; a comma in auth.mechanisms
// (JavaMail splits at blanks only) is warned; a display name or angle
// brackets in mail.smtp.from (JavaMail sends the value as it is) is
// warned; CRAM-MD5, which JavaMail does not have, is used only when named.
func TestOracleDifferencesReported(t *testing.T) {
	s := mustSession(t, props("mail.transport.protocol", "smtps", "mail.smtp.host", "smtp.example.com", "mail.smtp.port", "2465",
		"mail.smtps.auth", "true", "mail.smtp.user", "alice", "mail.smtps.password", "pw"))
	ep := s.set.transport
	if ep.Host != "smtp.example.com" || ep.Port != 2465 || ep.User != "alice" {
		t.Errorf("fall-back not read: %s:%d user %q", ep.Host, ep.Port, ep.User)
	}
	for _, key := range []string{"mail.smtp.host", "mail.smtp.port", "mail.smtp.user"} {
		if w := warningFor(s.Warnings(), key); !strings.Contains(w, "JavaMail reads only mail.smtps."+strings.TrimPrefix(key, "mail.smtp.")) || strings.Count(w, "|") != 0 {
			t.Errorf("%s: warning %q, want one naming mail.smtps.*", key, w)
		}
	}
	if w := warningFor(s.Warnings(), "mail.smtps.auth"); w != "" {
		t.Errorf("mail.smtps.auth warned: %q", w)
	}
	plain := mustSession(t, props("mail.smtp.host", "smtp.example.com", "mail.smtp.port", "2525"))
	if len(plain.Warnings()) != 0 {
		t.Errorf("smtp keys for smtp warned: %v", plain.Warnings())
	}

	for _, tc := range []struct {
		mechs, want, warn string
	}{
		{"", "SCRAM-SHA-256-PLUS SCRAM-SHA-1-PLUS SCRAM-SHA-256 SCRAM-SHA-1 PLAIN LOGIN", ""}, // SCRAM first: JavaMail has none
		{"PLAIN,LOGIN", "PLAIN LOGIN", "blanks only"},
		{"LOGIN, CRAM-MD5", "LOGIN CRAM-MD5", "blanks only"},
		{"cram-md5 plain", "CRAM-MD5 PLAIN", ""},
	} {
		kv := []string{"mail.smtp.auth", "true", "mail.smtp.user", "u", "mail.smtp.password", "p"}
		if tc.mechs != "" {
			kv = append(kv, "mail.smtp.auth.mechanisms", tc.mechs)
		}
		s := mustSession(t, props(kv...))
		if got := strings.Join(s.set.transport.Mechanisms, " "); got != tc.want {
			t.Errorf("auth.mechanisms %q: %q, want %q", tc.mechs, got, tc.want)
		}
		if w := warningFor(s.Warnings(), "mail.smtp.auth.mechanisms"); (tc.warn == "") != (w == "") || !strings.Contains(w, tc.warn) {
			t.Errorf("auth.mechanisms %q: warning %q, want %q", tc.mechs, w, tc.warn)
		}
	}

	for _, tc := range []struct{ from, addr, warn string }{
		{"bounce@example.com", "bounce@example.com", ""},
		{"Bounces <bounce@example.com>", "bounce@example.com", "not a bare address"},
		{"<bounce@example.com>", "bounce@example.com", ""}, // JavaMail sends it so too
		{"Bounces <bounce@example.com>", "bounce@example.com", "MAIL FROM:Bounces <bounce@example.com>"},
	} {
		s := mustSession(t, props("mail.smtp.from", tc.from))
		a, err := parseAddress(s.set.transport.From)
		if err != nil || a.Address != tc.addr {
			t.Errorf("mail.smtp.from %q: %v %v", tc.from, a, err)
		}
		if w := warningFor(s.Warnings(), "mail.smtp.from"); (tc.warn == "") != (w == "") || !strings.Contains(w, tc.warn) {
			t.Errorf("mail.smtp.from %q: warning %q, want %q", tc.from, w, tc.warn)
		}
	}
}
