package outbox_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/mailsession/mailtest"
	"github.com/jmailgo/jmail/mailsession/outbox"
	"github.com/jmailgo/jmail/properties"
)

// setupProps is setup with extra keys in the session's properties.
func setupProps(t *testing.T, keys map[string]string, opts ...outbox.Option) *env {
	t.Helper()
	srv := mailtest.NewServer(t)
	p := srv.Properties(mailtest.Plain, "")
	for k, v := range keys {
		p.Set(k, v)
	}
	s, err := mailsession.FromProperties(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	e := &env{srv: srv, s: s, db: newTestDB(t)}
	e.ob = e.open(t, opts...)
	return e
}

func allTo(got []mailtest.Message) []string {
	var to []string
	for _, d := range got {
		to = append(to, d.To...)
	}
	sort.Strings(to)
	return to
}

// A blacklisted recipient is Failed at once with a local reason and never
// sent to; the others are sent to. Matching ignores case and blanks.
func TestBlacklist(t *testing.T) {
	e := setupProps(t, map[string]string{outbox.KeyBlacklist: " Bad@Example.org , ,Worse <worse@example.org>,"})
	ctx := testCtx(t)
	id, err := e.ob.Enqueue(ctx, msg("a@example.org", "bad@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.ob.Status(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if rs := rcptStates(st); rs["bad@example.org"] != outbox.RecipientFailed || rs["a@example.org"] != outbox.RecipientPending {
		t.Fatalf("before Start: %+v", st)
	}
	all, err := e.ob.EnqueueRaw(ctx, "app@example.net", []string{"WORSE@example.org"}, strings.NewReader("Subject: x\r\n\r\nx\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	start(t, e.ob)
	st = waitState(t, e.ob, id, outbox.Sent, outbox.Failed)
	want := map[string]outbox.RecipientState{"a@example.org": outbox.RecipientSent, "bad@example.org": outbox.RecipientFailed}
	if st.State != outbox.Sent || !mapsEqual(rcptStates(st), want) {
		t.Fatalf("status %+v", st)
	}
	for _, r := range st.Recipients {
		if r.Address == "bad@example.org" && (r.Code != 0 || !strings.Contains(r.Reply, outbox.KeyBlacklist)) {
			t.Errorf("blacklisted recipient %+v", r)
		}
	}
	if st := waitState(t, e.ob, all, outbox.Sent, outbox.Failed); st.State != outbox.Failed || st.Recipients[0].State != outbox.RecipientFailed {
		t.Fatalf("all blacklisted: %+v", st)
	}
	if got := allTo(e.srv.Received()); !slices.Equal(got, []string{"a@example.org"}) {
		t.Fatalf("sent to %v, want only a@example.org", got)
	}
	// Retry goes to the recipients without the message: not to a
	// blacklisted one.
	if err := e.ob.Retry(ctx, id); err != nil {
		t.Fatal(err)
	}
	st = waitState(t, e.ob, id, outbox.Sent, outbox.Failed)
	if st.Attempts != 2 || !mapsEqual(rcptStates(st), want) {
		t.Fatalf("after Retry: %+v", st)
	}
	if got := allTo(e.srv.Received()); !slices.Equal(got, []string{"a@example.org"}) {
		t.Fatalf("after Retry sent to %v, want only a@example.org", got)
	}
}

// A message enqueued before the blacklist was set is not sent to it, and
// an address on both the blacklist and the audit trail is never mailed.
func TestBlacklistAtSend(t *testing.T) {
	e := setup(t)
	ctx := testCtx(t)
	id, err := e.ob.Enqueue(ctx, msg("a@example.org", "bad@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	e.ob.Close()
	p := properties.New()
	p.Set(outbox.KeyBlacklist, "bad@example.org,audit@example.org")
	p.Set(outbox.KeyAuditTrail, "audit@example.org")
	ob := e.open(t, outbox.WithProperties(p))
	start(t, ob)
	st := waitState(t, ob, id, outbox.Sent, outbox.Failed)
	want := map[string]outbox.RecipientState{"a@example.org": outbox.RecipientSent, "bad@example.org": outbox.RecipientFailed}
	if st.State != outbox.Sent || !mapsEqual(rcptStates(st), want) {
		t.Fatalf("status %+v", st)
	}
	id2, err := ob.Enqueue(ctx, msg("b@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	st = waitState(t, ob, id2, outbox.Sent, outbox.Failed)
	want = map[string]outbox.RecipientState{"b@example.org": outbox.RecipientSent, "audit@example.org": outbox.RecipientFailed}
	if !mapsEqual(rcptStates(st), want) {
		t.Fatalf("status %+v", st)
	}
	if got := allTo(e.srv.Received()); !slices.Equal(got, []string{"a@example.org", "b@example.org"}) {
		t.Fatalf("sent to %v", got)
	}
}

// The audit trail gets every message in the envelope, not in the header,
// once even when it is also a recipient.
func TestAuditTrail(t *testing.T) {
	e := setupProps(t, map[string]string{outbox.KeyAuditTrail: "Audit <audit@example.org>, a@example.org"})
	ctx := testCtx(t)
	id, err := e.ob.Enqueue(ctx, msg("a@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	start(t, e.ob)
	st := waitState(t, e.ob, id, outbox.Sent, outbox.Failed)
	want := map[string]outbox.RecipientState{"a@example.org": outbox.RecipientSent, "audit@example.org": outbox.RecipientSent}
	if st.State != outbox.Sent || !mapsEqual(rcptStates(st), want) {
		t.Fatalf("status %+v", st)
	}
	got := e.srv.Received()
	if len(got) != 1 || !slices.Equal(got[0].To, []string{"a@example.org", "audit@example.org"}) {
		t.Fatalf("received %+v", got)
	}
	if strings.Contains(string(got[0].Data), "audit@") {
		t.Errorf("audit trail in the header:\n%s", got[0].Data)
	}
}

// mail.batch.size splits the envelope; each recipient's outcome is kept,
// and a retry goes only to those not reached, in batches again.
func TestBatchSize(t *testing.T) {
	e := setupProps(t, map[string]string{outbox.KeyBatchSize: "2"})
	ctx := testCtx(t)
	rcpts := []string{"a@example.org", "b@example.org", "c@example.org", "d@example.org", "e@example.org"}
	e.srv.SetFaults(mailtest.Faults{RejectRecipients: map[string]int{"d@example.org": 550}})
	id, err := e.ob.Enqueue(ctx, msg(rcpts...))
	if err != nil {
		t.Fatal(err)
	}
	start(t, e.ob)
	st := waitState(t, e.ob, id, outbox.Sent, outbox.Failed)
	want := map[string]outbox.RecipientState{}
	for _, r := range rcpts {
		want[r] = outbox.RecipientSent
	}
	want["d@example.org"] = outbox.RecipientFailed
	if st.State != outbox.Sent || !mapsEqual(rcptStates(st), want) {
		t.Fatalf("status %+v", st)
	}
	got := e.srv.Received()
	for _, d := range got {
		if len(d.To) > 2 {
			t.Errorf("envelope of %d recipients: %v", len(d.To), d.To)
		}
	}
	if to := allTo(got); !slices.Equal(to, []string{"a@example.org", "b@example.org", "c@example.org", "e@example.org"}) {
		t.Fatalf("sent to %v", to)
	}
	if len(got) != 3 {
		t.Errorf("%d envelopes, want 3 (a,b; c; e)", len(got))
	}
}

// A rate limit, by option or key, paces the sends and sends everything.
func TestRateLimit(t *testing.T) {
	for name, tc := range map[string]struct {
		keys map[string]string
		opts []outbox.Option
	}{
		"option": {opts: []outbox.Option{outbox.WithRateLimit(200)}},
		"key":    {keys: map[string]string{outbox.KeyRateLimit: "200"}},
	} {
		t.Run(name, func(t *testing.T) {
			e := setupProps(t, tc.keys, tc.opts...)
			ctx := testCtx(t)
			var ids []outbox.ID
			for _, r := range []string{"a@example.org", "b@example.org", "c@example.org"} {
				id, err := e.ob.Enqueue(ctx, msg(r))
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
			start(t, e.ob)
			for _, id := range ids {
				if st := waitState(t, e.ob, id, outbox.Sent, outbox.Failed); st.State != outbox.Sent {
					t.Fatalf("status %+v", st)
				}
			}
			if n := len(e.srv.Received()); n != 3 {
				t.Fatalf("%d sent, want 3", n)
			}
		})
	}
}

// Bad values fail Open with a SettingError naming the key.
func TestSettingErrors(t *testing.T) {
	for _, tc := range []struct{ key, value string }{
		{outbox.KeyBatchSize, "ten"},
		{outbox.KeyBatchSize, "-1"},
		{outbox.KeyRateLimit, "fast"},
		{outbox.KeyRateLimit, "-2"},
		{outbox.KeyRateLimit, "NaN"},
		{outbox.KeyWorkers, "0"},
		{outbox.KeyWorkers, "many"},
		{outbox.KeyMaxAge, "forever"},
		{outbox.KeyMaxAge, "-5h"},
		{outbox.KeyMaxAge, "0"},
		{outbox.KeyAuditTrail, "not an address"},
	} {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			srv := mailtest.NewServer(t)
			s := newSession(t, srv)
			p := properties.New()
			p.Set(tc.key, tc.value)
			_, err := outbox.Open(context.Background(), s, outbox.SQLite(filepath.Join(t.TempDir(), "o.db")), fast(outbox.WithProperties(p))...)
			var se *mailsession.SettingError
			if !errors.As(err, &se) || se.Key != tc.key {
				t.Fatalf("Open: %v, want a SettingError for %s", err, tc.key)
			}
		})
	}
	srv := mailtest.NewServer(t)
	s := newSession(t, srv)
	if _, err := outbox.Open(context.Background(), s, outbox.SQLite(filepath.Join(t.TempDir(), "o.db")), fast(outbox.WithRateLimit(-1))...); err == nil {
		t.Fatal("WithRateLimit(-1): no error")
	}
}

// An option given explicitly wins over its key.
func TestOptionOverKey(t *testing.T) {
	srv := mailtest.NewServer(t)
	s := newSession(t, srv)
	p := properties.New()
	p.Set(outbox.KeyRateLimit, "0.001") // one envelope every 1000 s
	ob, err := outbox.Open(context.Background(), s, outbox.SQLite(filepath.Join(t.TempDir(), "o.db")),
		fast(outbox.WithProperties(p), outbox.WithRateLimit(0))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	ctx := testCtx(t)
	var ids []outbox.ID
	for _, r := range []string{"a@example.org", "b@example.org"} {
		id, err := ob.Enqueue(ctx, msg(r))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	start(t, ob)
	// With the key's rate the second would wait 1000 s (and the test
	// time out); WithRateLimit(0) lifts the limit.
	for _, id := range ids {
		if st := waitState(t, ob, id, outbox.Sent, outbox.Failed); st.State != outbox.Sent {
			t.Fatalf("status %+v", st)
		}
	}
}

// A session built from portal properties keeps only the mail.session.
// keys: Liferay's MailEngine keys reach the outbox by WithProperties.
func TestPortalProperties(t *testing.T) {
	srv := mailtest.NewServer(t)
	p := properties.New()
	for k, v := range srv.Properties(mailtest.Plain, "").All() {
		p.Set("mail.session."+k, v)
	}
	p.Set(outbox.KeyBlacklist, "bad@example.org")
	p.Set(outbox.KeyAuditTrail, "audit@example.org")
	s, err := mailsession.FromPortalProperties(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if v := s.Property(outbox.KeyBlacklist); v != "" {
		t.Fatalf("the portal session has %s = %q: WithProperties is not needed", outbox.KeyBlacklist, v)
	}
	e := &env{srv: srv, s: s, db: newTestDB(t)}
	e.ob = e.open(t, outbox.WithProperties(p))
	ctx := testCtx(t)
	id, err := e.ob.Enqueue(ctx, msg("a@example.org", "bad@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	start(t, e.ob)
	st := waitState(t, e.ob, id, outbox.Sent, outbox.Failed)
	want := map[string]outbox.RecipientState{"a@example.org": outbox.RecipientSent, "bad@example.org": outbox.RecipientFailed, "audit@example.org": outbox.RecipientSent}
	if !mapsEqual(rcptStates(st), want) {
		t.Fatalf("status %+v", st)
	}
	if got := allTo(e.srv.Received()); !slices.Equal(got, []string{"a@example.org", "audit@example.org"}) {
		t.Fatalf("sent to %v", got)
	}
}

// Every key is listed by Keys, documented, and named in the package doc.
func TestKeysDocumented(t *testing.T) {
	src, err := os.ReadFile("outbox.go")
	if err != nil {
		t.Fatal(err)
	}
	doc, _, _ := strings.Cut(string(src), "\npackage outbox")
	want := []string{outbox.KeyBlacklist, outbox.KeyAuditTrail, outbox.KeyBatchSize, outbox.KeyRateLimit, outbox.KeyWorkers, outbox.KeyMaxAge}
	var names []string
	for _, k := range outbox.Keys() {
		names = append(names, k.Name)
		if k.Doc == "" || k.Support == "" {
			t.Errorf("key %s: no doc or support", k.Name)
		}
		if !strings.Contains(doc, k.Name) {
			t.Errorf("key %s not in the package doc", k.Name)
		}
	}
	if !slices.Equal(names, want) {
		t.Errorf("Keys() = %v, want %v", names, want)
	}
	ks := outbox.Keys()
	ks[0].Name = "changed"
	if outbox.Keys()[0].Name != outbox.KeyBlacklist {
		t.Error("Keys returns the package's own slice")
	}
}
