package mailsession

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmailgo/jmail/mailsession/mailtest"
)

// waitFor polls cond until it holds, failing the test when ctx ends.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s", what)
		case <-time.After(time.Millisecond):
		}
	}
}

// receiveAsync runs Receive on its own goroutine.
func receiveAsync(ctx context.Context, s *Session, opts ReceiveOptions, h func(context.Context, *Received) error) <-chan error {
	done := make(chan error, 1)
	go func() { done <- s.Receive(ctx, opts, h) }()
	return done
}

// wait returns what ch delivers, failing the test when ctx ends first.
func wait(t *testing.T, ctx context.Context, what string, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		t.Fatalf("%s did not return", what)
		return nil
	}
}

// Close ends a Receive waiting between polls.
func TestCloseStopsReceiveInPollWait(t *testing.T) {
	checkNoLeaks(t)
	for _, proto := range storeProtos {
		t.Run(proto, func(t *testing.T) {
			ctx := ctxT(t)
			srv := mailtest.NewServer(t)
			s := storeSession(t, srv, mailtest.Plain, proto)
			waiting := make(chan struct{}, 1)
			s.recv.waitHook = func(time.Duration) { waiting <- struct{}{} }
			done := receiveAsync(ctx, s, ReceiveOptions{Delete: true, PollInterval: time.Hour}, func(context.Context, *Received) error { return nil })
			select {
			case <-waiting:
			case err := <-done:
				t.Fatalf("Receive returned before polling: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if err := wait(t, ctx, "Receive", done); !errors.Is(err, ErrClosed) {
				t.Errorf("Receive = %v, want ErrClosed", err)
			}
		})
	}
}

// Close ends a Receive whose run is blocked on a server that accepted the
// connection and never greets (the read timeout is an hour).
func TestCloseStopsReceiveBlockedOnServer(t *testing.T) {
	for _, proto := range storeProtos {
		t.Run(proto, func(t *testing.T) {
			ctx := ctxT(t)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			accepted := make(chan net.Conn, 1)
			go func() {
				if c, err := ln.Accept(); err == nil {
					accepted <- c
				}
			}()
			srv := mailtest.NewServer(t)
			s := storeSession(t, srv, mailtest.Plain, proto,
				WithProperty("mail."+proto+".port", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)),
				WithTimeouts(time.Hour, time.Hour, time.Hour))
			done := receiveAsync(ctx, s, ReceiveOptions{Delete: true, PollInterval: time.Hour}, func(context.Context, *Received) error { return nil })
			var c net.Conn
			select {
			case c = <-accepted:
			case <-ctx.Done():
				t.Fatal("no connection")
			}
			defer c.Close()
			s.Close()
			if err := wait(t, ctx, "Receive", done); !errors.Is(err, ErrClosed) {
				t.Errorf("Receive = %v, want ErrClosed", err)
			}
		})
	}
}

// Close while a handler runs: the handler's ctx ends with cause ErrClosed,
// Receive returns ErrClosed, and the message is not deleted though the
// handler returned nil (nothing was committed).
func TestCloseStopsReceiveInHandler(t *testing.T) {
	checkNoLeaks(t)
	for _, proto := range storeProtos {
		t.Run(proto, func(t *testing.T) {
			ctx := ctxT(t)
			srv := mailtest.NewServer(t)
			deliver(t, srv, subjects(2)...)
			s := storeSession(t, srv, mailtest.Plain, proto)
			inHandler := make(chan struct{})
			var cause error
			done := receiveAsync(ctx, s, ReceiveOptions{Delete: true}, func(ctx context.Context, m *Received) error {
				close(inHandler)
				<-ctx.Done()
				cause = context.Cause(ctx)
				return nil
			})
			<-inHandler
			s.Close()
			if err := wait(t, ctx, "Receive", done); !errors.Is(err, ErrClosed) {
				t.Errorf("Receive = %v, want ErrClosed", err)
			}
			if cause != ErrClosed {
				t.Errorf("the handler's ctx ended with cause %v, want ErrClosed", cause)
			}
			if n := len(srv.Messages(mailtest.DefaultUser)); n != 2 {
				t.Errorf("%d messages left, want both", n)
			}
		})
	}
}

// Close closes the Stores the caller opened, committing nothing; they fail
// afterwards with ErrClosed and ErrStoreClosed.
func TestCloseClosesOpenStores(t *testing.T) {
	checkNoLeaks(t)
	for _, proto := range storeProtos {
		t.Run(proto, func(t *testing.T) {
			ctx := ctxT(t)
			srv := mailtest.NewServer(t)
			deliver(t, srv, subjects(2)...)
			s := storeSession(t, srv, mailtest.StartTLS, proto)
			st, err := s.OpenStore(ctx)
			if err != nil {
				t.Fatal(err)
			}
			list, err := st.List(ctx)
			if err != nil || len(list) != 2 {
				t.Fatalf("List = %v, %v", list, err)
			}
			if err := st.Delete(ctx, list[0].UID); err != nil {
				t.Fatal(err)
			}
			// IMAP: a second store stays open with a message being read
			// (POP3 locks the maildrop: one store at a time).
			var st2 *Store
			var rc io.ReadCloser
			if proto == "imap" {
				if st2, err = s.OpenStore(ctx); err != nil {
					t.Fatalf("second store: %v", err)
				}
				if rc, err = st2.Fetch(ctx, list[1].UID); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if rc != nil {
				io.Copy(io.Discard, rc) // may end early: the connection is cut
				rc.Close()
				if err := st2.Close(); !errors.Is(err, ErrClosed) {
					t.Errorf("second Store.Close after Session.Close = %v, want ErrClosed", err)
				}
			}
			if _, err := st.List(ctx); !errors.Is(err, ErrClosed) || !errors.Is(err, ErrStoreClosed) {
				t.Errorf("List after Close = %v, want ErrClosed and ErrStoreClosed", err)
			}
			if err := st.Close(); !errors.Is(err, ErrClosed) {
				t.Errorf("Store.Close after Session.Close = %v, want ErrClosed (nothing committed)", err)
			}
			if n := len(srv.Messages(mailtest.DefaultUser)); n != 2 {
				t.Errorf("%d messages left, want both (the deletion was not committed)", n)
			}
			if _, err := s.OpenStore(ctx); !errors.Is(err, ErrClosed) {
				t.Errorf("OpenStore after Close = %v, want ErrClosed", err)
			}
			// The connections ended: a new POP3 session gets the maildrop.
			s2 := storeSession(t, srv, mailtest.Plain, proto)
			waitFor(t, ctx, "the maildrop to be free", func() bool {
				st, err := s2.OpenStore(ctx)
				if err != nil {
					return false
				}
				st.Close()
				return true
			})
		})
	}
}

// silentQuitPOP3 is a POP3 server that logs anyone in, lists an empty
// maildrop and never answers QUIT. It reports each command it reads.
func silentQuitPOP3(t *testing.T) (port int, cmds <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan string, 64)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		go func() { <-t.Context().Done(); c.Close() }()
		br := bufio.NewReader(c)
		io.WriteString(c, "+OK ready\r\n")
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			verb := strings.ToUpper(strings.Fields(line + " x")[0])
			ch <- verb
			switch verb {
			case "CAPA":
				io.WriteString(c, "+OK\r\nUSER\r\nUIDL\r\n.\r\n")
			case "USER", "PASS":
				io.WriteString(c, "+OK\r\n")
			case "UIDL", "LIST":
				io.WriteString(c, "+OK\r\n.\r\n")
			case "QUIT":
				// never answered; the client must give up
			default:
				io.WriteString(c, "-ERR unknown\r\n")
			}
		}
	})
	return ln.Addr().(*net.TCPAddr).Port, ch
}

// The QUIT Close says to an open Store is bounded by a short timeout, not
// the store's read timeout (an hour here).
func TestCloseStoreQuitBounded(t *testing.T) {
	ctx := ctxT(t)
	port, cmds := silentQuitPOP3(t)
	srv := mailtest.NewServer(t)
	s := storeSession(t, srv, mailtest.Plain, "pop3",
		WithProperty("mail.pop3.port", strconv.Itoa(port)), WithTimeouts(time.Hour, time.Hour, time.Hour))
	st, err := s.OpenStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.List(ctx); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	if err := wait(t, ctx, "Close", closed); err != nil {
		t.Errorf("Close = %v", err)
	}
	var got []string
	for len(cmds) > 0 {
		got = append(got, <-cmds)
	}
	if len(got) == 0 || got[len(got)-1] != "QUIT" {
		t.Errorf("commands %v, want QUIT last", got)
	}
}

// Close is idempotent, and Shutdown after Close returns at once.
func TestCloseIdempotent(t *testing.T) {
	srv := mailtest.NewServer(t)
	s := storeSession(t, srv, mailtest.Plain, "imap")
	for range 2 {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Shutdown(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

// Shutdown lets a Receive run finish the message being handled and commit
// it, refuses new work meanwhile, and Receive returns ErrClosed.
func TestShutdownLetsReceiveFinishMessage(t *testing.T) {
	checkNoLeaks(t)
	for _, proto := range storeProtos {
		t.Run(proto, func(t *testing.T) {
			ctx := ctxT(t)
			srv := mailtest.NewServer(t)
			deliver(t, srv, subjects(3)...)
			s := storeSession(t, srv, mailtest.Plain, proto)
			inHandler, release := make(chan struct{}), make(chan struct{})
			var handled []string
			var handlerCtxErr error
			done := receiveAsync(ctx, s, ReceiveOptions{Delete: true, PollInterval: time.Hour}, func(ctx context.Context, m *Received) error {
				handled = append(handled, m.Subject())
				if len(handled) == 1 {
					close(inHandler)
					<-release
					handlerCtxErr = ctx.Err()
				}
				return nil
			})
			<-inHandler
			shut := make(chan error, 1)
			go func() { shut <- s.Shutdown(ctx) }()
			waitFor(t, ctx, "Shutdown to begin", s.life.isClosed)
			if err := s.Receive(ctx, ReceiveOptions{}, func(context.Context, *Received) error { return nil }); !errors.Is(err, ErrClosed) {
				t.Errorf("a new Receive during Shutdown = %v, want ErrClosed", err)
			}
			if _, err := s.OpenStore(ctx); !errors.Is(err, ErrClosed) {
				t.Errorf("OpenStore during Shutdown = %v, want ErrClosed", err)
			}
			if err := s.Send(ctx, &Message{To: []string{mailtest.DefaultUser}, Text: "x"}); !errors.Is(err, ErrClosed) {
				t.Errorf("Send during Shutdown = %v, want ErrClosed", err)
			}
			select {
			case err := <-shut:
				t.Fatalf("Shutdown returned (%v) while a message was being handled", err)
			default:
			}
			close(release)
			if err := wait(t, ctx, "Receive", done); !errors.Is(err, ErrClosed) {
				t.Errorf("Receive = %v, want ErrClosed", err)
			}
			if err := wait(t, ctx, "Shutdown", shut); err != nil {
				t.Errorf("Shutdown = %v", err)
			}
			if handlerCtxErr != nil {
				t.Errorf("the handler's ctx ended during Shutdown: %v", handlerCtxErr)
			}
			if len(handled) != 1 {
				t.Errorf("handled %v, want only m1", handled)
			}
			left := srv.Messages(mailtest.DefaultUser)
			if len(left) != 2 || !bytes.Equal(left[0].Data, hardMessage("m2")) {
				t.Errorf("%d messages left, want m2 and m3 (m1 committed)", len(left))
			}
		})
	}
}

// When Shutdown's ctx ends first, it stops the run as Close does: the
// handler's ctx ends (cause ErrClosed), nothing is deleted, Shutdown
// returns ctx's error.
func TestShutdownContextEnds(t *testing.T) {
	checkNoLeaks(t)
	for _, proto := range storeProtos {
		t.Run(proto, func(t *testing.T) {
			ctx := ctxT(t)
			srv := mailtest.NewServer(t)
			deliver(t, srv, subjects(2)...)
			s := storeSession(t, srv, mailtest.Plain, proto)
			inHandler := make(chan struct{})
			var cause error
			done := receiveAsync(ctx, s, ReceiveOptions{Delete: true}, func(ctx context.Context, m *Received) error {
				close(inHandler)
				<-ctx.Done()
				cause = context.Cause(ctx)
				return nil
			})
			<-inHandler
			sctx, cancel := context.WithCancel(ctx)
			shut := make(chan error, 1)
			go func() { shut <- s.Shutdown(sctx) }()
			waitFor(t, ctx, "Shutdown to begin", s.life.isClosed)
			cancel()
			if err := wait(t, ctx, "Shutdown", shut); !errors.Is(err, context.Canceled) {
				t.Errorf("Shutdown = %v, want context.Canceled", err)
			}
			if err := wait(t, ctx, "Receive", done); !errors.Is(err, ErrClosed) {
				t.Errorf("Receive = %v, want ErrClosed", err)
			}
			if cause != ErrClosed {
				t.Errorf("handler ctx cause %v, want ErrClosed", cause)
			}
			if n := len(srv.Messages(mailtest.DefaultUser)); n != 2 {
				t.Errorf("%d messages left, want both", n)
			}
		})
	}
}

// Shutdown closes a Store the caller left open, without committing it.
func TestShutdownClosesOpenStore(t *testing.T) {
	for _, proto := range storeProtos {
		t.Run(proto, func(t *testing.T) {
			ctx := ctxT(t)
			srv := mailtest.NewServer(t)
			deliver(t, srv, hardMessage("m1"))
			s := storeSession(t, srv, mailtest.Plain, proto)
			st, err := s.OpenStore(ctx)
			if err != nil {
				t.Fatal(err)
			}
			list, err := st.List(ctx)
			if err != nil || len(list) != 1 {
				t.Fatalf("List = %v, %v", list, err)
			}
			st.Delete(ctx, list[0].UID)
			if err := s.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			if err := st.Close(); !errors.Is(err, ErrClosed) {
				t.Errorf("Store.Close after Shutdown = %v, want ErrClosed", err)
			}
			if n := len(srv.Messages(mailtest.DefaultUser)); n != 1 {
				t.Errorf("%d messages left, want 1", n)
			}
		})
	}
}
