package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestTomcat runs the example on its embedded server.
func TestTomcat(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, "", "user@example.com"); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, want := range []string{"bound ", "mail/MailSession", "sent through java:comp/env/mail/MailSession", "holds it in user@example.com's mailbox"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
