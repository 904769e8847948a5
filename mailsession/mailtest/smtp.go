package mailtest

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// smtpServer serves SMTP with go-smtp, one go-smtp Server per connection so
// that each connection has its own command recorder and STARTTLS offer.
type smtpServer struct {
	s     *Server
	conns connSet

	mu          sync.Mutex
	mechs       []string
	commands    []string
	connections int
}

func newSMTPServer(s *Server) *smtpServer {
	return &smtpServer{s: s, mechs: defaultMechanisms()}
}

// SetAuthMechanisms sets the SMTP AUTH mechanisms offered, in order, from
// PLAIN, LOGIN, CRAM-MD5, XOAUTH2, OAUTHBEARER, SCRAM-SHA-256, SCRAM-SHA-1,
// SCRAM-SHA-256-PLUS and SCRAM-SHA-1-PLUS (the -PLUS ones are offered over
// TLS only); none turns AUTH off. The default offers all of them.
func (s *Server) SetAuthMechanisms(m ...string) {
	list := make([]string, 0, len(m))
	for _, name := range m {
		list = append(list, strings.ToUpper(name))
	}
	s.smtp.mu.Lock()
	s.smtp.mechs = list
	s.smtp.mu.Unlock()
}

// SMTPCommands returns the SMTP command verbs received so far, in order, on
// all connections ("EHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA",
// "RSET", "NOOP", "QUIT" ...). Arguments, AUTH exchanges and message data
// are never recorded.
func (s *Server) SMTPCommands() []string {
	s.smtp.mu.Lock()
	defer s.smtp.mu.Unlock()
	return append([]string(nil), s.smtp.commands...)
}

// SMTPConnections returns the number of SMTP connections accepted so far
// (both ports).
func (s *Server) SMTPConnections() int {
	s.smtp.mu.Lock()
	defer s.smtp.mu.Unlock()
	return s.smtp.connections
}

func (ss *smtpServer) resetLog() {
	ss.mu.Lock()
	ss.commands = nil
	ss.connections = 0
	ss.mu.Unlock()
}

func (ss *smtpServer) close() { ss.conns.closeAll() }

func (ss *smtpServer) serve(ln net.Listener, implicitTLS bool) {
	ss.s.accept(ln, &ss.conns, implicitTLS, ss.handle)
}

// handle runs one SMTP connection to its end.
func (ss *smtpServer) handle(c net.Conn, fc *faultConn) {
	ss.mu.Lock()
	ss.connections++
	ss.mu.Unlock()

	srv := smtp.NewServer(smtp.BackendFunc(func(conn *smtp.Conn) (smtp.Session, error) {
		se := &smtpSession{ss: ss, conn: conn, fc: fc}
		se.auth = &authenticator{s: ss.s, tlsState: se.tlsState, offersPlus: func() bool {
			return slices.ContainsFunc(se.AuthMechanisms(), isPlusMechanism)
		}}
		return se, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true // loopback test server
	srv.EnableSMTPUTF8 = true
	srv.MaxMessageBytes = 64 << 20
	srv.MaxLineLength = 1 << 20
	srv.ReadTimeout = 5 * time.Minute
	srv.WriteTimeout = 5 * time.Minute
	srv.ErrorLog = logWriter{ss.s.log}
	srv.Debug = &smtpRecorder{ss: ss, fc: fc}
	if c == net.Conn(fc) && !ss.s.faults.get().NoSTARTTLS { // plain port
		srv.TLSConfig = ss.s.serverTLS()
	}

	ln := newOneConnListener(c)
	fc.onClose(ln.close)
	srv.Serve(ln)
	srv.Shutdown(context.Background()) // waits for go-smtp's connection goroutine
}

// oneConnListener hands out a single connection, then blocks until closed.
type oneConnListener struct {
	c    chan net.Conn
	addr net.Addr
	done chan struct{}
	once sync.Once
}

func newOneConnListener(c net.Conn) *oneConnListener {
	l := &oneConnListener{c: make(chan net.Conn, 1), addr: c.LocalAddr(), done: make(chan struct{})}
	l.c <- c
	return l
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.c:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *oneConnListener) close()         { l.once.Do(func() { close(l.done) }) }
func (l *oneConnListener) Close() error   { l.close(); return nil }
func (l *oneConnListener) Addr() net.Addr { return l.addr }

// smtpRecorder receives go-smtp's debug stream for one connection (client
// bytes read and server replies written, interleaved) and records the
// command verbs. A write seen on the connection since the last call marks a
// server reply; everything else was read from the client. Lines after a 334
// reply (SASL responses), after a 354 reply (message data, up to the final
// ".") and BDAT chunks are not commands.
type smtpRecorder struct {
	ss *smtpServer
	fc *faultConn

	lastWrites int64
	lastVerb   string
	handshake  bool // STARTTLS accepted: the TLS handshake writes are not replies
	line       []byte
	inData     bool
	inSASL     bool
	skip       int64 // BDAT bytes still to skip
}

func (r *smtpRecorder) Write(p []byte) (int, error) {
	w := r.fc.writeCount()
	if r.handshake {
		// The first call after "220" to STARTTLS is the client's next
		// command, read after the handshake wrote to the connection.
		r.handshake = false
		r.lastWrites = w
	}
	if w != r.lastWrites {
		r.lastWrites = w
		r.reply(p)
		return len(p), nil
	}
	r.read(p)
	return len(p), nil
}

// reply looks at the code of the last reply line.
func (r *smtpRecorder) reply(p []byte) {
	lines := bytes.Split(bytes.TrimRight(p, "\r\n"), []byte("\n"))
	last := lines[len(lines)-1]
	r.inSASL = bytes.HasPrefix(last, []byte("334"))
	r.handshake = r.lastVerb == "STARTTLS" && bytes.HasPrefix(last, []byte("220"))
	if bytes.HasPrefix(last, []byte("354")) {
		r.inData = true
	}
}

func (r *smtpRecorder) read(p []byte) {
	for len(p) > 0 {
		if r.skip > 0 {
			n := min(r.skip, int64(len(p)))
			r.skip -= n
			p = p[n:]
			continue
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if !r.inData {
				r.line = append(r.line, p...)
			} else if len(r.line) < 3 {
				r.line = append(r.line, p[:min(len(p), 3)]...)
			}
			return
		}
		r.line = append(r.line, p[:i+1]...)
		p = p[i+1:]
		r.endLine()
	}
}

func (r *smtpRecorder) endLine() {
	line := string(r.line)
	r.line = r.line[:0]
	switch {
	case r.inData:
		if line == ".\r\n" || line == ".\n" {
			r.inData = false
		}
	case r.inSASL:
		r.inSASL = false
	default:
		verb, arg, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
		verb = strings.ToUpper(verb)
		if verb == "BDAT" {
			size, _, _ := strings.Cut(strings.TrimSpace(arg), " ")
			if n, err := strconv.ParseInt(size, 10, 64); err == nil && n > 0 {
				r.skip = n
			}
		}
		r.lastVerb = verb
		r.ss.mu.Lock()
		r.ss.commands = append(r.ss.commands, verb)
		r.ss.mu.Unlock()
	}
}

// smtpSession is one SMTP connection's transaction state.
type smtpSession struct {
	ss   *smtpServer
	conn *smtp.Conn
	fc   *faultConn
	auth *authenticator

	from    string
	to      []string
	refused int // RCPTs refused in this transaction
}

var _ smtp.AuthSession = (*smtpSession)(nil)

func (se *smtpSession) Reset() {
	se.from, se.to, se.refused = "", nil, 0
}

func (se *smtpSession) Logout() error { return nil }

// AuthMechanisms are the mechanisms offered: those set, less the -PLUS
// ones without TLS.
func (se *smtpSession) AuthMechanisms() []string {
	se.ss.mu.Lock()
	mechs := append([]string(nil), se.ss.mechs...)
	se.ss.mu.Unlock()
	return forConnection(mechs, se.tlsState() != nil)
}

func (se *smtpSession) tlsState() *tls.ConnectionState {
	cs, ok := se.conn.TLSConnectionState()
	if !ok {
		return nil
	}
	return &cs
}

func (se *smtpSession) Auth(mech string) (sasl.Server, error) {
	offered := false
	for _, m := range se.AuthMechanisms() {
		offered = offered || strings.EqualFold(m, mech)
	}
	m := se.auth.mechanism(mech)
	if !offered || m == nil {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return smtpAuth{m}, nil
}

// smtpAuth turns every mechanism failure into 535 5.7.8.
type smtpAuth struct{ sasl.Server }

func (a smtpAuth) Next(response []byte) ([]byte, bool, error) {
	challenge, done, err := a.Server.Next(response)
	if err != nil {
		return nil, false, smtp.ErrAuthFailed
	}
	return challenge, done, nil
}

func (se *smtpSession) Mail(from string, opts *smtp.MailOptions) error {
	if se.ss.s.cfg.authRequired && se.auth.mb == nil {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	se.from, se.to, se.refused = from, nil, 0
	return nil
}

func (se *smtpSession) Rcpt(to string, opts *smtp.RcptOptions) error {
	f := se.ss.s.faults.get()
	n := len(se.to) + se.refused + 1
	switch {
	case f.CutAtRcpt == n:
		se.fc.Close()
		return errors.New("connection cut (mailtest fault)")
	case f.Reply421AtRcpt == n:
		// Written here, as the server's last words: go-smtp's own reply
		// would find the connection closed.
		io.WriteString(se.fc, "421 4.3.0 Service shutting down (mailtest fault)\r\n")
		se.fc.Close()
		return errors.New("connection closed (mailtest fault)")
	}
	if code := f.RejectRecipients[lowerASCII(to)]; code != 0 {
		se.refused++
		return replyError(code, "Recipient rejected (mailtest fault)")
	}
	if se.ss.s.store.lookup(to) == nil && se.ss.s.store.domains[strings.ToLower(domainOf(to))] {
		se.refused++
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
	}
	se.to = append(se.to, to)
	return nil
}

// replyError makes an SMTP error with a plausible enhanced status code.
func replyError(code int, msg string) *smtp.SMTPError {
	ec := smtp.EnhancedCode{code / 100, 0, 0}
	switch code {
	case 550, 551, 553:
		ec = smtp.EnhancedCode{5, 1, 1}
	case 450, 451, 452:
		ec = smtp.EnhancedCode{4, 2, 0}
	}
	return &smtp.SMTPError{Code: code, EnhancedCode: ec, Message: msg}
}

func (se *smtpSession) Data(r io.Reader) error {
	f := se.ss.s.faults.get()
	var buf bytes.Buffer
	if f.CutDataAfter > 0 {
		_, err := io.CopyN(&buf, r, f.CutDataAfter)
		if err == nil {
			se.fc.Close()
			return errors.New("connection cut (mailtest fault)")
		}
		if !errors.Is(err, io.EOF) {
			return err
		}
	} else if _, err := buf.ReadFrom(r); err != nil {
		return err
	}
	if f := se.ss.s.faults.get(); f.FailData != 0 {
		return replyError(f.FailData, "Message refused (mailtest fault)")
	}
	now := time.Now()
	msg := Message{From: se.from, To: append([]string(nil), se.to...), Data: buf.Bytes(), Received: now}
	if mb := se.auth.mb; mb != nil {
		msg.AuthUser = mb.addr
	}
	st := se.ss.s.store
	seen := make(map[*mailbox]bool)
	for _, rcpt := range se.to {
		if mb := st.lookup(rcpt); mb != nil && !seen[mb] {
			seen[mb] = true
			st.deliver(mb, envelope{from: se.from, to: msg.To}, msg.Data, now)
		}
	}
	st.record(msg)
	se.ss.s.log.Debug("smtp message accepted", "from", se.from, "to", msg.To, "bytes", len(msg.Data))
	if fn := se.ss.s.cfg.onMessage; fn != nil {
		m := msg
		m.To = append([]string(nil), msg.To...)
		m.Data = append([]byte(nil), msg.Data...)
		fn(m)
	}
	if f.CloseAfterDot {
		se.fc.Close()
		return errors.New("connection closed after the message was taken (mailtest fault)")
	}
	return nil
}
