// Command mailinglist is the reading half of a portal's mailing list: it
// polls an inbox and hands each new message to a handler that prints its
// sender and subject. A message is deleted only after its handler succeeded
// (Liferay deletes every message it fetched, even when processing failed).
//
// By default it runs on an embedded mail server (package mailtest): it sends
// a few messages to the list, polls until it has handled them, and exits:
//
//	go run ./examples/mailinglist
//	go run ./examples/mailinglist -store pop3
//
// With -props it reads a real inbox, configured by a JavaMail properties
// file (mail.store.protocol, mail.imap.host, ...) or a Liferay
// portal-ext.properties (mail.session.* keys), and polls until interrupted.
// -keep leaves the messages on the server and remembers the ones handled in
// a file, so that each is handled once across restarts:
//
//	go run ./examples/mailinglist -props mail.properties -interval 30s
//	go run ./examples/mailinglist -props mail.properties -keep -uids handled.json
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/mailsession/mailtest"
	"github.com/jmailgo/jmail/properties"
)

// config is what the flags set.
type config struct {
	props    string        // properties file; "" runs on the embedded server
	store    string        // embedded server only: imap or pop3
	interval time.Duration // poll interval
	keep     bool          // leave messages on the server
	uids     string        // UID memory file with keep
	max      int           // messages per poll
	verbose  bool
}

func main() {
	var c config
	flag.StringVar(&c.props, "props", "", "JavaMail or Liferay properties file of a real inbox (default: embedded server)")
	flag.StringVar(&c.store, "store", "imap", "embedded server: read over imap or pop3")
	flag.DurationVar(&c.interval, "interval", time.Minute, "poll interval (embedded server: 100ms)")
	flag.BoolVar(&c.keep, "keep", false, "leave messages on the server; remember the handled ones instead")
	flag.StringVar(&c.uids, "uids", "", "with -keep: file remembering the handled messages across restarts")
	flag.IntVar(&c.max, "max", 0, "most messages handled per poll (0: all)")
	flag.BoolVar(&c.verbose, "v", false, "trace the protocol exchanges (passwords redacted)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, c); err != nil {
		fmt.Fprintln(os.Stderr, "mailinglist:", err)
		os.Exit(1)
	}
}

// run polls the inbox until ctx ends (or, on the embedded server, until
// the seeded messages are handled).
func run(ctx context.Context, out io.Writer, c config) error {
	var opts []mailsession.Option
	if c.verbose {
		opts = append(opts, mailsession.WithDebug(slog.New(slog.NewTextHandler(os.Stderr, nil))))
	}
	var p *properties.Properties
	seeded := 0
	if c.props == "" {
		srv, err := mailtest.Start()
		if err != nil {
			return err
		}
		defer srv.Close()
		p = srv.Properties(mailtest.StartTLS, c.store)
		opts = append(opts, mailsession.WithRootCAs(srv.CertPool()))
		c.interval = 100 * time.Millisecond
		fmt.Fprintf(out, "embedded server on %s; reading %s with STARTTLS\n", srv.Host(), p.Value("mail.store.protocol", ""))
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Minute)
		defer cancel()
		var err2 error
		if seeded, err2 = seed(ctx, p, opts); err2 != nil {
			return err2
		}
	} else {
		var err error
		if p, err = properties.LoadFile(c.props); err != nil {
			return err
		}
	}
	session, err := newSession(p, opts)
	if err != nil {
		return err
	}
	defer session.Close()

	ro := mailsession.ReceiveOptions{Delete: !c.keep, PollInterval: c.interval, MaxMessages: c.max}
	if c.keep && c.uids != "" {
		mem, err := mailsession.OpenFileUIDMemory(c.uids)
		if err != nil {
			return err
		}
		ro.Memory = mem
	}

	pollCtx, done := context.WithCancel(ctx)
	defer done()
	var handled atomic.Int64
	err = session.Receive(pollCtx, ro, func(ctx context.Context, m *mailsession.Received) error {
		if err := post(out, m); err != nil {
			return err // the message stays on the server for the next poll
		}
		if n := handled.Add(1); seeded > 0 && n == int64(seeded) {
			done() // embedded demo: everything seeded was handled
		}
		return nil
	})
	var he *mailsession.HandlerError
	if errors.As(err, &he) {
		fmt.Fprintln(out, "left on the server for the next poll:", err)
		err = nil
	}
	if err == nil && ctx.Err() != nil && seeded > 0 {
		return fmt.Errorf("handled %d of %d messages before the time limit", handled.Load(), seeded)
	}
	fmt.Fprintf(out, "handled %d messages\n", handled.Load())
	return err
}

// newSession reads Liferay's mail.session.* keys when the file has them,
// else JavaMail keys.
func newSession(p *properties.Properties, opts []mailsession.Option) (*mailsession.Session, error) {
	for _, k := range p.Keys() {
		if strings.HasPrefix(k, "mail.session.") {
			return mailsession.FromPortalProperties(p, opts...)
		}
	}
	return mailsession.FromProperties(p, opts...)
}

// post is the list's handler: print who wrote what. A real list would
// re-send the message to its members here.
func post(out io.Writer, m *mailsession.Received) error {
	from := "(unknown sender)"
	if addrs, err := m.From(); err == nil && len(addrs) > 0 {
		from = "<" + addrs[0].Address + ">"
		if addrs[0].Name != "" {
			from = addrs[0].Name + " " + from
		}
	}
	n, err := io.Copy(io.Discard, m.Raw) // a real list would forward these bytes
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s  %-30s  %q (%d bytes)\n", m.UID, from, m.Subject(), n)
	return nil
}

// seed sends a few messages to the embedded list's inbox over SMTP.
func seed(ctx context.Context, p *properties.Properties, opts []mailsession.Option) (int, error) {
	s, err := mailsession.FromProperties(p, opts...)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	list := mailtest.DefaultUser
	posts := []struct{ from, subject, text string }{
		{"Ann Example <ann@example.com>", "Welcome to the list", "Hello everyone."},
		{"Bob Example <bob@example.com>", "Re: Welcome to the list", "Hi Ann!"},
		{"Chloé Exemple <chloe@example.com>", "Réunion de jeudi", "À jeudi."},
	}
	for _, m := range posts {
		if err := s.Send(ctx, &mailsession.Message{From: m.from, To: []string{list}, Subject: m.subject, Text: m.text}); err != nil {
			return 0, err
		}
	}
	return len(posts), nil
}
