package controlpanel

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jmailgo/jmail/mailsession"
)

// This file says the library's refusals and warnings in the page's terms:
// a setting of the additional-properties box on its line, a form field by
// its label and the action that fixes it ("tick Use STARTTLS").

// side is "outgoing" or "incoming" for a JavaMail key of one protocol, and
// the rest of the key after mail.<p>.
func keySide(key string) (side, rest string) {
	switch key {
	case "mail.transport.protocol":
		return "outgoing", "protocol"
	case "mail.store.protocol":
		return "incoming", "protocol"
	}
	for _, p := range []string{"smtps", "smtp", "pop3s", "pop3", "imaps", "imap"} {
		if r, ok := strings.CutPrefix(key, "mail."+p+"."); ok {
			if strings.HasPrefix(p, "smtp") {
				return "outgoing", r
			}
			return "incoming", r
		}
	}
	return "", ""
}

// fieldLabels are the form's fields by side and key (after mail.<p>.), as
// the error summary names them.
var fieldLabels = map[string]map[string]string{
	"outgoing": {"host": "Outgoing server", "port": "Outgoing port", "user": "Outgoing user name",
		"password": "Outgoing password", "auth": "Outgoing password", "starttls.enable": "Use STARTTLS",
		"ssl.enable": "Outgoing secure connection", "protocol": "Outgoing secure connection"},
	"incoming": {"host": "Incoming server", "port": "Incoming port", "user": "Incoming user name",
		"password": "Incoming password", "auth": "Incoming password", "ssl.enable": "Incoming secure connection",
		"protocol": "Incoming secure connection"},
}

// plainKey is a key as the library may name it (with the portal's
// mail.session. prefix, as in the operator's file) in JavaMail terms.
func plainKey(key string) string {
	if k, ok := strings.CutPrefix(key, "mail.session."); ok && strings.HasPrefix(k, "mail.") {
		return k
	}
	return key
}

// boxLine returns the line of the additional-properties box that sets key
// (the last one, which wins), also through the smtps → smtp fallback the
// session applies, or 0.
func boxLine(entries []advancedEntry, key string) int {
	cands := []string{key}
	for _, p := range []string{"smtps", "pop3s", "imaps"} {
		if r, ok := strings.CutPrefix(key, "mail."+p+"."); ok {
			cands = append(cands, "mail."+strings.TrimSuffix(p, "s")+"."+r)
		}
	}
	for _, k := range cands {
		for i := len(entries) - 1; i >= 0; i-- {
			if entries[i].Key == k {
				return entries[i].Line
			}
		}
	}
	return 0
}

// settingWords says what is wrong with the value of key in words; value is
// never shown for a password or token.
func settingWords(key, value string, inner error) string {
	_, rest := keySide(key)
	if rest == "" {
		rest = strings.TrimPrefix(key, "mail.")
	}
	not := fmt.Sprintf(", not %q", value)
	if isSecretKey(key) {
		not = ""
	}
	msg := ""
	if inner != nil {
		msg = inner.Error()
	}
	switch {
	case rest == "port" || strings.HasSuffix(rest, ".port"):
		return key + " must be a port number (1–65535)" + not
	case strings.HasSuffix(rest, "timeout"):
		return key + " must be a number of milliseconds" + not
	case rest == "connectionpoolsize":
		return key + " must be a whole number" + not
	case strings.Contains(msg, "boolean"):
		return key + " must be true or false" + not
	case rest == "host" || strings.HasSuffix(rest, ".host") || rest == "localhost":
		return key + " must be a host name" + not
	case rest == "from":
		return key + " must be an email address such as no-reply@example.com" + not
	case key == "mail.transport.protocol":
		return key + " must be smtp or smtps" + not
	case key == "mail.store.protocol":
		return key + " must be pop3, pop3s, imap or imaps" + not
	case isSecretKey(key):
		return key + " cannot contain line breaks or control characters"
	}
	if msg == "" {
		return key + " cannot be used" + not
	}
	return key + " cannot be used" + not + ": " + msg
}

// explainSettingError places a refused setting: on its line of the box
// (line > 0), or on the form field that set it (field != ""). ok is false
// when err is no setting's refusal.
func explainSettingError(err error, entries []advancedEntry) (line int, field, msg string, ok bool) {
	se, isSE := errors.AsType[*mailsession.SettingError](err)
	if !isSE {
		return 0, "", "", false
	}
	key := plainKey(se.Key)
	msg = settingWords(key, se.Value, se.Err)
	if line = boxLine(entries, key); line > 0 {
		return line, "", msg, true
	}
	side, rest := keySide(key)
	for name, f := range map[string]string{
		"outgoing/host": fSMTPHost, "outgoing/port": fSMTPPort, "outgoing/user": fSMTPUser, "outgoing/password": fSMTPPassword,
		"incoming/host": fStoreHost, "incoming/port": fStorePort, "incoming/user": fStoreUser, "incoming/password": fStorePassword,
	} {
		if name == side+"/"+rest {
			return 0, f, msg, true
		}
	}
	return 0, "", msg, true
}

var (
	portInMsg  = regexp.MustCompile(`port (\d+)`)
	orPortInMs = regexp.MustCompile(`or port (\d+)`)
)

// warningText says a library warning in the page's terms: a key set in the
// box is named with its line; a key the form sets is named by its field,
// with the action that fixes it for the common cases.
func warningText(w mailsession.Warning, entries []advancedEntry) string {
	key := plainKey(w.Key)
	if key == "" {
		return w.Message
	}
	if line := boxLine(entries, key); line > 0 {
		return fmt.Sprintf("Additional JavaMail properties, line %d: %s: %s", line, key, w.Message)
	}
	side, rest := keySide(key)
	label := fieldLabels[side][rest]
	if label == "" {
		return w.String()
	}
	Side := strings.ToUpper(side[:1]) + side[1:]
	port := ""
	if m := portInMsg.FindStringSubmatch(w.Message); m != nil {
		port = m[1]
	}
	switch {
	case rest == "starttls.enable" && strings.Contains(w.Message, "offers STARTTLS"):
		return "Outgoing mail: the server offers STARTTLS but the connection stays unencrypted. Tick Use STARTTLS."
	case rest == "auth" && strings.Contains(w.Message, "need TLS") && side == "outgoing":
		return "Outgoing mail: the password would be sent unencrypted. Tick Use STARTTLS, or Use a secure network connection (SMTPS)."
	case rest == "auth" && strings.Contains(w.Message, "need TLS"):
		return "Incoming mail: the password would be sent unencrypted. Tick Use a secure network connection."
	case rest == "port" && strings.Contains(w.Message, "expects implicit TLS") && side == "outgoing":
		return fmt.Sprintf("Outgoing port %s expects a secure connection: tick Use a secure network connection, or use port 587 and tick Use STARTTLS.", port)
	case rest == "port" && strings.Contains(w.Message, "expects implicit TLS"):
		return fmt.Sprintf("Incoming port %s expects a secure connection: tick Use a secure network connection.", port)
	case rest == "port" && strings.Contains(w.Message, "expects a plain connection"):
		other := ""
		if m := orPortInMs.FindStringSubmatch(w.Message); m != nil {
			other = ", or use port " + m[1]
		}
		advice := "untick Use a secure network connection"
		if side == "outgoing" {
			advice += " and tick Use STARTTLS"
		}
		return fmt.Sprintf("%s port %s expects a plain connection: %s%s.", Side, port, advice, other)
	}
	return label + " (" + key + "): " + w.Message
}
