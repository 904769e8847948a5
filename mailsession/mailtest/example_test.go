package mailtest_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/jmailgo/jmail/mailsession/mailtest"
)

// Start a server, send a message over SMTP with STARTTLS and AUTH, and look
// at what the mailbox holds.
func ExampleStart() {
	srv, err := mailtest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	c, err := smtp.DialStartTLS(srv.Addr(srv.Ports().SMTP), srv.ClientTLSConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", mailtest.DefaultUser, mailtest.DefaultPassword)); err != nil {
		log.Fatal(err)
	}
	msg := "Subject: hello\r\n\r\nHi!\r\n"
	if err := c.SendMail("me@example.net", []string{mailtest.DefaultUser}, strings.NewReader(msg)); err != nil {
		log.Fatal(err)
	}
	c.Quit()

	msgs, err := srv.WaitMessages(context.Background(), mailtest.DefaultUser, 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("from %s to %v, UID %d: %q\n", msgs[0].From, msgs[0].To, msgs[0].UID, msgs[0].Data)
	// Output: from me@example.net to [user@example.com], UID 1: "Subject: hello\r\n\r\nHi!\r\n"
}

// Properties gives the JavaMail settings that point a mail session at the
// server. (In a test, mailtest.NewServer(t, ...) starts it and closes it when
// the test ends.)
func ExampleServer_Properties() {
	srv, err := mailtest.Start(mailtest.WithUser("alice@example.com", "secret"))
	if err != nil {
		log.Fatal(err)
	}
	props := srv.Properties(mailtest.StartTLS, "imap")
	for _, key := range []string{"mail.transport.protocol", "mail.smtp.auth", "mail.smtp.starttls.required", "mail.store.protocol", "mail.imap.user"} {
		v, _ := props.Get(key)
		fmt.Printf("%s=%s\n", key, v)
	}
	srv.Close()
	// Output:
	// mail.transport.protocol=smtp
	// mail.smtp.auth=true
	// mail.smtp.starttls.required=true
	// mail.store.protocol=imap
	// mail.imap.user=alice@example.com
}
