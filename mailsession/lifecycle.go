package mailsession

import (
	"context"
	"errors"
	"sync"
	"time"
)

// lifecycle is what Close and Shutdown stop besides the pool: the Receive
// calls in progress and the open Stores (Receive's and the caller's).
type lifecycle struct {
	once sync.Once
	// draining is closed when Shutdown or Close begins: no new Receive
	// or Store, polling loops return, runs stop after their message.
	draining chan struct{}
	// stop ends (cause ErrClosed) when everything must stop at once:
	// Close, or Shutdown once its ctx ended or the work finished.
	stop context.Context
	kill context.CancelCauseFunc

	mu     sync.Mutex
	closed bool // draining is closed
	stores map[*Store]struct{}
	runs   sync.WaitGroup // Receive calls in progress
}

// storeQuitTimeout bounds the QUIT or LOGOUT that Close and Shutdown say to
// the open Stores, all of them together.
const storeQuitTimeout = 2 * time.Second

func (l *lifecycle) init() {
	l.once.Do(func() {
		l.draining = make(chan struct{})
		l.stop, l.kill = context.WithCancelCause(context.Background())
		l.stores = map[*Store]struct{}{}
	})
}

// beginDrain refuses new work; it reports whether this call did it.
func (l *lifecycle) beginDrain() bool {
	l.init()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.closed = true
	close(l.draining)
	return true
}

// isClosed reports whether Shutdown or Close began.
func (l *lifecycle) isClosed() bool {
	l.init()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// beginRun counts a Receive call in progress; false once closed.
func (l *lifecycle) beginRun() bool {
	l.init()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.runs.Add(1)
	return true
}

// bind derives a context from ctx that also ends (cause ErrClosed) when
// everything stops.
func (l *lifecycle) bind(ctx context.Context) (context.Context, context.CancelFunc) {
	l.init()
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(l.stop, func() { cancel(ErrClosed) })
	return ctx, func() {
		stop()
		cancel(nil)
	}
}

// track records an open Store; false (and the store is cut) once closed.
func (l *lifecycle) track(st *Store) bool {
	l.init()
	l.mu.Lock()
	if !l.closed {
		l.stores[st] = struct{}{}
		l.mu.Unlock()
		return true
	}
	l.mu.Unlock()
	st.Abort()
	return false
}

// forget drops a Store that was closed or aborted.
func (l *lifecycle) forget(st *Store) {
	l.init()
	l.mu.Lock()
	delete(l.stores, st)
	l.mu.Unlock()
}

// stopAll stops everything at once: contexts of Receive runs and store
// dials end with cause ErrClosed, and every open Store is closed without
// committing (QUIT or LOGOUT within storeQuitTimeout when it is idle, the
// connection cut when it is busy).
func (l *lifecycle) stopAll() {
	l.beginDrain()
	l.kill(ErrClosed)
	l.mu.Lock()
	stores := make([]*Store, 0, len(l.stores))
	for st := range l.stores {
		stores = append(stores, st)
	}
	clear(l.stores)
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), storeQuitTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, st := range stores {
		wg.Go(func() { st.closeBySession(ctx) })
	}
	wg.Wait()
}

// waitRuns waits for the Receive calls in progress until ctx ends.
func (l *lifecycle) waitRuns(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		l.runs.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops everything at once: sends in flight fail with an error
// matching ErrClosed (their connections are cut), idle SMTP connections
// get QUIT; Receive calls return ErrClosed promptly (a handler running is
// told by its ctx ending, cause ErrClosed; nothing it handled is deleted
// unless already committed); every open Store, including those returned
// by OpenStore and OpenFolder, is closed without committing its
// deletions (POP3 QUIT or IMAP LOGOUT when it is idle, within 2 seconds;
// its connection cut when a call is in progress). Later sends, Receive
// calls and OpenStore fail with ErrClosed. Close does not wait for
// handlers that ignore their ctx. Close is idempotent: calls after the
// first, or after Shutdown, return nil. On a session FromPortalProperties
// found under mail.session.jndi.name, Close does nothing: the session
// belongs to whoever bound it.
func (s *Session) Close() error {
	if s.borrowed {
		return nil
	}
	s.life.stopAll()
	return s.pool.close()
}

// Shutdown closes the session gracefully, as http.Server.Shutdown: it
// refuses new work at once (Send, SendRaw, Receive and OpenStore fail
// with ErrClosed), then waits, until ctx ends, for the sends in flight to
// finish and for each Receive in progress to finish the message being
// handled and commit its deletions (Receive then returns ErrClosed; one
// waiting between polls returns at once). Then it closes everything as
// Close does, including Stores the caller opened and has not closed.
//
// When ctx ends first, Shutdown stops what is still running as Close does
// (sends fail with ErrClosed, Receive runs end without committing) and
// returns ctx.Err(); otherwise it returns nil. Shutdown may be called
// more than once, and Close may be called while it waits to stop
// everything at once.
func (s *Session) Shutdown(ctx context.Context) error {
	if s.borrowed {
		return nil
	}
	s.life.beginDrain()
	s.pool.refuse() // at once, not when the goroutine below gets to it
	var wg sync.WaitGroup
	var poolErr, runErr error
	wg.Go(func() { poolErr = s.pool.shutdown(ctx) })
	wg.Go(func() { runErr = s.life.waitRuns(ctx) })
	wg.Wait()
	s.life.stopAll()
	if err := errors.Join(poolErr, runErr); err != nil {
		return ctx.Err()
	}
	return nil
}
