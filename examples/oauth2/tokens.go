package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/jmailgo/jmail/mailsession"
)

// The two OAuth2 flows the program speaks.
const (
	flowRefreshToken      = "refresh-token"      // delegated: the user consented once; the refresh token is kept
	flowClientCredentials = "client-credentials" // app-only: the application's own secret
)

// credentials are the application's: its ID and secret, and for the
// refresh-token flow the file that keeps the refresh token.
type credentials struct {
	ClientID, ClientSecret string
	TokenFile              string
}

// tokenSource builds the session's token source for a flow: cached by
// mailsession.OAuth2 and refreshed a minute before expiry; with a refresh
// token, each token the provider rotates is written back to the file.
func tokenSource(ctx context.Context, p provider, flow string, c credentials, log *slog.Logger) (mailsession.TokenSource, error) {
	if c.ClientID == "" {
		return nil, errors.New("a client ID is required (-client-id)")
	}
	switch flow {
	case flowClientCredentials:
		if len(p.AppScopes) == 0 {
			return nil, fmt.Errorf("%s offers no client-credentials grant for mail; use -flow %s", p.Name, flowRefreshToken)
		}
		if c.ClientSecret == "" {
			return nil, errors.New("the client-credentials flow needs the client secret (OAUTH2_CLIENT_SECRET)")
		}
		conf := clientcredentials.Config{
			ClientID: c.ClientID, ClientSecret: c.ClientSecret,
			TokenURL: p.TokenURL, Scopes: p.AppScopes,
			AuthStyle: oauth2.AuthStyleInParams,
		}
		return mailsession.OAuth2(conf.TokenSource(ctx)), nil
	case flowRefreshToken:
		saved, err := loadRefreshToken(c.TokenFile)
		if err != nil {
			return nil, err
		}
		conf := oauth2.Config{
			ClientID: c.ClientID, ClientSecret: c.ClientSecret, // a public client has no secret
			Endpoint: oauth2.Endpoint{AuthURL: p.AuthURL, TokenURL: p.TokenURL, AuthStyle: oauth2.AuthStyleInParams},
			Scopes:   p.DelegatedScopes,
		}
		last := saved.RefreshToken
		keep := func(tok *oauth2.Token) {
			if tok.RefreshToken == "" || tok.RefreshToken == last {
				return
			}
			if err := saveRefreshToken(c.TokenFile, tok.RefreshToken); err != nil {
				// The new token works for now; the next start needs it.
				log.Error("the rotated refresh token could not be saved", "file", c.TokenFile, "err", err)
				return
			}
			last = tok.RefreshToken
			log.Info("refresh token rotated and saved", "file", c.TokenFile)
		}
		return mailsession.OAuth2(mailsession.OnTokenRefresh(conf.TokenSource(ctx, saved), keep)), nil
	}
	return nil, fmt.Errorf("unknown flow %q (%s or %s)", flow, flowRefreshToken, flowClientCredentials)
}

// tokenFile is the file that keeps the refresh token (mode 0600).
type tokenFile struct {
	RefreshToken string `json:"refresh_token"`
}

func loadRefreshToken(path string) (*oauth2.Token, error) {
	if path == "" {
		return nil, errors.New("the refresh-token flow needs -token-file")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var tf tokenFile
	if err := json.Unmarshal(data, &tf); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if tf.RefreshToken == "" {
		return nil, fmt.Errorf("%s: no refresh_token", path)
	}
	// No access token: the first connection fetches one.
	return &oauth2.Token{RefreshToken: tf.RefreshToken}, nil
}

// saveRefreshToken replaces the file whole (a temporary file renamed over
// it), so that a crash leaves the old token or the new one, never half.
func saveRefreshToken(path, refresh string) error {
	data, err := json.Marshal(tokenFile{RefreshToken: refresh})
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".token-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
