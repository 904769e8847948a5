package mailsession

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
)

// The SMTP transaction engine: the one piece of code that speaks MAIL,
// RCPT, DATA or BDAT, the body and RSET, as Postfix's smtp_proto.c does,
// from one loop over what was sent and what was answered. Commands go out
// in groups and every reply is matched, in order, to the command that
// caused it:
//
//   - with PIPELINING (RFC 2920) a group holds RSET (after a failed
//     transaction), MAIL, every RCPT and DATA — two round trips a message
//     with the body and its final dot;
//   - with CHUNKING (RFC 3030) as well, the body goes as BDAT chunks in the
//     same group, the last one "BDAT n LAST": one round trip a message
//     (when the recipients' replies are not needed first, see oneGroup);
//   - without PIPELINING every group holds one command.
//
// Each recipient ends in exactly one of Sent, Rejected, Unsent and
// Uncertain (see SendError), decided in one place, txn.result.

// maxPipeline is the most commands written before their replies are read,
// so that a long recipient list cannot fill both socket buffers and
// deadlock (RFC 2920, 3.1).
const maxPipeline = 100

// chunkSize is the largest BDAT chunk: a message up to this size goes in
// one "BDAT n LAST" (held in memory once), a larger one in chunks of it.
const chunkSize = 1 << 20

// txResult is the outcome of one transaction on one connection.
type txResult struct {
	err error // nil: accepted for every recipient
	// keep says the connection is in step and may serve again.
	keep bool
	// retry says nothing can have been delivered and the body was not
	// consumed (or is in whole): another connection may take the message
	// without risk of a duplicate.
	retry bool
	whole []byte // the entire message, when the body func was consumed
}

// cmdKind is what a reply answers.
type cmdKind uint8

const (
	cmdRSET cmdKind = iota
	cmdMAIL
	cmdRCPT
	cmdDATA
	cmdBDAT     // a chunk that is not the last
	cmdEndOfMsg // the final dot, or BDAT LAST: its reply accepts the message
)

// expect is a command written whose reply is unread.
type expect struct {
	kind cmdKind
	rcpt int // for cmdRCPT: the recipient's index
	bdat bool
}

func (e expect) op() string {
	switch e.kind {
	case cmdRSET:
		return "RSET"
	case cmdMAIL:
		return "MAIL FROM"
	case cmdRCPT:
		return "RCPT TO"
	case cmdDATA:
		return "DATA"
	case cmdBDAT:
		return "BDAT"
	}
	if e.bdat {
		return "BDAT LAST"
	}
	return "end of DATA"
}

// errOutOfStep is a reply that cannot answer the command it is matched to
// (a 354 to RCPT, a 3xx to BDAT): the conversation is lost.
var errOutOfStep = errors.New("server reply out of step with the commands sent")

// errChunkRefused stops the body when the server refused a BDAT chunk:
// the rest would be refused too.
var errChunkRefused = errors.New("BDAT chunk refused")

// rcptState is what is known of one recipient.
type rcptState uint8

const (
	rcptPending  rcptState = iota // no reply read yet
	rcptAccepted                  // 250 to its RCPT
	rcptRejected                  // 4xx or 5xx to its RCPT
)

// txn is one transaction in progress on sc.
type txn struct {
	sc  *smtpConn
	ep  *endpoint
	ctx context.Context
	env envelope

	pending  []expect
	state    []rcptState
	rejected []*RecipientError // by recipient index
	accepted int
	refused  int

	failure   *protocolError // the connection failed: network, timeout, 421, out of step
	mailErr   error          // MAIL refused
	dataErr   *protocolError // DATA, a BDAT chunk or the message refused
	dataOK    bool           // 354 to DATA
	committed bool           // the end of the message was written
	final     bool           // the reply to it was read
	delivered bool           // ... and it was 2xx
	started   bool           // the body func was called
	dropped   bool           // the connection is abandoned on purpose
	closing   bool           // a 421: the server refused what it answered and closes
	begun     bool           // a command was queued: the server's state changed
	// whole is the entire message when it went as one BDAT LAST: a
	// transaction that failed before anything could be delivered can be
	// repeated from it on another connection.
	whole []byte

	cw chunkWriter // the body's writer with CHUNKING
	op *sendOp     // the send's telemetry; nil when off

	// Room for the usual few commands and recipients without allocating.
	pendingBuf [8]expect
	stateBuf   [4]rcptState
}

// transact runs one transaction on sc: MAIL, RCPT for each recipient, the
// body with DATA or BDAT. ctx bounds it; its end closes the connection.
func (sc *smtpConn) transact(ctx context.Context, ep *endpoint, env envelope, body func(io.Writer) error, op *sendOp) txResult {
	bound := sc.ec.bind(ctx)
	t := &txn{sc: sc, ep: ep, ctx: ctx, env: env, op: op}
	t.pending = t.pendingBuf[:0]
	if n := len(env.rcpts); n <= len(t.stateBuf) {
		t.state = t.stateBuf[:n]
	} else {
		t.state = make([]rcptState, n)
	}
	t.run(op.begin(body))
	op.ended(t)
	res := t.result()
	if err := bound.release(); err != nil {
		// The watchdog closed the connection. When ctx ended after the
		// server's final reply the outcome stands (reporting a failure
		// would invite a duplicate by a retry).
		res.keep, res.retry = false, false
	}
	sc.lastUsed = time.Now()
	return res
}

func (t *txn) run(body func(io.Writer) error) {
	sc, ep := t.sc, t.ep
	utf8 := !isASCII(t.env.from) || !allASCII(t.env.rcpts)
	if utf8 && !sc.has("SMTPUTF8") {
		t.mailErr = errNoSMTPUTF8
		return
	}
	if sc.dirty {
		t.send(expect{kind: cmdRSET}, "RSET")
	}
	sc.writeMail(ep, t.env.from, utf8)
	t.expectReply(expect{kind: cmdMAIL})
	notify := ""
	if len(ep.DSNNotify) > 0 && sc.has("DSN") {
		notify = " NOTIFY=" + strings.Join(ep.DSNNotify, ",")
	}
	w := sc.wire.w
	for i, r := range t.env.rcpts {
		if t.stopped() {
			return
		}
		w.WriteString("RCPT TO:<")
		w.WriteString(r)
		w.WriteString(">")
		w.WriteString(notify)
		w.WriteString("\r\n")
		t.expectReply(expect{kind: cmdRCPT, rcpt: i})
	}
	if !sc.chunking {
		if t.known() && t.abort() {
			return // lockstep: the refusals are known before DATA
		}
		t.send(expect{kind: cmdDATA}, "DATA")
		if !t.sync() || !t.dataOK {
			return
		}
		if t.abort() {
			// The server waits for the body but a recipient was refused
			// and sendpartial is off: closing without the final dot makes
			// it drop the transaction; nothing is delivered.
			t.dropped = true
			return
		}
		t.dotBody(body)
		return
	}
	if !t.oneGroup() {
		if !t.sync() || t.abort() {
			return
		}
	}
	t.chunkBody(body)
}

// oneGroup reports whether the body may go in the group of MAIL and RCPT:
// with PIPELINING, and when no recipient's refusal has to stop the message
// first (one recipient, or sendpartial).
func (t *txn) oneGroup() bool {
	return t.sc.pipelining && (t.ep.SendPartial || len(t.env.rcpts) == 1)
}

// send queues a command; in lockstep (no PIPELINING) and when the group is
// full it is sent and its replies are read at once.
func (t *txn) send(e expect, line string) {
	t.sc.wire.command(line)
	t.expectReply(e)
}

// expectReply records that the command just queued has a reply due.
func (t *txn) expectReply(e expect) {
	t.begun = true
	t.pending = append(t.pending, e)
	if !t.sc.pipelining || len(t.pending) >= maxPipeline {
		t.sync()
	}
}

// known says every command sent so far has its reply.
func (t *txn) known() bool { return len(t.pending) == 0 }

// stopped says nothing more is worth sending: the connection failed or
// MAIL was refused.
func (t *txn) stopped() bool { return t.failure != nil || t.mailErr != nil || t.dataErr != nil }

// abort says the message must not go (once every RCPT reply is known): no
// recipient accepted, or one refused with sendpartial off.
func (t *txn) abort() bool {
	return t.stopped() || t.accepted == 0 || (t.refused > 0 && !t.ep.SendPartial)
}

// sync sends what is queued and reads every reply due. It reports whether
// the connection is still in step.
func (t *txn) sync() bool {
	if t.failure != nil {
		return false
	}
	if err := t.sc.wire.flush(); err != nil {
		t.fail(t.pending[0].op(), err)
		return false
	}
	for i, e := range t.pending {
		r, err := t.sc.wire.readReply()
		if err != nil {
			t.pending = t.pending[i:]
			t.fail(e.op(), err)
			return false
		}
		if !t.dispatch(e, r) {
			t.pending = t.pending[i+1:]
			return false
		}
	}
	t.pending = t.pending[:0]
	return true
}

// fail records the first failure of the connection.
func (t *txn) fail(op string, err error) {
	if t.failure == nil {
		if t.sc.ec.t.aborted.Load() {
			err = errAborted
		}
		t.failure = &protocolError{Op: op, Addr: t.ep.Addr(), Err: withContext(t.ctx, err)}
	}
}

// dispatch applies reply r to the command e it answers. It reports false
// when the connection is lost: a 421, or a reply that cannot answer e.
func (t *txn) dispatch(e expect, r reply) bool {
	t.op.reply(e.kind, r.code)
	if r.code == 421 {
		// The server is closing the channel (RFC 5321, 3.8); whatever it
		// was answering, and everything after, did not happen.
		t.closing = true
		t.fail(e.op(), r.err())
		return false
	}
	class := r.code / 100
	if class != 2 && class != 4 && class != 5 && !(e.kind == cmdDATA && r.code == 354) {
		t.fail(e.op(), fmt.Errorf("%w: %d %s", errOutOfStep, r.code, truncate(r.msg(), 80)))
		return false
	}
	switch e.kind {
	case cmdRSET:
		if class != 2 {
			t.fail("RSET", r.err())
			return false
		}
		t.sc.dirty = false
	case cmdMAIL:
		if class != 2 {
			t.mailErr = mailFromError(t.ep, r.err())
		}
	case cmdRCPT:
		if t.mailErr != nil {
			return true // 503 bad sequence after the refused MAIL
		}
		if class == 2 {
			t.state[e.rcpt] = rcptAccepted
			t.accepted++
			return true
		}
		se := r.err()
		t.state[e.rcpt] = rcptRejected
		if t.rejected == nil {
			t.rejected = make([]*RecipientError, len(t.env.rcpts))
		}
		t.rejected[e.rcpt] = &RecipientError{Address: t.env.rcpts[e.rcpt], Code: se.Code, EnhancedCode: se.EnhancedCode, Message: se.Message}
		t.refused++
	case cmdDATA, cmdBDAT:
		if r.code == 354 {
			if t.mailErr != nil || t.accepted == 0 {
				// A conforming server cannot say this; do not send a body
				// nobody asked for.
				t.fail(e.op(), fmt.Errorf("%w: 354 without a valid recipient", errOutOfStep))
				return false
			}
			t.dataOK = true
		} else if class != 2 {
			t.refuseData(e, r)
		}
	case cmdEndOfMsg:
		t.final = true
		if class == 2 && t.mailErr == nil && t.accepted > 0 && t.dataErr == nil {
			t.delivered = true
		} else if class != 2 {
			t.refuseData(e, r)
		}
	}
	return true
}

// refuseData records the refusal of DATA, a chunk or the message; after a
// refused MAIL or with no recipient accepted it is only the consequence.
func (t *txn) refuseData(e expect, r reply) {
	if t.dataErr == nil && t.mailErr == nil && t.accepted > 0 {
		t.dataErr = &protocolError{Op: e.op(), Addr: t.ep.Addr(), Err: r.err()}
	}
}

// dotBody sends the body after DATA's 354, dot-stuffed, then the final dot.
func (t *txn) dotBody(body func(io.Writer) error) {
	t.started = true
	dw := textproto.NewWriter(t.sc.wire.w).DotWriter()
	if err := body(dw); err != nil {
		// The dot was not sent: the server must not deliver. The
		// connection is in the middle of DATA and cannot be reused.
		t.fail("DATA body", err)
		t.dropped = true
		return
	}
	if err := dw.Close(); err != nil {
		t.fail("end of DATA", err)
		return
	}
	t.committed = true
	t.pending = append(t.pending, expect{kind: cmdEndOfMsg})
	t.sync()
}

// chunkBody sends the body as BDAT chunks, the last with LAST, after the
// commands already queued.
func (t *txn) chunkBody(body func(io.Writer) error) {
	t.started = true
	cw := &t.cw
	*cw = chunkWriter{t: t, buf: t.sc.chunk[:0]}
	if err := body(cw); err != nil {
		if !errors.Is(err, errChunkRefused) {
			t.fail("BDAT body", err)
			t.dropped = true // chunks of an unfinished message may be out
		}
		return
	}
	cw.emit(true)
	if t.failure == nil && cap(cw.buf) <= chunkSize {
		t.sc.chunk = cw.buf[:0] // t.whole is not needed again
	}
}

// chunkWriter collects the body into chunks of up to chunkSize and writes
// each as BDAT.
type chunkWriter struct {
	t       *txn
	buf     []byte
	chunked bool // a chunk before the last went out
}

func (cw *chunkWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if len(cw.buf) == chunkSize {
			if err := cw.emit(false); err != nil {
				return n, err
			}
		}
		k := min(len(p), chunkSize-len(cw.buf))
		cw.buf = append(cw.buf, p[:k]...)
		p = p[k:]
		n += k
	}
	return n, nil
}

// emit writes the collected bytes as one BDAT chunk. The last one is
// flushed and every reply due is read.
func (cw *chunkWriter) emit(last bool) error {
	t := cw.t
	if t.failure != nil {
		return t.failure
	}
	if !last && t.known() && t.stopped() {
		return errChunkRefused
	}
	w := t.sc.wire
	if last {
		w.commandNum("BDAT ", len(cw.buf), " LAST")
	} else {
		w.commandNum("BDAT ", len(cw.buf), "")
	}
	w.w.Write(cw.buf)
	if last && !cw.chunked {
		t.whole = cw.buf
	}
	cw.buf = cw.buf[:0]
	if !last {
		cw.chunked = true
		t.expectReply(expect{kind: cmdBDAT, bdat: true})
		if t.failure != nil {
			return t.failure
		}
		return nil
	}
	t.pending = append(t.pending, expect{kind: cmdEndOfMsg, bdat: true})
	if err := w.flush(); err != nil {
		t.fail("BDAT LAST", err)
		return err
	}
	t.committed = true
	t.sync()
	return nil
}

// result turns what is known into the outcome: every recipient in exactly
// one of Sent, Rejected, Uncertain and Unsent.
func (t *txn) result() txResult {
	res := txResult{keep: t.failure == nil && !t.dropped}
	if t.delivered {
		t.sc.dirty = false
		if t.refused == 0 {
			return res
		}
	} else if t.begun {
		t.sc.dirty = true
	}
	// A 421 answers for everything after it: the server cannot have taken
	// the message.
	uncertain := t.committed && !t.final && t.mailErr == nil && !t.closing
	if t.failure != nil && !uncertain && t.ctx.Err() == nil && !t.dropped {
		res.retry = !t.started || t.whole != nil
		res.whole = t.whole
	}
	se := &SendError{}
	for i, rcpt := range t.env.rcpts {
		switch {
		case t.state[i] == rcptRejected:
			se.Rejected = append(se.Rejected, t.rejected[i])
		case t.delivered:
			se.Sent = append(se.Sent, rcpt)
		case uncertain:
			se.Uncertain = append(se.Uncertain, rcpt)
		default:
			se.Unsent = append(se.Unsent, rcpt)
		}
	}
	switch {
	case t.failure != nil:
		t.failure.uncertain = uncertain
		se.Err = t.failure
	case t.mailErr != nil:
		se.Err = &protocolError{Op: "MAIL FROM", Addr: t.ep.Addr(), Err: t.mailErr}
	case t.dataErr != nil:
		se.Err = t.dataErr
	}
	res.err = se
	return res
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

// writeMail queues the MAIL FROM command with the parameters the server
// supports.
func (sc *smtpConn) writeMail(ep *endpoint, from string, utf8 bool) {
	w := sc.wire.w
	w.WriteString("MAIL FROM:<")
	w.WriteString(from)
	w.WriteString(">")
	if sc.has("8BITMIME") {
		w.WriteString(" BODY=8BITMIME")
	}
	if utf8 {
		w.WriteString(" SMTPUTF8")
	}
	if ep.DSNRet != "" && sc.has("DSN") {
		w.WriteString(" RET=" + ep.DSNRet)
	}
	w.WriteString("\r\n")
}
