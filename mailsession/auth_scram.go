package mailsession

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-sasl"
	"github.com/xdg-go/scram"
)

// The SCRAM mechanisms (RFC 5802, RFC 7677), strongest first. A -PLUS
// mechanism binds the exchange to the TLS connection (RFC 5056): the
// server proves it saw the same TLS session, so a man in the middle with a
// certificate we trust by mistake cannot relay the login.
const (
	mechSCRAMSHA256Plus = "SCRAM-SHA-256-PLUS"
	mechSCRAMSHA1Plus   = "SCRAM-SHA-1-PLUS"
	mechSCRAMSHA256     = "SCRAM-SHA-256"
	mechSCRAMSHA1       = "SCRAM-SHA-1"
)

// scramMechanisms are the SCRAM names in the default order of preference.
var scramMechanisms = []string{mechSCRAMSHA256Plus, mechSCRAMSHA1Plus, mechSCRAMSHA256, mechSCRAMSHA1}

func isSCRAM(mech string) bool { return strings.HasPrefix(mech, "SCRAM-") }

func isPlus(mech string) bool { return strings.HasSuffix(mech, "-PLUS") }

// channelBinding returns the channel binding data of a TLS connection:
// tls-exporter for TLS 1.3 (RFC 9266), tls-unique for TLS 1.2 (RFC 5929,
// the type RFC 5802 makes the default). ok is false without TLS, or when
// the connection has none to give (a TLS 1.2 resumption without extended
// master secret, a configuration that allows renegotiation).
func channelBinding(cs *tls.ConnectionState) (scram.ChannelBinding, bool) {
	if cs == nil || !cs.HandshakeComplete {
		return scram.ChannelBinding{}, false
	}
	if cs.Version >= tls.VersionTLS13 {
		cb, err := scram.NewTLSExporterBinding(cs)
		return cb, err == nil && cb.IsSupported()
	}
	if len(cs.TLSUnique) == 0 {
		return scram.ChannelBinding{}, false
	}
	return scram.NewTLSUniqueBinding(cs.TLSUnique), true
}

// scramClient is a SCRAM mechanism as a sasl.Client. Its last step checks
// the server's signature (the server's proof that it knows the password);
// verified says whether that happened, so that a server that reports
// success without sending it is refused too (verifySASL).
type scramClient struct {
	mech     string
	conv     *scram.ClientConversation
	steps    int // challenges answered
	verified bool
}

// newSCRAMClient builds the client of mech. cs is the TLS state (nil
// without TLS); serverPlus says whether the server offers a -PLUS
// mechanism, which decides the GS2 flag of a mechanism without channel
// binding (RFC 5802, 6: "y" when we could bind but the server seems not to,
// so that a server that does can detect that its -PLUS names were
// stripped; "n" otherwise).
func newSCRAMClient(mech string, ep *endpoint, cs *tls.ConnectionState, serverPlus bool) (*scramClient, error) {
	hash := scram.SHA256
	if strings.HasPrefix(mech, mechSCRAMSHA1) {
		hash = scram.SHA1
	}
	c, err := hash.NewClient(ep.User, ep.Password, ep.AuthzID)
	if err != nil {
		// SASLprep refused the name or the password (a code point
		// unassigned in Unicode 3.2, mixed directions): use them as
		// they are, as servers that do not prepare passwords (Dovecot)
		// do. The library's error names no part of the password.
		if c, err = hash.NewClientUnprepped(ep.User, ep.Password, ep.AuthzID); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrAuth, mech, err)
		}
	}
	cb, canBind := channelBinding(cs)
	var conv *scram.ClientConversation
	switch {
	case isPlus(mech):
		if !canBind {
			return nil, fmt.Errorf("%w: %s needs TLS channel binding data, which this connection does not have", ErrAuth, mech)
		}
		conv = c.NewConversationWithChannelBinding(cb)
	case canBind && !serverPlus:
		conv = c.NewConversationAdvertisingChannelBinding()
	default:
		conv = c.NewConversation()
	}
	return &scramClient{mech: mech, conv: conv}, nil
}

// Start returns the client-first message as the initial response.
func (c *scramClient) Start() (string, []byte, error) {
	first, err := c.conv.Step("")
	if err != nil {
		return "", nil, fmt.Errorf("%w: %s: %v", ErrAuth, c.mech, err)
	}
	return c.mech, []byte(first), nil
}

// Next answers the server-first message with the client proof, then
// checks the server-final message and answers it with an empty response.
func (c *scramClient) Next(challenge []byte) ([]byte, error) {
	if c.conv.Done() {
		return nil, fmt.Errorf("%w: %s: %w after the exchange ended", ErrAuth, c.mech, sasl.ErrUnexpectedServerChallenge)
	}
	c.steps++
	resp, err := c.conv.Step(string(challenge))
	if err != nil {
		// The library's messages ("server validation failed",
		// "server error: e=...", "server nonce did not extend client
		// nonce") never hold a key or the password.
		if c.steps == 2 {
			return nil, fmt.Errorf("%w: %s: the server's final message does not verify: its signature is wrong or it is an error (%v)", ErrAuth, c.mech, err)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrAuth, c.mech, err)
	}
	if c.conv.Done() {
		c.verified = c.conv.Valid()
		if !c.verified {
			return nil, fmt.Errorf("%w: %s: the server's signature does not verify", ErrAuth, c.mech)
		}
		return []byte{}, nil
	}
	return []byte(resp), nil
}

// errNoServerSignature is the failure of a SCRAM login the server
// accepted without proving that it knows the password.
var errNoServerSignature = errors.New("the server reported success without its SCRAM signature (server-final message), so it did not prove it knows the password")

// verifySASL is called after the server accepted the login with c: a
// SCRAM client must have verified the server's signature (RFC 5802, 5.1:
// the client MUST verify it), or the login is refused.
func verifySASL(c sasl.Client) error {
	if sc, ok := c.(*scramClient); ok && !sc.verified {
		return fmt.Errorf("%w: %s: %w", ErrAuth, sc.mech, errNoServerSignature)
	}
	return nil
}
