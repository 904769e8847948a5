//go:build integration

// The outbox's integration tests run against the real Postfix and Dovecot
// started by .ci/mailservers.sh:
//
//	.ci/mailservers.sh start
//	set -a; eval "$(.ci/mailservers.sh env)"; set +a
//	go test -race -tags integration -count=1 -v -run '^TestIntegration' ./mailsession/outbox/
//
// They send through Postfix's plain relay (no AUTH) to users of the test
// domain and count what Dovecot stored with doveadm. A server that cannot
// be reached fails the suite; it never skips.

package outbox_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/mailsession/outbox"
	"github.com/jmailgo/jmail/properties"
)

// itEnv holds the settings printed by `.ci/mailservers.sh env`.
type itEnv map[string]string

// stackEnv reads the running servers' settings from $JMAIL_IT_DIR/env
// (default /tmp/jmail-it/env), the environment winning, and fails the test
// unless Postfix's relay answers.
func stackEnv(t testing.TB) itEnv {
	t.Helper()
	dir := os.Getenv("JMAIL_IT_DIR")
	if dir == "" {
		dir = "/tmp/jmail-it"
	}
	e := itEnv{}
	if data, err := os.ReadFile(filepath.Join(dir, "env")); err == nil {
		for line := range strings.Lines(string(data)) {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
				e[k] = v
			}
		}
	}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "JMAIL_IT_") {
			e[k] = v
		}
	}
	for _, k := range []string{"JMAIL_IT_HOST", "JMAIL_IT_DOMAIN", "JMAIL_IT_POSTFIX_RELAY_PORT", "JMAIL_IT_POSTFIX_CONF", "JMAIL_IT_DOVECOT_CONF", "JMAIL_IT_POSTFIX_CTL"} {
		if e[k] == "" {
			t.Fatalf("integration servers not available: %s not set (run .ci/mailservers.sh start)", k)
		}
	}
	c, err := net.DialTimeout("tcp", e.relay(), 5*time.Second)
	if err != nil {
		t.Fatalf("integration servers not available: Postfix relay %s: %v (run .ci/mailservers.sh start)", e.relay(), err)
	}
	c.Close()
	return e
}

func (e itEnv) relay() string {
	return net.JoinHostPort(e["JMAIL_IT_HOST"], e["JMAIL_IT_POSTFIX_RELAY_PORT"])
}

func (e itEnv) addr(user string) string { return user + "@" + e["JMAIL_IT_DOMAIN"] }

// session is a mailsession over Postfix's plain relay with a pool of pool
// connections.
func (e itEnv) session(t testing.TB, pool int) *mailsession.Session {
	t.Helper()
	text := fmt.Sprintf("mail.transport.protocol=smtp\nmail.from=outbox@%s\nmail.smtp.host=%s\nmail.smtp.port=%s\n"+
		"mail.smtp.connectionpoolsize=%d\nmail.smtp.connectiontimeout=5000\nmail.smtp.timeout=30000\n",
		e["JMAIL_IT_DOMAIN"], e["JMAIL_IT_HOST"], e["JMAIL_IT_POSTFIX_RELAY_PORT"], pool)
	p, err := properties.Load(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	s, err := mailsession.FromProperties(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func (e itEnv) doveadm(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("doveadm", append([]string{"-c", e["JMAIL_IT_DOVECOT_CONF"]}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("doveadm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (e itEnv) emptyMailbox(t testing.TB, user string) {
	t.Helper()
	e.doveadm(t, "expunge", "-u", e.addr(user), "mailbox", "INBOX", "all")
}

// submissions maps the X-Jmail-Test value of every message in the user's
// INBOX to the Postfix queue IDs it arrived under, each with its count.
// Two queue IDs for one value are two submissions by the client (a
// duplicate); one queue ID twice is Postfix redelivering.
func (e itEnv) submissions(t testing.TB, user string) map[string]map[string]int {
	t.Helper()
	out := e.doveadm(t, "fetch", "-u", e.addr(user), "hdr.x-jmail-test hdr.received", "mailbox", "INBOX")
	subs := map[string]map[string]int{}
	for rec := range strings.SplitSeq(out, "\f") {
		var val, qid string
		for line := range strings.Lines(rec) {
			if v, ok := strings.CutPrefix(line, "hdr.x-jmail-test:"); ok {
				val = strings.TrimSpace(v)
			}
			if _, after, ok := strings.Cut(line, "(Postfix) with "); ok && qid == "" {
				if f := strings.Fields(after); len(f) >= 3 && f[1] == "id" {
					qid = strings.TrimSuffix(f[2], ";")
				}
			}
		}
		if val == "" {
			continue
		}
		if subs[val] == nil {
			subs[val] = map[string]int{}
		}
		subs[val][qid]++
	}
	return subs
}

func (e itEnv) postfixQueueEmpty(t testing.TB) bool {
	t.Helper()
	out, err := exec.Command("postqueue", "-c", e["JMAIL_IT_POSTFIX_CONF"], "-j").CombinedOutput()
	if err != nil {
		t.Fatalf("postqueue -j: %v\n%s", err, out)
	}
	return len(bytes.TrimSpace(out)) == 0
}

func (e itEnv) postfixCtl(t testing.TB, action string) {
	t.Helper()
	out, err := exec.Command(e["JMAIL_IT_POSTFIX_CTL"], "postfix", action).CombinedOutput()
	if err != nil {
		t.Fatalf("postfix %s: %v\n%s", action, err, out)
	}
}

// waitAll polls Dovecot until every value in want has arrived for user
// and Postfix's queue is empty, then returns the submissions.
func (e itEnv) waitAll(t testing.TB, user string, want []string, limit time.Duration) map[string]map[string]int {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		subs := e.submissions(t, user)
		missing := 0
		for _, v := range want {
			if len(subs[v]) == 0 {
				missing++
			}
		}
		if missing == 0 && e.postfixQueueEmpty(t) {
			return e.submissions(t, user)
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v Dovecot lacks %d of %d messages for %s", limit, missing, len(want), e.addr(user))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// duplicates counts the extra client submissions among the values.
func duplicates(subs map[string]map[string]int, vals []string) (dups int, redelivered int) {
	for _, v := range vals {
		if n := len(subs[v]); n > 1 {
			dups += n - 1
		}
		for _, c := range subs[v] {
			redelivered += c - 1
		}
	}
	return dups, redelivered
}

// child is this test binary run again as a child process, to run one
// test's child side.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser // closing it tells the child to finish
	out   *bytes.Buffer  // its output, logged if the test fails
}

// startChild runs test in a child process with env added; it is killed
// when the test ends, if still running.
func startChild(t *testing.T, test string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.v")
	cmd.Env = append(os.Environ(), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("child %d said:\n%s", cmd.Process.Pid, out.String())
		}
	})
	return &child{cmd, stdin, out}
}

// testMessage is a message with a unique X-Jmail-Test value and Message-ID.
func testMessage(e itEnv, to, val string) []byte {
	return fmt.Appendf(nil, "From: outbox@%s\r\nTo: %s\r\nSubject: outbox %s\r\nDate: %s\r\nMessage-ID: <%s@%s>\r\nX-Jmail-Test: %s\r\n\r\nmessage %s\r\n",
		e["JMAIL_IT_DOMAIN"], to, val, time.Now().Format(time.RFC1123Z), val, e["JMAIL_IT_DOMAIN"], val, val)
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// Crash test settings. The rescue of jobs left running by a killed
// process is River's: after RescueStuckJobsAfter (WithRescueAfter, here
// two seconds past the attempt timeout), checked every 30 s by the leader.
const (
	crashChildEnv  = "JMAIL_IT_OUTBOX_CRASH_CHILD"
	crashN         = 2000
	crashKills     = 5
	crashWorkers   = 4
	crashAttemptTO = 5 * time.Second
)

// TestIntegrationOutboxCrash: a child process (this test binary run
// again) enqueues crashN messages idempotently (WithKey) and sends them
// to Postfix; it is killed with SIGKILL at crashKills random moments and
// restarted each time. Every message must arrive in Dovecot, with at most
// crashWorkers duplicates per kill (the sends in flight).
func TestIntegrationOutboxCrash(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		crashChild(t)
		return
	}
	e := stackEnv(t)
	const user = "dave"
	e.emptyMailbox(t, user)
	run := fmt.Sprintf("crash-%d-%d", os.Getpid(), time.Now().UnixNano())
	dbPath := filepath.Join(t.TempDir(), "outbox.db")

	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("JMAIL_IT_OUTBOX_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("JMAIL_IT_OUTBOX_SEED: %v", err)
		}
		seed = n
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("seed %d (JMAIL_IT_OUTBOX_SEED=%d repeats the kill moments), %d messages, %d workers", seed, seed, crashN, crashWorkers)

	start := func() *exec.Cmd {
		return startChild(t, "TestIntegrationOutboxCrash", crashChildEnv+"=1", "JMAIL_IT_OUTBOX_DB="+dbPath, "JMAIL_IT_OUTBOX_RUN="+run, "JMAIL_IT_OUTBOX_TO="+e.addr(user)).cmd
	}
	began := time.Now()
	for k := range crashKills {
		cmd := start()
		d := time.Duration(500+rng.IntN(4500)) * time.Millisecond
		time.Sleep(d)
		n := len(e.submissions(t, user))
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill %d: %v", k+1, err)
		}
		cmd.Wait()
		t.Logf("kill %d: SIGKILL after %v (at %v); %d distinct messages in Dovecot then", k+1, d, time.Since(began).Round(time.Millisecond), n)
	}
	final := start()
	vals := make([]string, crashN)
	for i := range vals {
		vals[i] = fmt.Sprintf("%s-%d", run, i)
	}
	// Under the race detector SQLite (C translated to Go) is many times
	// slower than without: the drain takes minutes, not seconds.
	subs := e.waitAll(t, user, vals, 8*time.Minute)
	t.Logf("all %d delivered %v after the start", crashN, time.Since(began).Round(time.Millisecond))

	// The outbox agrees: every message Sent (the last records may follow
	// the delivery by a moment).
	db, err := sql.Open("sqlite", "file:"+dbPath+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for deadline := time.Now().Add(30 * time.Second); ; {
		var total, sent int
		if err := db.QueryRow(`SELECT count(*), count(*) FILTER (WHERE outcome = 'sent') FROM outbox_message`).Scan(&total, &sent); err != nil {
			t.Fatal(err)
		}
		if total == crashN && sent == crashN {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox holds %d messages, %d sent; want %d sent", total, sent, crashN)
		}
		time.Sleep(100 * time.Millisecond)
	}
	final.Process.Signal(syscall.SIGKILL)
	final.Wait()

	extra := 0
	for v := range subs {
		if !strings.HasPrefix(v, run+"-") {
			extra++
		}
	}
	if extra > 0 {
		t.Errorf("%d messages in Dovecot that this run did not send", extra)
	}
	dups, redelivered := duplicates(subs, vals)
	t.Logf("duplicates: %d messages submitted twice (bound %d = %d workers x %d kills); %d Postfix redeliveries", dups, crashWorkers*crashKills, crashWorkers, crashKills, redelivered)
	if dups > crashWorkers*crashKills {
		t.Errorf("%d duplicates, more than the %d sends that can be in flight at %d kills", dups, crashWorkers*crashKills, crashKills)
	}
}

// crashChild is the child process of TestIntegrationOutboxCrash: it opens
// the outbox, starts the workers, enqueues every message (those already
// enqueued by an earlier child are found by their key) and sends until it
// is killed.
func crashChild(t *testing.T) {
	e := stackEnv(t)
	ctx := context.Background()
	s := e.session(t, crashWorkers)
	ob, err := outbox.Open(ctx, s, outbox.SQLite(os.Getenv("JMAIL_IT_OUTBOX_DB")),
		outbox.WithMigrate(),
		outbox.WithWorkers(crashWorkers),
		outbox.WithAttemptTimeout(crashAttemptTO),
		outbox.WithRescueAfter(crashAttemptTO+2*time.Second),
		outbox.WithBackoff(100*time.Millisecond, time.Second),
		outbox.WithPollInterval(50*time.Millisecond),
		outbox.WithLogger(quiet()),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	if err := ob.Start(ctx); err != nil {
		t.Fatal(err)
	}
	run, to := os.Getenv("JMAIL_IT_OUTBOX_RUN"), os.Getenv("JMAIL_IT_OUTBOX_TO")
	for i := range crashN {
		val := fmt.Sprintf("%s-%d", run, i)
		if _, err := ob.EnqueueRaw(ctx, "", []string{to}, bytes.NewReader(testMessage(e, to, val)), outbox.WithKey(val)); err != nil {
			t.Fatalf("Enqueue %d: %v", i, err)
		}
	}
	t.Logf("child %d: all %d enqueued", os.Getpid(), crashN)
	select {} // send until killed
}

// TestIntegrationOutboxOutage: messages enqueued in a stream while Postfix
// is stopped for 30 s are all delivered once it is back, each once.
func TestIntegrationOutboxOutage(t *testing.T) {
	e := stackEnv(t)
	const (
		user    = "frank"
		workers = 2
	)
	e.emptyMailbox(t, user)
	ctx := context.Background()
	ob, err := outbox.Open(ctx, e.session(t, workers), outbox.SQLite(filepath.Join(t.TempDir(), "outbox.db")),
		outbox.WithMigrate(),
		outbox.WithWorkers(workers),
		outbox.WithBackoff(200*time.Millisecond, 2*time.Second),
		outbox.WithPollInterval(50*time.Millisecond),
		outbox.WithLogger(quiet()),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	if err := ob.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		ob.Stop(sctx)
	}()
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			e.postfixCtl(t, "start")
		}
	})

	run := fmt.Sprintf("outage-%d-%d", os.Getpid(), time.Now().UnixNano())
	to := e.addr(user)
	var vals []string
	var ids []outbox.ID
	enqueue := func(d time.Duration) {
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			val := fmt.Sprintf("%s-%d", run, len(vals))
			id, err := ob.EnqueueRaw(ctx, "", []string{to}, bytes.NewReader(testMessage(e, to, val)))
			if err != nil {
				t.Fatalf("Enqueue %s: %v", val, err)
			}
			vals, ids = append(vals, val), append(ids, id)
		}
	}
	enqueue(5 * time.Second)
	before := len(vals)
	e.postfixCtl(t, "stop")
	stopped := time.Now()
	enqueue(30 * time.Second)
	during := len(vals) - before
	// Nothing enqueued during the outage can have been sent.
	pending := 0
	for _, id := range ids[before:] {
		st, err := ob.Status(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if st.State == outbox.Pending {
			pending++
		}
		if st.State == outbox.Sent {
			t.Errorf("message %v Sent while Postfix was stopped", id)
		}
	}
	e.postfixCtl(t, "start")
	restarted = true
	t.Logf("Postfix stopped for %v; %d messages enqueued before, %d during (%d Pending at the restart)", time.Since(stopped).Round(time.Millisecond), before, during, pending)
	enqueue(5 * time.Second)

	subs := e.waitAll(t, user, vals, 2*time.Minute)
	for _, id := range ids {
		st, err := ob.Status(ctx, id)
		for deadline := time.Now().Add(10 * time.Second); err == nil && st.State != outbox.Sent && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
			st, err = ob.Status(ctx, id)
		}
		if err != nil || st.State != outbox.Sent {
			t.Errorf("message %v: %+v, %v; want Sent", id, st, err)
		}
	}
	dups, redelivered := duplicates(subs, vals)
	t.Logf("%d messages delivered; %d submitted twice, %d Postfix redeliveries", len(vals), dups, redelivered)
	if dups > 0 {
		// Only a send in flight when Postfix stopped can be uncertain.
		t.Errorf("%d messages submitted twice", dups)
	}
	if len(subs) != len(vals) {
		t.Errorf("Dovecot holds %d distinct messages, want %d", len(subs), len(vals))
	}
}

// TestIntegrationOutboxTransaction: a message enqueued in a transaction
// that rolls back is never sent; one whose transaction commits is. On
// SQLite (a *sql.Tx) and PostgreSQL (a pgx.Tx).
func TestIntegrationOutboxTransaction(t *testing.T) {
	e := stackEnv(t)
	const user = "carol"
	e.emptyMailbox(t, user)
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			url := ""
			if kind == "postgres" {
				url = postgresURL(t, e)
			}
			outboxTransaction(t, e, user, testDBAt(t, url))
		})
	}
}

func outboxTransaction(t *testing.T, e itEnv, user string, db testDB) {
	ctx := context.Background()
	ob, err := outbox.Open(ctx, e.session(t, 2), db,
		outbox.WithMigrate(),
		outbox.WithBackoff(200*time.Millisecond, 2*time.Second),
		outbox.WithPollInterval(50*time.Millisecond),
		outbox.WithLogger(quiet()),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	run := fmt.Sprintf("tx-%d-%d", os.Getpid(), time.Now().UnixNano())
	m := func(val string) *mailsession.Message {
		return &mailsession.Message{
			From: "outbox@" + e["JMAIL_IT_DOMAIN"], To: []string{e.addr(user)},
			Subject: "outbox " + val, Text: "message " + val + "\n",
			Header: map[string][]string{"X-Jmail-Test": {val}},
		}
	}
	rolledVal, committedVal := run+"-rolled-back", run+"-committed"

	// The workers run while the first transaction is open: the message
	// must not leak out of it.
	if err := ob.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		ob.Stop(sctx)
	}()
	// enqueueInTx enqueues msg in a transaction of the application's (a
	// table created beside it), then commits or rolls back.
	enqueueInTx := func(msg *mailsession.Message, commit bool) outbox.ID {
		t.Helper()
		tx := db.begin(t, ctx, ob)
		if err := tx.exec(`CREATE TABLE app_order (n INTEGER)`); err != nil {
			t.Fatal(err)
		}
		id, err := ob.EnqueueTx(ctx, tx.native, msg)
		if err != nil {
			t.Fatal(err)
		}
		end := tx.rollback
		if commit {
			end = tx.commit
		}
		if err := end(); err != nil {
			t.Fatal(err)
		}
		return id
	}
	rolled := enqueueInTx(m(rolledVal), false)
	if _, err := ob.Status(ctx, rolled); !errors.Is(err, outbox.ErrNotFound) {
		t.Errorf("Status of the rolled-back message %v: %v, want ErrNotFound", rolled, err)
	}
	committed := enqueueInTx(m(committedVal), true)
	// A message sent after the committed one, so that once it arrives
	// (and Postfix's queue is empty) nothing enqueued before can still be
	// on its way.
	after, err := ob.EnqueueRaw(ctx, "", []string{e.addr(user)}, bytes.NewReader(testMessage(e, e.addr(user), run+"-after")))
	if err != nil {
		t.Fatal(err)
	}
	subs := e.waitAll(t, user, []string{committedVal, run + "-after"}, time.Minute)
	if n := len(subs[rolledVal]); n != 0 {
		t.Errorf("the rolled-back message was delivered (%d submissions)", n)
	}
	if n := len(subs[committedVal]); n != 1 {
		t.Errorf("the committed message arrived in %d submissions, want 1", n)
	}
	for _, id := range []outbox.ID{committed, after} {
		st, err := ob.Status(ctx, id)
		for deadline := time.Now().Add(10 * time.Second); err == nil && st.State != outbox.Sent && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
			st, err = ob.Status(ctx, id)
		}
		if err != nil || st.State != outbox.Sent {
			t.Errorf("message %v: %+v, %v; want Sent", id, st, err)
		}
	}
}
