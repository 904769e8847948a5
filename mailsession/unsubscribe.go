package mailsession

import (
	"fmt"
	"mime"
	"net/mail"
	"net/url"
	"strings"
)

// listFields are the header fields of a Message's UnsubscribeURL,
// UnsubscribeMailto and ListID: List-Unsubscribe (RFC 2369) with
// List-Unsubscribe-Post for one-click (RFC 8058), and List-Id (RFC 2919).
func listFields(m *Message) ([][2]string, error) {
	var fields [][2]string
	var uris []string
	if m.UnsubscribeURL != "" {
		u, err := url.Parse(m.UnsubscribeURL)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || strings.ContainsAny(m.UnsubscribeURL, " \t\r\n<>,") {
			return nil, fmt.Errorf("%w: UnsubscribeURL %q: one-click unsubscribe (RFC 8058) takes an https URL with a host, no user information, spaces, commas or angle brackets", ErrInvalidMessage, m.UnsubscribeURL)
		}
		uris = append(uris, "<"+m.UnsubscribeURL+">")
	}
	if m.UnsubscribeMailto != "" {
		mt, err := mailtoURI(m.UnsubscribeMailto)
		if err != nil {
			return nil, err
		}
		uris = append(uris, "<"+mt+">")
	}
	if len(uris) > 0 {
		if _, set := headerValue(m.Header, "List-Unsubscribe"); set {
			return nil, fmt.Errorf("%w: both UnsubscribeURL/UnsubscribeMailto and a List-Unsubscribe header", ErrInvalidMessage)
		}
		fields = append(fields, [2]string{"List-Unsubscribe", strings.Join(uris, ", ")})
		if m.UnsubscribeURL != "" {
			if _, set := headerValue(m.Header, "List-Unsubscribe-Post"); set {
				return nil, fmt.Errorf("%w: both UnsubscribeURL and a List-Unsubscribe-Post header", ErrInvalidMessage)
			}
			fields = append(fields, [2]string{"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"})
		}
	}
	if m.ListID != "" {
		id, err := listID(m.ListID)
		if err != nil {
			return nil, err
		}
		if _, set := headerValue(m.Header, "List-Id"); set {
			return nil, fmt.Errorf("%w: both ListID and a List-Id header", ErrInvalidMessage)
		}
		fields = append(fields, [2]string{"List-Id", id})
	}
	return fields, nil
}

// mailtoURI is s (an address, or a mailto: URL) as a mailto: URI.
func mailtoURI(s string) (string, error) {
	bad := func(why string) error {
		return fmt.Errorf("%w: UnsubscribeMailto %q: %s", ErrInvalidMessage, s, why)
	}
	if strings.ContainsAny(s, " \t\r\n<>,") {
		return "", bad("no spaces, commas or angle brackets")
	}
	addr, query, _ := strings.Cut(strings.TrimPrefix(s, "mailto:"), "?")
	if a, err := mail.ParseAddress(addr); err != nil || a.Address != addr {
		return "", bad("not an address")
	}
	if query != "" {
		if _, err := url.ParseQuery(query); err != nil {
			return "", bad("bad query: " + err.Error())
		}
		return "mailto:" + addr + "?" + query, nil
	}
	return "mailto:" + addr, nil
}

// listID is the List-Id field of s: "Description <id>" or a bare id, the
// id a dot-atom with at least one dot (RFC 2919).
func listID(s string) (string, error) {
	desc, id := "", strings.TrimSpace(s)
	if i := strings.LastIndexByte(id, '<'); i >= 0 && strings.HasSuffix(id, ">") {
		desc, id = strings.TrimSpace(id[:i]), id[i+1:len(id)-1]
	}
	ok := strings.Contains(id, ".") && !strings.HasPrefix(id, ".") && !strings.HasSuffix(id, ".") && !strings.Contains(id, "..")
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-/=?^_`{|}~.", r)) {
			ok = false
		}
	}
	if !ok || checkLine(desc) != nil || strings.ContainsAny(desc, "<>") {
		return "", fmt.Errorf("%w: ListID %q: want \"Description <list.example.com>\" or \"list.example.com\" (RFC 2919)", ErrInvalidMessage, s)
	}
	if desc == "" {
		return "<" + id + ">", nil
	}
	if !isASCII(desc) {
		desc = mime.QEncoding.Encode("utf-8", desc)
	}
	return desc + " <" + id + ">", nil
}

// headerValue is the first value of the extra header field name, in any
// case.
func headerValue(h map[string][]string, name string) (string, bool) {
	for k, vs := range h {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[0], true
		}
	}
	return "", false
}
