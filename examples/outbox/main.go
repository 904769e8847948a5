// Command outbox shows durable, asynchronous sending with package
// mailsession/outbox on its embedded defaults: a SQLite file and the
// embedded mail server (package mailtest), so it needs nothing installed:
//
//	go run ./examples/outbox
//
// It enqueues a few messages (one twice with the same idempotency key, one
// to an address of mail.send.blacklist, one to more recipients than
// mail.batch.size), starts the workers, prints each attempt and outcome as
// the outbox reports them (WithEvents), then every message's Status, and
// stops. -db keeps the queue in a file of your choosing (by default a file
// in a temporary directory, removed at the end); -postgres URL keeps it in
// a PostgreSQL database instead, the queue several processes share (run
// the example in two terminals at once: each sends some of the other's
// messages); -n sets how many messages are enqueued; -v logs the outbox's
// structured records to stderr.
//
//	go run ./examples/outbox -postgres 'postgres://user:password@127.0.0.1:5432/db'
//
// The URL may come from $JMAIL_OUTBOX_POSTGRES instead, keeping the
// password off the command line.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/mailsession/mailtest"
	"github.com/jmailgo/jmail/mailsession/outbox"
	"github.com/jmailgo/jmail/properties"
)

func main() {
	db := flag.String("db", "", "SQLite file of the queue (default: one in a temporary directory)")
	pg := flag.String("postgres", os.Getenv("JMAIL_OUTBOX_POSTGRES"), "PostgreSQL URL of a shared queue, instead of SQLite (default $JMAIL_OUTBOX_POSTGRES)")
	n := flag.Int("n", 3, "messages to enqueue")
	verbose := flag.Bool("v", false, "log the outbox's records to stderr")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var logger *slog.Logger
	if *verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if *db != "" && *pg != "" {
		fmt.Fprintln(os.Stderr, "outbox: -db and -postgres: give one")
		os.Exit(2)
	}
	if err := run(ctx, os.Stdout, queue{sqlite: *db, postgres: *pg}, *n, logger); err != nil {
		fmt.Fprintln(os.Stderr, "outbox:", err)
		os.Exit(1)
	}
}

// The addresses the example's settings name.
const (
	blocked = "blocked@example.org" // in mail.send.blacklist
	audit   = "audit@example.org"   // mail.audit.trail
)

// queue says where the queue is: a PostgreSQL URL, else an SQLite file
// (empty: a new one in a temporary directory).
type queue struct{ sqlite, postgres string }

// open returns the outbox's Database and what to call when done.
func (q queue) open(ctx context.Context) (outbox.Database, func(), error) {
	if q.postgres != "" {
		pool, err := pgxpool.New(ctx, q.postgres)
		if err != nil {
			return nil, nil, fmt.Errorf("-postgres: %w", err)
		}
		return outbox.Postgres(pool), pool.Close, nil
	}
	if q.sqlite != "" {
		return outbox.SQLite(q.sqlite), func() {}, nil
	}
	dir, err := os.MkdirTemp("", "jmail-outbox-")
	if err != nil {
		return nil, nil, err
	}
	return outbox.SQLite(filepath.Join(dir, "outbox.db")), func() { os.RemoveAll(dir) }, nil
}

// run is the whole example; main only parses flags. logger nil: the
// outbox's records are discarded.
func run(ctx context.Context, out io.Writer, q queue, n int, logger *slog.Logger) error {
	if n < 1 {
		return fmt.Errorf("-n %d: at least one message", n)
	}
	database, closeDB, err := q.open(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	srv, err := mailtest.Start()
	if err != nil {
		return err
	}
	defer srv.Close()
	session, err := mailsession.FromProperties(srv.Properties(mailtest.Plain, ""))
	if err != nil {
		return err
	}
	defer session.Close()
	// Liferay's MailEngine keys and the outbox's own (see outbox.Keys),
	// given as a portal-ext.properties would hold them.
	settings := map[string]string{
		outbox.KeyBlacklist:  blocked,
		outbox.KeyAuditTrail: audit,
		outbox.KeyBatchSize:  "2",
		outbox.KeyRateLimit:  "50",
	}
	props := properties.New()
	for k, v := range settings {
		props.Set(k, v)
	}

	// Events come from the workers; the main goroutine prints them.
	events := make(chan outbox.Event, 16)
	done := make(chan struct{})
	defer close(done)
	onEvent := func(ev outbox.Event) {
		select {
		case events <- ev:
		case <-done:
		}
	}
	ob, err := outbox.Open(ctx, session, database, outbox.WithMigrate(), outbox.WithProperties(props),
		outbox.WithEvents(onEvent), outbox.WithLogger(logger))
	if err != nil {
		return err
	}
	defer ob.Close()

	fmt.Fprintf(out, "== Outbox in %s, sending to the embedded mail server on %s\n", database, srv.Addr(srv.Ports().SMTP))
	for _, k := range []string{outbox.KeyBlacklist, outbox.KeyAuditTrail, outbox.KeyBatchSize, outbox.KeyRateLimit} {
		fmt.Fprintf(out, "   %s=%s\n", k, settings[k])
	}

	// Enqueue: durable when it returns, sent once the workers run.
	stamp := time.Now().Format("20060102T150405.000000000")
	var ids []outbox.ID
	for i := 1; i <= n; i++ {
		m := &mailsession.Message{
			From:    "app@example.net",
			To:      []string{mailtest.DefaultUser},
			Subject: fmt.Sprintf("Notification %d of %d", i, n),
			Text:    "Something happened in the portal.\n",
		}
		switch i {
		case 2:
			m.Cc = []string{blocked}
		case 3:
			m.Cc = []string{"team1@example.org", "team2@example.org"}
		}
		id, err := ob.Enqueue(ctx, m, outbox.WithKey(fmt.Sprintf("%s-%d", stamp, i)))
		if err != nil {
			return fmt.Errorf("enqueue: %w", err)
		}
		ids = append(ids, id)
	}
	again, err := ob.Enqueue(ctx, &mailsession.Message{To: []string{mailtest.DefaultUser}, Subject: "ignored"}, outbox.WithKey(stamp+"-1"))
	if err != nil {
		return fmt.Errorf("enqueue: %w", err)
	}
	fmt.Fprintf(out, "\n== Enqueued %d messages: %s; the first again with its key: %s\n", n, joinIDs(ids), again)

	if err := ob.Start(ctx); err != nil {
		return err
	}
	fmt.Fprintln(out, "\n== Sending")
	left := map[outbox.ID]bool{}
	for _, id := range ids {
		left[id] = true
	}
	// On a shared queue another process may send some: Status tells. A
	// message this process attempts is left to its events (the attempt's
	// event comes before its outcome is recorded).
	mine := map[outbox.ID]bool{}
	handle := func(ev outbox.Event) {
		printEvent(out, ev)
		mine[ev.ID] = true
		if ev.Kind == outbox.EventSent || ev.Kind == outbox.EventFailed {
			delete(left, ev.ID)
		}
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for len(left) > 0 {
		select {
		case ev := <-events:
			handle(ev)
		case <-tick.C:
		drain:
			for {
				select {
				case ev := <-events:
					handle(ev)
				default:
					break drain
				}
			}
			for id := range left {
				if mine[id] {
					continue
				}
				st, err := ob.Status(ctx, id)
				if err != nil {
					return err
				}
				if st.State == outbox.Sent || st.State == outbox.Failed {
					fmt.Fprintf(out, "   %-7s message %s, by another process\n", strings.ToLower(st.State.String()), id)
					delete(left, id)
				}
			}
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d messages: %w", len(left), ctx.Err())
		}
	}
	if err := ob.Stop(ctx); err != nil {
		return err
	}

	fmt.Fprintln(out, "\n== Status")
	for _, id := range ids {
		st, err := ob.Status(ctx, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "   message %s: %s after %d attempt(s), Message-ID <%s>\n", st.ID, st.State, st.Attempts, st.MessageID)
		for _, r := range st.Recipients {
			line := fmt.Sprintf("      %-22s %s", r.Address, r.State)
			if r.Reply != "" {
				line += " (" + r.Reply + ")"
			}
			fmt.Fprintln(out, line)
		}
	}
	fmt.Fprintf(out, "\n== %d SMTP transactions reached this process's server\n", len(srv.Received()))
	return nil
}

func printEvent(out io.Writer, ev outbox.Event) {
	var addrs []string
	for _, r := range ev.Recipients {
		if ev.Kind == outbox.EventAttempt {
			addrs = append(addrs, r.Address)
		} else {
			addrs = append(addrs, r.Address+" "+r.State.String())
		}
	}
	line := fmt.Sprintf("   %-7s message %s, attempt %d: %s", ev.Kind, ev.ID, ev.Attempt, strings.Join(addrs, ", "))
	if ev.Err != nil {
		line += "; " + ev.Err.Error()
	}
	fmt.Fprintln(out, line)
}

func joinIDs(ids []outbox.ID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = id.String()
	}
	return strings.Join(s, ", ")
}
