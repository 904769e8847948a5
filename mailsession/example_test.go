package mailsession_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"strings"
	"time"

	"github.com/jmailgo/jmail/jndi"
	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/mailsession/mailtest"
	"github.com/jmailgo/jmail/properties"
)

// quiet keeps the examples' output to what they print.
var quiet = mailsession.WithLogger(slog.New(slog.DiscardHandler))

// A session from JavaMail properties, as a Spring Boot or plain Java
// application would configure it.
func ExampleFromProperties() {
	srv, err := mailtest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	p, err := properties.Load(strings.NewReader(fmt.Sprintf(`
mail.transport.protocol=smtp
mail.smtp.host=127.0.0.1
mail.smtp.port=%d
mail.smtp.auth=true
mail.smtp.user=user@example.com
mail.smtp.password=password
mail.smtp.starttls.enable=true
mail.smtp.starttls.required=true
mail.from=Portal <user@example.com>
`, srv.Ports().SMTP)))
	if err != nil {
		log.Fatal(err)
	}
	// The test server's certificate is not in the system roots.
	s, err := mailsession.FromProperties(p, mailsession.WithRootCAs(srv.CertPool()), quiet)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	err = s.Send(context.Background(), &mailsession.Message{
		To:      []string{"user@example.com"},
		Subject: "Welcome, Zoë",
		Text:    "Your account is ready.",
		HTML:    "<p>Your account is <b>ready</b>.</p>",
	})
	fmt.Println("sent:", err == nil, "messages:", len(srv.Messages("user@example.com")))
	// Output: sent: true messages: 1
}

// A session from Liferay's portal-ext.properties keys.
func ExampleFromPortalProperties() {
	p := properties.New()
	p.Set("mail.session.mail", "true") // Liferay's Control Panel settings: AUTH from the login, the advanced box applied
	p.Set("mail.session.mail.smtp.host", "smtp.example.com")
	p.Set("mail.session.mail.smtp.port", "587")
	p.Set("mail.session.mail.smtp.user", "portal@example.com")
	p.Set("mail.session.mail.smtp.password", "secret")
	p.Set("mail.session.mail.advanced.properties", "mail.smtp.starttls.enable=true")
	s, err := mailsession.FromPortalProperties(p, mailsession.WithRegistry(jndi.NewRegistry()), quiet)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	fmt.Println(s)
	fmt.Println("auth:", s.Property("mail.smtp.auth"))
	// Output:
	// mailsession.Session{transport: smtp://smtp.example.com:587 user=portal@example.com password=<redacted> tls=starttls}
	// auth: true
}

// Failed recipients are reported one by one, and temporary failures are
// told apart from permanent ones.
func ExampleSendError() {
	srv, err := mailtest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	srv.SetFaults(mailtest.Faults{RejectRecipients: map[string]int{"gone@example.com": 550}})

	s, err := mailsession.New(mailsession.WithHost("127.0.0.1", srv.Ports().SMTP), mailsession.WithFrom("app@example.com"), quiet)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	err = s.Send(context.Background(), &mailsession.Message{To: []string{"user@example.com", "gone@example.com"}, Text: "hi"})
	var se *mailsession.SendError
	if errors.As(err, &se) {
		for _, r := range se.Rejected {
			fmt.Println("rejected:", r.Address, r.Code)
		}
		fmt.Println("not sent:", se.Unsent, "retry later:", mailsession.IsTemporary(err))
	}
	// Output:
	// rejected: gone@example.com 550
	// not sent: [user@example.com] retry later: false
}

// Check connects now and reports what the server offers.
func ExampleSession_Check() {
	srv, err := mailtest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	s, err := mailsession.FromProperties(srv.Properties(mailtest.ImplicitTLS, ""), mailsession.WithRootCAs(srv.CertPool()), quiet)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rep, err := s.Check(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rep.Transport.Protocol, rep.Transport.TLSVersion != "", rep.Transport.Authenticated, rep.Transport.Mechanism)
	// Output: smtps true true SCRAM-SHA-256-PLUS
}

// A Tomcat context.xml resource becomes a Session bound in a registry.
func ExampleRegisterResourceFactories() {
	reg := jndi.NewRegistry()
	mailsession.RegisterResourceFactories(reg, quiet)
	_, err := reg.BindResources(strings.NewReader(`<Context>
  <Resource name="mail/MailSession" auth="Container" type="jakarta.mail.Session"
            mail.smtp.host="smtp.example.com" mail.smtp.user="app@example.com" password="secret"/>
</Context>`))
	if err != nil {
		log.Fatal(err)
	}
	s, err := jndi.LookupAs[*mailsession.Session](reg, "java:comp/env/mail/MailSession")
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	fmt.Println(s)
	// Output: mailsession.Session{transport: smtp://smtp.example.com:25 user=app@example.com password=<redacted> tls=none}
}

// A session from Go options only, sharing a pool of connections.
func ExampleNew() {
	srv, err := mailtest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	s, err := mailsession.New(
		mailsession.WithHost("127.0.0.1", srv.Ports().SMTP),
		mailsession.WithAuth(mailtest.DefaultUser, mailtest.DefaultPassword),
		mailsession.WithStartTLS(true),
		mailsession.WithRootCAs(srv.CertPool()),
		mailsession.WithFrom("Notifications <"+mailtest.DefaultUser+">"),
		mailsession.WithPool(4, time.Minute),
		mailsession.WithTimeouts(5*time.Second, 10*time.Second, 10*time.Second),
		quiet,
	)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if err := s.Send(ctx, &mailsession.Message{To: []string{mailtest.DefaultUser}, Subject: "ping", Text: "pong"}); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("connections:", srv.SMTPConnections(), "messages:", len(srv.Messages(mailtest.DefaultUser)))
	// Output: connections: 1 messages: 3
}
