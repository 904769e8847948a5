package imapstore

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// maxPreTLSLine is the longest greeting or STARTTLS response line read
// before TLS.
const maxPreTLSLine = 16 << 10

// startTLS reads the greeting on conn, sends STARTTLS and, when the server
// agrees, makes the TLS handshake. On a NO or BAD (an *imap.Error, see
// isRefusal) it returns the greeting line, CRLF included, so that the
// conversation can go on in clear text; nothing was read after the
// tagged reply then.
//
// imapclient would do this itself (NewStartTLS), but it keeps the TLS
// connection to itself: we need it for the channel binding data of SCRAM
// -PLUS and to stand above TLS (authConn).
func startTLS(ctx context.Context, conn net.Conn, cfg *tls.Config) (*tls.Conn, []byte, error) {
	br := bufio.NewReaderSize(conn, 4096)
	greeting, err := readPreTLSLine(br)
	if err != nil {
		return nil, nil, fmt.Errorf("greeting: %w", err)
	}
	switch g := strings.ToUpper(string(greeting)); {
	case strings.HasPrefix(g, "* PREAUTH"):
		// RFC 9051, 7.1.4: no STARTTLS after PREAUTH; refuse, as
		// imapclient does.
		return nil, nil, errors.New("server sent PREAUTH on an unencrypted connection")
	case strings.HasPrefix(g, "* BYE"):
		return nil, nil, fmt.Errorf("server refused the connection: %s", printableLine(greeting))
	case !strings.HasPrefix(g, "* OK"):
		return nil, nil, fmt.Errorf("malformed greeting: %s", printableLine(greeting))
	}
	const tag = "S0"
	if _, err := io.WriteString(conn, tag+" STARTTLS\r\n"); err != nil {
		return nil, nil, err
	}
	for {
		line, err := readPreTLSLine(br)
		if err != nil {
			return nil, nil, err
		}
		rest, ok := strings.CutPrefix(string(line), tag+" ")
		if !ok {
			continue // an untagged response (CAPABILITY, ...)
		}
		status, text, _ := strings.Cut(strings.TrimRight(rest, "\r\n"), " ")
		switch strings.ToUpper(status) {
		case "OK":
		case "NO", "BAD":
			typ := imap.StatusResponseTypeNo
			if strings.EqualFold(status, "BAD") {
				typ = imap.StatusResponseTypeBad
			}
			if br.Buffered() > 0 {
				return nil, nil, errors.New("server sent more after refusing STARTTLS")
			}
			return nil, greeting, &imap.Error{Type: typ, Text: printableLine([]byte(text))}
		default:
			return nil, nil, fmt.Errorf("malformed STARTTLS reply: %s", printableLine(line))
		}
		break
	}
	if br.Buffered() > 0 {
		// Data after the OK, before the handshake, would be read as if it
		// came over TLS (the STARTTLS command injection of CVE-2011-0411's
		// kind): refuse it.
		return nil, nil, errors.New("server sent data after STARTTLS's OK, before the TLS handshake")
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return tc, nil, nil
}

// readPreTLSLine reads a line, CRLF included, of at most maxPreTLSLine
// bytes.
func readPreTLSLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxPreTLSLine {
			return nil, fmt.Errorf("line longer than %d bytes", maxPreTLSLine)
		}
		switch {
		case err == nil:
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return nil, io.ErrUnexpectedEOF
		default:
			return nil, err
		}
	}
}

// printableLine is a server line fit for an error: without its line end,
// control characters replaced, cut at 200 bytes.
func printableLine(b []byte) string {
	b = bytes.TrimRight(b, "\r\n")
	if len(b) > 200 {
		b = b[:200]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, string(b))
}
