package mailsession_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/mailsession/mailtest"
)

// failingList is a suppression list that cannot be read.
type failingList struct{}

func (failingList) Suppressed(context.Context, string) (string, bool, error) {
	return "", false, errors.New("list unavailable")
}

func TestSuppression(t *testing.T) {
	list := &mailsession.MemorySuppression{}
	list.Suppress(context.Background(), "Gone@Example.org", "failed 5.1.1")
	list.Suppress(context.Background(), "gone@example.org", "a second reason, ignored")
	list.Suppress(context.Background(), "spam@example.org", "complaint (abuse)")
	for _, tc := range []struct {
		name      string
		sup       mailsession.Suppressor
		to        []string
		sent      []string // what the server receives, and SendError.Sent
		rejected  []string
		reason    string // in the rejection of the first rejected
		connected bool
		failed    bool // an error that is not a *SendError
	}{
		{name: "none suppressed", sup: list, to: []string{"a@example.org", "b@example.org"}, sent: []string{"a@example.org", "b@example.org"}, connected: true},
		{name: "some", sup: list, to: []string{"a@example.org", "GONE@example.org"}, sent: []string{"a@example.org"}, rejected: []string{"GONE@example.org"}, reason: "failed 5.1.1", connected: true},
		{name: "all", sup: list, to: []string{"gone@example.org", "spam@example.org"}, rejected: []string{"gone@example.org", "spam@example.org"}, reason: "failed 5.1.1"},
		{name: "list unreadable", sup: failingList{}, to: []string{"a@example.org"}, failed: true},
		{name: "no list", to: []string{"gone@example.org"}, sent: []string{"gone@example.org"}, connected: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := mailtest.NewServer(t)
			var opts []mailsession.Option
			if tc.sup != nil {
				opts = append(opts, mailsession.WithSuppression(tc.sup))
			}
			s, err := mailsession.FromProperties(srv.Properties(mailtest.Plain, ""), opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err = s.Send(ctx, &mailsession.Message{From: "app@example.net", To: tc.to, Subject: "hi", Text: "hi\n"})
			var got []string
			for _, m := range srv.Received() {
				got = append(got, m.To...)
			}
			if !slices.Equal(got, tc.sent) {
				t.Errorf("server received for %v, want %v", got, tc.sent)
			}
			if (srv.SMTPConnections() > 0) != tc.connected {
				t.Errorf("%d SMTP connections; want a connection: %v", srv.SMTPConnections(), tc.connected)
			}
			var se *mailsession.SendError
			switch {
			case tc.failed:
				if err == nil || errors.As(err, &se) {
					t.Fatalf("Send = %v, want the list's error", err)
				}
				return
			case tc.rejected == nil:
				if err != nil {
					t.Fatalf("Send = %v", err)
				}
				return
			}
			if !errors.As(err, &se) {
				t.Fatalf("Send = %v, want a *SendError", err)
			}
			var rej []string
			for _, r := range se.Rejected {
				rej = append(rej, r.Address)
				if r.Code != 0 || r.Temporary() {
					t.Errorf("rejection %+v: want Code 0, permanent", r)
				}
			}
			if !slices.Equal(rej, tc.rejected) || !slices.Equal(se.Sent, tc.sent) {
				t.Errorf("Rejected %v, Sent %v; want %v, %v", rej, se.Sent, tc.rejected, tc.sent)
			}
			if !strings.Contains(se.Rejected[0].Error(), tc.reason) || !strings.Contains(err.Error(), "suppressed") {
				t.Errorf("error %q lacks the reason %q", err, tc.reason)
			}
			if len(tc.sent) == 0 && !errors.Is(err, mailsession.ErrPermanent) {
				t.Errorf("all suppressed: %v is not ErrPermanent", err)
			}
		})
	}
}

func TestFileSuppression(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "suppressed.txt")
	if err := os.WriteFile(path, []byte("# by hand\n\nold@example.org\tunsubscribed\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := mailsession.OpenFileSuppression(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Suppress(ctx, "new@example.org", "failed 5.1.1:\n multi-line"); err != nil {
		t.Fatal(err)
	}
	if err := f.Suppress(ctx, "NEW@example.org", "again"); err != nil {
		t.Fatal(err)
	}
	if err := f.Suppress(ctx, "bad\taddress", "x"); err == nil {
		t.Error("an address with a tab: no error")
	}
	again, err := mailsession.OpenFileSuppression(path)
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]string{"old@example.org": "unsubscribed", "new@example.org": "failed 5.1.1: multi-line", "Old@Example.org": "unsubscribed"} {
		reason, ok, err := again.Suppressed(ctx, addr)
		if err != nil || !ok || reason != want {
			t.Errorf("%s: %q, %v, %v; want %q", addr, reason, ok, err, want)
		}
	}
	if _, ok, _ := again.Suppressed(ctx, "other@example.org"); ok || again.Len() != 2 {
		t.Errorf("other suppressed %v, Len %d; want false, 2", ok, again.Len())
	}
	if _, err := mailsession.OpenFileSuppression(filepath.Join(t.TempDir(), "missing.txt")); err != nil {
		t.Errorf("a missing file: %v, want an empty list", err)
	}
}

// The loop: a bounce in the sender's mailbox, read by Receive through
// SuppressBounces, puts the address on the list, and the next Send to it
// is refused without connecting.
func TestSuppressBounces(t *testing.T) {
	srv := mailtest.NewServer(t)
	for _, m := range []string{postfixBounce, arfReport, "From: a@example.org\r\nSubject: not a bounce\r\n\r\nhello\r\n"} {
		if err := srv.Deliver(mailtest.DefaultUser, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	list := &mailsession.MemorySuppression{}
	s, err := mailsession.FromProperties(srv.Properties(mailtest.Plain, "imap"), mailsession.WithSuppression(list))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var seen [][]byte
	err = s.Receive(ctx, mailsession.ReceiveOptions{Delete: true}, mailsession.SuppressBounces(list, func(ctx context.Context, m *mailsession.Received) error {
		raw, err := io.ReadAll(m.Raw)
		seen = append(seen, raw)
		return err
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 3 || !bytes.Equal(seen[0], []byte(postfixBounce)) {
		t.Fatalf("the next handler saw %d messages (first intact: %v), want 3, whole", len(seen), len(seen) > 0 && bytes.Equal(seen[0], []byte(postfixBounce)))
	}
	// The hard bounce and the complaint, not the delayed recipient.
	for addr, want := range map[string]bool{"nobody@jmail.test": true, "user@example.com": true, "later@example.org": false} {
		reason, ok, _ := list.Suppressed(ctx, addr)
		if ok != want {
			t.Errorf("%s suppressed %v (%q), want %v", addr, ok, reason, want)
		}
	}
	before := srv.SMTPConnections()
	err = s.Send(ctx, &mailsession.Message{From: "app@example.net", To: []string{"nobody@jmail.test"}, Subject: "again", Text: "hi\n"})
	var se *mailsession.SendError
	if !errors.As(err, &se) || len(se.Rejected) != 1 || !strings.Contains(se.Rejected[0].Message, "5.1.1") {
		t.Fatalf("Send to the bounced address = %v, want it refused with the bounce's reason", err)
	}
	if srv.SMTPConnections() != before {
		t.Error("the refused send connected to the server")
	}
}
