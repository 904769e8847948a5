package mailsession

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/jmailgo/jmail/mailsession/mailtest"
)

// tokenEndpoint is an OAuth2 token endpoint (RFC 6749) for the tests:
// client credentials and refresh-token grants, a new access token per
// request, a rotated refresh token per refresh when rotate is set.
type tokenEndpoint struct {
	*httptest.Server
	mu        sync.Mutex
	requests  int
	expiresIn int    // seconds; 0: 3600
	fail      int    // answer with this status instead of a token
	failBody  string // the failure's body
	rotate    bool
	refresh   string // the refresh token accepted now
	issued    []string
}

const testClientSecret = "client-secret-never-shown"

func newTokenEndpoint(t *testing.T) *tokenEndpoint {
	te := &tokenEndpoint{refresh: "rt-1"}
	te.Server = httptest.NewServer(http.HandlerFunc(te.serve))
	t.Cleanup(te.Close)
	return te
}

func (te *tokenEndpoint) serve(w http.ResponseWriter, r *http.Request) {
	te.mu.Lock()
	defer te.mu.Unlock()
	te.requests++
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if te.fail != 0 {
		w.WriteHeader(te.fail)
		fmt.Fprint(w, te.failBody)
		return
	}
	_, secret, _ := r.BasicAuth()
	if secret == "" {
		secret = r.Form.Get("client_secret")
	}
	if secret != testClientSecret {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":"invalid_client"}`)
		return
	}
	resp := map[string]any{"token_type": "Bearer", "expires_in": 3600}
	if te.expiresIn != 0 {
		resp["expires_in"] = te.expiresIn
	}
	switch r.Form.Get("grant_type") {
	case "client_credentials":
	case "refresh_token":
		if r.Form.Get("refresh_token") != te.refresh {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant","error_description":"the refresh token was used already"}`)
			return
		}
		if te.rotate {
			te.refresh = fmt.Sprintf("rt-%d", te.requests+1)
			resp["refresh_token"] = te.refresh
		}
	default:
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"unsupported_grant_type"}`)
		return
	}
	tok := fmt.Sprintf("access-%d", te.requests)
	te.issued = append(te.issued, tok)
	resp["access_token"] = tok
	json.NewEncoder(w).Encode(resp)
}

func (te *tokenEndpoint) stats() (requests int, last string) {
	te.mu.Lock()
	defer te.mu.Unlock()
	if len(te.issued) > 0 {
		last = te.issued[len(te.issued)-1]
	}
	return te.requests, last
}

func (te *tokenEndpoint) clientCredentials() oauth2.TokenSource {
	cc := &clientcredentials.Config{ClientID: "jmail-test", ClientSecret: testClientSecret, TokenURL: te.URL + "/token", Scopes: []string{"https://outlook.office365.com/.default"}}
	return cc.TokenSource(context.Background())
}

// acceptIssued makes the mail server accept the token the endpoint issued
// last, as a provider's servers accept a fresh token.
func acceptIssued(t *testing.T, srv *mailtest.Server, te *tokenEndpoint) {
	t.Helper()
	_, last := te.stats()
	if err := srv.SetOAuthToken(mailtest.DefaultUser, last); err != nil {
		t.Fatal(err)
	}
}

// TestOAuth2TokenPerTokenLife: the token endpoint is asked once for a
// token that stays valid, however many connections log in with it, and
// never per message; a token near its expiry is fetched again by the
// next new connection, and the server accepts the new one.
func TestOAuth2TokenPerTokenLife(t *testing.T) {
	srv := mailtest.NewServer(t, mailtest.WithOAuthToken(mailtest.DefaultUser, "none yet"))
	te := newTokenEndpoint(t)
	ts := OAuth2(te.clientCredentials())
	if _, err := ts(ctxT(t)); err != nil { // the first fetch
		t.Fatal(err)
	}
	acceptIssued(t, srv, te)

	// A new connection per message (pool timeout 0): one token for all.
	each := newTestSession(t, srv, mailtest.ImplicitTLS, WithTokenSource(ts), WithPool(1, 0))
	for range 3 {
		sendOK(t, each, mailtest.DefaultUser)
	}
	// One pooled connection for three messages.
	pooled := newTestSession(t, srv, mailtest.ImplicitTLS, WithTokenSource(ts))
	for range 3 {
		sendOK(t, pooled, mailtest.DefaultUser)
	}
	if n, _ := te.stats(); n != 1 {
		t.Errorf("token endpoint asked %d times for a token that stayed valid; want 1", n)
	}
	if n := count(srv.SMTPCommands(), "AUTH"); n != 4 {
		t.Errorf("%d logins, want 4 (3 connections, then 1 pooled)", n)
	}

	// Tokens that expire within the minute: each new connection fetches
	// one, and logs in with it; a pooled connection keeps its login.
	te2 := newTokenEndpoint(t)
	te2.expiresIn = 30
	ts2 := OAuth2(te2.clientCredentials())
	s := newTestSession(t, srv, mailtest.ImplicitTLS, WithTokenSource(ts2), WithPool(1, 0))
	for i := range 3 {
		// The server knows only the token issued next, as after an expiry.
		srv.SetOAuthToken(mailtest.DefaultUser, fmt.Sprintf("access-%d", i+1))
		sendOK(t, s, mailtest.DefaultUser)
	}
	if n, _ := te2.stats(); n != 3 {
		t.Errorf("short-lived tokens: %d fetches for 3 connections", n)
	}
	s2 := newTestSession(t, srv, mailtest.ImplicitTLS, WithTokenSource(ts2))
	srv.SetOAuthToken(mailtest.DefaultUser, "access-4")
	for range 3 {
		sendOK(t, s2, mailtest.DefaultUser)
	}
	if n, _ := te2.stats(); n != 4 {
		t.Errorf("short-lived tokens, one pooled connection for 3 messages: %d fetches in all, want 4", n)
	}
}

// TestOAuth2Failures: a revoked token, a refused refresh, an endpoint in
// trouble, an unreachable one: each is an ErrAuth naming the server,
// temporary only when the endpoint may answer later, and no token, secret
// or raw body is in the error or the debug trace.
func TestOAuth2Failures(t *testing.T) {
	srv := mailtest.NewServer(t, mailtest.WithOAuthToken(mailtest.DefaultUser, "none yet"))
	gone := newTokenEndpoint(t)
	gone.Close()
	cases := []struct {
		name      string
		setup     func(te *tokenEndpoint)
		source    func(te *tokenEndpoint) oauth2.TokenSource
		temporary bool
		says      []string
	}{
		{name: "revoked", setup: func(te *tokenEndpoint) {}, says: []string{"XOAUTH2 rejected", "535"}},
		{name: "invalid_grant", setup: func(te *tokenEndpoint) {
			te.fail, te.failBody = 400, `{"error":"invalid_grant","error_description":"AADSTS70000: the grant is expired","refresh_token":"rt-SECRET-echoed"}`
		}, says: []string{"400 Bad Request", "invalid_grant", "AADSTS70000"}},
		{name: "bad client secret", source: func(te *tokenEndpoint) oauth2.TokenSource {
			cc := &clientcredentials.Config{ClientID: "jmail-test", ClientSecret: "wrong-secret-never-shown", TokenURL: te.URL + "/token"}
			return cc.TokenSource(context.Background())
		}, says: []string{"401", "invalid_client"}},
		{name: "endpoint 503", setup: func(te *tokenEndpoint) {
			te.fail, te.failBody = 503, `<html>maintenance, token access-0 kept</html>`
		}, temporary: true, says: []string{"503 Service Unavailable"}},
		{name: "unreachable", source: func(*tokenEndpoint) oauth2.TokenSource {
			cc := &clientcredentials.Config{ClientID: "x", ClientSecret: testClientSecret, TokenURL: gone.URL + "/token"}
			return cc.TokenSource(context.Background())
		}, temporary: true, says: []string{"connection refused"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			te := newTokenEndpoint(t)
			var src oauth2.TokenSource
			if c.source != nil {
				src = c.source(te)
			} else {
				src = te.clientCredentials()
				c.setup(te)
			}
			var trace bytes.Buffer
			s := newTestSession(t, srv, mailtest.ImplicitTLS, WithTokenSource(OAuth2(src)),
				WithDebug(slog.New(slog.NewTextHandler(&trace, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			err := s.Send(ctxT(t), &Message{From: mailtest.DefaultUser, To: []string{mailtest.DefaultUser}, Text: "x"})
			if !errors.Is(err, ErrAuth) {
				t.Fatalf("err = %v; want ErrAuth", err)
			}
			if errors.Is(err, ErrTemporary) != c.temporary {
				t.Errorf("temporary = %v, want %v: %v", errors.Is(err, ErrTemporary), c.temporary, err)
			}
			msg := err.Error()
			for _, want := range append(c.says, srv.Addr(srv.Ports().SMTPS)) {
				if !strings.Contains(msg, want) {
					t.Errorf("error lacks %q: %s", want, msg)
				}
			}
			_, issued := te.stats()
			for _, secret := range []string{testClientSecret, "wrong-secret-never-shown", "SECRET", "access-0", issued} {
				if secret == "" {
					continue
				}
				if strings.Contains(msg, secret) || strings.Contains(fmt.Sprintf("%+v", err), secret) {
					t.Errorf("the error shows %q: %s", secret, msg)
				}
				if strings.Contains(trace.String(), secret) {
					t.Errorf("the debug trace shows %q", secret)
				}
			}
		})
	}
}

// TestOAuth2RotatedRefreshToken: with a provider that rotates refresh
// tokens (each one good once), OnTokenRefresh hands every new token to the
// application, so that the latest refresh token is kept; a session built
// again from the kept token (a restart) logs in.
func TestOAuth2RotatedRefreshToken(t *testing.T) {
	srv := mailtest.NewServer(t, mailtest.WithOAuthToken(mailtest.DefaultUser, "none yet"))
	te := newTokenEndpoint(t)
	te.rotate, te.expiresIn = true, 30 // each connection refreshes
	conf := &oauth2.Config{ClientID: "jmail-test", ClientSecret: testClientSecret, Endpoint: oauth2.Endpoint{TokenURL: te.URL + "/token"}}
	var mu sync.Mutex
	var saved []*oauth2.Token
	save := func(tok *oauth2.Token) {
		mu.Lock()
		defer mu.Unlock()
		saved = append(saved, tok)
	}
	start := &oauth2.Token{RefreshToken: "rt-1"} // as loaded from storage
	ts := OAuth2(OnTokenRefresh(conf.TokenSource(context.Background(), start), save))
	s := newTestSession(t, srv, mailtest.ImplicitTLS, WithTokenSource(ts), WithPool(1, 0))
	for i := range 3 {
		srv.SetOAuthToken(mailtest.DefaultUser, fmt.Sprintf("access-%d", i+1))
		sendOK(t, s, mailtest.DefaultUser)
	}
	mu.Lock()
	last := saved[len(saved)-1]
	n := len(saved)
	mu.Unlock()
	if n != 3 || last.RefreshToken != "rt-4" || last.AccessToken != "access-3" {
		t.Fatalf("saved %d tokens, the last %q/%q; want 3, rt-4/access-3", n, last.AccessToken, last.RefreshToken)
	}
	// A restart from the kept token goes on; from the first one it fails.
	srv.SetOAuthToken(mailtest.DefaultUser, "access-4")
	restarted := newTestSession(t, srv, mailtest.ImplicitTLS, WithPool(1, 0),
		WithTokenSource(OAuth2(conf.TokenSource(context.Background(), &oauth2.Token{RefreshToken: last.RefreshToken}))))
	sendOK(t, restarted, mailtest.DefaultUser)
	stale := newTestSession(t, srv, mailtest.ImplicitTLS,
		WithTokenSource(OAuth2(conf.TokenSource(context.Background(), &oauth2.Token{RefreshToken: "rt-1"}))))
	if err := stale.Send(ctxT(t), &Message{From: mailtest.DefaultUser, To: []string{mailtest.DefaultUser}, Text: "x"}); !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("a used refresh token: %v", err)
	}
}

// TestWithStoreTokenSource: the store logs in with its own token source,
// the transport with WithTokenSource's.
func TestWithStoreTokenSource(t *testing.T) {
	const reader = "inbox@example.com"
	srv := mailtest.NewServer(t, mailtest.WithOAuthToken(mailtest.DefaultUser, "send-token"), mailtest.WithOAuthToken(reader, "read-token"))
	var sendCalls, readCalls int
	var mu sync.Mutex
	sendTS := func(context.Context) (string, error) { mu.Lock(); sendCalls++; mu.Unlock(); return "send-token", nil }
	readTS := func(context.Context) (string, error) { mu.Lock(); readCalls++; mu.Unlock(); return "read-token", nil }
	for _, store := range []string{"pop3s", "imaps"} {
		t.Run(store, func(t *testing.T) {
			p := srv.Properties(mailtest.ImplicitTLS, store)
			p.Set("mail."+strings.TrimSuffix(store, "s")+".user", reader)
			p.Set("mail."+store+".user", reader)
			s, err := FromProperties(p, WithRootCAs(srv.CertPool()), WithLogger(quietLogger()), WithTokenSource(sendTS), WithStoreTokenSource(readTS))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			sendOK(t, s, reader)
			if err := s.Receive(ctxT(t), ReceiveOptions{Delete: true}, func(context.Context, *Received) error { return nil }); err != nil {
				t.Fatalf("Receive: %v", err)
			}
		})
	}
	if sendCalls != 2 || readCalls != 2 {
		t.Errorf("transport token source called %d times, store's %d; want 2 and 2", sendCalls, readCalls)
	}
}
