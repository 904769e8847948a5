package mailsession

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/emersion/go-sasl"
)

// supportedMechanisms are the SASL mechanisms this library speaks.
var supportedMechanisms = []string{"PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER"}

func knownMechanism(m string) bool { return slices.Contains(supportedMechanisms, m) }

// chooseSASL picks the first mechanism of ep.Mechanisms the server offers
// and builds its client. For XOAUTH2/OAUTHBEARER the token comes from the
// token source (called now, per connection) or is the password.
func chooseSASL(ctx context.Context, ep *endpoint, offered []string) (sasl.Client, string, error) {
	for _, m := range ep.Mechanisms {
		if !slices.ContainsFunc(offered, func(o string) bool { return strings.EqualFold(o, m) }) {
			continue
		}
		c, err := newSASLClient(ctx, ep, m)
		return c, m, err
	}
	return nil, "", fmt.Errorf("%w: server offers %q, none of the allowed mechanisms %q (mail.%s.auth.mechanisms)",
		ErrAuth, strings.Join(offered, " "), strings.Join(ep.Mechanisms, " "), ep.Protocol)
}

func newSASLClient(ctx context.Context, ep *endpoint, mech string) (sasl.Client, error) {
	switch mech {
	case "PLAIN":
		return sasl.NewPlainClient("", ep.User, ep.Password), nil
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
