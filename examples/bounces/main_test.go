package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBounces runs the example as `go run ./examples/bounces` does and
// checks each step; the list file keeps the bounced address.
func TestBounces(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	list := filepath.Join(t.TempDir(), "suppressed.txt")
	var out bytes.Buffer
	if err := run(ctx, &out, list); err != nil {
		t.Fatalf("run: %v\noutput:\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"Suppression list " + list + ": 0 addresses",
		"== Sent digest 1 to friend@example.org and gone@example.org",
		"bounce for <gone@example.org> (message digest-1@example.com): failed 5.1.1, permanent true",
		"== Suppression list: 1 addresses; gone@example.org: failed 5.1.1: smtp; 550 5.1.1",
		"== Sent digest 2 to friend@example.org; refused here: <gone@example.org>: suppressed, not sent (WithSuppression): failed 5.1.1",
		"== 1 message reached the server for digest 2",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	data, err := os.ReadFile(list)
	if err != nil || !strings.HasPrefix(string(data), "gone@example.org\tfailed 5.1.1") {
		t.Errorf("list file: %q, %v", data, err)
	}
}
