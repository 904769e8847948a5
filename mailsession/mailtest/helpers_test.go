package mailtest

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// hardMessage has a 10,000-character line, lines starting with '.', a lone
// "." line and a ".." line: what dot-stuffing and line handling get wrong.
func hardMessage(subject string) []byte {
	return HardMessage("user@example.com", DefaultUser, subject)
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dialSMTP connects a go-smtp client in the given mode.
func dialSMTP(t testing.TB, s *Server, mode Mode) *smtp.Client {
	t.Helper()
	var c *smtp.Client
	var err error
	switch mode {
	case Plain:
		c, err = smtp.Dial(s.Addr(s.Ports().SMTP))
	case StartTLS:
		c, err = smtp.DialStartTLS(s.Addr(s.Ports().SMTP), s.ClientTLSConfig())
	case ImplicitTLS:
		c, err = smtp.DialTLS(s.Addr(s.Ports().SMTPS), s.ClientTLSConfig())
	}
	if err != nil {
		t.Fatalf("dial SMTP %v: %v", mode, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// sendSMTP authenticates with PLAIN and sends one message.
func sendSMTP(t testing.TB, s *Server, mode Mode, from string, to []string, data []byte) {
	t.Helper()
	c := dialSMTP(t, s, mode)
	if err := c.Auth(sasl.NewPlainClient("", DefaultUser, DefaultPassword)); err != nil {
		t.Fatalf("AUTH: %v", err)
	}
	if err := c.SendMail(from, to, strings.NewReader(string(data))); err != nil {
		t.Fatalf("send: %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Fatalf("QUIT: %v", err)
	}
}

func hmacMD5Hex(key string, msg []byte) string {
	m := hmac.New(md5.New, []byte(key))
	m.Write(msg)
	return hex.EncodeToString(m.Sum(nil))
}

// waitFor polls cond for up to 10 s: for state that a server goroutine
// updates just after the client has its reply (QUIT, connection close).
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
