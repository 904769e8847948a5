// Command bounces shows the loop from bounces back to sending, on the
// embedded mail server (package mailtest), so it needs nothing installed:
//
//	go run ./examples/bounces
//
// It sends a notification to two recipients; one of them bounces: the
// embedded server accepts every recipient, so the example delivers to the
// sender's mailbox the delivery status notification a real server
// (here, as Postfix 3.7 writes it) would send. Receive, through
// mailsession.SuppressBounces, parses it and puts the address on the
// suppression list (a file: -list FILE keeps it, by default one in a
// temporary directory); the next Send goes to the other recipient only,
// and reports the suppressed one in SendError.Rejected.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/mailsession/mailtest"
)

func main() {
	list := flag.String("list", "", "suppression list file (default: one in a temporary directory)")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout, *list); err != nil {
		fmt.Fprintln(os.Stderr, "bounces:", err)
		os.Exit(1)
	}
}

const (
	friend = "friend@example.org"
	gone   = "gone@example.org" // the address that bounces
)

// run is the whole example; main only parses flags.
func run(ctx context.Context, out io.Writer, listPath string) error {
	if listPath == "" {
		dir, err := os.MkdirTemp("", "jmail-bounces-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		listPath = filepath.Join(dir, "suppressed.txt")
	}
	list, err := mailsession.OpenFileSuppression(listPath)
	if err != nil {
		return err
	}
	srv, err := mailtest.Start()
	if err != nil {
		return err
	}
	defer srv.Close()
	// The session sends as the mailbox it reads: bounces come back to it.
	session, err := mailsession.FromProperties(srv.Properties(mailtest.Plain, "imap"), mailsession.WithSuppression(list))
	if err != nil {
		return err
	}
	defer session.Close()
	sender := mailtest.DefaultUser
	notify := func(subject string) error {
		return session.Send(ctx, &mailsession.Message{
			From: sender, To: []string{friend, gone}, Subject: subject,
			Text:   "Your weekly digest.\n",
			Header: map[string][]string{"Message-ID": {"<" + strings.ReplaceAll(subject, " ", "-") + "@example.com>"}},
		})
	}

	fmt.Fprintf(out, "== Suppression list %s: %d addresses\n", listPath, list.Len())
	if err := notify("digest 1"); err != nil {
		return err
	}
	fmt.Fprintf(out, "== Sent digest 1 to %s and %s\n", friend, gone)

	// What the receiving server would send back for gone@example.org.
	if err := srv.Deliver(sender, postfixDSN(sender, gone, "digest-1@example.com")); err != nil {
		return err
	}
	fmt.Fprintf(out, "== %s bounced; the notification is in %s's mailbox\n", gone, sender)

	err = session.Receive(ctx, mailsession.ReceiveOptions{Delete: true}, mailsession.SuppressBounces(list, func(ctx context.Context, m *mailsession.Received) error {
		b, err := mailsession.ParseBounce(m.Raw)
		if err != nil {
			fmt.Fprintf(out, "   %q: not a bounce\n", m.Subject())
			return nil
		}
		for _, r := range b.Recipients {
			fmt.Fprintf(out, "   bounce for <%s> (message %s): %s %s, permanent %v\n", r.Address, b.MessageID, r.Action, r.Status, r.Permanent())
		}
		return nil
	}))
	if err != nil {
		return err
	}
	reason, _, err := list.Suppressed(ctx, gone)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "== Suppression list: %d addresses; %s: %s\n", list.Len(), gone, reason)

	before := len(srv.Received())
	err = notify("digest 2")
	var se *mailsession.SendError
	if !errors.As(err, &se) {
		return fmt.Errorf("digest 2: %v, want the suppressed recipient reported", err)
	}
	fmt.Fprintf(out, "== Sent digest 2 to %s; refused here: %s\n", strings.Join(se.Sent, ", "), se.Rejected[0])
	fmt.Fprintf(out, "== %d message reached the server for digest 2\n", len(srv.Received())-before)
	return nil
}

// postfixDSN is the delivery status notification Postfix sends when
// Dovecot refuses rcpt: the shape ParseBounce reads.
func postfixDSN(sender, rcpt, messageID string) []byte {
	const b = "jmail-example-boundary"
	return []byte("From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\r\n" +
		"To: " + sender + "\r\n" +
		"Subject: Undelivered Mail Returned to Sender\r\n" +
		"Date: " + time.Now().Format(time.RFC1123Z) + "\r\n" +
		"Auto-Submitted: auto-replied\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"" + b + "\"\r\n" +
		"\r\n" +
		"--" + b + "\r\n" +
		"Content-Description: Notification\r\n" +
		"Content-Type: text/plain; charset=us-ascii\r\n\r\n" +
		"This is the mail system at host mx.example.org.\r\n\r\n" +
		"I'm sorry to have to inform you that your message could not\r\n" +
		"be delivered to one or more recipients.\r\n\r\n" +
		"--" + b + "\r\n" +
		"Content-Description: Delivery report\r\n" +
		"Content-Type: message/delivery-status\r\n\r\n" +
		"Reporting-MTA: dns; mx.example.org\r\n\r\n" +
		"Final-Recipient: rfc822; " + rcpt + "\r\n" +
		"Original-Recipient: rfc822;" + rcpt + "\r\n" +
		"Action: failed\r\n" +
		"Status: 5.1.1\r\n" +
		"Remote-MTA: dns; mx.example.org\r\n" +
		"Diagnostic-Code: smtp; 550 5.1.1 <" + rcpt + "> User doesn't exist: " + rcpt + "\r\n\r\n" +
		"--" + b + "\r\n" +
		"Content-Description: Undelivered Message Headers\r\n" +
		"Content-Type: text/rfc822-headers\r\n\r\n" +
		"From: " + sender + "\r\n" +
		"To: " + rcpt + "\r\n" +
		"Subject: digest 1\r\n" +
		"Message-ID: <" + messageID + ">\r\n\r\n" +
		"--" + b + "--\r\n")
}
