package mailsession_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/jmailgo/jmail/jndi"
	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/mailsession/mailtest"
)

// WatchFile publishes the session a portal-ext.properties describes under
// its JNDI name and, when an operator edits the file, the new one: code that
// looks the session up for each send follows the edit at once, no restart.
func ExampleWatchFile() {
	relayA, err := mailtest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer relayA.Close()
	relayB, err := mailtest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer relayB.Close()

	dir, err := os.MkdirTemp("", "watch-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "portal-ext.properties")
	// configure writes the settings as deployment tools do: a new file
	// renamed over the old one, so the watcher never reads half a file.
	configure := func(relay *mailtest.Server) {
		text := fmt.Sprintf("mail.session.mail.smtp.host=%s\nmail.session.mail.smtp.port=%d\nmail.session.mail.from=app@example.com\n",
			relay.Host(), relay.Ports().SMTP)
		tmp := path + ".new"
		if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
			log.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			log.Fatal(err)
		}
	}
	configure(relayA)

	reg := jndi.NewRegistry()
	published := make(chan *mailsession.Session, 1)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- mailsession.WatchFile(ctx, path, reg, "mail/MailSession",
			mailsession.WithWatchLogger(slog.New(slog.DiscardHandler)),
			mailsession.OnReady(func(s *mailsession.Session) { published <- s }),
			mailsession.OnReload(func(old, new *mailsession.Session) { published <- new }))
	}()

	// What the application does for each message: look the session up.
	send := func(subject string) {
		s, err := jndi.LookupAs[*mailsession.Session](reg, "java:comp/env/mail/MailSession")
		if err != nil {
			log.Fatal(err)
		}
		if err := s.Send(context.Background(), &mailsession.Message{To: []string{"ops@example.net"}, Subject: subject, Text: "Hi!"}); err != nil {
			log.Fatal(err)
		}
	}

	<-published
	send("before the edit")
	configure(relayB) // the operator moves the mail to another relay
	<-published
	send("after the edit")
	fmt.Println("relay A received", len(relayA.Received()), "message; relay B", len(relayB.Received()))

	stop()
	fmt.Println("WatchFile:", <-done)
	// The session last published stays bound for the application's
	// remaining work; it is the caller's to close.
	if s, err := jndi.LookupAs[*mailsession.Session](reg, "mail/MailSession"); err == nil {
		s.Shutdown(context.Background())
	}
	// Output:
	// relay A received 1 message; relay B 1
	// WatchFile: context canceled
}
