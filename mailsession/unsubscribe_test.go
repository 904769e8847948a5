package mailsession_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/emersion/go-message/mail"

	"github.com/jmailgo/jmail/mailsession"
)

func TestUnsubscribeHeaders(t *testing.T) {
	s, err := mailsession.New(mailsession.WithProperty("mail.from", "news@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		name string
		m    mailsession.Message
		want map[string]string // header fields, "" for absent
		bad  bool
	}{
		{name: "one-click and mailto", m: mailsession.Message{UnsubscribeURL: "https://example.com/unsub?u=42&t=abc", UnsubscribeMailto: "unsub@example.com", ListID: "Weekly digest <digest.example.com>"},
			want: map[string]string{
				"List-Unsubscribe":      "<https://example.com/unsub?u=42&t=abc>, <mailto:unsub@example.com>",
				"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
				"List-Id":               "Weekly digest <digest.example.com>",
			}},
		{name: "mailto alone, with a subject", m: mailsession.Message{UnsubscribeMailto: "mailto:unsub@example.com?subject=unsubscribe"},
			want: map[string]string{"List-Unsubscribe": "<mailto:unsub@example.com?subject=unsubscribe>", "List-Unsubscribe-Post": "", "List-Id": ""}},
		{name: "bare list id", m: mailsession.Message{ListID: "digest.example.com"}, want: map[string]string{"List-Id": "<digest.example.com>", "List-Unsubscribe": ""}},
		{name: "non-ASCII description", m: mailsession.Message{ListID: "Résumé hebdo <hebdo.example.com>"}, want: map[string]string{"List-Id": "=?utf-8?q?R=C3=A9sum=C3=A9_hebdo?= <hebdo.example.com>"}},
		{name: "none", m: mailsession.Message{}, want: map[string]string{"List-Unsubscribe": "", "List-Unsubscribe-Post": "", "List-Id": ""}},
		{name: "http URL", m: mailsession.Message{UnsubscribeURL: "http://example.com/unsub"}, bad: true},
		{name: "URL with a comma", m: mailsession.Message{UnsubscribeURL: "https://example.com/a,b"}, bad: true},
		{name: "URL without host", m: mailsession.Message{UnsubscribeURL: "https:///unsub"}, bad: true},
		{name: "URL with user", m: mailsession.Message{UnsubscribeURL: "https://u:p@example.com/"}, bad: true},
		{name: "mailto not an address", m: mailsession.Message{UnsubscribeMailto: "unsubscribe"}, bad: true},
		{name: "list id without a dot", m: mailsession.Message{ListID: "<digest>"}, bad: true},
		{name: "list id with a space", m: mailsession.Message{ListID: "a b.example.com"}, bad: true},
		{name: "also in Header", m: mailsession.Message{UnsubscribeURL: "https://example.com/u", Header: map[string][]string{"list-unsubscribe": {"<https://other.example/>"}}}, bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.m
			m.To, m.Subject, m.Text = []string{"reader@example.org"}, "digest", "hello\n"
			var buf bytes.Buffer
			err := s.WriteMessage(&buf, &m)
			if tc.bad {
				if !errors.Is(err, mailsession.ErrInvalidMessage) {
					t.Fatalf("WriteMessage = %v, want ErrInvalidMessage", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r, err := mail.CreateReader(&buf)
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range tc.want {
				if got := r.Header.Get(k); got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
		})
	}
}
