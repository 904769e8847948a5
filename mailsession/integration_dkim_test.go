//go:build integration

package mailsession_test

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/jmailgo/jmail/mailsession"
)

// TestIntegrationDKIM: every composed shape, signed with RSA-2048 and with
// Ed25519 and sent through Postfix's submission port (STARTTLS, AUTH) to a
// Dovecot mailbox, arrives with the headers Postfix and Dovecot add
// (Received, Return-Path, Delivered-To) and a signature that dkimpy
// (Debian's python3-dkim, the independent verifier) and go-msgauth
// verify, the public keys served by a test resolver.
func TestIntegrationDKIM(t *testing.T) {
	e := stack(t)
	if !mailsession.HaveDKIMPy() {
		t.Fatal("python3-dkim (with python3-nacl) is not installed for /usr/bin/python3: .ci/run installs it")
	}
	ctx := testContext(t, 3*time.Minute)
	rcpt := e.user("walter")
	e.emptyMailbox(t, rcpt)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	store := e.dovecot("imap", e["JMAIL_IT_HOST"], startTLS, rcpt)
	props := javaMailProps(t, e.postfix(e["JMAIL_IT_HOST"], startTLS, rcpt), &store, rcpt.addr)
	records := map[string]string{}
	var reader *mailsession.Session
	sent := 0
	for _, k := range []struct {
		selector string
		key      crypto.Signer
	}{{"it-rsa", rsaKey}, {"it-ed25519", edKey}} {
		rec, err := mailsession.DKIMRecord(k.key.Public())
		if err != nil {
			t.Fatal(err)
		}
		records[k.selector+"._domainkey."+e.domain()] = rec
		s := sessionFrom(t, false, props, mailsession.WithDKIM(e.domain(), k.selector, k.key))
		reader = s
		for _, shape := range mailsession.DKIMShapes() {
			m := shape.Msg()
			// Every address is the test mailbox: Postfix delivers only
			// to its own domain.
			name := ""
			if a, err := mail.ParseAddress(m.From); err == nil {
				name = a.Name
			}
			m.From = (&mail.Address{Name: name, Address: rcpt.addr}).String()
			m.To = []string{rcpt.addr}
			if len(m.Cc) > 0 {
				m.Cc = []string{rcpt.addr}
			}
			m.Header = map[string][]string{"X-Shape": {k.selector + "/" + shape.Name}}
			if err := s.Send(ctx, m); err != nil {
				t.Fatalf("%s/%s: %v", k.selector, shape.Name, err)
			}
			sent++
		}
	}
	e.waitDelivered(t, rcpt, sent, time.Minute)
	msgs, _ := readStore(t, ctx, reader, "X-Shape")
	if len(msgs) != sent {
		t.Fatalf("%d messages in the mailbox, %d sent", len(msgs), sent)
	}
	for shape, raw := range msgs {
		t.Run(shape, func(t *testing.T) {
			for _, added := range []string{"Received", "Return-Path", "Delivered-To"} {
				if headerValue(raw, added) == "" {
					t.Errorf("no %s: the message did not go through Postfix and Dovecot", added)
				}
			}
			if !strings.Contains(headerValue(raw, "DKIM-Signature"), "d="+e.domain()) {
				t.Fatalf("no signature of d=%s", e.domain())
			}
			if err := mailsession.VerifyDKIMPy(t, raw, records); err != nil {
				t.Errorf("%v\n%s", err, raw)
			}
			if _, err := mailsession.VerifyGoMsgauth(raw, records); err != nil {
				t.Errorf("go-msgauth: %v", err)
			}
		})
	}
}
