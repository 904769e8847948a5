package mailsession

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// smtpConn is one live SMTP connection: greeted, upgraded to TLS when
// configured, authenticated, ready for MAIL. All of it is spoken here and
// in smtp_engine.go through one smtpWire.
type smtpConn struct {
	ec       *endpointConn
	wire     *smtpWire
	ext      map[string]string // EHLO keywords (upper case) → parameters
	tls      bool
	lastUsed time.Time
	// pipelining: the server offers PIPELINING and it is not disabled;
	// chunking likewise for CHUNKING.
	pipelining, chunking bool
	// dirty is set after a transaction that did not complete: the next one
	// starts with RSET.
	dirty bool
	info  connInfo
	chunk []byte // the BDAT buffer, kept for the connection's next message
}

// connInfo describes a fresh connection, for Check.
type connInfo struct {
	TLSVersion    string
	Extensions    []string
	Mechanisms    []string
	Authenticated bool
	Mechanism     string
}

// envelope is what one SMTP transaction needs besides the body.
type envelope struct {
	from  string
	rcpts []string
}

// dialSMTP opens and prepares a connection: greeting, EHLO, STARTTLS as
// configured, AUTH with the best allowed mechanism. The connInfo says what
// was seen up to the failure, if any (Check reports it after a refused
// login).
func dialSMTP(ctx context.Context, ep *endpoint, trace *slog.Logger) (*smtpConn, connInfo, error) {
	ec, err := dialEndpoint(ctx, ep)
	if err != nil {
		return nil, connInfo{}, err
	}
	bound := ec.bind(ctx)
	sc := &smtpConn{ec: ec, tls: ep.ImplicitTLS}
	err = sc.prepare(ctx, ep, trace)
	if rerr := bound.release(); rerr != nil && err == nil {
		err = &protocolError{Op: "connect", Addr: ep.Addr(), Err: withContext(ctx, rerr)}
	}
	if err != nil {
		ec.Close()
		return nil, sc.info, err
	}
	sc.lastUsed = time.Now()
	return sc, sc.info, nil
}

// attach puts the wire on the endpoint's current connection (again after
// STARTTLS), through the trace when debugging.
func (sc *smtpConn) attach(ep *endpoint, trace *slog.Logger) {
	var conn io.ReadWriter = sc.ec.Conn
	if trace != nil {
		conn = newTraceConn(sc.ec.Conn, trace, ep)
	}
	if sc.wire == nil {
		sc.wire = newSMTPWire(conn)
	} else {
		sc.wire.upgrade(conn)
	}
}

func (sc *smtpConn) prepare(ctx context.Context, ep *endpoint, trace *slog.Logger) error {
	addr := ep.Addr()
	fail := func(op string, err error) error {
		return &protocolError{Op: op, Addr: addr, Err: withContext(ctx, err)}
	}
	sc.attach(ep, trace)
	r, err := sc.wire.readReply()
	if err != nil {
		return fail("greeting", err)
	}
	if r.code != 220 {
		return fail("greeting", r.err())
	}
	if err := sc.hello(ep); err != nil {
		return fail("EHLO", err)
	}
	if !sc.tls && ep.StartTLS {
		if sc.has("STARTTLS") {
			r, err := sc.wire.roundTrip("STARTTLS")
			if err == nil && r.code != 220 {
				err = r.err()
			}
			if err == nil {
				err = sc.wire.readyForTLS()
			}
			if err != nil {
				return fail("STARTTLS", err)
			}
			if err := sc.ec.startTLS(ctx); err != nil {
				return err
			}
			sc.tls = true
			sc.attach(ep, trace)
			sc.info = connInfo{}
			if err := sc.hello(ep); err != nil {
				return fail("EHLO", err)
			}
		} else if ep.StartTLSRequired {
			return &protocolError{Op: "STARTTLS", Addr: addr, Err: ErrTLSRequired}
		}
	}
	if st, ok := sc.ec.tlsState(); ok {
		sc.info.TLSVersion = tlsVersionName(st.Version)
	}
	sc.pipelining = ep.Pipelining && sc.has("PIPELINING")
	sc.chunking = ep.Chunking && sc.has("CHUNKING")
	if ep.Auth {
		return sc.auth(ctx, ep)
	}
	return nil
}

// hello says EHLO (HELO when the server does not know EHLO, or when
// mail.smtp.ehlo=false, as JavaMail) and records the extensions offered.
// The name is the configured or canonical local name; without one, the
// connection's local address as an address literal (JavaMail's last
// resort is that address too).
func (sc *smtpConn) hello(ep *endpoint) error {
	name := ep.LocalHost
	if name == "" {
		name = "localhost"
		if a, ok := sc.ec.Conn.LocalAddr().(*net.TCPAddr); ok && a.IP != nil {
			name = addressLiteral(a.IP.String())
		}
	}
	sc.ext = map[string]string{}
	if !ep.EHLO {
		r, err := sc.wire.roundTrip("HELO " + name)
		if err != nil {
			return err
		}
		if r.code != 250 {
			return r.err()
		}
		return nil
	}
	r, err := sc.wire.roundTrip("EHLO " + name)
	if err != nil {
		return err
	}
	if r.code == 500 || r.code == 502 || r.code == 504 || r.code == 550 {
		// An old server without ESMTP (RFC 5321, 4.1.4): HELO, no extensions.
		if r, err = sc.wire.roundTrip("HELO " + name); err != nil {
			return err
		}
		if r.code != 250 {
			return r.err()
		}
		return nil
	}
	if r.code != 250 {
		return r.err()
	}
	lines := strings.Split(r.msg(), "\n")
	for _, line := range lines[1:] {
		kw, params, _ := strings.Cut(strings.TrimSpace(line), " ")
		if kw != "" {
			sc.ext[strings.ToUpper(kw)] = params
		}
	}
	sc.info.Extensions = extensions(sc.ext)
	sc.info.Mechanisms = strings.Fields(sc.ext["AUTH"])
	return nil
}

func (sc *smtpConn) auth(ctx context.Context, ep *endpoint) error {
	if !sc.has("AUTH") {
		hint := ""
		if sc.has("STARTTLS") && !sc.tls {
			hint = fmt.Sprintf(" (it offers STARTTLS: set mail.%s.starttls.enable=true; servers often offer AUTH only after it)", ep.Protocol)
		}
		return &protocolError{Op: "AUTH", Addr: ep.Addr(), Err: fmt.Errorf("%w: server offers no authentication%s", ErrAuth, hint)}
	}
	if err := checkAuthAllowed(ep, sc.tls, sc.ec.isLoopback()); err != nil {
		return &protocolError{Op: "AUTH", Addr: ep.Addr(), Err: err}
	}
	var cs *tls.ConnectionState
	if st, ok := sc.ec.tlsState(); ok {
		cs = &st
	}
	client, mech, err := chooseSASL(ctx, ep, sc.info.Mechanisms, cs)
	if err != nil {
		return &protocolError{Op: "AUTH", Addr: ep.Addr(), Err: err}
	}
	err = sc.authenticate(client)
	if err == nil {
		err = verifySASL(client)
	}
	if err != nil {
		err = withContext(ctx, err)
		var smtpErr *smtp.SMTPError
		if errors.As(err, &smtpErr) && !errors.Is(err, ErrAuth) {
			err = fmt.Errorf("%w: %s rejected: %w", ErrAuth, mech, smtpErr)
		}
		return &protocolError{Op: "AUTH " + mech, Addr: ep.Addr(), Err: withChallenge(client, err)}
	}
	sc.info.Authenticated, sc.info.Mechanism = true, mech
	return nil
}

// maxAuthLine is the longest AUTH command line sent with its initial
// response; a longer response (an OAuth token) goes after the server's
// empty 334 instead (RFC 4954, 4: lines are limited to 512 octets).
const maxAuthLine = 500

// authenticate runs one SASL exchange (RFC 4954).
func (sc *smtpConn) authenticate(c sasl.Client) error {
	mech, ir, err := c.Start()
	if err != nil {
		return err
	}
	line := "AUTH " + mech
	var later string // an initial response too long for the command line
	if ir != nil {
		enc := base64.StdEncoding.EncodeToString(ir)
		if enc == "" {
			enc = "="
		}
		if len(line)+1+len(enc) <= maxAuthLine {
			line += " " + enc
		} else {
			later = enc
		}
	}
	r, err := sc.wire.roundTrip(line)
	for err == nil && r.code == 334 {
		var resp string
		if later != "" {
			resp, later = later, ""
		} else {
			challenge, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(r.msg()))
			var out []byte
			if derr == nil {
				out, derr = c.Next(challenge)
			}
			if derr != nil {
				// Cancel the exchange (RFC 4954, 4) and report why.
				if r, err = sc.wire.roundTrip("*"); err == nil {
					err = fmt.Errorf("%w (server: %w)", derr, r.err())
				}
				return err
			}
			resp = base64.StdEncoding.EncodeToString(out)
		}
		r, err = sc.wire.roundTrip(resp)
	}
	if err != nil {
		return err
	}
	if r.code != 235 {
		return r.err()
	}
	return nil
}

// has reports whether the server announced an extension in its EHLO reply.
func (sc *smtpConn) has(ext string) bool {
	_, ok := sc.ext[ext]
	return ok
}

func extensions(ext map[string]string) []string {
	var out []string
	for _, e := range []string{"STARTTLS", "AUTH", "SIZE", "8BITMIME", "PIPELINING", "SMTPUTF8", "DSN", "ENHANCEDSTATUSCODES", "CHUNKING", "REQUIRETLS", "BINARYMIME"} {
		if _, ok := ext[e]; ok {
			out = append(out, e)
		}
	}
	return out
}

// noop checks an idle connection before reuse.
func (sc *smtpConn) noop(ctx context.Context) error {
	bound := sc.ec.bind(ctx)
	r, err := sc.wire.roundTrip("NOOP")
	if rerr := bound.release(); rerr != nil {
		return withContext(ctx, rerr)
	}
	if err == nil && r.code/100 != 2 {
		err = fmt.Errorf("NOOP: %w", r.err())
	}
	return err
}

// quit ends the session politely: RSET first with rsetbeforequit, QUIT, and
// waiting for the reply with quitwait; then closes. ctx bounds it (the
// caller's, when a send or Check ends with QUIT); every read and write has
// its own timeout besides.
func (sc *smtpConn) quit(ctx context.Context, ep *endpoint) {
	bound := sc.ec.bind(ctx)
	defer bound.release()
	if ep.RsetBeforeQuit {
		sc.wire.command("RSET")
	}
	sc.wire.command("QUIT")
	if sc.wire.flush() == nil && ep.QuitWait {
		if ep.RsetBeforeQuit {
			sc.wire.readReply()
		}
		sc.wire.readReply()
	}
	sc.ec.Close()
}

// close drops the connection without a word.
func (sc *smtpConn) close() { sc.ec.Close() }

// errNoSMTPUTF8 refuses a non-ASCII envelope address to a server without
// SMTPUTF8 (RFC 6531).
var errNoSMTPUTF8 = fmt.Errorf("%w: the server does not support SMTPUTF8, needed for non-ASCII addresses", ErrPermanent)

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func allASCII(ss []string) bool {
	for _, s := range ss {
		if !isASCII(s) {
			return false
		}
	}
	return true
}
