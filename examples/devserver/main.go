// Command devserver runs the embedded mail server of package mailtest on
// fixed loopback ports, for trying a mail session (or a Java portal) against
// real SMTP, POP3 and IMAP without a mail server:
//
//	go run ./examples/devserver
//
// The default ports are the standard ones plus 10000 (10025 SMTP, 10465
// SMTPS, 10110 POP3, 10995 POP3S, 10143 IMAP, 10993 IMAPS), clear of the
// ports the project's integration servers (Postfix, Dovecot, Mailpit) use;
// flags change them. It prints the JavaMail properties and the same settings as
// Liferay portal-ext.properties keys to paste into a configuration, writes the
// certificate authority that signed its TLS certificate to a file it names
// (for --cacert, SSL_CERT_FILE or a Java trust store), and prints each message
// as it arrives. Ctrl-C (or SIGTERM) stops it.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"mime"
	"net/mail"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/jmailgo/jmail/mailsession/mailtest"
	"github.com/jmailgo/jmail/properties"
)

func main() {
	log.SetFlags(0)
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		log.Fatal("devserver: ", err)
	}
}

// run starts the server, prints its settings and serves until ctx ends or a
// signal arrives.
func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("devserver", flag.ContinueOnError)
	host := fs.String("host", "127.0.0.1", "address to listen on (keep it loopback)")
	ports := mailtest.Ports{}
	fs.IntVar(&ports.SMTP, "smtp", 10025, "SMTP port (STARTTLS offered)")
	fs.IntVar(&ports.SMTPS, "smtps", 10465, "SMTP port with implicit TLS")
	fs.IntVar(&ports.POP3, "pop3", 10110, "POP3 port (STLS offered)")
	fs.IntVar(&ports.POP3S, "pop3s", 10995, "POP3 port with implicit TLS")
	fs.IntVar(&ports.IMAP, "imap", 10143, "IMAP port (STARTTLS offered)")
	fs.IntVar(&ports.IMAPS, "imaps", 10993, "IMAP port with implicit TLS")
	user := fs.String("user", mailtest.DefaultUser, "mailbox address (the login name)")
	password := fs.String("password", mailtest.DefaultPassword, "mailbox password")
	token := fs.String("token", mailtest.DefaultToken, "OAuth bearer token accepted for XOAUTH2 / OAUTHBEARER")
	mode := fs.String("mode", "starttls", "mode of the printed properties: plain, starttls or tls")
	store := fs.String("store", "imap", "store protocol of the printed properties: imap or pop3")
	debug := fs.Bool("debug", false, "log connections and protocol errors")
	if err := fs.Parse(args); err != nil {
		return err
	}
	m, ok := map[string]mailtest.Mode{"plain": mailtest.Plain, "starttls": mailtest.StartTLS, "tls": mailtest.ImplicitTLS}[*mode]
	if !ok {
		return fmt.Errorf("-mode %q: want plain, starttls or tls", *mode)
	}
	if *store != "imap" && *store != "pop3" {
		return fmt.Errorf("-store %q: want imap or pop3", *store)
	}

	out = &lockedWriter{w: out} // messages are printed from connection goroutines
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	srv, err := mailtest.Start(
		mailtest.WithHost(*host),
		mailtest.WithPorts(ports),
		mailtest.WithUser(*user, *password),
		mailtest.WithOAuthToken(*user, *token),
		mailtest.WithLogger(logger),
		mailtest.WithOnMessage(func(msg mailtest.Message) { printMessage(out, msg) }),
	)
	if err != nil {
		return err
	}
	defer srv.Close()

	dir, err := os.MkdirTemp("", "jmail-devserver-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	caPath := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caPath, srv.CACertPEM(), 0o644); err != nil {
		return err
	}

	p := srv.Ports()
	fmt.Fprintf(out, "mailtest dev server on %s: SMTP %d (STARTTLS), SMTPS %d, POP3 %d (STLS), POP3S %d, IMAP %d (STARTTLS), IMAPS %d\n",
		srv.Host(), p.SMTP, p.SMTPS, p.POP3, p.POP3S, p.IMAP, p.IMAPS)
	fmt.Fprintf(out, "mailbox %s; any other domain is accepted and only printed\n", *user)
	fmt.Fprintf(out, "CA certificate: %s   (curl --cacert, SSL_CERT_FILE=, or keytool -importcert)\n\n", caPath)
	jm := srv.Properties(m, *store)
	fmt.Fprintf(out, "# JavaMail properties (%s, %s):\n", *mode, *store)
	if err := jm.Store(out); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n# Liferay portal-ext.properties (%s, %s):\n", *mode, *store)
	if err := portalProperties(jm).Store(out); err != nil {
		return err
	}
	fmt.Fprintln(out, "\nwaiting for mail; Ctrl-C to stop")

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	fmt.Fprintln(out, "stopping")
	return nil
}

// portalProperties writes JavaMail properties as Liferay's
// portal-ext.properties keys: mail.session.mail=true (the Control Panel
// settings: AUTH on with the login), every key under mail.session., and the
// From as Liferay's default sender, admin.email.from.address.
func portalProperties(jm *properties.Properties) *properties.Properties {
	p := properties.New()
	p.Set("mail.session.mail", "true")
	for _, k := range jm.Keys() {
		v, _ := jm.Get(k)
		if k == "mail.from" {
			p.Set("admin.email.from.address", v)
			continue
		}
		p.Set("mail.session."+k, v)
	}
	return p
}

// printMessage prints the envelope and subject of an accepted message.
func printMessage(out io.Writer, msg mailtest.Message) {
	subject := "(unreadable header)"
	if m, err := mail.ReadMessage(bytes.NewReader(msg.Data)); err == nil {
		subject = m.Header.Get("Subject")
		if dec, err := new(mime.WordDecoder).DecodeHeader(subject); err == nil {
			subject = dec
		}
	}
	fmt.Fprintf(out, "%s  from <%s> to <%s>  %d bytes  subject %q\n",
		msg.Received.Format("15:04:05"), msg.From, strings.Join(msg.To, ">, <"), len(msg.Data), subject)
}

// lockedWriter serialises writes from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
