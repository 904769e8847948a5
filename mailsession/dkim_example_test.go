package mailsession_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/properties"
)

// Signing with DKIM from properties: the key file as `openssl genpkey
// -algorithm ed25519` (or `-algorithm rsa -pkeyopt rsa_keygen_bits:2048`)
// writes it, and the TXT record to publish at
// <selector>._domainkey.<domain>.
func ExampleWithDKIM() {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "dkim")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	keyFile := filepath.Join(dir, "dkim.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		log.Fatal(err)
	}

	p, err := properties.Load(strings.NewReader(`
mail.from=Notifications <notify@example.com>
mail.dkim.domain=example.com
mail.dkim.selector=2026
mail.dkim.key.file=` + keyFile + "\n"))
	if err != nil {
		log.Fatal(err)
	}
	s, err := mailsession.FromProperties(p, quiet)
	if err != nil {
		log.Fatal(err) // an unreadable or short key, a key missing: a *SettingError naming it
	}
	defer s.Close()

	// The record to publish, for the key the session signs with.
	pemKey, _ := os.ReadFile(keyFile)
	signer, err := mailsession.ParseDKIMKey(pemKey)
	if err != nil {
		log.Fatal(err)
	}
	record, _ := mailsession.DKIMRecord(signer.Public())
	fmt.Println("2026._domainkey.example.com TXT", record[:len("v=DKIM1; k=ed25519; p=")]+"…")

	// What Send would send, signed.
	var eml bytes.Buffer
	if err := s.WriteMessage(&eml, &mailsession.Message{To: []string{"ana@example.org"}, Subject: "Your code", Text: "123456"}); err != nil {
		log.Fatal(err)
	}
	first, _, _ := strings.Cut(eml.String(), ";")
	fmt.Println(first)
	fmt.Println(s)
	// Output:
	// 2026._domainkey.example.com TXT v=DKIM1; k=ed25519; p=…
	// DKIM-Signature: a=ed25519-sha256
	// mailsession.Session{transport: smtp://localhost:25 tls=none, dkim: d=example.com s=2026}
}
