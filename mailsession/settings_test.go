package mailsession

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jmailgo/jmail/properties"
)

func props(kv ...string) *properties.Properties {
	p := properties.New()
	for i := 0; i < len(kv); i += 2 {
		p.Set(kv[i], kv[i+1])
	}
	return p
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func mustSession(t *testing.T, p *properties.Properties, opts ...Option) *Session {
	t.Helper()
	s, err := FromProperties(p, append([]Option{WithLogger(quietLogger())}, opts...)...)
	if err != nil {
		t.Fatalf("FromProperties: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestDefaults(t *testing.T) {
	s := mustSession(t, nil)
	ep := s.set.transport
	if ep.Protocol != "smtp" || ep.Host != "localhost" || ep.Port != 25 || ep.ImplicitTLS || ep.StartTLS {
		t.Errorf("transport %v", ep)
	}
	if ep.ConnectTimeout != 30*time.Second || ep.ReadTimeout != 60*time.Second || ep.WriteTimeout != 60*time.Second {
		t.Errorf("timeouts %v %v %v", ep.ConnectTimeout, ep.ReadTimeout, ep.WriteTimeout)
	}
	if !ep.QuitWait || ep.RsetBeforeQuit || ep.SendPartial || ep.PoolSize != 2 || ep.PoolTimeout != 45*time.Second {
		t.Errorf("smtp defaults %+v", *ep)
	}
	if !ep.CheckServerIdentity || ep.TLSMin != tls.VersionTLS12 {
		t.Errorf("TLS defaults: checkserveridentity=%v min=%x", ep.CheckServerIdentity, ep.TLSMin)
	}
	if s.set.store != nil {
		t.Errorf("store configured without mail.store.protocol")
	}
}

func TestProtocolDefaultPorts(t *testing.T) {
	cases := []struct {
		kv        []string
		transport string
		port      int
		implicit  bool
	}{
		{[]string{"mail.transport.protocol", "smtps"}, "smtps", 465, true},
		{[]string{"mail.smtp.ssl.enable", "true"}, "smtp", 465, true},
		{[]string{"mail.smtp.socketFactory.class", "javax.net.ssl.SSLSocketFactory", "mail.smtp.socketFactory.port", "465"}, "smtp", 465, true},
		{[]string{"mail.transport.protocol", "SMTP", "mail.smtp.port", "587"}, "smtp", 587, false},
		// Liferay copies its SMTP fields to smtps: mail.smtp.* serve smtps.
		{[]string{"mail.transport.protocol", "smtps", "mail.smtp.port", "2465", "mail.smtp.host", "mx"}, "smtps", 2465, true},
	}
	for _, c := range cases {
		s := mustSession(t, props(c.kv...))
		ep := s.set.transport
		if ep.Protocol != c.transport || ep.Port != c.port || ep.ImplicitTLS != c.implicit {
			t.Errorf("%v: got %s port %d implicit %v", c.kv, ep.Protocol, ep.Port, ep.ImplicitTLS)
		}
	}
	for proto, port := range map[string]int{"pop3": 110, "pop3s": 995, "imap": 143, "imaps": 993} {
		s := mustSession(t, props("mail.store.protocol", proto, "mail.host", "mail.example.com", "mail.user", "u"))
		st := s.set.store
		if st == nil || st.Port != port || st.Host != "mail.example.com" || st.User != "u" || st.ImplicitTLS != strings.HasSuffix(proto, "s") {
			t.Errorf("%s: store %v", proto, st)
		}
	}
}

func TestEveryKeyHonoured(t *testing.T) {
	s := mustSession(t, props(
		"mail.transport.protocol", "smtp",
		"mail.store.protocol", "imaps",
		"mail.from", "Portal <portal@example.com>",
		"mail.debug", "true",
		"mail.smtp.host", "smtp.example.com",
		"mail.smtp.port", "587",
		"mail.smtp.user", "alice",
		"mail.smtp.password", "s3cret",
		"mail.smtp.auth", "true",
		"mail.smtp.auth.mechanisms", "LOGIN PLAIN XOAUTH2",
		"mail.smtp.auth.plain.disable", "true",
		"mail.smtp.from", "bounce@example.com",
		"mail.smtp.localhost", "app.example.com",
		"mail.smtp.starttls.enable", "true",
		"mail.smtp.starttls.required", "true",
		"mail.smtp.ssl.trust", "smtp.example.com other.example.com",
		"mail.smtp.ssl.checkserveridentity", "false",
		"mail.smtp.ssl.protocols", "TLSv1.3",
		"mail.smtp.connectiontimeout", "1500",
		"mail.smtp.timeout", "2500",
		"mail.smtp.writetimeout", "3500",
		"mail.smtp.sendpartial", "true",
		"mail.smtp.dsn.notify", "SUCCESS,FAILURE",
		"mail.smtp.dsn.ret", "HDRS",
		"mail.smtp.quitwait", "false",
		"mail.smtp.rsetbeforequit", "true",
		"mail.smtp.connectionpoolsize", "7",
		"mail.smtp.connectionpooltimeout", "0",
		"mail.smtp.auth.allowcleartext", "true",
		"mail.imaps.host", "imap.example.com",
		"mail.imaps.user", "bob",
		"mail.imaps.password", "pw2",
		"mail.imaps.timeout", "4000",
	))
	ep := s.set.transport
	checks := []struct {
		name string
		ok   bool
	}{
		{"host", ep.Host == "smtp.example.com"},
		{"port", ep.Port == 587},
		{"user", ep.User == "alice"},
		{"password", ep.Password == "s3cret"},
		{"auth", ep.Auth},
		{"mechanisms", strings.Join(ep.Mechanisms, " ") == "LOGIN XOAUTH2"},
		{"from", ep.From == "bounce@example.com"},
		{"localhost", ep.LocalHost == "app.example.com"},
		{"starttls", ep.StartTLS && ep.StartTLSRequired},
		{"ssl.trust", strings.Join(ep.TrustHosts, ",") == "smtp.example.com,other.example.com" && !ep.TrustAll},
		{"checkserveridentity", !ep.CheckServerIdentity},
		{"ssl.protocols", ep.TLSMin == tls.VersionTLS13 && ep.TLSMax == tls.VersionTLS13},
		{"timeouts", ep.ConnectTimeout == 1500*time.Millisecond && ep.ReadTimeout == 2500*time.Millisecond && ep.WriteTimeout == 3500*time.Millisecond},
		{"sendpartial", ep.SendPartial},
		{"dsn", strings.Join(ep.DSNNotify, ",") == "SUCCESS,FAILURE" && ep.DSNRet == "HDRS"},
		{"quitwait", !ep.QuitWait},
		{"rsetbeforequit", ep.RsetBeforeQuit},
		{"pool", ep.PoolSize == 7 && ep.PoolTimeout == 0},
		{"allowcleartext", ep.AllowCleartextAuth},
		{"mail.from", s.set.from == "Portal <portal@example.com>"},
		{"mail.debug", s.set.debug && s.trace != nil},
		{"store", s.set.store.Host == "imap.example.com" && s.set.store.User == "bob" && s.set.store.Password == "pw2" && s.set.store.ReadTimeout == 4*time.Second && s.set.store.Port == 993},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("key %s not honoured", c.name)
		}
	}
	// The one warning: ssl.trust naming the host turns verification off.
	if w := s.Warnings(); len(w) != 1 || w[0].Key != "mail.smtp.ssl.trust" || !strings.Contains(w[0].Message, "without verification") {
		t.Errorf("unexpected warnings: %v", w)
	}
	if got := s.Property("mail.smtp.host"); got != "smtp.example.com" {
		t.Errorf("Property = %q", got)
	}
}

func TestValidationNamesKeyAndValue(t *testing.T) {
	cases := map[string][]string{
		"mail.smtp.port":               {"mail.smtp.port", "25x"},
		"mail.transport.protocol":      {"mail.transport.protocol", "http"},
		"mail.store.protocol":          {"mail.store.protocol", "nntp"},
		"mail.smtp.timeout":            {"mail.smtp.timeout", "ten"},
		"mail.smtp.connectiontimeout":  {"mail.smtp.connectiontimeout", "-5"},
		"mail.smtps.port":              {"mail.transport.protocol", "smtps", "mail.smtps.port", "70000"},
		"mail.smtp.auth.mechanisms":    {"mail.smtp.auth.mechanisms", "PLAIN NTLM"},
		"mail.smtp.ssl.protocols":      {"mail.smtp.ssl.protocols", "SSLv3 TLSv1"},
		"mail.smtp.dsn.ret":            {"mail.smtp.dsn.ret", "ALL"},
		"mail.smtp.dsn.notify":         {"mail.smtp.dsn.notify", "NEVER,SUCCESS"},
		"mail.from":                    {"mail.from", "not an address"},
		"mail.smtp.from":               {"mail.smtp.from", "x@"},
		"mail.pop3.port":               {"mail.store.protocol", "pop3", "mail.pop3.port", "abc"},
		"mail.smtp.connectionpoolsize": {"mail.smtp.connectionpoolsize", "0"},
		"mail.smtp.host":               {"mail.smtp.host", "evil\r\nhost"},
	}
	for key, kv := range cases {
		_, err := FromProperties(props(kv...), WithLogger(quietLogger()))
		var se *SettingError
		if !errors.As(err, &se) {
			t.Errorf("%v: err %v, want *SettingError", kv, err)
			continue
		}
		if se.Key != key || !strings.Contains(err.Error(), key) {
			t.Errorf("%v: error names %q: %v", kv, se.Key, err)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", kv[len(kv)-1])) {
			t.Errorf("%v: error does not quote the value: %v", kv, err)
		}
	}
	// A password is never echoed.
	_, err := FromProperties(props("mail.smtp.password", "top\nsecret"), WithLogger(quietLogger()))
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("password error %v", err)
	}
	// auth without a user.
	if _, err := FromProperties(props("mail.smtp.auth", "true"), WithLogger(quietLogger())); err == nil {
		t.Errorf("auth=true without a user accepted")
	}
}

func TestWarnings(t *testing.T) {
	var logBuf bytes.Buffer
	s, err := FromProperties(props(
		"mail.smpt.host", "typo.example.com",
		"mail.smtp.port", "995",
		"mail.smtp.connectionpolsize", "3",
		"mail.totally.unknown", "x",
		"mail.smtp.ehlo", "true", // a JavaMail key honoured: no warning
		"jdbc.default.url", "not mail",
	), WithLogger(slog.New(slog.NewTextHandler(&logBuf, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ws := fmt.Sprint(s.Warnings())
	for _, want := range []string{
		"mail.smpt.host: unknown key, ignored (did you mean mail.smtp.host?)",
		"mail.smtp.connectionpolsize: unknown key, ignored (did you mean mail.smtp.connectionpoolsize?)",
		"mail.totally.unknown: unknown key",
		"port 995 is the POP3S port",
	} {
		if !strings.Contains(ws, want) {
			t.Errorf("warnings %s\nlack %q", ws, want)
		}
	}
	if strings.Contains(ws, "ehlo") || strings.Contains(ws, "jdbc") {
		t.Errorf("warned about a legal key: %s", ws)
	}
	if !strings.Contains(logBuf.String(), "mail.smpt.host") {
		t.Errorf("warnings not logged at construction")
	}

	tlsMismatch := map[string][]string{
		"implicit TLS":         {"mail.transport.protocol", "smtps", "mail.smtps.port", "587"},
		"expects implicit TLS": {"mail.smtp.port", "465"},
		"is the IMAP port":     {"mail.smtp.port", "143"},
		"is the POP3 port":     {"mail.smtp.port", "110"},
		"is the IMAPS port":    {"mail.smtp.port", "993"},
		"credentials need TLS": {"mail.smtp.host", "smtp.example.com", "mail.smtp.auth", "true", "mail.smtp.user", "u", "mail.smtp.password", "p"},
		"trusted without":      {"mail.smtp.ssl.trust", "*"},
		"is the SMTP port":     {"mail.store.protocol", "imap", "mail.imap.port", "25"},
		"ignored insecure":     {"mail.smtp.ssl.protocols", "TLSv1.1 TLSv1.2"},
	}
	for want, kv := range tlsMismatch {
		s := mustSession(t, props(kv...))
		if ws := fmt.Sprint(s.Warnings()); !strings.Contains(ws, want) {
			t.Errorf("%v: warnings %s lack %q", kv, ws, want)
		}
	}
}

func TestOptionsOverrideProperties(t *testing.T) {
	s := mustSession(t, props("mail.smtp.host", "file.example.com", "mail.smtp.port", "25", "mail.transport.protocol", "smtps"),
		WithHost("opt.example.com", 2525), WithAuth("u", "p"), WithPool(4, time.Minute),
		WithTimeouts(time.Second, 2*time.Second, 3*time.Second), WithStore("pop3s", "pop.example.com", 0),
		WithStoreAuth("su", "sp"), WithFrom("f@example.com"), WithSendPartial(true))
	ep := s.set.transport
	if ep.Host != "opt.example.com" || ep.Port != 2525 || ep.User != "u" || ep.Password != "p" || !ep.Auth ||
		ep.PoolSize != 4 || ep.PoolTimeout != time.Minute || ep.ReadTimeout != 2*time.Second || !ep.SendPartial {
		t.Errorf("transport %+v", *ep)
	}
	st := s.set.store
	if st.Protocol != "pop3s" || st.Host != "pop.example.com" || st.Port != 995 || st.User != "su" || st.Password != "sp" {
		t.Errorf("store %v", st)
	}
	if s.set.from != "f@example.com" {
		t.Errorf("from %q", s.set.from)
	}
}

func TestSecretsNeverFormatted(t *testing.T) {
	s := mustSession(t, props("mail.smtp.user", "alice", "mail.smtp.password", "hunter2", "mail.store.protocol", "pop3", "mail.pop3.password", "pop-pass"))
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(f, s) + fmt.Sprintf(f, s.set.transport) + fmt.Sprintf(f, s.set.store)
		if strings.Contains(out, "hunter2") || strings.Contains(out, "pop-pass") {
			t.Errorf("%s shows a password: %s", f, out)
		}
		if !strings.Contains(out, "alice") {
			t.Errorf("%s lost the user: %s", f, out)
		}
	}
}

func TestEditDistanceSwap(t *testing.T) {
	if d := editDistance("mail.smpt.host", "mail.smtp.host"); d != 1 {
		t.Errorf("swap distance %d", d)
	}
	if k := nearestKey("mail.smtp.hots"); k != "mail.smtp.host" {
		t.Errorf("nearest %q", k)
	}
	if k := nearestKey("mail.completely.different.thing"); k != "" {
		t.Errorf("nearest for nonsense %q", k)
	}
}

func TestTypedOptions(t *testing.T) {
	s := mustSession(t, nil,
		WithEnvelopeFrom("bounce@example.com"), WithEHLOName("app.example.com"),
		WithAuthMechanisms("CRAM-MD5", "PLAIN"), WithDSN("FULL", "FAILURE", "DELAY"),
		WithTrustedHosts("a.example.com", "b.example.com"), WithServerIdentityCheck(false),
		WithQuit(false, true), WithImplicitTLS(), WithStartTLS(true),
		WithEnviron([]string{"LIFERAY_MAIL_PERIOD_SMTPS_PERIOD_HOST=env.example.com"}))
	ep := s.set.transport
	if ep.From != "bounce@example.com" || ep.LocalHost != "app.example.com" ||
		strings.Join(ep.Mechanisms, " ") != "CRAM-MD5 PLAIN" || ep.DSNRet != "FULL" ||
		strings.Join(ep.DSNNotify, ",") != "FAILURE,DELAY" || len(ep.TrustHosts) != 2 ||
		ep.CheckServerIdentity || ep.QuitWait || !ep.RsetBeforeQuit || ep.Protocol != "smtps" ||
		!ep.StartTLSRequired || ep.Host != "env.example.com" {
		t.Errorf("typed options not applied: %+v", *ep)
	}
}
