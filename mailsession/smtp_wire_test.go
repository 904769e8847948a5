package mailsession

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-smtp"
)

// scriptedSMTP serves one scripted conversation per connection on
// loopback: greet sends the greeting, then answer gets each command line
// and returns the raw reply bytes ("" for none; a "close" reply closes the
// connection). The lines received are recorded.
type scriptedSMTP struct {
	t        *testing.T
	port     int
	answer   func(line string) string
	greeting string // "" is 220

	mu    sync.Mutex
	lines []string
}

func newScriptedSMTP(t *testing.T, answer func(line string) string) *scriptedSMTP {
	t.Helper()
	return newScriptedSMTPGreeting(t, "", answer)
}

// newScriptedSMTPGreeting is newScriptedSMTP with another greeting.
func newScriptedSMTPGreeting(t *testing.T, greeting string, answer func(line string) string) *scriptedSMTP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ss := &scriptedSMTP{t: t, port: ln.Addr().(*net.TCPAddr).Port, answer: answer, greeting: greeting}
	var wg sync.WaitGroup
	var conns sync.Map
	t.Cleanup(func() {
		ln.Close()
		conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Store(c, nil)
			wg.Go(func() { ss.serve(c) })
		}
	})
	return ss
}

func (ss *scriptedSMTP) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	greeting := ss.greeting
	if greeting == "" {
		greeting = "220 scripted ESMTP\r\n"
	}
	c.Write([]byte(greeting))
	inData := false
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		if inData {
			if line == "." {
				inData = false
				line = "<end of data>"
			} else {
				continue
			}
		}
		ss.mu.Lock()
		ss.lines = append(ss.lines, line)
		ss.mu.Unlock()
		r := ss.answer(line)
		if r == "close" {
			return
		}
		if strings.HasPrefix(r, "354") {
			inData = true
		}
		if strings.EqualFold(line, "QUIT") && r == "" {
			r = "221 bye\r\n"
		}
		c.Write([]byte(r))
		if strings.EqualFold(line, "QUIT") {
			return
		}
	}
}

func (ss *scriptedSMTP) received() []string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return append([]string(nil), ss.lines...)
}

// plainAnswers is a minimal well-behaved server without extensions
// beyond those in ehlo.
func plainAnswers(ehlo string, line string) string {
	verb, _, _ := strings.Cut(strings.ToUpper(line), " ")
	switch verb {
	case "EHLO":
		return ehlo
	case "HELO", "MAIL", "RCPT", "RSET", "NOOP":
		return "250 ok\r\n"
	case "DATA":
		return "354 go on\r\n"
	case "<END":
		return "250 queued\r\n"
	}
	return "500 what\r\n"
}

func scriptedSession(t *testing.T, ss *scriptedSMTP, opts ...Option) *Session {
	return mustSession(t, nil, append([]Option{WithHost("127.0.0.1", ss.port), WithFrom("a@example.com")}, opts...)...)
}

// TestServerRepliesChecked: replies that are out of step with the commands,
// too long, malformed, or bytes after the STARTTLS reply fail the send
// with a temporary error that says so; nothing is reported sent.
func TestServerRepliesChecked(t *testing.T) {
	long := strings.Repeat("x", maxReplyLine+10)
	many := strings.Repeat("250-"+strings.Repeat("y", 1000)+"\r\n", maxReplyBytes/1000+2) + "250 end\r\n"
	cases := []struct {
		name   string
		answer func(line string) string
		want   string
	}{
		{"354 to MAIL", func(l string) string {
			if strings.HasPrefix(l, "MAIL") {
				return "354 out of step\r\n"
			}
			return plainAnswers("250 hi\r\n", l)
		}, "out of step"},
		{"3xx to RCPT", func(l string) string {
			if strings.HasPrefix(l, "RCPT") {
				return "334 what\r\n"
			}
			return plainAnswers("250 hi\r\n", l)
		}, "out of step"},
		{"reply line too long", func(l string) string {
			return plainAnswers("250-hi\r\n250 "+long+"\r\n", l)
		}, "reply longer than"},
		{"reply too long in all", func(l string) string {
			return plainAnswers(many, l)
		}, "reply longer than"},
		{"mixed codes", func(l string) string {
			return plainAnswers("250-hi\r\n251 PIPELINING\r\n", l)
		}, "malformed server reply"},
		{"not SMTP", func(l string) string {
			return plainAnswers("HTTP/1.1 400 Bad Request\r\n", l)
		}, "malformed server reply"},
		{"data after STARTTLS", func(l string) string {
			if l == "STARTTLS" {
				return "220 go\r\n250 injected\r\n"
			}
			return plainAnswers("250-hi\r\n250 STARTTLS\r\n", l)
		}, "after its STARTTLS reply"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ss := newScriptedSMTP(t, c.answer)
			s := scriptedSession(t, ss, WithProperty("mail.smtp.starttls.enable", "true"))
			err := s.Send(ctxT(t), &Message{To: []string{"b@example.com"}, Text: "x"})
			var se *SendError
			if !errors.As(err, &se) || len(se.Unsent) != 1 || len(se.Sent)+len(se.Uncertain) != 0 {
				t.Fatalf("err %v, want the recipient unsent", err)
			}
			if !strings.Contains(err.Error(), c.want) || !IsTemporary(err) {
				t.Errorf("err %v, want temporary and %q", err, c.want)
			}
			for _, l := range ss.received() {
				if l == "<end of data>" {
					t.Errorf("the message was sent: %v", ss.received())
				}
			}
		})
	}
}

// TestHELOFallbackAndEmptyLastLine: a server that refuses EHLO gets HELO
// and a plain DATA transaction; an EHLO reply ending in an empty "250 "
// line (Postfix's smtp-sink) is accepted.
func TestHELOFallbackAndEmptyLastLine(t *testing.T) {
	for name, ehlo := range map[string]string{
		"HELO":       "502 no ESMTP here\r\n",
		"empty line": "250-sink\r\n250-PIPELINING\r\n250 \r\n",
	} {
		t.Run(name, func(t *testing.T) {
			ss := newScriptedSMTP(t, func(l string) string { return plainAnswers(ehlo, l) })
			s := scriptedSession(t, ss)
			if err := s.Send(ctxT(t), &Message{To: []string{"b@example.com"}, Text: "x"}); err != nil {
				t.Fatal(err)
			}
			got := strings.Join(ss.received(), "|")
			if name == "HELO" && !strings.Contains(got, "|HELO ") {
				t.Errorf("no HELO after the refused EHLO: %s", got)
			}
			if !strings.Contains(got, "<end of data>") {
				t.Errorf("no message: %s", got)
			}
		})
	}
}

// TestLongInitialResponseAfterChallenge: an XOAUTH2 token too long for the
// AUTH line goes after the server's empty 334 (RFC 4954, 4).
func TestLongInitialResponseAfterChallenge(t *testing.T) {
	token := strings.Repeat("t", 600)
	ss := newScriptedSMTP(t, func(l string) string {
		switch {
		case l == "AUTH XOAUTH2":
			return "334 \r\n"
		case strings.HasPrefix(l, "AUTH"):
			return "501 initial response too long\r\n"
		case len(l) > 500:
			return "235 ok\r\n"
		}
		return plainAnswers("250-hi\r\n250 AUTH XOAUTH2\r\n", l)
	})
	s := scriptedSession(t, ss, WithAuth("a@example.com", ""), WithTokenSource(func(context.Context) (string, error) { return token, nil }),
		WithProperty("mail.smtp.auth.mechanisms", "XOAUTH2"))
	if err := s.Send(ctxT(t), &Message{To: []string{"b@example.com"}, Text: "x"}); err != nil {
		t.Fatalf("send: %v (server saw %d lines)", err, len(ss.received()))
	}
	if lines := ss.received(); !strings.Contains(strings.Join(lines, "|"), "|AUTH XOAUTH2|") {
		t.Errorf("AUTH line: %v", lines[:min(len(lines), 3)])
	}
}

// TestRoundTripsPerMessage counts the round trips a message costs, as the
// server sees them (the reads that end with the client waiting): one with
// CHUNKING and PIPELINING, two with PIPELINING and DATA.
func TestRoundTripsPerMessage(t *testing.T) {
	for _, c := range []struct {
		chunking bool
		want     int
	}{{true, 1}, {false, 2}} {
		t.Run("chunking="+strconv.FormatBool(c.chunking), func(t *testing.T) {
			port, trips := countingServer(t)
			s := mustSession(t, nil, WithHost("127.0.0.1", port), WithFrom("a@example.com"), WithChunking(c.chunking))
			sendN := func(n int) {
				for range n {
					if err := s.Send(ctxT(t), &Message{To: []string{"b@example.com"}, Text: "x"}); err != nil {
						t.Fatal(err)
					}
				}
			}
			sendN(1) // connect, EHLO: not counted
			before := trips()
			sendN(10)
			if got := (trips() - before) / 10; got != c.want {
				t.Errorf("%d round trips per message, want %d", got, c.want)
			}
		})
	}
}

// countingServer is a go-smtp server (PIPELINING and CHUNKING offered)
// that discards mail and counts round trips: the times it reads from a
// connection after having written to it. It returns its port and the
// count so far.
func countingServer(t testing.TB) (int, func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	srv := smtp.NewServer(discardBackend{})
	srv.Domain = "localhost"
	go srv.Serve(cl)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port, func() int { return int(cl.trips.Load()) }
}

type countingListener struct {
	net.Listener
	trips atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, trips: &l.trips}, nil
}

// countingConn counts a round trip at each read that follows a write.
type countingConn struct {
	net.Conn
	trips *atomic.Int64
	wrote atomic.Bool
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.wrote.Swap(false) {
		c.trips.Add(1)
	}
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.wrote.Store(true)
	return c.Conn.Write(p)
}
