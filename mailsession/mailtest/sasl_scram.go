package mailtest

import (
	"crypto/sha256"
	"crypto/tls"
	"strings"
	"sync"

	"github.com/emersion/go-sasl"
	"github.com/xdg-go/scram"
)

// The SCRAM mechanisms (RFC 5802, RFC 7677) the server speaks; the -PLUS
// ones (channel binding, RFC 5056) only over TLS.
const (
	scramSHA256Plus = "SCRAM-SHA-256-PLUS"
	scramSHA1Plus   = "SCRAM-SHA-1-PLUS"
	scramSHA256     = "SCRAM-SHA-256"
	scramSHA1       = "SCRAM-SHA-1"
)

// scramIterations is the PBKDF2 iteration count of the stored
// credentials: the minimum RFC 7677 asks for, so tests stay fast.
const scramIterations = 4096

func isPlusMechanism(m string) bool { return strings.HasSuffix(strings.ToUpper(m), "-PLUS") }

// forConnection drops the -PLUS mechanisms from mechs without TLS: a
// server cannot offer channel binding it has no channel for.
func forConnection(mechs []string, tlsActive bool) []string {
	out := make([]string, 0, len(mechs))
	for _, m := range mechs {
		if tlsActive || !isPlusMechanism(m) {
			out = append(out, m)
		}
	}
	return out
}

// credentialCache keeps the SCRAM credentials derived from a password, as
// a real server stores them, so that a test does not pay PBKDF2 on every
// login.
var credentialCache sync.Map // credentialKey → scram.StoredCredentials

type credentialKey struct{ hash, addr, password string }

// storedCredentials derives what a server stores for mb under hash: a
// salt fixed per address, scramIterations, StoredKey and ServerKey. The
// password is SASLprepared as RFC 5802 asks, or used as it is when
// SASLprep refuses it (as the client in mailsession does).
func storedCredentials(hashName string, hash scram.HashGeneratorFcn, mb *mailbox) (scram.StoredCredentials, error) {
	key := credentialKey{hashName, mb.addr, mb.password}
	if c, ok := credentialCache.Load(key); ok {
		return c.(scram.StoredCredentials), nil
	}
	client, err := hash.NewClient(mb.addr, mb.password, "")
	if err != nil {
		if client, err = hash.NewClientUnprepped(mb.addr, mb.password, ""); err != nil {
			return scram.StoredCredentials{}, err
		}
	}
	salt := sha256.Sum256([]byte("mailtest salt\x00" + strings.ToLower(mb.addr)))
	creds, err := client.GetStoredCredentialsWithError(scram.KeyFactors{Salt: string(salt[:16]), Iters: scramIterations})
	if err != nil {
		return scram.StoredCredentials{}, err
	}
	credentialCache.Store(key, creds)
	return creds, nil
}

// scramServer is the server side of a SCRAM mechanism. The server-final
// message (the server's signature) goes out as a challenge, and the
// exchange ends with the client's empty response to it: SMTP, POP3 and
// IMAP have no success reply that carries data.
type scramServer struct {
	a        *authenticator
	mech     string // upper case
	hashName string
	hash     scram.HashGeneratorFcn
	conv     *scram.ServerConversation
	mb       *mailbox
	final    bool // the server-final message was sent
}

func (a *authenticator) scram(mech string) sasl.Server {
	mech = strings.ToUpper(mech)
	s := &scramServer{a: a, mech: mech, hashName: "SHA-256", hash: scram.SHA256}
	if strings.HasPrefix(mech, scramSHA1) {
		s.hashName, s.hash = "SHA-1", scram.SHA1
	}
	return s
}

func (s *scramServer) Next(response []byte) ([]byte, bool, error) {
	switch {
	case s.final:
		if len(response) != 0 || !s.conv.Valid() || s.mb == nil {
			return nil, false, errAuthFailed
		}
		s.a.mb = s.mb
		if err := s.a.actAs(s.conv.AuthzID()); err != nil {
			return nil, false, err
		}
		return nil, true, nil
	case s.conv == nil:
		if response == nil {
			return []byte{}, false, nil // no initial response: ask for it
		}
		conv, err := s.newConversation(string(response))
		if err != nil {
			return nil, false, err
		}
		s.conv = conv
		out, err := conv.Step(string(response))
		if err != nil {
			return nil, false, errAuthFailed
		}
		return []byte(out), false, nil
	default:
		out, err := s.conv.Step(string(response))
		if err != nil || !s.conv.Valid() {
			// A wrong proof (the password) or channel binding: fail
			// with the protocol's reply, as Dovecot does.
			return nil, false, errAuthFailed
		}
		s.final = true
		return []byte(out), false, nil
	}
}

// newConversation starts the conversation for the client-first message
// c1, whose GS2 header says whether and how the client binds the channel.
func (s *scramServer) newConversation(c1 string) (*scram.ServerConversation, error) {
	srv, err := s.hash.NewServer(func(user string) (scram.StoredCredentials, error) {
		if s.a.s.faults.get().RefuseAuth {
			return scram.StoredCredentials{}, errAuthFailed
		}
		mb := s.a.s.store.lookup(user)
		if mb == nil || mb.password == "" {
			return scram.StoredCredentials{}, errAuthFailed
		}
		s.mb = mb
		return storedCredentials(s.hashName, s.hash, mb)
	})
	if err != nil {
		return nil, err
	}
	flag, _, _ := strings.Cut(c1, ",")
	var cs *tls.ConnectionState
	if s.a.tlsState != nil {
		cs = s.a.tlsState()
	}
	plus := isPlusMechanism(s.mech)
	switch {
	case plus:
		cbType, ok := strings.CutPrefix(flag, "p=")
		if !ok {
			return nil, errAuthFailed // -PLUS without channel binding
		}
		cb, ok := serverBinding(cs, scram.ChannelBindingType(cbType))
		if !ok {
			return nil, errAuthFailed
		}
		return srv.NewConversationWithChannelBindingRequired(cb), nil
	case strings.HasPrefix(flag, "p="):
		return nil, errAuthFailed // channel binding needs the -PLUS name
	case cs != nil && s.a.offersPlus != nil && s.a.offersPlus():
		// We offered -PLUS: a client that says "y" (it could bind
		// but saw no -PLUS) had our offer stripped on the way.
		cb, ok := serverBinding(cs, defaultBindingType(cs))
		if !ok {
			return srv.NewConversation(), nil
		}
		return srv.NewConversationWithChannelBinding(cb), nil
	}
	return srv.NewConversation(), nil
}

// defaultBindingType is the channel binding type of a TLS version:
// tls-exporter for TLS 1.3 (RFC 9266), tls-unique before.
func defaultBindingType(cs *tls.ConnectionState) scram.ChannelBindingType {
	if cs.Version >= tls.VersionTLS13 {
		return scram.ChannelBindingTLSExporter
	}
	return scram.ChannelBindingTLSUnique
}

// serverBinding computes the channel binding data of type t on the
// server's side of the connection: tls-unique (TLS 1.2: the first
// Finished message, the same on both sides) or tls-exporter.
func serverBinding(cs *tls.ConnectionState, t scram.ChannelBindingType) (scram.ChannelBinding, bool) {
	if cs == nil || !cs.HandshakeComplete {
		return scram.ChannelBinding{}, false
	}
	switch t {
	case scram.ChannelBindingTLSUnique:
		if len(cs.TLSUnique) == 0 {
			return scram.ChannelBinding{}, false
		}
		return scram.NewTLSUniqueBinding(cs.TLSUnique), true
	case scram.ChannelBindingTLSExporter:
		cb, err := scram.NewTLSExporterBinding(cs)
		return cb, err == nil && cb.IsSupported()
	}
	return scram.ChannelBinding{}, false
}
