package mailsession_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/mailsession/mailtest"
)

// A handler reads the text, the HTML and the attachments of what arrives,
// decoded, without walking MIME itself. Each Body is a stream: an
// attachment can go to a file (io.Copy) however large it is.
func ExampleReceived_Parts() {
	srv, err := mailtest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	s, err := mailsession.FromProperties(srv.Properties(mailtest.Plain, "imap"), quiet)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	ctx := context.Background()
	err = s.Send(ctx, &mailsession.Message{
		To:      []string{mailtest.DefaultUser},
		Subject: "Rechnung für März",
		Text:    "Ihre Rechnung liegt bei.",
		HTML:    `<p>Ihre Rechnung liegt bei.</p><img src="cid:logo@example.com">`,
		Attachments: []mailsession.Attachment{
			{Filename: "logo.png", ContentID: "logo@example.com", Inline: true, Data: strings.NewReader("\x89PNG...")},
			{Filename: "Rechnung März.pdf", Data: strings.NewReader("%PDF-1.7 ...")},
		},
	})
	if err != nil {
		log.Fatal(err)
	}

	err = s.Receive(ctx, mailsession.ReceiveOptions{Delete: true}, func(ctx context.Context, m *mailsession.Received) error {
		fmt.Println("subject:", m.Subject())
		pr := m.Parts()
		for {
			p, err := pr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			switch p.Kind {
			case mailsession.PartText, mailsession.PartHTML:
				body, err := io.ReadAll(p.Body) // UTF-8
				if err != nil {
					return err
				}
				fmt.Printf("%s: %s\n", p.ContentType, body)
			case mailsession.PartAttachment:
				n, err := io.Copy(io.Discard, p.Body) // or to a file
				if err != nil {
					return err
				}
				fmt.Printf("%s %q, %d bytes, inline %v, cid %q\n", p.ContentType, p.Filename, n, p.Inline, p.ContentID)
			}
		}
	})
	fmt.Println("received:", err == nil)
	// Output:
	// subject: Rechnung für März
	// text/plain: Ihre Rechnung liegt bei.
	// text/html: <p>Ihre Rechnung liegt bei.</p><img src="cid:logo@example.com">
	// image/png "logo.png", 7 bytes, inline true, cid "logo@example.com"
	// application/pdf "Rechnung März.pdf", 12 bytes, inline false, cid ""
	// received: true
}
