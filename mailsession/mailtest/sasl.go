package mailtest

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
)

// errAuthFailed is returned by the SASL mechanisms on bad credentials; each
// protocol maps it to its own failure reply.
var errAuthFailed = errors.New("authentication failed")

// authenticator checks credentials against the store and Faults.RefuseAuth,
// and remembers the mailbox that logged in.
type authenticator struct {
	s      *Server
	mb     *mailbox
	helper string // server host name for CRAM-MD5 challenges
	// tlsState returns the connection's TLS state, nil without TLS
	// (SCRAM -PLUS channel binding). Nil: no TLS.
	tlsState func() *tls.ConnectionState
	// offersPlus reports whether the connection offers a -PLUS
	// mechanism. Nil: it does not.
	offersPlus func() bool
}

func (a *authenticator) password(username, password string) error {
	if a.s.faults.get().RefuseAuth {
		return errAuthFailed
	}
	mb := a.s.store.checkPassword(username, password)
	if mb == nil {
		return errAuthFailed
	}
	a.mb = mb
	return nil
}

func (a *authenticator) token(username, token string) error {
	if a.s.faults.get().RefuseAuth {
		return errAuthFailed
	}
	mb := a.s.store.checkToken(username, token)
	if mb == nil {
		return errAuthFailed
	}
	a.mb = mb
	return nil
}

// actAs switches the logged-in mailbox to the one the authorization
// identity authzid names, if AllowAuthorization permits it.
func (a *authenticator) actAs(authzid string) error {
	mb := a.s.store.authorize(a.mb, authzid)
	if mb == nil {
		a.mb = nil
		return errAuthFailed
	}
	a.mb = mb
	return nil
}

// mechanism returns the server side of a SASL mechanism, or nil if unknown.
func (a *authenticator) mechanism(name string) sasl.Server {
	switch strings.ToUpper(name) {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, username, password string) error {
			if err := a.password(username, password); err != nil {
				return err
			}
			return a.actAs(identity)
		})
	case sasl.Login:
		return &loginServer{check: a.password}
	case "CRAM-MD5":
		return &cramMD5Server{a: a}
	case "XOAUTH2":
		return &xoauth2Server{check: a.token}
	case scramSHA256, scramSHA1, scramSHA256Plus, scramSHA1Plus:
		return a.scram(name)
	case sasl.OAuthBearer:
		return sasl.NewOAuthBearerServer(func(o sasl.OAuthBearerOptions) *sasl.OAuthBearerError {
			if err := a.token(o.Username, o.Token); err != nil {
				return &sasl.OAuthBearerError{Status: "invalid_token", Schemes: "bearer"}
			}
			return nil
		})
	}
	return nil
}

// loginServer is the server side of the LOGIN mechanism
// (draft-murchison-sasl-login).
type loginServer struct {
	check    func(username, password string) error
	step     int
	username string
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step = 1
		if response == nil {
			return []byte("Username:"), false, nil
		}
		fallthrough
	case 1:
		l.username = string(response)
		l.step = 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		return nil, true, l.check(l.username, string(response))
	}
	return nil, false, sasl.ErrUnexpectedClientResponse
}

// cramMD5Server is the server side of CRAM-MD5 (RFC 2195).
type cramMD5Server struct {
	a         *authenticator
	challenge []byte
}

func (c *cramMD5Server) Next(response []byte) ([]byte, bool, error) {
	if c.challenge == nil {
		if len(response) > 0 {
			return nil, false, sasl.ErrUnexpectedClientResponse
		}
		c.challenge = fmt.Appendf(nil, "<%s.%d@%s>", rand.Text(), time.Now().UnixNano(), "mailtest.localhost")
		return c.challenge, false, nil
	}
	user, digest, ok := bytes.Cut(response, []byte(" "))
	if !ok {
		return nil, false, errAuthFailed
	}
	if c.a.s.faults.get().RefuseAuth {
		return nil, false, errAuthFailed
	}
	mb := c.a.s.store.lookup(string(user))
	if mb == nil || mb.password == "" {
		return nil, false, errAuthFailed
	}
	mac := hmac.New(md5.New, []byte(mb.password))
	mac.Write(c.challenge)
	want := hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), bytes.ToLower(digest)) {
		return nil, false, errAuthFailed
	}
	c.a.mb = mb
	return nil, true, nil
}

// xoauth2Server is the server side of Google's XOAUTH2: the client sends
// "user=U\x01auth=Bearer T\x01\x01"; on failure the server sends a JSON
// error challenge, the client answers with an empty response and the
// exchange fails.
type xoauth2Server struct {
	check  func(username, token string) error
	failed bool
}

func (x *xoauth2Server) Next(response []byte) ([]byte, bool, error) {
	if x.failed {
		return nil, false, errAuthFailed
	}
	if response == nil {
		return []byte{}, false, nil
	}
	var user, token string
	for _, field := range strings.Split(string(response), "\x01") {
		if v, ok := strings.CutPrefix(field, "user="); ok {
			user = v
		} else if v, ok := strings.CutPrefix(field, "auth="); ok {
			if t, ok := cutPrefixFold(v, "Bearer "); ok {
				token = t
			}
		}
	}
	if user == "" || token == "" || x.check(user, token) != nil {
		x.failed = true
		return []byte(`{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}`), false, nil
	}
	return nil, true, nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// defaultStoreMechanisms are the POP3 AUTH and IMAP AUTHENTICATE
// mechanisms offered unless SetStoreAuthMechanisms is called.
func defaultStoreMechanisms() []string {
	return []string{sasl.Plain, sasl.Login, "XOAUTH2", sasl.OAuthBearer,
		scramSHA256Plus, scramSHA1Plus, scramSHA256, scramSHA1}
}

// SetStoreAuthMechanisms sets the SASL mechanisms that POP3 (AUTH, CAPA
// SASL) and IMAP (AUTHENTICATE, AUTH= capabilities) offer, in order, from
// PLAIN, LOGIN, XOAUTH2, OAUTHBEARER and the SCRAM ones (-PLUS over TLS
// only); none offers no SASL (POP3 USER/PASS and IMAP LOGIN stay). The
// default offers all of them.
func (s *Server) SetStoreAuthMechanisms(m ...string) {
	list := make([]string, 0, len(m))
	for _, name := range m {
		list = append(list, strings.ToUpper(name))
	}
	s.mu.Lock()
	s.storeMechs = list
	s.mu.Unlock()
}

func (s *Server) storeMechanisms() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.storeMechs == nil {
		return defaultStoreMechanisms()
	}
	return append([]string(nil), s.storeMechs...)
}

// defaultMechanisms returns the SMTP AUTH mechanisms offered unless
// SetAuthMechanisms is called; the -PLUS ones only over TLS.
func defaultMechanisms() []string {
	return []string{sasl.Plain, sasl.Login, "CRAM-MD5", "XOAUTH2", sasl.OAuthBearer,
		scramSHA256Plus, scramSHA1Plus, scramSHA256, scramSHA1}
}

// tlsStateOf returns a function that gives c's TLS state at the time of
// the call (nil without TLS).
func tlsStateOf(c func() net.Conn) func() *tls.ConnectionState {
	return func() *tls.ConnectionState {
		tc, ok := c().(*tls.Conn)
		if !ok {
			return nil
		}
		cs := tc.ConnectionState()
		return &cs
	}
}
