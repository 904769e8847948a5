package imapstore

import (
	"context"
	"fmt"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
)

// Idle is an IDLE command in progress (RFC 2177): the server may report
// changes of the selected mailbox at any time (see News) and the client
// sends no other command until Done.
type Idle struct {
	cl  *Client
	cmd *imapclient.IdleCommand
}

// Idle starts IDLE on the selected mailbox and returns once the server
// has agreed (its "+" continuation), within ctx and the read timeout.
// Until Done, other commands fail with ErrBusy. The caller renews IDLE
// (Done, then Idle again) before 29 minutes (RFC 2177): imapclient's own
// renewal comes only after 28.
func (cl *Client) Idle(ctx context.Context) (*Idle, error) {
	end, err := cl.begin(ctx)
	if err != nil {
		return nil, err
	}
	cl.trace("IDLE", "mailbox", cl.mailbox)
	cmd, err := cl.c.Idle()
	if err != nil {
		return nil, end(err)
	}
	if err := end(nil); err != nil {
		// ctx ended or the watchdog fired just as the server agreed: the
		// connection is closed (guard), the command ends with it.
		cmd.Close()
		return nil, err
	}
	id := &Idle{cl: cl, cmd: cmd}
	cl.idle = id
	return id, nil
}

// Done ends IDLE with DONE and waits for the server's tagged answer within
// ctx and the read timeout: a server that does not answer is a timeout
// (ErrTimeout) and the connection is closed. Done after Done does nothing.
func (id *Idle) Done(ctx context.Context) error {
	cl := id.cl
	if cl.idle != id {
		return nil
	}
	cl.idle = nil
	if cl.broken != nil {
		id.cmd.Close()
		return fmt.Errorf("%w: %v", ErrClosed, cl.broken)
	}
	if cl.closed.Load() {
		id.cmd.Close()
		return ErrClosed
	}
	end := cl.guard(ctx)
	cl.trace("DONE")
	err := id.cmd.Close()
	if err == nil {
		err = id.cmd.Wait()
	}
	return end(err)
}

// News is signalled (a buffered channel of one) when the server reports
// that the selected mailbox holds more messages than it last said (an
// EXISTS above the count of SELECT, EXISTS and EXPUNGE responses so far),
// during IDLE or any other command. RECENT, which imapclient does not
// pass on, always comes with such an EXISTS.
func (cl *Client) News() <-chan struct{} { return cl.news }

// Gone is closed once the connection has ended (closed, broken or cut by
// the server).
func (cl *Client) Gone() <-chan struct{} { return cl.c.Closed() }

// LastRead is when the server last sent data (or, before it ever did, when
// the connection was made).
func (cl *Client) LastRead() time.Time {
	if ns := cl.wc.lastRead.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return cl.wc.created
}

// unilateralMailbox notes an EXISTS (imapclient's mailbox update) and
// signals News when the mailbox grew.
func (cl *Client) unilateralMailbox(d *imapclient.UnilateralDataMailbox) {
	if d.NumMessages == nil {
		return
	}
	cl.countMu.Lock()
	grew := *d.NumMessages > cl.count
	cl.count = *d.NumMessages
	cl.countMu.Unlock()
	if grew {
		select {
		case cl.news <- struct{}{}:
		default: // already signalled
		}
	}
}

// unilateralExpunge notes an EXPUNGE: the mailbox holds one message less.
func (cl *Client) unilateralExpunge(uint32) {
	cl.countMu.Lock()
	if cl.count > 0 {
		cl.count--
	}
	cl.countMu.Unlock()
}
