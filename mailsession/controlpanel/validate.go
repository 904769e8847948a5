package controlpanel

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/jmailgo/jmail/jndi"
)

// fieldErrors maps a form field name to the message shown next to it.
type fieldErrors map[string]string

// validate checks the form model field by field; the messages say what to
// change. The additional-properties box is checked separately (it needs the
// properties parser and reports line numbers).
func (s settings) validate() fieldErrors {
	errs := fieldErrors{}
	if msg := checkHost(s.StoreHost, false); msg != "" {
		errs[fStoreHost] = msg
	}
	if msg := checkPort(s.StorePort); msg != "" {
		errs[fStorePort] = msg
	}
	if msg := checkWireText(s.StoreUser, "The user name"); msg != "" {
		errs[fStoreUser] = msg
	}
	if msg := checkWireText(s.StorePassword, "The password"); msg != "" {
		errs[fStorePassword] = msg
	}
	if msg := checkHost(s.SMTPHost, true); msg != "" {
		errs[fSMTPHost] = msg
	}
	if msg := checkPort(s.SMTPPort); msg != "" {
		errs[fSMTPPort] = msg
	}
	if s.SMTPSecure && s.SMTPStartTLS {
		errs[fSMTPStartTLS] = "STARTTLS upgrades a plain connection; a secure (SMTPS) connection is encrypted from the start. Choose one."
	}
	if msg := checkWireText(s.SMTPUser, "The user name"); msg != "" {
		errs[fSMTPUser] = msg
	}
	if msg := checkWireText(s.SMTPPassword, "The password"); msg != "" {
		errs[fSMTPPassword] = msg
	}
	if msg := checkJNDIName(s.JNDIName); msg != "" {
		errs[fJNDIName] = msg
	}
	return errs
}

// checkHost accepts a DNS name, an IPv4 address or an IPv6 address (bare or
// in brackets); empty is allowed for the optional incoming server.
func checkHost(h string, required bool) string {
	if h == "" {
		if required {
			return "Enter the server's host name, e.g. smtp.example.com."
		}
		return ""
	}
	if len(h) > 253 {
		return "The host name is too long (at most 253 characters)."
	}
	for _, r := range h {
		if !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) || strings.ContainsRune("-._:[]", r)) {
			return fmt.Sprintf("A host name cannot contain %q. Use a name like mail.example.com or an IP address.", r)
		}
	}
	return ""
}

// checkPort accepts empty (the protocol's default port) or 1–65535.
func checkPort(p string) string {
	if p == "" {
		return ""
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return "Enter a port number from 1 to 65535, or leave it empty for the protocol's default."
	}
	return ""
}

// checkWireText refuses control characters, which would break or inject
// protocol commands (CR/LF).
func checkWireText(v, what string) string {
	for _, r := range v {
		if unicode.IsControl(r) {
			return what + " cannot contain line breaks or control characters."
		}
	}
	return ""
}

// checkJNDIName accepts composite names such as mail/MailSession, optionally
// with the java: or java:comp/env/ prefix, or empty (DefaultJNDIName).
func checkJNDIName(n string) string {
	if n == "" {
		return ""
	}
	if len(n) > 200 {
		return "The JNDI name is too long (at most 200 characters)."
	}
	for _, r := range n {
		if !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) || strings.ContainsRune("/._:-", r)) {
			return fmt.Sprintf("A JNDI name cannot contain %q; use letters, digits and / . _ : -.", r)
		}
	}
	if strings.HasPrefix(n, "/") || strings.HasSuffix(n, "/") || strings.Contains(n, "//") {
		return "A JNDI name's parts are separated by single slashes, e.g. " + DefaultJNDIName + "."
	}
	if _, err := jndi.Normalize(n); err != nil {
		return "This is not a usable JNDI name: " + err.Error()
	}
	return ""
}
