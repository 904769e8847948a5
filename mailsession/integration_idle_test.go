//go:build integration

package mailsession_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jmailgo/jmail/mailsession"
)

// TestIntegrationReceiveIdle: Receive on Dovecot over IMAP with a
// ten-minute poll interval waits in IDLE; messages submitted to Postfix
// (submission, STARTTLS) and delivered to Dovecot by LMTP are handled
// well before the next poll. The latency from submission to handler is
// logged (it includes Postfix's queue and the LMTP delivery).
func TestIntegrationReceiveIdle(t *testing.T) {
	e := stack(t)
	for _, mode := range []tlsMode{startTLS, implicit} {
		t.Run(mode.String(), func(t *testing.T) {
			ctx, cancel := context.WithCancel(testContext(t, 3*time.Minute))
			defer cancel()
			user := e.user("oscar")
			e.emptyMailbox(t, user)
			host := e["JMAIL_IT_STRICT_HOST"]
			st := e.dovecot("imap", host, mode, user)
			s := sessionFrom(t, true, portalProps(t, e.postfix(host, startTLS, user), &st, user.addr))
			events := make(chan string, 100)
			mailsession.SetIdleHook(s, func(ev string) {
				select {
				case events <- ev:
				default:
				}
			})
			const poll = 10 * time.Minute
			type arrival struct {
				subject string
				at      time.Time
			}
			got := make(chan arrival, 10)
			done := make(chan error, 1)
			go func() {
				done <- s.Receive(ctx, mailsession.ReceiveOptions{Delete: true, PollInterval: poll}, func(ctx context.Context, m *mailsession.Received) error {
					got <- arrival{m.Subject(), time.Now()}
					return nil
				})
			}()
			for ev := range events {
				if ev == "idle" {
					break
				}
				if ev == "unsupported" || ev == "lost" {
					t.Fatalf("Dovecot's idle connection: %s", ev)
				}
			}
			const n = 5
			var lat []time.Duration
			for i := range n {
				subject := uniq(fmt.Sprintf("%s-%d", t.Name(), i))
				sent := time.Now()
				if err := s.SendRaw(ctx, user.addr, []string{user.addr}, bytes.NewReader(rawMessage(user.addr, user.addr, subject))); err != nil {
					t.Fatalf("SendRaw: %v", err)
				}
				accepted := time.Since(sent)
				select {
				case a := <-got:
					if a.subject != subject {
						t.Fatalf("handled %q, want %q", a.subject, subject)
					}
					d := a.at.Sub(sent)
					lat = append(lat, d)
					t.Logf("message %d: accepted by Postfix after %v, handled %v after submission", i, accepted, d)
				case <-time.After(poll):
					t.Fatalf("message %d not handled before the poll interval (%v)", i, poll)
				case <-ctx.Done():
					t.Fatalf("message %d not handled", i)
				}
			}
			slices.Sort(lat)
			t.Logf("IDLE push on Dovecot (%s), submission to handler, %d messages: median %v, max %v (poll interval %v)",
				mode, n, lat[len(lat)/2], lat[len(lat)-1], poll)
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Receive = %v, want nil once ctx ended", err)
			}
		})
	}
}
