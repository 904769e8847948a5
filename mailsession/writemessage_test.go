package mailsession

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/jmailgo/jmail/mailsession/mailtest"
)

// TestWriteMessageIsWhatSendSends: the bytes WriteMessage writes, sent with
// SendRaw and ComposeMessage's envelope, reach every recipient (Bcc too)
// as Send's would: same structure, Bcc out of the header, the Message-ID
// returned.
func TestWriteMessageIsWhatSendSends(t *testing.T) {
	srv := mailtest.NewServer(t)
	s := newTestSession(t, srv, mailtest.Plain)
	m := &Message{From: "Ana <ana@example.com>", To: []string{"to@elsewhere.example"}, Cc: []string{"cc@elsewhere.example"},
		Bcc: []string{"bcc@elsewhere.example"}, Subject: "Grüße", Text: "hello", HTML: "<p>hello</p>",
		Attachments: []Attachment{{Filename: "a.txt", ContentType: "text/plain", Data: strings.NewReader("attached")}}}
	var buf bytes.Buffer
	env, err := s.ComposeMessage(&buf, m)
	if err != nil {
		t.Fatal(err)
	}
	if env.From != "ana@example.com" || strings.Join(env.To, " ") != "to@elsewhere.example cc@elsewhere.example bcc@elsewhere.example" || env.MessageID == "" {
		t.Errorf("envelope %+v", env)
	}
	raw := buf.String()
	for _, want := range []string{"Message-Id: <" + env.MessageID + ">", "multipart/mixed", "multipart/alternative", "a.txt"} {
		if !strings.Contains(raw, want) {
			t.Errorf("composed message lacks %q", want)
		}
	}
	if strings.Contains(raw, "bcc@") {
		t.Error("the Bcc recipient is in the bytes")
	}
	if err := s.SendRaw(ctxT(t), env.From, env.To, &buf); err != nil {
		t.Fatal(err)
	}
	got := srv.Received()
	if len(got) != 1 || len(got[0].To) != 3 || string(got[0].Data) != raw {
		t.Fatalf("received %d messages; want the composed bytes for 3 recipients", len(got))
	}

	// A Message-ID given in the header is kept; invalid input writes nothing.
	var buf2 bytes.Buffer
	env, err = s.ComposeMessage(&buf2, &Message{To: []string{"to@elsewhere.example"}, From: "a@example.com", Text: "x",
		Header: map[string][]string{"Message-ID": {"<fixed@example.com>"}}})
	if err != nil || env.MessageID != "fixed@example.com" {
		t.Errorf("given Message-ID: %+v, %v", env, err)
	}
	buf2.Reset()
	if err := s.WriteMessage(&buf2, &Message{To: []string{"not an address"}, Text: "x"}); !errors.Is(err, ErrInvalidMessage) || buf2.Len() != 0 {
		t.Errorf("invalid message: %v, %d bytes written", err, buf2.Len())
	}
}
