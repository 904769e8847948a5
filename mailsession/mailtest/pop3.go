package mailtest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
)

// pop3Server is a POP3 server (RFC 1939, CAPA from RFC 2449, STLS from RFC
// 2595) over the shared mailboxes.
type pop3Server struct {
	s     *Server
	conns connSet
}

func newPOP3Server(s *Server) *pop3Server { return &pop3Server{s: s} }

func (ps *pop3Server) close() { ps.conns.closeAll() }

func (ps *pop3Server) serve(ln net.Listener, implicitTLS bool) {
	ps.s.accept(ln, &ps.conns, implicitTLS, func(c net.Conn, fc *faultConn) {
		p := &pop3Conn{ps: ps, fc: fc, implicitTLS: implicitTLS}
		p.setConn(c)
		defer p.unlock()
		if err := p.run(); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
			ps.s.log.Debug("pop3 connection ended", "err", err)
		}
	})
}

const (
	pop3Timeout     = 10 * time.Minute // RFC 1939 autologout
	pop3MaxLine     = 4096
	pop3Greeting    = "+OK mailtest POP3 server ready"
	pop3UnknownUser = "-ERR [AUTH] Invalid login or password"
)

// pop3Message is a message of the maildrop as seen by one session.
type pop3Message struct {
	uid     imap.UID
	data    []byte
	deleted bool
}

type pop3Conn struct {
	ps          *pop3Server
	fc          *faultConn
	conn        net.Conn
	r           *bufio.Reader
	w           *bufio.Writer
	implicitTLS bool
	tlsDone     bool

	user   string // after USER
	mb     *mailbox
	locked bool
	msgs   []pop3Message
	uidv   uint32
}

func (p *pop3Conn) setConn(c net.Conn) {
	p.conn = c
	p.r = bufio.NewReader(c)
	p.w = bufio.NewWriter(c)
}

// unlock releases the maildrop lock, without applying deletions.
func (p *pop3Conn) unlock() {
	if p.locked {
		p.mb.pop3Lock.Lock()
		p.mb.pop3Busy = false
		p.mb.pop3Lock.Unlock()
		p.locked = false
	}
}

func (p *pop3Conn) reply(format string, args ...any) error {
	p.conn.SetWriteDeadline(time.Now().Add(pop3Timeout))
	fmt.Fprintf(p.w, format, args...)
	p.w.WriteString("\r\n")
	return p.w.Flush()
}

func (p *pop3Conn) readLine() (string, error) {
	p.conn.SetReadDeadline(time.Now().Add(pop3Timeout))
	var line []byte
	for {
		chunk, err := p.r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > pop3MaxLine {
			return "", errors.New("pop3: command line too long")
		}
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return "", err
		}
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

func (p *pop3Conn) canSTLS() bool {
	return !p.implicitTLS && !p.tlsDone && p.mb == nil && !p.ps.s.faults.get().NoSTARTTLS
}

func (p *pop3Conn) run() error {
	if tc, ok := p.conn.(*tls.Conn); ok {
		p.conn.SetDeadline(time.Now().Add(pop3Timeout))
		if err := tc.Handshake(); err != nil {
			return err
		}
	}
	if err := p.reply(pop3Greeting); err != nil {
		return err
	}
	for {
		line, err := p.readLine()
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) || strings.Contains(err.Error(), "too long") {
				p.reply("-ERR line too long")
			}
			return err
		}
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		quit, err := p.command(verb, arg)
		if err != nil || quit {
			return err
		}
	}
}

// command runs one command; it reports whether the session is over.
func (p *pop3Conn) command(verb, arg string) (bool, error) {
	switch verb {
	case "CAPA":
		caps := []string{"+OK Capability list follows", "USER", "TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"}
		if p.canSTLS() {
			caps = append(caps, "STLS")
		}
		if mechs := p.mechanisms(); len(mechs) > 0 {
			caps = append(caps, "SASL "+strings.Join(mechs, " "))
		}
		caps = append(caps, "IMPLEMENTATION mailtest", ".")
		return false, p.reply("%s", strings.Join(caps, "\r\n"))
	case "QUIT":
		if p.mb != nil {
			var uids []imap.UID
			for _, m := range p.msgs {
				if m.deleted {
					uids = append(uids, m.uid)
				}
			}
			if len(uids) > 0 {
				p.ps.s.store.remove(p.mb, uids)
			}
			p.unlock()
			return true, p.reply("+OK mailtest POP3 server signing off (%d messages deleted)", len(uids))
		}
		return true, p.reply("+OK bye")
	case "NOOP":
		if p.mb == nil {
			return false, p.reply("-ERR not logged in")
		}
		return false, p.reply("+OK")
	}
	if p.mb == nil {
		return p.authorization(verb, arg)
	}
	return false, p.transaction(verb, arg)
}

func (p *pop3Conn) authorization(verb, arg string) (bool, error) {
	switch verb {
	case "STLS":
		if !p.canSTLS() || p.user != "" {
			return false, p.reply("-ERR STLS not available")
		}
		if err := p.reply("+OK begin TLS negotiation"); err != nil {
			return false, err
		}
		tc := tls.Server(p.conn, p.ps.s.serverTLS())
		tc.SetDeadline(time.Now().Add(pop3Timeout))
		if err := tc.Handshake(); err != nil {
			return true, err
		}
		p.tlsDone = true
		p.setConn(tc)
		return false, nil
	case "USER":
		if arg == "" {
			return false, p.reply("-ERR USER needs a name")
		}
		p.user = arg
		return false, p.reply("+OK send PASS")
	case "PASS":
		if p.user == "" {
			return false, p.reply("-ERR USER first")
		}
		user := p.user
		p.user = ""
		auth := &authenticator{s: p.ps.s}
		if err := auth.password(user, arg); err != nil {
			return false, p.reply(pop3UnknownUser)
		}
		return false, p.open(auth.mb)
	case "AUTH":
		return p.authenticate(arg)
	case "APOP":
		return false, p.reply("-ERR APOP not supported; use USER and PASS or AUTH")
	}
	return false, p.reply("-ERR unknown command or not logged in")
}

// pop3MaxAuthLine is the longest AUTH command line accepted, CRLF
// included: RFC 5034 (4) has a longer initial response sent after "+".
const pop3MaxAuthLine = 255

// mechanisms are the SASL mechanisms of the AUTH command (RFC 5034); the
// -PLUS ones over TLS only.
func (p *pop3Conn) mechanisms() []string {
	return forConnection(p.ps.s.storeMechanisms(), p.tlsState() != nil)
}

func (p *pop3Conn) tlsState() *tls.ConnectionState {
	return tlsStateOf(func() net.Conn { return p.conn })()
}

// authenticate runs the AUTH command: "AUTH mechanism [initial-response]",
// then "+ challenge" / response lines until done; "*" cancels.
func (p *pop3Conn) authenticate(arg string) (bool, error) {
	if p.user != "" {
		return false, p.reply("-ERR USER already given")
	}
	if len("AUTH ")+len(arg)+2 > pop3MaxAuthLine {
		return false, p.reply("-ERR AUTH line longer than 255 octets: send the initial response after the \"+\" (RFC 5034, 4)")
	}
	name, ir, hasIR := strings.Cut(strings.TrimSpace(arg), " ")
	if name == "" {
		return false, p.reply("+OK\r\n%s\r\n.", strings.Join(p.mechanisms(), "\r\n"))
	}
	if !slices.Contains(p.mechanisms(), strings.ToUpper(name)) {
		return false, p.reply("-ERR unsupported mechanism")
	}
	auth := &authenticator{s: p.ps.s, tlsState: p.tlsState, offersPlus: func() bool {
		return slices.ContainsFunc(p.mechanisms(), isPlusMechanism)
	}}
	mech := auth.mechanism(name)
	var response []byte
	if hasIR {
		var err error
		if response, err = decodeSASL(ir); err != nil {
			return false, p.reply("-ERR invalid base64")
		}
	}
	for {
		challenge, done, err := mech.Next(response)
		if err != nil {
			return false, p.reply(pop3UnknownUser)
		}
		if done {
			return false, p.open(auth.mb)
		}
		if err := p.reply("+ %s", base64.StdEncoding.EncodeToString(challenge)); err != nil {
			return false, err
		}
		line, err := p.readLine()
		if err != nil {
			return true, err
		}
		if line == "*" {
			return false, p.reply("-ERR authentication cancelled")
		}
		if response, err = decodeSASL(line); err != nil {
			return false, p.reply("-ERR invalid base64")
		}
	}
}

// decodeSASL decodes a base64 SASL response; "=" is an empty one.
func decodeSASL(s string) ([]byte, error) {
	if s == "=" {
		return []byte{}, nil
	}
	return base64.StdEncoding.DecodeString(s)
}

// open locks the mailbox's maildrop for this session and enters the
// TRANSACTION state.
func (p *pop3Conn) open(mb *mailbox) error {
	mb.pop3Lock.Lock()
	busy := mb.pop3Busy
	mb.pop3Busy = true
	mb.pop3Lock.Unlock()
	if busy {
		return p.reply("-ERR [IN-USE] maildrop already locked")
	}
	p.mb, p.locked = mb, true
	p.uidv = mb.inbox.UIDValidity()
	for _, m := range mb.inbox.Messages() {
		p.msgs = append(p.msgs, pop3Message{uid: m.UID, data: m.Data})
	}
	n, size := p.stat()
	return p.reply("+OK maildrop has %d messages (%d octets)", n, size)
}

func (p *pop3Conn) stat() (n int, size int) {
	for _, m := range p.msgs {
		if !m.deleted {
			n++
			size += len(m.data)
		}
	}
	return n, size
}

// message parses a message number and returns the live message.
func (p *pop3Conn) message(arg string) (int, *pop3Message, error) {
	n, ok := pop3Number(strings.TrimSpace(arg))
	if !ok || n < 1 || n > len(p.msgs) {
		return 0, nil, fmt.Errorf("-ERR no such message")
	}
	m := &p.msgs[n-1]
	if m.deleted {
		return 0, nil, fmt.Errorf("-ERR message %d already deleted", n)
	}
	return n, m, nil
}

// pop3Number parses a message number or line count: ASCII digits only
// (RFC 1939), no sign, no spaces.
func pop3Number(s string) (int, bool) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

func (p *pop3Conn) transaction(verb, arg string) error {
	switch verb {
	case "STAT":
		n, size := p.stat()
		return p.reply("+OK %d %d", n, size)
	case "LIST", "UIDL":
		item := func(n int, m *pop3Message) string {
			if verb == "LIST" {
				return fmt.Sprintf("%d %d", n, len(m.data))
			}
			return fmt.Sprintf("%d %d.%d", n, p.uidv, m.uid)
		}
		if strings.TrimSpace(arg) != "" {
			n, m, err := p.message(arg)
			if err != nil {
				return p.reply("%s", err.Error())
			}
			return p.reply("+OK %s", item(n, m))
		}
		lines := []string{"+OK"}
		for i := range p.msgs {
			if !p.msgs[i].deleted {
				lines = append(lines, item(i+1, &p.msgs[i]))
			}
		}
		lines = append(lines, ".")
		return p.reply("%s", strings.Join(lines, "\r\n"))
	case "RETR", "TOP":
		num, lines := arg, -1
		if verb == "TOP" {
			f := strings.Fields(arg)
			k, ok := -1, false
			if len(f) == 2 {
				k, ok = pop3Number(f[1])
			}
			if !ok {
				return p.reply("-ERR usage: TOP msg n")
			}
			num, lines = f[0], k
		}
		_, m, err := p.message(num)
		if err != nil {
			return p.reply("%s", err.Error())
		}
		return p.send(m.data, lines)
	case "DELE":
		n, m, err := p.message(arg)
		if err != nil {
			return p.reply("%s", err.Error())
		}
		m.deleted = true
		return p.reply("+OK message %d deleted", n)
	case "RSET":
		for i := range p.msgs {
			p.msgs[i].deleted = false
		}
		n, size := p.stat()
		return p.reply("+OK maildrop has %d messages (%d octets)", n, size)
	case "STLS", "USER", "PASS", "APOP", "AUTH":
		return p.reply("-ERR already logged in")
	}
	return p.reply("-ERR unknown command")
}

// send writes a multi-line response holding data (all of it, or the header
// and the first bodyLines lines of the body when bodyLines >= 0), with lines
// starting with '.' dot-stuffed and the terminating ".".
func (p *pop3Conn) send(data []byte, bodyLines int) error {
	p.conn.SetWriteDeadline(time.Now().Add(pop3Timeout))
	p.fc.startFetch()
	defer p.fc.endFetch()
	if bodyLines < 0 {
		fmt.Fprintf(p.w, "+OK %d octets\r\n", len(data))
	} else {
		p.w.WriteString("+OK top of message follows\r\n")
	}
	inBody := false
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line = data[:i+1]
		}
		data = data[len(line):]
		if inBody {
			if bodyLines == 0 {
				break
			}
			if bodyLines > 0 {
				bodyLines--
			}
		} else if bodyLines >= 0 && (string(line) == "\r\n" || string(line) == "\n") {
			inBody = true
		}
		if line[0] == '.' {
			p.w.WriteByte('.')
		}
		p.w.Write(line)
		if len(data) == 0 && line[len(line)-1] != '\n' {
			p.w.WriteString("\r\n")
		}
	}
	p.w.WriteString(".\r\n")
	return p.w.Flush()
}
