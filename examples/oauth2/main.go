// Command oauth2 sends and reads mail with OAuth2, as Microsoft 365 and
// Google require now that they turn password logins off: the session's
// transport and store take tokens from golang.org/x/oauth2 token sources
// (mailsession.OAuth2), cached, refreshed before they expire, fetched per
// new connection and never per message; a refresh token the provider
// rotates is written back to its file (mailsession.OnTokenRefresh).
//
// By default it runs a demo that needs nothing installed: the embedded
// mail server (package mailtest) behind a local token endpoint that plays
// the provider, with both flows — the sender's delegated refresh token for
// SMTP, the application's client credentials (app-only) for the mailbox it
// reads over IMAP:
//
//	go run ./examples/oauth2
//
// Against Microsoft 365 or Gmail the endpoints and servers come from the
// provider's configuration (provider.go); the client secret is read from
// $OAUTH2_CLIENT_SECRET, never from the command line:
//
//	go run ./examples/oauth2 -provider microsoft -tenant contoso.onmicrosoft.com \
//	    -client-id ID -flow client-credentials -user alerts@contoso.com -to me@contoso.com
//	go run ./examples/oauth2 -provider google -client-id ID -flow refresh-token \
//	    -token-file ~/.config/jmail/token.json -user me@gmail.com
//
// The token file holds {"refresh_token": "..."} (from the provider's
// consent flow, e.g. oauth2.Config.Exchange); keep it mode 0600.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/mailsession/mailtest"
	"github.com/jmailgo/jmail/properties"
)

// config is the command line.
type config struct {
	Provider, Tenant  string // demo, microsoft or google
	Flow, StoreFlow   string // refresh-token or client-credentials; StoreFlow default: Flow
	ClientID          string
	ClientSecret      string // from $OAUTH2_CLIENT_SECRET
	TokenFile         string
	User, Mailbox, To string // the sending account, the mailbox read, the recipient
	Store             string // imap or pop3
}

func main() {
	var c config
	flag.StringVar(&c.Provider, "provider", "demo", "demo (embedded), microsoft or google")
	flag.StringVar(&c.Tenant, "tenant", "", "Microsoft: the directory (ID or domain)")
	flag.StringVar(&c.Flow, "flow", flowRefreshToken, "refresh-token or client-credentials, for sending")
	flag.StringVar(&c.StoreFlow, "store-flow", "", "the flow for the mailbox read (default: -flow; demo: client-credentials)")
	flag.StringVar(&c.ClientID, "client-id", "", "the application's client ID")
	flag.StringVar(&c.TokenFile, "token-file", "", "refresh-token flow: the file keeping the refresh token")
	flag.StringVar(&c.User, "user", "", "the account that sends")
	flag.StringVar(&c.Mailbox, "mailbox", "", "the mailbox to read (default: -user)")
	flag.StringVar(&c.To, "to", "", "the recipient (default: the mailbox)")
	flag.StringVar(&c.Store, "store", "imap", "imap or pop3")
	flag.Parse()
	c.ClientSecret = os.Getenv("OAUTH2_CLIENT_SECRET")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(ctx, os.Stdout, log, c); err != nil {
		fmt.Fprintln(os.Stderr, "oauth2:", err)
		os.Exit(1)
	}
}

// run is the whole program; main only reads the command line.
func run(ctx context.Context, out io.Writer, log *slog.Logger, c config) error {
	if c.Store != "imap" && c.Store != "pop3" {
		return fmt.Errorf("-store %q: imap or pop3", c.Store)
	}
	var (
		p     provider
		props *properties.Properties
		demo  *demoProvider
	)
	if c.Provider == "demo" {
		mail, err := mailtest.Start(
			mailtest.WithOAuthToken(mailtest.DefaultUser, ""), // no token is good until the provider issues one
			mailtest.WithOAuthToken(demoMailbox, ""),
		)
		if err != nil {
			return err
		}
		defer mail.Close()
		demo = newDemoProvider(mail, mailtest.DefaultUser, demoMailbox)
		endpoint := httptest.NewServer(demo)
		defer endpoint.Close()
		p = provider{
			Name: "demo", AuthURL: endpoint.URL + "/authorize", TokenURL: endpoint.URL + "/token",
			DelegatedScopes: []string{"mail.send"}, AppScopes: []string{"mail.read"},
		}
		if c.TokenFile == "" {
			dir, err := os.MkdirTemp("", "jmail-oauth2-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			c.TokenFile = filepath.Join(dir, "token.json")
		}
		// What the consent step would have left: the first refresh token.
		if err := saveRefreshToken(c.TokenFile, demo.refresh); err != nil {
			return err
		}
		c.ClientID, c.ClientSecret = demo.clientID, demo.clientSecret
		c.User, c.Mailbox = mailtest.DefaultUser, demoMailbox
		if c.StoreFlow == "" {
			c.StoreFlow = flowClientCredentials
		}
		props = mail.Properties(mailtest.Plain, c.Store)
		props.Set("mail."+c.Store+".user", c.Mailbox)
		props.Set("mail."+c.Store+".auth.mechanisms", "OAUTHBEARER")
		props.Set("mail.smtp.auth.mechanisms", "XOAUTH2")
		fmt.Fprintf(out, "== Demo: embedded mail server, token endpoint %s\n", p.TokenURL)
	} else {
		var err error
		if p, err = lookupProvider(c.Provider, c.Tenant); err != nil {
			return err
		}
		if c.User == "" {
			return errors.New("-user is required")
		}
		if c.Mailbox == "" {
			c.Mailbox = c.User
		}
		props = providerProperties(p, c)
	}
	if c.StoreFlow == "" {
		c.StoreFlow = c.Flow
	}
	if c.To == "" {
		c.To = c.Mailbox
	}

	creds := credentials{ClientID: c.ClientID, ClientSecret: c.ClientSecret, TokenFile: c.TokenFile}
	sendTokens, err := tokenSource(ctx, p, c.Flow, creds, log)
	if err != nil {
		return fmt.Errorf("sending: %w", err)
	}
	readTokens := sendTokens
	if c.StoreFlow != c.Flow {
		if readTokens, err = tokenSource(ctx, p, c.StoreFlow, creds, log); err != nil {
			return fmt.Errorf("reading: %w", err)
		}
	}
	session, err := mailsession.FromProperties(props,
		mailsession.WithTokenSource(sendTokens),
		mailsession.WithStoreTokenSource(readTokens),
		mailsession.WithLogger(log))
	if err != nil {
		return err
	}
	defer session.Close()

	report, err := session.Check(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "== Check: transport %v\n", report.Transport)
	fmt.Fprintf(out, "== Check: store %v\n", report.Store)
	if report.Transport.Err != nil || report.Store.Err != nil {
		return errors.New("the session cannot log in (see Check)")
	}

	// Two messages, one connection: one token.
	for i := 1; i <= 2; i++ {
		err := session.Send(ctx, &mailsession.Message{
			From: c.User, To: []string{c.To},
			Subject: fmt.Sprintf("OAuth2 test %d", i),
			Text:    "Sent with a token from golang.org/x/oauth2.\n",
		})
		if err != nil {
			return fmt.Errorf("send %d: %w", i, err)
		}
	}
	fmt.Fprintf(out, "== Sent 2 messages from %s to %s\n", c.User, c.To)
	if demo == nil {
		return nil
	}

	var subjects []string
	err = session.Receive(ctx, mailsession.ReceiveOptions{Delete: true}, func(ctx context.Context, m *mailsession.Received) error {
		subjects = append(subjects, m.Subject())
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "== Read %d messages from %s: %q\n", len(subjects), c.Mailbox, subjects)
	fmt.Fprintf(out, "== Token endpoint: %d refresh_token and %d client_credentials grants\n",
		demo.grantCount("refresh_token"), demo.grantCount("client_credentials"))
	saved, err := loadRefreshToken(c.TokenFile)
	if err != nil {
		return err
	}
	demo.mu.Lock()
	kept := saved.RefreshToken == demo.refresh
	demo.mu.Unlock()
	fmt.Fprintf(out, "== Token file %s holds the rotated refresh token: %v\n", c.TokenFile, kept)
	return nil
}

// demoMailbox is the shared mailbox the demo's application reads.
const demoMailbox = "alerts@example.com"

// providerProperties are the JavaMail settings for the provider's servers:
// SMTP submission with STARTTLS required, the store over implicit TLS, and
// XOAUTH2 as the only mechanism.
func providerProperties(p provider, c config) *properties.Properties {
	props := properties.New()
	set := func(k, v string) { props.Set(k, v) }
	set("mail.transport.protocol", "smtp")
	set("mail.smtp.host", p.SMTPHost)
	set("mail.smtp.port", strconv.Itoa(p.SMTPPort))
	set("mail.smtp.starttls.enable", "true")
	set("mail.smtp.starttls.required", "true")
	set("mail.smtp.auth", "true")
	set("mail.smtp.user", c.User)
	set("mail.smtp.auth.mechanisms", "XOAUTH2")
	set("mail.from", c.User)
	store, host, port := "imaps", p.IMAPHost, p.IMAPPort
	if c.Store == "pop3" {
		store, host, port = "pop3s", p.POP3Host, p.POP3Port
		if p.POP3TwoLine {
			set("mail.pop3s.auth.xoauth2.two.line.authentication.format", "true")
		}
	}
	set("mail.store.protocol", store)
	set("mail."+store+".host", host)
	set("mail."+store+".port", strconv.Itoa(port))
	set("mail."+store+".user", c.Mailbox)
	set("mail."+store+".auth.mechanisms", "XOAUTH2")
	return props
}
