package mailsession_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/jmailgo/jmail/mailsession"
)

// postfixBounce is a delivery status notification as Postfix 3.7 writes
// it (bounce(8)): one recipient unknown, one deferred, with the returned
// message's headers.
const postfixBounce = "Return-Path: <>\r\n" +
	"From: MAILER-DAEMON@mail.jmail.test (Mail Delivery System)\r\n" +
	"Subject: Undelivered Mail Returned to Sender\r\n" +
	"To: outbox@jmail.test\r\n" +
	"Auto-Submitted: auto-replied\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/report; report-type=delivery-status;\r\n" +
	"\tboundary=\"2B1C5986244.1733150000/mail.jmail.test\"\r\n" +
	"Message-Id: <20261202120000.2B1C5986244@mail.jmail.test>\r\n" +
	"\r\n" +
	"This is a MIME-encapsulated message.\r\n" +
	"\r\n" +
	"--2B1C5986244.1733150000/mail.jmail.test\r\n" +
	"Content-Description: Notification\r\n" +
	"Content-Type: text/plain; charset=us-ascii\r\n" +
	"\r\n" +
	"This is the mail system at host mail.jmail.test.\r\n" +
	"\r\n" +
	"I'm sorry to have to inform you that your message could not\r\n" +
	"be delivered to one or more recipients.\r\n" +
	"\r\n" +
	"--2B1C5986244.1733150000/mail.jmail.test\r\n" +
	"Content-Description: Delivery report\r\n" +
	"Content-Type: message/delivery-status\r\n" +
	"\r\n" +
	"Reporting-MTA: dns; mail.jmail.test\r\n" +
	"X-Postfix-Queue-ID: 2B1C5986244\r\n" +
	"X-Postfix-Sender: rfc822; outbox@jmail.test\r\n" +
	"Arrival-Date: Wed,  2 Dec 2026 12:00:00 +0000 (UTC)\r\n" +
	"\r\n" +
	"Final-Recipient: rfc822; nobody@jmail.test\r\n" +
	"Original-Recipient: rfc822;Nobody@jmail.test\r\n" +
	"Action: failed\r\n" +
	"Status: 5.1.1\r\n" +
	"Remote-MTA: dns; mail.jmail.test\r\n" +
	"Diagnostic-Code: smtp; 550 5.1.1 <nobody@jmail.test>: Recipient address\r\n" +
	"    rejected: User unknown in virtual mailbox table\r\n" +
	"\r\n" +
	"Final-Recipient: rfc822; later@example.org\r\n" +
	"Action: delayed\r\n" +
	"Status: 4.4.1\r\n" +
	"Diagnostic-Code: X-Postfix; connect to example.org[192.0.2.1]:25: Connection\r\n" +
	"    timed out\r\n" +
	"\r\n" +
	"--2B1C5986244.1733150000/mail.jmail.test\r\n" +
	"Content-Description: Undelivered Message Headers\r\n" +
	"Content-Type: text/rfc822-headers\r\n" +
	"\r\n" +
	"From: outbox@jmail.test\r\n" +
	"To: nobody@jmail.test\r\n" +
	"Subject: =?utf-8?q?R=C3=A9initialiser_le_mot_de_passe?=\r\n" +
	"Message-ID: <reset-42@jmail.test>\r\n" +
	"\r\n" +
	"--2B1C5986244.1733150000/mail.jmail.test--\r\n"

// arfReport is the abuse report of RFC 5965, appendix B.2, in our
// addresses.
const arfReport = "From: <abusedesk@example.com>\r\n" +
	"Date: Thu, 8 Mar 2005 17:40:36 EDT\r\n" +
	"Subject: FW: Earn money\r\n" +
	"To: <abuse@example.net>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/report; report-type=feedback-report;\r\n" +
	"     boundary=\"part1_13d.2e68ed54_boundary\"\r\n" +
	"\r\n" +
	"--part1_13d.2e68ed54_boundary\r\n" +
	"Content-Type: text/plain; charset=\"US-ASCII\"\r\n" +
	"Content-Transfer-Encoding: 7bit\r\n" +
	"\r\n" +
	"This is an email abuse report for an email message received from IP\r\n" +
	"192.0.2.1 on Thu, 8 Mar 2005 14:00:00 EDT.\r\n" +
	"\r\n" +
	"--part1_13d.2e68ed54_boundary\r\n" +
	"Content-Type: message/feedback-report\r\n" +
	"\r\n" +
	"Feedback-Type: abuse\r\n" +
	"User-Agent: SomeGenerator/1.0\r\n" +
	"Version: 1\r\n" +
	"Original-Mail-From: <somespammer@example.net>\r\n" +
	"Original-Rcpt-To: <user@example.com>\r\n" +
	"Arrival-Date: Thu, 8 Mar 2005 14:00:00 EDT\r\n" +
	"Reporting-MTA: dns; mail.example.com\r\n" +
	"Source-IP: 192.0.2.1\r\n" +
	"\r\n" +
	"--part1_13d.2e68ed54_boundary\r\n" +
	"Content-Type: message/rfc822\r\n" +
	"Content-Disposition: inline\r\n" +
	"\r\n" +
	"From: <somespammer@example.net>\r\n" +
	"Received: from mailserver.example.net (mailserver.example.net\r\n" +
	"        [192.0.2.1]) by example.com with ESMTP id M63d4137594e46;\r\n" +
	"        Thu, 08 Mar 2005 14:00:00 -0400\r\n" +
	"To: <Undisclosed Recipients>\r\n" +
	"Subject: Earn money\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-type: text/plain\r\n" +
	"Message-ID: 8787KJKJ3K4J3K4J3K4J3.mail@example.net\r\n" +
	"Date: Thu, 02 Sep 2004 12:31:03 -0500\r\n" +
	"\r\n" +
	"Spam Spam Spam\r\n" +
	"--part1_13d.2e68ed54_boundary--\r\n"

func TestParseBounce(t *testing.T) {
	t.Run("Postfix DSN", func(t *testing.T) {
		b, err := mailsession.ParseBounce(strings.NewReader(postfixBounce))
		if err != nil {
			t.Fatal(err)
		}
		if b.Kind != mailsession.DeliveryStatus || b.ReportingMTA != "mail.jmail.test" {
			t.Errorf("Kind %v, ReportingMTA %q", b.Kind, b.ReportingMTA)
		}
		if b.MessageID != "reset-42@jmail.test" || b.Subject != "Réinitialiser le mot de passe" {
			t.Errorf("returned message: Message-ID %q, Subject %q", b.MessageID, b.Subject)
		}
		if !strings.HasPrefix(b.Explanation, "This is the mail system at host mail.jmail.test.") {
			t.Errorf("Explanation %q", b.Explanation)
		}
		if len(b.Recipients) != 2 {
			t.Fatalf("Recipients %+v, want 2", b.Recipients)
		}
		hard, soft := b.Recipients[0], b.Recipients[1]
		want := mailsession.BounceRecipient{
			Address: "nobody@jmail.test", OriginalRecipient: "Nobody@jmail.test", Action: "failed", Status: "5.1.1",
			DiagnosticCode: "smtp; 550 5.1.1 <nobody@jmail.test>: Recipient address rejected: User unknown in virtual mailbox table",
			RemoteMTA:      "mail.jmail.test",
		}
		if hard != want {
			t.Errorf("first recipient\n got %+v\nwant %+v", hard, want)
		}
		if !hard.Permanent() {
			t.Error("5.1.1 failed: not Permanent")
		}
		if soft.Address != "later@example.org" || soft.Action != "delayed" || soft.Status != "4.4.1" || soft.Permanent() {
			t.Errorf("second recipient %+v (Permanent %v), want delayed 4.4.1, not permanent", soft, soft.Permanent())
		}
	})
	t.Run("ARF complaint", func(t *testing.T) {
		b, err := mailsession.ParseBounce(strings.NewReader(arfReport))
		if err != nil {
			t.Fatal(err)
		}
		if b.Kind != mailsession.Complaint || b.FeedbackType != "abuse" || b.ReportingMTA != "SomeGenerator/1.0" {
			t.Errorf("Kind %v, FeedbackType %q, ReportingMTA %q", b.Kind, b.FeedbackType, b.ReportingMTA)
		}
		if len(b.Recipients) != 1 || b.Recipients[0].Address != "user@example.com" || !b.Recipients[0].Permanent() {
			t.Errorf("Recipients %+v, want user@example.com, permanent", b.Recipients)
		}
		if b.MessageID != "8787KJKJ3K4J3K4J3K4J3.mail@example.net" || b.Subject != "Earn money" {
			t.Errorf("returned message: %q, %q", b.MessageID, b.Subject)
		}
	})
	for name, raw := range map[string]string{
		"plain message":      "From: a@example.org\r\nSubject: hi\r\n\r\nhello\r\n",
		"other report":       "Content-Type: multipart/report; report-type=disposition-notification; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nread\r\n--b--\r\n",
		"report without DSN": "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsorry\r\n--b--\r\n",
		"empty":              "",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := mailsession.ParseBounce(strings.NewReader(raw)); !errors.Is(err, mailsession.ErrNotBounce) {
				t.Errorf("err = %v, want ErrNotBounce", err)
			}
		})
	}
}
