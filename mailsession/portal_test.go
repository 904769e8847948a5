package mailsession

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/jmailgo/jmail/jndi"
	"github.com/jmailgo/jmail/mailsession/mailtest"
	"github.com/jmailgo/jmail/properties"
)

func portalSession(t *testing.T, p *properties.Properties, opts ...Option) *Session {
	t.Helper()
	s, err := FromPortalProperties(p, append([]Option{WithLogger(quietLogger()), WithRegistry(jndi.NewRegistry())}, opts...)...)
	if err != nil {
		t.Fatalf("FromPortalProperties: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Liferay's two paths: mail.session.mail=false builds from the keys alone,
// true from the Control Panel settings.
func TestPortalMailFlag(t *testing.T) {
	base := []string{
		"mail.session.mail.smtp.host", "smtp.example.com",
		"mail.session.mail.smtp.port", "587",
		"mail.session.mail.smtp.user", "portal@example.com",
		"mail.session.mail.smtp.password", "secret",
		"mail.session.mail.smtp.starttls.enable", "true",
		"mail.session.mail.advanced.properties", "mail.smtp.connectionpoolsize=5",
	}
	cases := []struct {
		name     string
		kv       []string
		auth     bool
		pool     int
		advWarn  bool
		protocol string
	}{
		{"flag unset: keys alone", nil, false, defaultPoolSize, true, "smtp"},
		{"flag false", []string{"mail.session.mail", "false"}, false, defaultPoolSize, true, "smtp"},
		{"flag false, auth asked", []string{"mail.session.mail", "false", "mail.session.mail.smtp.auth", "true"}, true, defaultPoolSize, true, "smtp"},
		{"flag true: AUTH from the login", []string{"mail.session.mail", "true"}, true, 5, false, "smtp"},
		{"flag true overrides smtp.auth=false", []string{"mail.session.mail", "true", "mail.session.mail.smtp.auth", "false"}, true, 5, false, "smtp"},
		{"flag true, advanced box wins", []string{"mail.session.mail", "TRUE", "mail.session.mail.advanced.properties", "mail.smtp.auth=false"}, false, defaultPoolSize, false, "smtp"},
		{"flag true, smtps takes the SMTP fields", []string{"mail.session.mail", "true", "mail.session.mail.transport.protocol", "smtps", "mail.session.mail.smtps.host", "other.example.com"}, true, 5, false, "smtps"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := portalSession(t, props(append(append([]string(nil), base...), c.kv...)...))
			ep := s.set.transport
			if ep.Auth != c.auth || ep.PoolSize != c.pool || ep.Protocol != c.protocol {
				t.Errorf("auth=%v pool=%d protocol=%s, want auth=%v pool=%d protocol=%s", ep.Auth, ep.PoolSize, ep.Protocol, c.auth, c.pool, c.protocol)
			}
			if ep.Host != "smtp.example.com" || ep.Port != 587 || !ep.StartTLS {
				t.Errorf("endpoint %v", ep)
			}
			w := warningFor(s.Warnings(), "mail.session.mail.advanced.properties")
			if got := strings.Contains(w, "not applied: mail.session.mail is not true"); got != c.advWarn {
				t.Errorf("advanced-box warning %q, want it %v", w, c.advWarn)
			}
		})
	}
}

// The false path against a real server: the login is in the file but AUTH
// is not said (Liferay's MailEngine does not authenticate); the true path
// authenticates.
func TestPortalMailFlagOnTheWire(t *testing.T) {
	srv := mailtest.NewServer(t)
	for _, flag := range []string{"false", "true"} {
		p := props(
			"mail.session.mail", flag,
			"mail.session.mail.smtp.host", srv.Host(),
			"mail.session.mail.smtp.port", strconv.Itoa(srv.Ports().SMTP),
			"mail.session.mail.smtp.user", mailtest.DefaultUser,
			"mail.session.mail.smtp.password", mailtest.DefaultPassword,
			"mail.session.mail.smtp.starttls.enable", "true",
			"admin.email.from.address", "portal@example.com",
		)
		before := count(srv.SMTPCommands(), "AUTH")
		s := portalSession(t, p, WithRootCAs(srv.CertPool()))
		sendOK(t, s, mailtest.DefaultUser)
		if got, want := count(srv.SMTPCommands(), "AUTH")-before, map[string]int{"false": 0, "true": 1}[flag]; got != want {
			t.Errorf("mail.session.mail=%s: %d AUTH, want %d", flag, got, want)
		}
	}
}

// Liferay's default sender: admin.email.from.name and .address without
// mail.session.mail.from.
func TestPortalDefaultSender(t *testing.T) {
	cases := []struct {
		kv   []string
		want string
	}{
		{[]string{"admin.email.from.name", "Joe Bloggs", "admin.email.from.address", "test@example.com"}, `"Joe Bloggs" <test@example.com>`},
		{[]string{"admin.email.from.address", "test@example.com"}, "<test@example.com>"},
		{[]string{"admin.email.from.name", "Joe", "admin.email.from.address", "test@example.com", "mail.session.mail.from", "own@example.com"}, "own@example.com"},
		{[]string{"admin.email.from.name", "Jöe", "admin.email.from.address", "test@example.com"}, "=?utf-8?q?J=C3=B6e?= <test@example.com>"},
	}
	for _, c := range cases {
		s := portalSession(t, props(c.kv...))
		if s.set.from != c.want {
			t.Errorf("%q: From %q, want %q", c.kv, s.set.from, c.want)
		}
		if _, err := parseAddress(s.set.from); err != nil {
			t.Errorf("%q: From %q does not parse: %v", c.kv, s.set.from, err)
		}
	}
	_, err := FromPortalProperties(props("admin.email.from.address", "not an address"), WithLogger(quietLogger()), WithRegistry(jndi.NewRegistry()))
	if err == nil || !strings.Contains(err.Error(), "admin.email.from.address") {
		t.Errorf("bad admin.email.from.address: %v, want an error naming it", err)
	}
}

// Warnings and errors name the keys as the operator wrote them.
func TestPortalWarningsNameSourceKeys(t *testing.T) {
	s := portalSession(t, props(
		"mail.session.mail.smtp.port", "995",
		"mail.session.mail.smtp.sendpartial", "yes",
		"mail.session.mail.smtp.ssl.trust", "*",
		"mail.session.mail.smtp.cachewriteto", "x",
	), WithEnviron([]string{"LIFERAY_MAIL_PERIOD_SESSION_PERIOD_MAIL_PERIOD_SMTP_PERIOD_QUITWAIT=nope"}))
	ws := fmt.Sprint(s.Warnings())
	for _, want := range []string{
		"mail.session.mail.smtp.port: port 995 is the POP3S port",
		"mail.session.mail.smtp.sendpartial: \"yes\" is neither true nor false",
		"mail.session.mail.smtp.ssl.trust: every server certificate",
		"LIFERAY_MAIL_PERIOD_SESSION_PERIOD_MAIL_PERIOD_SMTP_PERIOD_QUITWAIT: \"nope\" is neither",
	} {
		if !strings.Contains(ws, want) {
			t.Errorf("warnings %s\nlack %q", ws, want)
		}
	}
	rep := s.checkTransportWarnings()
	if !strings.Contains(fmt.Sprint(rep), "mail.session.mail.smtp.port") {
		t.Errorf("the transport's own warnings %v lack the portal key", rep)
	}
	_, err := FromPortalProperties(props("mail.session.mail.smtp.port", "abc"), WithLogger(quietLogger()), WithRegistry(jndi.NewRegistry()))
	if err == nil || !strings.Contains(err.Error(), "mail.session.mail.smtp.port") {
		t.Errorf("error %v does not name the portal key", err)
	}
}

// checkTransportWarnings is what Check reports on the transport's card.
func (s *Session) checkTransportWarnings() []Warning {
	return endpointWarnings(s.set.warnings, s.set.transport.Protocol)
}

// A typo in Liferay's prefix is warned like a typo in a JavaMail key.
func TestPortalPrefixTypos(t *testing.T) {
	s := portalSession(t, props(
		"mail.sesion.mail.smtp.host", "a",
		"mail.sessoin.mail.smtp.port", "25",
		"mail.sessions.mail.smtp.user", "u",
		"mail.send.blacklist", "x@example.com", // a Liferay key: no warning
		"mail.smtp.host", "b", // not under mail.session.: Liferay ignores it
	))
	ws := fmt.Sprint(s.Warnings())
	for _, want := range []string{
		"mail.sesion.mail.smtp.host: unknown key, ignored (did you mean mail.session.mail.smtp.host?)",
		"mail.sessoin.mail.smtp.port: unknown key, ignored (did you mean mail.session.mail.smtp.port?)",
		"mail.sessions.mail.smtp.user: unknown key, ignored (did you mean mail.session.mail.smtp.user?)",
	} {
		if !strings.Contains(ws, want) {
			t.Errorf("warnings %s\nlack %q", ws, want)
		}
	}
	if strings.Contains(ws, "blacklist") {
		t.Errorf("warned about a Liferay key: %s", ws)
	}
}
