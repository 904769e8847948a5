package outbox_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/mailsession/mailtest"
	"github.com/jmailgo/jmail/mailsession/outbox"
	"github.com/jmailgo/jmail/properties"
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

// A queue on PostgreSQL that several instances share, and a message
// enqueued in the application's transaction: it is sent if and only if the
// transaction commits. (Not run: it needs a database.)
func ExamplePostgres() {
	ctx := context.Background()
	props, err := properties.LoadFile("portal-ext.properties")
	if err != nil {
		log.Fatal(err)
	}
	session, err := mailsession.FromPortalProperties(props)
	if err != nil {
		log.Fatal(err)
	}
	defer session.Close()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	// The MailEngine keys (mail.send.blacklist, ...) are outside mail.session.
	ob, err := outbox.Open(ctx, session, outbox.Postgres(pool), outbox.WithMigrate(), outbox.WithProperties(props))
	if err != nil {
		log.Fatal(err)
	}
	defer ob.Close()
	if err := ob.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer ob.Stop(ctx)

	tx, err := pool.Begin(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `UPDATE account SET reset_requested = now() WHERE email = $1`, "user@example.com"); err != nil {
		log.Fatal(err)
	}
	id, err := ob.EnqueueTx(ctx, tx, &mailsession.Message{
		From: "portal@example.com", To: []string{"user@example.com"},
		Subject: "Reset your password", Text: "Follow the link to choose a new password.\n",
	}, outbox.WithKey("password-reset-user@example.com"))
	if err != nil {
		log.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("enqueued", id)
}
