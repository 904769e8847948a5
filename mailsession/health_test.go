package mailsession

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmailgo/jmail/jndi"
	"github.com/jmailgo/jmail/mailsession/mailtest"
)

const (
	healthUser     = "ops-probe@example.com"
	healthPassword = "Xq7-health-S3cret!pw"
)

// probe sends one request through a real HTTP server in front of h and
// returns the status, the headers and the body.
func probe(t *testing.T, h http.Handler, method string) (int, http.Header, []byte) {
	t.Helper()
	hs := httptest.NewServer(h)
	defer hs.Close()
	req, err := http.NewRequestWithContext(ctxT(t), method, hs.URL+"/readyz", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}

func decodeHealth(t *testing.T, body []byte) HealthReport {
	t.Helper()
	var rep HealthReport
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	return rep
}

// assertNoSecrets fails when the body holds the password or the login name.
func assertNoSecrets(t *testing.T, body []byte) {
	t.Helper()
	for _, secret := range []string{healthPassword, "ops-probe"} {
		if strings.Contains(string(body), secret) {
			t.Errorf("the body holds %q: %s", secret, body)
		}
	}
}

func TestHealthHealthy(t *testing.T) {
	checkNoLeaks(t)
	srv := mailtest.NewServer(t, mailtest.WithUser(healthUser, healthPassword))
	for _, store := range []string{"imap", "pop3"} {
		t.Run(store, func(t *testing.T) {
			s, err := FromProperties(srv.Properties(mailtest.StartTLS, store),
				WithRootCAs(srv.CertPool()), WithLogger(quietLogger()),
				WithProperty("mail.smtp.connectionpolsize", "2")) // a warning
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			h := HealthHandler(s, HealthOptions{})

			code, hdr, body := probe(t, h, http.MethodGet)
			if code != http.StatusOK {
				t.Fatalf("status %d: %s", code, body)
			}
			if ct, cc := hdr.Get("Content-Type"), hdr.Get("Cache-Control"); ct != "application/json" || cc != "no-store" {
				t.Errorf("Content-Type %q, Cache-Control %q", ct, cc)
			}
			assertNoSecrets(t, body)
			rep := decodeHealth(t, body)
			if rep.Status != HealthHealthy || rep.Error != "" || time.Since(rep.CheckedAt) > time.Minute || rep.CheckedAt.Location() != time.UTC {
				t.Errorf("report %+v", rep)
			}
			if rep.WarningCount != 1 || len(rep.Warnings) != 1 || rep.Warnings[0] != "mail.smtp.connectionpolsize" {
				t.Errorf("warnings %d %v", rep.WarningCount, rep.Warnings)
			}
			for _, c := range []struct {
				ep    *HealthEndpoint
				proto string
				port  int
			}{{rep.Transport, "smtp", srv.Ports().SMTP}, {rep.Store, store, map[string]int{"imap": srv.Ports().IMAP, "pop3": srv.Ports().POP3}[store]}} {
				ep := c.ep
				if ep == nil {
					t.Fatalf("%s: no report: %s", c.proto, body)
				}
				if ep.Protocol != c.proto || ep.Addr != srv.Addr(c.port) || !strings.HasPrefix(ep.TLSVersion, "TLS 1.") ||
					!ep.Authenticated || ep.Mechanism == "" || ep.LatencyMS <= 0 || ep.Error != "" {
					t.Errorf("%s: %+v", c.proto, ep)
				}
			}

			// HEAD: the same answer without a body (from the cache).
			code, hdr, body = probe(t, h, http.MethodHead)
			if code != http.StatusOK || len(body) != 0 || hdr.Get("Content-Type") != "application/json" || hdr.Get("Cache-Control") != "no-store" {
				t.Errorf("HEAD: %d %v %q", code, hdr, body)
			}
			for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
				code, hdr, _ = probe(t, h, m)
				if code != http.StatusMethodNotAllowed || hdr.Get("Allow") != "GET, HEAD" {
					t.Errorf("%s: %d, Allow %q", m, code, hdr.Get("Allow"))
				}
			}
		})
	}
}

// blackhole accepts connections and never writes; it counts them and holds
// them open until the test ends.
type blackhole struct {
	ln       net.Listener
	accepted atomic.Int64
	first    chan struct{} // closed at the first connection
	mu       sync.Mutex
	conns    []net.Conn
	wg       sync.WaitGroup
}

func newBlackhole(t *testing.T) *blackhole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{ln: ln, first: make(chan struct{})}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns = append(b.conns, c)
			b.mu.Unlock()
			if b.accepted.Add(1) == 1 {
				close(b.first)
			}
		}
	}()
	t.Cleanup(b.close)
	return b
}

func (b *blackhole) port() string { return strconv.Itoa(b.ln.Addr().(*net.TCPAddr).Port) }

// close closes the listener and every connection accepted.
func (b *blackhole) close() {
	b.ln.Close()
	b.wg.Wait()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.conns {
		c.Close()
	}
	b.conns = nil
}

// The per-I/O timeouts are long: only the health timeout can end the wait.
var longTimeouts = []string{"mail.smtp.timeout", "60000", "mail.smtp.connectiontimeout", "60000",
	"mail.imap.timeout", "60000", "mail.imap.connectiontimeout", "60000"}

func TestHealthUnhealthy(t *testing.T) {
	checkNoLeaks(t)
	srv := mailtest.NewServer(t, mailtest.WithUser(healthUser, healthPassword))
	refusing := mailtest.NewServer(t, mailtest.WithUser(healthUser, healthPassword))
	refusing.SetFaults(mailtest.Faults{RefuseAuth: true})
	hole := newBlackhole(t)
	const timeout = 300 * time.Millisecond

	// The transport on mailtest, the store on the blackhole.
	holeStore := srv.Properties(mailtest.Plain, "imap")
	holeStore.Set("mail.imap.port", hole.port())
	for i := 0; i < len(longTimeouts); i += 2 {
		holeStore.Set(longTimeouts[i], longTimeouts[i+1])
	}

	closedSession := newTestSession(t, srv, mailtest.Plain)
	closedSession.Close()

	for _, c := range []struct {
		name      string
		session   func(t *testing.T) *Session
		opts      HealthOptions
		code      int
		transport string // substring of the transport's error; "" = healthy
		store     string // substring of the store's error; "" = healthy or absent
		noStore   bool
	}{
		{name: "blackhole transport", session: func(t *testing.T) *Session {
			return mustSession(t, props(append([]string{"mail.smtp.host", "127.0.0.1", "mail.smtp.port", hole.port()}, longTimeouts...)...))
		}, code: 503, transport: "deadline exceeded", noStore: true},
		{name: "blackhole store", session: func(t *testing.T) *Session {
			return mustSession(t, holeStore)
		}, code: 503, store: "deadline exceeded"},
		{name: "blackhole store ignored", session: func(t *testing.T) *Session {
			return mustSession(t, holeStore)
		}, opts: HealthOptions{IgnoreStore: true}, code: 200, noStore: true},
		{name: "closed port", session: func(t *testing.T) *Session {
			return mustSession(t, props("mail.smtp.host", "127.0.0.1", "mail.smtp.port", closedPort(t)))
		}, code: 503, transport: "refused", noStore: true},
		{name: "login refused", session: func(t *testing.T) *Session {
			return newTestSession(t, refusing, mailtest.ImplicitTLS)
		}, code: 503, transport: "535", noStore: true},
		{name: "closed session", session: func(*testing.T) *Session { return closedSession },
			code: 503, transport: "closed", noStore: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := c.opts
			opts.Timeout = timeout
			h := HealthHandler(c.session(t), opts)
			start := time.Now()
			code, hdr, body := probe(t, h, http.MethodGet)
			// Not a timing assertion that can flake: only that the answer
			// came long before the 60s I/O timeouts could have ended it.
			if d := time.Since(start); d > 10*timeout+5*time.Second {
				t.Errorf("answered after %v", d)
			}
			if code != c.code || hdr.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d, Content-Type %q: %s", code, hdr.Get("Content-Type"), body)
			}
			assertNoSecrets(t, body)
			rep := decodeHealth(t, body)
			if want := map[int]string{200: HealthHealthy, 503: HealthUnhealthy}[c.code]; rep.Status != want || (c.code == 503) != (rep.Error != "") {
				t.Errorf("status %q, error %q", rep.Status, rep.Error)
			}
			if rep.Transport == nil || !strings.HasPrefix(rep.Transport.Protocol, "smtp") || rep.Transport.Addr == "" {
				t.Fatalf("transport %+v", rep.Transport)
			}
			if got := rep.Transport.Error; (c.transport == "") != (got == "") || !strings.Contains(got, c.transport) || !strings.Contains(rep.Error, c.transport) {
				t.Errorf("transport error %q (report error %q), want %q", got, rep.Error, c.transport)
			}
			if c.noStore {
				if rep.Store != nil {
					t.Errorf("store %+v", rep.Store)
				}
				return
			}
			if rep.Store == nil || rep.Store.Protocol != "imap" || !strings.Contains(rep.Store.Error, c.store) || rep.Store.Error == "" {
				t.Errorf("store %+v", rep.Store)
			}
			if !rep.Transport.Authenticated {
				t.Errorf("the transport on mailtest is reported failing: %+v", rep.Transport)
			}
		})
	}

	t.Run("nil session", func(t *testing.T) {
		for _, s := range []*Session{nil, {}} {
			code, hdr, body := probe(t, HealthHandler(s, HealthOptions{}), http.MethodGet)
			rep := decodeHealth(t, body)
			if code != 503 || hdr.Get("Cache-Control") != "no-store" || rep.Status != HealthUnhealthy || !strings.Contains(rep.Error, "no session") {
				t.Errorf("%v: %d %s", s == nil, code, body)
			}
		}
	})
}

// countingRelay accepts connections, counts them and closes each at once: a
// dead relay.
func countingRelay(t *testing.T) (port string, accepted func() int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), n.Load
}

func TestHealthBurstRunsOneCheck(t *testing.T) {
	checkNoLeaks(t)
	srv := mailtest.NewServer(t)
	// A slow server: the probes all arrive while the check runs.
	srv.SetFaults(mailtest.Faults{ReplyDelay: 20 * time.Millisecond})
	s := newTestSession(t, srv, mailtest.Plain)
	h := HealthHandler(s, HealthOptions{})
	hs := httptest.NewServer(h)
	defer hs.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 1000}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}

	const probes = 1000
	var (
		wg     sync.WaitGroup
		start  = make(chan struct{})
		mu     sync.Mutex
		bodies = map[string]int{}
		codes  = map[int]int{}
		errs   []error
	)
	for range probes {
		wg.Go(func() {
			<-start
			resp, err := client.Get(hs.URL)
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			codes[resp.StatusCode]++
			bodies[string(body)]++
		})
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d probes failed, first: %v", len(errs), errs[0])
	}
	if codes[200] != probes || len(bodies) != 1 {
		t.Errorf("codes %v, %d distinct bodies", codes, len(bodies))
	}
	if n := srv.SMTPConnections(); n != 1 {
		t.Errorf("%d probes made %d connections to the server, want 1", probes, n)
	}
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// withClock returns HealthHandler's handler reading the time from a fake
// clock.
func withClock(h http.Handler) (*healthHandler, *fakeClock) {
	hh := h.(*healthHandler)
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	hh.now = clock.now
	return hh, clock
}

func TestHealthCache(t *testing.T) {
	checkNoLeaks(t)
	t.Run("healthy", func(t *testing.T) {
		srv := mailtest.NewServer(t)
		h, clock := withClock(HealthHandler(newTestSession(t, srv, mailtest.Plain), HealthOptions{CacheFor: 30 * time.Second}))
		_, _, first := probe(t, h, http.MethodGet)
		clock.advance(29 * time.Second)
		_, _, cached := probe(t, h, http.MethodHead)
		_, _, again := probe(t, h, http.MethodGet)
		if n := srv.SMTPConnections(); n != 1 || string(again) != string(first) {
			t.Fatalf("within the cache period: %d connections, bodies %s %s", n, first, again)
		}
		if len(cached) != 0 {
			t.Errorf("HEAD body %q", cached)
		}
		clock.advance(2 * time.Second)
		code, _, fresh := probe(t, h, http.MethodGet)
		if n := srv.SMTPConnections(); n != 2 || code != 200 {
			t.Fatalf("after the cache period: %d connections, status %d", n, code)
		}
		if a, b := decodeHealth(t, first).CheckedAt, decodeHealth(t, fresh).CheckedAt; b.Sub(a) != 31*time.Second {
			t.Errorf("checked at %v then %v", a, b)
		}
	})
	t.Run("a dead relay is not hammered", func(t *testing.T) {
		port, accepted := countingRelay(t)
		h, clock := withClock(HealthHandler(mustSession(t, props("mail.smtp.host", "127.0.0.1", "mail.smtp.port", port)), HealthOptions{}))
		for range 5 {
			if code, _, body := probe(t, h, http.MethodGet); code != 503 {
				t.Fatalf("status %d: %s", code, body)
			}
			clock.advance(time.Second)
		}
		if n := accepted(); n != 1 {
			t.Fatalf("5 probes in the cache period: %d connections", n)
		}
		clock.advance(DefaultHealthCacheFor)
		probe(t, h, http.MethodGet)
		if n := accepted(); n != 2 {
			t.Fatalf("after the cache period: %d connections", n)
		}
	})
	t.Run("no cache", func(t *testing.T) {
		srv := mailtest.NewServer(t)
		h := HealthHandler(newTestSession(t, srv, mailtest.Plain), HealthOptions{CacheFor: -1})
		for range 3 {
			probe(t, h, http.MethodGet)
		}
		if n := srv.SMTPConnections(); n != 3 {
			t.Fatalf("3 probes without cache: %d connections", n)
		}
	})
}

// A probe whose request ends stops waiting at once; the check goes on for
// the probes that wait for it and is not started again.
func TestHealthRequestContextEnds(t *testing.T) {
	checkNoLeaks(t)
	hole := newBlackhole(t)
	s := mustSession(t, props(append([]string{"mail.smtp.host", "127.0.0.1", "mail.smtp.port", hole.port()}, longTimeouts...)...))
	h := HealthHandler(s, HealthOptions{Timeout: time.Minute})

	serve := func(ctx context.Context) <-chan *httptest.ResponseRecorder {
		out := make(chan *httptest.ResponseRecorder, 1)
		go func() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "/readyz", nil))
			out <- rec
		}()
		return out
	}
	ctx, cancel := context.WithCancel(context.Background())
	first := serve(ctx)
	select {
	case <-hole.first: // the check is connected and waits for a greeting
	case <-time.After(20 * time.Second):
		t.Fatal("the check did not connect")
	}
	second := serve(context.Background())
	cancel()
	select {
	case rec := <-first:
		rep := decodeHealth(t, rec.Body.Bytes())
		if rec.Code != 503 || !strings.Contains(rep.Error, "request ended") || !strings.Contains(rep.Error, "canceled") {
			t.Errorf("%d %s", rec.Code, rec.Body)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the probe whose request ended is still waiting")
	}
	select {
	case rec := <-second:
		t.Fatalf("the other probe did not wait for the check: %d %s", rec.Code, rec.Body)
	default:
	}
	// The server goes away: the check ends, and the waiting probe gets
	// its result.
	hole.close()
	select {
	case rec := <-second:
		rep := decodeHealth(t, rec.Body.Bytes())
		if rec.Code != 503 || rep.Transport == nil || rep.Transport.Error == "" {
			t.Errorf("%d %s", rec.Code, rec.Body)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the waiting probe got no answer")
	}
	if n := hole.accepted.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

// gatedRelay forwards connections to target once release is closed,
// counting them.
func gatedRelay(t *testing.T, target string, release <-chan struct{}) (port string, accepted func() int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		n  atomic.Int64
		wg sync.WaitGroup
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			wg.Go(func() {
				defer c.Close()
				<-release
				up, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				go func() { io.Copy(up, c); up.Close() }()
				io.Copy(c, up)
			})
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), n.Load
}

// Without a cache, 1,000 probes that arrive while a check runs still share
// it: the check cannot end before they all are in the handler.
func TestHealthConcurrentProbesShareOneCheck(t *testing.T) {
	checkNoLeaks(t)
	srv := mailtest.NewServer(t)
	release := make(chan struct{})
	port, accepted := gatedRelay(t, srv.Addr(srv.Ports().SMTP), release)
	p := srv.Properties(mailtest.Plain, "")
	p.Set("mail.smtp.port", port)
	s, err := FromProperties(p, WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h := HealthHandler(s, HealthOptions{CacheFor: -1, Timeout: time.Minute})

	const probes = 1000
	var entered atomic.Int64
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if entered.Add(1) == probes {
			close(release)
		}
		h.ServeHTTP(w, r)
	}))
	defer hs.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: probes}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: time.Minute}

	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		codes = map[int]int{}
		errs  []error
	)
	for range probes {
		wg.Go(func() {
			resp, err := client.Get(hs.URL)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes[resp.StatusCode]++
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d probes failed, first: %v", len(errs), errs[0])
	}
	if codes[200] != probes {
		t.Errorf("codes %v", codes)
	}
	if n, m := accepted(), srv.SMTPConnections(); n != 1 || m != 1 {
		t.Errorf("%d probes: %d connections to the relay, %d at the server; want 1", probes, n, m)
	}
	// Then, without a cache, the next probe checks again.
	probe(t, h, http.MethodGet)
	if n := srv.SMTPConnections(); n != 2 {
		t.Errorf("the probe after: %d connections, want 2", n)
	}
}

// A check that does not return at its deadline (here a token source that
// ignores its context) does not hold the probes: they are answered at the
// timeout, and its late result does not replace the cached one.
func TestHealthCheckOverrunsItsDeadline(t *testing.T) {
	checkNoLeaks(t)
	srv := mailtest.NewServer(t)
	release := make(chan struct{})
	returned := make(chan struct{})
	p := srv.Properties(mailtest.Plain, "")
	p.Set("mail.smtp.auth.mechanisms", "XOAUTH2")
	s, err := FromProperties(p, WithLogger(quietLogger()), WithTokenSource(func(context.Context) (string, error) {
		defer close(returned)
		<-release
		return mailtest.DefaultToken, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h := HealthHandler(s, HealthOptions{Timeout: 200 * time.Millisecond})
	code, _, body := probe(t, h, http.MethodGet)
	rep := decodeHealth(t, body)
	if code != 503 || !strings.Contains(rep.Error, "did not finish within 200ms") || !strings.Contains(rep.Error, "deadline exceeded") ||
		rep.Transport == nil || rep.Transport.Protocol != "smtp" || !strings.Contains(rep.Transport.Error, "not checked") {
		t.Fatalf("%d %s", code, body)
	}
	close(release)
	<-returned
	if _, _, again := probe(t, h, http.MethodGet); string(again) != string(body) {
		t.Errorf("the cached answer changed: %s, then %s", body, again)
	}
}

// A server that echoes the password in its refusal: the report redacts it.
func TestHealthRedactsAnEchoedPassword(t *testing.T) {
	checkNoLeaks(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer ln.Close()
	wg.Go(func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		r := bufio.NewReader(c)
		io.WriteString(c, "220 echo ESMTP\r\n")
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			switch verb := strings.ToUpper(strings.Fields(line + " x")[0]); verb {
			case "EHLO":
				io.WriteString(c, "250-echo\r\n250 AUTH PLAIN LOGIN\r\n")
			case "AUTH":
				io.WriteString(c, "535 5.7.8 password "+healthPassword+" is wrong\r\n")
			case "QUIT":
				io.WriteString(c, "221 bye\r\n")
				return
			default:
				io.WriteString(c, "502 no\r\n")
			}
		}
	})
	s := mustSession(t, props("mail.smtp.host", "127.0.0.1", "mail.smtp.port", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port),
		"mail.smtp.auth", "true", "mail.smtp.user", healthUser, "mail.smtp.password", healthPassword,
		"mail.smtp.auth.mechanisms", "PLAIN"))
	code, _, body := probe(t, HealthHandler(s, HealthOptions{}), http.MethodGet)
	if code != 503 || !strings.Contains(string(body), "535") || !strings.Contains(string(body), "[redacted]") {
		t.Errorf("%d %s", code, body)
	}
	assertNoSecrets(t, body)
}

// With Lookup, each probe checks the session bound now: after the session
// under the name is replaced (as WatchFile does), the next probe checks
// the new one rather than answering from the old one's cache or finding
// it closed; the new one's result is cached in turn. A failed look-up
// answers 503.
func TestHealthLookup(t *testing.T) {
	a := mailtest.NewServer(t, mailtest.WithUser(healthUser, healthPassword))
	b := mailtest.NewServer(t, mailtest.WithUser(healthUser, healthPassword))
	open := func(srv *mailtest.Server) *Session {
		s, err := FromProperties(srv.Properties(mailtest.StartTLS, ""), WithRootCAs(srv.CertPool()), WithLogger(quietLogger()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	reg := jndi.NewRegistry()
	const name = "mail/MailSession"
	h := HealthHandler(nil, HealthOptions{Lookup: func() (*Session, error) { return jndi.LookupAs[*Session](reg, name) }})

	code, _, body := probe(t, h, http.MethodGet)
	if code != http.StatusServiceUnavailable || !strings.Contains(decodeHealth(t, body).Error, "looking up the session") {
		t.Fatalf("nothing bound: %d %s, want 503 naming the look-up", code, body)
	}

	first := open(a)
	if err := reg.Bind(name, first); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if code, _, body := probe(t, h, http.MethodGet); code != http.StatusOK || decodeHealth(t, body).Transport.Addr != a.Addr(a.Ports().SMTP) {
			t.Fatalf("first session: %d %s", code, body)
		}
	}
	if _, err := reg.Swap(name, open(b)); err != nil {
		t.Fatal(err)
	}
	first.Close()
	for range 3 {
		if code, _, body := probe(t, h, http.MethodGet); code != http.StatusOK || decodeHealth(t, body).Transport.Addr != b.Addr(b.Ports().SMTP) {
			t.Fatalf("after the swap: %d %s, want 200 for the new session", code, body)
		}
	}
	if na, nb := a.SMTPConnections(), b.SMTPConnections(); na != 1 || nb != 1 {
		t.Errorf("connections: %d to the first server, %d to the second; want one check each", na, nb)
	}
}
