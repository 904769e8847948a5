package mailsession

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
)

// smtpConn is one live SMTP connection: greeted, upgraded to TLS when
// configured, authenticated, ready for MAIL.
type smtpConn struct {
	ec   *endpointConn
	c    *smtp.Client
	wire net.Conn        // the connection go-smtp speaks on (with trace and replay wrappers)
	tp   *textproto.Conn // our own reader/writer on wire, see wireConn
	// pipelining: the server offers PIPELINING and it is not disabled.
	pipelining bool
	tls        bool
	lastUsed   time.Time
	// dirty is set after a failed transaction: the next one starts with
	// RSET. After a successful one the next starts with MAIL directly
	// (go-smtp's Reset makes the next command repeat EHLO).
	dirty bool
	info  connInfo
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
// configured (checking the EHLO reply ourselves: go-smtp has no
// STARTTLS-if-offered mode), AUTH with the best allowed mechanism.
func dialSMTP(ctx context.Context, ep *endpoint, trace *slog.Logger) (*smtpConn, error) {
	ec, err := dialEndpoint(ctx, ep)
	if err != nil {
		return nil, err
	}
	release := ec.bind(ctx)
	sc, err := prepareSMTP(ctx, ec, ep, trace)
	if rerr := release(); rerr != nil && err == nil {
		err = &protocolError{Op: "connect", Addr: ep.Addr(), Err: rerr}
	}
	if err != nil {
		ec.Close()
		return nil, err
	}
	return sc, nil
}

func prepareSMTP(ctx context.Context, ec *endpointConn, ep *endpoint, trace *slog.Logger) (*smtpConn, error) {
	var conn net.Conn = ec.Conn
	tlsOn := ep.ImplicitTLS
	if !tlsOn && ep.StartTLS {
		// Greeting, EHLO and STARTTLS ourselves; go-smtp then continues on
		// the TLS connection after a replayed greeting.
		offered, err := preTLSHandshake(ec, ep, trace)
		if err != nil {
			return nil, err
		}
		if offered {
			if err := ec.startTLS(ctx); err != nil {
				return nil, err
			}
			tlsOn = true
		} else if ep.StartTLSRequired {
			return nil, &protocolError{Op: "STARTTLS", Addr: ep.Addr(), Err: ErrTLSRequired}
		}
		conn = &replayConn{Conn: ec.Conn, pending: []byte("220 " + ep.Host + " ready\r\n")}
	}
	if trace != nil {
		conn = newTraceConn(conn, trace, ep)
	}
	c := smtp.NewClient(conn)
	if err := c.Hello(ep.LocalHost); err != nil {
		return nil, &protocolError{Op: "EHLO", Addr: ep.Addr(), Err: withContext(ctx, err)}
	}
	sc := &smtpConn{ec: ec, c: c, wire: conn, tls: tlsOn, lastUsed: time.Now()}
	if st, ok := ec.tlsState(); ok {
		sc.info.TLSVersion = tlsVersionName(st.Version)
	}
	sc.info.Extensions = extensions(c)
	if _, mechs := c.Extension("AUTH"); mechs != "" {
		sc.info.Mechanisms = strings.Fields(mechs)
	}
	sc.pipelining = ep.Pipelining && sc.has("PIPELINING")
	if ep.Auth {
		if err := sc.auth(ctx, ep); err != nil {
			c.Close()
			return nil, err
		}
	}
	return sc, nil
}

func (sc *smtpConn) auth(ctx context.Context, ep *endpoint) error {
	ok, mechs := sc.c.Extension("AUTH")
	if !ok {
		hint := ""
		if has, _ := sc.c.Extension("STARTTLS"); has && !sc.tls {
			hint = fmt.Sprintf(" (it offers STARTTLS: set mail.%s.starttls.enable=true; servers often offer AUTH only after it)", ep.Protocol)
		}
		return &protocolError{Op: "AUTH", Addr: ep.Addr(), Err: fmt.Errorf("%w: server offers no authentication%s", ErrAuth, hint)}
	}
	if err := checkAuthAllowed(ep, sc.tls, sc.ec.isLoopback()); err != nil {
		return &protocolError{Op: "AUTH", Addr: ep.Addr(), Err: err}
	}
	client, mech, err := chooseSASL(ctx, ep, strings.Fields(mechs))
	if err != nil {
		return &protocolError{Op: "AUTH", Addr: ep.Addr(), Err: err}
	}
	if err := sc.c.Auth(client); err != nil {
		err = withContext(ctx, err)
		var smtpErr *smtp.SMTPError
		if errors.As(err, &smtpErr) {
			err = fmt.Errorf("%w: %s rejected: %w", ErrAuth, mech, smtpErr)
		}
		return &protocolError{Op: "AUTH " + mech, Addr: ep.Addr(), Err: err}
	}
	sc.info.Authenticated, sc.info.Mechanism = true, mech
	return nil
}

// preTLSHandshake reads the greeting, says EHLO and, when the server offers
// it, STARTTLS (expecting 220). It reports whether STARTTLS was done.
func preTLSHandshake(ec *endpointConn, ep *endpoint, trace *slog.Logger) (bool, error) {
	var rw io.ReadWriter = ec.Conn
	if trace != nil {
		rw = newTraceConn(ec.Conn, trace, ep)
	}
	tp := newTextConn(rw)
	fail := func(op string, err error) (bool, error) {
		var te *textproto.Error
		if errors.As(err, &te) {
			err = &smtp.SMTPError{Code: te.Code, Message: te.Msg}
		}
		return false, &protocolError{Op: op, Addr: ep.Addr(), Err: err}
	}
	if _, _, err := tp.ReadResponse(220); err != nil {
		return fail("greeting", err)
	}
	if err := tp.PrintfLine("EHLO %s", ep.LocalHost); err != nil {
		return fail("EHLO", err)
	}
	_, msg, err := tp.ReadResponse(250)
	if err != nil {
		return fail("EHLO", err)
	}
	offered := false
	for _, line := range strings.Split(msg, "\n")[1:] {
		if strings.EqualFold(strings.Fields(line + " x")[0], "STARTTLS") {
			offered = true
		}
	}
	if !offered {
		return false, nil
	}
	if err := tp.PrintfLine("STARTTLS"); err != nil {
		return fail("STARTTLS", err)
	}
	if _, _, err := tp.ReadResponse(220); err != nil {
		return fail("STARTTLS", err)
	}
	return true, nil
}

// replayConn returns pending before reading from the connection: the
// server's greeting, already consumed before STARTTLS, replayed to go-smtp.
type replayConn struct {
	net.Conn
	pending []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

func extensions(c *smtp.Client) []string {
	var out []string
	for _, e := range []string{"STARTTLS", "AUTH", "SIZE", "8BITMIME", "PIPELINING", "SMTPUTF8", "DSN", "ENHANCEDSTATUSCODES", "CHUNKING", "REQUIRETLS", "BINARYMIME"} {
		if ok, _ := c.Extension(e); ok {
			out = append(out, e)
		}
	}
	return out
}

// txResult is the outcome of one transaction on one connection.
type txResult struct {
	err error
	// keep says the connection is healthy enough to go back to the pool.
	keep bool
	// retry says nothing reached the server's queue and the connection
	// failed before MAIL was accepted: the message may be sent again on a
	// fresh connection without risk of duplication.
	retry bool
}

// transact runs MAIL, RCPT for each recipient, DATA and the body on sc.
func (sc *smtpConn) transact(ctx context.Context, ep *endpoint, env envelope, body func(io.Writer) error) txResult {
	release := sc.ec.bind(ctx)
	var res txResult
	if sc.pipelining {
		res = sc.transactPipelined(ctx, ep, env, body)
	} else {
		res = sc.transactBound(ctx, ep, env, body)
	}
	if err := release(); err != nil {
		// The watchdog closed the connection. When ctx ended after the
		// server's final reply the transaction succeeded (res.err is nil):
		// reporting a failure would invite a duplicate by a retry.
		res.keep, res.retry = false, false
	}
	if res.keep && isClosingReply(res.err) {
		// A 421 anywhere means the server is closing the channel.
		res.keep = false
	}
	sc.lastUsed = time.Now()
	return res
}

func (sc *smtpConn) transactBound(ctx context.Context, ep *endpoint, env envelope, body func(io.Writer) error) txResult {
	addr := ep.Addr()
	if sc.dirty {
		if err := sc.rset(); err != nil {
			return txResult{err: &protocolError{Op: "RSET", Addr: addr, Err: withContext(ctx, err)}, retry: !isReply(err) || isClosingReply(err)}
		}
		sc.dirty = false
	}
	mailOpts := &smtp.MailOptions{Return: smtp.DSNReturn(ep.DSNRet)}
	if !isASCII(env.from) || !allASCII(env.rcpts) {
		if !sc.has("SMTPUTF8") {
			// Checked here: go-smtp's own refusal is not a reply and would
			// pass for a broken connection.
			return txResult{err: &SendError{Unsent: env.rcpts, Err: &protocolError{Op: "MAIL FROM", Addr: addr, Err: errNoSMTPUTF8}}, keep: true}
		}
		mailOpts.UTF8 = true
	}
	if err := sc.c.Mail(env.from, mailOpts); err != nil {
		err = withContext(ctx, err)
		if isClosingReply(err) {
			// 421 before anything was accepted: the server is closing
			// (idle timeout, shutdown); a new connection may take it.
			return txResult{err: &SendError{Unsent: env.rcpts, Err: &protocolError{Op: "MAIL FROM", Addr: addr, Err: err}}, retry: ctx.Err() == nil}
		}
		if isReply(err) {
			sc.dirty = true
			return txResult{err: &SendError{Unsent: env.rcpts, Err: &protocolError{Op: "MAIL FROM", Addr: addr, Err: mailFromError(ep, err)}}, keep: true}
		}
		return txResult{err: &SendError{Unsent: env.rcpts, Err: &protocolError{Op: "MAIL FROM", Addr: addr, Err: err}}, retry: ctx.Err() == nil}
	}
	var rcptOpts *smtp.RcptOptions
	if len(ep.DSNNotify) > 0 {
		rcptOpts = &smtp.RcptOptions{}
		for _, n := range ep.DSNNotify {
			rcptOpts.Notify = append(rcptOpts.Notify, smtp.DSNNotify(n))
		}
	}
	var accepted []string
	var rejected []*RecipientError
	for _, rcpt := range env.rcpts {
		err := sc.c.Rcpt(rcpt, rcptOpts)
		if err == nil {
			accepted = append(accepted, rcpt)
			continue
		}
		var smtpErr *smtp.SMTPError
		if !errors.As(err, &smtpErr) {
			return txResult{err: &SendError{Unsent: env.rcpts, Err: &protocolError{Op: "RCPT TO", Addr: addr, Err: withContext(ctx, err)}}}
		}
		rejected = append(rejected, &RecipientError{Address: rcpt, Code: smtpErr.Code, EnhancedCode: smtpErr.EnhancedCode, Message: smtpErr.Message})
	}
	if len(rejected) > 0 && (!ep.SendPartial || len(accepted) == 0) {
		sc.dirty = true
		return txResult{err: &SendError{Unsent: accepted, Rejected: rejected}, keep: true}
	}
	w, err := sc.c.Data()
	if err != nil {
		err = withContext(ctx, err)
		if isReply(err) {
			sc.dirty = true
			return txResult{err: &SendError{Unsent: accepted, Rejected: rejected, Err: &protocolError{Op: "DATA", Addr: addr, Err: err}}, keep: true}
		}
		return txResult{err: &SendError{Unsent: accepted, Rejected: rejected, Err: &protocolError{Op: "DATA", Addr: addr, Err: err}}}
	}
	if err := body(w); err != nil {
		// The dot was not sent: the server must not deliver. The connection
		// is in the middle of DATA and cannot be reused.
		return txResult{err: &SendError{Unsent: accepted, Rejected: rejected, Err: &protocolError{Op: "DATA body", Addr: addr, Err: withContext(ctx, err)}}}
	}
	if err := w.Close(); err != nil {
		err = withContext(ctx, err)
		if isReply(err) {
			sc.dirty = true
			return txResult{err: &SendError{Unsent: accepted, Rejected: rejected, Err: &protocolError{Op: "end of DATA", Addr: addr, Err: err}}, keep: true}
		}
		// No reply after the dot: the message may or may not have been
		// queued; we report it as not sent and never retry (no duplicate).
		return txResult{err: &SendError{Unsent: accepted, Rejected: rejected, Err: &protocolError{Op: "end of DATA", Addr: addr, Err: err}}}
	}
	if len(rejected) > 0 {
		return txResult{err: &SendError{Sent: accepted, Rejected: rejected}, keep: true}
	}
	return txResult{keep: true}
}

// rset sends RSET on the wire: go-smtp's Reset would make its next command
// repeat EHLO. Nothing is buffered between replies, so go-smtp's reader
// stays in step.
func (sc *smtpConn) rset() error {
	tp := sc.wireConn()
	if err := tp.PrintfLine("RSET"); err != nil {
		return err
	}
	code, msg, err := tp.ReadResponse(0)
	if err != nil {
		return err
	}
	if code/100 != 2 {
		return replyError(code, msg)
	}
	return nil
}

// noop checks an idle connection before reuse.
func (sc *smtpConn) noop(ctx context.Context) error {
	release := sc.ec.bind(ctx)
	err := sc.noopWire()
	if rerr := release(); rerr != nil {
		return rerr
	}
	return err
}

// quit ends the session politely: RSET first with rsetbeforequit, QUIT, and
// waiting for the reply with quitwait; then closes. ctx bounds it (the
// caller's, when a send or Check ends with QUIT); every read and write has
// its own timeout besides.
func (sc *smtpConn) quit(ctx context.Context, ep *endpoint) {
	release := sc.ec.bind(ctx)
	defer release()
	// go-smtp's Reset makes the next command repeat EHLO, and its Quit
	// always waits: after the last reply nothing is buffered (no
	// pipelining), so RSET and QUIT are spoken here directly.
	tp := sc.wireConn()
	if ep.RsetBeforeQuit {
		if tp.PrintfLine("RSET") == nil {
			tp.ReadResponse(250)
		}
	}
	if tp.PrintfLine("QUIT") == nil && ep.QuitWait {
		tp.ReadResponse(221)
	}
	sc.c.Close()
}

// close drops the connection without a word.
func (sc *smtpConn) close() { sc.c.Close() }

// errNoSMTPUTF8 refuses a non-ASCII envelope address to a server without
// SMTPUTF8 (RFC 6531).
var errNoSMTPUTF8 = fmt.Errorf("%w: the server does not support SMTPUTF8, needed for non-ASCII addresses", ErrPermanent)

// isClosingReply reports whether err holds a 421 reply: the server is
// closing the connection (RFC 5321, 3.8), which cannot be used again.
func isClosingReply(err error) bool {
	var smtpErr *smtp.SMTPError
	if errors.As(err, &smtpErr) && smtpErr.Code == 421 {
		return true
	}
	var se *SendError
	if errors.As(err, &se) {
		for _, r := range se.Rejected {
			if r.Code == 421 {
				return true
			}
		}
	}
	return false
}

// isReply reports whether err is a reply from the server (as opposed to a
// network failure): the connection is still in step.
func isReply(err error) bool {
	var smtpErr *smtp.SMTPError
	return errors.As(err, &smtpErr)
}

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
