package mailsession

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// minDKIMRSABits is the shortest RSA key the session signs with: RFC 8301
// allows 1024 bits, but Gmail and Yahoo's guidance since 2024, and
// every key generator's default, is 2048.
const minDKIMRSABits = 2048

// ParseDKIMKey reads a DKIM private key from PEM: PKCS#8 ("PRIVATE KEY",
// RSA or Ed25519) or PKCS#1 ("RSA PRIVATE KEY"), as `openssl genpkey` and
// `openssl genrsa` write them. It refuses encrypted keys, other key types
// (DKIM signs with RSA or Ed25519 only: RFC 6376, RFC 8463) and RSA keys
// shorter than 2048 bits.
func ParseDKIMKey(pemBytes []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("no PEM block found (want -----BEGIN PRIVATE KEY-----)")
	}
	if block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] != "" {
		return nil, errors.New("the key is encrypted: store it decrypted, readable by this process only (openssl pkey -in key.pem -out plain.pem)")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		return nil, errors.New("an EC key: DKIM signs with RSA or Ed25519 only")
	default:
		return nil, fmt.Errorf("PEM block %q is not a private key (want PRIVATE KEY or RSA PRIVATE KEY)", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing the %s: %w", strings.ToLower(block.Type), err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported key type %T", key)
	}
	if err := checkDKIMKey(signer); err != nil {
		return nil, err
	}
	return signer, nil
}

// checkDKIMKey refuses a key DKIM cannot sign with, or an RSA key that is
// too short.
func checkDKIMKey(key crypto.Signer) error {
	if key == nil {
		return errors.New("no key")
	}
	switch pub := key.Public().(type) {
	case *rsa.PublicKey:
		if n := pub.N.BitLen(); n < minDKIMRSABits {
			return fmt.Errorf("an RSA key of %d bits is too short: DKIM keys need %d bits or more", n, minDKIMRSABits)
		}
	case ed25519.PublicKey:
	default:
		return fmt.Errorf("a %T key: DKIM signs with RSA or Ed25519 only", pub)
	}
	return nil
}

// DKIMRecord returns the DNS TXT record that publishes pub for DKIM
// verifiers, at <selector>._domainkey.<domain>: "v=DKIM1; k=rsa; p=…"
// (the SubjectPublicKeyInfo, RFC 6376) or "v=DKIM1; k=ed25519; p=…" (the
// raw key, RFC 8463). Pass the signer's Public().
func DKIMRecord(pub crypto.PublicKey) (string, error) {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", err
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub), nil
	default:
		return "", fmt.Errorf("mailsession: a %T key: DKIM publishes RSA or Ed25519 keys only", pub)
	}
}
