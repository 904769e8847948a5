package mailsession_test

import (
	"fmt"
	"strings"

	"github.com/jmailgo/jmail/mailsession"
)

// Read a bounce from the sender's mailbox (here, its bytes) and find the
// addresses that will not take mail.
func ExampleParseBounce() {
	raw := "From: MAILER-DAEMON@mx.example.org\r\n" +
		"Subject: Undelivered Mail Returned to Sender\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n" +
		"\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n" +
		"--b\r\nContent-Type: message/delivery-status\r\n\r\n" +
		"Reporting-MTA: dns; mx.example.org\r\n\r\n" +
		"Final-Recipient: rfc822; gone@example.org\r\n" +
		"Action: failed\r\nStatus: 5.1.1\r\n" +
		"Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n" +
		"--b--\r\n"
	b, err := mailsession.ParseBounce(strings.NewReader(raw))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range b.Recipients {
		fmt.Println(r.Address, r.Status, r.Permanent())
	}
	// Output: gone@example.org 5.1.1 true
}
