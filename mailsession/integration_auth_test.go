//go:build integration

package mailsession_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/properties"
)

// authServer is the OAuth2 side of the test stack: a client-credentials
// token endpoint (/token) that issues opaque tokens, and the RFC 7662
// introspection endpoint (/introspect) that Dovecot's oauth2 passdb asks
// about every token it is given (.ci/mailservers/oauth2.conf.ext). A
// token is active while it is unexpired and not revoked; it belongs to
// the client (the mail account) it was issued to.
type authServer struct {
	mu       sync.Mutex
	lifetime time.Duration       // of the tokens issued from now on
	tokens   map[string]*issued  // by access token
	issuedTo map[string][]string // tokens by client, in issue order
	secrets  map[string]string   // client secrets by client id
	answers  map[string][]bool   // introspection answers by token
	srv      *http.Server
	tokenURL string
}

type issued struct {
	client  string
	expires time.Time
	revoked bool
}

// active says whether the token (nil: unknown) may be used now.
func (it *issued) active() bool { return it != nil && !it.revoked && time.Now().Before(it.expires) }

// startAuthServer serves both endpoints on the address Dovecot is
// configured to ask (JMAIL_IT_OAUTH_INTROSPECT) for the test's duration.
func startAuthServer(t *testing.T, e itEnv) *authServer {
	t.Helper()
	addr := e["JMAIL_IT_OAUTH_INTROSPECT"]
	if addr == "" {
		t.Fatal("JMAIL_IT_OAUTH_INTROSPECT is not set: restart the stack with this version of .ci/mailservers.sh")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listening on the introspection address: %v", err)
	}
	a := &authServer{
		lifetime: time.Hour,
		tokens:   map[string]*issued{},
		issuedTo: map[string][]string{},
		secrets:  map[string]string{},
		answers:  map[string][]bool{},
		tokenURL: "http://" + ln.Addr().String() + "/token",
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", a.token)
	mux.HandleFunc("POST /introspect", a.introspect)
	a.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go a.srv.Serve(ln)
	t.Cleanup(func() { a.srv.Close() })
	return a
}

// client registers a mail account as an OAuth2 client and returns its
// client-credentials configuration.
func (a *authServer) client(acct account) clientcredentials.Config {
	secret := "client-secret-" + randomHex(8)
	a.mu.Lock()
	a.secrets[acct.addr] = secret
	a.mu.Unlock()
	return clientcredentials.Config{
		ClientID:     acct.addr,
		ClientSecret: secret,
		TokenURL:     a.tokenURL,
		Scopes:       []string{"mail"},
		AuthStyle:    oauth2.AuthStyleInHeader,
	}
}

func (a *authServer) setLifetime(d time.Duration) {
	a.mu.Lock()
	a.lifetime = d
	a.mu.Unlock()
}

func (a *authServer) token(w http.ResponseWriter, r *http.Request) {
	// RFC 6749 §2.3.1: the client id and secret are form-encoded
	// before they go into the Basic credentials.
	id, secret, ok := r.BasicAuth()
	id, _ = url.QueryUnescape(id)
	secret, _ = url.QueryUnescape(secret)
	a.mu.Lock()
	defer a.mu.Unlock()
	if !ok || r.PostFormValue("grant_type") != "client_credentials" || a.secrets[id] == "" || a.secrets[id] != secret {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":"invalid_client","error_description":"unknown client or wrong secret"}`)
		return
	}
	tok := "at-" + randomHex(24)
	a.tokens[tok] = &issued{client: id, expires: time.Now().Add(a.lifetime)}
	a.issuedTo[id] = append(a.issuedTo[id], tok)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"access_token": tok,
		"token_type":   "Bearer",
		"expires_in":   int(a.lifetime / time.Second),
	})
}

func (a *authServer) introspect(w http.ResponseWriter, r *http.Request) {
	tok := r.PostFormValue("token")
	a.mu.Lock()
	it := a.tokens[tok]
	active := it.active()
	a.answers[tok] = append(a.answers[tok], active)
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if !active {
		fmt.Fprint(w, `{"active":false}`)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"active": true, "username": it.client, "scope": "mail"})
}

// issuedFor lists the tokens issued to the account, oldest first.
func (a *authServer) issuedFor(acct account) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.issuedTo[acct.addr]...)
}

// answersFor lists what the introspection endpoint told Dovecot about tok.
func (a *authServer) answersFor(tok string) []bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]bool(nil), a.answers[tok]...)
}

func (a *authServer) revoke(tok string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.tokens[tok].revoked = true
}

func (a *authServer) active(tok string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.tokens[tok].active()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// tokenAccount is acct without its password: a session that logs in with
// XOAUTH2 or OAUTHBEARER must not need it, and a fall-back to a password
// mechanism would fail.
func tokenAccount(acct account) account { return account{addr: acct.addr} }

// authStoreCases are the Dovecot store endpoints on the production-like
// host: STARTTLS/STLS and implicit TLS.
func authStoreCases(e itEnv, strict string, acct account) map[string]endpointSpec {
	return map[string]endpointSpec{
		"imap-starttls": e.dovecot("imap", strict, startTLS, acct),
		"imaps":         e.dovecot("imap", strict, implicit, acct),
		"pop3-stls":     e.dovecot("pop3", strict, startTLS, acct),
		"pop3s":         e.dovecot("pop3", strict, implicit, acct),
	}
}

// authTransportCases are Postfix's submission and SMTPS ports, whose AUTH
// is Dovecot's (smtpd_sasl_type = dovecot).
func authTransportCases(e itEnv, strict string, acct account) map[string]endpointSpec {
	return map[string]endpointSpec{
		"submission": e.postfix(strict, startTLS, acct),
		"smtps":      e.postfix(strict, implicit, acct),
	}
}

// mechProps builds JavaMail properties for smtp and store with
// mail.<p>.auth.mechanisms set to mech on both.
func mechProps(t *testing.T, smtp, store endpointSpec, from, mech string) *properties.Properties {
	t.Helper()
	p := javaMailProps(t, smtp, &store, from)
	tp := "smtp"
	if smtp.mode == implicit {
		tp = "smtps"
	}
	p.Set("mail."+tp+".auth.mechanisms", mech)
	p.Set("mail."+store.proto+".auth.mechanisms", mech)
	return p
}

// sendAndRead sends one message to acct through s and reads it back from
// s's store: the transport's and the store's logins both work.
func sendAndRead(t *testing.T, ctx context.Context, e itEnv, s *mailsession.Session, acct account) {
	t.Helper()
	subject := uniq(t.Name())
	m := newComposed(subject).message(acct.addr, acct.addr)
	if err := s.Send(ctx, m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	e.waitDelivered(t, acct, 1, 30*time.Second)
	msgs, _ := readStore(t, ctx, s, "Subject")
	if _, ok := msgs[subject]; !ok {
		t.Fatalf("the store does not show the message sent (subjects %v)", keys(msgs))
	}
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// logHas waits until the server log at path has a line holding every one
// of parts, written after offset; Dovecot and Postfix log each login with
// its mechanism, an account of the login independent of the client.
func logHas(t *testing.T, path string, offset int64, parts ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("reading the server log: %v", err)
		}
		if int64(len(data)) > offset {
			for line := range strings.Lines(string(data[offset:])) {
				if containsAll(line, parts) {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has no line with %q since the test began", path, parts)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// TestIntegrationSCRAM logs in to Dovecot (IMAP, POP3) and to Postfix
// submission (Dovecot SASL) with SCRAM-SHA-256 and SCRAM-SHA-1 as
// mail.<p>.auth.mechanisms asks, sends and reads a message, and finds the
// mechanism in the servers' own logs.
func TestIntegrationSCRAM(t *testing.T) {
	e := stack(t)
	strict := e["JMAIL_IT_STRICT_HOST"]
	acct := e.user("scram")
	for _, mech := range []string{"SCRAM-SHA-256", "SCRAM-SHA-1"} {
		for tname, smtp := range authTransportCases(e, strict, acct) {
			for sname, store := range authStoreCases(e, strict, acct) {
				t.Run(mech+"/"+tname+"+"+sname, func(t *testing.T) {
					ctx := testContext(t, 2*time.Minute)
					e.emptyMailbox(t, acct)
					dlog, plog := logSize(t, dovecotLog(e)), logSize(t, postfixLog(e))
					s := sessionFrom(t, false, mechProps(t, smtp, store, acct.addr, mech))
					rep, err := s.Check(ctx)
					if err != nil {
						t.Fatalf("Check: %v", err)
					}
					for what, r := range map[string]*mailsession.EndpointReport{"transport": rep.Transport, "store": rep.Store} {
						if !r.Authenticated || r.Mechanism != mech {
							t.Errorf("%s: %s; want a login with %s", what, r, mech)
						}
					}
					sendAndRead(t, ctx, e, s, acct)
					logHas(t, postfixLog(e), plog, "sasl_method="+mech, "sasl_username="+acct.addr)
					logHas(t, dovecotLog(e), dlog, store.proto+"-login:", "Login: user=<"+acct.addr+">", "method="+mech)
				})
			}
		}
	}

	t.Run("wrong-password", func(t *testing.T) {
		// SCRAM refused by the server: ErrAuth, the password not in it.
		// (Dovecot delays each failed login more than the last: two.)
		ctx := testContext(t, 2*time.Minute)
		wrong := account{acct.addr, "wrong-scram-secret"}
		store := e.dovecot("pop3", strict, implicit, wrong)
		s := sessionFrom(t, false, mechProps(t, e.postfix(strict, startTLS, wrong), store, acct.addr, "SCRAM-SHA-256"))
		_, serr := s.OpenStore(ctx)
		if !errors.Is(serr, mailsession.ErrAuth) {
			t.Errorf("OpenStore with a wrong password: %v, want ErrAuth", serr)
		}
		err := s.Send(ctx, newComposed(uniq(t.Name())).message(acct.addr, acct.addr))
		if !errors.Is(err, mailsession.ErrAuth) {
			t.Errorf("Send with a wrong password: %v, want ErrAuth", err)
		}
		for _, err := range []error{serr, err} {
			if err != nil && strings.Contains(fmt.Sprintf("%v %+v", err, err), wrong.password) {
				t.Errorf("the error shows the password: %v", err)
			}
		}
	})
}

// TestIntegrationOAuth2 logs in with tokens that Dovecot's oauth2 passdb
// checks at the test's introspection endpoint: XOAUTH2 and OAUTHBEARER
// over IMAP, POP3 and Postfix submission; a token that expires between
// two connections is replaced by a fresh one, and a revoked one fails with
// ErrAuth.
func TestIntegrationOAuth2(t *testing.T) {
	e := stack(t)
	strict := e["JMAIL_IT_STRICT_HOST"]
	as := startAuthServer(t, e)
	acct := e.user("oauth")
	noPassword := tokenAccount(acct)

	for _, mech := range []string{"XOAUTH2", "OAUTHBEARER"} {
		for tname, smtp := range authTransportCases(e, strict, noPassword) {
			for sname, store := range authStoreCases(e, strict, noPassword) {
				t.Run(mech+"/"+tname+"+"+sname, func(t *testing.T) {
					ctx := testContext(t, 2*time.Minute)
					e.emptyMailbox(t, acct)
					dlog, plog := logSize(t, dovecotLog(e)), logSize(t, postfixLog(e))
					cc := as.client(acct)
					before := len(as.issuedFor(acct))
					s := sessionFrom(t, false, mechProps(t, smtp, store, acct.addr, mech),
						mailsession.WithTokenSource(mailsession.OAuth2(cc.TokenSource(ctx))))
					sendAndRead(t, ctx, e, s, acct)
					toks := as.issuedFor(acct)[before:]
					if len(toks) != 1 {
						t.Fatalf("%d tokens issued for one transport and one store login, want 1 (cached)", len(toks))
					}
					if a := as.answersFor(toks[0]); len(a) < 2 || !a[0] {
						t.Errorf("Dovecot asked about the token %d times (answers %v), want at least twice (SMTP and store), active", len(a), a)
					}
					logHas(t, postfixLog(e), plog, "sasl_method="+mech, "sasl_username="+acct.addr)
					logHas(t, dovecotLog(e), dlog, store.proto+"-login:", "Login: user=<"+acct.addr+">", "method="+mech)
				})
			}
		}
	}

	t.Run("store-token-source", func(t *testing.T) {
		// The transport logs in with the password (SCRAM), the store
		// with the store's own token source.
		ctx := testContext(t, time.Minute)
		sender := e.user("scram")
		cc := as.client(acct)
		before := len(as.issuedFor(acct))
		store := e.dovecot("imap", strict, implicit, noPassword)
		s := sessionFrom(t, false, javaMailProps(t, e.postfix(strict, startTLS, sender), &store, sender.addr),
			mailsession.WithStoreTokenSource(mailsession.OAuth2(cc.TokenSource(ctx))))
		rep, err := s.Check(ctx)
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		if rep.Transport.Mechanism != "SCRAM-SHA-256" || rep.Store.Mechanism != "XOAUTH2" {
			t.Errorf("transport %s, store %s: want SCRAM-SHA-256 and XOAUTH2", rep.Transport, rep.Store)
		}
		if n := len(as.issuedFor(acct)) - before; n != 1 {
			t.Errorf("%d tokens issued, want 1 (the store's)", n)
		}
	})

	t.Run("expired-between-connections", func(t *testing.T) {
		// Tokens live 3 s, less than OAuth2's early-expiry margin, so
		// each new connection fetches one; the connection in between
		// outlives its token. A pooled connection keeps its login: the
		// sends on it take no token.
		ctx := testContext(t, 2*time.Minute)
		as.setLifetime(3 * time.Second)
		defer as.setLifetime(time.Hour)
		e.emptyMailbox(t, acct)
		cc := as.client(acct)
		before := len(as.issuedFor(acct))
		store := e.dovecot("imap", strict, startTLS, noPassword)
		s := sessionFrom(t, false, javaMailProps(t, e.postfix(strict, startTLS, noPassword), &store, acct.addr),
			mailsession.WithTokenSource(mailsession.OAuth2(cc.TokenSource(ctx))),
			mailsession.WithPool(1, 0)) // every send on a new connection
		send := func() {
			t.Helper()
			if err := s.Send(ctx, newComposed(uniq(t.Name())).message(acct.addr, acct.addr)); err != nil {
				t.Fatalf("Send: %v", err)
			}
		}
		send()
		first := as.issuedFor(acct)[before:]
		if len(first) != 1 {
			t.Fatalf("%d tokens after the first send, want 1", len(first))
		}
		waitInactive(t, as, first[0])
		send()
		st, err := s.OpenStore(ctx)
		if err != nil {
			t.Fatalf("OpenStore after the first token expired: %v", err)
		}
		st.Close()
		toks := as.issuedFor(acct)[before:]
		if len(toks) != 3 {
			t.Fatalf("%d tokens for three connections with short-lived tokens, want 3", len(toks))
		}
		for i, tok := range toks[1:] {
			if a := as.answersFor(tok); len(a) != 1 || !a[0] {
				t.Errorf("token %d: introspection answers %v, want one, active", i+2, a)
			}
		}
		if a := as.answersFor(first[0]); len(a) != 1 {
			t.Errorf("the expired token was presented again: answers %v", a)
		}
		e.waitDelivered(t, acct, 2, 30*time.Second)

		// A pooled connection keeps its login past its token's life.
		pooled := sessionFrom(t, false, javaMailProps(t, e.postfix(strict, startTLS, noPassword), nil, acct.addr),
			mailsession.WithTokenSource(mailsession.OAuth2(cc.TokenSource(ctx))),
			mailsession.WithPool(1, time.Minute))
		before = len(as.issuedFor(acct))
		for range 2 {
			if err := pooled.Send(ctx, newComposed(uniq(t.Name())).message(acct.addr, acct.addr)); err != nil {
				t.Fatalf("Send on the pooled connection: %v", err)
			}
		}
		if n := len(as.issuedFor(acct)) - before; n != 1 {
			t.Errorf("%d tokens for two sends on one pooled connection, want 1", n)
		}
	})

	t.Run("revoked", func(t *testing.T) {
		// A token revoked at the authorization server: the next login
		// with it fails with ErrAuth, the token not in the error.
		ctx := testContext(t, time.Minute)
		cc := as.client(acct)
		before := len(as.issuedFor(acct))
		store := e.dovecot("pop3", strict, implicit, noPassword)
		s := sessionFrom(t, false, javaMailProps(t, e.postfix(strict, startTLS, noPassword), &store, acct.addr),
			mailsession.WithTokenSource(mailsession.OAuth2(cc.TokenSource(ctx))),
			mailsession.WithPool(1, 0))
		if err := s.Send(ctx, newComposed(uniq(t.Name())).message(acct.addr, acct.addr)); err != nil {
			t.Fatalf("Send with a fresh token: %v", err)
		}
		toks := as.issuedFor(acct)[before:]
		if len(toks) != 1 {
			t.Fatalf("%d tokens issued, want 1", len(toks))
		}
		as.revoke(toks[0])
		err := s.Send(ctx, newComposed(uniq(t.Name())).message(acct.addr, acct.addr))
		if !errors.Is(err, mailsession.ErrAuth) {
			t.Errorf("Send with a revoked token: %v, want ErrAuth", err)
		}
		_, serr := s.OpenStore(ctx)
		if !errors.Is(serr, mailsession.ErrAuth) {
			t.Errorf("OpenStore with a revoked token: %v, want ErrAuth", serr)
		}
		for _, err := range []error{err, serr} {
			if err != nil && strings.Contains(fmt.Sprintf("%v %+v", err, err), toks[0]) {
				t.Errorf("the error shows the token: %v", err)
			}
		}
		t.Logf("revoked: send %v; store %v", err, serr)
	})
}

// waitInactive waits until tok has expired at the authorization server.
func waitInactive(t *testing.T, as *authServer, tok string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for as.active(tok) {
		if time.Now().After(deadline) {
			t.Fatal("the short-lived token did not expire")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
