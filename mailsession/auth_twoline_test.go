package mailsession

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/jmailgo/jmail/mailsession/mailtest"
)

// mail.pop3.auth.xoauth2.two.line.authentication.format (Liferay's key for
// Microsoft's POP3): true sends XOAUTH2's initial response after the
// server's "+"; false or unset, on the AUTH line unless too long for it.
func TestPOP3XOAUTH2TwoLineFormat(t *testing.T) {
	long := strings.Repeat("T", 400)
	for _, tc := range []struct {
		name, value, token string
		onLine             bool
	}{
		{"unset", "", "tok-short", true},
		{"false", "false", "tok-short", true},
		{"true", "true", "tok-short", false},
		{"unset, long token", "", long, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := mailtest.NewServer(t, mailtest.WithUser(mailtest.DefaultUser, mailtest.DefaultPassword), mailtest.WithOAuthToken(mailtest.DefaultUser, tc.token))
			var buf bytes.Buffer
			var mu sync.Mutex
			l := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
			opts := []Option{WithDebug(l), WithProperty("mail.pop3.auth.mechanisms", "XOAUTH2"), WithProperty("mail.pop3.password", tc.token)}
			if tc.value != "" {
				opts = append(opts, WithProperty("mail.pop3.auth.xoauth2.two.line.authentication.format", tc.value))
			}
			s := storeSession(t, srv, mailtest.StartTLS, "pop3", opts...)
			st, err := s.OpenStore(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			st.Close()
			mu.Lock()
			out := buf.String()
			mu.Unlock()
			inline := strings.Contains(out, `"C: AUTH XOAUTH2 <redacted>"`)
			bare := strings.Contains(out, `"C: AUTH XOAUTH2"`)
			if inline != tc.onLine || bare == tc.onLine {
				t.Errorf("initial response on the AUTH line = %v, want %v:\n%s", inline, tc.onLine, out)
			}
			if strings.Contains(out, tc.token) {
				t.Errorf("trace shows the token:\n%s", out)
			}
		})
	}
}
