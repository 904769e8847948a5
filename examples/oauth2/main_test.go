package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/mailsession/mailtest"
)

// TestDemo runs the program as `go run ./examples/oauth2` does, over IMAP
// and POP3: one token per flow for a Check and two sends, the rotated
// refresh token in the file, and no token or secret in the output or log.
func TestDemo(t *testing.T) {
	for _, store := range []string{"imap", "pop3"} {
		t.Run(store, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			file := filepath.Join(t.TempDir(), "token.json")
			var out, logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			err := run(ctx, &out, log, config{Provider: "demo", Flow: flowRefreshToken, Store: store, TokenFile: file})
			if err != nil {
				t.Fatalf("run: %v\noutput:\n%s\nlog:\n%s", err, out.String(), logs.String())
			}
			got := out.String()
			for _, want := range []string{
				"logged in with XOAUTH2",
				"== Check: store " + store + "://",
				"logged in with OAUTHBEARER",
				"== Sent 2 messages from user@example.com to alerts@example.com",
				`== Read 2 messages from alerts@example.com: ["OAuth2 test 1" "OAuth2 test 2"]`,
				"== Token endpoint: 1 refresh_token and 1 client_credentials grants",
				"holds the rotated refresh token: true",
			} {
				if !strings.Contains(got, want) {
					t.Errorf("output lacks %q:\n%s", want, got)
				}
			}
			if !strings.Contains(logs.String(), "refresh token rotated and saved") {
				t.Errorf("log does not say the token was saved:\n%s", logs.String())
			}
			saved, err := loadRefreshToken(file)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(got+logs.String(), saved.RefreshToken) {
				t.Error("the refresh token is in the output or the log")
			}
			if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("token file mode %v, %v; want 0600", fi.Mode().Perm(), err)
			}
		})
	}
}

// A refresh token the provider no longer takes (rotated elsewhere,
// revoked) fails the login with ErrAuth saying what the endpoint answered,
// never the token; likewise a wrong client secret.
func TestTokenEndpointRefuses(t *testing.T) {
	mail := mailtest.NewServer(t)
	demo := newDemoProvider(mail, mailtest.DefaultUser, mailtest.DefaultUser)
	endpoint := httptest.NewServer(demo)
	defer endpoint.Close()
	p := provider{Name: "demo", TokenURL: endpoint.URL + "/token", DelegatedScopes: []string{"s"}, AppScopes: []string{"s"}}
	file := filepath.Join(t.TempDir(), "token.json")
	const stale = "stale-refresh-token-0123456789"
	if err := saveRefreshToken(file, stale); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		name, flow string
		creds      credentials
		secret     string // must not be in the error
		want       string
	}{
		{"stale refresh token", flowRefreshToken, credentials{ClientID: demo.clientID, TokenFile: file}, stale, "invalid_grant"},
		{"wrong client secret", flowClientCredentials, credentials{ClientID: demo.clientID, ClientSecret: "wrong-secret-abcdef"}, "wrong-secret-abcdef", "invalid_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts, err := tokenSource(context.Background(), p, tc.flow, tc.creds, log)
			if err != nil {
				t.Fatal(err)
			}
			props := mail.Properties(mailtest.Plain, "imap")
			props.Set("mail.smtp.auth.mechanisms", "XOAUTH2")
			s, err := mailsession.FromProperties(props, mailsession.WithTokenSource(ts), mailsession.WithLogger(log))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			err = s.Send(context.Background(), &mailsession.Message{To: []string{mailtest.DefaultUser}, Subject: "x", Text: "x\n"})
			if !errors.Is(err, mailsession.ErrAuth) {
				t.Fatalf("Send = %v, want ErrAuth", err)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.want) || !strings.Contains(msg, "127.0.0.1") || strings.Contains(msg, tc.secret) {
				t.Errorf("error %q: want %q and the endpoint, without the secret", msg, tc.want)
			}
			if n := len(mail.Messages(mailtest.DefaultUser)); n != 0 {
				t.Errorf("%d messages delivered", n)
			}
		})
	}
}

func TestProviders(t *testing.T) {
	ms, err := lookupProvider("microsoft", "contoso.onmicrosoft.com")
	if err != nil {
		t.Fatal(err)
	}
	if ms.TokenURL != "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token" || !ms.POP3TwoLine ||
		ms.SMTPHost != "smtp.office365.com" || ms.SMTPPort != 587 || len(ms.AppScopes) != 1 {
		t.Errorf("microsoft: %+v", ms)
	}
	g, err := lookupProvider("google", "")
	if err != nil || g.TokenURL != "https://oauth2.googleapis.com/token" || len(g.AppScopes) != 0 || g.IMAPHost != "imap.gmail.com" {
		t.Errorf("google: %+v, %v", g, err)
	}
	for _, tc := range []struct{ name, tenant, want string }{
		{"microsoft", "", "-tenant is required"},
		{"microsoft", "a/b", "not an ID or a domain"},
		{"microsoft", "a b", "not an ID or a domain"},
		{"yahoo", "", "unknown provider"},
	} {
		if _, err := lookupProvider(tc.name, tc.tenant); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("lookupProvider(%q, %q) = %v, want %q", tc.name, tc.tenant, err, tc.want)
		}
	}

	// Bad flows and credentials are refused before anything is sent.
	log := slog.New(slog.DiscardHandler)
	empty := filepath.Join(t.TempDir(), "empty.json")
	if err := os.WriteFile(empty, []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		p     provider
		flow  string
		creds credentials
		want  string
	}{
		{"google has no client credentials", g, flowClientCredentials, credentials{ClientID: "id", ClientSecret: "s"}, "no client-credentials grant"},
		{"no client ID", ms, flowClientCredentials, credentials{ClientSecret: "s"}, "client ID is required"},
		{"no client secret", ms, flowClientCredentials, credentials{ClientID: "id"}, "needs the client secret"},
		{"no token file", g, flowRefreshToken, credentials{ClientID: "id"}, "needs -token-file"},
		{"missing token file", g, flowRefreshToken, credentials{ClientID: "id", TokenFile: filepath.Join(t.TempDir(), "none")}, "no such file"},
		{"token file without a token", g, flowRefreshToken, credentials{ClientID: "id", TokenFile: empty}, "no refresh_token"},
		{"unknown flow", g, "password", credentials{ClientID: "id"}, "unknown flow"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tokenSource(context.Background(), tc.p, tc.flow, tc.creds, log); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("tokenSource = %v, want %q", err, tc.want)
			}
		})
	}
}

// The properties written for a provider build a session, XOAUTH2 only,
// and the POP3 two-line form set for Microsoft.
func TestProviderProperties(t *testing.T) {
	ms, err := microsoft("organizations")
	if err != nil {
		t.Fatal(err)
	}
	for _, store := range []string{"imap", "pop3"} {
		props := providerProperties(ms, config{User: "alerts@contoso.com", Mailbox: "shared@contoso.com", Store: store})
		s, err := mailsession.FromProperties(props, mailsession.WithTokenSource(func(context.Context) (string, error) { return "t", nil }),
			mailsession.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatalf("%s: %v", store, err)
		}
		for _, w := range s.Warnings() {
			t.Errorf("%s: warning %v", store, w)
		}
		s.Close()
		proto := store + "s"
		if got, _ := props.Get("mail." + proto + ".user"); got != "shared@contoso.com" {
			t.Errorf("%s user %q", proto, got)
		}
		if got, _ := props.Get("mail.pop3s.auth.xoauth2.two.line.authentication.format"); (store == "pop3") != (got == "true") {
			t.Errorf("%s: two-line format %q", store, got)
		}
	}
}
