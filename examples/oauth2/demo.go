package main

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/jmailgo/jmail/mailsession/mailtest"
)

// demoProvider plays the provider's token endpoint for the demo, in front
// of the embedded mail server: both grants, a refresh token rotated at
// every use (as Microsoft's and Google's may be), and each access token it
// issues made the one the mail server accepts for its mailbox.
type demoProvider struct {
	mail                   *mailtest.Server
	clientID, clientSecret string
	user, mailbox          string // whose the delegated and the app-only tokens are

	mu      sync.Mutex
	refresh string         // the refresh token now valid
	grants  map[string]int // token requests by grant type
}

func newDemoProvider(mail *mailtest.Server, user, mailbox string) *demoProvider {
	return &demoProvider{
		mail: mail, user: user, mailbox: mailbox,
		clientID: "demo-app", clientSecret: rand.Text(),
		refresh: rand.Text(), grants: map[string]int{},
	}
}

func (d *demoProvider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the form does not parse")
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	grant := r.PostForm.Get("grant_type")
	d.grants[grant]++
	if r.PostForm.Get("client_id") != d.clientID {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "unknown client")
		return
	}
	resp := map[string]any{"token_type": "Bearer", "expires_in": 3600, "access_token": rand.Text()}
	var owner string
	switch grant {
	case "refresh_token":
		if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("refresh_token")), []byte(d.refresh)) != 1 {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "the refresh token is not valid (used already, or revoked)")
			return
		}
		d.refresh = rand.Text() // rotated: the old one is spent
		resp["refresh_token"] = d.refresh
		owner = d.user
	case "client_credentials":
		if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("client_secret")), []byte(d.clientSecret)) != 1 {
			oauthError(w, http.StatusUnauthorized, "invalid_client", "wrong client secret")
			return
		}
		owner = d.mailbox
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", grant)
		return
	}
	if err := d.mail.SetOAuthToken(owner, resp["access_token"].(string)); err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// grantCount says how often the token endpoint was asked for a grant.
func (d *demoProvider) grantCount(grant string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.grants[grant]
}
