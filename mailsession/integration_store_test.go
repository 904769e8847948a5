//go:build integration

package mailsession_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"testing"
	"time"

	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/mailsession/mailtest"
)

// hardRaw has a 10,000-character line and lines starting with '.': Postfix
// would fold the long line, so it goes into Dovecot with doveadm save.
func hardRaw(subject string) []byte {
	return mailtest.HardMessage("grace@jmail.test", "grace@jmail.test", subject)
}

func (e itEnv) save(t *testing.T, a account, raw []byte) {
	t.Helper()
	cmd := exec.Command("doveadm", "-c", e["JMAIL_IT_DOVECOT_CONF"], "save", "-u", a.addr, "-m", "INBOX")
	cmd.Stdin = bytes.NewReader(raw)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("doveadm save: %v\n%s", err, out)
	}
}

// TestIntegrationStoreExactBytes reads a message with a 10,000-character
// line and dot-led lines from Dovecot over POP3 and IMAP in every TLS mode
// (the production-like address for STARTTLS and implicit TLS) and gets the
// bytes that were stored.
func TestIntegrationStoreExactBytes(t *testing.T) {
	e := stack(t)
	user := e.user("grace")
	e.emptyMailbox(t, user)
	want := hardRaw(uniq(t.Name()))
	e.save(t, user, want)
	for _, proto := range []string{"pop3", "imap"} {
		for _, mode := range []tlsMode{plain, startTLS, implicit} {
			t.Run(proto+"/"+mode.String(), func(t *testing.T) {
				host := e["JMAIL_IT_STRICT_HOST"]
				if mode == plain {
					host = e["JMAIL_IT_HOST"]
				}
				st := e.dovecot(proto, host, mode, user)
				s := sessionFrom(t, false, javaMailProps(t, e.postfix(host, startTLS, user), &st, user.addr))
				msgs, _ := readStore(t, testContext(t, time.Minute), s, "X-No-Such-Header")
				if len(msgs) != 1 {
					t.Fatalf("%d messages", len(msgs))
				}
				for _, got := range msgs {
					if !bytes.Equal(got, want) {
						t.Errorf("bytes differ: %s", diff(got, want))
					}
				}
			})
		}
	}
}

// TestIntegrationStoreTLSPolicy: on the production-like address a store
// without TLS that would send the password (PLAIN, LOGIN, USER/PASS) is
// refused with a clear error; SCRAM, which never sends it, is allowed
// there (Dovecot's disable_plaintext_auth), so a default session logs in
// with it; opportunistic STARTTLS (starttls.enable without required)
// upgrades.
func TestIntegrationStoreTLSPolicy(t *testing.T) {
	e := stack(t)
	user := e.user("grace")
	host := e["JMAIL_IT_STRICT_HOST"]
	for _, proto := range []string{"pop3", "imap"} {
		t.Run(proto, func(t *testing.T) {
			st := e.dovecot(proto, host, plain, user)
			p := javaMailProps(t, e.postfix(host, startTLS, user), &st, user.addr)
			p.Set("mail."+proto+".auth.mechanisms", "PLAIN LOGIN")
			s := sessionFrom(t, false, p)
			_, err := s.OpenStore(testContext(t, time.Minute))
			if !errors.Is(err, mailsession.ErrAuth) || mailsession.IsTemporary(err) {
				t.Errorf("password login without TLS on %s = %v, want a permanent ErrAuth", host, err)
			}

			s = sessionFrom(t, false, javaMailProps(t, e.postfix(host, startTLS, user), &st, user.addr))
			rep, err := s.Check(testContext(t, time.Minute))
			if err != nil {
				t.Fatalf("default login without TLS: %v", err)
			}
			if rep.Store.TLSVersion != "" || !rep.Store.Authenticated || rep.Store.Mechanism != "SCRAM-SHA-256" {
				t.Errorf("default login without TLS: store report %v, want SCRAM-SHA-256 without TLS", rep.Store)
			}

			p = javaMailProps(t, e.postfix(host, startTLS, user), &st, user.addr)
			p.Set("mail."+proto+".starttls.enable", "true")
			s = sessionFrom(t, false, p)
			rep, err = s.Check(testContext(t, time.Minute))
			if err != nil {
				t.Fatalf("opportunistic STARTTLS: %v", err)
			}
			if rep.Store.TLSVersion == "" || !rep.Store.Authenticated {
				t.Errorf("store report %v", rep.Store)
			}
		})
	}
}

// TestIntegrationReceiveRetainedOnce: without Delete, Dovecot keeps the
// messages and a file-backed UID memory hands each over once, across a
// restart, over both protocols.
func TestIntegrationReceiveRetainedOnce(t *testing.T) {
	e := stack(t)
	user := e.user("grace")
	host := e["JMAIL_IT_STRICT_HOST"]
	for _, proto := range []string{"pop3", "imap"} {
		t.Run(proto, func(t *testing.T) {
			e.emptyMailbox(t, user)
			e.save(t, user, hardRaw(uniq("first")))
			e.save(t, user, hardRaw(uniq("second")))
			path := t.TempDir() + "/uids.json"
			st := e.dovecot(proto, host, startTLS, user)
			run := func() int {
				mem, err := mailsession.OpenFileUIDMemory(path)
				if err != nil {
					t.Fatal(err)
				}
				s := sessionFrom(t, false, javaMailProps(t, e.postfix(host, startTLS, user), &st, user.addr))
				n := 0
				err = s.Receive(testContext(t, time.Minute), mailsession.ReceiveOptions{Memory: mem}, func(ctx context.Context, m *mailsession.Received) error {
					n++
					_, err := io.Copy(io.Discard, m.Raw)
					return err
				})
				if err != nil {
					t.Fatalf("Receive: %v", err)
				}
				return n
			}
			if n := run(); n != 2 {
				t.Fatalf("first run handed over %d, want 2", n)
			}
			e.save(t, user, hardRaw(uniq("third")))
			if n := run(); n != 1 {
				t.Errorf("after a restart handed over %d, want only the new one", n)
			}
			if n := e.messageCount(t, user); n != 3 {
				t.Errorf("Dovecot holds %d messages, want 3", n)
			}
		})
	}
}
