package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestQuickstart runs the whole quickstart on its embedded server, as
// `go run ./examples/quickstart` does, and checks that every step reported
// success.
func TestQuickstart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, "", "", false); err != nil {
		t.Fatalf("run: %v\noutput:\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"mail.session.mail.smtp.host=127.0.0.1",
		"mail.session.mail.smtp.password=********",
		"same session: true",
		"== Sent \"Welcome to the portal",
		"== Read back over IMAP: UID",
		"multipart/mixed",
		"== Received over POP3 and deleted: UID",
		"same bytes as over IMAP: true",
		"== Check",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "=password") {
		t.Errorf("output shows the password:\n%s", got)
	}
}
