package mailsession_test

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"strings"

	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/mailsession/mailtest"
)

// templates holds reset.subject.tmpl, reset.html.tmpl and terms.txt.
//
//go:embed testdata/templates
var templates embed.FS

// A mail rendered from templates compiled into the program: the subject
// and the HTML from files, the plain-text alternative derived from the
// HTML, a file attached. One Template serves every goroutine.
func ExampleParseTemplates() {
	fsys, err := fs.Sub(templates, "testdata/templates")
	if err != nil {
		log.Fatal(err)
	}
	reset, err := mailsession.ParseTemplates(fsys, "reset")
	if err != nil {
		log.Fatal(err)
	}
	if reset, err = reset.Attach("terms.txt"); err != nil {
		log.Fatal(err)
	}

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

	m, err := reset.Message(map[string]string{
		"Name": "Zoë <zoe@example.org>", // escaped in the HTML
		"Site": "example.com",
		"Link": "https://example.com/login",
		"Code": "493 817",
	})
	if err != nil {
		log.Fatal(err)
	}
	m.To = []string{mailtest.DefaultUser}
	ctx := context.Background()
	if err := s.Send(ctx, m); err != nil {
		log.Fatal(err)
	}

	err = s.Receive(ctx, mailsession.ReceiveOptions{Delete: true}, func(ctx context.Context, r *mailsession.Received) error {
		fmt.Println("Subject:", r.Subject())
		pr := r.Parts()
		for {
			p, err := pr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			body, err := io.ReadAll(p.Body)
			if err != nil {
				return err
			}
			fmt.Println("---", strings.TrimSpace(p.ContentType+" "+p.Filename))
			// Text bodies arrive with CRLF line ends, as on the wire.
			fmt.Print(strings.ReplaceAll(string(body), "\r\n", "\n"))
		}
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// Subject: Your code for example.com
	// --- text/plain
	// Hello Zoë <zoe@example.org>,
	//
	// your one-time code for example.com ( https://example.com/login ) is *493 817*.
	// --- text/html
	// <p>Hello Zoë &lt;zoe@example.org&gt;,</p>
	// <p>your one-time code for <a href="https://example.com/login">example.com</a> is <b>493 817</b>.</p>
	// --- text/plain terms.txt
	// The terms of use of example.com.
}
