package mailtest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/knadh/go-pop3"
)

// rawPOP3 is a minimal POP3 client that keeps bytes exact: it reads lines of
// any length and undoes dot-stuffing.
type rawPOP3 struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func dialPOP3(t testing.TB, s *Server, implicitTLS bool) *rawPOP3 {
	t.Helper()
	var conn net.Conn
	var err error
	if implicitTLS {
		conn, err = tls.Dial("tcp", s.Addr(s.Ports().POP3S), s.ClientTLSConfig())
	} else {
		conn, err = net.Dial("tcp", s.Addr(s.Ports().POP3))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	p := &rawPOP3{t: t, conn: conn, r: bufio.NewReader(conn)}
	if g := p.line(); !strings.HasPrefix(g, "+OK") {
		t.Fatalf("greeting %q", g)
	}
	return p
}

func (p *rawPOP3) line() string {
	p.t.Helper()
	p.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	l, err := p.r.ReadString('\n')
	if err != nil {
		p.t.Fatalf("read: %v", err)
	}
	return strings.TrimSuffix(l, "\r\n")
}

// cmd sends a command and returns the status line.
func (p *rawPOP3) cmd(c string) string {
	p.t.Helper()
	if _, err := p.conn.Write([]byte(c + "\r\n")); err != nil {
		p.t.Fatal(err)
	}
	return p.line()
}

// ok sends a command that must succeed.
func (p *rawPOP3) ok(c string) string {
	p.t.Helper()
	l := p.cmd(c)
	if !strings.HasPrefix(l, "+OK") {
		p.t.Fatalf("%s: %s", strings.Fields(c)[0], l)
	}
	return l
}

// multi reads a multi-line body, undoing dot-stuffing, exact bytes.
func (p *rawPOP3) multi() []byte {
	p.t.Helper()
	var b bytes.Buffer
	for {
		l := p.line()
		if l == "." {
			return b.Bytes()
		}
		b.WriteString(strings.TrimPrefix(l, "."))
		b.WriteString("\r\n")
	}
}

func (p *rawPOP3) login() {
	p.t.Helper()
	p.ok("USER " + DefaultUser)
	p.ok("PASS " + DefaultPassword)
}

func (p *rawPOP3) startTLS(s *Server) {
	p.t.Helper()
	p.ok("STLS")
	tc := tls.Client(p.conn, s.ClientTLSConfig())
	if err := tc.Handshake(); err != nil {
		p.t.Fatal(err)
	}
	p.conn, p.r = tc, bufio.NewReader(tc)
}

func (p *rawPOP3) capa() string {
	p.t.Helper()
	p.ok("CAPA")
	return string(p.multi())
}

func TestPOP3ExactBytes(t *testing.T) {
	s := NewServer(t)
	msg := hardMessage("pop3")
	sendSMTP(t, s, StartTLS, "a@remote.test", []string{DefaultUser}, msg)
	for _, implicit := range []bool{false, true} {
		p := dialPOP3(t, s, implicit)
		p.login()
		if got, want := p.ok("STAT"), "+OK 1 "; !strings.HasPrefix(got, want) || !strings.HasSuffix(got, " "+itoa(len(msg))) {
			t.Errorf("STAT = %q", got)
		}
		p.ok("RETR 1")
		if got := p.multi(); !bytes.Equal(got, msg) {
			t.Errorf("RETR differs: %d bytes, want %d", len(got), len(msg))
		}
		p.ok("TOP 1 2")
		want := "From: user@example.com\r\nTo: user@example.com\r\nSubject: pop3\r\n\r\n.leading dot\r\n.\r\n"
		if got := string(p.multi()); got != want {
			t.Errorf("TOP 1 2 = %q, want %q", got, want)
		}
		p.ok("TOP 1 0")
		if got := string(p.multi()); !strings.HasSuffix(got, "Subject: pop3\r\n\r\n") {
			t.Errorf("TOP 1 0 = %q", got)
		}
		for _, bad := range []string{"TOP 1", "TOP 1 x", "TOP 1 -1", "TOP 1 2 3", "TOP x 1", "TOP 2 1", "TOP 1 +1", "RETR +1", "LIST 01x"} {
			if l := p.cmd(bad); !strings.HasPrefix(l, "-ERR") {
				t.Errorf("%s = %q, want -ERR", bad, l)
			}
		}
		p.ok("UIDL")
		if got := string(p.multi()); !strings.HasPrefix(got, "1 1.1\r\n") {
			t.Errorf("UIDL = %q", got)
		}
		p.ok("LIST 1")
		if l := p.cmd("LIST 2"); !strings.HasPrefix(l, "-ERR") {
			t.Errorf("LIST 2 = %q", l)
		}
		p.ok("QUIT")
	}
}

func TestPOP3DeleteOnlyAtQuit(t *testing.T) {
	s := NewServer(t)
	for i := range 3 {
		s.Deliver(DefaultUser, []byte("Subject: "+itoa(i)+"\r\n\r\nbody\r\n"))
	}
	// A dropped connection deletes nothing.
	p := dialPOP3(t, s, false)
	p.login()
	p.ok("DELE 1")
	if l := p.cmd("DELE 1"); !strings.HasPrefix(l, "-ERR") {
		t.Errorf("second DELE 1 = %q", l)
	}
	if l := p.cmd("RETR 1"); !strings.HasPrefix(l, "-ERR") {
		t.Errorf("RETR of deleted = %q", l)
	}
	p.conn.Close()
	// The lock is released when the server sees the drop.
	waitFor(t, func() bool {
		p2 := dialPOP3(t, s, false)
		p2.ok("USER " + DefaultUser)
		ok := strings.HasPrefix(p2.cmd("PASS "+DefaultPassword), "+OK")
		if ok {
			// QUIT releases the lock before its reply; a mere close
			// would race with the next login below.
			p2.ok("QUIT")
		}
		p2.conn.Close()
		return ok
	})
	if n := len(s.Messages(DefaultUser)); n != 3 {
		t.Fatalf("after a dropped session %d messages, want 3", n)
	}

	// RSET undoes DELE; QUIT applies the rest.
	p = dialPOP3(t, s, false)
	p.login()
	p.ok("DELE 1")
	p.ok("RSET")
	p.ok("DELE 2")
	if l := p.ok("STAT"); l != "+OK 2 "+itoa(2*len("Subject: 0\r\n\r\nbody\r\n")) {
		t.Errorf("STAT after DELE = %q", l)
	}
	p.ok("QUIT")
	waitFor(t, func() bool { return len(s.Messages(DefaultUser)) == 2 })
	msgs := s.Messages(DefaultUser)
	if len(msgs) != 2 || string(msgs[0].Data) != "Subject: 0\r\n\r\nbody\r\n" || string(msgs[1].Data) != "Subject: 2\r\n\r\nbody\r\n" {
		t.Errorf("after QUIT: %+v", msgs)
	}
}

func TestPOP3LockAndAuth(t *testing.T) {
	s := NewServer(t)
	p := dialPOP3(t, s, false)
	p.ok("USER " + DefaultUser)
	if l := p.cmd("PASS wrong"); !strings.HasPrefix(l, "-ERR [AUTH]") {
		t.Errorf("bad password: %q", l)
	}
	if l := p.cmd("STAT"); !strings.HasPrefix(l, "-ERR") {
		t.Errorf("STAT before login: %q", l)
	}
	p.login()
	p2 := dialPOP3(t, s, true)
	p2.ok("USER " + DefaultUser)
	if l := p2.cmd("PASS " + DefaultPassword); !strings.HasPrefix(l, "-ERR [IN-USE]") {
		t.Errorf("second login: %q", l)
	}
	p.ok("QUIT")
}

func TestPOP3STLS(t *testing.T) {
	s := NewServer(t)
	p := dialPOP3(t, s, false)
	if c := p.capa(); !strings.Contains(c, "STLS\r\n") || !strings.Contains(c, "UIDL\r\n") {
		t.Errorf("CAPA before STLS: %q", c)
	}
	p.startTLS(s)
	if c := p.capa(); strings.Contains(c, "STLS") {
		t.Errorf("CAPA after STLS still lists it: %q", c)
	}
	p.login()
	p.ok("QUIT")

	pt := dialPOP3(t, s, true)
	if c := pt.capa(); strings.Contains(c, "STLS") {
		t.Errorf("CAPA on implicit TLS lists STLS: %q", c)
	}
}

// tlsDialer lets knadh/go-pop3 verify the server with the test CA.
type tlsDialer struct{ cfg *tls.Config }

func (d tlsDialer) Dial(network, addr string) (net.Conn, error) {
	return tls.Dial(network, addr, d.cfg)
}

func TestPOP3KnadhClient(t *testing.T) {
	s := NewServer(t)
	plain := []byte("Subject: plain\r\n\r\nline one\r\nline two\r\n")
	sendSMTP(t, s, Plain, "a@remote.test", []string{DefaultUser}, plain)
	sendSMTP(t, s, ImplicitTLS, "a@remote.test", []string{DefaultUser}, hardMessage("knadh"))

	c := pop3.New(pop3.Opt{Host: s.Host(), Port: s.Ports().POP3S, Dialer: tlsDialer{s.ClientTLSConfig()}})
	conn, err := c.NewConn()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Quit()
	if err := conn.Auth(DefaultUser, DefaultPassword); err != nil {
		t.Fatal(err)
	}
	n, size, err := conn.Stat()
	if err != nil || n != 2 || size != len(plain)+len(hardMessage("knadh")) {
		t.Fatalf("Stat = %d %d %v", n, size, err)
	}
	ids, err := conn.Uidl(0)
	if err != nil || len(ids) != 2 || ids[1].UID != "1.2" {
		t.Fatalf("Uidl = %+v %v", ids, err)
	}
	raw, err := conn.RetrRaw(1)
	if err != nil || !bytes.Equal(raw.Bytes(), plain) {
		t.Fatalf("RetrRaw = %q %v", raw, err)
	}
	// The knadh client neither unstuffs dots nor keeps long lines whole,
	// so only check that the hard message arrives complete.
	raw, err = conn.RetrRaw(2)
	if err != nil || !bytes.Contains(raw.Bytes(), []byte("\r\n..leading dot\r\n")) {
		t.Fatalf("RetrRaw(2): %v", err)
	}
	if err := conn.Dele(1); err != nil {
		t.Fatal(err)
	}
	if err := conn.Quit(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(s.Messages(DefaultUser)) == 1 })
	if m := s.Messages(DefaultUser); len(m) != 1 || m[0].UID != 2 {
		t.Errorf("after DELE 1 + QUIT: %+v", m)
	}
}

func TestPOP3SASL(t *testing.T) {
	s := NewServer(t)
	p := dialPOP3(t, s, true)
	if c := p.capa(); !strings.Contains(c, "SASL PLAIN LOGIN XOAUTH2 OAUTHBEARER SCRAM-SHA-256-PLUS SCRAM-SHA-1-PLUS SCRAM-SHA-256 SCRAM-SHA-1\r\n") {
		t.Errorf("CAPA: %q", c)
	}
	plain := base64.StdEncoding.EncodeToString([]byte("\x00" + DefaultUser + "\x00" + DefaultPassword))
	p.ok("AUTH PLAIN " + plain)
	p.ok("QUIT")

	// XOAUTH2 with a bad token: an error challenge, then -ERR [AUTH].
	p = dialPOP3(t, s, true)
	bad := base64.StdEncoding.EncodeToString([]byte("user=" + DefaultUser + "\x01auth=Bearer nope\x01\x01"))
	if l := p.cmd("AUTH XOAUTH2 " + bad); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("bad XOAUTH2: %q", l)
	}
	if l := p.cmd(""); !strings.HasPrefix(l, "-ERR [AUTH]") {
		t.Errorf("after the error challenge: %q", l)
	}
	good := base64.StdEncoding.EncodeToString([]byte("user=" + DefaultUser + "\x01auth=Bearer " + DefaultToken + "\x01\x01"))
	p.ok("AUTH XOAUTH2 " + good)

	// LOGIN without an initial response, step by step.
	p = dialPOP3(t, s, false)
	p.startTLS(s)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	if l := p.cmd("AUTH LOGIN"); l != "+ "+b64("Username:") {
		t.Fatalf("AUTH LOGIN: %q", l)
	}
	if l := p.cmd(b64(DefaultUser)); l != "+ "+b64("Password:") {
		t.Fatalf("after user: %q", l)
	}
	if l := p.cmd(b64(DefaultPassword)); !strings.HasPrefix(l, "-ERR [IN-USE]") {
		t.Errorf("AUTH LOGIN while the XOAUTH2 session holds the lock: %q", l)
	}
}

// A message delivered with bare LF line ends is stored with CRLF, as a
// mail system stores it, so POP3 sizes, RETR bytes and IMAP agree and a
// POP3 client reading CRLF lines sees the terminator.
func TestDeliverBareLF(t *testing.T) {
	s := NewServer(t)
	if err := s.Deliver(DefaultUser, []byte("Subject: lf\n\n.dot\nbody\r\nlast")); err != nil {
		t.Fatal(err)
	}
	want := "Subject: lf\r\n\r\n.dot\r\nbody\r\nlast"
	if m := s.Messages(DefaultUser); len(m) != 1 || string(m[0].Data) != want {
		t.Fatalf("stored %+v, want one message %q", m, want)
	}
	p := dialPOP3(t, s, false)
	p.login()
	if l := p.ok("STAT"); l != "+OK 1 "+itoa(len(want)) {
		t.Errorf("STAT = %q, want size %d", l, len(want))
	}
	p.ok("RETR 1")
	if got := string(p.multi()); got != want+"\r\n" {
		t.Errorf("RETR = %q, want %q", got, want+"\r\n")
	}
	p.ok("QUIT")
}
