package mailsession

import (
	"context"
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

// sendOK sends one message and fails the test on error: proves the session
// works again after a fault.
func sendOK(t *testing.T, s *Session, to string) {
	t.Helper()
	if err := s.Send(ctxT(t), &Message{To: []string{to}, Subject: "ok", Text: "ok"}); err != nil {
		t.Fatalf("send after the fault: %v", err)
	}
}

// txStyle is one way the engine speaks a transaction: with or without
// PIPELINING, with BDAT (CHUNKING) or DATA. mailtest offers both
// extensions; the session is told not to use them.
type txStyle struct{ pipelining, chunking bool }

func (st txStyle) String() string {
	name := "lockstep"
	if st.pipelining {
		name = "pipelining"
	}
	if st.chunking {
		return name + "+chunking"
	}
	return name + "+data"
}

// txStyles are the four transaction styles.
var txStyles = []txStyle{{true, true}, {true, false}, {false, true}, {false, false}}

// transactionStyles runs f in each transaction style, opt selecting it.
func transactionStyles(t *testing.T, f func(t *testing.T, st txStyle, opt Option)) {
	for _, st := range txStyles {
		opt := func(c *config) {
			WithPipelining(st.pipelining)(c)
			WithChunking(st.chunking)(c)
		}
		t.Run(st.String(), func(t *testing.T) { f(t, st, opt) })
	}
}

func TestRejectedRecipients(t *testing.T) {
	transactionStyles(t, testRejectedRecipients)
}

func testRejectedRecipients(t *testing.T, st txStyle, opt Option) {
	checkNoLeaks(t)
	srv := mailtest.NewServer(t)
	s := newTestSession(t, srv, mailtest.Plain, opt)
	srv.SetFaults(mailtest.Faults{RejectRecipients: map[string]int{"bad@elsewhere.example": 550, "later@elsewhere.example": 450}})

	err := s.Send(ctxT(t), &Message{To: []string{mailtest.DefaultUser, "bad@elsewhere.example", "later@elsewhere.example"}, Text: "x"})
	var se *SendError
	if !errors.As(err, &se) {
		t.Fatalf("err %v, want *SendError", err)
	}
	if len(se.Sent) != 0 || len(se.Unsent) != 1 || se.Unsent[0] != mailtest.DefaultUser || len(se.Rejected) != 2 {
		t.Fatalf("outcome sent=%v unsent=%v rejected=%v", se.Sent, se.Unsent, se.Rejected)
	}
	if r := se.Rejected[0]; r.Address != "bad@elsewhere.example" || r.Code != 550 || r.Temporary() {
		t.Errorf("first rejection %+v", r)
	}
	if r := se.Rejected[1]; r.Code != 450 || !r.Temporary() {
		t.Errorf("second rejection %+v", r)
	}
	if !errors.Is(err, ErrPermanent) || errors.Is(err, ErrTemporary) || IsTemporary(err) {
		t.Errorf("a 550 among the failures must make the send permanent")
	}
	if len(srv.Received()) != 0 {
		t.Errorf("message sent although sendpartial is off")
	}
	if !strings.Contains(err.Error(), "sendpartial") {
		t.Errorf("error does not say why the valid recipient got nothing: %v", err)
	}

	// Only a 450: temporary.
	err = s.Send(ctxT(t), &Message{To: []string{"later@elsewhere.example"}, Text: "x"})
	if !errors.Is(err, ErrTemporary) || !IsTemporary(err) {
		t.Errorf("450 only: %v, want temporary", err)
	}
	srv.SetFaults(mailtest.Faults{})
	sendOK(t, s, mailtest.DefaultUser)
	cmds := srv.SMTPCommands()
	// In lockstep, and with BDAT, the refused recipient is known before
	// the body: RSET on the same connection. Pipelined with DATA, DATA was
	// already accepted: the connection is dropped before the final dot
	// (nothing delivered) and replaced.
	wantConns := 1
	if st.pipelining && !st.chunking {
		wantConns = 2
	}
	if count(cmds, "RSET") < 1 || srv.SMTPConnections() != wantConns {
		t.Errorf("want RSET after the failed transaction and %d connections: %v (%d conns)", wantConns, cmds, srv.SMTPConnections())
	}
	if n := count(cmds, "EHLO"); n != wantConns {
		t.Errorf("%d EHLO, want one per connection (RSET must not make the next MAIL repeat EHLO): %v", n, cmds)
	}
	if n := len(srv.Received()); n != 1 {
		t.Errorf("%d delivered, want only the last send", n)
	}
}

func TestSendPartial(t *testing.T) {
	transactionStyles(t, func(t *testing.T, _ txStyle, opt Option) {
		testSendPartial(t, opt)
	})
}

func testSendPartial(t *testing.T, opt Option) {
	srv := mailtest.NewServer(t)
	s := newTestSession(t, srv, mailtest.Plain, WithSendPartial(true), opt)
	srv.SetFaults(mailtest.Faults{RejectRecipients: map[string]int{"bad@elsewhere.example": 550}})
	err := s.Send(ctxT(t), &Message{To: []string{mailtest.DefaultUser, "bad@elsewhere.example"}, Text: "x"})
	var se *SendError
	if !errors.As(err, &se) || len(se.Sent) != 1 || len(se.Rejected) != 1 || se.Rejected[0].EnhancedCode[0] != 5 {
		t.Fatalf("err %v, want SendError with one sent and one rejected with an enhanced code", err)
	}
	if got := srv.Received(); len(got) != 1 || len(got[0].To) != 1 {
		t.Fatalf("delivered %v, want once to the valid recipient", got)
	}
}

func TestDataFailure(t *testing.T) {
	transactionStyles(t, func(t *testing.T, _ txStyle, opt Option) {
		testDataFailure(t, opt)
	})
}

func testDataFailure(t *testing.T, opt Option) {
	checkNoLeaks(t)
	srv := mailtest.NewServer(t)
	s := newTestSession(t, srv, mailtest.StartTLS, opt)
	for _, code := range []int{554, 451} {
		srv.SetFaults(mailtest.Faults{FailData: code})
		err := s.Send(ctxT(t), &Message{To: []string{mailtest.DefaultUser}, Text: "x"})
		var se *SendError
		if !errors.As(err, &se) || len(se.Unsent) != 1 {
			t.Fatalf("DATA %d: %v", code, err)
		}
		if IsTemporary(err) != (code == 451) {
			t.Errorf("DATA %d: temporary=%v", code, IsTemporary(err))
		}
		if !strings.Contains(err.Error(), "DATA") && !strings.Contains(err.Error(), "BDAT LAST") {
			t.Errorf("error does not say DATA failed: %v", err)
		}
	}
	srv.SetFaults(mailtest.Faults{})
	sendOK(t, s, mailtest.DefaultUser)
	if n := srv.SMTPConnections(); n != 1 {
		t.Errorf("a refused DATA should keep the connection: %d connections", n)
	}
}

func TestConnectionCutMidData(t *testing.T) {
	transactionStyles(t, testConnectionCutMidData)
}

func testConnectionCutMidData(t *testing.T, _ txStyle, opt Option) {
	checkNoLeaks(t)
	srv := mailtest.NewServer(t)
	s := newTestSession(t, srv, mailtest.Plain, opt)
	srv.SetFaults(mailtest.Faults{CutDataAfter: 1000})
	err := s.Send(ctxT(t), &Message{To: []string{mailtest.DefaultUser}, Text: strings.Repeat("line of text\n", 10000)})
	var se *SendError
	if !errors.As(err, &se) {
		t.Fatalf("cut mid-message: %v, want a *SendError", err)
	}
	switch {
	case len(se.Uncertain) == 1:
		// When the write of the whole message (it fits the socket
		// buffers) completed before the cut was noticed, no reply came to
		// a complete message: the client cannot know it was not taken.
		if !errors.Is(err, ErrUncertain) || IsTemporary(err) || errors.Is(err, ErrPermanent) {
			t.Errorf("uncertain outcome misclassified: %v", err)
		}
	case len(se.Unsent) == 1:
		if !IsTemporary(err) || !errors.Is(err, ErrTemporary) {
			t.Errorf("cut before the end of the message: %v, want temporary", err)
		}
	default:
		t.Fatalf("outcome %+v", se)
	}
	if len(srv.Received()) != 0 {
		t.Fatalf("a cut message was delivered")
	}
	srv.SetFaults(mailtest.Faults{})
	sendOK(t, s, mailtest.DefaultUser)
	if n := len(srv.Received()); n != 1 {
		t.Errorf("%d delivered, want 1", n)
	}
}

func TestSlowServerTimesOut(t *testing.T) {
	transactionStyles(t, func(t *testing.T, st txStyle, opt Option) {
		checkNoLeaks(t)
		srv := mailtest.NewServer(t)
		s := newTestSession(t, srv, mailtest.Plain, opt, WithTimeouts(time.Second, 150*time.Millisecond, 150*time.Millisecond))
		sendOK(t, s, mailtest.DefaultUser) // a pooled connection exists
		srv.SetFaults(mailtest.Faults{ReplyDelay: 600 * time.Millisecond})
		err := s.Send(ctxT(t), &Message{To: []string{mailtest.DefaultUser}, Text: "x"})
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("slow server: %v, want a timeout", err)
		}
		if st.pipelining && st.chunking {
			// MAIL, RCPT and BDAT LAST went out together: the server may
			// have the message.
			if !errors.Is(err, ErrUncertain) || IsTemporary(err) {
				t.Fatalf("slow server, one group: %v, want ErrUncertain", err)
			}
		} else if !IsTemporary(err) || errors.Is(err, ErrUncertain) {
			t.Fatalf("slow server: %v, want a temporary timeout before the end of the message", err)
		}
		if !strings.Contains(err.Error(), "timed out after 150ms") {
			t.Errorf("error does not name the timeout: %v", err)
		}
		srv.SetFaults(mailtest.Faults{})
		sendOK(t, s, mailtest.DefaultUser)
	})
}

func TestContextCancelsSend(t *testing.T) {
	checkNoLeaks(t)
	srv := mailtest.NewServer(t)
	s := newTestSession(t, srv, mailtest.Plain)
	sendOK(t, s, mailtest.DefaultUser)
	srv.SetFaults(mailtest.Faults{ReplyDelay: 2 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := s.Send(ctx, &Message{To: []string{mailtest.DefaultUser}, Text: "x"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want context.DeadlineExceeded", err)
	}
	// Explicit cancellation while waiting in a fresh dial's greeting.
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel2() }()
	if err := s.Send(ctx2, &Message{To: []string{mailtest.DefaultUser}, Text: "x"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	srv.SetFaults(mailtest.Faults{})
	sendOK(t, s, mailtest.DefaultUser)
}

func TestRefusedAuth(t *testing.T) {
	checkNoLeaks(t)
	srv := mailtest.NewServer(t)
	s := newTestSession(t, srv, mailtest.StartTLS)
	srv.SetFaults(mailtest.Faults{RefuseAuth: true})
	err := s.Send(ctxT(t), &Message{To: []string{mailtest.DefaultUser}, Text: "x"})
	if !errors.Is(err, ErrAuth) || IsTemporary(err) {
		t.Fatalf("refused AUTH: %v, want permanent ErrAuth", err)
	}
	if strings.Contains(err.Error(), mailtest.DefaultPassword) {
		t.Errorf("password in the error: %v", err)
	}
	srv.SetFaults(mailtest.Faults{})
	sendOK(t, s, mailtest.DefaultUser)
}

func TestStartTLSRequiredButNotOffered(t *testing.T) {
	checkNoLeaks(t)
	srv := mailtest.NewServer(t)
	srv.SetFaults(mailtest.Faults{NoSTARTTLS: true})
	s := newTestSession(t, srv, mailtest.StartTLS)
	err := s.Send(ctxT(t), &Message{To: []string{mailtest.DefaultUser}, Text: "x"})
	if !errors.Is(err, ErrTLSRequired) {
		t.Fatalf("err %v, want ErrTLSRequired", err)
	}
	if cmds := srv.SMTPCommands(); count(cmds, "AUTH") != 0 || count(cmds, "MAIL") != 0 {
		t.Errorf("went on without TLS: %v", cmds)
	}
	srv.SetFaults(mailtest.Faults{})
	sendOK(t, s, mailtest.DefaultUser)
}

func TestOpportunisticStartTLS(t *testing.T) {
	srv := mailtest.NewServer(t)
	srv.SetFaults(mailtest.Faults{NoSTARTTLS: true})
	// starttls.enable without required: goes on in clear to a loopback host.
	s := newTestSession(t, srv, mailtest.Plain, WithProperty("mail.smtp.starttls.enable", "true"))
	sendOK(t, s, mailtest.DefaultUser)
	srv.SetFaults(mailtest.Faults{})
	s2 := newTestSession(t, srv, mailtest.Plain, WithProperty("mail.smtp.starttls.enable", "true"))
	sendOK(t, s2, mailtest.DefaultUser)
	if n := count(srv.SMTPCommands(), "STARTTLS"); n != 1 {
		t.Errorf("STARTTLS used %d times, want once (when offered)", n)
	}
}

func TestUntrustedCertificateFailsAtConnect(t *testing.T) {
	srv := mailtest.NewServer(t)
	for _, mode := range []mailtest.Mode{mailtest.StartTLS, mailtest.ImplicitTLS} {
		s, err := FromProperties(srv.Properties(mode, "")) // system roots only
		if err != nil {
			t.Fatal(err)
		}
		err = s.Send(ctxT(t), &Message{To: []string{mailtest.DefaultUser}, Text: "x"})
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("%v: err %v, want a certificate error", mode, err)
		}
		s.Close()
		// ssl.trust=* accepts it (JavaMail's meaning).
		s, err = FromProperties(srv.Properties(mode, ""), WithProperty("mail.smtp.ssl.trust", "*"), WithProperty("mail.smtps.ssl.trust", "*"))
		if err != nil {
			t.Fatal(err)
		}
		sendOK(t, s, mailtest.DefaultUser)
		s.Close()
	}
	if n := count(srv.SMTPCommands(), "AUTH"); n != 2 {
		t.Errorf("AUTH sent %d times, want only on the 2 trusted sessions", n)
	}
}

// TestDeadPooledConnectionReplaced kills the pooled connection behind the
// session's back (through a proxy) and checks the next message is delivered
// exactly once on a new connection.
func TestDeadPooledConnectionReplaced(t *testing.T) {
	transactionStyles(t, func(t *testing.T, _ txStyle, opt Option) {
		testDeadPooledConnectionReplaced(t, opt)
	})
}

func testDeadPooledConnectionReplaced(t *testing.T, opt Option) {
	checkNoLeaks(t)
	srv := mailtest.NewServer(t)
	px := newProxy(t, srv.Addr(srv.Ports().SMTP), 0)
	s := newTestSession(t, srv, mailtest.Plain, WithHost("127.0.0.1", px.port()), opt)
	sendOK(t, s, mailtest.DefaultUser)
	px.killAll()
	sendOK(t, s, mailtest.DefaultUser)
	if n := len(srv.Received()); n != 2 {
		t.Fatalf("%d delivered, want 2 (none lost, none duplicated)", n)
	}
	if n := srv.SMTPConnections(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

func TestUnreachableServerIsTemporarySendError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := mustSession(t, nil, WithHost("127.0.0.1", port), WithFrom("a@example.com"))
	err = s.Send(ctxT(t), &Message{To: []string{"b@example.com"}, Text: "x"})
	var se *SendError
	if !errors.As(err, &se) || len(se.Unsent) != 1 || !errors.Is(err, ErrTemporary) {
		t.Fatalf("err %v, want a temporary *SendError with the recipient unsent", err)
	}
}

// TestManyRecipientsPipelinedInGroups sends to more recipients than one
// pipelined group holds, with one refused in the middle.
func TestManyRecipientsPipelinedInGroups(t *testing.T) {
	srv := mailtest.NewServer(t)
	s := newTestSession(t, srv, mailtest.Plain, WithSendPartial(true))
	var to []string
	for i := 0; i < 2*maxPipeline+50; i++ {
		to = append(to, "r"+strconv.Itoa(i)+"@elsewhere.example")
	}
	srv.SetFaults(mailtest.Faults{RejectRecipients: map[string]int{"r150@elsewhere.example": 550}})
	err := s.Send(ctxT(t), &Message{Bcc: to, Text: "many"})
	var se *SendError
	if !errors.As(err, &se) || len(se.Sent) != len(to)-1 || len(se.Rejected) != 1 || se.Rejected[0].Address != "r150@elsewhere.example" {
		t.Fatalf("err %v", err)
	}
	if got := srv.Received(); len(got) != 1 || len(got[0].To) != len(to)-1 {
		t.Fatalf("received %d transactions", len(got))
	}
	srv.SetFaults(mailtest.Faults{})
	sendOK(t, s, mailtest.DefaultUser)
}

func TestServerRequiresAuthTheSessionDoesNotGive(t *testing.T) {
	transactionStyles(t, func(t *testing.T, _ txStyle, opt Option) {
		srv := mailtest.NewServer(t, mailtest.WithAuthRequired())
		s := mustSession(t, nil, WithHost("127.0.0.1", srv.Ports().SMTP), WithFrom(mailtest.DefaultUser), opt)
		err := s.Send(ctxT(t), &Message{To: []string{mailtest.DefaultUser}, Text: "x"})
		if !errors.Is(err, ErrPermanent) || !strings.Contains(err.Error(), "set mail.smtp.auth=true") {
			t.Fatalf("err %v", err)
		}
	})
}

// failingReader fails after n bytes, as a file on a dying disk.
type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("disk on fire")
	}
	n := min(len(p), r.n)
	for i := range p[:n] {
		p[i] = 'z'
	}
	r.n -= n
	return n, nil
}

func TestAttachmentReadErrorSendsNothing(t *testing.T) {
	transactionStyles(t, func(t *testing.T, _ txStyle, opt Option) {
		checkNoLeaks(t)
		srv := mailtest.NewServer(t)
		s := newTestSession(t, srv, mailtest.Plain, opt)
		err := s.Send(ctxT(t), &Message{To: []string{mailtest.DefaultUser}, Text: "x",
			Attachments: []Attachment{{Filename: "a.bin", Data: &failingReader{n: 100000}}}})
		var se *SendError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), "disk on fire") || len(se.Unsent) != 1 {
			t.Fatalf("err %v", err)
		}
		if n := len(srv.Received()); n != 0 {
			t.Fatalf("a message with a failed attachment was delivered")
		}
		sendOK(t, s, mailtest.DefaultUser)
	})
}

// closingBackend answers the second MAIL on every connection with 421, as
// Postfix does on a connection it has timed out or is shutting down (RFC
// 5321 4.2.2: the service is closing the channel).
type closingBackend struct {
	mu        sync.Mutex
	delivered int
	conns     int
}

func (b *closingBackend) NewSession(*smtp.Conn) (smtp.Session, error) {
	b.mu.Lock()
	b.conns++
	b.mu.Unlock()
	return &closingSession{b: b}, nil
}

type closingSession struct {
	b     *closingBackend
	mails int
}

func (s *closingSession) Mail(string, *smtp.MailOptions) error {
	s.mails++
	if s.mails > 1 {
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "timeout exceeded"}
	}
	return nil
}
func (s *closingSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *closingSession) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	s.b.mu.Lock()
	s.b.delivered++
	s.b.mu.Unlock()
	return nil
}
func (s *closingSession) Reset()        {}
func (s *closingSession) Logout() error { return nil }

// TestPooledConnection421Replaced: a pooled connection whose server answers
// 421 (closing) before anything was accepted is replaced and the message
// sent once on a new connection, not reported as failed.
func TestPooledConnection421Replaced(t *testing.T) {
	transactionStyles(t, func(t *testing.T, _ txStyle, opt Option) {
		checkNoLeaks(t)
		b := &closingBackend{}
		port := goSMTPServer(t, b, nil)
		s := mustSession(t, nil, WithHost("127.0.0.1", port), WithFrom("a@example.com"), opt)
		for i := range 3 {
			if err := s.Send(ctxT(t), &Message{To: []string{"b@example.com"}, Text: "x"}); err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
		}
		s.Close()
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.delivered != 3 || b.conns != 3 {
			t.Errorf("%d delivered on %d connections, want 3 on 3", b.delivered, b.conns)
		}
	})
}

// TestNonASCIIAddressWithoutSMTPUTF8 sends to a non-ASCII address through a
// server that does not offer SMTPUTF8: a permanent error in both
// transaction styles, nothing retried, and the connection stays in use.
func TestNonASCIIAddressWithoutSMTPUTF8(t *testing.T) {
	transactionStyles(t, func(t *testing.T, _ txStyle, opt Option) {
		rec := &recorder{}
		port := goSMTPServer(t, rec, nil) // SMTPUTF8 not enabled
		s := mustSession(t, nil, WithHost("127.0.0.1", port), WithFrom("a@example.com"), opt)
		if err := s.Send(ctxT(t), &Message{To: []string{"b@example.com"}, Text: "x"}); err != nil {
			t.Fatal(err)
		}
		err := s.Send(ctxT(t), &Message{To: []string{"zoë@example.com"}, Text: "x"})
		if err == nil || IsTemporary(err) || !errors.Is(err, ErrPermanent) || !strings.Contains(err.Error(), "SMTPUTF8") {
			t.Fatalf("err %v, want a permanent error naming SMTPUTF8", err)
		}
		if err := s.Send(ctxT(t), &Message{To: []string{"b@example.com"}, Text: "x"}); err != nil {
			t.Fatal(err)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if len(rec.hello) != 1 {
			t.Errorf("%d connections, want 1 (the refusal is not a connection failure)", len(rec.hello))
		}
	})
}
