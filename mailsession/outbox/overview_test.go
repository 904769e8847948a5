package outbox_test

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/jmailgo/jmail/mailsession/mailtest"
	"github.com/jmailgo/jmail/mailsession/outbox"
)

// Counts and Failures, what the control panel shows: one message in each
// state, and the failures with the server's replies.
func TestCountsAndFailures(t *testing.T) {
	// An hour between attempts: a temporary failure stays Pending.
	e := setup(t, outbox.WithBackoff(time.Hour, time.Hour))
	ctx := testCtx(t)
	e.srv.SetFaults(mailtest.Faults{RejectRecipients: map[string]int{"bad@example.org": 550, "temp@example.org": 451}})
	enqueue := func(to string, opts ...outbox.EnqueueOption) outbox.ID {
		t.Helper()
		id, err := e.ob.Enqueue(ctx, msg(to), opts...)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	later := time.Now().Add(time.Hour)
	ok, bad, temp := enqueue("ok@example.org"), enqueue("bad@example.org"), enqueue("temp@example.org")
	scheduled, canceled := enqueue("later@example.org", outbox.At(later)), enqueue("cancel@example.org", outbox.At(later))
	if err := e.ob.Cancel(ctx, canceled); err != nil {
		t.Fatal(err)
	}
	if got, err := e.ob.Failures(ctx, 10); err != nil || len(got) != 0 {
		t.Fatalf("Failures before any attempt: %v, %v; want none", got, err)
	}
	start(t, e.ob)
	waitState(t, e.ob, ok, outbox.Sent)
	waitState(t, e.ob, bad, outbox.Failed)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		st, err := e.ob.Status(ctx, temp)
		if err != nil {
			t.Fatal(err)
		}
		if st.State == outbox.Pending && st.Attempts == 1 && st.LastError != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("temp: %+v; want Pending after one failed attempt", st)
		}
	}

	counts, err := e.ob.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[outbox.State]int{outbox.Sent: 1, outbox.Failed: 1, outbox.Pending: 2, outbox.Canceled: 1}
	if !maps.Equal(counts, want) {
		t.Errorf("Counts = %v, want %v", counts, want)
	}

	fails, err := e.ob.Failures(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	got := map[outbox.ID]*outbox.Status{}
	for _, st := range fails {
		got[st.ID] = st
	}
	if ids := slices.Sorted(maps.Keys(got)); !slices.Equal(ids, []outbox.ID{bad, temp}) {
		t.Fatalf("Failures = %v, want %v and %v", ids, bad, temp)
	}
	for id, code := range map[outbox.ID]int{bad: 550, temp: 451} {
		r := got[id].Recipients
		if len(r) != 1 || r[0].Code != code || r[0].Reply == "" {
			t.Errorf("message %v: recipients %+v, want the server's %d reply", id, r, code)
		}
	}
	if got[bad].State != outbox.Failed || got[temp].State != outbox.Pending {
		t.Errorf("states %v and %v, want Failed and Pending", got[bad].State, got[temp].State)
	}
	if fails[0].Updated.Before(fails[1].Updated) {
		t.Errorf("Failures not newest first: %v before %v", fails[0].Updated, fails[1].Updated)
	}
	if one, err := e.ob.Failures(ctx, 1); err != nil || len(one) != 1 || one[0].ID != fails[0].ID {
		t.Errorf("Failures(1) = %v, %v; want the newest, %v", one, err, fails[0].ID)
	}
	if st, err := e.ob.Status(ctx, scheduled); err != nil || st.State != outbox.Pending || !st.Next.After(time.Now()) {
		t.Errorf("scheduled: %+v, %v; want Pending, due later", st, err)
	}
}
