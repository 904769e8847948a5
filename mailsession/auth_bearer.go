package mailsession

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/emersion/go-sasl"
)

// bearerClient is XOAUTH2 (Google's and Microsoft's) or OAUTHBEARER
// (RFC 7628). A server that refuses the token sends an error challenge,
// JSON with the status and the scope it wanted; the client answers as the
// mechanism requires (empty for XOAUTH2, %x01 for OAUTHBEARER) so that the
// server ends the exchange with its failure reply, and keeps the
// challenge for the error (withChallenge).
type bearerClient struct {
	mech      string
	ir        []byte
	challenge *sasl.OAuthBearerError // the server's error challenge, if any
}

func newBearerClient(mech string, ep *endpoint, token string) *bearerClient {
	var ir string
	if mech == "XOAUTH2" {
		ir = "user=" + ep.User + "\x01auth=Bearer " + token + "\x01\x01"
	} else {
		gs2 := "n,,"
		if ep.User != "" {
			gs2 = "n,a=" + strings.NewReplacer("=", "=3D", ",", "=2C").Replace(ep.User) + ","
		}
		ir = gs2
		if ep.Host != "" {
			ir += "\x01host=" + ep.Host
		}
		if ep.Port != 0 {
			ir += "\x01port=" + strconv.Itoa(ep.Port)
		}
		ir += "\x01auth=Bearer " + token + "\x01\x01"
	}
	return &bearerClient{mech: mech, ir: []byte(ir)}
}

func (c *bearerClient) Start() (string, []byte, error) { return c.mech, c.ir, nil }

// Next answers the server's error challenge.
func (c *bearerClient) Next(challenge []byte) ([]byte, error) {
	var e sasl.OAuthBearerError
	if json.Unmarshal(challenge, &e) != nil {
		e = sasl.OAuthBearerError{Status: "an error challenge that is not JSON"}
	}
	c.challenge = &e
	if c.mech == "XOAUTH2" {
		return []byte{}, nil
	}
	return []byte{0x01}, nil // RFC 7628, 3.2.3
}

// withChallenge adds to a failed login's err what the server's error
// challenge said (status, scope), if it sent one. It never holds the
// token: the challenge is the server's.
func withChallenge(c sasl.Client, err error) error {
	bc, ok := c.(*bearerClient)
	if !ok || bc.challenge == nil || err == nil {
		return err
	}
	ch := bc.challenge
	parts := []string{"status " + printable(ch.Status, 40)}
	if ch.Scope != "" {
		parts = append(parts, "scope "+printable(ch.Scope, 200))
	}
	if ch.Schemes != "" {
		parts = append(parts, "schemes "+printable(ch.Schemes, 40))
	}
	return fmt.Errorf("%w (the server's %s challenge: %s)", err, bc.mech, strings.Join(parts, ", "))
}
