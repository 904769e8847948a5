package mailsession

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
)

// TestTraceRedactsStoreLogins checks the redaction rules for POP3 and IMAP
// commands, which the store side sends through the same traceConn.
func TestTraceRedactsStoreLogins(t *testing.T) {
	cases := []struct {
		proto   string
		client  []string
		server  []string
		secrets []string
		keep    []string
	}{
		{"pop3", []string{"USER bob", "PASS pop-secret", "APOP bob 0123abcd"}, nil, []string{"pop-secret", "0123abcd"}, []string{"C: USER bob", "C: PASS <redacted>"}},
		{"imap", []string{`a1 LOGIN bob "imap secret"`, "a2 AUTHENTICATE PLAIN AGJvYgBwdw==", "a3 SELECT INBOX"}, []string{"a1 OK", "a2 OK"}, []string{"imap secret", "AGJvYgBwdw=="}, []string{"C: a1 LOGIN <redacted>", "C: a2 AUTHENTICATE PLAIN <redacted>", "C: a3 SELECT INBOX"}},
		{"imap", []string{"a1 AUTHENTICATE XOAUTH2", "dXNlcj1ib2IBYXV0aD1CZWFyZXIgdG9rAQE=", "a2 NOOP"}, []string{"+ ", "a1 OK done"}, []string{"dXNlcj1ib2"}, []string{"C: a2 NOOP"}},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		a, b := net.Pipe()
		tc := newTraceConn(a, l, &endpoint{Protocol: c.proto, Host: "h", Port: 1})
		go io.Copy(io.Discard, b)
		for i, line := range c.client {
			tc.Write([]byte(line + "\r\n"))
			if i < len(c.server) {
				tc.mu.Lock()
				tc.in.WriteString(c.server[i] + "\r\n")
				tc.flush(&tc.in, false)
				tc.mu.Unlock()
			}
		}
		a.Close()
		b.Close()
		out := buf.String()
		for _, s := range c.secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s: trace shows %q:\n%s", c.proto, s, out)
			}
		}
		for _, k := range c.keep {
			if !strings.Contains(out, k) {
				t.Errorf("%s: trace lacks %q:\n%s", c.proto, k, out)
			}
		}
	}
}
