//go:build integration

package mailsession_test

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmailgo/jmail/mailsession"
)

// TestIntegrationConcurrentSends: 16 goroutines send 100 messages each
// through one session; Dovecot ends up with exactly 1,600 messages, each
// sequence number once.
func TestIntegrationConcurrentSends(t *testing.T) {
	const goroutines, perGoroutine = 16, 100
	e := stack(t)
	ctx := testContext(t, 5*time.Minute)
	user := e.user("load")
	e.emptyMailbox(t, user)
	s := sessionFrom(t, false, javaMailProps(t, e.postfix(e["JMAIL_IT_STRICT_HOST"], startTLS, user), nil, user.addr))
	run := uniq(t.Name())

	var wg sync.WaitGroup
	errs := make(chan error, goroutines*perGoroutine)
	for g := range goroutines {
		wg.Go(func() {
			for i := range perGoroutine {
				seq := fmt.Sprintf("%s-%02d-%03d", run, g, i)
				if err := s.SendRaw(ctx, user.addr, []string{user.addr}, bytes.NewReader(rawMessage(user.addr, user.addr, seq))); err != nil {
					errs <- fmt.Errorf("%s: %w", seq, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}

	if n := e.waitDelivered(t, user, goroutines*perGoroutine, 3*time.Minute); n != goroutines*perGoroutine {
		t.Fatalf("Dovecot holds %d messages, want exactly %d", n, goroutines*perGoroutine)
	}
	seen := map[string]int{}
	for _, v := range e.headerValues(t, user, "X-Jmail-Test") {
		seen[v]++
	}
	for g := range goroutines {
		for i := range perGoroutine {
			seq := fmt.Sprintf("%s-%02d-%03d", run, g, i)
			if seen[seq] != 1 {
				t.Errorf("message %s delivered %d times", seq, seen[seq])
			}
		}
	}
}

// TestIntegrationPostfixRestart stops Postfix abruptly while a stream of
// sends runs through one session, then starts it again: sends during the
// outage fail with temporary errors, every send reported successful is in
// Dovecot (and none twice), and the same session delivers again afterwards
// without any help.
func TestIntegrationPostfixRestart(t *testing.T) {
	e := stack(t)
	ctx := testContext(t, 5*time.Minute)
	user := e.user("fault")
	e.emptyMailbox(t, user)
	t.Cleanup(func() { e.postfixCtl(t, "start") }) // never leave the stack down
	p := javaMailProps(t, e.postfix(e["JMAIL_IT_STRICT_HOST"], startTLS, user), nil, user.addr)
	p.Set("mail.smtp.connectiontimeout", "2000")
	p.Set("mail.smtp.timeout", "5000")
	s := sessionFrom(t, false, p)
	run := uniq(t.Name())

	const senders = 4
	var (
		mu                  sync.Mutex
		sent                = map[string]bool{}
		failed              = map[string]error{}
		phase               atomic.Int32 // 0 before the outage, 1 during, 2 after the restart
		okBefore, okAfter   atomic.Int32
		failDuring, seqNext atomic.Int64
		stop                = make(chan struct{})
		wg                  sync.WaitGroup
	)
	for range senders {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				seq := fmt.Sprintf("%s-%05d", run, seqNext.Add(1))
				before := phase.Load()
				err := s.SendRaw(ctx, user.addr, []string{user.addr}, bytes.NewReader(rawMessage(user.addr, user.addr, seq)))
				after := phase.Load()
				mu.Lock()
				if err == nil {
					sent[seq] = true
				} else {
					failed[seq] = err
				}
				mu.Unlock()
				switch {
				case err == nil && after == 0:
					okBefore.Add(1)
				case err == nil && before == 2:
					okAfter.Add(1)
				case err != nil && before == 1 && after == 1:
					failDuring.Add(1)
				}
				if err != nil {
					time.Sleep(50 * time.Millisecond) // a caller's back-off
				}
			}
		})
	}
	waitFor := func(what string, cond func() bool) {
		deadline := time.Now().Add(time.Minute)
		for !cond() {
			if time.Now().After(deadline) {
				close(stop)
				wg.Wait()
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("sends before the outage", func() bool { return okBefore.Load() >= 20 })
	phase.Store(1)
	e.postfixCtl(t, "abort")
	waitFor("failures during the outage", func() bool { return failDuring.Load() >= 8 })
	e.postfixCtl(t, "start")
	phase.Store(2)
	waitFor("sends after the restart", func() bool { return okAfter.Load() >= 20 })
	close(stop)
	wg.Wait()

	for seq, err := range failed {
		if errors.Is(err, mailsession.ErrUncertain) {
			continue // the end of the message went out, no reply came
		}
		if !mailsession.IsTemporary(err) || !errors.Is(err, mailsession.ErrTemporary) {
			t.Errorf("send %s failed with a permanent error: %v", seq, err)
		}
	}
	t.Logf("%d sends reported sent, %d failed (%d during the outage)", len(sent), len(failed), failDuring.Load())
	for seq, err := range failed {
		t.Logf("for example %s: %v", seq, err)
		break
	}

	e.waitDelivered(t, user, len(sent), 2*time.Minute)
	subs := e.submissions(t, user)
	for seq := range sent {
		if len(subs[seq]) == 0 {
			t.Errorf("send %s was reported sent but Dovecot does not hold it", seq)
		}
	}
	for seq, qids := range subs {
		if len(qids) != 1 {
			t.Errorf("message %s was submitted %d times (Postfix queue ids %v)", seq, len(qids), qids)
		}
		for qid, n := range qids {
			if n > 1 {
				// Postfix itself: killed after the LMTP delivery but before
				// it recorded it, it delivers again after the restart.
				t.Logf("message %s (queue id %s) delivered %d times by Postfix after its abrupt stop", seq, qid, n)
			}
		}
		if !sent[seq] {
			// Accepted by Postfix while the connection broke before the
			// reply arrived: SMTP cannot tell the client, but it must be
			// told it may have happened (Uncertain), never "not sent".
			if !errors.Is(failed[seq], mailsession.ErrUncertain) {
				t.Errorf("message %s was delivered though its send reported it not sent: %v", seq, failed[seq])
			} else {
				t.Logf("message %s delivered, reported uncertain: %v", seq, failed[seq])
			}
		}
	}
	if okAfter.Load() == 0 {
		t.Errorf("the session did not recover after Postfix came back")
	}
}
