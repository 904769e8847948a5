package mailsession

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/emersion/go-smtp"
)

// Sentinel errors, for errors.Is.
var (
	// ErrTemporary matches failures worth retrying later: 4xx replies,
	// timeouts and network errors.
	ErrTemporary = errors.New("mailsession: temporary failure")
	// ErrPermanent matches failures that will not succeed on retry: 5xx
	// replies and invalid input.
	ErrPermanent = errors.New("mailsession: permanent failure")
	// ErrClosed is returned by a Session used after Close.
	ErrClosed = errors.New("mailsession: session closed")
	// ErrInsecureAuth is returned instead of sending credentials over an
	// unencrypted connection to a host that is not loopback.
	ErrInsecureAuth = errors.New("mailsession: refusing to send credentials without TLS")
	// ErrTLSRequired is returned when starttls.required is set and the
	// server does not offer STARTTLS.
	ErrTLSRequired = errors.New("mailsession: server does not offer STARTTLS but it is required")
	// ErrInvalidMessage matches a message refused before any connection:
	// bad address, CR/LF in a header, no recipient. It matches ErrPermanent
	// too.
	ErrInvalidMessage error = &permanentError{"mailsession: invalid message"}
	// ErrAuth matches a failed or impossible authentication.
	ErrAuth = errors.New("mailsession: authentication failed")
	// ErrUncertain matches a send whose end of message (the final dot, or
	// BDAT LAST) was written but whose reply never came (the connection
	// died, a timeout, the ctx ended): the server may have accepted the
	// message. It is neither ErrTemporary nor ErrPermanent: sending again
	// risks a duplicate (with the same Message-ID, so that receivers can
	// tell), not sending risks a loss. See SendError.Uncertain.
	ErrUncertain = errors.New("mailsession: outcome uncertain: the message was sent but no reply came")
	// ErrNoStore is returned by store operations when no mail.store.protocol
	// is configured.
	ErrNoStore = errors.New("mailsession: no store configured (set mail.store.protocol)")
)

// permanentError is a sentinel that also matches ErrPermanent.
type permanentError struct{ msg string }

func (e *permanentError) Error() string { return e.msg }

// Is makes the error match ErrPermanent.
func (e *permanentError) Is(target error) bool { return target == ErrPermanent }

// innerText is err's text as part of another mailsession error: without
// the package prefixes of the errors it wraps.
func innerText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return strings.ReplaceAll(err.Error(), "mailsession: ", "")
}

// SettingError reports a configuration value that cannot be used. It names
// the key and its value (never the value of a password key).
type SettingError struct {
	Key   string
	Value string
	Err   error
}

// Error names the key and its value (redacted for a password or token key).
func (e *SettingError) Error() string {
	v := e.Value
	if isSecretKey(e.Key) {
		v = "<redacted>"
	}
	return fmt.Sprintf("mailsession: setting %s=%q: %s", e.Key, v, innerText(e.Err))
}

// Unwrap returns the underlying error.
func (e *SettingError) Unwrap() error { return e.Err }

// Is makes a SettingError match ErrPermanent.
func (e *SettingError) Is(target error) bool { return target == ErrPermanent }

// isSecretKey says whether key's value is a secret: a password, a token,
// a client secret.
func isSecretKey(key string) bool {
	k := strings.ToLower(key)
	return strings.HasSuffix(k, "password") || strings.HasSuffix(k, "token") || strings.HasSuffix(k, "secret")
}

// RecipientError is one recipient the server refused.
type RecipientError struct {
	Address      string
	Code         int    // SMTP reply code, e.g. 550; 0 when the failure was not a reply
	EnhancedCode [3]int // e.g. {5, 1, 1}; zero when the server sent none
	Message      string // the server's text
}

// Error gives the address with the server's reply code, enhanced code and text.
func (e *RecipientError) Error() string {
	if e.Code == 0 {
		return fmt.Sprintf("<%s>: %s", e.Address, e.Message)
	}
	if e.EnhancedCode != [3]int{} {
		return fmt.Sprintf("<%s>: %d %d.%d.%d %s", e.Address, e.Code, e.EnhancedCode[0], e.EnhancedCode[1], e.EnhancedCode[2], e.Message)
	}
	return fmt.Sprintf("<%s>: %d %s", e.Address, e.Code, e.Message)
}

// Temporary reports whether the server's reply was a 4xx.
func (e *RecipientError) Temporary() bool { return e.Code >= 400 && e.Code < 500 }

// SendError is the outcome of a Send that did not deliver to every
// recipient. It mirrors JavaMail's SendFailedException, with one outcome
// more; every envelope recipient is in exactly one of the four lists:
//
//   - Sent: the server accepted the message for it (valid-sent). Never
//     send again.
//   - Rejected: the server refused it, each with its reply (invalid); a 4xx
//     may succeed later, a 5xx will not.
//   - Unsent: valid, but the transaction stopped before the message was
//     accepted (valid-unsent): a network failure, a 4xx or 5xx to DATA or
//     to the message, the ctx ending, another recipient refused with
//     sendpartial off. Nothing was delivered to it: sending again is safe.
//   - Uncertain: the end of the message (the final dot, or BDAT LAST) was
//     written and no reply came, so the server may have queued it. Sending
//     again may deliver it twice (with the same Message-ID); not sending
//     may lose it. The error then matches ErrUncertain and neither
//     ErrTemporary nor ErrPermanent.
//
// Err is the failure of the transaction as a whole, if any (a refused
// MAIL or DATA, a network error, a timeout, the ctx's end).
type SendError struct {
	Sent      []string
	Unsent    []string
	Uncertain []string
	Rejected  []*RecipientError
	Err       error
}

// Error summarises the failure, each refused recipient with its reply, and
// who did and did not receive the message.
func (e *SendError) Error() string {
	var b strings.Builder
	b.WriteString("mailsession: send failed")
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(innerText(e.Err))
	}
	if len(e.Rejected) > 0 {
		b.WriteString("; rejected ")
		for i, r := range e.Rejected {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(r.Error())
		}
	}
	if len(e.Sent) > 0 {
		fmt.Fprintf(&b, "; sent to %s", strings.Join(e.Sent, ", "))
	}
	if len(e.Uncertain) > 0 {
		fmt.Fprintf(&b, "; perhaps sent to %s (no reply to the end of the message)", strings.Join(e.Uncertain, ", "))
	}
	if len(e.Unsent) > 0 {
		fmt.Fprintf(&b, "; not sent to %s", strings.Join(e.Unsent, ", "))
		if e.Err == nil && len(e.Rejected) > 0 && len(e.Sent) == 0 {
			b.WriteString(" (a recipient was refused: nothing is sent unless mail.smtp.sendpartial=true)")
		}
	}
	return b.String()
}

// Unwrap gives errors.Is/As access to the cause of the transaction's
// failure (a *smtp.SMTPError reply, a network error, the ctx's error) and
// to every recipient error. Whether the whole is temporary, permanent or
// uncertain is SendError's own Is.
func (e *SendError) Unwrap() []error {
	var out []error
	if e.Err != nil {
		out = append(out, causeOf(e.Err))
	}
	for _, r := range e.Rejected {
		out = append(out, r)
	}
	return out
}

// causeOf strips the protocol steps from err: their classification must
// not stand in for SendError's.
func causeOf(err error) error {
	for {
		pe, ok := err.(*protocolError)
		if !ok {
			return err
		}
		err = pe.Err
	}
}

// Temporary reports whether retrying later may succeed and is safe: every
// failure is a 4xx reply, a timeout, a network error or the ctx's end, and
// no recipient is Uncertain.
func (e *SendError) Temporary() bool {
	if len(e.Uncertain) > 0 {
		return false
	}
	if e.Err != nil && !isTemporary(e.Err) {
		return false
	}
	for _, r := range e.Rejected {
		if !r.Temporary() {
			return false
		}
	}
	return e.Err != nil || len(e.Rejected) > 0
}

// Is matches ErrUncertain when a recipient is Uncertain; otherwise
// ErrTemporary or ErrPermanent as Temporary says.
func (e *SendError) Is(target error) bool {
	switch target {
	case ErrUncertain:
		return len(e.Uncertain) > 0
	case ErrTemporary:
		return e.Temporary()
	case ErrPermanent:
		return len(e.Uncertain) == 0 && !e.Temporary()
	}
	return false
}

// IsTemporary reports whether err is worth retrying later: a 4xx SMTP reply,
// a timeout or a network failure.
func IsTemporary(err error) bool { return errors.Is(err, ErrTemporary) || isTemporary(err) }

func isTemporary(err error) bool {
	if err == nil {
		return false
	}
	var se *SendError
	if errors.As(err, &se) {
		return se.Temporary()
	}
	var ce *ctxEndError
	if errors.As(err, &ce) {
		return true // the ctx ended or the session closed: not the message's fault
	}
	var smtpErr *smtp.SMTPError
	if errors.As(err, &smtpErr) {
		return smtpErr.Temporary()
	}
	var re *RecipientError
	if errors.As(err, &re) {
		return re.Temporary()
	}
	var te *tokenError
	if errors.As(err, &te) {
		return te.temporary // an OAuth2 token endpoint that could not be reached
	}
	if errors.Is(err, ErrPermanent) || errors.Is(err, ErrInvalidMessage) || errors.Is(err, ErrAuth) ||
		errors.Is(err, ErrInsecureAuth) || errors.Is(err, ErrTLSRequired) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	// A connection that died mid-conversation: the server restarted, a
	// middlebox dropped it. Worth retrying.
	return errors.Is(err, errConnLost) || errors.Is(err, errReplyTooLong) || errors.Is(err, errOutOfStep) ||
		errors.Is(err, errBadReply) || errors.Is(err, errDataAfterSTARTTLS) || errors.Is(err, errSpool) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNABORTED)
}

// errConnLost marks a connection that died mid-conversation.
var errConnLost = errors.New("connection lost")

// protocolError wraps an error of one step of a protocol conversation with
// the step and the server, so the message says where it failed.
type protocolError struct {
	Op   string // "dial", "EHLO", "STARTTLS", "AUTH", "MAIL FROM", "RCPT TO", "DATA", ...
	Addr string
	Err  error
	// uncertain: the step was waiting for the reply to the end of a
	// message (see ErrUncertain).
	uncertain bool
}

func (e *protocolError) Error() string {
	return fmt.Sprintf("mailsession: %s %s: %s", e.Op, e.Addr, innerText(e.Err))
}

func (e *protocolError) Unwrap() error { return e.Err }

// Is makes temporary protocol errors match ErrTemporary and 5xx ones
// ErrPermanent; an uncertain one matches only ErrUncertain.
func (e *protocolError) Is(target error) bool {
	switch target {
	case ErrUncertain:
		return e.uncertain
	case ErrTemporary:
		return !e.uncertain && isTemporary(e.Err)
	case ErrPermanent:
		if e.uncertain {
			return false
		}
		var smtpErr *smtp.SMTPError
		return errors.As(e.Err, &smtpErr) && !smtpErr.Temporary() || errors.Is(e.Err, ErrPermanent)
	}
	return false
}
