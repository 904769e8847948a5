package mailsession

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmailgo/jmail/mailsession/mailtest"
)

// idleEvents records the idle connection's events (s.recv.idleHook) and
// lets a test wait for one.
type idleEvents struct {
	mu  sync.Mutex
	all []string
	ch  chan string
}

func watchIdle(s *Session) *idleEvents {
	ev := &idleEvents{ch: make(chan string, 1000)}
	s.recv.idleHook = func(e string) {
		ev.mu.Lock()
		ev.all = append(ev.all, e)
		ev.mu.Unlock()
		ev.ch <- e
	}
	return ev
}

// await waits for event e, failing the test when ctx ends first.
func (ev *idleEvents) await(t *testing.T, ctx context.Context, e string) {
	t.Helper()
	for {
		select {
		case got := <-ev.ch:
			if got == e {
				return
			}
		case <-ctx.Done():
			t.Fatalf("no %q event from the idle connection; events: %v", e, ev.list())
		}
	}
}

func (ev *idleEvents) list() []string {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return slices.Clone(ev.all)
}

// waits records that Receive entered its wait between runs.
func waits(s *Session) <-chan time.Duration {
	ch := make(chan time.Duration, 1000)
	s.recv.waitHook = func(d time.Duration) { ch <- d }
	return ch
}

// awaitWait waits until Receive waits between runs, then a little, so
// that it is in its select (the hook runs just before).
func awaitWait(t *testing.T, ctx context.Context, ch <-chan time.Duration) {
	t.Helper()
	select {
	case <-ch:
	case <-ctx.Done():
		t.Fatal("Receive did not wait between runs")
	}
	time.Sleep(5 * time.Millisecond)
}

// percentile returns the p-th percentile (0..1) of ds, which it sorts.
func percentile(ds []time.Duration, p float64) time.Duration {
	slices.Sort(ds)
	return ds[int(p*float64(len(ds)-1))]
}

// With IDLE, a message delivered (by Deliver or over SMTP) while Receive
// waits with a one-minute poll interval is handled at once, not at the
// next poll. The latency from delivery to handler is logged.
func TestReceiveIdlePushesNewMessages(t *testing.T) {
	checkNoLeaks(t)
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			ctx, cancel := context.WithCancel(ctxT(t))
			defer cancel()
			srv := mailtest.NewServer(t)
			s := storeSession(t, srv, mode, "imap")
			ev := watchIdle(s)
			wch := waits(s)
			const poll = time.Minute
			got := make(chan time.Time, 1)
			var subjects []string
			done := receiveAsync(ctx, s, ReceiveOptions{Delete: true, PollInterval: poll}, func(ctx context.Context, m *Received) error {
				if _, err := io.Copy(io.Discard, m.Raw); err != nil {
					return err
				}
				subjects = append(subjects, m.Subject())
				got <- time.Now()
				return nil
			})
			ev.await(t, ctx, "idle")
			const n = 20
			var lat []time.Duration
			for i := range n {
				awaitWait(t, ctx, wch)
				subject := "push" + strconv.Itoa(i)
				sent := time.Now()
				if i%2 == 0 {
					deliver(t, srv, hardMessage(subject))
				} else if err := s.SendRaw(ctx, "ann@example.com", []string{mailtest.DefaultUser}, bytes.NewReader(hardMessage(subject))); err != nil {
					t.Fatal(err)
				}
				select {
				case at := <-got:
					lat = append(lat, at.Sub(sent))
				case <-time.After(poll):
					t.Fatalf("message %d not handled before the poll interval (%v)", i, poll)
				}
			}
			awaitWait(t, ctx, wch) // the last run committed
			cancel()
			if err := wait(t, ctxT(t), "Receive", done); err != nil {
				t.Fatalf("Receive = %v, want nil once ctx ended", err)
			}
			if len(subjects) != n {
				t.Errorf("handled %d messages, want %d: %v", len(subjects), n, subjects)
			}
			if left := srv.Messages(mailtest.DefaultUser); len(left) != 0 {
				t.Errorf("%d messages left, want all deleted", len(left))
			}
			t.Logf("IDLE push latency, delivery to handler, %d messages (poll interval %v): median %v, p90 %v, max %v",
				n, poll, percentile(lat, 0.5), percentile(lat, 0.9), percentile(lat, 1))
		})
	}
}

// IDLE is renewed (DONE, answered OK, then IDLE again) at the renewal
// period, and the renewed IDLE still reports new messages.
func TestReceiveIdleRenews(t *testing.T) {
	checkNoLeaks(t)
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	srv := mailtest.NewServer(t)
	var trace bytes.Buffer
	var mu sync.Mutex
	s := storeSession(t, srv, mailtest.Plain, "imap", WithDebug(slog.New(slog.NewTextHandler(lockedWriter{&mu, &trace}, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	s.recv.idleRenew = 50 * time.Millisecond
	ev := watchIdle(s)
	got := make(chan string, 1)
	done := receiveAsync(ctx, s, ReceiveOptions{Delete: true, PollInterval: time.Hour}, func(ctx context.Context, m *Received) error {
		got <- m.Subject()
		return nil
	})
	for range 3 {
		ev.await(t, ctx, "renew")
		ev.await(t, ctx, "idle")
	}
	deliver(t, srv, hardMessage("after renewals"))
	select {
	case subj := <-got:
		if subj != "after renewals" {
			t.Errorf("handled %q", subj)
		}
	case <-ctx.Done():
		t.Fatal("message not handled after renewals")
	}
	cancel()
	if err := wait(t, ctxT(t), "Receive", done); err != nil {
		t.Fatalf("Receive = %v", err)
	}
	mu.Lock()
	var seq []string // the IDLE and DONE commands, in order
	for _, line := range strings.Split(trace.String(), "\n") {
		switch {
		case strings.Contains(line, `msg="imap IDLE"`):
			seq = append(seq, "IDLE")
		case strings.Contains(line, `msg="imap DONE"`):
			seq = append(seq, "DONE")
		}
	}
	mu.Unlock()
	want := []string{"IDLE", "DONE", "IDLE", "DONE", "IDLE", "DONE", "IDLE"}
	if len(seq) < len(want) || !slices.Equal(seq[:len(want)], want) {
		t.Errorf("IDLE and DONE commands %v, want them to begin %v", seq, want)
	}
	if slices.Contains(ev.list(), "lost") {
		t.Errorf("the idle connection failed: events %v", ev.list())
	}
}

// stallProxy forwards TCP connections to target until stall: from then
// on, the connections open at that moment forward nothing either way (a
// silent server, a dead NAT entry), while new connections work.
type stallProxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	conns   []*stallConn
	stopped bool
	wg      sync.WaitGroup
}

type stallConn struct {
	client, server net.Conn
	stalled        chan struct{}
	once           sync.Once
	closed         chan struct{} // the client side closed its end
}

func newStallProxy(t *testing.T, target string) *stallProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *stallProxy) port() string { return strconv.Itoa(p.ln.Addr().(*net.TCPAddr).Port) }

func (p *stallProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		sc := &stallConn{client: c, server: u, stalled: make(chan struct{}), closed: make(chan struct{})}
		p.mu.Lock()
		p.conns = append(p.conns, sc)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); sc.pipe(u, c, nil) }()
		go func() { defer p.wg.Done(); sc.pipe(c, u, sc.closed) }()
	}
}

// pipe copies from src to dst until src ends or the connection stalls:
// then it reads on (to see src close) and forwards nothing.
func (sc *stallConn) pipe(dst, src net.Conn, closed chan struct{}) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-sc.stalled:
			n = 0
		default:
		}
		if n > 0 {
			if _, err := dst.Write(buf[:n]); err != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	if closed != nil {
		close(closed)
	}
	sc.client.Close()
	sc.server.Close()
}

// stall silences the connections open now and returns them.
func (p *stallProxy) stall() []*stallConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, sc := range p.conns {
		sc.once.Do(func() { close(sc.stalled) })
	}
	return slices.Clone(p.conns)
}

// cut closes the connections open now.
func (p *stallProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, sc := range p.conns {
		sc.client.Close()
		sc.server.Close()
	}
}

func (p *stallProxy) close() {
	p.ln.Close()
	p.cut()
	p.wg.Wait()
}

// An idle connection that goes silent is probed after the quiet period
// (DONE, which the server does not answer within the read timeout) and
// replaced; the new one pushes new messages as before.
func TestReceiveIdleReplacesSilentConnection(t *testing.T) {
	checkNoLeaks(t)
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	const secret = "idle-s3cret"
	srv := mailtest.NewServer(t, mailtest.WithUser(mailtest.DefaultUser, secret))
	p := newStallProxy(t, srv.Addr(srv.Ports().IMAP))
	props := srv.Properties(mailtest.Plain, "imap")
	props.Set("mail.imap.port", p.port())
	props.Set("mail.imap.timeout", "300")
	var logs bytes.Buffer
	var mu sync.Mutex
	s, err := FromProperties(props, WithLogger(slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.recv.idleQuiet = 200 * time.Millisecond
	s.recv.idleRetryMin = 10 * time.Millisecond
	ev := watchIdle(s)
	wch := waits(s)
	got := make(chan time.Time, 1)
	done := receiveAsync(ctx, s, ReceiveOptions{Delete: true, PollInterval: time.Hour}, func(ctx context.Context, m *Received) error {
		got <- time.Now()
		return nil
	})
	ev.await(t, ctx, "idle")
	ev.await(t, ctx, "probe") // a quiet but healthy connection answers
	ev.await(t, ctx, "idle")
	awaitWait(t, ctx, wch)
	stalled := p.stall()
	ev.await(t, ctx, "lost")
	ev.await(t, ctx, "idle")
	for _, sc := range stalled {
		select {
		case <-sc.closed:
		case <-ctx.Done():
			t.Fatal("the silent connection was not closed")
		}
	}
	sent := time.Now()
	deliver(t, srv, hardMessage("after replacement"))
	select {
	case at := <-got:
		t.Logf("handled %v after delivery, on the replacement connection", at.Sub(sent))
	case <-ctx.Done():
		t.Fatal("message not handled after the idle connection was replaced")
	}
	cancel()
	if err := wait(t, ctxT(t), "Receive", done); err != nil {
		t.Fatalf("Receive = %v", err)
	}
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	if !strings.Contains(out, "IMAP IDLE failed") || strings.Contains(out, secret) {
		t.Errorf("want the failure logged, without the password:\n%s", out)
	}
}

// Receive polls when IDLE is not there: POP3, a server without IDLE,
// NoIdle, and an idle connection lost and then not replaceable (its server
// no longer offers IDLE). Messages are still handed over, by polling.
func TestReceiveIdleFallsBackToPolling(t *testing.T) {
	checkNoLeaks(t)
	for _, c := range []struct {
		name, proto string
		opts        ReceiveOptions
		before      func(srv *mailtest.Server)
		// during, given the session's events, breaks IDLE after it began
		during     func(t *testing.T, ctx context.Context, srv *mailtest.Server, p *stallProxy, ev *idleEvents)
		wantEvents []string // prefix of the idle connection's events
	}{
		{name: "pop3", proto: "pop3"},
		{name: "server without IDLE", proto: "imap", before: func(srv *mailtest.Server) { srv.SetFaults(mailtest.Faults{NoIdle: true}) },
			wantEvents: []string{"unsupported"}},
		{name: "NoIdle", proto: "imap", opts: ReceiveOptions{NoIdle: true}},
		{name: "IDLE lost", proto: "imap",
			during: func(t *testing.T, ctx context.Context, srv *mailtest.Server, p *stallProxy, ev *idleEvents) {
				ev.await(t, ctx, "idle")
				srv.SetFaults(mailtest.Faults{NoIdle: true})
				p.cut()
				ev.await(t, ctx, "unsupported")
			},
			wantEvents: []string{"idle", "lost", "unsupported"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(ctxT(t))
			defer cancel()
			srv := mailtest.NewServer(t)
			if c.before != nil {
				c.before(srv)
			}
			props := srv.Properties(mailtest.Plain, c.proto)
			var p *stallProxy
			if c.proto == "imap" {
				p = newStallProxy(t, srv.Addr(srv.Ports().IMAP))
				props.Set("mail.imap.port", p.port())
			}
			s, err := FromProperties(props, WithLogger(quietLogger()))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			s.recv.idleRetryMin = time.Millisecond
			ev := watchIdle(s)
			wch := waits(s)
			var handled []string
			opts := c.opts
			opts.Delete, opts.PollInterval = true, 20*time.Millisecond
			done := receiveAsync(ctx, s, opts, func(ctx context.Context, m *Received) error {
				handled = append(handled, m.Subject())
				if len(handled) == 2 {
					cancel()
				}
				return nil
			})
			awaitWait(t, ctx, wch)
			deliver(t, srv, hardMessage("m1"))
			if c.during != nil {
				c.during(t, ctx, srv, p, ev)
			}
			deliver(t, srv, hardMessage("m2"))
			if err := wait(t, ctxT(t), "Receive", done); err != nil {
				t.Fatalf("Receive = %v", err)
			}
			if !slices.Equal(handled, []string{"m1", "m2"}) {
				t.Errorf("handled %v, want m1 m2", handled)
			}
			if got := ev.list(); !slices.Equal(got, c.wantEvents) {
				t.Errorf("idle events %v, want %v", got, c.wantEvents)
			}
		})
	}
}

// Close and Shutdown while Receive idles return ErrClosed at once, ctx
// ending returns nil, and the idle connection is closed (no goroutine
// left, the server sees it go).
func TestReceiveIdleStops(t *testing.T) {
	checkNoLeaks(t)
	for _, how := range []string{"Close", "Shutdown", "ctx"} {
		t.Run(how, func(t *testing.T) {
			ctx, cancel := context.WithCancel(ctxT(t))
			defer cancel()
			srv := mailtest.NewServer(t)
			p := newStallProxy(t, srv.Addr(srv.Ports().IMAP))
			props := srv.Properties(mailtest.Plain, "imap")
			props.Set("mail.imap.port", p.port())
			s, err := FromProperties(props, WithLogger(quietLogger()))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			ev := watchIdle(s)
			wch := waits(s)
			done := receiveAsync(ctx, s, ReceiveOptions{Delete: true, PollInterval: time.Hour}, func(context.Context, *Received) error { return nil })
			ev.await(t, ctx, "idle")
			awaitWait(t, ctx, wch)
			began := time.Now()
			var want error
			switch how {
			case "Close":
				s.Close()
				want = ErrClosed
			case "Shutdown":
				if err := s.Shutdown(ctxT(t)); err != nil {
					t.Fatal(err)
				}
				want = ErrClosed
			case "ctx":
				cancel()
			}
			err = wait(t, ctxT(t), "Receive", done)
			took := time.Since(began)
			if (want == nil && err != nil) || (want != nil && !errors.Is(err, want)) {
				t.Errorf("Receive = %v, want %v", err, want)
			}
			t.Logf("%s: Receive returned %v after %v", how, err, took)
			p.mu.Lock()
			conns := slices.Clone(p.conns)
			p.mu.Unlock()
			for i, sc := range conns {
				select {
				case <-sc.closed: // the client closed it (seen by the proxy a moment later)
				case <-ctxT(t).Done():
					t.Errorf("connection %d still open after Receive returned", i)
				}
			}
		})
	}
}

// An idle connection that a proxy cuts soon after IDLE begins, again and
// again, is not replaced at once each time (a login and a run every few
// seconds) but after waits that double.
func TestReceiveIdleShortLivedConnectionsBackOff(t *testing.T) {
	checkNoLeaks(t)
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	srv := mailtest.NewServer(t)
	p := newStallProxy(t, srv.Addr(srv.Ports().IMAP))
	props := srv.Properties(mailtest.Plain, "imap")
	props.Set("mail.imap.port", p.port())
	var logs bytes.Buffer
	var mu sync.Mutex
	s, err := FromProperties(props, WithLogger(slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.recv.idleQuiet = 30 * time.Second // healthy after 10 s
	s.recv.idleRetryMin = 10 * time.Millisecond
	ev := watchIdle(s)
	done := receiveAsync(ctx, s, ReceiveOptions{PollInterval: time.Hour}, func(context.Context, *Received) error { return nil })
	const cuts = 4
	for range cuts {
		ev.await(t, ctx, "idle")
		time.Sleep(30 * time.Millisecond) // longer than idleRetryMin: it did idle a while
		p.cut()
		ev.await(t, ctx, "lost")
	}
	cancel()
	if err := wait(t, ctxT(t), "Receive", done); err != nil {
		t.Fatalf("Receive = %v", err)
	}
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	var waits []time.Duration
	for line := range strings.Lines(out) {
		if _, v, ok := strings.Cut(line, "retry_in="); ok && strings.Contains(line, "IMAP IDLE failed") {
			d, err := time.ParseDuration(strings.Fields(v)[0])
			if err != nil {
				t.Fatalf("retry_in in %q: %v", line, err)
			}
			waits = append(waits, d)
		}
	}
	if len(waits) < cuts {
		t.Fatalf("%d failures logged, want %d:\n%s", len(waits), cuts, out)
	}
	for i, d := range waits[:cuts] {
		if want := 10 * time.Millisecond << i; d != want {
			t.Errorf("wait %d before reconnecting: %v, want %v (waits %v)", i+1, d, want, waits)
		}
	}
}
