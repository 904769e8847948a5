package controlpanel

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
)

// errCSRF is the reason a POST is refused when its CSRF token is missing or
// does not match the request's cookie.
var errCSRF = errors.New("controlpanel: missing or invalid CSRF token; reload the page and try again")

// csrfField is the name of the hidden form field carrying the token.
const csrfField = "csrf_token"

// csrf implements the double-submit pattern with a signed token: the browser
// holds a random value in a SameSite=Strict, HttpOnly cookie, and every form
// carries HMAC(key, cookie). A POST is accepted only when the submitted token
// equals the MAC of the cookie sent with it (compared in constant time), so
// another site can neither read nor forge it. Cross-origin requests are
// refused before that by net/http's CrossOriginProtection (Sec-Fetch-Site and
// Origin checks).
type csrf struct {
	key    []byte // per handler, random
	origin *http.CrossOriginProtection
}

func newCSRF(trusted []string) (*csrf, error) {
	c := &csrf{key: make([]byte, 32), origin: http.NewCrossOriginProtection()}
	if _, err := rand.Read(c.key); err != nil {
		return nil, err
	}
	for _, o := range trusted {
		if err := c.origin.AddTrustedOrigin(o); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// cookieName is "__Host-" prefixed over HTTPS, so that the cookie cannot be
// set by a sibling subdomain or over plain HTTP.
func cookieName(r *http.Request) string {
	if overHTTPS(r) {
		return "__Host-jmail_csrf"
	}
	return "jmail_csrf"
}

// overHTTPS reports whether the browser reached the page over HTTPS: the
// connection is TLS, or a TLS-terminating reverse proxy in front (the usual
// deployment of an admin page) says so in X-Forwarded-Proto. Trusting the
// header only ever makes the cookie stricter: a client that sends it over
// plain HTTP merely gets a cookie its browser will not keep.
func overHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}

// token returns the form token for r, setting a fresh cookie on w when r has
// none (or a malformed one).
func (c *csrf) token(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(cookieName(r)); err == nil {
		if raw, err := base64.RawURLEncoding.DecodeString(ck.Value); err == nil && len(raw) == 32 {
			return c.mac(ck.Value)
		}
	}
	raw := make([]byte, 32)
	rand.Read(raw) // never fails (crypto/rand panics rather than return short)
	v := base64.RawURLEncoding.EncodeToString(raw)
	http.SetCookie(w, &http.Cookie{
		Name:     cookieName(r),
		Value:    v,
		Path:     "/",
		HttpOnly: true,
		Secure:   overHTTPS(r),
		SameSite: http.SameSiteStrictMode,
	})
	return c.mac(v)
}

// owner identifies the browser of r by the MAC of its CSRF cookie, or ""
// without one.
func (c *csrf) owner(r *http.Request) string {
	ck, err := r.Cookie(cookieName(r))
	if err != nil {
		return ""
	}
	return c.mac(ck.Value)
}

func (c *csrf) mac(cookie string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(cookie))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// verify checks a state-changing request: origin first, then the token in
// the (already parsed) form against the cookie.
func (c *csrf) verify(r *http.Request) error {
	if err := c.origin.Check(r); err != nil {
		return errors.Join(errCSRF, err)
	}
	ck, err := r.Cookie(cookieName(r))
	if err != nil {
		return errCSRF
	}
	got := r.PostFormValue(csrfField)
	if got == "" || !hmac.Equal([]byte(got), []byte(c.mac(ck.Value))) {
		return errCSRF
	}
	return nil
}
