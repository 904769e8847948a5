package mailsession

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"

	"github.com/jmailgo/jmail/mailsession/mailtest"
)

// newTestSession starts a session on srv's properties for mode, trusting
// srv's certificate, and closes it when the test ends.
func newTestSession(t testing.TB, srv *mailtest.Server, mode mailtest.Mode, opts ...Option) *Session {
	t.Helper()
	opts = append([]Option{WithRootCAs(srv.CertPool()), WithLogger(quietLogger())}, opts...)
	s, err := FromProperties(srv.Properties(mode, ""), opts...)
	if err != nil {
		t.Fatalf("FromProperties: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// checkNoLeaks fails the test if goroutines started during it are still
// running once everything is closed.
func checkNoLeaks(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		// Cleanups run last-in first-out: this one runs after the session
		// and server cleanups registered later.
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("goroutine leak: %d before, %d after\n%s", before, n, buf)
		}
	})
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func count(cmds []string, verb string) int {
	n := 0
	for _, c := range cmds {
		if c == verb {
			n++
		}
	}
	return n
}

func TestSendEveryMode(t *testing.T) {
	for _, mode := range []mailtest.Mode{mailtest.Plain, mailtest.StartTLS, mailtest.ImplicitTLS} {
		t.Run(mode.String(), func(t *testing.T) {
			checkNoLeaks(t)
			srv := mailtest.NewServer(t)
			s := newTestSession(t, srv, mode)
			ctx := ctxT(t)
			err := s.Send(ctx, &Message{
				To:      []string{"Zoë Ünïcode <" + mailtest.DefaultUser + ">"},
				Bcc:     []string{"hidden@elsewhere.example"},
				Subject: "Grüße — résumé",
				Text:    "hello\n",
			})
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := srv.Received()
			if len(got) != 1 {
				t.Fatalf("received %d transactions, want 1", len(got))
			}
			m := got[0]
			if m.From != mailtest.DefaultUser {
				t.Errorf("envelope sender %q, want %q (mail.from)", m.From, mailtest.DefaultUser)
			}
			if strings.Join(m.To, ",") != mailtest.DefaultUser+",hidden@elsewhere.example" {
				t.Errorf("envelope recipients %v", m.To)
			}
			// A Bcc header field (not "bcc" anywhere: the random Message-ID
			// may hold those letters).
			if bytes.HasPrefix(bytes.ToLower(m.Data), []byte("bcc:")) || bytes.Contains(bytes.ToLower(m.Data), []byte("\nbcc:")) || bytes.Contains(m.Data, []byte("hidden@")) {
				t.Errorf("Bcc leaked into the message:\n%s", m.Data)
			}
			mr, err := gomail.CreateReader(bytes.NewReader(m.Data))
			if err != nil {
				t.Fatal(err)
			}
			subj, _ := mr.Header.Subject()
			if subj != "Grüße — résumé" {
				t.Errorf("subject decoded %q", subj)
			}
			if !bytes.Contains(m.Data, []byte("Subject: =?utf-8?")) {
				t.Errorf("subject not an encoded-word:\n%s", m.Data)
			}
			for _, h := range []string{"Date", "Message-Id", "Mime-Version"} {
				if mr.Header.Get(h) == "" {
					t.Errorf("header %s missing", h)
				}
			}
			cmds := srv.SMTPCommands()
			wantTLS := mode == mailtest.StartTLS
			if got := count(cmds, "STARTTLS") == 1; got != wantTLS {
				t.Errorf("STARTTLS used=%v, want %v (%v)", got, wantTLS, cmds)
			}
			if count(cmds, "AUTH") != 1 {
				t.Errorf("want one AUTH: %v", cmds)
			}
		})
	}
}

func TestPoolReusesConnectionWithoutRSET(t *testing.T) {
	checkNoLeaks(t)
	srv := mailtest.NewServer(t)
	s := newTestSession(t, srv, mailtest.StartTLS)
	ctx := ctxT(t)
	for i := 0; i < 10; i++ {
		if err := s.Send(ctx, &Message{To: []string{mailtest.DefaultUser}, Subject: "n", Text: "x"}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if n := srv.SMTPConnections(); n != 1 {
		t.Errorf("%d connections for 10 sequential sends, want 1", n)
	}
	cmds := srv.SMTPCommands()
	if count(cmds, "RSET") != 0 || count(cmds, "MAIL") != 10 || count(cmds, "EHLO") != 2 || count(cmds, "AUTH") != 1 {
		t.Errorf("commands %v: want 10 MAIL, 2 EHLO (before and after STARTTLS), 1 AUTH, no RSET", cmds)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	cmds = srv.SMTPCommands()
	if cmds[len(cmds)-1] != "QUIT" {
		t.Errorf("Close did not QUIT: %v", cmds)
	}
	if err := s.Send(ctx, &Message{To: []string{mailtest.DefaultUser}, Text: "x"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close: %v, want ErrClosed", err)
	}
}

func TestComposeStructure(t *testing.T) {
	srv := mailtest.NewServer(t)
	s := newTestSession(t, srv, mailtest.Plain)
	long := strings.Repeat("é", 2000) + "\n" + strings.Repeat("a", 3000)
	err := s.Send(ctxT(t), &Message{
		From:    "Sender Ñame <" + mailtest.DefaultUser + ">",
		To:      []string{mailtest.DefaultUser},
		Cc:      []string{"cc@elsewhere.example"},
		ReplyTo: []string{"reply@elsewhere.example"},
		Subject: "structure",
		Text:    long,
		HTML:    `<p>hi <img src="cid:logo@x"></p>`,
		Header:  map[string][]string{"X-Campaign": {"spring ☀"}, "Message-ID": {"<fixed@example.com>"}},
		Attachments: []Attachment{
			{Filename: "logo.png", ContentID: "logo@x", Data: strings.NewReader("PNGDATA")},
			{Filename: "report €.pdf", Data: strings.NewReader(strings.Repeat("%PDF", 10000))},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	data := srv.Received()[0].Data
	for i, line := range bytes.Split(data, []byte("\r\n")) {
		if len(line) > 998 {
			t.Fatalf("line %d is %d bytes long", i, len(line))
		}
	}
	// A non-ASCII file name goes out as an RFC 2231 parameter.
	if !bytes.Contains(data, []byte(`filename*=utf-8''report%20%E2%82%AC.pdf`)) {
		t.Errorf("file name not RFC 2231-encoded:\n%s", data[max(0, bytes.Index(data, []byte("report"))-200):][:400])
	}
	e, err := message.Read(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if e.Header.Get("Message-Id") != "<fixed@example.com>" {
		t.Errorf("Message-ID %q, want the one given", e.Header.Get("Message-Id"))
	}
	if v, _ := e.Header.Text("X-Campaign"); v != "spring ☀" {
		t.Errorf("X-Campaign %q", v)
	}
	// Walk the tree and record the types.
	var types []string
	var texts []string
	var pdfLen int
	e.Walk(func(path []int, ent *message.Entity, err error) error {
		if err != nil {
			return err
		}
		mt, params, _ := ent.Header.ContentType()
		types = append(types, mt)
		switch {
		case mt == "text/plain":
			b, _ := io.ReadAll(ent.Body)
			texts = append(texts, string(b))
		case mt == "application/pdf":
			b, _ := io.ReadAll(ent.Body)
			pdfLen = len(b)
			if params["name"] != "report €.pdf" {
				t.Errorf("pdf name %q", params["name"])
			}
		case mt == "image/png":
			if ent.Header.Get("Content-Id") != "<logo@x>" {
				t.Errorf("Content-ID %q", ent.Header.Get("Content-Id"))
			}
			if d, _, _ := ent.Header.ContentDisposition(); d != "inline" {
				t.Errorf("inline part disposition %q", d)
			}
		}
		return nil
	})
	want := "multipart/mixed multipart/related multipart/alternative text/plain text/html image/png application/pdf"
	if strings.Join(types, " ") != want {
		t.Errorf("structure\n got %s\nwant %s", strings.Join(types, " "), want)
	}
	if len(texts) != 1 || texts[0] != strings.ReplaceAll(long, "\n", "\r\n") && texts[0] != long {
		t.Errorf("text body not preserved (len %d)", len(texts))
	}
	if pdfLen != 40000 {
		t.Errorf("pdf decoded to %d bytes", pdfLen)
	}
}

func TestInvalidMessagesRefusedBeforeConnecting(t *testing.T) {
	srv := mailtest.NewServer(t)
	s := newTestSession(t, srv, mailtest.Plain)
	ctx := ctxT(t)
	bad := map[string]*Message{
		"subject CRLF":      {To: []string{mailtest.DefaultUser}, Subject: "hi\r\nBcc: victim@x.example"},
		"to LF":             {To: []string{"a@x.example\nRCPT TO:<b@y.example>"}},
		"from CR":           {From: "a@x.example\rDATA", To: []string{mailtest.DefaultUser}},
		"header value":      {To: []string{mailtest.DefaultUser}, Header: map[string][]string{"X-A": {"v\r\nX-B: injected"}}},
		"header name":       {To: []string{mailtest.DefaultUser}, Header: map[string][]string{"X A": {"v"}}},
		"bcc header":        {To: []string{mailtest.DefaultUser}, Header: map[string][]string{"Bcc": {"x@y.example"}}},
		"no recipient":      {Subject: "x"},
		"bad address":       {To: []string{"not an address"}},
		"attachment name":   {To: []string{mailtest.DefaultUser}, Attachments: []Attachment{{Filename: "a\r\nb", Data: strings.NewReader("")}}},
		"attachment nodata": {To: []string{mailtest.DefaultUser}, Attachments: []Attachment{{Filename: "a"}}},
	}
	for name, m := range bad {
		if err := s.Send(ctx, m); !errors.Is(err, ErrInvalidMessage) {
			t.Errorf("%s: %v, want ErrInvalidMessage", name, err)
		}
	}
	if err := s.SendRaw(ctx, "a@x.example", []string{"b@y.example\r\nDATA"}, strings.NewReader("x")); !errors.Is(err, ErrInvalidMessage) {
		t.Errorf("SendRaw with CRLF recipient: %v", err)
	}
	if n := srv.SMTPConnections(); n != 0 {
		t.Errorf("%d connections made for invalid messages", n)
	}
}

func TestSendRaw(t *testing.T) {
	srv := mailtest.NewServer(t)
	s := newTestSession(t, srv, mailtest.ImplicitTLS)
	raw := "From: a@x.example\r\nTo: b@y.example\r\nSubject: raw\r\n\r\n.leading dot\r\nbody\r\n"
	if err := s.SendRaw(ctxT(t), "", []string{"Someone <" + mailtest.DefaultUser + ">"}, strings.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	m := srv.Received()[0]
	if string(m.Data) != raw {
		t.Errorf("raw bytes changed:\n%q\n%q", m.Data, raw)
	}
	if m.From != mailtest.DefaultUser || m.To[0] != mailtest.DefaultUser {
		t.Errorf("envelope %q → %v", m.From, m.To)
	}
}

func TestEnvelopeSenderRules(t *testing.T) {
	srv := mailtest.NewServer(t)
	// mail.smtp.from wins over the message's From.
	s := newTestSession(t, srv, mailtest.Plain, WithProperty("mail.smtp.from", "bounces@elsewhere.example"))
	if err := s.Send(ctxT(t), &Message{From: "me@elsewhere.example", To: []string{mailtest.DefaultUser}, Text: "x"}); err != nil {
		t.Fatal(err)
	}
	m := srv.Received()[0]
	if m.From != "bounces@elsewhere.example" {
		t.Errorf("envelope sender %q, want mail.smtp.from", m.From)
	}
	if !bytes.Contains(m.Data, []byte("From: <me@elsewhere.example>")) && !bytes.Contains(m.Data, []byte("From: me@elsewhere.example")) {
		t.Errorf("header From not the message's:\n%s", m.Data)
	}
}
