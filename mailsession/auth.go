package mailsession

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/emersion/go-sasl"
)

// supportedMechanisms are the SASL mechanisms this library speaks.
var supportedMechanisms = []string{"PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER",
	mechSCRAMSHA256, mechSCRAMSHA256Plus, mechSCRAMSHA1, mechSCRAMSHA1Plus}

func knownMechanism(m string) bool { return slices.Contains(supportedMechanisms, m) }

// carriesAuthzID says whether mechanism m sends an authorization identity
// (mail.<p>.sasl.authorizationid): PLAIN (RFC 4616) and SCRAM (RFC 5802).
func carriesAuthzID(m string) bool { return m == "PLAIN" || isSCRAM(m) }

// chooseSASL picks the first mechanism of ep.Mechanisms the server offers
// and builds its client. cs is the connection's TLS state, nil without
// TLS: a SCRAM -PLUS mechanism is never chosen without it, and with it a
// SCRAM mechanism becomes its -PLUS variant when the server offers that
// and ep.Mechanisms allows it. For XOAUTH2/OAUTHBEARER the token comes
// from the token source (called now, per connection) or is the password.
func chooseSASL(ctx context.Context, ep *endpoint, offered []string, cs *tls.ConnectionState) (sasl.Client, string, error) {
	has := func(m string) bool {
		return slices.ContainsFunc(offered, func(o string) bool { return strings.EqualFold(o, m) })
	}
	_, canBind := channelBinding(cs)
	serverPlus := slices.ContainsFunc(offered, func(o string) bool { return isPlus(strings.ToUpper(o)) })
	plusSkipped := false
	for _, m := range ep.Mechanisms {
		if isPlus(m) && !canBind {
			plusSkipped = plusSkipped || has(m)
			continue // never without TLS channel binding
		}
		if !has(m) {
			continue
		}
		if isSCRAM(m) && !isPlus(m) && canBind && has(m+"-PLUS") && slices.Contains(ep.Mechanisms, m+"-PLUS") {
			m += "-PLUS"
		}
		c, err := newSASLClient(ctx, ep, m, cs, serverPlus)
		return c, m, err
	}
	hint := ""
	if plusSkipped {
		hint = " (a -PLUS mechanism needs TLS channel binding, which this connection does not have)"
	}
	if ep.AuthzID != "" {
		hint += fmt.Sprintf(" (with mail.%s.sasl.authorizationid set, only PLAIN and SCRAM, which carry it, are used)", ep.Protocol)
	}
	return nil, "", fmt.Errorf("%w: server offers %q, none of the allowed mechanisms %q (mail.%s.auth.mechanisms)%s",
		ErrAuth, strings.Join(offered, " "), strings.Join(ep.Mechanisms, " "), ep.Protocol, hint)
}

// preferSASL reports whether a store should log in with SASL rather than
// with its own command (IMAP LOGIN, POP3 USER/PASS) although
// auth.mechanisms is unset: when the server offers a SCRAM mechanism that
// ep.Mechanisms allows, as the password then never crosses the wire.
func preferSASL(ep *endpoint, offered []string, cs *tls.ConnectionState) bool {
	_, canBind := channelBinding(cs)
	for _, m := range ep.Mechanisms {
		if !isSCRAM(m) || (isPlus(m) && !canBind) {
			continue
		}
		if slices.ContainsFunc(offered, func(o string) bool { return strings.EqualFold(o, m) }) {
			return true
		}
	}
	return false
}

func newSASLClient(ctx context.Context, ep *endpoint, mech string, cs *tls.ConnectionState, serverPlus bool) (sasl.Client, error) {
	if isSCRAM(mech) {
		return newSCRAMClient(mech, ep, cs, serverPlus)
	}
	switch mech {
	case "PLAIN":
		return sasl.NewPlainClient(ep.AuthzID, ep.User, ep.Password), nil
	case "LOGIN":
		return &loginClient{user: ep.User, password: ep.Password}, nil
	case "CRAM-MD5":
		return &cramMD5Client{user: ep.User, secret: ep.Password}, nil
	case "XOAUTH2", "OAUTHBEARER":
		token := ep.Password
		if ep.Token != nil {
			t, err := ep.Token(ctx)
			if err != nil {
				if te := (*tokenError)(nil); errors.As(err, &te) {
					return nil, te // OAuth2's: ErrAuth, told without secrets
				}
				return nil, fmt.Errorf("%w: token source: %v", ErrAuth, err)
			}
			token = t
		}
		if err := checkLine(token); err != nil {
			return nil, fmt.Errorf("%w: token: %v", ErrAuth, err)
		}
		return newBearerClient(mech, ep, token), nil
	}
	return nil, fmt.Errorf("%w: unsupported mechanism %s", ErrAuth, mech)
}

// loginClient is the LOGIN mechanism. Unlike go-sasl's, it does not insist
// on the exact prompts "Username:" and "Password:" (Microsoft's differ): the
// first challenge gets the user name, the second the password.
type loginClient struct {
	user, password string
	step           int
}

func (c *loginClient) Start() (string, []byte, error) { return "LOGIN", nil, nil }

func (c *loginClient) Next(challenge []byte) ([]byte, error) {
	c.step++
	switch c.step {
	case 1:
		if bytes.Contains(bytes.ToLower(challenge), []byte("pass")) {
			// Some servers skip the user prompt when an initial response
			// was expected; never send the password as the user name.
			return nil, sasl.ErrUnexpectedServerChallenge
		}
		return []byte(c.user), nil
	case 2:
		return []byte(c.password), nil
	}
	return nil, sasl.ErrUnexpectedServerChallenge
}

// cramMD5Client is CRAM-MD5 (RFC 2195).
type cramMD5Client struct{ user, secret string }

func (c *cramMD5Client) Start() (string, []byte, error) { return "CRAM-MD5", nil, nil }

func (c *cramMD5Client) Next(challenge []byte) ([]byte, error) {
	mac := hmac.New(md5.New, []byte(c.secret))
	mac.Write(challenge)
	return []byte(c.user + " " + hex.EncodeToString(mac.Sum(nil))), nil
}
