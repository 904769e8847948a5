package mailsession

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/emersion/go-smtp"
)

// With PIPELINING (RFC 2920) offered, a transaction costs two round trips
// instead of three plus one per recipient: MAIL, every RCPT and DATA go out
// in one write and their replies are read in order; then the body and the
// final dot. go-smtp's client has no pipelining, so after it has greeted,
// upgraded and authenticated, the transaction is spoken here on the same
// connection (nothing is left buffered between replies: strict
// request/response until then).

// wireConn returns the textproto connection over sc.wire, created once.
func (sc *smtpConn) wireConn() *textproto.Conn {
	if sc.tp == nil {
		sc.tp = newTextConn(sc.wire)
	}
	return sc.tp
}

// newTextConn is a textproto connection on rw whose Close does nothing (the
// connection belongs to its endpointConn).
func newTextConn(rw io.ReadWriter) *textproto.Conn {
	return textproto.NewConn(struct {
		io.Reader
		io.Writer
		io.Closer
	}{bufio.NewReader(rw), rw, io.NopCloser(nil)})
}

// transactPipelined is transactBound for servers offering PIPELINING.
func (sc *smtpConn) transactPipelined(ctx context.Context, ep *endpoint, env envelope, body func(io.Writer) error) txResult {
	addr := ep.Addr()
	tp := sc.wireConn()
	netFail := func(op string, err error, retry bool, accepted []string, rejected []*RecipientError) txResult {
		unsent := accepted
		if op == "MAIL FROM" {
			unsent = env.rcpts
		}
		return txResult{err: &SendError{Unsent: unsent, Rejected: rejected, Err: &protocolError{Op: op, Addr: addr, Err: withContext(ctx, err)}}, retry: retry && ctx.Err() == nil}
	}

	mailCmd, err := sc.mailCommand(ep, env)
	if err != nil {
		return txResult{err: &SendError{Unsent: env.rcpts, Err: &protocolError{Op: "MAIL FROM", Addr: addr, Err: err}}, keep: true}
	}
	// Commands go out in groups of at most maxPipeline, and the replies of
	// a group are read before the next is written: a long recipient list
	// cannot fill both socket buffers and deadlock (RFC 2920, 3.1).
	var cmds []string
	if sc.dirty {
		cmds = append(cmds, "RSET")
	}
	cmds = append(cmds, mailCmd)
	notify := ""
	if len(ep.DSNNotify) > 0 && sc.has("DSN") {
		notify = " NOTIFY=" + strings.Join(ep.DSNNotify, ",")
	}
	for _, r := range env.rcpts {
		cmds = append(cmds, "RCPT TO:<"+r+">"+notify)
	}
	cmds = append(cmds, "DATA")
	replies, err := pipelineCommands(tp, cmds)
	// The command whose reply is missing, if any, tells where it failed.
	failedAt := func() string {
		if c := cmds[len(replies)]; strings.HasPrefix(c, "RCPT") {
			return "RCPT TO"
		} else if c == "DATA" {
			return "DATA"
		} else if c == "RSET" {
			return "RSET"
		}
		return "MAIL FROM"
	}
	next := 0
	if sc.dirty {
		if len(replies) == 0 {
			return netFail("RSET", err, true, nil, nil)
		}
		if r := replies[0]; r.code/100 != 2 {
			// The server is out of step or closing (421); do not reuse
			// it. Nothing was accepted: a 421 may be retried elsewhere.
			return txResult{err: &SendError{Unsent: env.rcpts, Err: &protocolError{Op: "RSET", Addr: addr, Err: replyError(r.code, r.msg)}}, retry: r.code == 421 && ctx.Err() == nil}
		}
		sc.dirty = false
		next = 1
	}
	if len(replies) <= next {
		return netFail("MAIL FROM", err, true, nil, nil)
	}
	var mailErr error
	if r := replies[next]; r.code == 421 {
		// The server is closing (idle timeout, shutdown) before anything
		// was accepted: a new connection may take the message.
		return txResult{err: &SendError{Unsent: env.rcpts, Err: &protocolError{Op: "MAIL FROM", Addr: addr, Err: replyError(r.code, r.msg)}}, retry: ctx.Err() == nil}
	} else if r.code/100 != 2 {
		mailErr = mailFromError(ep, replyError(r.code, r.msg))
	}
	next++
	var accepted []string
	var rejected []*RecipientError
	for _, rcpt := range env.rcpts {
		if next >= len(replies) {
			return netFail(failedAt(), err, false, accepted, rejected)
		}
		r := replies[next]
		next++
		if mailErr != nil {
			continue // 503 bad sequence after the refused MAIL
		}
		if r.code/100 == 2 {
			accepted = append(accepted, rcpt)
			continue
		}
		e := replyError(r.code, r.msg)
		rejected = append(rejected, &RecipientError{Address: rcpt, Code: e.Code, EnhancedCode: e.EnhancedCode, Message: e.Message})
	}
	if next >= len(replies) {
		return netFail("DATA", err, false, accepted, rejected)
	}
	code, msg := replies[next].code, replies[next].msg
	sc.dirty = true // until the transaction completes
	if mailErr != nil {
		if code == 354 {
			// Cannot happen with a conforming server; drop the connection
			// rather than send a body nobody asked for.
			return txResult{err: &SendError{Unsent: env.rcpts, Err: &protocolError{Op: "MAIL FROM", Addr: addr, Err: mailErr}}}
		}
		return txResult{err: &SendError{Unsent: env.rcpts, Err: &protocolError{Op: "MAIL FROM", Addr: addr, Err: mailErr}}, keep: true}
	}
	abort := len(rejected) > 0 && (!ep.SendPartial || len(accepted) == 0)
	if code != 354 {
		if abort || len(accepted) == 0 {
			return txResult{err: &SendError{Unsent: accepted, Rejected: rejected}, keep: true}
		}
		return txResult{err: &SendError{Unsent: accepted, Rejected: rejected, Err: &protocolError{Op: "DATA", Addr: addr, Err: replyError(code, msg)}}, keep: true}
	}
	if abort {
		// The server is waiting for the body but a recipient was refused
		// and sendpartial is off: closing the connection without the final
		// dot makes the server drop the transaction; nothing is delivered.
		return txResult{err: &SendError{Unsent: accepted, Rejected: rejected}}
	}
	dw := tp.DotWriter()
	if err := body(dw); err != nil {
		return txResult{err: &SendError{Unsent: accepted, Rejected: rejected, Err: &protocolError{Op: "DATA body", Addr: addr, Err: withContext(ctx, err)}}}
	}
	if err := dw.Close(); err != nil {
		return txResult{err: &SendError{Unsent: accepted, Rejected: rejected, Err: &protocolError{Op: "DATA body", Addr: addr, Err: withContext(ctx, err)}}}
	}
	code, msg, err = tp.ReadResponse(0)
	if err != nil {
		// No reply after the dot: the message may or may not have been
		// queued; reported as not sent and never retried (no duplicate).
		return txResult{err: &SendError{Unsent: accepted, Rejected: rejected, Err: &protocolError{Op: "end of DATA", Addr: addr, Err: withContext(ctx, err)}}}
	}
	if code/100 != 2 {
		return txResult{err: &SendError{Unsent: accepted, Rejected: rejected, Err: &protocolError{Op: "end of DATA", Addr: addr, Err: replyError(code, msg)}}, keep: true}
	}
	sc.dirty = false
	if len(rejected) > 0 {
		return txResult{err: &SendError{Sent: accepted, Rejected: rejected}, keep: true}
	}
	return txResult{keep: true}
}

// mailFromError explains a refused MAIL FROM that asks for authentication
// the session is not configured to give.
func mailFromError(ep *endpoint, err error) error {
	var smtpErr *smtp.SMTPError
	if !ep.Auth && errors.As(err, &smtpErr) && smtpErr.Code == 530 {
		return fmt.Errorf("%w (the server requires authentication: set mail.%s.auth=true with mail.%s.user and mail.%s.password)", err, ep.Protocol, ep.Protocol, ep.Protocol)
	}
	return err
}

// maxPipeline is the most commands written before their replies are read.
const maxPipeline = 100

type reply struct {
	code int
	msg  string
}

// pipelineCommands writes cmds in groups of maxPipeline, reading each
// group's replies before the next group. It returns the replies read, in
// order, and the error that stopped it (a write or read failure): fewer
// replies than commands then.
func pipelineCommands(tp *textproto.Conn, cmds []string) ([]reply, error) {
	replies := make([]reply, 0, len(cmds))
	for len(cmds) > 0 {
		n := min(len(cmds), maxPipeline)
		for _, c := range cmds[:n] {
			tp.W.WriteString(c)
			if !strings.HasSuffix(c, "\r\n") {
				tp.W.WriteString("\r\n")
			}
		}
		if err := tp.W.Flush(); err != nil {
			return replies, err
		}
		for range n {
			code, msg, err := tp.ReadResponse(0)
			if err != nil {
				return replies, err
			}
			replies = append(replies, reply{code, msg})
		}
		cmds = cmds[n:]
	}
	return replies, nil
}

// mailCommand builds the MAIL FROM line with the parameters the server
// supports, as go-smtp's Client.Mail does.
func (sc *smtpConn) mailCommand(ep *endpoint, env envelope) (string, error) {
	var b strings.Builder
	b.WriteString("MAIL FROM:<" + env.from + ">")
	if sc.has("8BITMIME") {
		b.WriteString(" BODY=8BITMIME")
	}
	if !isASCII(env.from) || !allASCII(env.rcpts) {
		if !sc.has("SMTPUTF8") {
			return "", errNoSMTPUTF8
		}
		b.WriteString(" SMTPUTF8")
	}
	if ep.DSNRet != "" && sc.has("DSN") {
		b.WriteString(" RET=" + ep.DSNRet)
	}
	b.WriteString("\r\n")
	return b.String(), nil
}

// has reports whether the server announced an extension in its EHLO reply.
func (sc *smtpConn) has(ext string) bool {
	ok, _ := sc.c.Extension(ext)
	return ok
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

// noopWire checks the connection with NOOP on the wire.
func (sc *smtpConn) noopWire() error {
	tp := sc.wireConn()
	if err := tp.PrintfLine("NOOP"); err != nil {
		return err
	}
	code, msg, err := tp.ReadResponse(0)
	if err != nil {
		return err
	}
	if code/100 != 2 {
		return fmt.Errorf("NOOP: %w", replyError(code, msg))
	}
	return nil
}
