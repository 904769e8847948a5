package mailsession

import (
	"fmt"
	"net/mail"
	"strings"
)

// checkLine rejects CR, LF and NUL: a value that goes into a header or a
// protocol command must not be able to start a new line (header and command
// injection).
func checkLine(v string) error {
	if i := strings.IndexAny(v, "\r\n\x00"); i >= 0 {
		return fmt.Errorf("contains a line break or NUL at byte %d (header/command injection refused)", i)
	}
	return nil
}

// parseAddress parses one RFC 5322 address ("Name <a@b>" or "a@b") and
// checks it can go on the wire: no CR/LF, a local part and a domain.
func parseAddress(s string) (*mail.Address, error) {
	if err := checkLine(s); err != nil {
		return nil, err
	}
	a, err := mail.ParseAddress(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("invalid address %q: %w", s, err)
	}
	if err := checkEnvelopeAddress(a.Address); err != nil {
		return nil, err
	}
	return a, nil
}

// envelopeAddress returns the bare address of s for MAIL FROM or RCPT TO.
// A plain ASCII local@domain (dot-atoms only, the usual case) is taken as
// it is; anything else is parsed as an RFC 5322 address.
func envelopeAddress(s string) (string, error) {
	if isPlainAddress(s) {
		return s, nil
	}
	a, err := parseAddress(s)
	if err != nil {
		return "", err
	}
	return a.Address, nil
}

// isPlainAddress reports whether s is dot-atom@dot-atom in ASCII with a
// domain of letters, digits, hyphens and dots: nothing net/mail would
// change or refuse.
func isPlainAddress(s string) bool {
	at := strings.IndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || len(s) > 254 {
		return false
	}
	local, domain := s[:at], s[at+1:]
	return isDotAtom(local, func(c byte) bool { return isAtext(c) }) &&
		isDotAtom(domain, func(c byte) bool { return c == '-' || isAlnum(c) })
}

// isDotAtom reports whether s is runs of ok characters joined by single
// dots.
func isDotAtom(s string, ok func(byte) bool) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			if s[i-1] == '.' {
				return false
			}
			continue
		}
		if !ok(c) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// isAtext is RFC 5322's atext.
func isAtext(c byte) bool {
	return isAlnum(c) || strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// checkEnvelopeAddress checks a bare address for MAIL FROM / RCPT TO.
func checkEnvelopeAddress(addr string) error {
	if err := checkLine(addr); err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return fmt.Errorf("invalid address %q: want local-part@domain", addr)
	}
	if strings.ContainsAny(addr, " <>\t") {
		return fmt.Errorf("invalid address %q: spaces or angle brackets in an envelope address", addr)
	}
	return nil
}

// parseAddressList parses every entry of list (each may itself be a
// comma-separated list, as users write "a@x, b@y").
func parseAddressList(field string, list []string) ([]*mail.Address, error) {
	var out []*mail.Address
	for _, s := range list {
		if strings.TrimSpace(s) == "" {
			continue
		}
		if err := checkLine(s); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalidMessage, field, err)
		}
		as, err := mail.ParseAddressList(s)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: invalid address %q: %v", ErrInvalidMessage, field, s, err)
		}
		for _, a := range as {
			if err := checkEnvelopeAddress(a.Address); err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrInvalidMessage, field, err)
			}
		}
		out = append(out, as...)
	}
	return out, nil
}
