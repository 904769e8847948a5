package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunPrintsPropertiesAndMessages(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-smtp", "0", "-smtps", "0", "-pop3", "0", "-pop3s", "0", "-imap", "0", "-imaps", "0", "-mode", "plain", "-store", "pop3"}, &out)
	}()
	port := regexp.MustCompile(`mail\.smtp\.port=(\d+)`)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "waiting for mail") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	m := port.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no SMTP port in output:\n%s", out.String())
	}
	for _, want := range []string{"mail.store.protocol=pop3\n", "mail.pop3.user=user@example.com\n", "CA certificate: ",
		"mail.session.mail=true\n", "mail.session.mail.smtp.host=127.0.0.1\n", "mail.session.mail.store.protocol=pop3\n",
		"mail.session.mail.smtp.port=" + m[1] + "\n", "admin.email.from.address=user@example.com\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	c, err := smtp.Dial("127.0.0.1:" + m[1])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", "user@example.com", "password")); err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail("a@remote.test", []string{"someone@far.test"}, strings.NewReader("Subject: hi there\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	c.Quit()
	for !strings.Contains(out.String(), `subject "hi there"`) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !strings.Contains(out.String(), `from <a@remote.test> to <someone@far.test>`) {
		t.Errorf("message not printed:\n%s", out.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-mode", "ssl"},
		{"-store", "smtp"},
		{"-smtp", "x"},
		{"-nosuchflag"},
	} {
		var out syncBuffer
		if err := run(context.Background(), args, &out); err == nil {
			t.Errorf("run(%q) = nil error, want one", args)
		}
		if strings.Contains(out.String(), "waiting for mail") {
			t.Errorf("run(%q) started serving", args)
		}
	}
}
