package main

import (
	"bytes"
	"context"
	"fmt"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestOutbox runs the whole example on its embedded defaults, as
// `go run ./examples/outbox` does, and checks every step's report. With
// JMAIL_TEST_POSTGRES set (as .ci/run does) it runs on PostgreSQL, as
// -postgres does, in a new schema.
func TestOutbox(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, queue{postgres: testPostgres(t)}, 3, nil); err != nil {
		t.Fatalf("run: %v\noutput:\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"mail.send.blacklist=blocked@example.org",
		"== Enqueued 3 messages: 1, 2, 3; the first again with its key: 1",
		"attempt message 1, attempt 1: user@example.com, audit@example.org",
		"sent    message 3, attempt 1: user@example.com Sent, team1@example.org Sent, team2@example.org Sent, audit@example.org Sent",
		"message 1: Sent after 1 attempt(s)",
		"message 2: Sent after 1 attempt(s)",
		"blocked@example.org    Failed (not sent: the address is in mail.send.blacklist)",
		"message 3: Sent after 1 attempt(s)",
		// 1 + 1 + 2 (four recipients with mail.batch.size=2)
		"== 4 SMTP transactions reached this process's server",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

// With -db the queue is kept in the file, and a second run adds to it:
// its messages are new ones, sent in turn.
func TestOutboxReusedFile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := filepath.Join(t.TempDir(), "queue.db")
	for i, want := range []string{"Enqueued 1 messages: 1;", "Enqueued 1 messages: 2;"} {
		var out bytes.Buffer
		if err := run(ctx, &out, queue{sqlite: db}, 1, nil); err != nil {
			t.Fatalf("run %d: %v\noutput:\n%s", i+1, err, out.String())
		}
		if !strings.Contains(out.String(), want) || !strings.Contains(out.String(), "Sent after 1 attempt(s)") {
			t.Errorf("run %d lacks %q:\n%s", i+1, want, out.String())
		}
	}
	if _, err := os.Stat(db); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, &bytes.Buffer{}, queue{sqlite: db}, 0, nil); err == nil {
		t.Error("-n 0: no error")
	}
}

// testPostgres is "" (SQLite), or with JMAIL_TEST_POSTGRES set the URL of
// a new schema there, dropped when the test ends.
func testPostgres(t *testing.T) string {
	url := os.Getenv("JMAIL_TEST_POSTGRES")
	if url == "" {
		return ""
	}
	ctx := context.Background()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("JMAIL_TEST_POSTGRES: %v", err)
	}
	defer c.Close(ctx)
	schema := fmt.Sprintf("example_%d_%d", os.Getpid(), time.Now().UnixNano())
	if _, err := c.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c, err := pgx.Connect(ctx, url); err == nil {
			c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			c.Close(ctx)
		}
	})
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema) // pgx passes it on as a run-time parameter
	u.RawQuery = q.Encode()
	return u.String()
}
