package mailsession

import (
	"bufio"
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/emersion/go-message/textproto"
	"github.com/emersion/go-msgauth/dkim"
)

// dkimHeaders are the header fields signed by default, each as many times
// as the message has it: the ones RFC 6376 §5.4.1 recommends, the MIME
// structure, and RFC 8058's list fields (a one-click unsubscribe must be
// covered by the signature). From is signed once more than it occurs
// ("over-signed"), so that no From can be added without breaking the
// signature.
var dkimHeaders = []string{
	"From", "Reply-To", "Sender", "To", "Cc", "Subject", "Date", "Message-ID",
	"In-Reply-To", "References", "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
	"List-Unsubscribe", "List-Unsubscribe-Post", "List-Id",
}

// dkimOption is what WithDKIM gives.
type dkimOption struct {
	domain, selector string
	key              crypto.Signer
	headers          []string
}

// WithDKIM signs every message the session sends, and every message
// WriteMessage writes, with a DKIM signature (RFC 6376) of domain (d=) and
// selector (s=): relaxed/relaxed canonicalisation, SHA-256, with an RSA
// key of 2048 bits or more or an Ed25519 key (see ParseDKIMKey), whose
// public half is published at <selector>._domainkey.<domain> (see
// DKIMRecord). headers, when given, replaces the list of header fields
// signed when present (From, Reply-To, Sender, To, Cc, Subject, Date,
// Message-ID, In-Reply-To, References, MIME-Version, Content-Type,
// Content-Transfer-Encoding, List-Unsubscribe, List-Unsubscribe-Post,
// List-Id); it must name From, which is always over-signed.
//
// The properties mail.dkim.domain, mail.dkim.selector, mail.dkim.key.file
// and mail.dkim.headers configure the same; WithDKIM takes precedence over
// them. A domain that is not the default From's (nor its parent or child)
// is a Warning: DMARC would not count the signature.
//
// A message is composed (or, for SendRaw, read) once into a spool —
// memory up to 1 MiB, then a temporary file — hashed, and sent from the
// spool with the signature in front: a large message never sits in
// memory. SendRaw does not sign again a message that already carries a
// DKIM-Signature of this domain and selector (one from WriteMessage, as
// the outbox stores it).
func WithDKIM(domain, selector string, key crypto.Signer, headers ...string) Option {
	return func(c *config) {
		c.dkim = &dkimOption{domain: domain, selector: selector, key: key, headers: append([]string(nil), headers...)}
	}
}

// dkimSigner signs messages for a session.
type dkimSigner struct {
	domain, selector string
	key              crypto.Signer
	headers          []string // signed when present, From over-signed
}

// dkimKeys are the properties that configure signing.
const (
	keyDKIMDomain   = "mail.dkim.domain"
	keyDKIMSelector = "mail.dkim.selector"
	keyDKIMKeyFile  = "mail.dkim.key.file"
	keyDKIMHeaders  = "mail.dkim.headers"
)

// resolveDKIM builds the signer from WithDKIM or the mail.dkim.* keys;
// from is the session's default From, for the alignment warning. It
// returns nil when signing is not configured.
func resolveDKIM(props map[string]string, c *config, from string, warnings *[]Warning) (*dkimSigner, error) {
	domain := strings.TrimSpace(props[keyDKIMDomain])
	selector := strings.TrimSpace(props[keyDKIMSelector])
	keyFile := strings.TrimSpace(props[keyDKIMKeyFile])
	headerList := strings.TrimSpace(props[keyDKIMHeaders])
	var d *dkimSigner
	if o := c.dkim; o != nil {
		if domain != "" || selector != "" || keyFile != "" || headerList != "" {
			*warnings = append(*warnings, Warning{keyDKIMDomain, "WithDKIM is given: the mail.dkim.* keys are ignored"})
		}
		var err error
		if d, err = newDKIMSigner(o.domain, o.selector, o.key, o.headers); err != nil {
			return nil, fmt.Errorf("mailsession: WithDKIM: %w", err)
		}
	} else {
		if domain == "" && selector == "" && keyFile == "" {
			if headerList != "" {
				*warnings = append(*warnings, Warning{keyDKIMHeaders, "ignored: messages are signed only with mail.dkim.domain, mail.dkim.selector and mail.dkim.key.file"})
			}
			return nil, nil
		}
		for _, k := range [...][2]string{{keyDKIMDomain, domain}, {keyDKIMSelector, selector}, {keyDKIMKeyFile, keyFile}} {
			if k[1] == "" {
				name := k[0]
				if c.portal {
					name = "mail.session." + name // where the operator would write it
				}
				return nil, &SettingError{Key: name, Err: errors.New("missing: mail.dkim.domain, mail.dkim.selector and mail.dkim.key.file go together")}
			}
		}
		if err := checkDKIMName(domain); err != nil {
			return nil, &SettingError{Key: keyDKIMDomain, Value: domain, Err: err}
		}
		if err := checkDKIMName(selector); err != nil {
			return nil, &SettingError{Key: keyDKIMSelector, Value: selector, Err: err}
		}
		key, err := readDKIMKeyFile(keyFile, warnings)
		if err != nil {
			return nil, &SettingError{Key: keyDKIMKeyFile, Value: keyFile, Err: err}
		}
		var headers []string
		if headerList != "" {
			headers = strings.FieldsFunc(headerList, func(r rune) bool { return r == ',' || r == ':' || r == ' ' || r == '\t' })
		}
		if d, err = newDKIMSigner(domain, selector, key, headers); err != nil {
			return nil, &SettingError{Key: keyDKIMHeaders, Value: headerList, Err: err}
		}
	}
	if fromDomain := addressDomain(from); fromDomain != "" && !dkimAligned(fromDomain, d.domain) {
		*warnings = append(*warnings, Warning{keyDKIMDomain, fmt.Sprintf("d=%s is not the domain of the default From (%s), nor its parent or child: DMARC does not count this signature for that From", d.domain, fromDomain)})
	}
	return d, nil
}

// newDKIMSigner checks the parts of a signer.
func newDKIMSigner(domain, selector string, key crypto.Signer, headers []string) (*dkimSigner, error) {
	domain = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(domain), "."))
	selector = strings.TrimSpace(selector)
	if err := checkDKIMName(domain); err != nil {
		return nil, fmt.Errorf("domain %q: %w", domain, err)
	}
	if err := checkDKIMName(selector); err != nil {
		return nil, fmt.Errorf("selector %q: %w", selector, err)
	}
	if err := checkDKIMKey(key); err != nil {
		return nil, err
	}
	if len(headers) == 0 {
		headers = dkimHeaders
	}
	var list []string
	seen := map[string]bool{}
	for _, h := range headers {
		h = strings.TrimSpace(h)
		if !validFieldName(h) {
			return nil, fmt.Errorf("header field name %q is not valid", h)
		}
		k := strings.ToLower(h)
		if k == "dkim-signature" {
			return nil, errors.New("DKIM-Signature cannot sign itself")
		}
		if !seen[k] {
			seen[k] = true
			list = append(list, textprotoCanonical(h))
		}
	}
	if !seen["from"] {
		return nil, errors.New("the signed header fields must include From (RFC 6376 §5.4)")
	}
	return &dkimSigner{domain: domain, selector: selector, key: key, headers: list}, nil
}

// readDKIMKeyFile reads and checks a PEM key file, warning when others
// may read it.
func readDKIMKeyFile(path string, warnings *[]Warning) (crypto.Signer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&0o077 != 0 {
		*warnings = append(*warnings, Warning{keyDKIMKeyFile, fmt.Sprintf("the private key is readable by other users (mode %#o): chmod 600 it", fi.Mode().Perm())})
	}
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return nil, err
	}
	return ParseDKIMKey(b)
}

// checkDKIMName checks a domain or selector: dot-separated labels of
// letters, digits, hyphens and underscores, as DNS carries them.
func checkDKIMName(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	if len(s) > 253 {
		return errors.New("longer than 253 characters")
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return errors.New("not a DNS name: a label is empty or longer than 63 characters")
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return fmt.Errorf("not a DNS name: %q", r)
			}
		}
	}
	return nil
}

// addressDomain is the lower-case domain of an RFC 5322 address, or "".
func addressDomain(addr string) string {
	if addr == "" {
		return ""
	}
	a, err := parseAddress(addr)
	if err != nil {
		return ""
	}
	at := strings.LastIndexByte(a.Address, '@')
	if at < 0 {
		return ""
	}
	return strings.ToLower(a.Address[at+1:])
}

// dkimAligned approximates DMARC's relaxed alignment without the public
// suffix list: the From domain is d=, or one is a subdomain of the other.
func dkimAligned(fromDomain, d string) bool {
	return fromDomain == d || strings.HasSuffix(fromDomain, "."+d) || strings.HasSuffix(d, "."+fromDomain)
}

// String describes the signer without its key.
func (d *dkimSigner) String() string { return "d=" + d.domain + " s=" + d.selector }

// sign runs body once into a spool and signs what it wrote. It returns
// the body to send (the DKIM-Signature field, then the spooled message;
// it may be called again, from the first byte) and the spool's release.
// A message that already carries a signature of this domain and selector
// is sent as it is.
func (d *dkimSigner) sign(ctx context.Context, body func(io.Writer) error) (func(io.Writer) error, func(), error) {
	sp := &spool{}
	release := func() { sp.Close() }
	err := body(ctxWriter{ctx, sp})
	if err == nil {
		err = sp.Flush()
	}
	if err != nil {
		release()
		return nil, nil, err
	}
	replay := func(w io.Writer) error {
		_, err := io.Copy(w, sp.Reader())
		return err
	}
	h, err := textproto.ReadHeader(bufio.NewReader(io.LimitReader(sp.Reader(), maxHeader)))
	if err != nil {
		release()
		return nil, nil, fmt.Errorf("%w: DKIM: the message header cannot be read: %v", ErrInvalidMessage, err)
	}
	if d.signedBy(h) {
		return replay, release, nil
	}
	keys := d.headerKeys(h)
	if keys == nil {
		release()
		return nil, nil, fmt.Errorf("%w: DKIM: the message has no From header field", ErrInvalidMessage)
	}
	signer, err := dkim.NewSigner(&dkim.SignOptions{
		Domain:                 d.domain,
		Selector:               d.selector,
		Signer:                 d.key,
		Hash:                   crypto.SHA256,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             keys,
	})
	if err != nil {
		release()
		return nil, nil, fmt.Errorf("DKIM: %w", err)
	}
	_, err = io.Copy(ctxWriter{ctx, signer}, sp.Reader())
	if cerr := signer.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("DKIM: signing: %w", cerr)
	}
	if err != nil {
		release()
		return nil, nil, err
	}
	sig := signer.Signature()
	return func(w io.Writer) error {
		if _, err := io.WriteString(w, sig); err != nil {
			return err
		}
		return replay(w)
	}, release, nil
}

// headerKeys lists the fields to sign for h: each configured field as
// many times as h has it, From once more. nil when h has no From.
func (d *dkimSigner) headerKeys(h textproto.Header) []string {
	var keys []string
	for _, k := range d.headers {
		n := len(h.Values(k))
		if strings.EqualFold(k, "From") {
			if n == 0 {
				return nil
			}
			n++
		}
		for range n {
			keys = append(keys, k)
		}
	}
	return keys
}

// signedBy reports whether h has a DKIM-Signature of d's domain and
// selector already.
func (d *dkimSigner) signedBy(h textproto.Header) bool {
	for _, v := range h.Values("DKIM-Signature") {
		var dom, sel string
		for _, tag := range strings.Split(v, ";") {
			name, value, ok := strings.Cut(tag, "=")
			if !ok {
				continue
			}
			value = strings.Join(strings.Fields(value), "")
			switch strings.TrimSpace(name) {
			case "d":
				dom = strings.ToLower(strings.TrimSuffix(value, "."))
			case "s":
				sel = value
			}
		}
		if dom == d.domain && sel == d.selector {
			return true
		}
	}
	return false
}
