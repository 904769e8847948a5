//go:build integration

package mailsession_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/jmailgo/jmail/mailsession"
)

// TestIntegrationReceive reads a Dovecot inbox with Receive and Delete over
// POP3 and IMAP: every message is handed over with its exact bytes, the
// ones whose handler succeeded are deleted, the one whose handler failed
// stays for the next run (Liferay would have deleted it).
func TestIntegrationReceive(t *testing.T) {
	e := stack(t)
	for _, store := range []string{"pop3", "imap"} {
		t.Run(store, func(t *testing.T) {
			ctx := testContext(t, 2*time.Minute)
			user := e.user("judy")
			e.emptyMailbox(t, user)
			host := e["JMAIL_IT_STRICT_HOST"]
			st := e.dovecot(store, host, startTLS, user)
			s := sessionFrom(t, true, portalProps(t, e.postfix(host, startTLS, user), &st, user.addr))

			sentRaw := map[string][]byte{}
			var subjects []string
			for i := range 4 {
				subject := uniq(fmt.Sprintf("%s-%d", t.Name(), i))
				raw := rawMessage(user.addr, user.addr, subject)
				if err := s.SendRaw(ctx, user.addr, []string{user.addr}, bytes.NewReader(raw)); err != nil {
					t.Fatalf("SendRaw: %v", err)
				}
				sentRaw[subject] = raw
				subjects = append(subjects, subject)
			}
			e.waitDelivered(t, user, 4, time.Minute)

			keep := subjects[2]
			errKeep := errors.New("handler failed: keep the message")
			seen := map[string]int{}
			err := s.Receive(ctx, mailsession.ReceiveOptions{Delete: true}, func(ctx context.Context, m *mailsession.Received) error {
				raw, err := io.ReadAll(m.Raw)
				if err != nil {
					return err
				}
				if int64(len(raw)) != m.Size {
					t.Errorf("message %s: Size %d, read %d bytes", m.UID, m.Size, len(raw))
				}
				subject := headerValue(raw, "Subject")
				seen[subject]++
				if body := stripTrace(t, raw, mtaTraceHeaders); !bytes.Equal(body, sentRaw[subject]) {
					t.Errorf("Receive handed over different bytes for %s: %s", subject, diff(body, sentRaw[subject]))
				}
				if subject == keep {
					return errKeep
				}
				return nil
			})
			if err != nil && !errors.Is(err, errKeep) {
				t.Fatalf("Receive: %v", err)
			}
			for _, subject := range subjects {
				if seen[subject] != 1 {
					t.Errorf("message %s handed over %d times, want once", subject, seen[subject])
				}
			}
			if got := e.headerValues(t, user, "Subject"); len(got) != 1 || got[0] != keep {
				t.Errorf("after Receive Dovecot holds %v, want only the failed %s", got, keep)
			}
		})
	}
}
