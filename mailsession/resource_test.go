package mailsession

import (
	"bytes"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/jmailgo/jmail/jndi"
	"github.com/jmailgo/jmail/mailsession/mailtest"
	"github.com/jmailgo/jmail/properties"
)

// portalProps is a portal-ext.properties pointing at srv, Liferay style.
func portalProps(t *testing.T, srv *mailtest.Server) *properties.Properties {
	t.Helper()
	src := `
# Liferay portal-ext.properties
jdbc.default.driverClassName=org.hsqldb.jdbc.JDBCDriver
mail.session.mail=true
mail.session.mail.transport.protocol=smtp
mail.session.mail.smtp.host=127.0.0.1
mail.session.mail.smtp.port=` + strconv.Itoa(srv.Ports().SMTP) + `
mail.session.mail.smtp.user=` + mailtest.DefaultUser + `
mail.session.mail.smtp.password=` + mailtest.DefaultPassword + `
mail.session.mail.smtp.starttls.enable=true
mail.session.mail.pop3.host=127.0.0.1
mail.session.mail.pop3.port=` + strconv.Itoa(srv.Ports().POP3) + `
mail.session.mail.store.protocol=pop3
mail.session.mail.advanced.properties=mail.smtp.starttls.required=true\n\
    mail.smtp.connectionpoolsize=3
`
	p, err := properties.Load(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFromPortalProperties(t *testing.T) {
	srv := mailtest.NewServer(t)
	s, err := FromPortalProperties(portalProps(t, srv), WithRootCAs(srv.CertPool()), WithLogger(quietLogger()), WithRegistry(jndi.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ep := s.set.transport
	if !ep.Auth || !ep.StartTLSRequired || ep.PoolSize != 3 {
		t.Errorf("Liferay rules not applied: auth=%v starttls.required=%v pool=%d", ep.Auth, ep.StartTLSRequired, ep.PoolSize)
	}
	st := s.set.store
	if st == nil || st.Protocol != "pop3" || st.User != mailtest.DefaultUser || st.Password != mailtest.DefaultPassword {
		t.Errorf("store %v: want the SMTP login as Liferay's authenticator gives", st)
	}
	if w := s.Warnings(); len(w) != 0 {
		t.Errorf("warnings on a clean Liferay file: %v", w)
	}
	sendOK(t, s, mailtest.DefaultUser)
	if count(srv.SMTPCommands(), "STARTTLS") != 1 {
		t.Errorf("advanced properties not applied: %v", srv.SMTPCommands())
	}
}

func TestPortalIMAPStoreUsesLiferayPOPFields(t *testing.T) {
	p := props("mail.session.mail.store.protocol", "imaps",
		"mail.session.mail.pop3.host", "in.example.com",
		"mail.session.mail.pop3.user", "bob",
		"mail.session.mail.pop3.password", "pw")
	s, err := FromPortalProperties(p, WithLogger(quietLogger()), WithRegistry(jndi.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st := s.set.store
	if st.Protocol != "imaps" || st.Host != "in.example.com" || st.Port != 993 || st.User != "bob" || st.Password != "pw" {
		t.Errorf("store %v", st)
	}
	if s.set.transport.Auth {
		t.Errorf("SMTP auth on without user or password")
	}
}

func TestPortalJNDILookupAndFallThrough(t *testing.T) {
	reg := jndi.NewRegistry()
	bound := mustSession(t, props("mail.smtp.host", "bound.example.com"))
	if err := reg.Bind("java:comp/env/mail/MailSession", bound); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"mail/MailSession", "java:mail/MailSession", "java:comp/env/mail/MailSession"} {
		s, err := FromPortalProperties(props("mail.session.jndi.name", name, "mail.session.mail.smtp.host", "file.example.com"), WithRegistry(reg))
		if err != nil || s.core != bound.core || !s.borrowed {
			t.Errorf("%s: got %v, %v; want the bound session, borrowed", name, s, err)
		}
	}
	var logBuf bytes.Buffer
	s, err := FromPortalProperties(props("mail.session.jndi.name", "mail/Missing", "mail.session.mail.smtp.host", "file.example.com"),
		WithRegistry(reg), WithLogger(slog.New(slog.NewTextHandler(&logBuf, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.set.transport.Host != "file.example.com" || !strings.Contains(logBuf.String(), "mail/Missing") {
		t.Errorf("fall-through: host %q, log %q", s.set.transport.Host, logBuf.String())
	}
}

// TestPortalJNDISessionIsShared: the session FromPortalProperties finds by
// name belongs to whoever bound it: the caller's Close and Shutdown leave
// it working for everyone, and options that cannot apply to it are an
// error rather than silently ignored.
func TestPortalJNDISessionIsShared(t *testing.T) {
	srv := mailtest.NewServer(t)
	owner := newTestSession(t, srv, mailtest.Plain)
	reg := jndi.NewRegistry()
	if err := reg.Bind("mail/MailSession", owner); err != nil {
		t.Fatal(err)
	}
	file := props("mail.session.jndi.name", "mail/MailSession")
	borrowed, err := FromPortalProperties(file, WithRegistry(reg), WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	sendOK(t, borrowed, mailtest.DefaultUser)
	if err := borrowed.Close(); err != nil {
		t.Fatal(err)
	}
	if err := borrowed.Shutdown(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	sendOK(t, owner, mailtest.DefaultUser)    // the owner's session still works
	sendOK(t, borrowed, mailtest.DefaultUser) // and so does the borrowed view
	for _, opt := range []Option{WithHost("other.example.com", 25), WithPool(9, 0), WithProperty("mail.smtp.port", "26")} {
		_, err := FromPortalProperties(file, WithRegistry(reg), opt)
		var se *SettingError
		if !errors.As(err, &se) || se.Key != "mail.session.jndi.name" {
			t.Errorf("an option for a looked-up session: %v, want a SettingError on mail.session.jndi.name", err)
		}
	}
	owner.Close()
	if err := borrowed.Send(ctxT(t), &Message{To: []string{mailtest.DefaultUser}, Text: "x"}); !errors.Is(err, ErrClosed) {
		t.Errorf("after the owner's Close: %v", err)
	}
}

func TestPortalEnvironmentOverrides(t *testing.T) {
	env := []string{
		"LIFERAY_MAIL_PERIOD_SESSION_PERIOD_MAIL_PERIOD_SMTP_PERIOD_HOST=env.example.com",
		"LIFERAY_MAIL_PERIOD_SESSION_PERIOD_MAIL_PERIOD_SMTP_PERIOD_PORT=2525",
		"PATH=/usr/bin",
	}
	p := props("mail.session.mail.smtp.host", "file.example.com")
	s, err := FromPortalProperties(p, WithEnviron(env), WithLogger(quietLogger()), WithRegistry(jndi.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.set.transport.Host != "env.example.com" || s.set.transport.Port != 2525 {
		t.Errorf("env not applied: %v", s.set.transport)
	}
	// Without WithEnviron nothing is read from the environment.
	s2, _ := FromPortalProperties(p, WithLogger(quietLogger()), WithRegistry(jndi.NewRegistry()))
	defer s2.Close()
	if s2.set.transport.Host != "file.example.com" {
		t.Errorf("host %q", s2.set.transport.Host)
	}
}

func TestPortalBadAdvancedProperties(t *testing.T) {
	p := props("mail.session.mail", "true", "mail.session.mail.advanced.properties", "mail.smtp.port=abc")
	_, err := FromPortalProperties(p, WithLogger(quietLogger()), WithRegistry(jndi.NewRegistry()))
	var se *SettingError
	if !errors.As(err, &se) || se.Key != "mail.smtp.port" {
		t.Errorf("err %v", err)
	}
}

func TestTomcatResourceFactory(t *testing.T) {
	srv := mailtest.NewServer(t)
	for _, typ := range []string{JavaxMailSession, JakartaMailSession} {
		reg := jndi.NewRegistry()
		RegisterResourceFactories(reg, WithRootCAs(srv.CertPool()), WithLogger(quietLogger()))
		ctxXML := `<Context>
  <Resource name="mail/MailSession" auth="Container" type="` + typ + `"
            mail.smtp.host="127.0.0.1" mail.smtp.port="` + strconv.Itoa(srv.Ports().SMTP) + `"
            mail.smtp.auth="true" mail.smtp.user="` + mailtest.DefaultUser + `"
            password="` + mailtest.DefaultPassword + `"
            mail.smtp.starttls.enable="true" mail.smtp.starttls.required="true"/>
</Context>`
		names, err := reg.BindResources(strings.NewReader(ctxXML))
		if err != nil || len(names) != 1 {
			t.Fatalf("%s: BindResources %v %v", typ, names, err)
		}
		s, err := jndi.LookupAs[*Session](reg, "java:comp/env/mail/MailSession")
		if err != nil {
			t.Fatal(err)
		}
		if s.set.transport.Password != mailtest.DefaultPassword {
			t.Errorf("%s: Tomcat's password attribute not used", typ)
		}
		if strings.Contains(s.String(), "="+mailtest.DefaultPassword) {
			t.Errorf("password in String()")
		}
		sendOK(t, s, mailtest.DefaultUser)
		// The same session through Liferay's jndi.name.
		ps, err := FromPortalProperties(props("mail.session.jndi.name", "mail/MailSession"), WithRegistry(reg))
		if err != nil || ps.core != s.core {
			t.Errorf("portal look-up: %v %v", ps, err)
		}
		s.Close()
	}
}
