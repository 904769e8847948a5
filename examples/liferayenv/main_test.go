package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestLiferayEnv runs the example with no LIFERAY_ variables, so it uses its
// embedded server, and checks the decoded keys and the delivery.
func TestLiferayEnv(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, []string{"PATH=/usr/bin"}, "user@example.com"); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"→ mail.session.mail.smtp.host=127.0.0.1",
		"→ mail.session.mail.smtp.starttls.enable=true",
		"→ mail.session.mail.smtp.password=********",
		"holds it in user@example.com's mailbox",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "=password") {
		t.Errorf("output shows the password:\n%s", got)
	}
}
