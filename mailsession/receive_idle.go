package mailsession

import (
	"context"
	"errors"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/jmailgo/jmail/mailsession/internal/imapstore"
)

// Push receive: while a polling Receive waits between runs, an idleWaiter
// holds one more IMAP connection, SELECTed on Receive's folder, in IDLE
// (RFC 2177), and tells Receive as soon as the server reports new
// messages. The runs themselves open their own connection as before, so
// that their guarantees (deletions committed at the end, CommitEvery,
// Shutdown after the message being handled) stay what they were; the idle
// connection only wakes them. It keeps idling during the runs too: a
// message that arrives while a run lists the folder is signalled and
// picked up by the next run, at once.

const (
	// idleRenew is how long one IDLE lasts before DONE and IDLE again:
	// RFC 2177 has servers drop a client idling for 30 minutes and asks
	// clients to renew before 29.
	idleRenew = 25 * time.Minute
	// idleQuiet is how long the idle connection may stay silent before it
	// is probed (DONE, NOOP, IDLE again), each step within the read
	// timeout: a connection that does not answer is replaced. It is
	// shorter than the idle timeouts of common NAT and load balancers (4
	// to 6 minutes) and longer than Dovecot's "* OK Still here" (every 2
	// minutes by default), so a Dovecot connection is seldom probed.
	idleQuiet = 3 * time.Minute
	// idleRetryMin is the first wait before reconnecting after the idle
	// connection failed; it doubles with each failure in a row, up to the
	// poll interval. A connection that idled for a third of idleQuiet (a
	// minute) is replaced at once when it fails: one that a proxy cuts
	// after a few seconds backs off instead of reconnecting, logging in
	// and starting a run every few seconds.
	idleRetryMin = time.Second
)

// errNoIdle says the server does not offer IDLE.
var errNoIdle = errors.New("mailsession: the IMAP server does not offer IDLE")

// idleWaiter is the idle connection's goroutine and what it signals.
type idleWaiter struct {
	s        *Session
	folder   string
	poll     time.Duration
	renew    time.Duration
	quiet    time.Duration
	retryMin time.Duration
	hook     func(string) // s.recv.idleHook

	news   chan struct{} // signalled (buffer of one) when new messages arrive
	cancel context.CancelFunc
	done   chan struct{}
}

// startIdle starts an idleWaiter for a polling Receive on folder, under
// ctx (Receive's, bound to the session's life). Stop it with stop.
func (s *Session) startIdle(ctx context.Context, folder string, poll time.Duration) *idleWaiter {
	rs := &s.recv
	w := &idleWaiter{
		s: s, folder: folder, poll: poll,
		renew: orDefault(rs.idleRenew, idleRenew), quiet: orDefault(rs.idleQuiet, idleQuiet),
		retryMin: orDefault(rs.idleRetryMin, idleRetryMin), hook: rs.idleHook,
		news: make(chan struct{}, 1), done: make(chan struct{}),
	}
	ctx, w.cancel = context.WithCancel(ctx)
	go w.run(ctx)
	return w
}

// orDefault is v when set, else def.
func orDefault(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

// stop ends the idle connection (DONE and LOGOUT when it is healthy,
// within storeQuitTimeout) and waits for its goroutine.
func (w *idleWaiter) stop() {
	w.cancel()
	<-w.done
}

func (w *idleWaiter) signal() {
	select {
	case w.news <- struct{}{}:
	default:
	}
}

func (w *idleWaiter) event(e string) {
	if w.hook != nil {
		w.hook(e)
	}
}

// run keeps an idle connection until ctx ends, replacing it when it
// fails; it gives up, and Receive only polls, when the server does not
// offer IDLE.
func (w *idleWaiter) run(ctx context.Context) {
	defer close(w.done)
	ep := w.s.set.store
	retry := w.retryMin
	for {
		began := time.Now()
		idled, err := w.connection(ctx)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errNoIdle) {
			w.s.log.Info("mailsession: the IMAP server does not offer IDLE; Receive polls", "store", ep.String(), "poll_interval", w.poll)
			w.event("unsupported")
			return
		}
		wait := retry
		if idled && time.Since(began) >= max(w.retryMin, w.quiet/3) {
			wait = 0 // it worked for a while: replace it at once
			retry = w.retryMin
		} else {
			retry = min(2*retry, max(w.poll, w.retryMin))
		}
		w.s.log.Warn("mailsession: IMAP IDLE failed; Receive polls meanwhile", "store", ep.String(), "err", err, "retry_in", wait)
		w.event("lost")
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// connection opens one idle connection and idles on it until it fails or
// ctx ends; idled reports whether IDLE was reached.
func (w *idleWaiter) connection(ctx context.Context) (idled bool, err error) {
	st, err := w.s.openIMAP(ctx, w.s.set.store, w.folder)
	if err != nil {
		return false, err
	}
	cl := st.c
	var id *imapstore.Idle
	defer func() {
		// A polite end (DONE, LOGOUT) when the connection is healthy,
		// however ctx ended; else it is cut.
		qctx, cancel := context.WithTimeout(context.Background(), storeQuitTimeout)
		defer cancel()
		if err == nil && id != nil {
			id.Done(qctx)
		}
		cl.Logout(qctx)
		cl.Close()
	}()
	caps, err := cl.Caps(ctx)
	if err != nil {
		return false, st.opErr(ctx, "CAPABILITY", err)
	}
	if !caps.Has(imap.CapIdle) {
		return false, errNoIdle
	}
	// A message that came after the last run listed the folder but before
	// this SELECT is in its count, not in an EXISTS: one run to be sure.
	w.signal()
	renew := time.NewTimer(w.renew)
	defer renew.Stop()
	quiet := time.NewTimer(w.quiet)
	defer quiet.Stop()
	for {
		cur, err := cl.Idle(ctx)
		if err != nil {
			return idled, st.opErr(ctx, "IDLE", err)
		}
		id, idled = cur, true
		w.event("idle")
		probe, err := w.idling(ctx, cl, renew, quiet)
		if err != nil {
			return idled, st.opErr(ctx, "IDLE", err)
		}
		if ctx.Err() != nil {
			return idled, nil // the deferred DONE and LOGOUT
		}
		id = nil
		if err := cur.Done(ctx); err != nil {
			return idled, st.opErr(ctx, "DONE", err)
		}
		if probe {
			w.event("probe")
			if err := cl.Noop(ctx); err != nil {
				return idled, st.opErr(ctx, "NOOP", err)
			}
		} else {
			w.event("renew")
		}
		renew.Reset(w.renew)
	}
}

// idling waits while IDLE runs, passing on news, until ctx ends, the
// connection ends (an error), IDLE is due for renewal (probe false) or the
// connection has been silent for the quiet period (probe true).
func (w *idleWaiter) idling(ctx context.Context, cl *imapstore.Client, renew, quiet *time.Timer) (probe bool, err error) {
	for {
		quiet.Reset(time.Until(cl.LastRead().Add(w.quiet)))
		select {
		case <-ctx.Done():
			return false, nil
		case <-cl.News():
			w.signal()
		case <-cl.Gone():
			return false, imapstore.ErrClosed
		case <-renew.C:
			return false, nil
		case <-quiet.C:
			if time.Since(cl.LastRead()) >= w.quiet {
				return true, nil
			}
		}
	}
}
