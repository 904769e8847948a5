package mailtest

import (
	"maps"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Faults make the server misbehave so that failure paths can be tested with
// real traffic. The zero Faults is a well-behaved server.
type Faults struct {
	RejectRecipients map[string]int // recipient (any case) → SMTP reply code (550, 450, 451 ...)
	FailData         int            // reply code at the end of DATA (e.g. 554, 451); 0 = accept
	CutDataAfter     int64          // close the SMTP connection after N bytes of DATA; 0 = never
	// CloseAfterDot makes the server take the message (it is stored and
	// delivered) and then close the connection without replying to the
	// final dot or BDAT LAST: the client cannot know it was accepted.
	CloseAfterDot bool
	// CutAtRcpt closes the connection, without a reply, when the Nth RCPT
	// of a transaction (1-based) arrives; 0 = never.
	CutAtRcpt int
	// Reply421AtRcpt answers the Nth RCPT of a transaction (1-based) with
	// "421 4.3.0" and closes the connection, as a server shutting down in
	// the middle of a pipelined group; 0 = never.
	Reply421AtRcpt int
	CutFetchAfter  int64         // close a POP3 RETR/TOP or IMAP FETCH connection after N bytes of the response; 0 = never
	ReplyDelay     time.Duration // delay before every reply, all protocols
	RefuseAuth     bool          // every authentication attempt fails (535 / -ERR / NO)
	NoSTARTTLS     bool          // plain ports do not offer STARTTLS / STLS (for connections accepted afterwards)
	NoUIDPlus      bool          // IMAP offers IMAP4rev1 only, without UIDPLUS; UID EXPUNGE is refused (connections accepted afterwards)
	// NoIdle makes IMAP offer neither IDLE nor IMAP4rev2 (which implies
	// it) and refuse the IDLE command, for connections accepted
	// afterwards; the plain port then offers no STARTTLS either.
	NoIdle bool
	// FetchUIDLast makes IMAP FETCH responses put the UID item after the
	// other items, the message literal included
	// ("* 1 FETCH (BODY[] {n}\r\n... UID 7)"), which IMAP allows.
	FetchUIDLast bool
}

// faultState holds the current Faults; readers never block writers.
type faultState struct {
	p atomic.Pointer[Faults]
}

func (f *faultState) get() *Faults {
	if p := f.p.Load(); p != nil {
		return p
	}
	return &Faults{}
}

// SetFaults replaces the faults. They apply to the commands (and, for
// NoSTARTTLS, the connections) that come after; safe for concurrent use.
func (s *Server) SetFaults(f Faults) {
	if f.RejectRecipients != nil {
		lower := make(map[string]int, len(f.RejectRecipients))
		for k, v := range f.RejectRecipients {
			lower[lowerASCII(k)] = v
		}
		f.RejectRecipients = lower
	}
	s.faults.p.Store(&f)
}

// Faults returns a copy of the current faults.
func (s *Server) Faults() Faults {
	f := *s.faults.get()
	f.RejectRecipients = maps.Clone(f.RejectRecipients)
	return f
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// faultConn wraps every accepted connection: it delays writes by
// Faults.ReplyDelay and, while a fetch is being answered, closes the
// connection once Faults.CutFetchAfter bytes have been written.
type faultConn struct {
	net.Conn
	faults *faultState

	writes atomic.Int64 // Write calls so far

	mu        sync.Mutex
	closed    bool
	closeHook func()
	swallow   bool // report failed writes as done (see swallowWriteErrors)
	counting  bool
	limit     int64
	written   int64
}

func newFaultConn(c net.Conn, f *faultState) *faultConn {
	return &faultConn{Conn: c, faults: f}
}

// Write delays, then writes; in counting mode it writes at most the bytes
// left before the cut and then closes the connection.
func (c *faultConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	if d := c.faults.get().ReplyDelay; d > 0 {
		time.Sleep(d)
	}
	c.mu.Lock()
	swallow := c.swallow
	if !c.counting {
		c.mu.Unlock()
		return c.write(p, swallow)
	}
	left := c.limit - c.written
	if int64(len(p)) <= left {
		c.written += int64(len(p))
		c.mu.Unlock()
		return c.write(p, swallow)
	}
	c.written = c.limit
	c.mu.Unlock()
	n, _ := c.Conn.Write(p[:left])
	c.Close()
	if swallow {
		return len(p), nil
	}
	return n, net.ErrClosed
}

func (c *faultConn) write(p []byte, swallow bool) (int, error) {
	n, err := c.Conn.Write(p)
	if err != nil && swallow {
		c.Close()
		return len(p), nil
	}
	return n, err
}

// swallowWriteErrors makes a failed write close the connection and report
// success: go-imap's imapserver (v2.0.0-beta.8) never releases its encoder
// lock when a FETCH response fails to write, and its connection goroutine
// then blocks for ever; this way it goes on to read, fails and ends.
func (c *faultConn) swallowWriteErrors() {
	c.mu.Lock()
	c.swallow = true
	c.mu.Unlock()
}

// Read reads; a read ends the counting mode started by startFetch, as the
// client only sends its next command once the response has arrived.
func (c *faultConn) Read(p []byte) (int, error) {
	c.endFetch()
	return c.Conn.Read(p)
}

// startFetch enters counting mode if Faults.CutFetchAfter is set.
func (c *faultConn) startFetch() {
	limit := c.faults.get().CutFetchAfter
	c.mu.Lock()
	c.counting, c.limit, c.written = limit > 0, limit, 0
	c.mu.Unlock()
}

// endFetch leaves counting mode.
func (c *faultConn) endFetch() {
	c.mu.Lock()
	c.counting = false
	c.mu.Unlock()
}

// writeCount returns the number of Write calls so far.
func (c *faultConn) writeCount() int64 { return c.writes.Load() }

// onClose sets a function called once when the connection is closed (at
// once if it already is).
func (c *faultConn) onClose(fn func()) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		fn()
		return
	}
	c.closeHook = fn
	c.mu.Unlock()
}

// Close closes the connection and runs the close hook once.
func (c *faultConn) Close() error {
	err := c.Conn.Close()
	c.mu.Lock()
	first := !c.closed
	c.closed = true
	hook := c.closeHook
	c.mu.Unlock()
	if first && hook != nil {
		hook()
	}
	return err
}
