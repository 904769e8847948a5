package mailsession

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/emersion/go-smtp"
)

// Limits on what an SMTP server may send. RFC 5321 caps a reply line at
// 512 octets; these are generous, and only stop a broken or hostile server
// from making the client buffer without end.
const (
	maxReplyLine  = 64 << 10  // one reply line
	maxReplyBytes = 256 << 10 // one whole (multi-line) reply
)

// errReplyTooLong is a reply beyond maxReplyLine or maxReplyBytes: the
// connection cannot be trusted to be in step any more.
var errReplyTooLong = fmt.Errorf("server reply longer than %d bytes per line or %d in all", maxReplyLine, maxReplyBytes)

// errBadReply is a reply that is not SMTP (no three-digit code, mixed
// codes in one multi-line reply).
var errBadReply = errors.New("malformed server reply")

// smtpWire is the only reader and writer of an SMTP connection: every
// reply, from the greeting to QUIT's, is read through its one buffered
// reader, so nothing the server sent can be lost between two readers.
type smtpWire struct {
	r    *bufio.Reader
	w    *bufio.Writer
	text []byte // the last reply's text, reused
	num  []byte // scratch for numbers written
}

// reply is one SMTP reply: its code and its text, the lines joined with
// "\n" (the code and separator stripped from each). text is valid until
// the next reply is read.
type reply struct {
	code int
	text []byte
}

// msg is the reply's text as a string.
func (r reply) msg() string { return string(r.text) }

func newSMTPWire(rw io.ReadWriter) *smtpWire {
	return &smtpWire{r: bufio.NewReaderSize(rw, 4096), w: bufio.NewWriterSize(rw, 8192)}
}

// errDataAfterSTARTTLS is the server sending more than its 220 reply to
// STARTTLS before the handshake: bytes that would be taken as coming over
// TLS although they did not (a command-injection attack, CVE-2011-0411).
var errDataAfterSTARTTLS = errors.New("server sent data after its STARTTLS reply, before the TLS handshake")

// readyForTLS reports errDataAfterSTARTTLS when the server sent anything
// after its reply to STARTTLS.
func (w *smtpWire) readyForTLS() error {
	if w.r.Buffered() > 0 {
		return errDataAfterSTARTTLS
	}
	return nil
}

// upgrade moves the reader and writer onto rw, the connection after the
// TLS handshake.
func (w *smtpWire) upgrade(rw io.ReadWriter) {
	w.r.Reset(rw)
	w.w.Reset(rw)
}

// command queues one command line (without CRLF); flush sends it.
func (w *smtpWire) command(line string) {
	w.w.WriteString(line)
	w.w.WriteString("\r\n")
}

// commandNum queues prefix, n and suffix as one command line.
func (w *smtpWire) commandNum(prefix string, n int, suffix string) {
	w.w.WriteString(prefix)
	w.num = strconv.AppendInt(w.num[:0], int64(n), 10)
	w.w.Write(w.num)
	w.w.WriteString(suffix)
	w.w.WriteString("\r\n")
}

func (w *smtpWire) flush() error { return w.w.Flush() }

// roundTrip sends one command and reads its reply.
func (w *smtpWire) roundTrip(line string) (reply, error) {
	w.command(line)
	if err := w.flush(); err != nil {
		return reply{}, err
	}
	return w.readReply()
}

// readReply reads one complete reply ("250-a", "250-b", "250 c"). A bare
// code and an empty last line ("250 ", as Postfix's smtp-sink sends) are
// accepted.
func (w *smtpWire) readReply() (reply, error) {
	w.text = w.text[:0]
	code := 0
	for total := 0; ; {
		line, err := w.readLine()
		if err != nil {
			return reply{}, err
		}
		total += len(line)
		if total > maxReplyBytes {
			return reply{}, errReplyTooLong
		}
		c, more, text, ok := parseReplyLine(line)
		if !ok || (code != 0 && c != code) {
			return reply{}, fmt.Errorf("%w: %q", errBadReply, truncate(string(line), 80))
		}
		if code != 0 {
			w.text = append(w.text, '\n')
		}
		code = c
		w.text = append(w.text, text...)
		if !more {
			return reply{code: code, text: w.text}, nil
		}
	}
}

// readLine reads a line up to maxReplyLine bytes, without its line end.
// The line is valid until the next read.
func (w *smtpWire) readLine() ([]byte, error) {
	var long []byte
	for {
		frag, err := w.r.ReadSlice('\n')
		if err == nil {
			if long != nil {
				frag = append(long, frag...)
			}
			if len(frag) > maxReplyLine {
				return nil, errReplyTooLong
			}
			return bytes.TrimRight(frag, "\r\n"), nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF // the server closed the connection
			}
			return nil, err
		}
		long = append(long, frag...)
		if len(long) > maxReplyLine {
			return nil, errReplyTooLong
		}
	}
}

// parseReplyLine splits "250-text" or "250 text" (or "250").
func parseReplyLine(line []byte) (code int, more bool, text []byte, ok bool) {
	if len(line) < 3 {
		return 0, false, nil, false
	}
	for _, c := range line[:3] {
		if c < '0' || c > '9' {
			return 0, false, nil, false
		}
		code = code*10 + int(c-'0')
	}
	if code < 100 || code > 599 {
		return 0, false, nil, false
	}
	if len(line) == 3 {
		return code, false, nil, true
	}
	switch line[3] {
	case '-':
		return code, true, line[4:], true
	case ' ':
		return code, false, line[4:], true
	}
	return 0, false, nil, false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// replyError turns an SMTP reply into a *smtp.SMTPError, splitting the
// enhanced status code (RFC 3463) from the text.
func replyError(code int, msg string) *smtp.SMTPError {
	e := &smtp.SMTPError{Code: code, Message: msg}
	first, rest, ok := strings.Cut(msg, " ")
	if !ok {
		return e
	}
	parts := strings.Split(first, ".")
	if len(parts) != 3 {
		return e
	}
	var ec smtp.EnhancedCode
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return e
		}
		ec[i] = n
	}
	e.EnhancedCode = ec
	e.Message = strings.ReplaceAll(rest, "\n"+first+" ", "\n")
	return e
}

func (r reply) err() *smtp.SMTPError { return replyError(r.code, r.msg()) }
