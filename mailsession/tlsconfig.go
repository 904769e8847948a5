package mailsession

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// tlsConfigFor builds the TLS configuration for one endpoint: the option's
// base config (or a fresh one), system roots unless a pool was given, the
// endpoint's host as ServerName, TLS 1.2 at least, and JavaMail's
// ssl.trust / ssl.checkserveridentity semantics:
//
//   - ssl.trust=* or a list naming the host: the server's certificate is
//     accepted without verification (JavaMail's meaning; Check warns);
//   - ssl.trust listing other hosts only: the server is refused, whatever
//     its certificate (JavaMail's "Server is not trusted");
//   - ssl.checkserveridentity=false: the chain is verified but not the
//     host name;
//   - otherwise (the default) chain and host name are verified.
func tlsConfigFor(ep *endpoint) *tls.Config {
	var cfg *tls.Config
	if ep.TLSConfig != nil {
		cfg = ep.TLSConfig.Clone()
	} else {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = ep.Host
	}
	if ep.RootCAs != nil {
		cfg.RootCAs = ep.RootCAs
	}
	if cfg.MinVersion < ep.TLSMin {
		cfg.MinVersion = ep.TLSMin
	}
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	if ep.TLSMax != 0 {
		cfg.MaxVersion = ep.TLSMax
	}
	if ep.CipherSuites != nil {
		cfg.CipherSuites = ep.CipherSuites
	}
	if cfg.InsecureSkipVerify {
		return cfg // the caller's explicit choice in its own tls.Config
	}
	trusted := ep.TrustAll || slices.ContainsFunc(ep.TrustHosts, func(h string) bool { return strings.EqualFold(h, ep.Host) })
	switch {
	case trusted:
		cfg.InsecureSkipVerify = true
	case len(ep.TrustHosts) > 0:
		cfg.VerifyConnection = func(tls.ConnectionState) error {
			return fmt.Errorf("server %s is not trusted: mail.%s.ssl.trust lists only %s", ep.Host, ep.Protocol, strings.Join(ep.TrustHosts, " "))
		}
	case !ep.CheckServerIdentity:
		roots := cfg.RootCAs
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			return verifyChain(cs, roots)
		}
	}
	return cfg
}

// verifyChain verifies the peer's certificate chain against roots (nil: the
// system roots) without checking the host name.
func verifyChain(cs tls.ConnectionState, roots *x509.CertPool) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("tls: server sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
	return err
}

// tlsVersionName names a TLS version for reports.
func tlsVersionName(v uint16) string {
	if v == 0 {
		return ""
	}
	return tls.VersionName(v)
}
