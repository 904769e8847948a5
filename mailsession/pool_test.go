package mailsession

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/jmailgo/jmail/mailsession/mailtest"
)

func TestConcurrentSendsShareThePool(t *testing.T) {
	checkNoLeaks(t)
	srv := mailtest.NewServer(t)
	s := newTestSession(t, srv, mailtest.StartTLS, WithPool(3, time.Minute))
	var wg sync.WaitGroup
	errs := make(chan error, 80)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				errs <- s.Send(ctxT(t), &Message{To: []string{mailtest.DefaultUser}, Subject: "c", Text: "x"})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := len(srv.Messages(mailtest.DefaultUser)); n != 80 {
		t.Errorf("%d delivered, want 80", n)
	}
	if n := srv.SMTPConnections(); n > 3 || n < 1 {
		t.Errorf("%d connections for a pool of 3", n)
	}
	if n := count(srv.SMTPCommands(), "RSET"); n != 0 {
		t.Errorf("%d RSET after successful sends", n)
	}
	if e, n := count(srv.SMTPCommands(), "EHLO"), srv.SMTPConnections(); e != 2*n {
		t.Errorf("%d EHLO on %d connections, want 2 each (before and after STARTTLS)", e, n)
	}
}

func TestIdleConnectionCheckedWithNOOP(t *testing.T) {
	srv := mailtest.NewServer(t)
	s := newTestSession(t, srv, mailtest.Plain)
	s.pool.idleCheck = 0 // every reuse counts as idle
	sendOK(t, s, mailtest.DefaultUser)
	sendOK(t, s, mailtest.DefaultUser)
	cmds := srv.SMTPCommands()
	if count(cmds, "NOOP") != 1 || srv.SMTPConnections() != 1 {
		t.Errorf("commands %v: want one NOOP before the reuse, one connection", cmds)
	}
}

func TestPoolTimeoutZeroClosesAfterEachSend(t *testing.T) {
	srv := mailtest.NewServer(t)
	s := newTestSession(t, srv, mailtest.Plain, WithPool(1, 0))
	sendOK(t, s, mailtest.DefaultUser)
	sendOK(t, s, mailtest.DefaultUser)
	if n, q := srv.SMTPConnections(), count(srv.SMTPCommands(), "QUIT"); n != 2 || q != 2 {
		t.Errorf("%d connections, %d QUIT; want 2 and 2", n, q)
	}
}

func TestIdleConnectionsReaped(t *testing.T) {
	srv := mailtest.NewServer(t)
	s := newTestSession(t, srv, mailtest.Plain, WithPool(2, 50*time.Millisecond))
	sendOK(t, s, mailtest.DefaultUser)
	deadline := time.Now().Add(5 * time.Second)
	for count(srv.SMTPCommands(), "QUIT") == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if count(srv.SMTPCommands(), "QUIT") != 1 {
		t.Fatalf("idle connection not closed after the pool timeout: %v", srv.SMTPCommands())
	}
	s.pool.mu.Lock()
	idle := len(s.pool.idle)
	s.pool.mu.Unlock()
	if idle != 0 {
		t.Errorf("%d idle connections left", idle)
	}
	sendOK(t, s, mailtest.DefaultUser)
}

// sendInFlight starts a send on a server that answers every reply 100 ms
// late and returns once it holds a pool slot (it then counts as in flight).
func sendInFlight(t *testing.T, srv *mailtest.Server, s *Session) <-chan error {
	t.Helper()
	srv.SetFaults(mailtest.Faults{ReplyDelay: 100 * time.Millisecond})
	done := make(chan error, 1)
	go func() {
		done <- s.Send(ctxT(t), &Message{To: []string{mailtest.DefaultUser}, Text: "in flight"})
	}()
	// Wait until the send holds a pool slot: a fixed sleep would let a
	// slow machine call Shutdown or Close first.
	for len(s.pool.sem) == 0 {
		select {
		case err := <-done:
			t.Fatalf("send ended before Shutdown or Close: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	return done
}

// Shutdown waits for a send in flight, which succeeds; the idle connection
// gets RSET (rsetbeforequit) then QUIT; later sends fail with ErrClosed.
func TestShutdownWaitsForSendsInProgress(t *testing.T) {
	checkNoLeaks(t)
	srv := mailtest.NewServer(t)
	s := newTestSession(t, srv, mailtest.Plain, WithProperty("mail.smtp.rsetbeforequit", "true"))
	sendOK(t, s, mailtest.DefaultUser)
	done := sendInFlight(t, srv, s)
	if err := s.Shutdown(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	// Shutdown returned after the send's transaction ended: the server has
	// the message already (the sending goroutine may not have reported yet).
	if n := len(srv.Received()); n != 2 {
		t.Fatalf("Shutdown returned with %d messages received, want the one in flight too", n)
	}
	if err := <-done; err != nil {
		t.Fatalf("in-flight send: %v", err)
	}
	cmds := srv.SMTPCommands()
	if n := len(cmds); n < 2 || cmds[n-2] != "RSET" || cmds[n-1] != "QUIT" {
		t.Errorf("want RSET then QUIT at the end (rsetbeforequit): %v", cmds)
	}
	if err := s.Send(ctxT(t), &Message{To: []string{mailtest.DefaultUser}, Text: "x"}); !errors.Is(err, ErrClosed) {
		t.Errorf("after Shutdown: %v", err)
	}
}

// Close stops a send in flight at once: it fails, with ErrClosed.
func TestCloseStopsSendsInProgress(t *testing.T) {
	checkNoLeaks(t)
	srv := mailtest.NewServer(t)
	s := newTestSession(t, srv, mailtest.Plain)
	done := sendInFlight(t, srv, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the send in flight succeeded after Close")
		}
		var se *SendError
		if !errors.Is(err, ErrClosed) || !errors.As(err, &se) || len(se.Sent) != 0 {
			t.Errorf("in-flight send after Close = %v, want a SendError matching ErrClosed", err)
		}
	case <-ctxT(t).Done():
		t.Fatal("the send in flight did not end after Close")
	}
	if err := s.Send(ctxT(t), &Message{To: []string{mailtest.DefaultUser}, Text: "x"}); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

// recorder is a go-smtp backend that records envelope details mailtest does
// not expose: EHLO name, MAIL and RCPT parameters.
type recorder struct {
	mu    sync.Mutex
	hello []string
	mail  []smtp.MailOptions
	rcpt  []smtp.RcptOptions
	froms []string
}

func (r *recorder) NewSession(c *smtp.Conn) (smtp.Session, error) {
	r.mu.Lock()
	r.hello = append(r.hello, c.Hostname())
	r.mu.Unlock()
	return &recSession{r: r}, nil
}

type recSession struct{ r *recorder }

func (s *recSession) Mail(from string, o *smtp.MailOptions) error {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.r.froms = append(s.r.froms, from)
	if o != nil {
		s.r.mail = append(s.r.mail, *o)
	}
	return nil
}

func (s *recSession) Rcpt(to string, o *smtp.RcptOptions) error {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	if o != nil {
		s.r.rcpt = append(s.r.rcpt, *o)
	}
	return nil
}

func (s *recSession) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}
func (s *recSession) Reset()        {}
func (s *recSession) Logout() error { return nil }

func TestEnvelopeParameters(t *testing.T) {
	transactionStyles(t, func(t *testing.T, _ txStyle, opt Option) {
		rec := &recorder{}
		port := goSMTPServer(t, rec, func(srv *smtp.Server) { srv.EnableDSN, srv.EnableSMTPUTF8 = true, true })
		s := mustSession(t, props(
			"mail.smtp.host", "127.0.0.1",
			"mail.smtp.port", strconv.Itoa(port),
			"mail.smtp.localhost", "app.example.com",
			"mail.smtp.dsn.notify", "FAILURE,DELAY",
			"mail.smtp.dsn.ret", "HDRS",
		), opt)
		if err := s.Send(ctxT(t), &Message{From: "a@example.com", To: []string{"zoë@example.com"}, Text: "x"}); err != nil {
			t.Fatal(err)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if len(rec.hello) != 1 || rec.hello[0] != "app.example.com" {
			t.Errorf("EHLO name %v", rec.hello)
		}
		// BODY=8BITMIME when offered, so SendRaw's 8-bit bytes are declared.
		if len(rec.mail) != 1 || rec.mail[0].Return != smtp.DSNReturnHeaders || !rec.mail[0].UTF8 || rec.mail[0].Body != smtp.Body8BitMIME {
			t.Errorf("MAIL options %+v", rec.mail)
		}
		if len(rec.rcpt) != 1 || len(rec.rcpt[0].Notify) != 2 || rec.rcpt[0].Notify[0] != smtp.DSNNotifyFailure {
			t.Errorf("RCPT options %+v", rec.rcpt)
		}
	})
}

func TestTLSTrustSettings(t *testing.T) {
	srv := mailtest.NewServer(t)
	send := func(opts ...Option) error {
		s, err := FromProperties(srv.Properties(mailtest.ImplicitTLS, ""), append(opts, WithLogger(quietLogger()))...)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		return s.Send(ctxT(t), &Message{To: []string{mailtest.DefaultUser}, Text: "x"})
	}
	wrongName := WithTLSConfig(&tls.Config{ServerName: "wrong.example.com"})
	if err := send(WithRootCAs(srv.CertPool()), wrongName); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("host name mismatch accepted: %v", err)
	}
	// ssl.checkserveridentity=false: chain checked, name not.
	if err := send(WithRootCAs(srv.CertPool()), wrongName, WithProperty("mail.smtps.ssl.checkserveridentity", "false")); err != nil {
		t.Errorf("checkserveridentity=false: %v", err)
	}
	// ... but an untrusted chain is still refused.
	if err := send(WithProperty("mail.smtps.ssl.checkserveridentity", "false")); err == nil {
		t.Errorf("checkserveridentity=false accepted an untrusted chain")
	}
	// ssl.trust naming the host accepts its certificate; another host does not.
	if err := send(WithProperty("mail.smtps.ssl.trust", "other.example.com 127.0.0.1")); err != nil {
		t.Errorf("ssl.trust host list: %v", err)
	}
	if err := send(WithProperty("mail.smtps.ssl.trust", "other.example.com")); err == nil {
		t.Errorf("ssl.trust for another host accepted this one")
	}
	// JavaMail's meaning: a host list that does not name the server
	// refuses it even when its certificate verifies ("Server is not
	// trusted").
	if err := send(WithRootCAs(srv.CertPool()), WithProperty("mail.smtps.ssl.trust", "other.example.com")); err == nil || !strings.Contains(err.Error(), "not trusted") {
		t.Errorf("ssl.trust not naming the host: %v, want it refused", err)
	}
	// ssl.protocols caps the version.
	s, err := FromProperties(srv.Properties(mailtest.ImplicitTLS, ""), WithRootCAs(srv.CertPool()), WithProperty("mail.smtps.ssl.protocols", "TLSv1.2"), WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rep, err := s.Check(ctxT(t))
	if err != nil || rep.Transport.TLSVersion != "TLS 1.2" {
		t.Errorf("ssl.protocols=TLSv1.2: %v %v", rep.Transport.TLSVersion, err)
	}
}

// stallBackend accepts the envelope and then never reads the message body,
// as a server whose disk is full or whose process hangs.
type stallBackend struct{ release chan struct{} }

func (b stallBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return stallSession(b), nil }

type stallSession stallBackend

func (stallSession) Mail(string, *smtp.MailOptions) error { return nil }
func (stallSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s stallSession) Data(io.Reader) error {
	<-s.release
	return errors.New("stalled")
}
func (stallSession) Reset()        {}
func (stallSession) Logout() error { return nil }

// TestWriteTimeoutCoversDataBody: go-smtp sets no deadline around the body;
// ours does, so a server that stops reading cannot block a send.
func TestWriteTimeoutCoversDataBody(t *testing.T) {
	checkNoLeaks(t)
	release := make(chan struct{})
	port := goSMTPServer(t, stallBackend{release}, func(srv *smtp.Server) { srv.MaxMessageBytes = 1 << 30 })
	t.Cleanup(func() { close(release) }) // runs before the server's Close
	// With DATA: go-smtp v0.25.1's server races (Conn.Close against
	// handleBdat's unlocked use of its BDAT pipe) when it is closed while
	// a BDAT chunk is stalled; the write timeout is the same for both.
	s := mustSession(t, nil, WithHost("127.0.0.1", port), WithFrom("a@example.com"),
		WithTimeouts(time.Second, time.Second, 200*time.Millisecond), WithChunking(false))
	// ctxT's 20 s would end a hung send with a context error instead.
	err := s.Send(ctxT(t), &Message{To: []string{"b@example.com"}, Attachments: []Attachment{{Filename: "big.bin", Data: &patternReader{n: 200 << 20}}}})
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !strings.Contains(err.Error(), "write timed out after 200ms") {
		t.Fatalf("err %v, want a write timeout", err)
	}
}

// silentQuitServer is a scripted SMTP server that completes a transaction
// and then never answers QUIT, as a hung server.
func silentQuitServer(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				io.WriteString(c, "220 hung.example ESMTP\r\n")
				inData := false
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					cmd := strings.ToUpper(strings.TrimSpace(line))
					switch {
					case inData:
						if cmd == "." {
							inData = false
							io.WriteString(c, "250 queued\r\n")
						}
					case strings.HasPrefix(cmd, "EHLO"):
						io.WriteString(c, "250-hung.example\r\n250 8BITMIME\r\n")
					case cmd == "DATA":
						inData = true
						io.WriteString(c, "354 go on\r\n")
					case cmd == "QUIT":
						<-done // never answers
						return
					default:
						io.WriteString(c, "250 ok\r\n")
					}
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestQuitBoundByContext: with connectionpooltimeout=0 the connection is
// closed with QUIT inside Send, and Check ends with QUIT: both must end
// with ctx, not wait the read timeout for a server that never answers.
func TestQuitBoundByContext(t *testing.T) {
	port := silentQuitServer(t)
	s := mustSession(t, nil, WithHost("127.0.0.1", port), WithFrom("a@example.com"), WithPool(1, 0),
		WithTimeouts(time.Second, time.Hour, time.Hour))
	run := func(name string, f func(ctx context.Context) error) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- f(ctx) }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s: %v (the work was done; only QUIT went unanswered)", name, err)
			}
		case <-time.After(15 * time.Second): // a hang guard, not a timing assertion
			t.Fatalf("%s still waiting for the QUIT reply after its context ended", name)
		}
	}
	run("Send", func(ctx context.Context) error {
		return s.Send(ctx, &Message{To: []string{"b@example.com"}, Text: "x"})
	})
	run("Check", func(ctx context.Context) error {
		_, err := s.Check(ctx)
		return err
	})
}

// TestQuitWaitFalse: with mail.smtp.quitwait=false, Close says QUIT and
// does not wait for the reply (the server here never sends it).
func TestQuitWaitFalse(t *testing.T) {
	port := silentQuitServer(t)
	s := mustSession(t, nil, WithHost("127.0.0.1", port), WithFrom("a@example.com"),
		WithTimeouts(time.Second, time.Hour, time.Hour), WithProperty("mail.smtp.quitwait", "false"))
	if err := s.Send(ctxT(t), &Message{To: []string{"b@example.com"}, Text: "x"}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second): // a hang guard, not a timing assertion
		t.Fatal("Close waits for the QUIT reply although quitwait=false")
	}
}
