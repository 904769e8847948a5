//go:build integration

// The outbox on PostgreSQL: the cluster of .ci/postgres.sh (its URL in
// JMAIL_IT_POSTGRES, as `.ci/postgres.sh env` prints it), with the mail
// servers of integration_test.go.

package outbox_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmailgo/jmail/mailsession/outbox"
)

// postgresURL is the integration cluster's URL; without it the test fails.
func postgresURL(t testing.TB, e itEnv) string {
	t.Helper()
	url := e["JMAIL_IT_POSTGRES"]
	if url == "" {
		t.Fatal("PostgreSQL not available: JMAIL_IT_POSTGRES not set (run .ci/postgres.sh start; eval its env)")
	}
	return url
}

const (
	shareChildEnv = "JMAIL_IT_OUTBOX_SHARE_CHILD"
	shareN        = 3000
	shareProcs    = 3
	shareWorkers  = 4
)

// TestIntegrationOutboxSharedQueue: three processes (this test binary run
// again) open one outbox on PostgreSQL at once, migrating it together, and
// drain the shareN messages this process enqueues meanwhile, to Postfix:
// each arrives in Dovecot exactly once, each process sends some of them,
// and together they report every message sent exactly once.
func TestIntegrationOutboxSharedQueue(t *testing.T) {
	if os.Getenv(shareChildEnv) != "" {
		shareChild(t)
		return
	}
	e := stackEnv(t)
	url := postgresURL(t, e)
	const user = "oscar"
	e.emptyMailbox(t, user)
	schema := newSchema(t, url)
	run := fmt.Sprintf("share-%d-%d", os.Getpid(), time.Now().UnixNano())
	to := e.addr(user)

	var children []*child
	for range shareProcs {
		children = append(children, startChild(t, "TestIntegrationOutboxSharedQueue", shareChildEnv+"=1", "JMAIL_IT_POSTGRES="+url, "JMAIL_IT_OUTBOX_SCHEMA="+schema))
	}

	// This process migrates too, at the same moment, and enqueues while
	// the children send.
	ctx := context.Background()
	ob, err := outbox.Open(ctx, e.session(t, 1), outbox.Postgres(schemaPool(t, url, schema)), outbox.WithMigrate(), outbox.WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	began := time.Now()
	vals := make([]string, shareN)
	for i := range vals {
		vals[i] = fmt.Sprintf("%s-%d", run, i)
		if _, err := ob.EnqueueRaw(ctx, "", []string{to}, bytes.NewReader(testMessage(e, to, vals[i])), outbox.WithKey(vals[i])); err != nil {
			t.Fatalf("Enqueue %d: %v", i, err)
		}
	}
	t.Logf("%d messages enqueued in %v while %d processes sent", shareN, time.Since(began).Round(time.Millisecond), shareProcs)
	subs := e.waitAll(t, user, vals, 4*time.Minute)
	t.Logf("all %d delivered %v after the first Enqueue", shareN, time.Since(began).Round(time.Millisecond))

	// The outbox agrees (the last records may follow the delivery).
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		counts, err := ob.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if counts[outbox.Sent] == shareN {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox counts %v; want %d Sent", counts, shareN)
		}
	}

	// Each child stops when its stdin closes and reports its sends.
	total := 0
	for i, c := range children {
		c.stdin.Close()
		if err := c.cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v\n%s", i, err, c.out)
		}
		n := -1
		sc := bufio.NewScanner(bytes.NewReader(c.out.Bytes()))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "shared-queue-sent="); ok {
				n, _ = strconv.Atoi(v)
			}
		}
		if n < 0 {
			t.Fatalf("child %d reported no count:\n%s", i, c.out)
		}
		t.Logf("process %d sent %d messages", i+1, n)
		if n == 0 {
			t.Errorf("process %d sent nothing: the queue was not shared", i+1)
		}
		total += n
	}
	if total != shareN {
		t.Errorf("the processes report %d messages sent, want exactly %d", total, shareN)
	}
	dups, redelivered := duplicates(subs, vals)
	t.Logf("%d delivered; %d submitted twice, %d Postfix redeliveries", len(subs), dups, redelivered)
	if dups > 0 {
		t.Errorf("%d messages submitted more than once", dups)
	}
	if len(subs) != shareN {
		t.Errorf("Dovecot holds %d distinct messages, want %d", len(subs), shareN)
	}
}

// shareChild is a process of TestIntegrationOutboxSharedQueue: it opens
// the shared outbox (migrating it, with the others), sends until its
// stdin closes, stops gracefully and prints how many messages it sent.
func shareChild(t *testing.T) {
	e := stackEnv(t)
	url := postgresURL(t, e)
	ctx := context.Background()
	var sent atomic.Int64
	ob, err := outbox.Open(ctx, e.session(t, shareWorkers), outbox.Postgres(schemaPool(t, url, os.Getenv("JMAIL_IT_OUTBOX_SCHEMA"))),
		outbox.WithMigrate(),
		outbox.WithWorkers(shareWorkers),
		outbox.WithBackoff(100*time.Millisecond, time.Second),
		outbox.WithPollInterval(50*time.Millisecond),
		outbox.WithLogger(quiet()),
		outbox.WithEvents(func(ev outbox.Event) {
			if ev.Kind == outbox.EventSent {
				sent.Add(1)
			}
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	if err := ob.Start(ctx); err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, os.Stdin)
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := ob.Stop(sctx); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("shared-queue-sent=%d\n", sent.Load())
}
