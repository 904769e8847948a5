package pop3

// One test per defect of knadh/go-pop3 v1.0.0 listed in issue 6, each named
// after it: the test shows the defect through the library (where it can be
// shown without hanging or crashing the test) and that our layer does not
// have it. Everything goes through mailtest, except (f): mailtest never
// answers STAT with a bare "+OK", so a scripted listener plays that server.

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	gopop3 "github.com/knadh/go-pop3"

	"github.com/jmailgo/jmail/mailsession/mailtest"
)

// libConn logs go-pop3 in to srv's plain POP3 port.
func libConn(t *testing.T, srv *mailtest.Server, login bool) *gopop3.Conn {
	t.Helper()
	lib, err := gopop3.New(gopop3.Opt{Host: srv.Host(), Port: srv.Ports().POP3}).NewConn()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lib.Quit() })
	if login {
		if err := lib.Auth(mailtest.DefaultUser, mailtest.DefaultPassword); err != nil {
			t.Fatal(err)
		}
	}
	return lib
}

func TestDefectA_NoDotUnstuffing(t *testing.T) {
	srv := mailtest.NewServer(t)
	want := []byte("Subject: dots\r\n\r\n.x\r\n..y\r\n.\r\n")
	srv.Deliver(mailtest.DefaultUser, want)

	lib := libConn(t, srv, true)
	got, err := lib.RetrRaw(1)
	if err != nil {
		t.Fatal(err)
	}
	lib.Quit()
	if !bytes.Contains(got.Bytes(), []byte("\r\n..x\r\n...y\r\n..\r\n")) {
		t.Errorf("go-pop3 no longer shows defect (a): %q", got.Bytes())
	}

	ours := retrAll(t, dial(t, srv, mailtest.Plain, Options{}), 1)
	if !bytes.Equal(ours, want) {
		t.Errorf("ours = %q, want %q", ours, want)
	}
}

func TestDefectB_SplitsLongLines(t *testing.T) {
	srv := mailtest.NewServer(t)
	long := strings.Repeat("0123456789", 1000)
	want := []byte("Subject: long\r\n\r\n" + long + "\r\n")
	srv.Deliver(mailtest.DefaultUser, want)

	lib := libConn(t, srv, true)
	got, err := lib.RetrRaw(1)
	if err != nil {
		t.Fatal(err)
	}
	lib.Quit()
	if bytes.Contains(got.Bytes(), []byte(long)) {
		t.Errorf("go-pop3 no longer shows defect (b)")
	}

	ours := retrAll(t, dial(t, srv, mailtest.Plain, Options{}), 1)
	if !bytes.Equal(ours, want) {
		t.Errorf("ours differs: %s", firstDiff(ours, want))
	}
}

func TestDefectC_NoCAPAandNoSTLS(t *testing.T) {
	typ := reflect.TypeOf(&gopop3.Conn{})
	for _, m := range []string{"Capa", "Capabilities", "STLS", "Stls", "StartTLS"} {
		if _, ok := typ.MethodByName(m); ok {
			t.Errorf("go-pop3 now has %s: defect (c) may be gone", m)
		}
	}

	srv := mailtest.NewServer(t)
	ctx := testContext(t)
	c := connect(t, srv, mailtest.Plain, Options{})
	caps, err := c.Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !caps.Has("STLS") || !caps.Has("UIDL") || !caps.Has("user") {
		t.Fatalf("CAPA = %v, want STLS, UIDL and USER", caps)
	}
	if err := c.StartTLS(ctx, upgrader(srv)); err != nil {
		t.Fatal(err)
	}
	if !c.TLS() {
		t.Error("TLS() false after STLS")
	}
	caps, err = c.Capabilities(ctx)
	if err != nil || caps.Has("STLS") {
		t.Errorf("CAPA after STLS = %v, %v; want no STLS", caps, err)
	}
	if err := c.Login(ctx, mailtest.DefaultUser, mailtest.DefaultPassword); err != nil {
		t.Fatal(err)
	}
	c.Quit(ctx)

	srv.SetFaults(mailtest.Faults{NoSTARTTLS: true})
	c = connect(t, srv, mailtest.Plain, Options{})
	if err := c.StartTLS(ctx, upgrader(srv)); !errors.Is(err, ErrNoSTLS) {
		t.Errorf("STLS refused = %v, want ErrNoSTLS", err)
	}
	if err := c.Login(ctx, mailtest.DefaultUser, mailtest.DefaultPassword); err != nil {
		t.Errorf("connection unusable after a refused STLS: %v", err)
	}
}

func TestDefectD_NoDeadlineAfterDial(t *testing.T) {
	// go-pop3 dials with a timeout and then never sets a deadline: its
	// Conn holds the net.Conn it dialled and reads it without one. Ours
	// gives every read its own deadline, go-pop3's reads included.
	srv := mailtest.NewServer(t, mailtest.WithUser(mailtest.DefaultUser, mailtest.DefaultPassword), mailtest.WithUser("other@example.com", "pw"))
	c := dial(t, srv, mailtest.Plain, Options{ReadTimeout: time.Second})
	c2 := connect(t, srv, mailtest.Plain, Options{ReadTimeout: time.Second})
	if err := c2.Login(testContext(t), "other@example.com", "pw"); err != nil {
		t.Fatal(err)
	}
	srv.SetFaults(mailtest.Faults{ReplyDelay: 4 * time.Second})
	var ne net.Error
	if err := c.Noop(testContext(t)); !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("NOOP (go-pop3's I/O) against a silent server = %v, want a timeout", err)
	}
	if _, _, err := c2.Stat(testContext(t)); !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("STAT (ours) against a silent server = %v, want a timeout", err)
	}
}

// allocated returns the bytes allocated while f runs.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func bigMessage(size int) []byte {
	var b bytes.Buffer
	b.WriteString("Subject: big\r\n\r\n")
	line := strings.Repeat("x", 76) + "\r\n"
	for b.Len() < size {
		b.WriteString(line)
	}
	return b.Bytes()
}

func TestDefectE_BuffersWholeMessage(t *testing.T) {
	const size = 8 << 20
	srv := mailtest.NewServer(t)
	srv.Deliver(mailtest.DefaultUser, bigMessage(size))

	lib := libConn(t, srv, true)
	libBytes := allocated(func() {
		if _, err := lib.RetrRaw(1); err != nil {
			t.Fatal(err)
		}
	})
	if libBytes < size {
		t.Errorf("go-pop3 allocated %d bytes for a %d-byte message: defect (e) gone?", libBytes, size)
	}
	lib.Quit()

	c := dial(t, srv, mailtest.Plain, Options{})
	var n int64
	ours := allocated(func() {
		r, err := c.Retr(testContext(t), 1)
		if err != nil {
			t.Fatal(err)
		}
		n, err = io.Copy(io.Discard, r)
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
	})
	if n < size {
		t.Fatalf("read %d bytes", n)
	}
	if ours > size/8 {
		t.Errorf("ours allocated %d bytes for a %d-byte message, want far less", ours, size)
	}
	t.Logf("RETR of %d bytes: go-pop3 allocated %d bytes, ours %d", size, libBytes, ours)
}

// scriptedServer accepts connections, logs any user in, and answers
// commands from replies (by upper-case verb), every other one with a bare
// "+OK" (which is also its answer to STAT).
func scriptedServer(t *testing.T, replies ...map[string]string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(30 * time.Second))
				conn.Write([]byte("+OK scripted\r\n"))
				sc := bufio.NewScanner(conn)
				for sc.Scan() {
					verb, _, _ := strings.Cut(sc.Text(), " ")
					if len(replies) > 0 && replies[0][strings.ToUpper(verb)] != "" {
						conn.Write([]byte(replies[0][strings.ToUpper(verb)]))
						continue
					}
					conn.Write([]byte("+OK\r\n"))
					if strings.EqualFold(sc.Text(), "QUIT") {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func TestDefectF_StatPanicsOnBareOK(t *testing.T) {
	addr := scriptedServer(t)
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)

	lib, err := gopop3.New(gopop3.Opt{Host: host, Port: p}).NewConn()
	if err != nil {
		t.Fatal(err)
	}
	panicked := func() (v any) {
		defer func() { v = recover() }()
		lib.Stat()
		return nil
	}()
	if panicked == nil {
		t.Error("go-pop3's Stat no longer panics on a bare +OK: defect (f) gone?")
	}
	lib.Quit()

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(testContext(t), conn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(testContext(t), "u", "p"); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Stat(testContext(t))
	var pe *ProtocolError
	if !errors.As(err, &pe) || !pe.Malformed || pe.Command != "STAT" {
		t.Errorf("STAT on a bare +OK = %v, want a malformed-reply *ProtocolError", err)
	}
	// Same for listings with a missing field (go-pop3 indexes f[1]).
	if _, err := c.List(testContext(t)); err == nil {
		t.Error("LIST accepted a malformed answer")
	}
}

func TestDefectG_CRLFInUserPassReachesTheWire(t *testing.T) {
	srv := mailtest.NewServer(t)
	srv.Deliver(mailtest.DefaultUser, []byte("Subject: x\r\n\r\nx\r\n"))

	// go-pop3: one User call, two commands on the wire; the injected PASS
	// logs in, which a NOOP (refused before login) then shows.
	lib := libConn(t, srv, false)
	if err := lib.User(mailtest.DefaultUser + "\r\nPASS " + mailtest.DefaultPassword); err != nil {
		t.Fatal(err)
	}
	if err := lib.Noop(); err != nil {
		t.Errorf("go-pop3 no longer passes CR/LF through (defect (g) gone?): %v", err)
	}
	lib.Quit() // reads the NOOP's reply as QUIT's: wait for the unlock
	ctx := testContext(t)
	dial(t, srv, mailtest.Plain, Options{}).Quit(ctx)

	c := connect(t, srv, mailtest.Plain, Options{})
	for _, bad := range [][2]string{
		{mailtest.DefaultUser + "\r\nPASS " + mailtest.DefaultPassword, "x"},
		{mailtest.DefaultUser, "x\r\nDELE 1"},
		{mailtest.DefaultUser, "x\nNOOP"},
		{"", "x"},
		{strings.Repeat("u", 2000), "x"},
	} {
		if err := c.Login(ctx, bad[0], bad[1]); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Login(%q, %q) = %v, want ErrInvalidArgument", bad[0], bad[1], err)
		}
	}
	// Nothing was sent: the session is still in the authorization state
	// and a clean login works.
	if err := c.Login(ctx, mailtest.DefaultUser, mailtest.DefaultPassword); err != nil {
		t.Fatal(err)
	}
}

func TestDefectH_UntypedErrors(t *testing.T) {
	srv := mailtest.NewServer(t)
	lib := libConn(t, srv, false)
	libErr := lib.Auth(mailtest.DefaultUser, "wrong")
	if libErr == nil || reflect.TypeOf(libErr).String() != "*errors.errorString" {
		t.Errorf("go-pop3's error is %T now: defect (h) gone?", libErr)
	}

	c := connect(t, srv, mailtest.Plain, Options{})
	err := c.Login(testContext(t), mailtest.DefaultUser, "wrong")
	var pe *ProtocolError
	if !errors.As(err, &pe) || pe.Command != "PASS" || pe.Code != "AUTH" || !errors.Is(err, ErrAuth) {
		t.Fatalf("wrong password = %#v, want *ProtocolError{PASS, [AUTH]}", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error shows the password: %v", err)
	}
	_, err = c.Retr(testContext(t), 1) // not logged in
	if !errors.As(err, &pe) || pe.Command != "RETR" || errors.Is(err, ErrAuth) {
		t.Errorf("RETR before login = %v, want a *ProtocolError for RETR", err)
	}
}

func BenchmarkRetr8MB(b *testing.B) {
	const size = 8 << 20
	srv := mailtest.NewServer(b)
	srv.Deliver(mailtest.DefaultUser, bigMessage(size))
	b.Run("ours", func(b *testing.B) {
		c := dial(b, srv, mailtest.Plain, Options{})
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			r, err := c.Retr(testContext(b), 1)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, r)
			r.Close()
		}
		c.Quit(testContext(b))
	})
	b.Run("go-pop3", func(b *testing.B) {
		lib, err := gopop3.New(gopop3.Opt{Host: srv.Host(), Port: srv.Ports().POP3}).NewConn()
		if err != nil {
			b.Fatal(err)
		}
		if err := lib.Auth(mailtest.DefaultUser, mailtest.DefaultPassword); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := lib.RetrRaw(1); err != nil {
				b.Fatal(err)
			}
		}
		lib.Quit()
	})
}

// Mailpit sends an extra CRLF before the terminator of a message that ends
// with CRLF; the server's own octet count tells it apart from a message
// that really ends with an empty line.
func TestExtraCRLFBeforeTerminatorDropped(t *testing.T) {
	for _, tc := range []struct{ reply, want string }{
		{"+OK 5 octets\r\nabc\r\n\r\n.\r\n", "abc\r\n"},               // Mailpit
		{"+OK 7 octets\r\nabc\r\n\r\n.\r\n", "abc\r\n\r\n"},           // a real empty last line
		{"+OK\r\nabc\r\n\r\n.\r\n", "abc\r\n\r\n"},                    // no count: bytes as sent
		{"+OK 5 octets\r\nabc\r\n\r\nx\r\n.\r\n", "abc\r\n\r\nx\r\n"}, // wrong count, more data
	} {
		addr := scriptedServer(t, map[string]string{"RETR": tc.reply})
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c, err := NewClient(testContext(t), conn, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := string(retrAll(t, c, 1)); got != tc.want {
			t.Errorf("reply %q: got %q, want %q", tc.reply, got, tc.want)
		}
		if err := c.Noop(testContext(t)); err != nil {
			t.Errorf("reply %q: connection out of step: %v", tc.reply, err)
		}
		c.Close()
	}
}
