package outbox_test

import (
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jmailgo/jmail/mailsession/mailtest"
	"github.com/jmailgo/jmail/mailsession/outbox"
)

func TestEnqueueTx(t *testing.T) {
	e := setup(t)
	ctx := testCtx(t)
	tx := e.db.begin(t, ctx, e.ob)
	rolled, err := e.ob.EnqueueTx(ctx, tx.native, msg("rolled@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.rollback(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ob.Status(ctx, rolled); !errors.Is(err, outbox.ErrNotFound) {
		t.Fatalf("Status of a rolled-back message: %v", err)
	}
	tx = e.db.begin(t, ctx, e.ob)
	if err := tx.exec(`CREATE TABLE app_user (name TEXT)`); err != nil {
		t.Fatal(err)
	}
	committed, err := e.ob.EnqueueTx(ctx, tx.native, msg("committed@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.commit(); err != nil {
		t.Fatal(err)
	}
	start(t, e.ob)
	waitState(t, e.ob, committed, outbox.Sent)
	if err := e.ob.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	got := e.srv.Received()
	if len(got) != 1 || got[0].To[0] != "committed@example.org" {
		t.Fatalf("received %+v", got)
	}
}

func TestCancelAndRetry(t *testing.T) {
	e := setup(t)
	ctx := testCtx(t)
	canceled, err := e.ob.Enqueue(ctx, msg("canceled@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.ob.Cancel(ctx, canceled); err != nil {
		t.Fatal(err)
	}
	if err := e.ob.Cancel(ctx, canceled); err != nil {
		t.Fatalf("second Cancel: %v", err)
	}
	other, err := e.ob.Enqueue(ctx, msg("other@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	start(t, e.ob)
	waitState(t, e.ob, other, outbox.Sent)
	st, err := e.ob.Status(ctx, canceled)
	if err != nil || st.State != outbox.Canceled || st.Attempts != 0 {
		t.Fatalf("canceled: %+v, %v", st, err)
	}
	if err := e.ob.Cancel(ctx, other); !errors.Is(err, outbox.ErrFinished) {
		t.Fatalf("Cancel of a sent message: %v", err)
	}
	if err := e.ob.Retry(ctx, other); !errors.Is(err, outbox.ErrFinished) {
		t.Fatalf("Retry of a sent message: %v", err)
	}
	if err := e.ob.Cancel(ctx, 999); !errors.Is(err, outbox.ErrNotFound) {
		t.Fatalf("Cancel of no message: %v", err)
	}
	if _, err := e.ob.Status(ctx, 999); !errors.Is(err, outbox.ErrNotFound) {
		t.Fatalf("Status of no message: %v", err)
	}
	if got := e.srv.Received(); len(got) != 1 {
		t.Fatalf("received %+v", got)
	}
	// Retry sends the canceled one after all.
	if err := e.ob.Retry(ctx, canceled); err != nil {
		t.Fatal(err)
	}
	waitState(t, e.ob, canceled, outbox.Sent)
	got := e.srv.Received()
	if len(got) != 2 || got[1].To[0] != "canceled@example.org" {
		t.Fatalf("received %+v", got)
	}
}

func TestRetryFailed(t *testing.T) {
	e := setup(t)
	ctx := testCtx(t)
	e.srv.SetFaults(mailtest.Faults{RejectRecipients: map[string]int{"x@example.org": 550}})
	id, err := e.ob.Enqueue(ctx, msg("x@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	start(t, e.ob)
	st := waitState(t, e.ob, id, outbox.Failed, outbox.Sent)
	if st.State != outbox.Failed || st.Recipients[0].Code != 550 {
		t.Fatalf("status %+v", st)
	}
	e.srv.SetFaults(mailtest.Faults{})
	if err := e.ob.Retry(ctx, id); err != nil {
		t.Fatal(err)
	}
	st = waitState(t, e.ob, id, outbox.Sent, outbox.Failed)
	if st.State != outbox.Sent || st.Attempts != 2 || st.Recipients[0].State != outbox.RecipientSent {
		t.Fatalf("status %+v", st)
	}
}

// Close and reopen the outbox on the same file: what was pending is sent,
// once.
func TestRestart(t *testing.T) {
	e := setup(t)
	ctx := testCtx(t)
	var ids []outbox.ID
	for _, to := range []string{"a@example.org", "b@example.org", "c@example.org"} {
		id, err := e.ob.Enqueue(ctx, msg(to))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := e.ob.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopened without WithMigrate: the schema is there.
	ob, err := outbox.Open(ctx, e.s, e.db, outbox.WithPollInterval(20*time.Millisecond),
		outbox.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	start(t, ob)
	for _, id := range ids {
		waitState(t, ob, id, outbox.Sent)
	}
	if err := ob.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	var to []string
	for _, m := range e.srv.Received() {
		to = append(to, m.To...)
	}
	slices.Sort(to)
	if !slices.Equal(to, []string{"a@example.org", "b@example.org", "c@example.org"}) {
		t.Fatalf("received for %v", to)
	}
}

// Stop lets the send in flight finish.
func TestStopWaitsForInFlight(t *testing.T) {
	e := setup(t)
	ctx := testCtx(t)
	e.srv.SetFaults(mailtest.Faults{ReplyDelay: 20 * time.Millisecond})
	id, err := e.ob.Enqueue(ctx, msg("a@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	start(t, e.ob)
	waitState(t, e.ob, id, outbox.Sending, outbox.Sent)
	if err := e.ob.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := e.ob.Status(ctx, id)
	if err != nil || st.State != outbox.Sent {
		t.Fatalf("after Stop: %+v, %v", st, err)
	}
	if n := len(e.srv.Received()); n != 1 {
		t.Fatalf("received %d", n)
	}
}

// An uncertain outcome (the server took the message and closed without a
// reply) is retried with the same Message-ID by default, failed with
// WithUncertain(false).
func TestUncertain(t *testing.T) {
	for _, retry := range []bool{true, false} {
		t.Run(map[bool]string{true: "retry", false: "fail"}[retry], func(t *testing.T) {
			e := setup(t, outbox.WithUncertain(retry))
			ctx := testCtx(t)
			e.srv.SetFaults(mailtest.Faults{CloseAfterDot: true})
			id, err := e.ob.Enqueue(ctx, msg("a@example.org"))
			if err != nil {
				t.Fatal(err)
			}
			start(t, e.ob)
			if _, err := e.srv.WaitReceived(ctx, 1); err != nil {
				t.Fatal(err)
			}
			e.srv.SetFaults(mailtest.Faults{})
			st := waitState(t, e.ob, id, outbox.Sent, outbox.Failed)
			if err := e.ob.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			got := e.srv.Received()
			if !st.Recipients[0].Uncertain {
				t.Errorf("recipient not marked uncertain: %+v", st.Recipients[0])
			}
			if retry {
				if st.State != outbox.Sent || len(got) < 2 || !slices.Equal(messageID(got[0].Data), messageID(got[1].Data)) {
					t.Fatalf("status %+v, received %d", st, len(got))
				}
			} else if st.State != outbox.Failed || len(got) != 1 {
				t.Fatalf("status %+v, received %d", st, len(got))
			}
		})
	}
}

func TestMigrate(t *testing.T) {
	srv := mailtest.NewServer(t)
	s := newSession(t, srv)
	ctx := testCtx(t)
	d := newTestDB(t)
	// A database of the application's, not empty: Open does not migrate
	// it unasked.
	d.exec(t, `CREATE TABLE app_user (name TEXT)`)
	if _, err := outbox.Open(ctx, s, d); !errors.Is(err, outbox.ErrNotMigrated) {
		t.Fatalf("Open of an unmigrated database: %v", err)
	}
	if d.pool != nil {
		cfg := d.pool.Config()
		cfg.MaxConns = 1
		small, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer small.Close()
		if _, err := outbox.Open(ctx, s, outbox.Postgres(small)); err == nil || !strings.Contains(err.Error(), "at least 2") {
			t.Errorf("Open on a pool of one connection: %v, want it refused", err)
		}
		// On PostgreSQL several processes may migrate at once.
		errs := make(chan error, 4)
		for range cap(errs) {
			go func() { errs <- outbox.Migrate(ctx, d) }()
		}
		for range cap(errs) {
			if err := <-errs; err != nil {
				t.Fatalf("concurrent Migrate: %v", err)
			}
		}
	}
	for range 2 { // Migrate is idempotent
		if err := outbox.Migrate(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	ob, err := outbox.Open(ctx, s, d)
	if err != nil {
		t.Fatal(err)
	}
	if err := ob.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := outbox.Open(ctx, s, outbox.SQLite("")); err == nil {
		t.Fatal("Open with an empty path: no error")
	}
	if _, err := outbox.Open(ctx, s, outbox.Postgres(nil)); err == nil {
		t.Fatal("Open with a nil pool: no error")
	}
}
