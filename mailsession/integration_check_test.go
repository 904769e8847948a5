//go:build integration

package mailsession_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmailgo/jmail/mailsession"
)

// hasCap reports whether caps holds name as a whole capability or as the
// first word of one ("SIZE 52428800"), ignoring case.
func hasCap(caps []string, name string) bool {
	return slices.ContainsFunc(caps, func(c string) bool {
		first, _, _ := strings.Cut(c, " ")
		return strings.EqualFold(first, name) || strings.EqualFold(c, name)
	})
}

// sameSet reports whether got and want hold the same names, ignoring order
// and case.
func sameSet(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.EqualFold(g, w) }) {
			return false
		}
	}
	return true
}

// endpointWant is what Check must report for one endpoint of the stack,
// known from the server configurations in .ci/mailservers.
type endpointWant struct {
	protocol      string
	tls           bool
	caps, notCaps []string
	mechs         []string // SASL mechanisms offered after TLS; nil: none
	authenticated bool
	mechanism     string // the mechanism the session logged in with; "": any
}

func checkEndpoint(t *testing.T, what string, r *mailsession.EndpointReport, w endpointWant) {
	t.Helper()
	if r == nil {
		t.Fatalf("%s: no report", what)
	}
	if r.Err != nil {
		t.Fatalf("%s: %v", what, r.Err)
	}
	if r.Protocol != w.protocol {
		t.Errorf("%s: Protocol = %q, want %q", what, r.Protocol, w.protocol)
	}
	if w.tls && !strings.HasPrefix(r.TLSVersion, "TLS 1.") {
		t.Errorf("%s: TLSVersion = %q, want TLS 1.2 or 1.3", what, r.TLSVersion)
	}
	if !w.tls && r.TLSVersion != "" {
		t.Errorf("%s: TLSVersion = %q on a connection without TLS", what, r.TLSVersion)
	}
	for _, c := range w.caps {
		if !hasCap(r.Capabilities, c) {
			t.Errorf("%s: capability %s missing from %v", what, c, r.Capabilities)
		}
	}
	for _, c := range w.notCaps {
		if hasCap(r.Capabilities, c) {
			t.Errorf("%s: capability %s reported but the server does not offer it here: %v", what, c, r.Capabilities)
		}
	}
	if !sameSet(r.AuthMechanisms, w.mechs) {
		t.Errorf("%s: AuthMechanisms = %v, want %v", what, r.AuthMechanisms, w.mechs)
	}
	if r.Authenticated != w.authenticated {
		t.Errorf("%s: Authenticated = %v, want %v", what, r.Authenticated, w.authenticated)
	}
	if w.authenticated && r.Mechanism == "" {
		t.Errorf("%s: logged in but Mechanism is empty", what)
	}
	if w.mechanism != "" && r.Mechanism != w.mechanism {
		t.Errorf("%s: logged in with %q, want %q", what, r.Mechanism, w.mechanism)
	}
	if r.Latency <= 0 {
		t.Errorf("%s: Latency = %v", what, r.Latency)
	}
	if s := r.String(); strings.Contains(s, "-secret") {
		t.Errorf("%s: the report shows a password: %s", what, s)
	}
}

// TestIntegrationCheck: Check reports each server's capabilities, TLS and
// mechanisms as the servers are configured.
func TestIntegrationCheck(t *testing.T) {
	e := stack(t)
	strict := e["JMAIL_IT_STRICT_HOST"]
	user := e.user("ivan")
	// Postfix (submission and SMTPS) after TLS: AUTH through Dovecot's
	// mechanisms; no STARTTLS any more. Dovecot offers SCRAM but no
	// -PLUS, so the default order logs in with SCRAM-SHA-256.
	postfixTLS := []string{"PIPELINING", "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES", "DSN", "SMTPUTF8", "CHUNKING"}
	dovecotMechs := []string{"PLAIN", "LOGIN", "SCRAM-SHA-1", "SCRAM-SHA-256", "XOAUTH2", "OAUTHBEARER"}
	dovecotIMAP := endpointWant{protocol: "imap", tls: true, caps: []string{"IMAP4rev1", "IDLE"}, mechs: dovecotMechs, authenticated: true, mechanism: "SCRAM-SHA-256"}
	dovecotPOP3 := endpointWant{protocol: "pop3", tls: true, caps: []string{"UIDL", "TOP"}, mechs: dovecotMechs, authenticated: true, mechanism: "SCRAM-SHA-256"}

	cases := []struct {
		name      string
		smtp      endpointSpec
		store     endpointSpec
		smtpWant  endpointWant
		storeWant endpointWant
	}{
		{
			"submission-starttls+imap-starttls",
			e.postfix(strict, startTLS, user), e.dovecot("imap", strict, startTLS, user),
			endpointWant{protocol: "smtp", tls: true, caps: postfixTLS, notCaps: []string{"STARTTLS"}, mechs: dovecotMechs, authenticated: true, mechanism: "SCRAM-SHA-256"},
			dovecotIMAP,
		},
		{
			"smtps+pop3s",
			e.postfix(strict, implicit, user), e.dovecot("pop3", strict, implicit, user),
			endpointWant{protocol: "smtps", tls: true, caps: postfixTLS, notCaps: []string{"STARTTLS"}, mechs: dovecotMechs, authenticated: true, mechanism: "SCRAM-SHA-256"},
			withProtocol(dovecotPOP3, "pop3s"),
		},
		{
			"relay-plain+pop3-starttls",
			e.postfix(strict, plain, account{}), e.dovecot("pop3", strict, startTLS, user),
			// The relay port offers neither STARTTLS nor AUTH.
			endpointWant{protocol: "smtp", caps: []string{"PIPELINING", "8BITMIME"}, notCaps: []string{"STARTTLS", "AUTH"}},
			dovecotPOP3,
		},
		{
			"relay-plain+imaps",
			e.postfix(strict, plain, account{}), e.dovecot("imap", strict, implicit, user),
			endpointWant{protocol: "smtp", caps: []string{"PIPELINING", "8BITMIME"}, notCaps: []string{"STARTTLS", "AUTH"}},
			withProtocol(dovecotIMAP, "imaps"),
		},
		{
			"mailpit-starttls+mailpit-pop3",
			endpointSpec{"smtp", e["JMAIL_IT_HOST"], e.port("JMAIL_IT_MAILPIT_SMTP_PORT"), startTLS, e.mailpitUser()},
			endpointSpec{"pop3", e["JMAIL_IT_HOST"], e.port("JMAIL_IT_MAILPIT_POP3_PORT"), plain, e.mailpitUser()},
			endpointWant{protocol: "smtp", tls: true, caps: []string{"SIZE", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES"}, notCaps: []string{"CHUNKING"}, mechs: []string{"PLAIN", "LOGIN"}, authenticated: true},
			// Mailpit's POP3 offers USER/PASS only (CAPA: TOP USER UIDL).
			endpointWant{protocol: "pop3", caps: []string{"UIDL", "TOP", "USER"}, authenticated: true},
		},
	}
	for _, c := range cases {
		for _, portal := range []bool{false, true} {
			name := c.name + "/javamail"
			if portal {
				name = c.name + "/portal"
			}
			t.Run(name, func(t *testing.T) {
				ctx := testContext(t, time.Minute)
				from := user.addr
				var s *mailsession.Session
				if portal {
					s = sessionFrom(t, true, portalProps(t, c.smtp, &c.store, from))
				} else {
					s = sessionFrom(t, false, javaMailProps(t, c.smtp, &c.store, from))
				}
				rep, err := s.Check(ctx)
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				storeWant := c.storeWant
				if !portal {
					// The JavaMail style spells an implicit-TLS store
					// mail.<p>.ssl.enable=true on the plain protocol.
					storeWant.protocol = strings.TrimSuffix(storeWant.protocol, "s")
				}
				checkEndpoint(t, "transport", rep.Transport, c.smtpWant)
				checkEndpoint(t, "store", rep.Store, storeWant)
			})
		}
	}

	t.Run("wrong-password", func(t *testing.T) {
		// Check tells a refused login apart from a working server.
		ctx := testContext(t, time.Minute)
		wrong := user
		wrong.password = "wrong-secret"
		st := e.dovecot("imap", strict, implicit, wrong)
		s := sessionFrom(t, false, javaMailProps(t, e.postfix(strict, startTLS, wrong), &st, user.addr))
		rep, err := s.Check(ctx)
		if !errors.Is(err, mailsession.ErrAuth) {
			t.Fatalf("Check with a wrong password: %v, want ErrAuth", err)
		}
		for what, r := range map[string]*mailsession.EndpointReport{"transport": rep.Transport, "store": rep.Store} {
			if r == nil || r.Authenticated || !errors.Is(r.Err, mailsession.ErrAuth) {
				t.Errorf("%s report %+v: want a failed login with ErrAuth", what, r)
			}
			if r != nil && strings.Contains(r.String(), "wrong-secret") {
				t.Errorf("%s report shows the password: %s", what, r)
			}
		}
	})

	t.Run("unreachable", func(t *testing.T) {
		// A port nothing listens on: Check returns the error and the report.
		ctx := testContext(t, time.Minute)
		dead := endpointSpec{"smtp", e["JMAIL_IT_HOST"], 1, plain, account{}}
		s := sessionFrom(t, false, javaMailProps(t, dead, nil, user.addr))
		rep, err := s.Check(ctx)
		if err == nil || rep == nil || rep.Transport == nil || rep.Transport.Err == nil {
			t.Fatalf("Check of a closed port: report %+v, error %v; want both to carry the failure", rep, err)
		}
		if !mailsession.IsTemporary(err) {
			t.Errorf("a refused connection is not reported as temporary: %v", err)
		}
	})
}

func withProtocol(w endpointWant, p string) endpointWant {
	w.protocol = p
	return w
}
