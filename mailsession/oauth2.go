package mailsession

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// oauth2EarlyExpiry is how long before its expiry a cached token is
// replaced: a connection that logs in with it must not see it expire
// mid-handshake, and a pooled connection keeps the login it made.
const oauth2EarlyExpiry = time.Minute

// OAuth2 adapts an oauth2.TokenSource of golang.org/x/oauth2 — a
// clientcredentials.Config's (app-only, as Microsoft 365 offers for SMTP,
// IMAP and POP), an oauth2.Config's TokenSource built on a refresh token
// (delegated, Google's and Microsoft's), or any other — for
// WithTokenSource and WithStoreTokenSource.
//
// The token is cached and replaced a minute before it expires: the token
// endpoint is asked once per token, not per connection, and never per
// message (a pooled connection keeps its login). Each new connection takes
// the current token. A failed fetch fails that connection's login with an
// error matching ErrAuth that names the endpoint and says what the token
// endpoint answered (status, error code and description), never a token
// or a secret; it is temporary (errors.Is(err, ErrTemporary)) when the
// token endpoint could not be reached or answered 5xx or 429.
//
// To keep a refresh token that the provider rotates, wrap the source in
// OnTokenRefresh.
func OAuth2(ts oauth2.TokenSource) TokenSource {
	if ts == nil {
		return func(context.Context) (string, error) {
			return "", &tokenError{msg: "no oauth2.TokenSource given"}
		}
	}
	cached := oauth2.ReuseTokenSourceWithExpiry(nil, ts, oauth2EarlyExpiry)
	return func(ctx context.Context) (string, error) {
		type result struct {
			tok *oauth2.Token
			err error
		}
		// oauth2.TokenSource takes no context: a fetch that outlives
		// ctx is left to finish (the next caller gets its token).
		done := make(chan result, 1)
		go func() {
			tok, err := cached.Token()
			done <- result{tok, err}
		}()
		var r result
		select {
		case r = <-done:
		case <-ctx.Done():
			return "", &tokenError{msg: "waiting for the token endpoint", err: &ctxEndError{err: ctx.Err(), cause: context.Cause(ctx)}, temporary: true}
		}
		if r.err != nil {
			return "", tokenFetchError(r.err)
		}
		if r.tok == nil || r.tok.AccessToken == "" {
			return "", &tokenError{msg: "the token source gave no access token"}
		}
		if t := r.tok.Type(); !strings.EqualFold(t, "Bearer") {
			return "", &tokenError{msg: fmt.Sprintf("the token source gave a %q token; XOAUTH2 and OAUTHBEARER carry Bearer tokens", t)}
		}
		return r.tok.AccessToken, nil
	}
}

// OnTokenRefresh calls fn with each new token ts gives (a refreshed access
// token, and the refresh token the provider may have rotated with it), so
// that the application can store it: a rotated refresh token that is not
// kept is lost at the next restart. fn runs before the token is used; it
// must not block for long, and it handles its own errors (a failure to
// store is no reason to fail the login).
//
//	saved := loadToken() // *oauth2.Token with the last refresh token
//	ts := mailsession.OAuth2(mailsession.OnTokenRefresh(conf.TokenSource(ctx, saved), saveToken))
func OnTokenRefresh(ts oauth2.TokenSource, fn func(*oauth2.Token)) oauth2.TokenSource {
	return &notifyingSource{ts: ts, fn: fn}
}

// notifyingSource is OnTokenRefresh's source.
type notifyingSource struct {
	ts   oauth2.TokenSource
	fn   func(*oauth2.Token)
	mu   sync.Mutex
	last string // the access token fn saw last
}

func (n *notifyingSource) Token() (*oauth2.Token, error) {
	tok, err := n.ts.Token()
	if err != nil || tok == nil {
		return tok, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if tok.AccessToken != n.last {
		n.last = tok.AccessToken
		if n.fn != nil {
			n.fn(tok)
		}
	}
	return tok, nil
}

// tokenError is a failure to get a token. It matches ErrAuth; its text
// never holds a token or the token endpoint's raw body.
type tokenError struct {
	msg       string
	err       error // the cause when it tells no secret (the ctx's end, a network error)
	temporary bool
}

func (e *tokenError) Error() string {
	if e.err != nil {
		return "OAuth2 token: " + e.msg + ": " + e.err.Error()
	}
	return "OAuth2 token: " + e.msg
}

func (e *tokenError) Unwrap() error { return e.err }

// Is matches ErrAuth, and ErrTemporary when another try may succeed.
func (e *tokenError) Is(target error) bool {
	return target == ErrAuth || (target == ErrTemporary && e.temporary)
}

// tokenFetchError describes a failed fetch from what the token endpoint
// answered: the status, RFC 6749's error code and description (cut
// short), never the raw body (a misbehaving endpoint may echo a secret).
func tokenFetchError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		msg := fmt.Sprintf("the token endpoint answered %d %s", status, http.StatusText(status))
		if re.ErrorCode != "" {
			msg += ": " + printable(re.ErrorCode, 64)
		}
		if re.ErrorDescription != "" {
			msg += ": " + printable(re.ErrorDescription, 300)
		}
		return &tokenError{msg: msg, temporary: status >= 500 || status == http.StatusTooManyRequests}
	}
	var te *tokenError
	if errors.As(err, &te) {
		return te
	}
	// A network failure (*url.Error names the token URL, which carries
	// no secret) or a failure of the application's own source: told as it
	// is, and worth another try.
	return &tokenError{msg: "fetching", err: err, temporary: true}
}
