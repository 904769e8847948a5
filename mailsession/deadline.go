package mailsession

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"time"
)

// timeoutConn gives every Read and Write its own deadline: now plus the
// configured read or write timeout, shortened to the deadline of the context
// currently bound with bind. Deadlines set by the protocol libraries
// (go-smtp sets and clears its own around commands but not around the DATA
// body) are ignored: this type is the single owner of the deadlines.
type timeoutConn struct {
	net.Conn
	readTimeout  time.Duration
	writeTimeout time.Duration
	limit        atomic.Int64 // UnixNano of the bound context's deadline; 0: none
	aborted      atomic.Bool  // closed by abort
}

func newTimeoutConn(c net.Conn, read, write time.Duration) *timeoutConn {
	return &timeoutConn{Conn: c, readTimeout: read, writeTimeout: write}
}

func (c *timeoutConn) deadline(d time.Duration) (time.Time, bool) {
	t := time.Now().Add(d)
	if l := c.limit.Load(); l != 0 && l < t.UnixNano() {
		return time.Unix(0, l), true
	}
	return t, false
}

func (c *timeoutConn) Read(p []byte) (int, error) {
	t, byCtx := c.deadline(c.readTimeout)
	if err := c.Conn.SetReadDeadline(t); err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	return n, c.timeoutErr(err, byCtx, "read", c.readTimeout)
}

func (c *timeoutConn) Write(p []byte) (int, error) {
	t, byCtx := c.deadline(c.writeTimeout)
	if err := c.Conn.SetWriteDeadline(t); err != nil {
		return 0, err
	}
	n, err := c.Conn.Write(p)
	return n, c.timeoutErr(err, byCtx, "write", c.writeTimeout)
}

// timeoutErr names a deadline's cause: the bound context's deadline (the
// context may not have noticed yet), or the per-I/O timeout.
func (c *timeoutConn) timeoutErr(err error, byCtx bool, op string, d time.Duration) error {
	if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	if byCtx {
		return context.DeadlineExceeded
	}
	return &timeoutError{op: op, d: d}
}

// SetDeadline is a no-op: deadlines are set per I/O by Read and Write.
func (c *timeoutConn) SetDeadline(time.Time) error { return nil }

// SetReadDeadline is a no-op, see SetDeadline.
func (c *timeoutConn) SetReadDeadline(time.Time) error { return nil }

// SetWriteDeadline is a no-op, see SetDeadline.
func (c *timeoutConn) SetWriteDeadline(time.Time) error { return nil }

// bind ties the connection to ctx until release is called: every I/O
// deadline is capped by ctx's deadline, and a watchdog closes the connection
// as soon as ctx is done, unblocking any I/O in progress.
func (c *timeoutConn) bind(ctx context.Context) binding {
	if dl, ok := ctx.Deadline(); ok {
		c.limit.Store(dl.UnixNano())
	} else {
		c.limit.Store(0)
	}
	b := binding{c: c, ctx: ctx}
	if ctx.Done() != nil { // a context that never ends needs no watchdog
		b.stop = context.AfterFunc(ctx, func() { c.Conn.Close() })
	}
	return b
}

// binding is a connection bound to a context by bind.
type binding struct {
	c    *timeoutConn
	ctx  context.Context
	stop func() bool
}

// release ends the binding. It reports ctx's error if the watchdog fired
// (the connection is then closed and must be discarded).
func (b binding) release() error {
	b.c.limit.Store(0)
	if b.stop != nil && !b.stop() {
		return b.ctx.Err()
	}
	return nil
}

// abort closes the connection under whoever is using it and marks it:
// their errors are then errAborted.
func (c *timeoutConn) abort() {
	c.aborted.Store(true)
	c.Conn.Close()
}

// errAborted is the failure of an operation whose connection was closed
// by Session.Close or the end of Session.Shutdown's wait: it matches
// ErrClosed and, like the end of a context, ErrTemporary.
var errAborted error = &ctxEndError{err: ErrClosed}

// timeoutError is a read or write that exceeded its per-I/O timeout.
type timeoutError struct {
	op string
	d  time.Duration
}

func (e *timeoutError) Error() string   { return fmt.Sprintf("%s timed out after %v", e.op, e.d) }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true }
func (e *timeoutError) Unwrap() error   { return os.ErrDeadlineExceeded }

var _ net.Error = (*timeoutError)(nil)

// withContext returns err, or, when ctx ended while the operation ran (the
// failure was caused by the cancellation, deadline or session close), an
// error that matches ctx.Err() and ctx's cause instead of the
// closed-connection error the watchdog provoked.
func withContext(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	cerr := ctx.Err()
	if cerr == nil || errors.Is(err, cerr) {
		return err
	}
	return &ctxEndError{err: cerr, cause: context.Cause(ctx)}
}

// ctxEndError is an operation stopped because its context ended. It
// matches the context's error and its cause (ErrClosed when the session
// was closed), and ErrTemporary: the operation may succeed another time.
type ctxEndError struct {
	err, cause error
}

func (e *ctxEndError) Error() string {
	if e.cause != nil && e.cause != e.err {
		return e.cause.Error()
	}
	return e.err.Error()
}

func (e *ctxEndError) Unwrap() []error {
	if e.cause != nil && e.cause != e.err {
		return []error{e.err, e.cause}
	}
	return []error{e.err}
}
