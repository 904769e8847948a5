// Package pop3 is the POP3 client behind mailsession's Store (RFC 1939, CAPA
// RFC 2449, STLS RFC 2595, AUTH RFC 5034, response codes RFC 3206).
//
// It is built on github.com/knadh/go-pop3 v1.0.0 for what that library does
// correctly, and owns the rest:
//
//   - go-pop3 (through its Opt.Dialer hook, which receives the connection we
//     dialled, with our deadlines and TLS): reading the greeting, and the
//     single-line commands whose argument is a number or nothing and whose
//     reply we only need to tell +OK from -ERR: NOOP, DELE, RSET, QUIT.
//   - ours: everything whose defects in go-pop3 cannot be fixed from outside.
//     (a) it does not dot-unstuff multi-line responses and (b) splits lines
//     longer than its 4 KB buffer with an inserted CRLF, so RETR and TOP are
//     ours (dotReader); (e) it buffers whole messages, so ours stream;
//     (f) its Stat panics on a bare "+OK" and its List/Uidl index fields
//     without checking, so STAT, LIST and UIDL are ours; (g) it passes CR/LF
//     in User/Pass to the wire, so USER, PASS and AUTH are ours, with every
//     argument validated; (c) it has neither CAPA nor STLS; (d) it sets no
//     deadline after dialling, which deadlineConn fixes for its I/O too;
//     (h) its errors are plain strings, so ours are *ProtocolError and its
//     errors are converted.
//
// A Client is not safe for concurrent use.
package pop3

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emersion/go-sasl"
	gopop3 "github.com/knadh/go-pop3"
)

const (
	maxLine      = 64 << 10 // longest status or listing line we accept
	maxListLines = 10 << 20 // most messages in a LIST/UIDL answer
	maxArg       = 1000     // longest command argument we send (RFC 2449 says 255 octets per line; servers accept more)
	// DefaultTimeout is the read and write timeout when Options leaves it 0.
	DefaultTimeout = 60 * time.Second
)

// Options configure a Client.
type Options struct {
	ReadTimeout  time.Duration // per read; 0: DefaultTimeout
	WriteTimeout time.Duration // per write; 0: DefaultTimeout
	// TLS says that the connection is already encrypted (implicit TLS).
	TLS bool
	// Logger receives a protocol trace at debug level (commands, never
	// their secret arguments). Nil: no trace.
	Logger *slog.Logger
}

// Client is one POP3 connection.
type Client struct {
	dc      *deadlineConn
	br      *bufio.Reader
	lib     *gopop3.Conn
	log     *slog.Logger
	tls     bool
	reading *msgReader  // open Retr/Top reader
	broken  error       // set once the connection is unusable
	closed  atomic.Bool // Close was called (from any goroutine)
}

// NewClient takes over conn, a connection to a POP3 server (already in TLS
// for pop3s), and reads the greeting. ctx bounds the greeting: when it ends
// the connection is closed. On error conn is closed.
func NewClient(ctx context.Context, conn net.Conn, opt Options) (*Client, error) {
	if opt.ReadTimeout <= 0 {
		opt.ReadTimeout = DefaultTimeout
	}
	if opt.WriteTimeout <= 0 {
		opt.WriteTimeout = DefaultTimeout
	}
	dc := &deadlineConn{c: conn, readTimeout: opt.ReadTimeout, writeTimeout: opt.WriteTimeout}
	_, isTLS := conn.(*tls.Conn)
	c := &Client{dc: dc, br: bufio.NewReaderSize(dc, 32<<10), log: opt.Logger, tls: isTLS || opt.TLS}
	stop := context.AfterFunc(ctx, func() { dc.Close() })
	defer stop()
	// go-pop3 dials through our hook and reads the greeting. Host and
	// Port are only used to build the address passed to the hook.
	lib, err := gopop3.New(gopop3.Opt{Host: "server", Port: 110, Dialer: oneConnDialer{dc}}).NewConn()
	if err != nil {
		dc.Close()
		return nil, c.convert(ctx, "greeting", err)
	}
	c.lib = lib
	c.trace("S: greeting")
	return c, nil
}

// TLS reports whether the connection is encrypted.
func (c *Client) TLS() bool { return c.tls }

func (c *Client) trace(msg string, args ...any) {
	if c.log != nil {
		c.log.Debug("pop3 "+msg, args...)
	}
}

// begin checks that a command may be issued and ties the connection to ctx
// until end is called with the command's error.
func (c *Client) begin(ctx context.Context) (end func(cmd string, err error) error, err error) {
	if c.broken != nil {
		return nil, fmt.Errorf("%w: %v", ErrClosed, c.broken)
	}
	if c.closed.Load() {
		return nil, ErrClosed
	}
	if c.reading != nil {
		return nil, ErrBusy
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { c.dc.Close() })
	return func(cmd string, err error) error {
		if !stop() {
			err = c.fail(ctx.Err(), err)
			return fmt.Errorf("pop3: %s: %w", cmd, err)
		}
		if err != nil && !isReply(err) {
			c.fail(err, nil)
			return fmt.Errorf("pop3: %s: %w", cmd, err)
		}
		return err
	}, nil
}

// fail marks the connection unusable and closes it. It returns cause,
// joined with err when err says more.
func (c *Client) fail(cause, err error) error {
	if c.broken == nil {
		c.broken = cause
		c.dc.Close()
	}
	if err != nil && !errors.Is(err, cause) && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("%w (%v)", cause, err)
	}
	return cause
}

// isReply reports whether err is a server reply (the connection is fine)
// or a local refusal before anything was sent.
func isReply(err error) bool {
	var pe *ProtocolError
	return (errors.As(err, &pe) && !pe.Malformed) || errors.Is(err, ErrInvalidArgument) || errors.Is(err, ErrNoSTLS) || errors.Is(err, ErrAuth)
}

// convert turns an error of go-pop3 into ours. go-pop3 returns I/O errors
// as they are and replies as errors.New(text after "-ERR ") (defect (h)).
func (c *Client) convert(ctx context.Context, cmd string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded) || strings.HasPrefix(err.Error(), "tls:") {
		return err
	}
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "unknown response: "):
		return &ProtocolError{Command: cmd, Text: truncate(strings.TrimSuffix(strings.TrimPrefix(msg, "unknown response: "), ". Neither -ERR, nor +OK")), Malformed: true}
	case msg == "unknown error (no info specified in response)":
		return errReply(cmd, "")
	}
	return errReply(cmd, msg)
}

// send writes one command line. args are validated first: nothing is sent
// when one holds CR, LF or NUL, is empty or too long (defect (g)).
func (c *Client) send(verb string, args ...string) error {
	line := verb
	for _, a := range args {
		if err := checkArg(a); err != nil {
			return fmt.Errorf("%w: %s argument: %v", ErrInvalidArgument, verb, err)
		}
		line += " " + a
	}
	if verb == "PASS" {
		c.trace("C: PASS <redacted>")
	} else {
		c.trace("C: " + line)
	}
	_, err := io.WriteString(c.dc, line+"\r\n")
	return err
}

func checkArg(a string) error {
	if a == "" {
		return errors.New("empty")
	}
	if len(a) > maxArg {
		return fmt.Errorf("longer than %d bytes", maxArg)
	}
	if strings.ContainsAny(a, "\r\n\x00") {
		return errors.New("contains CR, LF or NUL")
	}
	return nil
}

// readLine reads one response line, of any length up to maxLine, without
// its line end.
func (c *Client) readLine() ([]byte, error) {
	var line []byte
	for {
		chunk, err := c.br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxLine {
			return nil, &ProtocolError{Command: "reply", Text: truncate(string(line)), Malformed: true}
		}
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// cmd sends a command and reads its status line; it returns the text after
// +OK.
func (c *Client) cmd(verb string, args ...string) (string, error) {
	if err := c.send(verb, args...); err != nil {
		return "", err
	}
	line, err := c.readLine()
	if err != nil {
		return "", err
	}
	_, text, err := parseStatus(verb, line)
	return text, err
}

// Capabilities sends CAPA and returns the capability lines by upper-case
// name, each with its arguments. A server without CAPA (-ERR) yields an
// empty map and no error.
func (c *Client) Capabilities(ctx context.Context) (Caps, error) {
	end, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	caps, err := c.capa()
	return caps, end("CAPA", err)
}

func (c *Client) capa() (Caps, error) {
	if _, err := c.cmd("CAPA"); err != nil {
		if isReply(err) {
			return Caps{}, nil
		}
		return nil, err
	}
	lines, err := newDotReader(c.br).lines(1000)
	if err != nil {
		return nil, err
	}
	caps := Caps{}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) > 0 {
			caps[strings.ToUpper(f[0])] = f[1:]
		}
	}
	return caps, nil
}

// Caps are the capabilities a server announced with CAPA.
type Caps map[string][]string

// Has reports whether the capability name is announced.
func (c Caps) Has(name string) bool { _, ok := c[strings.ToUpper(name)]; return ok }

// SASL returns the SASL mechanisms announced.
func (c Caps) SASL() []string { return c["SASL"] }

// StartTLS sends STLS and, on +OK, hands the connection to upgrade, which
// returns it wrapped in TLS with the handshake done. A server that answers
// -ERR yields ErrNoSTLS (the connection stays usable in clear).
func (c *Client) StartTLS(ctx context.Context, upgrade func(ctx context.Context, conn net.Conn) (net.Conn, error)) error {
	end, err := c.begin(ctx)
	if err != nil {
		return err
	}
	if c.tls {
		return end("STLS", errors.New("TLS already active"))
	}
	if _, err := c.cmd("STLS"); err != nil {
		if isReply(err) {
			err = fmt.Errorf("%w: %v", ErrNoSTLS, err)
		}
		return end("STLS", err)
	}
	if c.br.Buffered() > 0 {
		// Bytes after the +OK and before the handshake would be read as
		// if they came over TLS: a plaintext injection (RFC 2595 sec. 3.1).
		return end("STLS", &ProtocolError{Command: "STLS", Text: "data after the STLS reply", Malformed: true})
	}
	tc, err := upgrade(ctx, c.dc.conn())
	if err != nil {
		return end("STLS", err)
	}
	c.dc.swap(tc)
	c.tls = true
	c.trace("TLS active")
	return end("STLS", nil)
}

// Login authenticates with USER and PASS.
func (c *Client) Login(ctx context.Context, user, password string) error {
	if err := checkArg(user); err != nil {
		return fmt.Errorf("%w: user name: %v", ErrInvalidArgument, err)
	}
	if err := checkArg(password); err != nil {
		return fmt.Errorf("%w: password: %v", ErrInvalidArgument, err)
	}
	end, err := c.begin(ctx)
	if err != nil {
		return err
	}
	if _, err := c.cmd("USER", user); err != nil {
		return end("USER", err)
	}
	_, err = c.cmd("PASS", password)
	return end("PASS", err)
}

// Authenticate runs AUTH with the SASL client (RFC 5034), sending its
// initial response on the AUTH line, or after the server's "+" when the
// line would be longer than 255 octets (RFC 5034, 4). An empty response
// after "+" is an empty line; an empty initial response on the AUTH line
// is "=".
func (c *Client) Authenticate(ctx context.Context, sc sasl.Client) error {
	return c.authenticate(ctx, sc, false)
}

// AuthenticateTwoLine is Authenticate with the initial response always
// sent after the server's first "+", never on the AUTH line: Microsoft's
// two-line form of XOAUTH2 over POP3 ("AUTH XOAUTH2", "+", the response).
func (c *Client) AuthenticateTwoLine(ctx context.Context, sc sasl.Client) error {
	return c.authenticate(ctx, sc, true)
}

// maxAuthLine is the longest AUTH command line, CRLF included, that
// carries its initial response (RFC 5034, 4: a longer one is sent after the
// server's "+"; RFC 2449 limits command lines to 255 octets).
const maxAuthLine = 255

func (c *Client) authenticate(ctx context.Context, sc sasl.Client, twoLine bool) error {
	mech, ir, err := sc.Start()
	if err != nil {
		return fmt.Errorf("pop3: AUTH: %w", err)
	}
	end, err := c.begin(ctx)
	if err != nil {
		return err
	}
	args := []string{mech}
	var later *string // the initial response, sent after the first "+"
	if ir != nil {
		s := base64.StdEncoding.EncodeToString(ir)
		if twoLine || len("AUTH ")+len(mech)+1+len(s)+2 > maxAuthLine {
			later = &s // an empty one is an empty line there
		} else {
			if s == "" {
				s = "="
			}
			args = append(args, s)
		}
	}
	if err := c.sendSecret("AUTH", args...); err != nil {
		return end("AUTH", err)
	}
	for {
		line, err := c.readLine()
		if err != nil {
			return end("AUTH", err)
		}
		if s := string(line); s == "+" || strings.HasPrefix(s, "+ ") {
			if later != nil {
				// The server's "+" asks for the initial response; what
				// it says with it (nothing, normally) is not a challenge.
				resp := *later
				later = nil
				if err := c.sendRaw(resp); err != nil {
					return end("AUTH", err)
				}
				continue
			}
			chal, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(s[1:]))
			var resp []byte
			if derr == nil {
				resp, derr = sc.Next(chal)
			}
			if derr != nil {
				// Cancel the exchange; the server answers -ERR.
				if err := c.sendRaw("*"); err != nil {
					return end("AUTH", err)
				}
				if _, err := c.readLine(); err != nil {
					return end("AUTH", err)
				}
				return end("AUTH", fmt.Errorf("%w: %v", ErrAuth, derr))
			}
			if err := c.sendRaw(base64.StdEncoding.EncodeToString(resp)); err != nil {
				return end("AUTH", err)
			}
			continue
		}
		_, _, err = parseStatus("AUTH", line)
		return end("AUTH", err)
	}
}

// sendSecret is send with the arguments kept out of the trace.
func (c *Client) sendSecret(verb string, args ...string) error {
	for _, a := range args {
		if strings.ContainsAny(a, "\r\n\x00") || len(a) > maxLine {
			return fmt.Errorf("%w: %s argument", ErrInvalidArgument, verb)
		}
	}
	if len(args) == 1 {
		c.trace("C: " + verb + " " + args[0])
	} else {
		c.trace("C: " + verb + " " + args[0] + " <redacted>")
	}
	_, err := io.WriteString(c.dc, verb+" "+strings.Join(args, " ")+"\r\n")
	return err
}

// sendRaw sends an AUTH continuation line (base64 or "*").
func (c *Client) sendRaw(s string) error {
	c.trace("C: <AUTH response redacted>")
	_, err := io.WriteString(c.dc, s+"\r\n")
	return err
}

// Stat returns the number of messages and their total size. Ours: go-pop3's
// Stat panics on a bare "+OK" (defect (f)).
func (c *Client) Stat(ctx context.Context) (count int, size int64, err error) {
	end, err := c.begin(ctx)
	if err != nil {
		return 0, 0, err
	}
	text, err := c.cmd("STAT")
	if err != nil {
		return 0, 0, end("STAT", err)
	}
	f := strings.Fields(text)
	if len(f) < 2 {
		return 0, 0, end("STAT", &ProtocolError{Command: "STAT", Text: truncate("+OK " + text), Malformed: true})
	}
	n, err1 := strconv.Atoi(f[0])
	sz, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil || n < 0 || sz < 0 {
		return 0, 0, end("STAT", &ProtocolError{Command: "STAT", Text: truncate("+OK " + text), Malformed: true})
	}
	return n, sz, end("STAT", nil)
}

// Item is one line of a LIST or UIDL answer.
type Item struct {
	Num  int    // message number in this session, 1..N
	Size int64  // from LIST
	UID  string // from UIDL
}

// List sends LIST and returns each message's number and size.
func (c *Client) List(ctx context.Context) ([]Item, error) {
	return c.listing(ctx, "LIST", func(it *Item, f string) error {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil || n < 0 {
			return errors.New("bad size")
		}
		it.Size = n
		return nil
	})
}

// UIDL sends UIDL and returns each message's number and unique id.
func (c *Client) UIDL(ctx context.Context) ([]Item, error) {
	return c.listing(ctx, "UIDL", func(it *Item, f string) error {
		if len(f) > 70 {
			return errors.New("unique id longer than 70 characters")
		}
		it.UID = f
		return nil
	})
}

func (c *Client) listing(ctx context.Context, verb string, second func(*Item, string) error) ([]Item, error) {
	end, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := c.cmd(verb); err != nil {
		return nil, end(verb, err)
	}
	lines, err := newDotReader(c.br).lines(maxListLines)
	if err != nil {
		return nil, end(verb, err)
	}
	items := make([]Item, 0, len(lines))
	for _, l := range lines {
		f := strings.Fields(l)
		var it Item
		var perr error
		if len(f) < 2 {
			perr = errors.New("missing field")
		} else if it.Num, perr = strconv.Atoi(f[0]); perr == nil && it.Num > 0 {
			perr = second(&it, f[1])
		} else if perr == nil {
			perr = errors.New("bad message number")
		}
		if perr != nil {
			return nil, end(verb, &ProtocolError{Command: verb, Text: truncate(l), Malformed: true})
		}
		items = append(items, it)
	}
	return items, end(verb, nil)
}

// Retr sends RETR n and returns the message as a stream of its exact bytes
// (dot-unstuffed, lines whole, never buffered whole). The reader must be
// closed before the next command; Close discards what was not read. ctx
// bounds the whole read, until Close.
func (c *Client) Retr(ctx context.Context, n int) (io.ReadCloser, error) {
	return c.multi(ctx, "RETR", strconv.Itoa(n))
}

// Top sends TOP n lines: the header and the first lines of the body.
func (c *Client) Top(ctx context.Context, n, lines int) (io.ReadCloser, error) {
	return c.multi(ctx, "TOP", strconv.Itoa(n), strconv.Itoa(lines))
}

func (c *Client) multi(ctx context.Context, verb string, args ...string) (io.ReadCloser, error) {
	end, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	text, err := c.cmd(verb, args...)
	if err != nil {
		return nil, end(verb, err)
	}
	d := newDotReader(c.br)
	if f := strings.Fields(text); verb == "RETR" && len(f) >= 2 && strings.EqualFold(f[1], "octets") {
		if n, err := strconv.ParseInt(f[0], 10, 64); err == nil && n >= 0 {
			d.expect = n
		}
	}
	r := &msgReader{c: c, d: d, end: end, verb: verb}
	c.reading = r
	return r, nil
}

// msgReader is the open body of a RETR or TOP.
type msgReader struct {
	c      *Client
	d      *dotReader
	end    func(string, error) error
	verb   string
	err    error
	closed bool
}

func (r *msgReader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, ErrClosed
	}
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.d.Read(p)
	if err != nil && err != io.EOF {
		r.err = r.finish(err)
		return n, r.err
	}
	if err == io.EOF {
		r.err = io.EOF
		r.finish(nil)
	}
	return n, err
}

// finish releases the connection for the next command once.
func (r *msgReader) finish(err error) error {
	if r.c.reading != r {
		return err
	}
	r.c.reading = nil
	return r.end(r.verb, err)
}

// Close discards the rest of the message and frees the connection.
func (r *msgReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.c.reading != r {
		if r.err == io.EOF {
			return nil
		}
		return r.err
	}
	return r.finish(r.d.drain())
}

// Noop sends NOOP (go-pop3).
func (c *Client) Noop(ctx context.Context) error {
	end, err := c.begin(ctx)
	if err != nil {
		return err
	}
	c.trace("C: NOOP")
	return end("NOOP", c.convert(ctx, "NOOP", c.lib.Noop()))
}

// Dele marks message n deleted (go-pop3). The server removes it at QUIT.
func (c *Client) Dele(ctx context.Context, n int) error {
	end, err := c.begin(ctx)
	if err != nil {
		return err
	}
	c.trace("C: DELE " + strconv.Itoa(n))
	return end("DELE", c.convert(ctx, "DELE", c.lib.Dele(n)))
}

// Rset unmarks every message marked deleted (go-pop3).
func (c *Client) Rset(ctx context.Context) error {
	end, err := c.begin(ctx)
	if err != nil {
		return err
	}
	c.trace("C: RSET")
	return end("RSET", c.convert(ctx, "RSET", c.lib.Rset()))
}

// Quit sends QUIT (go-pop3): the server commits the deletions and the
// connection is closed. A -ERR reply means the deletions were not all
// committed.
func (c *Client) Quit(ctx context.Context) error {
	end, err := c.begin(ctx)
	if err != nil {
		return err
	}
	c.trace("C: QUIT")
	err = end("QUIT", c.convert(ctx, "QUIT", c.lib.Quit()))
	c.fail(ErrClosed, nil)
	return err
}

// Close closes the connection without QUIT: deletions are not committed.
// Unlike the other methods it may be called from another goroutine, to
// abandon a command or a message being read.
func (c *Client) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	return c.dc.Close()
}
