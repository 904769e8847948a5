package pop3

import (
	"errors"
	"fmt"
	"strings"
)

// ProtocolError is a -ERR reply, or a reply that is not a POP3 status line.
// Command names the command that failed, never its arguments (PASS and AUTH
// carry secrets).
type ProtocolError struct {
	Command string // "USER", "PASS", "RETR", ... or "greeting"
	// Code is the RFC 2449 / RFC 3206 response code in brackets, upper case
	// ("AUTH", "IN-USE", "SYS/TEMP", "SYS/PERM", "LOGIN-DELAY"); "" when none.
	Code string
	Text string // the server's text after -ERR and the code
	// Malformed is set when the reply was neither +OK nor -ERR, or a +OK
	// reply whose data could not be parsed.
	Malformed bool
}

func (e *ProtocolError) Error() string {
	var b strings.Builder
	b.WriteString("pop3: ")
	b.WriteString(e.Command)
	if e.Malformed {
		fmt.Fprintf(&b, ": malformed reply %q", e.Text)
		return b.String()
	}
	b.WriteString(": -ERR")
	if e.Code != "" {
		fmt.Fprintf(&b, " [%s]", e.Code)
	}
	if e.Text != "" {
		b.WriteString(" ")
		b.WriteString(e.Text)
	}
	return b.String()
}

// Is matches ErrAuth for an [AUTH] code or a failed PASS/AUTH, and
// ErrInUse for [IN-USE].
func (e *ProtocolError) Is(target error) bool {
	switch target {
	case ErrAuth:
		return e.Code == "AUTH" || (!e.Malformed && (e.Command == "PASS" || e.Command == "AUTH" || e.Command == "USER"))
	case ErrInUse:
		return e.Code == "IN-USE"
	}
	return false
}

// Temporary reports whether the server said retrying later may help:
// [IN-USE], [LOGIN-DELAY] or [SYS/TEMP].
func (e *ProtocolError) Temporary() bool {
	switch e.Code {
	case "IN-USE", "LOGIN-DELAY", "SYS/TEMP":
		return true
	}
	return false
}

var (
	// ErrAuth matches a refused login.
	ErrAuth = errors.New("pop3: authentication failed")
	// ErrInUse matches -ERR [IN-USE]: another session holds the maildrop.
	ErrInUse = errors.New("pop3: maildrop in use")
	// ErrInvalidArgument is returned, before anything is sent, for an
	// argument that cannot go on the wire (CR, LF, NUL, too long, empty).
	ErrInvalidArgument = errors.New("pop3: invalid argument")
	// ErrBusy is returned when a command is issued while a message reader
	// returned by Retr or Top is still open.
	ErrBusy = errors.New("pop3: a message is still being read")
	// ErrNoSTLS is returned by StartTLS when the server does not offer it.
	ErrNoSTLS = errors.New("pop3: server does not offer STLS")
	// ErrClosed is returned after Close or Quit, or once the connection
	// broke.
	ErrClosed = errors.New("pop3: connection closed")
)

// parseStatus splits a status line into ok and the text after the
// indicator; for -ERR it returns the *ProtocolError.
func parseStatus(cmd string, line []byte) (ok bool, text string, err error) {
	s := string(line)
	switch {
	case s == "+OK":
		return true, "", nil
	case strings.HasPrefix(s, "+OK "):
		return true, s[4:], nil
	case s == "-ERR" || strings.HasPrefix(s, "-ERR "):
		return false, "", errReply(cmd, strings.TrimPrefix(strings.TrimPrefix(s, "-ERR"), " "))
	}
	return false, "", &ProtocolError{Command: cmd, Text: truncate(s), Malformed: true}
}

// errReply builds the error of a -ERR reply whose text follows -ERR.
func errReply(cmd, text string) *ProtocolError {
	e := &ProtocolError{Command: cmd, Text: text}
	if strings.HasPrefix(text, "[") {
		if i := strings.IndexByte(text, ']'); i > 0 {
			e.Code = strings.ToUpper(text[1:i])
			e.Text = strings.TrimSpace(text[i+1:])
		}
	}
	return e
}

func truncate(s string) string {
	const max = 200
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
