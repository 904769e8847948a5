package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestMailingList runs the example on its embedded server over both
// protocols, as `go run ./examples/mailinglist` does.
func TestMailingList(t *testing.T) {
	for _, store := range []string{"imap", "pop3"} {
		t.Run(store, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var out bytes.Buffer
			if err := run(ctx, &out, config{store: store}); err != nil {
				t.Fatalf("run: %v\n%s", err, out.String())
			}
			got := out.String()
			for _, want := range []string{
				"Ann Example <ann@example.com>",
				"Chloé Exemple <chloe@example.com>",
				`"Welcome to the list"`,
				`"Réunion de jeudi"`,
				"handled 3 messages",
			} {
				if !strings.Contains(got, want) {
					t.Errorf("output lacks %q:\n%s", want, got)
				}
			}
		})
	}
}
