package mailsession

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"
)

// pool keeps live SMTP connections for reuse across sends. At most size
// connections exist at once (each send holds one); idle ones are kept for
// the pool timeout, checked with NOOP before reuse when they rested longer
// than idleCheckAfter, and replaced when dead.
type pool struct {
	s   *Session
	ep  *endpoint
	sem chan struct{}
	// idleCheck is how long a connection may rest before it is checked
	// with NOOP before reuse.
	idleCheck time.Duration

	// stop is closed when the pool stops the sends in flight: waiting for
	// a connection ends, and the connections in use are aborted.
	stop chan struct{}

	mu      sync.Mutex
	idle    []*smtpConn // most recently used last
	busy    map[*smtpConn]struct{}
	closed  bool // no new sends
	aborted bool // the sends in flight are stopped
	reaper  *time.Timer
	active  sync.WaitGroup // sends in progress
}

// quitTimeout bounds the QUITs said to the idle connections when the pool
// closes: a server that does not answer costs this, not a read timeout per
// connection.
const quitTimeout = 2 * time.Second

func newPool(s *Session, ep *endpoint) *pool {
	return &pool{s: s, ep: ep, sem: make(chan struct{}, ep.PoolSize), idleCheck: idleCheckAfter,
		stop: make(chan struct{}), busy: map[*smtpConn]struct{}{}}
}

// abort stops the sends in flight: their connections are closed under
// them (their errors match ErrClosed), and those waiting for one give up.
func (p *pool) abort() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.aborted {
		return
	}
	p.aborted = true
	close(p.stop)
	for sc := range p.busy {
		sc.ec.t.abort()
	}
}

// hold registers sc as in use by a send; false when the pool was aborted
// meanwhile (sc is then closed).
func (p *pool) hold(sc *smtpConn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.aborted {
		sc.close()
		return false
	}
	p.busy[sc] = struct{}{}
	return true
}

func (p *pool) unhold(sc *smtpConn) {
	p.mu.Lock()
	delete(p.busy, sc)
	p.mu.Unlock()
}

// send runs one transaction on a pooled or new connection. A reused
// connection found dead before MAIL was accepted is replaced and the
// message sent on the new one, once; nothing is ever sent twice.
func (p *pool) send(ctx context.Context, env envelope, body func(io.Writer) error, op *sendOp) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return &SendError{Unsent: env.rcpts, Err: ErrClosed}
	}
	p.active.Add(1)
	p.mu.Unlock()
	defer p.active.Done()

	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return &SendError{Unsent: env.rcpts, Err: fmt.Errorf("waiting for a pooled connection: %w", &ctxEndError{err: ctx.Err(), cause: context.Cause(ctx)})}
	case <-p.stop:
		return &SendError{Unsent: env.rcpts, Err: fmt.Errorf("waiting for a pooled connection: %w", errAborted)}
	}
	defer func() { <-p.sem }()

	for attempt := 0; ; attempt++ {
		sc, reused, err := p.get(ctx)
		if err != nil {
			return &SendError{Unsent: env.rcpts, Err: err}
		}
		if !p.hold(sc) {
			return &SendError{Unsent: env.rcpts, Err: errAborted}
		}
		op.connection(sc, reused)
		res := sc.transact(ctx, p.ep, env, body, op)
		p.unhold(sc)
		if res.retry && reused && attempt == 0 {
			sc.close()
			p.s.tel.reconnect(ctx, "retry")
			if whole := res.whole; whole != nil {
				body = func(w io.Writer) error {
					_, err := w.Write(whole)
					return err
				}
			}
			continue
		}
		p.put(ctx, sc, res.keep)
		return res.err
	}
}

// get returns an idle connection (checked when it rested a while) or a new
// one. reused tells the caller the connection served an earlier send.
func (p *pool) get(ctx context.Context) (sc *smtpConn, reused bool, err error) {
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			break
		}
		sc = p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		idle := time.Since(sc.lastUsed)
		if idle > p.ep.PoolTimeout {
			sc.close() // the reaper missed it; the server has likely dropped it
			continue
		}
		if sc.wire.r.Buffered() > 0 || sc.ec.peek.peerSpoke() {
			// The server spoke unasked (a 421 before closing an idle
			// connection) or closed it: a transaction written now would
			// consume the body and be lost.
			sc.close()
			p.s.tel.reconnect(ctx, "closed")
			continue
		}
		if idle > p.idleCheck {
			if err := sc.noop(ctx); err != nil {
				sc.close()
				if ctx.Err() != nil {
					return nil, false, ctx.Err()
				}
				p.s.tel.reconnect(ctx, "noop")
				continue
			}
		}
		return sc, true, nil
	}
	sc, _, err = dialSMTP(ctx, p.ep, p.s.trace)
	p.s.tel.dialed(ctx, p.ep, sc, err)
	return sc, false, err
}

// put returns a connection to the pool, or closes it when it is broken,
// when idle connections are not kept, or when the pool is closed (QUIT
// then bounded by ctx, the send's).
func (p *pool) put(ctx context.Context, sc *smtpConn, keep bool) {
	if !keep {
		sc.close()
		return
	}
	p.mu.Lock()
	if p.closed || p.ep.PoolTimeout == 0 {
		p.mu.Unlock()
		sc.quit(ctx, p.ep)
		return
	}
	p.idle = append(p.idle, sc)
	if p.reaper == nil {
		p.reaper = time.AfterFunc(p.ep.PoolTimeout, p.reap)
	}
	p.mu.Unlock()
}

// reap closes the idle connections older than the pool timeout.
func (p *pool) reap() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return // close says QUIT on every idle connection itself
	}
	var old []*smtpConn
	keep := p.idle[:0]
	for _, sc := range p.idle {
		if time.Since(sc.lastUsed) >= p.ep.PoolTimeout {
			old = append(old, sc)
		} else {
			keep = append(keep, sc)
		}
	}
	p.idle = keep
	p.reaper = nil
	if len(keep) > 0 {
		p.reaper = time.AfterFunc(p.ep.PoolTimeout-time.Since(keep[0].lastUsed), p.reap)
	}
	// Close waits for these QUITs as for sends in progress: no goroutine
	// outlives it.
	p.active.Add(1)
	p.mu.Unlock()
	defer p.active.Done()
	for _, sc := range old {
		sc.quit(context.Background(), p.ep)
	}
}

// refuse makes later sends fail with ErrClosed; those in progress go on.
func (p *pool) refuse() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
}

// shutdown refuses new sends and waits for those in progress; when ctx
// ends first it stops them (as close does) and returns ctx's error. Then it
// says QUIT on every idle connection, within quitTimeout.
func (p *pool) shutdown(ctx context.Context) error {
	p.refuse()
	done := make(chan struct{})
	go func() {
		p.active.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		p.abort()
		<-done // their connections are closed: they end now
	}
	p.abort()
	p.s.tel.stopObserving()
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	if p.reaper != nil {
		p.reaper.Stop()
		p.reaper = nil
	}
	p.mu.Unlock()
	qctx, cancel := context.WithTimeout(context.Background(), quitTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, sc := range idle {
		wg.Go(func() { sc.quit(qctx, p.ep) })
	}
	wg.Wait()
	return err
}

// close stops the sends in progress (they fail with ErrClosed) and says
// QUIT on every idle connection.
func (p *pool) close() error {
	p.abort()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p.shutdown(ctx)
	return nil
}
