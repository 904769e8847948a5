package mailsession

import (
	"context"
	"errors"
	"io"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/jmailgo/jmail/mailsession/internal/imapstore"
	"github.com/jmailgo/jmail/mailsession/mailtest"
)

func TestPollWait(t *testing.T) {
	const p = time.Second
	for _, c := range []struct {
		failures int
		want     time.Duration
	}{{0, p}, {1, p}, {2, 2 * p}, {3, 4 * p}, {4, 8 * p}, {5, 10 * p}, {6, 10 * p}, {100, 10 * p}} {
		if got := pollWait(p, c.failures); got != c.want {
			t.Errorf("pollWait(%v, %d) = %v, want %v", p, c.failures, got, c.want)
		}
	}
}

// A polling Receive goes on after failed runs of every kind, passing each
// error to OnError, waiting longer after each consecutive failure (up to
// 10 intervals), and back to the interval after a successful run.
func TestReceivePollingSurvivesFailedRuns(t *testing.T) {
	type fault struct {
		name   string
		protos []string
		// set makes the runs fail; it returns what ends the fault.
		set  func(t *testing.T, srv *mailtest.Server) (fix func())
		want func(error) bool
	}
	failHandler := false // the "handler" fault: set and read on Receive's goroutine
	faults := []fault{
		{name: "refused login", protos: storeProtos,
			set: func(t *testing.T, srv *mailtest.Server) func() {
				srv.SetFaults(mailtest.Faults{RefuseAuth: true})
				return func() { srv.SetFaults(mailtest.Faults{}) }
			},
			want: func(err error) bool { return errors.Is(err, ErrAuth) && errors.Is(err, ErrPermanent) }},
		{name: "connection cut", protos: storeProtos,
			set: func(t *testing.T, srv *mailtest.Server) func() {
				srv.SetFaults(mailtest.Faults{CutFetchAfter: 5000})
				return func() { srv.SetFaults(mailtest.Faults{}) }
			},
			want: func(err error) bool { var se *StoreError; return errors.As(err, &se) && IsTemporary(err) }},
		{name: "maildrop locked", protos: []string{"pop3"},
			set: func(t *testing.T, srv *mailtest.Server) func() {
				other := storeSession(t, srv, mailtest.Plain, "pop3")
				st, err := other.OpenStore(ctxT(t))
				if err != nil {
					t.Fatal(err)
				}
				return st.Abort
			},
			want: func(err error) bool {
				var se *StoreError
				return errors.As(err, &se) && se.Code == "IN-USE" && IsTemporary(err)
			}},
		{name: "handler error", protos: storeProtos,
			set: func(t *testing.T, srv *mailtest.Server) func() {
				failHandler = true
				return func() { failHandler = false }
			},
			want: func(err error) bool { var he *HandlerError; return errors.As(err, &he) }},
	}
	const p = time.Millisecond
	const failures = 6
	wantWaits := []time.Duration{p, 2 * p, 4 * p, 8 * p, 10 * p, 10 * p, p}
	for _, f := range faults {
		for _, proto := range f.protos {
			t.Run(f.name+"/"+proto, func(t *testing.T) {
				srv := mailtest.NewServer(t)
				deliver(t, srv, hardMessage("m1"))
				s := storeSession(t, srv, mailtest.Plain, proto)
				ctx, cancel := context.WithCancel(ctxT(t))
				defer cancel()
				fix := f.set(t, srv)
				var waits []time.Duration
				var errs []error
				s.recv.waitHook = func(d time.Duration) {
					waits = append(waits, d)
					switch len(waits) {
					case failures:
						fix()
					case failures + 1:
						cancel()
					}
				}
				handled := 0
				err := s.Receive(ctx, ReceiveOptions{Delete: true, PollInterval: p, OnError: func(err error) { errs = append(errs, err) }},
					func(ctx context.Context, m *Received) error {
						if _, err := io.Copy(io.Discard, m.Raw); err != nil {
							return err
						}
						if failHandler {
							return errors.New("not now")
						}
						handled++
						return nil
					})
				if err != nil {
					t.Fatalf("Receive = %v, want nil once ctx ended", err)
				}
				if !slices.Equal(waits, wantWaits) {
					t.Errorf("waits %v, want %v", waits, wantWaits)
				}
				if len(errs) != failures {
					t.Fatalf("OnError called %d times, want %d: %v", len(errs), failures, errs)
				}
				for _, err := range errs {
					if !f.want(err) {
						t.Errorf("run error %v is not the fault's", err)
					}
				}
				if handled != 1 || len(srv.Messages(mailtest.DefaultUser)) != 0 {
					t.Errorf("handled %d times, %d messages left; want once and deleted", handled, len(srv.Messages(mailtest.DefaultUser)))
				}
			})
		}
	}
}

// Without PollInterval a refused login is returned, not retried.
func TestReceiveSingleRunReturnsRefusedLogin(t *testing.T) {
	srv := mailtest.NewServer(t)
	s := storeSession(t, srv, mailtest.Plain, "imap", WithStoreAuth(mailtest.DefaultUser, "wrong"))
	called := false
	err := s.Receive(ctxT(t), ReceiveOptions{OnError: func(error) { called = true }}, func(context.Context, *Received) error { return nil })
	if !errors.Is(err, ErrAuth) || called {
		t.Errorf("Receive = %v (OnError called: %v), want ErrAuth returned", err, called)
	}
}

// handedOver runs Receive once with Delete and returns the subjects handed
// over and its error; uids, if not nil, gets their UIDs.
func handedOver(t *testing.T, s *Session, mem UIDMemory, uids ...*[]string) ([]string, error) {
	t.Helper()
	var got []string
	err := s.Receive(ctxT(t), ReceiveOptions{Delete: true, Memory: mem}, func(ctx context.Context, m *Received) error {
		got = append(got, m.Subject())
		for _, u := range uids {
			*u = append(*u, m.UID)
		}
		return nil
	})
	return got, err
}

// IMAP without UIDPLUS, and another client's message flagged \Deleted: the
// commit is refused (ErrUnsafeExpunge), yet the handled messages are not
// handed over again; once the other client expunges, a later run deletes
// them, and the memory forgets them once the server no longer lists them.
func TestReceiveDeleteUnsafeExpungeNotHandedAgain(t *testing.T) {
	srv := mailtest.NewServer(t)
	srv.SetFaults(mailtest.Faults{NoUIDPlus: true})
	deliver(t, srv, subjects(3)...)
	other, err := imapclient.DialTLS(srv.Addr(srv.Ports().IMAPS), &imapclient.Options{TLSConfig: srv.ClientTLSConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.Login(mailtest.DefaultUser, mailtest.DefaultPassword).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	flag := &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}
	if err := other.Store(imap.SeqSetNum(3), flag, nil).Close(); err != nil {
		t.Fatal(err)
	}

	s := storeSession(t, srv, mailtest.Plain, "imap")
	mem := &MemoryUIDMemory{}
	var uids []string
	got, err := handedOver(t, s, mem, &uids)
	if !slices.Equal(got, []string{"m1", "m2"}) {
		t.Fatalf("first run handed over %v, want m1 m2 (m3 is flagged \\Deleted)", got)
	}
	if !errors.Is(err, imapstore.ErrUnsafeExpunge) || !IsTemporary(err) {
		t.Fatalf("first run = %v, want a temporary ErrUnsafeExpunge", err)
	}
	for run := 2; run <= 3; run++ {
		got, err = handedOver(t, s, mem)
		if len(got) != 0 || !errors.Is(err, imapstore.ErrUnsafeExpunge) {
			t.Fatalf("run %d handed over %v, err %v; want nothing, ErrUnsafeExpunge", run, got, err)
		}
	}
	if n := len(srv.Messages(mailtest.DefaultUser)); n != 3 {
		t.Fatalf("%d messages on the server, want 3 (nothing could be expunged)", n)
	}
	if _, err := other.Expunge().Collect(); err != nil {
		t.Fatal(err)
	}
	if got, err = handedOver(t, s, mem); len(got) != 0 || err != nil {
		t.Fatalf("run after the other client's EXPUNGE: %v, %v; want nothing handed over, nil", got, err)
	}
	if n := len(srv.Messages(mailtest.DefaultUser)); n != 0 {
		t.Errorf("%d messages on the server, want m1 m2 deleted (m3 expunged by the other client)", n)
	}
	if got, err = handedOver(t, s, mem); len(got) != 0 || err != nil {
		t.Fatalf("last run: %v, %v", got, err)
	}
	for _, u := range uids {
		if seen, err := mem.Seen(mailboxKey(s.set.store, ""), u); seen || err != nil {
			t.Errorf("the memory still holds %s, which the server no longer lists (%v)", u, err)
		}
	}
}

// cutOnRemember is a memory that cuts every proxied connection once it has
// remembered uid: the run's commit then fails.
type cutOnRemember struct {
	*MemoryUIDMemory
	p    *proxy
	last string
}

func (m *cutOnRemember) Remember(mailbox, uid string) error {
	err := m.MemoryUIDMemory.Remember(mailbox, uid)
	if m.last == "" || uid == m.last {
		m.p.killAll()
	}
	return err
}

// The connection dies between the handlers and the commit (POP3 QUIT,
// IMAP EXPUNGE fail): nothing is deleted, and nothing is handed over
// again; the next run deletes the handled messages.
func TestReceiveDeleteCommitFailsNotHandedAgain(t *testing.T) {
	for _, proto := range storeProtos {
		t.Run(proto, func(t *testing.T) {
			srv := mailtest.NewServer(t)
			deliver(t, srv, subjects(2)...)
			port := srv.Ports().POP3
			if proto == "imap" {
				port = srv.Ports().IMAP
			}
			p := newProxy(t, srv.Addr(port), 0)
			s := storeSession(t, srv, mailtest.Plain, proto, WithProperty("mail."+proto+".port", strconv.Itoa(p.port())))
			st, err := s.OpenStore(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			list, err := st.List(ctxT(t))
			if err != nil || len(list) != 2 {
				t.Fatalf("List = %v, %v", list, err)
			}
			st.Close()
			mem := &cutOnRemember{MemoryUIDMemory: &MemoryUIDMemory{}, p: p, last: list[1].UID}
			got, err := handedOver(t, s, mem)
			var se *StoreError
			if !slices.Equal(got, []string{"m1", "m2"}) || !errors.As(err, &se) || !IsTemporary(err) {
				t.Fatalf("first run handed over %v, err %v; want m1 m2 and a temporary *StoreError", got, err)
			}
			if n := len(srv.Messages(mailtest.DefaultUser)); n != 2 {
				t.Fatalf("%d messages left after the failed commit, want 2", n)
			}
			mem.last = "-" // no more cuts
			if got, err = handedOver(t, s, mem); len(got) != 0 || err != nil {
				t.Fatalf("second run handed over %v, err %v; want nothing, nil", got, err)
			}
			if n := len(srv.Messages(mailtest.DefaultUser)); n != 0 {
				t.Errorf("%d messages left, want both deleted by the second run", n)
			}
		})
	}
}
