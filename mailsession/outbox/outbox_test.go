package outbox_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/mailsession/mailtest"
	"github.com/jmailgo/jmail/mailsession/outbox"
)

// fast are the options that make the tests quick: short polling and
// back-off, logs discarded.
func fast(extra ...outbox.Option) []outbox.Option {
	return append([]outbox.Option{
		outbox.WithPollInterval(20 * time.Millisecond),
		outbox.WithBackoff(20*time.Millisecond, 100*time.Millisecond),
		outbox.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		outbox.WithMigrate(),
	}, extra...)
}

type env struct {
	srv *mailtest.Server
	s   *mailsession.Session
	ob  *outbox.Outbox
	db  testDB
}

func newSession(t *testing.T, srv *mailtest.Server, opts ...mailsession.Option) *mailsession.Session {
	t.Helper()
	s, err := mailsession.FromProperties(srv.Properties(mailtest.Plain, ""), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func setup(t *testing.T, opts ...outbox.Option) *env {
	t.Helper()
	srv := mailtest.NewServer(t)
	e := &env{srv: srv, s: newSession(t, srv), db: newTestDB(t)}
	e.ob = e.open(t, opts...)
	return e
}

func (e *env) open(t *testing.T, opts ...outbox.Option) *outbox.Outbox {
	t.Helper()
	ob, err := outbox.Open(context.Background(), e.s, e.db, fast(opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	return ob
}

func start(t *testing.T, ob *outbox.Outbox) {
	t.Helper()
	if err := ob.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ob.Stop(ctx)
	})
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitState polls Status until the message is in one of the states.
func waitState(t *testing.T, ob *outbox.Outbox, id outbox.ID, want ...outbox.State) *outbox.Status {
	t.Helper()
	ctx := testCtx(t)
	for {
		st, err := ob.Status(context.Background(), id)
		if err != nil {
			t.Fatalf("Status(%v): %v", id, err)
		}
		if slices.Contains(want, st.State) {
			return st
		}
		select {
		case <-ctx.Done():
			t.Fatalf("message %v still %v (attempts %d, last error %q), want %v", id, st.State, st.Attempts, st.LastError, want)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func msg(to ...string) *mailsession.Message {
	return &mailsession.Message{From: "app@example.net", To: to, Subject: "hello", Text: "Hi!\n"}
}

func rcptStates(st *outbox.Status) map[string]outbox.RecipientState {
	m := map[string]outbox.RecipientState{}
	for _, r := range st.Recipients {
		m[r.Address] = r.State
	}
	return m
}

func TestEnqueueSent(t *testing.T) {
	e := setup(t)
	ctx := testCtx(t)
	m := msg("a@example.org", "b@example.org")
	m.Bcc = []string{"c@example.org"}
	m.Attachments = []mailsession.Attachment{{Filename: "a.txt", Data: strings.NewReader("attached")}}
	id, err := e.ob.Enqueue(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.ob.Status(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != outbox.Pending || st.Attempts != 0 || st.MessageID == "" || len(st.Recipients) != 3 {
		t.Fatalf("before Start: %+v", st)
	}
	start(t, e.ob)
	st = waitState(t, e.ob, id, outbox.Sent, outbox.Failed)
	if st.State != outbox.Sent || st.Attempts != 1 || st.LastError != "" {
		t.Fatalf("status %+v", st)
	}
	for _, r := range st.Recipients {
		if r.State != outbox.RecipientSent {
			t.Errorf("recipient %+v", r)
		}
	}
	got := e.srv.Received()
	if len(got) != 1 {
		t.Fatalf("received %d transactions, want 1", len(got))
	}
	data := string(got[0].Data)
	if !strings.Contains(data, "Message-Id: <"+st.MessageID+">") && !strings.Contains(data, "Message-ID: <"+st.MessageID+">") {
		t.Errorf("Message-ID %q not in the message:\n%s", st.MessageID, data)
	}
	if strings.Contains(data, "c@example.org") {
		t.Errorf("Bcc in the message:\n%s", data)
	}
	if !strings.Contains(data, "a.txt") || got[0].From != "app@example.net" || len(got[0].To) != 3 {
		t.Errorf("received %+v", got[0])
	}
}

func TestEnqueueRaw(t *testing.T) {
	e := setup(t)
	ctx := testCtx(t)
	raw := "From: x@example.net\r\nTo: a@example.org\r\nMessage-ID: <raw-1@example.net>\r\nSubject: raw\r\n\r\nbody\r\n"
	id, err := e.ob.EnqueueRaw(ctx, "x@example.net", []string{"a@example.org"}, strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	start(t, e.ob)
	st := waitState(t, e.ob, id, outbox.Sent, outbox.Failed)
	if st.State != outbox.Sent || st.MessageID != "raw-1@example.net" {
		t.Fatalf("status %+v", st)
	}
	got, err := e.srv.WaitReceived(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if string(got[0].Data) != raw {
		t.Errorf("data %q, want %q", got[0].Data, raw)
	}
}

func TestEnqueueRefused(t *testing.T) {
	e := setup(t, outbox.WithMaxSize(1000))
	ctx := testCtx(t)
	for _, tc := range []struct {
		name string
		m    *mailsession.Message
		want error
	}{
		{"nil", nil, mailsession.ErrInvalidMessage},
		{"no recipient", &mailsession.Message{From: "a@example.net", Text: "x"}, mailsession.ErrInvalidMessage},
		{"bad address", msg("not an address"), mailsession.ErrInvalidMessage},
		{"CRLF in subject", &mailsession.Message{From: "a@example.net", To: []string{"b@example.org"}, Subject: "x\r\nBcc: c@example.org"}, mailsession.ErrInvalidMessage},
		{"too large", &mailsession.Message{From: "a@example.net", To: []string{"b@example.org"}, Text: strings.Repeat("x", 2000)}, outbox.ErrTooLarge},
		{"too large attachment", &mailsession.Message{From: "a@example.net", To: []string{"b@example.org"},
			Attachments: []mailsession.Attachment{{Filename: "big.bin", Data: strings.NewReader(strings.Repeat("y", 5000))}}}, outbox.ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := e.ob.Enqueue(ctx, tc.m); !errors.Is(err, tc.want) {
				t.Fatalf("Enqueue: %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := e.ob.EnqueueRaw(ctx, "", []string{"b@example.org"}, strings.NewReader(strings.Repeat("z", 1001))); !errors.Is(err, outbox.ErrTooLarge) {
		t.Fatalf("EnqueueRaw too large: %v", err)
	}
	if _, err := e.ob.EnqueueRaw(ctx, "", nil, strings.NewReader("x")); !errors.Is(err, mailsession.ErrInvalidMessage) {
		t.Fatalf("EnqueueRaw without recipients: %v", err)
	}
	if _, err := e.ob.EnqueueTx(ctx, "not a tx", msg("b@example.org")); err == nil {
		t.Fatal("EnqueueTx with a string: no error")
	}
}

func TestIdempotencyKey(t *testing.T) {
	e := setup(t)
	ctx := testCtx(t)
	id1, err := e.ob.Enqueue(ctx, msg("a@example.org"), outbox.WithKey("reset-42"))
	if err != nil {
		t.Fatal(err)
	}
	id2, err := e.ob.Enqueue(ctx, msg("b@example.org"), outbox.WithKey("reset-42"))
	if err != nil {
		t.Fatal(err)
	}
	if id1 != id2 {
		t.Fatalf("same key, ids %v and %v", id1, id2)
	}
	id3, err := e.ob.Enqueue(ctx, msg("c@example.org"), outbox.WithKey("other"))
	if err != nil || id3 == id1 {
		t.Fatalf("other key: %v, %v", id3, err)
	}
	start(t, e.ob)
	waitState(t, e.ob, id1, outbox.Sent)
	waitState(t, e.ob, id3, outbox.Sent)
	// After the send, the key still answers with the first id.
	id4, err := e.ob.Enqueue(ctx, msg("d@example.org"), outbox.WithKey("reset-42"))
	if err != nil || id4 != id1 {
		t.Fatalf("after the send: %v, %v", id4, err)
	}
	if err := e.ob.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	got := e.srv.Received()
	if len(got) != 2 {
		t.Fatalf("received %d, want 2", len(got))
	}
	for _, m := range got {
		if m.To[0] != "a@example.org" && m.To[0] != "c@example.org" {
			t.Errorf("sent to %v", m.To)
		}
	}
}

// Enqueues with one key at the same moment (on PostgreSQL, in concurrent
// transactions) all get the first one's ID, and one message is sent.
func TestIdempotencyKeyConcurrent(t *testing.T) {
	e := setup(t)
	ctx := testCtx(t)
	const n = 8
	ids := make([]outbox.ID, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { ids[i], errs[i] = e.ob.Enqueue(ctx, msg("a@example.org"), outbox.WithKey("same")) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("Enqueue %d: %v, %v; want %v", i, ids[i], errs[i], ids[0])
		}
	}
	start(t, e.ob)
	waitState(t, e.ob, ids[0], outbox.Sent)
	if err := e.ob.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if counts, err := e.ob.Counts(ctx); err != nil || counts[outbox.Sent] != 1 || len(counts) != 1 {
		t.Errorf("Counts = %v, %v; want one message, Sent", counts, err)
	}
	if got := len(e.srv.Received()); got != 1 {
		t.Errorf("received %d, want 1", got)
	}
}

func TestScheduled(t *testing.T) {
	e := setup(t)
	ctx := testCtx(t)
	at := time.Now().Add(300 * time.Millisecond)
	id, err := e.ob.Enqueue(ctx, msg("a@example.org"), outbox.At(at))
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.ob.Status(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != outbox.Pending || st.Next.Before(at.Add(-time.Millisecond)) {
		t.Fatalf("status %+v, want Pending until %v", st, at)
	}
	start(t, e.ob)
	waitState(t, e.ob, id, outbox.Sent)
	got := e.srv.Received()
	if len(got) != 1 || got[0].Received.Before(at) {
		t.Fatalf("received %+v, not after %v", got, at)
	}
}

func TestTemporaryThenSuccess(t *testing.T) {
	events := make(chan outbox.Event, 1000)
	e := setup(t, outbox.WithEvents(func(ev outbox.Event) { events <- ev }))
	ctx := testCtx(t)
	e.srv.SetFaults(mailtest.Faults{FailData: 451})
	id, err := e.ob.Enqueue(ctx, msg("a@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	start(t, e.ob)
	kinds := map[outbox.EventKind]int{}
	next := func() outbox.Event {
		t.Helper()
		select {
		case ev := <-events:
			if ev.ID != id {
				t.Fatalf("event for %v: %+v", ev.ID, ev)
			}
			kinds[ev.Kind]++
			return ev
		case <-ctx.Done():
			t.Fatalf("no more events after %v", kinds)
		}
		panic("unreachable")
	}
	// The first attempt fails with 451 and is recorded before its event.
	if ev := next(); ev.Kind != outbox.EventAttempt || ev.Attempt != 1 {
		t.Fatalf("first event %+v", ev)
	}
	ev := next()
	if ev.Kind != outbox.EventRetry || ev.Err == nil || !strings.Contains(ev.Err.Error(), "451") {
		t.Fatalf("second event %+v", ev)
	}
	st, err := e.ob.Status(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if st.Attempts < 1 || !strings.Contains(st.LastError, "451") || st.Recipients[0].State != outbox.RecipientPending {
		t.Fatalf("after the 451: %+v", st)
	}
	e.srv.SetFaults(mailtest.Faults{})
	for ev.Kind != outbox.EventSent {
		if ev = next(); ev.Kind == outbox.EventFailed {
			t.Fatalf("failed: %+v", ev)
		}
	}
	st = waitState(t, e.ob, id, outbox.Sent, outbox.Failed)
	if st.State != outbox.Sent || st.Attempts < 2 || st.Attempts != ev.Attempt {
		t.Fatalf("status %+v, last event %+v", st, ev)
	}
	if n := len(e.srv.Received()); n != 1 {
		t.Fatalf("received %d, want 1", n)
	}
	if kinds[outbox.EventAttempt] != kinds[outbox.EventRetry]+1 {
		t.Fatalf("events %v", kinds)
	}
}

func TestMaxAge(t *testing.T) {
	// Two seconds of retries every 20-100 ms: several attempts even on a
	// loaded machine, where the first may start late (CI under -race).
	e := setup(t, outbox.WithMaxAge(2*time.Second))
	ctx := testCtx(t)
	e.srv.SetFaults(mailtest.Faults{FailData: 451})
	id, err := e.ob.Enqueue(ctx, msg("a@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	start(t, e.ob)
	st := waitState(t, e.ob, id, outbox.Failed, outbox.Sent)
	if st.State != outbox.Failed || st.Attempts < 2 || st.Recipients[0].State != outbox.RecipientFailed ||
		!strings.Contains(st.Recipients[0].Reply, "maximum age") {
		t.Fatalf("status %+v", st)
	}
	if n := len(e.srv.Received()); n != 0 {
		t.Fatalf("received %d", n)
	}
}

func TestPermanentFailure(t *testing.T) {
	e := setup(t)
	ctx := testCtx(t)
	e.srv.SetFaults(mailtest.Faults{FailData: 554})
	id, err := e.ob.Enqueue(ctx, msg("a@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	start(t, e.ob)
	st := waitState(t, e.ob, id, outbox.Failed, outbox.Sent)
	if st.State != outbox.Failed || st.Attempts != 1 || !strings.Contains(st.LastError, "554") {
		t.Fatalf("status %+v", st)
	}
}

func TestPartialPermanent(t *testing.T) {
	for _, partial := range []bool{false, true} {
		t.Run(map[bool]string{false: "sendpartial=false", true: "sendpartial=true"}[partial], func(t *testing.T) {
			srv := mailtest.NewServer(t)
			e := &env{srv: srv, s: newSession(t, srv, mailsession.WithSendPartial(partial)), db: newTestDB(t)}
			e.ob = e.open(t)
			ctx := testCtx(t)
			srv.SetFaults(mailtest.Faults{RejectRecipients: map[string]int{"c@example.org": 550}})
			id, err := e.ob.Enqueue(ctx, msg("a@example.org", "b@example.org", "c@example.org"))
			if err != nil {
				t.Fatal(err)
			}
			start(t, e.ob)
			st := waitState(t, e.ob, id, outbox.Sent, outbox.Failed)
			want := map[string]outbox.RecipientState{"a@example.org": outbox.RecipientSent, "b@example.org": outbox.RecipientSent, "c@example.org": outbox.RecipientFailed}
			if st.State != outbox.Sent || !mapsEqual(rcptStates(st), want) {
				t.Fatalf("status %+v", st)
			}
			for _, r := range st.Recipients {
				if r.Address == "c@example.org" && (r.Code != 550 || !strings.Contains(r.Reply, "550")) {
					t.Errorf("c: %+v", r)
				}
			}
			got := srv.Received()
			if len(got) != 1 || !slices.Equal(got[0].To, []string{"a@example.org", "b@example.org"}) {
				t.Fatalf("received %+v", got)
			}
		})
	}
}

// A 4xx for one recipient: the others get the message now, that one on a
// retry, and nobody twice.
func TestPartialRetryOnlyUnreached(t *testing.T) {
	srv := mailtest.NewServer(t)
	e := &env{srv: srv, s: newSession(t, srv, mailsession.WithSendPartial(true)), db: newTestDB(t)}
	e.ob = e.open(t)
	ctx := testCtx(t)
	srv.SetFaults(mailtest.Faults{RejectRecipients: map[string]int{"c@example.org": 450}})
	id, err := e.ob.Enqueue(ctx, msg("a@example.org", "b@example.org", "c@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	start(t, e.ob)
	if _, err := srv.WaitReceived(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// Let a few retries to c fail before healing.
	for {
		st, err := e.ob.Status(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if st.Attempts >= 3 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	srv.SetFaults(mailtest.Faults{})
	st := waitState(t, e.ob, id, outbox.Sent, outbox.Failed)
	for _, r := range st.Recipients {
		if r.State != outbox.RecipientSent {
			t.Errorf("recipient %+v", r)
		}
	}
	got := srv.Received()
	if len(got) != 2 || !slices.Equal(got[0].To, []string{"a@example.org", "b@example.org"}) || !slices.Equal(got[1].To, []string{"c@example.org"}) {
		t.Fatalf("received %+v", got)
	}
	if !slices.Equal(messageID(got[0].Data), messageID(got[1].Data)) {
		t.Errorf("Message-ID changed between attempts")
	}
}

func messageID(data []byte) []byte {
	for _, l := range strings.Split(string(data), "\r\n") {
		if strings.HasPrefix(strings.ToLower(l), "message-id:") {
			return []byte(l)
		}
	}
	return nil
}

func mapsEqual(a, b map[string]outbox.RecipientState) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// The session's suppression list (mailsession.WithSuppression) applies to
// the outbox's attempts: a suppressed recipient fails at once, with the
// list's reason, and the others are sent.
func TestSuppressedRecipient(t *testing.T) {
	srv := mailtest.NewServer(t)
	list := &mailsession.MemorySuppression{}
	list.Suppress(context.Background(), "gone@example.org", "failed 5.1.1")
	e := &env{srv: srv, s: newSession(t, srv, mailsession.WithSuppression(list)), db: newTestDB(t)}
	e.ob = e.open(t)
	ctx := testCtx(t)
	id, err := e.ob.Enqueue(ctx, msg("a@example.org", "gone@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	start(t, e.ob)
	st := waitState(t, e.ob, id, outbox.Sent)
	want := map[string]outbox.RecipientState{"a@example.org": outbox.RecipientSent, "gone@example.org": outbox.RecipientFailed}
	if got := rcptStates(st); !mapsEqual(got, want) || st.Attempts != 1 {
		t.Fatalf("recipients %v after %d attempts, want %v after 1", got, st.Attempts, want)
	}
	for _, r := range st.Recipients {
		if r.Address == "gone@example.org" && !strings.Contains(r.Reply, "failed 5.1.1") {
			t.Errorf("reply %q lacks the list's reason", r.Reply)
		}
	}
	if got := srv.Received(); len(got) != 1 || !slices.Equal(got[0].To, []string{"a@example.org"}) {
		t.Errorf("received %+v, want one message to a@example.org", got)
	}
}
