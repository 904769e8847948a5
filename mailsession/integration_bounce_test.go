//go:build integration

package mailsession_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jmailgo/jmail/mailsession"
)

// TestIntegrationBounce: a message to an unknown user of the test domain,
// handed to Postfix's sendmail (so that it is accepted and then bounced,
// not refused at RCPT as the SMTP ports do), comes back as Postfix's own
// delivery status notification; read over IMAP from the sender's mailbox,
// ParseBounce finds the recipient, its 5.1.1 and the returned Message-ID.
func TestIntegrationBounce(t *testing.T) {
	e := stack(t)
	ctx := testContext(t, 2*time.Minute)
	sender := e.user("victor")
	e.emptyMailbox(t, sender)
	nobody := uniq("nobody") + "@" + e.domain()
	msgID := uniq("bounce") + "@" + e.domain()
	raw := fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: bounce me\r\nMessage-ID: <%s>\r\nDate: %s\r\n\r\nTo nobody.\r\n",
		sender.addr, nobody, msgID, time.Now().Format(time.RFC1123Z))
	cmd := exec.CommandContext(ctx, "/usr/sbin/sendmail", "-C", e["JMAIL_IT_POSTFIX_CONF"], "-f", sender.addr, "-i", nobody)
	cmd.Stdin = bytes.NewReader([]byte(raw))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("Postfix sendmail: %v\n%s", err, out)
	}
	e.waitDelivered(t, sender, 1, time.Minute)

	// Receive on the sender's mailbox through SuppressBounces.
	list := &mailsession.MemorySuppression{}
	st := e.dovecot("imap", e["JMAIL_IT_HOST"], plain, sender)
	s := sessionFrom(t, false, javaMailProps(t, e.postfix(e["JMAIL_IT_HOST"], plain, sender), &st, sender.addr), mailsession.WithSuppression(list))
	var dsn []byte
	err := s.Receive(ctx, mailsession.ReceiveOptions{}, mailsession.SuppressBounces(list, func(ctx context.Context, m *mailsession.Received) error {
		raw, err := io.ReadAll(m.Raw)
		if m.Subject() == "Undelivered Mail Returned to Sender" {
			dsn = raw
		}
		return err
	}))
	if err != nil {
		t.Fatal(err)
	}
	if dsn == nil {
		t.Fatalf("no bounce in %s's INBOX", sender.addr)
	}
	b, err := mailsession.ParseBounce(bytes.NewReader(dsn))
	if err != nil {
		t.Fatalf("ParseBounce: %v\n%s", err, dsn)
	}
	if b.Kind != mailsession.DeliveryStatus || b.MessageID != msgID {
		t.Errorf("Kind %v, MessageID %q; want DeliveryStatus, %q", b.Kind, b.MessageID, msgID)
	}
	if len(b.Recipients) != 1 {
		t.Fatalf("Recipients %+v, want %s alone", b.Recipients, nobody)
	}
	r := b.Recipients[0]
	t.Logf("Postfix's bounce: %+v", r)
	if r.Address != nobody || r.Action != "failed" || r.Status != "5.1.1" || !r.Permanent() || r.DiagnosticCode == "" {
		t.Errorf("recipient %+v; want %s failed 5.1.1 with a diagnostic, permanent", r, nobody)
	}
	if reason, ok, _ := list.Suppressed(ctx, nobody); !ok {
		t.Fatalf("%s is not on the suppression list after Receive", nobody)
	} else {
		t.Logf("suppressed: %s", reason)
	}

	// The next Send is refused here: Postfix would answer 550 at RCPT,
	// the list answers with Code 0 and the bounce's reason.
	err = s.Send(ctx, &mailsession.Message{From: sender.addr, To: []string{nobody}, Subject: "again", Text: "again\n"})
	var se *mailsession.SendError
	if !errors.As(err, &se) || len(se.Rejected) != 1 || se.Rejected[0].Code != 0 || !strings.Contains(se.Rejected[0].Message, "suppressed") {
		t.Fatalf("Send to the bounced address = %v; want it refused by the suppression list", err)
	}
}
