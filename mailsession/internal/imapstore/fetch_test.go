package imapstore

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jmailgo/jmail/mailsession/mailtest"
)

// The command is complete once the literal is read to its end: a consumer
// that then works for longer than the read timeout before closing does
// not get a timeout, and the connection carries the next command.
func TestFetchFinishesAtEOF(t *testing.T) {
	const timeout = 200 * time.Millisecond
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			srv := mailtest.NewServer(t)
			want := [][]byte{hardMessage("one"), []byte("Subject: small\r\n\r\nsmall\r\n")}
			for _, m := range want {
				srv.Deliver(mailtest.DefaultUser, m)
			}
			opt := options(srv, mode)
			opt.ReadTimeout = timeout
			c := open(t, srv, mode, opt)
			ctx := testContext(t)
			list, err := c.List(ctx)
			if err != nil || len(list) != 2 {
				t.Fatalf("List = %v, %v", list, err)
			}
			for i, m := range list {
				r, _, err := c.Fetch(ctx, m.UID)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(r)
				if err != nil || !bytes.Equal(got, want[i]) {
					t.Fatalf("message %d: %d bytes, %v", i, len(got), err)
				}
				// The connection is free at EOF, before Close.
				if c.reading != nil {
					t.Error("the command is still open at EOF")
				}
				time.Sleep(3 * timeout)
				if n, err := r.Read(make([]byte, 10)); n != 0 || err != io.EOF {
					t.Errorf("Read after EOF = %d, %v", n, err)
				}
				if err := r.Close(); err != nil {
					t.Fatalf("Close after working on the message: %v", err)
				}
			}
			if err := c.Noop(ctx); err != nil {
				t.Fatalf("NOOP afterwards: %v", err)
			}
		})
	}
}

// Reading exactly the message's size (io.ReadFull, no EOF seen) completes
// the command as well.
func TestFetchFinishesAtLastByte(t *testing.T) {
	srv := mailtest.NewServer(t)
	msg := hardMessage("one")
	srv.Deliver(mailtest.DefaultUser, msg)
	c := open(t, srv, mailtest.Plain, Options{ReadTimeout: 200 * time.Millisecond})
	ctx := testContext(t)
	list, _ := c.List(ctx)
	r, size, err := c.Fetch(ctx, list[0].UID)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(r, buf); err != nil || !bytes.Equal(buf, msg) {
		t.Fatalf("ReadFull: %v", err)
	}
	if c.reading != nil {
		t.Fatal("the command is still open after the last byte")
	}
	time.Sleep(600 * time.Millisecond)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Noop(ctx); err != nil {
		t.Fatal(err)
	}
}

// A FETCH response with the literal before its UID item is ours: the
// message is returned, every time, on every kind of connection.
func TestFetchUIDAfterLiteral(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			srv := mailtest.NewServer(t)
			want := [][]byte{hardMessage("one"), hardMessage("two"), []byte("Subject: three\r\n\r\n3\r\n")}
			for _, m := range want {
				srv.Deliver(mailtest.DefaultUser, m)
			}
			srv.SetFaults(mailtest.Faults{FetchUIDLast: true})
			c := open(t, srv, mode, options(srv, mode))
			ctx := testContext(t)
			list, err := c.List(ctx)
			if err != nil || len(list) != 3 {
				t.Fatalf("List = %v, %v", list, err)
			}
			// Backwards, so that sequence number and UID differ in order.
			for i := len(list) - 1; i >= 0; i-- {
				if got := fetchAll(t, c, list[i].UID); !bytes.Equal(got, want[i]) {
					t.Errorf("message %d differs", i)
				}
			}
			// Closed early, the message is drained and the connection
			// stays usable.
			r, _, err := c.Fetch(ctx, list[0].UID)
			if err != nil {
				t.Fatal(err)
			}
			io.CopyN(io.Discard, r, 10)
			if err := r.Close(); err != nil {
				t.Fatalf("early Close: %v", err)
			}
			if _, _, err := c.Fetch(ctx, list[2].UID+5); !errors.Is(err, ErrNoMessage) {
				t.Errorf("fetch of a missing UID = %v, want ErrNoMessage", err)
			}
			if got := fetchAll(t, c, list[1].UID); !bytes.Equal(got, want[1]) {
				t.Error("message 1 differs after the early close")
			}
		})
	}
}

// scriptedServer answers one connection: LOGIN and SELECT succeed, and
// every UID FETCH gets fetchReply (with the tag appended as "TAG OK").
// mailtest cannot answer a FETCH with another message's UID.
func scriptedServer(t *testing.T, fetchReply string) func(context.Context) (net.Conn, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		io.WriteString(c, "* OK [CAPABILITY IMAP4rev1] scripted\r\n")
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			tag, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
			verb := strings.ToUpper(strings.Fields(rest + " x")[0])
			switch {
			case verb == "SELECT":
				io.WriteString(c, "* 1 EXISTS\r\n* OK [UIDVALIDITY 5] ok\r\n"+tag+" OK [READ-WRITE] done\r\n")
			case verb == "UID" && strings.Contains(strings.ToUpper(rest), "FETCH"):
				io.WriteString(c, fetchReply+tag+" OK done\r\n")
			case verb == "LOGOUT":
				io.WriteString(c, "* BYE\r\n"+tag+" OK done\r\n")
				return
			default:
				io.WriteString(c, tag+" OK done\r\n")
			}
		}
	}()
	return func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", ln.Addr().String())
	}
}

// A response whose literal comes first and whose UID, read afterwards, is
// another message's is not passed off as ours: reading ends in an error,
// not io.EOF.
func TestFetchUIDAfterLiteralMismatch(t *testing.T) {
	tests := []struct {
		name, reply string
		ok          bool
	}{
		{"ours", "* 1 FETCH (BODY[] {5}\r\nhello UID 7)\r\n", true},
		{"another UID", "* 1 FETCH (BODY[] {5}\r\nhello UID 9)\r\n", false},
		{"no UID", "* 1 FETCH (BODY[] {5}\r\nhello)\r\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			c, err := Dial(ctx, scriptedServer(t, tt.reply), Options{ReadTimeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Login(ctx, "u", "p"); err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.Select(ctx, ""); err != nil {
				t.Fatal(err)
			}
			r, _, err := c.Fetch(ctx, 7)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if string(got) != "hello" {
				t.Errorf("read %q", got)
			}
			if tt.ok != (err == nil) {
				t.Errorf("ReadAll error = %v, want success %v", err, tt.ok)
			}
			if cerr := r.Close(); (cerr == nil) != tt.ok {
				t.Errorf("Close = %v", cerr)
			}
		})
	}
}
