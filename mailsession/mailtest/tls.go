package mailtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// certs holds the certificate authority generated at Start and the server
// certificate it signed.
type certs struct {
	caPEM  []byte
	pool   *x509.CertPool
	server *tls.Config
}

// newCerts generates an ECDSA P-256 CA and a server certificate for
// localhost, 127.0.0.1, ::1 and host, valid for a day.
func newCerts(host string) (*certs, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(now.UnixNano()),
		Subject:               pkix.Name{CommonName: "mailtest CA", Organization: []string{"jmail mailtest"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate server key: %w", err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano() + 1),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() {
			leaf.IPAddresses = append(leaf.IPAddresses, ip)
		}
	} else if host != "" && host != "localhost" {
		leaf.DNSNames = append(leaf.DNSNames, host)
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("create server certificate: %w", err)
	}

	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return &certs{
		caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pool:  pool,
		server: &tls.Config{
			Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER, caDER}, PrivateKey: key}},
			MinVersion:   tls.VersionTLS12,
		},
	}, nil
}

// CertPool returns a pool holding the CA that signed the server's
// certificate, which is valid for localhost, 127.0.0.1 and ::1.
func (s *Server) CertPool() *x509.CertPool { return s.tls.pool.Clone() }

// CACertPEM returns that CA certificate in PEM form, e.g. for curl --cacert
// or SSL_CERT_FILE.
func (s *Server) CACertPEM() []byte { return append([]byte(nil), s.tls.caPEM...) }

// ClientTLSConfig returns a client configuration that trusts the server:
// RootCAs is CertPool() and ServerName is Host(), so that the certificate is
// verified against the address dialled.
func (s *Server) ClientTLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.CertPool(), ServerName: s.host, MinVersion: tls.VersionTLS12}
}
