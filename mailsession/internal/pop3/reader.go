package pop3

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// dotReader reads the body of a multi-line response (RFC 1939 section 3)
// from br: it removes the leading '.' of dot-stuffed lines, stops at the
// terminating ".", and passes every other byte through unchanged, lines of
// any length included. It holds no more than br's buffer, however long the
// message (knadh/go-pop3 gets all three wrong: defects (a), (b) and (e)).
type dotReader struct {
	br      *bufio.Reader
	pending []byte // unread part of the current line, inside br's buffer
	atStart bool   // the next byte begins a line
	done    bool   // the terminator has been read
	err     error  // sticky read error
	// expect is the size the server announced ("+OK 1234 octets"), -1 when
	// unknown; n counts the bytes handed out.
	expect, n int64
}

func newDotReader(br *bufio.Reader) *dotReader { return &dotReader{br: br, atStart: true, expect: -1} }

// errUnterminated is a multi-line response cut off before its terminator.
var errUnterminated = fmt.Errorf("pop3: connection ended inside a multi-line response: %w", io.ErrUnexpectedEOF)

func (d *dotReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(d.pending) == 0 {
			if d.done {
				return n, io.EOF
			}
			if d.err != nil {
				return n, d.err
			}
			if n > 0 && d.br.Buffered() == 0 {
				return n, nil // don't block while holding data for the caller
			}
			d.fill()
			continue
		}
		c := copy(p[n:], d.pending)
		d.pending = d.pending[c:]
		n += c
		d.n += int64(c)
	}
	return n, nil
}

// fill reads the next piece of a line into pending, or notes the end.
func (d *dotReader) fill() {
	if d.atStart {
		b, err := d.br.Peek(1)
		if err != nil {
			d.setErr(err)
			return
		}
		if b[0] == '.' {
			if b, err = d.br.Peek(2); err != nil {
				d.setErr(err)
				return
			}
			switch {
			case b[1] == '\n': // ".\n": a terminator from a bare-LF server
				d.br.Discard(2)
				d.done = true
				return
			case b[1] == '\r':
				if b, err = d.br.Peek(3); err != nil {
					d.setErr(err)
					return
				}
				if b[2] == '\n' {
					d.br.Discard(3)
					d.done = true
					return
				}
			}
			d.br.Discard(1) // dot-stuffed: drop the added '.'
		}
	}
	line, err := d.br.ReadSlice('\n')
	switch {
	case err == nil && d.atStart && d.n == d.expect && string(line) == "\r\n":
		// The message had its announced size before this empty line: if
		// the terminator follows, the line is not part of the message.
		// Mailpit's POP3 server sends such an extra CRLF before the
		// terminator of a message that ends with CRLF; trust its count.
		if b, perr := d.br.Peek(3); perr == nil && string(b) == ".\r\n" {
			d.br.Discard(3)
			d.done = true
			return
		}
		d.atStart = true
	case err == nil:
		d.atStart = true
	case errors.Is(err, bufio.ErrBufferFull):
		d.atStart = false // a long line: the rest follows, nothing inserted
	default:
		d.pending = line
		d.setErr(err)
		return
	}
	d.pending = line
}

func (d *dotReader) setErr(err error) {
	if errors.Is(err, io.EOF) {
		err = errUnterminated
	}
	if d.err == nil {
		d.err = err
	}
}

// drain discards the rest of the response so the connection can carry the
// next command.
func (d *dotReader) drain() error {
	d.pending = nil
	for !d.done {
		if d.err != nil {
			return d.err
		}
		d.fill()
		d.pending = nil
	}
	return nil
}

// lines reads a whole (short) multi-line response such as CAPA, LIST or
// UIDL into lines without their line ends. Each line may be at most
// maxLine bytes; the response at most maxLines lines.
func (d *dotReader) lines(maxLines int) ([]string, error) {
	sc := bufio.NewScanner(d)
	sc.Buffer(make([]byte, 0, 512), maxLine)
	var out []string
	for sc.Scan() {
		if len(out) == maxLines {
			return nil, fmt.Errorf("pop3: more than %d lines in a listing", maxLines)
		}
		line := sc.Text()
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
