//go:build integration

package mailsession_test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jmailgo/jmail/mailsession"
)

// failure is one way to reach a server that must fail with a typed error.
type failure struct {
	name  string
	ep    endpointSpec
	check func(t *testing.T, err error)
}

// attempt sends (smtp) or opens the store (pop3, imap) through a session
// built from JavaMail properties for ep, and returns the error.
func attempt(t *testing.T, e itEnv, ep endpointSpec) error {
	t.Helper()
	ctx := testContext(t, time.Minute)
	from := e.user("mallory").addr
	if ep.proto == "smtp" {
		s := sessionFrom(t, false, javaMailProps(t, ep, nil, from))
		return s.SendRaw(ctx, from, []string{from}, bytes.NewReader(rawMessage(from, from, uniq(t.Name()))))
	}
	smtp := e.postfix(e["JMAIL_IT_STRICT_HOST"], startTLS, e.user("mallory"))
	s := sessionFrom(t, false, javaMailProps(t, smtp, &ep, from))
	st, err := s.OpenStore(ctx)
	if err == nil {
		_, err = st.List(ctx)
		st.Close()
	}
	return err
}

func wantAuthError(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, mailsession.ErrAuth) {
		t.Fatalf("error %v does not match ErrAuth", err)
	}
	if mailsession.IsTemporary(err) {
		t.Errorf("a refused password is reported as temporary: %v", err)
	}
	if strings.Contains(err.Error(), "wrong-secret") {
		t.Errorf("the error shows the password: %v", err)
	}
}

func wantUnknownAuthority(t *testing.T, err error) {
	t.Helper()
	var ua x509.UnknownAuthorityError
	if !errors.As(err, &ua) {
		t.Fatalf("error %v (%T) is not an x509.UnknownAuthorityError", err, err)
	}
	if mailsession.IsTemporary(err) {
		t.Errorf("an untrusted certificate is reported as temporary: %v", err)
	}
}

func wantHostnameError(t *testing.T, err error) {
	t.Helper()
	var he x509.HostnameError
	if !errors.As(err, &he) {
		t.Fatalf("error %v (%T) is not an x509.HostnameError", err, err)
	}
	if mailsession.IsTemporary(err) {
		t.Errorf("a host-name mismatch is reported as temporary: %v", err)
	}
}

// TestIntegrationFailures: a wrong password, an untrusted certificate, a
// host-name mismatch and starttls.required against a server without
// STARTTLS each fail with the right typed error, for every protocol and
// TLS mode where the case applies.
func TestIntegrationFailures(t *testing.T) {
	e := stack(t)
	strict := e["JMAIL_IT_STRICT_HOST"]
	wrong := e.user("mallory")
	wrong.password = "wrong-secret"
	var cases []failure
	for _, mode := range []tlsMode{startTLS, implicit} {
		cases = append(cases,
			failure{"wrong-password/smtp-" + mode.String(), e.postfix(strict, mode, wrong), wantAuthError},
			failure{"wrong-password/pop3-" + mode.String(), e.dovecot("pop3", strict, mode, wrong), wantAuthError},
			failure{"wrong-password/imap-" + mode.String(), e.dovecot("imap", strict, mode, wrong), wantAuthError},
		)
		for _, bad := range []struct {
			name, host string
			check      func(*testing.T, error)
		}{
			{"untrusted-certificate", e["JMAIL_IT_UNTRUSTED_HOST"], wantUnknownAuthority},
			{"host-name-mismatch", e["JMAIL_IT_MISMATCH_HOST"], wantHostnameError},
		} {
			right := e.user("mallory")
			cases = append(cases,
				failure{bad.name + "/smtp-" + mode.String(), e.postfix(bad.host, mode, right), bad.check},
				failure{bad.name + "/pop3-" + mode.String(), e.dovecot("pop3", bad.host, mode, right), bad.check},
				failure{bad.name + "/imap-" + mode.String(), e.dovecot("imap", bad.host, mode, right), bad.check},
			)
		}
	}
	// Postfix's plain relay port offers no STARTTLS.
	relay := e.postfix(e["JMAIL_IT_HOST"], plain, account{})
	relay.mode = startTLS
	cases = append(cases, failure{"starttls-required/smtp-relay", relay, func(t *testing.T, err error) {
		if !errors.Is(err, mailsession.ErrTLSRequired) {
			t.Fatalf("error %v does not match ErrTLSRequired", err)
		}
	}})

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := attempt(t, e, c.ep)
			if err == nil {
				t.Fatalf("%s:%d (%s, %s) succeeded, want an error", c.ep.host, c.ep.port, c.ep.proto, c.ep.mode)
			}
			c.check(t, err)
		})
	}
	// Nothing was delivered by any of the failed attempts.
	if n := e.messageCount(t, e.user("mallory")); n != 0 {
		t.Errorf("the failed attempts delivered %d messages", n)
	}
}

// TestIntegrationSendErrorRejectedRecipient: Postfix refuses an unknown
// recipient with 550; the SendError names it with the reply and the
// accepted recipient is reported sent (mail.smtp.sendpartial=true).
func TestIntegrationSendErrorRejectedRecipient(t *testing.T) {
	e := stack(t)
	ctx := testContext(t, time.Minute)
	user := e.user("heidi")
	e.emptyMailbox(t, user)
	p := javaMailProps(t, e.postfix(e["JMAIL_IT_STRICT_HOST"], startTLS, user), nil, user.addr)
	p.Set("mail.smtp.sendpartial", "true")
	s := sessionFrom(t, false, p)
	unknown := "nobody@" + e.domain()
	subject := uniq(t.Name())
	err := s.SendRaw(ctx, user.addr, []string{user.addr, unknown}, bytes.NewReader(rawMessage(user.addr, user.addr, subject)))
	var se *mailsession.SendError
	if !errors.As(err, &se) {
		t.Fatalf("error %v is not a *SendError", err)
	}
	if len(se.Rejected) != 1 || se.Rejected[0].Address != unknown || se.Rejected[0].Code != 550 {
		t.Errorf("Rejected = %v, want %s with 550", se.Rejected, unknown)
	}
	if len(se.Sent) != 1 || se.Sent[0] != user.addr {
		t.Errorf("Sent = %v, want [%s]", se.Sent, user.addr)
	}
	if mailsession.IsTemporary(err) || !errors.Is(err, mailsession.ErrPermanent) {
		t.Errorf("a 550 is not reported as permanent: %v", err)
	}
	e.waitDelivered(t, user, 1, time.Minute)
	if got := e.headerValues(t, user, "Subject"); len(got) != 1 || got[0] != subject {
		t.Errorf("Dovecot holds %v, want the one message %q", got, subject)
	}
}
