package outbox_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/mailsession/mailtest"
	"github.com/jmailgo/jmail/mailsession/outbox"
)

// Open an outbox in a SQLite file, enqueue a message and let the workers
// send it to the embedded mail server.
func Example() {
	ctx := context.Background()
	srv, err := mailtest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	session, err := mailsession.FromProperties(srv.Properties(mailtest.Plain, ""))
	if err != nil {
		log.Fatal(err)
	}
	defer session.Close()

	dir, err := os.MkdirTemp("", "outbox")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ob, err := outbox.Open(ctx, session, outbox.SQLite(filepath.Join(dir, "outbox.db")), outbox.WithMigrate())
	if err != nil {
		log.Fatal(err)
	}
	defer ob.Close()

	id, err := ob.Enqueue(ctx, &mailsession.Message{
		From:    "app@example.net",
		To:      []string{mailtest.DefaultUser},
		Subject: "Your password reset",
		Text:    "Follow the link to reset your password.\n",
	}, outbox.WithKey("password-reset-42"))
	if err != nil {
		log.Fatal(err)
	}
	if err := ob.Start(ctx); err != nil {
		log.Fatal(err)
	}
	msgs, err := srv.WaitMessages(ctx, mailtest.DefaultUser, 1)
	if err != nil {
		log.Fatal(err)
	}
	if err := ob.Stop(ctx); err != nil {
		log.Fatal(err)
	}
	st, err := ob.Status(ctx, id)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(msgs), "message in the mailbox; state", st.State, "after", st.Attempts, "attempt")
	// Output: 1 message in the mailbox; state Sent after 1 attempt
}
