// Command quickstart shows the library's main job in a few seconds: it builds
// a mail session from a Liferay-style portal-ext.properties file, publishes it
// under mail/MailSession, sends a notification with a text and HTML body and
// an attachment, reads it back over IMAP and POP3, and prints Check's report.
//
// By default it runs on an embedded mail server (package mailtest), so it
// needs nothing installed:
//
//	go run ./examples/quickstart
//
// With -props it uses the settings of a real server instead; -to names the
// recipient (default: the SMTP user). Certificates are verified against the
// system roots (SSL_CERT_FILE points Go at another CA file):
//
//	go run ./examples/quickstart -props /opt/liferay/portal-ext.properties -to me@example.com
package main

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/mail"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jmailgo/jmail/jndi"
	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/mailsession/mailtest"
	"github.com/jmailgo/jmail/properties"
)

// portalExt is the settings file shipped beside this program.
//
//go:embed portal-ext.properties
var portalExt []byte

func main() {
	propsPath := flag.String("props", "", "portal-ext.properties of a real server (default: the shipped file, on an embedded server)")
	to := flag.String("to", "", "recipient (default: the SMTP user)")
	verbose := flag.Bool("v", false, "trace the protocol exchanges (passwords redacted)")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout, *propsPath, *to, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// run is the whole quickstart; main only parses flags.
func run(ctx context.Context, out io.Writer, propsPath, to string, verbose bool) error {
	var opts []mailsession.Option
	if verbose {
		opts = append(opts, mailsession.WithDebug(slog.New(slog.NewTextHandler(os.Stderr, nil))))
	}

	text, source := portalExt, "examples/quickstart/portal-ext.properties"
	if propsPath != "" {
		b, err := os.ReadFile(propsPath)
		if err != nil {
			return err
		}
		text, source = b, propsPath
	}
	p, err := properties.Load(bytes.NewReader(text))
	if err != nil {
		return fmt.Errorf("%s: %w", source, err)
	}

	fmt.Fprintf(out, "== Settings, from %s\n", source)
	printSettings(out, p)

	if propsPath == "" {
		srv, err := mailtest.Start()
		if err != nil {
			return err
		}
		defer srv.Close()
		ports := srv.Ports()
		overlay := map[string]int{
			"mail.session.mail.smtp.port": ports.SMTP,
			"mail.session.mail.pop3.port": ports.POP3,
			"mail.session.mail.imap.port": ports.IMAP,
		}
		fmt.Fprintf(out, "\n== Embedded mail server on %s (its ports overlay the file's)\n", srv.Host())
		for _, k := range p.Keys() {
			if port, ok := overlay[k]; ok {
				p.Set(k, strconv.Itoa(port))
				fmt.Fprintf(out, "   %s=%d\n", k, port)
			}
		}
		opts = append(opts, mailsession.WithRootCAs(srv.CertPool()))
	}

	// One session for the whole program, published under its JNDI name.
	session, err := mailsession.FromPortalProperties(p, opts...)
	if err != nil {
		return err
	}
	defer session.Close()
	registry := jndi.NewRegistry()
	if err := registry.Bind("mail/MailSession", session); err != nil {
		return err
	}
	shared, err := jndi.LookupAs[*mailsession.Session](registry, "java:comp/env/mail/MailSession")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n== Bound mail/MailSession; looked up as java:comp/env/mail/MailSession: same session: %t\n", shared == session)

	if to == "" {
		to = shared.Property("mail.smtp.user")
	}
	subject := "Welcome to the portal, " + time.Now().Format("15:04:05")
	start := time.Now()
	err = shared.Send(ctx, &mailsession.Message{
		To:      []string{to},
		Subject: subject,
		Text:    "Your account is ready.\n\nThe attached file lists what you can do first.\n",
		HTML:    "<p>Your account is <b>ready</b>.</p><p>The attached file lists what you can do first.</p>",
		Attachments: []mailsession.Attachment{{
			Filename:    "first-steps.csv",
			ContentType: "text/csv",
			Data:        strings.NewReader("step,page\n1,Profile\n2,Notifications\n"),
		}},
	})
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	fmt.Fprintf(out, "\n== Sent %q to %s in %s\n", subject, to, time.Since(start).Round(time.Millisecond))

	viaIMAP, err := readOverIMAP(ctx, out, p, opts, subject)
	if err != nil {
		return err
	}
	if err := readOverPOP3(ctx, out, shared, subject, viaIMAP); err != nil {
		return err
	}

	report, err := shared.Check(ctx)
	fmt.Fprintln(out, "\n== Check")
	if report != nil {
		for _, ep := range []*mailsession.EndpointReport{report.Transport, report.Store} {
			if ep != nil {
				fmt.Fprintf(out, "   %s\n", ep)
			}
		}
		for _, w := range report.Warnings {
			fmt.Fprintf(out, "   warning: %s\n", w)
		}
	}
	return err
}

// printSettings prints the settings that are set, with passwords masked.
func printSettings(out io.Writer, p *properties.Properties) {
	for _, k := range p.Keys() {
		v, _ := p.Get(k)
		if strings.HasSuffix(k, "password") && v != "" {
			v = "********"
		}
		fmt.Fprintf(out, "   %s=%s\n", k, v)
	}
}

// readOverIMAP opens the same inbox over IMAP with a second session built
// from the same file, and lists and fetches the message without deleting it.
// It returns the message's bytes.
func readOverIMAP(ctx context.Context, out io.Writer, p *properties.Properties, opts []mailsession.Option, subject string) ([]byte, error) {
	imapSession, err := mailsession.FromPortalProperties(p, append(opts, mailsession.WithProperty("mail.store.protocol", "imap"))...)
	if err != nil {
		return nil, err
	}
	defer imapSession.Close()
	store, err := imapSession.OpenStore(ctx)
	if err != nil {
		return nil, fmt.Errorf("IMAP: %w", err)
	}
	defer store.Close()
	infos, err := store.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("IMAP: %w", err)
	}
	for _, info := range infos {
		raw, err := fetch(ctx, store, info.UID)
		if err != nil {
			return nil, fmt.Errorf("IMAP: %w", err)
		}
		msg, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("IMAP: %w", err)
		}
		if got := decodeSubject(msg.Header.Get("Subject")); got == subject {
			mediaType, _, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
			fmt.Fprintf(out, "\n== Read back over IMAP: UID %s, %d bytes, %s, subject %q\n", info.UID, info.Size, mediaType, got)
			return raw, nil
		}
	}
	return nil, fmt.Errorf("IMAP: %q not found among %d messages", subject, len(infos))
}

// fetch reads one message whole; the quickstart's messages are small.
func fetch(ctx context.Context, store *mailsession.Store, uid string) ([]byte, error) {
	rc, err := store.Fetch(ctx, uid)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// readOverPOP3 receives over the session's own store (POP3 in the shipped
// file) and deletes the message once the handler has accepted it, checking
// that POP3 hands over the same bytes as IMAP did.
func readOverPOP3(ctx context.Context, out io.Writer, s *mailsession.Session, subject string, viaIMAP []byte) error {
	found := false
	err := s.Receive(ctx, mailsession.ReceiveOptions{Delete: true}, func(ctx context.Context, r *mailsession.Received) error {
		if r.Subject() != subject {
			return errKeep // not ours: leave it on the server
		}
		raw, err := io.ReadAll(r.Raw)
		if err != nil {
			return err
		}
		found = true
		fmt.Fprintf(out, "\n== Received over POP3 and deleted: UID %s, %d bytes, from %s; same bytes as over IMAP: %t\n",
			r.UID, r.Size, r.Header.Get("From"), bytes.Equal(raw, viaIMAP))
		return nil
	})
	if err != nil && !errors.Is(err, errKeep) {
		return fmt.Errorf("POP3: %w", err)
	}
	if !found {
		return fmt.Errorf("POP3: %q not found", subject)
	}
	return nil
}

// errKeep is the handler's way to leave a message that is not the
// quickstart's own on the server.
var errKeep = errors.New("not the quickstart's message")

// decodeSubject decodes MIME encoded-words in a Subject header.
func decodeSubject(s string) string {
	var dec mime.WordDecoder
	if d, err := dec.DecodeHeader(s); err == nil {
		return d
	}
	return s
}
