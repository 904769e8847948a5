package mailsession

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/jmailgo/jmail/mailsession/mailtest"
)

func subjects(n int) [][]byte {
	var out [][]byte
	for i := 1; i <= n; i++ {
		out = append(out, hardMessage(fmt.Sprintf("m%d", i)))
	}
	return out
}

// A handler failing on the 3rd of 5 messages: the other four are deleted,
// the 3rd stays, the error says which.
func TestReceiveHandlerFailsOnThirdOfFive(t *testing.T) {
	for _, proto := range storeProtos {
		for _, mode := range allModes {
			t.Run(proto+"/"+mode.String(), func(t *testing.T) {
				srv := mailtest.NewServer(t)
				msgs := subjects(5)
				deliver(t, srv, msgs...)
				s := storeSession(t, srv, mode, proto)
				errBoom := errors.New("boom")
				var n int
				err := s.Receive(ctxT(t), ReceiveOptions{Delete: true}, func(ctx context.Context, m *Received) error {
					n++
					raw, err := io.ReadAll(m.Raw)
					if err != nil {
						return err
					}
					if !bytes.Equal(raw, msgs[n-1]) || m.Size != int64(len(raw)) {
						t.Errorf("message %d: %d bytes (Size %d), not the bytes delivered", n, len(raw), m.Size)
					}
					if want := fmt.Sprintf("m%d", n); m.Subject() != want {
						t.Errorf("Subject %q, want %q", m.Subject(), want)
					}
					if n == 3 {
						return errBoom
					}
					return nil
				})
				var he *HandlerError
				if !errors.Is(err, errBoom) || !errors.As(err, &he) || he.UID == "" {
					t.Fatalf("Receive = %v, want the handler's error in a *HandlerError", err)
				}
				if n != 5 {
					t.Errorf("handler called %d times, want 5", n)
				}
				left := srv.Messages(mailtest.DefaultUser)
				if len(left) != 1 || !bytes.Equal(left[0].Data, msgs[2]) {
					t.Errorf("server holds %d messages, want only the 3rd", len(left))
				}
			})
		}
	}
}

// A handler that panics is a failed handler: its message stays.
func TestReceiveHandlerPanicKeepsMessage(t *testing.T) {
	srv := mailtest.NewServer(t)
	deliver(t, srv, subjects(2)...)
	s := storeSession(t, srv, mailtest.Plain, "imap")
	err := s.Receive(ctxT(t), ReceiveOptions{Delete: true}, func(ctx context.Context, m *Received) error {
		if m.Subject() == "m1" {
			panic("handler bug")
		}
		return nil
	})
	var he *HandlerError
	if !errors.As(err, &he) {
		t.Fatalf("Receive = %v, want a *HandlerError", err)
	}
	if left := srv.Messages(mailtest.DefaultUser); len(left) != 1 || !bytes.Equal(left[0].Data, hardMessage("m1")) {
		t.Errorf("server holds %d messages, want only m1", len(left))
	}
}

// A connection cut in the middle of a fetch ends Receive with a typed
// error, and nothing is deleted, not even the messages handled before.
func TestReceiveCutMidFetchDeletesNothing(t *testing.T) {
	for _, proto := range storeProtos {
		for _, mode := range allModes {
			t.Run(proto+"/"+mode.String(), func(t *testing.T) {
				srv := mailtest.NewServer(t)
				deliver(t, srv, subjects(3)...)
				s := storeSession(t, srv, mode, proto)
				handled := 0
				err := s.Receive(ctxT(t), ReceiveOptions{Delete: true}, func(ctx context.Context, m *Received) error {
					handled++
					io.Copy(io.Discard, m.Raw)
					// Cut the next fetch after 5000 bytes of its response.
					srv.SetFaults(mailtest.Faults{CutFetchAfter: 5000})
					return nil
				})
				var se *StoreError
				if !errors.As(err, &se) || !IsTemporary(err) {
					t.Fatalf("Receive = %v, want a temporary *StoreError", err)
				}
				if handled < 1 {
					t.Errorf("handled %d", handled)
				}
				srv.SetFaults(mailtest.Faults{})
				if n := len(srv.Messages(mailtest.DefaultUser)); n != 3 {
					t.Errorf("%d messages left, want all 3", n)
				}
			})
		}
	}
}

// Without Delete, each retained message is handed over once across runs.
func TestReceiveUIDMemoryTwoRuns(t *testing.T) {
	for _, proto := range storeProtos {
		t.Run(proto, func(t *testing.T) {
			srv := mailtest.NewServer(t)
			deliver(t, srv, subjects(3)...)
			s := storeSession(t, srv, mailtest.Plain, proto)
			mem := &MemoryUIDMemory{}
			got := runReceive(t, s, ReceiveOptions{Memory: mem})
			if len(got) != 3 {
				t.Fatalf("first run handed over %v", got)
			}
			deliver(t, srv, hardMessage("m4"))
			got = runReceive(t, s, ReceiveOptions{Memory: mem})
			if len(got) != 1 || got[0] != "m4" {
				t.Fatalf("second run handed over %v, want only m4", got)
			}
			if n := len(srv.Messages(mailtest.DefaultUser)); n != 4 {
				t.Errorf("%d messages on the server, want all 4 retained", n)
			}
		})
	}
}

// The file-backed memory survives a restart (a new session and a fresh
// load of the file).
func TestReceiveFileUIDMemoryAcrossRestart(t *testing.T) {
	for _, proto := range storeProtos {
		t.Run(proto, func(t *testing.T) {
			srv := mailtest.NewServer(t)
			deliver(t, srv, subjects(2)...)
			path := filepath.Join(t.TempDir(), "uids.json")

			mem, err := OpenFileUIDMemory(path)
			if err != nil {
				t.Fatal(err)
			}
			s := storeSession(t, srv, mailtest.ImplicitTLS, proto)
			if got := runReceive(t, s, ReceiveOptions{Memory: mem}); len(got) != 2 {
				t.Fatalf("first run handed over %v", got)
			}
			s.Close()

			// Restart: new session, memory loaded from the file.
			deliver(t, srv, hardMessage("m3"))
			mem, err = OpenFileUIDMemory(path)
			if err != nil {
				t.Fatal(err)
			}
			s = storeSession(t, srv, mailtest.ImplicitTLS, proto)
			if got := runReceive(t, s, ReceiveOptions{Memory: mem}); len(got) != 1 || got[0] != "m3" {
				t.Fatalf("after restart handed over %v, want only m3", got)
			}
			if got := runReceive(t, s, ReceiveOptions{Memory: mem}); len(got) != 0 {
				t.Fatalf("third run handed over %v, want nothing", got)
			}
		})
	}
}

// A failed handler's message is not remembered: it is handed over again.
func TestReceiveWithoutDeleteRetriesFailedHandler(t *testing.T) {
	srv := mailtest.NewServer(t)
	deliver(t, srv, subjects(2)...)
	s := storeSession(t, srv, mailtest.Plain, "pop3")
	mem := &MemoryUIDMemory{}
	fail := true
	var got []string
	s.Receive(ctxT(t), ReceiveOptions{Memory: mem}, func(ctx context.Context, m *Received) error {
		got = append(got, m.Subject())
		if m.Subject() == "m2" && fail {
			return errors.New("later")
		}
		return nil
	})
	fail = false
	if again := runReceive(t, s, ReceiveOptions{Memory: mem}); len(again) != 1 || again[0] != "m2" {
		t.Errorf("second run handed over %v, want m2 again", again)
	}
}

func TestReceiveMaxMessagesPerRun(t *testing.T) {
	srv := mailtest.NewServer(t)
	deliver(t, srv, subjects(5)...)
	s := storeSession(t, srv, mailtest.Plain, "imap")
	if got := runReceive(t, s, ReceiveOptions{Delete: true, MaxMessages: 2}); len(got) != 2 || got[0] != "m1" || got[1] != "m2" {
		t.Fatalf("run handed over %v, want m1 m2", got)
	}
	if n := len(srv.Messages(mailtest.DefaultUser)); n != 3 {
		t.Errorf("%d messages left, want 3", n)
	}
}

// With PollInterval Receive picks up messages arriving later and returns
// nil when ctx ends.
func TestReceivePollsUntilContextEnds(t *testing.T) {
	srv := mailtest.NewServer(t)
	deliver(t, srv, hardMessage("m1"))
	s := storeSession(t, srv, mailtest.Plain, "pop3")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []string
	err := s.Receive(ctx, ReceiveOptions{Delete: true, PollInterval: 20 * time.Millisecond}, func(ctx context.Context, m *Received) error {
		got = append(got, m.Subject())
		if len(got) == 1 {
			go srv.Deliver(mailtest.DefaultUser, hardMessage("m2"))
		} else {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Receive = %v, want nil once ctx ended", err)
	}
	if len(got) != 2 || got[1] != "m2" {
		t.Errorf("handed over %v", got)
	}
}

// A refused login does not stop polling (the password may be fixed on
// the server): each failed run is logged, without the password, and
// passed to OnError.
func TestReceivePollingLogsRefusedLoginWithoutSecret(t *testing.T) {
	for _, proto := range storeProtos {
		t.Run(proto, func(t *testing.T) {
			srv := mailtest.NewServer(t)
			var buf bytes.Buffer
			var mu sync.Mutex
			log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, nil))
			s := storeSession(t, srv, mailtest.Plain, proto, WithStoreAuth(mailtest.DefaultUser, "wrong-secret"), WithLogger(log))
			ctx, cancel := context.WithCancel(ctxT(t))
			defer cancel()
			var errs []error
			err := s.Receive(ctx, ReceiveOptions{PollInterval: time.Millisecond, OnError: func(err error) {
				errs = append(errs, err)
				if len(errs) == 3 {
					cancel()
				}
			}}, func(context.Context, *Received) error { return nil })
			if err != nil {
				t.Errorf("Receive = %v, want nil once ctx ended", err)
			}
			if len(errs) != 3 || !errors.Is(errs[0], ErrAuth) {
				t.Fatalf("OnError got %v, want 3 ErrAuth", errs)
			}
			mu.Lock()
			out := buf.String()
			mu.Unlock()
			if strings.Count(out, "mailsession: receive failed") != 3 {
				t.Errorf("want 3 logged failures:\n%s", out)
			}
			if strings.Contains(out, "wrong-secret") {
				t.Errorf("the log shows the password:\n%s", out)
			}
		})
	}
}

func runReceive(t *testing.T, s *Session, opts ReceiveOptions) []string {
	t.Helper()
	var got []string
	err := s.Receive(ctxT(t), opts, func(ctx context.Context, m *Received) error {
		got = append(got, m.Subject())
		return nil
	})
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	return got
}

// Without Memory, the session remembers: two Receive calls on one session
// hand each message over once.
func TestReceiveDefaultMemoryIsPerSession(t *testing.T) {
	srv := mailtest.NewServer(t)
	deliver(t, srv, subjects(2)...)
	s := storeSession(t, srv, mailtest.Plain, "imap")
	if got := runReceive(t, s, ReceiveOptions{}); len(got) != 2 {
		t.Fatalf("first run handed over %v", got)
	}
	if got := runReceive(t, s, ReceiveOptions{}); len(got) != 0 {
		t.Fatalf("second run handed over %v, want nothing", got)
	}
}

// An IMAP server without UIDPLUS: Receive's deletions go through a plain
// EXPUNGE, still exactly the handled messages.
func TestReceiveDeleteWithoutUIDPlus(t *testing.T) {
	srv := mailtest.NewServer(t)
	deliver(t, srv, subjects(3)...)
	srv.SetFaults(mailtest.Faults{NoUIDPlus: true})
	s := storeSession(t, srv, mailtest.StartTLS, "imap")
	err := s.Receive(ctxT(t), ReceiveOptions{Delete: true}, func(ctx context.Context, m *Received) error {
		if m.Subject() == "m2" {
			return errors.New("keep")
		}
		return nil
	})
	var he *HandlerError
	if !errors.As(err, &he) {
		t.Fatalf("Receive = %v, want a *HandlerError", err)
	}
	if left := srv.Messages(mailtest.DefaultUser); len(left) != 1 || !bytes.Equal(left[0].Data, hardMessage("m2")) {
		t.Errorf("server holds %d messages, want only m2", len(left))
	}
}

// Closing the session stops a polling Receive.
func TestReceivePollingStopsWhenSessionCloses(t *testing.T) {
	srv := mailtest.NewServer(t)
	s := storeSession(t, srv, mailtest.Plain, "pop3")
	done := make(chan error)
	go func() {
		done <- s.Receive(ctxT(t), ReceiveOptions{Delete: true, PollInterval: 10 * time.Millisecond}, func(context.Context, *Received) error { return nil })
	}()
	time.Sleep(50 * time.Millisecond)
	s.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Errorf("Receive = %v, want ErrClosed", err)
	}
}

// ReceiveOptions.Folder reads another IMAP folder; INBOX is left alone.
func TestReceiveIMAPFolder(t *testing.T) {
	srv := mailtest.NewServer(t)
	deliver(t, srv, hardMessage("inbox"))
	c, err := imapclient.DialTLS(srv.Addr(srv.Ports().IMAPS), &imapclient.Options{TLSConfig: srv.ClientTLSConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(mailtest.DefaultUser, mailtest.DefaultPassword).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Create("Lists", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msg := hardMessage("in the folder")
	w := c.Append("Lists", int64(len(msg)), nil)
	w.Write(msg)
	w.Close()
	if _, err := w.Wait(); err != nil {
		t.Fatal(err)
	}
	c.Logout().Wait()

	s := storeSession(t, srv, mailtest.ImplicitTLS, "imap")
	var got [][]byte
	err = s.Receive(ctxT(t), ReceiveOptions{Delete: true, Folder: "Lists"}, func(ctx context.Context, m *Received) error {
		raw, err := io.ReadAll(m.Raw)
		got = append(got, raw)
		return err
	})
	if err != nil || len(got) != 1 || !bytes.Equal(got[0], msg) {
		t.Fatalf("Receive from Lists = %d messages, %v", len(got), err)
	}
	if n := len(srv.Messages(mailtest.DefaultUser)); n != 1 {
		t.Errorf("INBOX holds %d messages, want 1", n)
	}
	st, err := s.OpenFolder(ctxT(t), "Lists")
	if err != nil {
		t.Fatal(err)
	}
	if list, err := st.List(ctxT(t)); err != nil || len(list) != 0 {
		t.Errorf("Lists after Receive with Delete: %v, %v", list, err)
	}
	st.Close()
	if err := s.Receive(ctxT(t), ReceiveOptions{Folder: "No such folder"}, func(context.Context, *Received) error { return nil }); err == nil {
		t.Error("Receive from a missing folder succeeded")
	}
	ps := storeSession(t, srv, mailtest.Plain, "pop3")
	if err := ps.Receive(ctxT(t), ReceiveOptions{Folder: "Lists"}, func(context.Context, *Received) error { return nil }); err == nil {
		t.Error("POP3 Receive from a folder other than INBOX succeeded")
	}
}

// With CommitEvery, a run that dies half way has committed the batches
// before: here 5 messages, batches of 2, the run ends after the 4th
// handler; 1 and 2 are deleted, 3 and 4 (their batch never committed) and
// 5 stay.
func TestReceiveCommitEveryBatch(t *testing.T) {
	for _, proto := range storeProtos {
		t.Run(proto, func(t *testing.T) {
			srv := mailtest.NewServer(t)
			msgs := subjects(5)
			deliver(t, srv, msgs...)
			s := storeSession(t, srv, mailtest.Plain, proto)
			ctx, cancel := context.WithCancel(ctxT(t))
			n := 0
			err := s.Receive(ctx, ReceiveOptions{Delete: true, CommitEvery: 2}, func(ctx context.Context, m *Received) error {
				n++
				if n == 4 {
					cancel() // the process "dies" after this handler
				}
				return nil
			})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Receive = %v, want context.Canceled", err)
			}
			left := srv.Messages(mailtest.DefaultUser)
			if len(left) != 3 || !bytes.Equal(left[0].Data, msgs[2]) || !bytes.Equal(left[2].Data, msgs[4]) {
				t.Errorf("server holds %d messages, want m3 m4 m5", len(left))
			}
		})
	}
}
