package mailtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

func TestConcurrentDelivery(t *testing.T) {
	const clients, perClient = 32, 50
	s := NewServer(t, WithUser("a@example.com", "pa"), WithUser("b@example.com", "pb"))
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- deliverMany(s, i, perClient)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	want := clients * perClient
	if n := len(s.Received()); n != want {
		t.Errorf("Received() has %d messages, want %d", n, want)
	}
	for _, box := range []string{"a@example.com", "b@example.com"} {
		msgs := s.Messages(box)
		if len(msgs) != want {
			t.Errorf("%s has %d messages, want %d", box, len(msgs), want)
		}
		seen := make(map[string]bool)
		for _, m := range msgs {
			seen[string(m.Data)] = true
		}
		if len(seen) != want {
			t.Errorf("%s has %d distinct messages, want %d", box, len(seen), want)
		}
	}
	if n := s.SMTPConnections(); n != clients {
		t.Errorf("SMTPConnections() = %d, want %d", n, clients)
	}
}

// deliverMany sends n messages over one connection, as a pooled client would.
func deliverMany(s *Server, client, n int) error {
	c, err := smtp.Dial(s.Addr(s.Ports().SMTP))
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", "a@example.com", "pa")); err != nil {
		return err
	}
	for i := range n {
		body := fmt.Sprintf("Subject: %d/%d\r\n\r\n.%d\r\n", client, i, i)
		if err := c.SendMail("x@remote.test", []string{"a@example.com", "b@example.com"}, strings.NewReader(body)); err != nil {
			return fmt.Errorf("client %d message %d: %w", client, i, err)
		}
	}
	return c.Quit()
}

func TestCloseLeaksNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	// Leave a connection of every kind open, one mid-session.
	sendSMTP(t, s, ImplicitTLS, "a@remote.test", []string{DefaultUser}, []byte("Subject: x\r\n\r\nx\r\n"))
	sc := dialSMTP(t, s, StartTLS)
	sc.Mail("a@remote.test", nil)
	p := dialPOP3(t, s, false)
	p.login()
	loginIMAP(t, s, ImplicitTLS)
	dialIMAP(t, s, Plain)

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// Client-side goroutines (imapclient readers) end once they see EOF.
	var after int
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.Gosched()
		after = runtime.NumGoroutine()
		if after <= before+imapClientGoroutines(2) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if after > before+imapClientGoroutines(2) {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines before, %d after Close:\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}

// imapClientGoroutines is how many goroutines n open imapclient clients keep
// (their reader), which the test's cleanup closes later.
func imapClientGoroutines(n int) int { return n }

func TestWaitMessagesContext(t *testing.T) {
	s := NewServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.WaitMessages(ctx, DefaultUser, 1); err == nil {
		t.Error("WaitMessages returned without messages")
	}
	if _, err := s.WaitMessages(context.Background(), "nobody@example.com", 1); err == nil {
		t.Error("WaitMessages for an unknown mailbox")
	}
	go func() {
		time.Sleep(10 * time.Millisecond)
		s.Deliver(DefaultUser, []byte("Subject: later\r\n\r\n"))
	}()
	msgs, err := s.WaitMessages(testContext(t), DefaultUser, 1)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("WaitMessages = %v, %v", msgs, err)
	}
	s.Reset()
	if len(s.Messages(DefaultUser)) != 0 || len(s.Received()) != 0 || len(s.SMTPCommands()) != 0 {
		t.Error("Reset left state behind")
	}
}

func TestProperties(t *testing.T) {
	s := NewServer(t, WithUser("me@example.org", "secret"))
	p := s.Properties(StartTLS, "imap")
	want := map[string]string{
		"mail.transport.protocol":     "smtp",
		"mail.smtp.host":              "127.0.0.1",
		"mail.smtp.port":              itoa(s.Ports().SMTP),
		"mail.smtp.auth":              "true",
		"mail.smtp.user":              "me@example.org",
		"mail.smtp.password":          "secret",
		"mail.smtp.starttls.enable":   "true",
		"mail.smtp.starttls.required": "true",
		"mail.store.protocol":         "imap",
		"mail.imap.port":              itoa(s.Ports().IMAP),
		"mail.imap.starttls.required": "true",
		"mail.from":                   "me@example.org",
	}
	for k, v := range want {
		if got, _ := p.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	p = s.Properties(ImplicitTLS, "pop3")
	for k, v := range map[string]string{"mail.transport.protocol": "smtps", "mail.smtps.port": itoa(s.Ports().SMTPS), "mail.store.protocol": "pop3s", "mail.pop3s.port": itoa(s.Ports().POP3S)} {
		if got, _ := p.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if _, ok := p.Get("mail.smtps.starttls.enable"); ok {
		t.Error("starttls keys in implicit TLS mode")
	}
}

// curl is an independent client: what one protocol stores, curl reads back
// byte for byte over the others, with --ssl-reqd and the exported CA.
func TestCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	s := NewServer(t)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	msgFile := filepath.Join(dir, "message.eml")
	msg := hardMessage("curl")
	if err := os.WriteFile(ca, s.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(msgFile, msg, 0o600)
	run := func(args ...string) []byte {
		t.Helper()
		args = append([]string{"--silent", "--show-error", "--max-time", "30", "--cacert", ca, "--user", DefaultUser + ":" + DefaultPassword}, args...)
		out, err := exec.Command(curl, args...).Output()
		if err != nil {
			var stderr string
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("curl %v: %v\n%s", args[6:], err, stderr)
		}
		return out
	}
	host := "localhost" // the certificate names localhost and 127.0.0.1
	// SMTP with STARTTLS and implicit TLS; the URL path is the EHLO name.
	run("--ssl-reqd", "--mail-from", "curl@remote.test", "--mail-rcpt", DefaultUser, "-T", msgFile, fmt.Sprintf("smtp://%s:%d/client.test", host, s.Ports().SMTP))
	run("--mail-from", "curl@remote.test", "--mail-rcpt", DefaultUser, "-T", msgFile, fmt.Sprintf("smtps://%s:%d/client.test", host, s.Ports().SMTPS))
	msgs, err := s.WaitMessages(testContext(t), DefaultUser, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if !bytes.Equal(m.Data, msg) || m.From != "curl@remote.test" {
			t.Errorf("curl SMTP delivered %d bytes from %q, want %d", len(m.Data), m.From, len(msg))
		}
	}
	for name, url := range map[string]string{
		"pop3 STLS":     fmt.Sprintf("pop3://%s:%d/1", host, s.Ports().POP3),
		"pop3s":         fmt.Sprintf("pop3s://%s:%d/2", host, s.Ports().POP3S),
		"imap STARTTLS": fmt.Sprintf("imap://%s:%d/INBOX;UID=1", host, s.Ports().IMAP),
		"imaps":         fmt.Sprintf("imaps://%s:%d/INBOX;UID=2", host, s.Ports().IMAPS),
	} {
		if got := run("--ssl-reqd", url); !bytes.Equal(got, msg) {
			t.Errorf("%s: curl read %d bytes, want %d", name, len(got), len(msg))
		}
	}
	// A message sent by go-smtp is read by curl, and one sent by curl is
	// read by go-imap and POP3 (TestIMAPExactBytesAllModes, TestPOP3ExactBytes
	// cover those clients).
	if got := fetchBody(t, loginIMAP(t, s, ImplicitTLS), 1); !bytes.Equal(got, msg) {
		t.Error("imapclient read of a curl message differs")
	}
}
