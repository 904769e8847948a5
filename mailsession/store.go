package mailsession

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// MessageInfo is one message of a Store listing.
type MessageInfo struct {
	// UID identifies the message across sessions: the POP3 UIDL, or for
	// IMAP "<UIDVALIDITY>.<UID>" (a new UIDVALIDITY gives new UIDs).
	UID  string
	Size int64 // in bytes, as the server reports it
}

// Store is an open connection to the session's mailbox (mail.store.protocol
// pop3, pop3s, imap or imaps). Deletions are only marked until Close commits
// them: a Store that breaks or is abandoned deletes nothing. A Store is safe
// for concurrent use, but one message is read at a time: until a Fetch
// reader is closed, other calls fail with ErrStoreBusy (Abort still works).
type Store struct {
	ep   *endpoint
	drv  storeDriver
	life *lifecycle // the session's, which closes the store with it
	// cut is set when the session's Close or Shutdown closed the store.
	cut atomic.Bool

	mu      sync.Mutex
	deleted []string // marked by Delete, committed by Close
	done    bool
	reading bool // a Fetch reader is open: the driver belongs to it
}

// storeDriver is one protocol behind Store.
type storeDriver interface {
	list(ctx context.Context) ([]MessageInfo, error)
	fetch(ctx context.Context, uid string) (io.ReadCloser, int64, error)
	// known reports whether uid is in the mailbox as last listed (listing
	// first if needed).
	known(ctx context.Context, uid string) (bool, error)
	// commit deletes uids and ends the session politely.
	commit(ctx context.Context, uids []string) error
	// abort closes the connection; nothing is deleted.
	abort()
	info() storeInfo
}

// storeInfo is what Check reports about a store connection.
type storeInfo struct {
	TLSVersion     string
	Capabilities   []string
	AuthMechanisms []string
	Mechanism      string // "USER" for POP3 USER/PASS, "LOGIN" for IMAP LOGIN
	Messages       int
	UIDValidity    uint32
}

// StoreError is a failed store operation: the protocol step, the server and
// the cause (a server reply, a network error, a timeout, the caller's ctx
// ending). It matches ErrAuth (and ErrPermanent) for a refused login;
// ErrTemporary for network failures (a refused or cut connection),
// timeouts, replies that say to retry later (POP3 [IN-USE], [SYS/TEMP],
// IMAP [UNAVAILABLE]) and the caller's ctx ending (then errors.Is(err,
// ctx.Err()) holds too); else ErrPermanent. Its text never holds a
// password.
type StoreError struct {
	Protocol string // pop3, pop3s, imap, imaps
	Addr     string // host:port
	Op       string // "connect", "STLS", "login", "list", "fetch", "delete", "commit", ...
	// Code is the server's response code, if any: "AUTH", "IN-USE",
	// "SYS/TEMP" (POP3), "AUTHENTICATIONFAILED", "UNAVAILABLE" (IMAP).
	Code string
	Err  error
	auth bool
	temp bool
	// seen is what the connection showed before it failed (TLS,
	// capabilities, mechanisms), for Check.
	seen *storeInfo
}

// withSeen attaches inf, what the connection showed before err, to err
// when it is a *StoreError.
func withSeen(err error, inf storeInfo) error {
	var se *StoreError
	if errors.As(err, &se) && se.seen == nil {
		se.seen = &inf
	}
	return err
}

// Error names the protocol, the server, the step and the cause.
func (e *StoreError) Error() string {
	return fmt.Sprintf("mailsession: %s %s %s: %s", e.Protocol, e.Addr, e.Op, innerText(e.Err))
}

// Unwrap returns the cause.
func (e *StoreError) Unwrap() error { return e.Err }

// Is matches ErrAuth, ErrTemporary and ErrPermanent as described above.
func (e *StoreError) Is(target error) bool {
	switch target {
	case ErrAuth:
		return e.auth
	case ErrTemporary:
		return e.temp
	case ErrPermanent:
		return !e.temp
	}
	return false
}

// Temporary reports whether retrying later may succeed.
func (e *StoreError) Temporary() bool { return e.temp }

// explicitMechanisms reports whether mail.<p>.auth.mechanisms is set: the
// store then logs in with SASL (AUTH / AUTHENTICATE) rather than USER/PASS
// or LOGIN.
func (s *Session) explicitMechanisms(ep *endpoint) bool {
	r := &propReader{props: s.set.props, proto: ep.Protocol, base: strings.TrimSuffix(ep.Protocol, "s")}
	v, _, ok := r.lookup("auth.mechanisms")
	return ok && v != ""
}

// storeErr wraps err of op; it classifies network failures, timeouts and
// an ended context as temporary. An error that already is a *StoreError
// is returned as it is.
func (ep *endpoint) storeErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var se *StoreError
	if errors.As(err, &se) {
		return err
	}
	if pe, ok := err.(*protocolError); ok && pe.Op == "dial" {
		err = pe.Err // the StoreError names the server and the step itself
	}
	e := &StoreError{Protocol: ep.Protocol, Addr: ep.Addr(), Op: op, Err: err}
	var ne net.Error
	e.temp = errors.As(err, &ne) || errors.Is(err, errConnLost) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
	return e
}

// storeCtxErr is storeErr for a failure under ctx: when ctx has ended the
// error also matches ctx.Err().
func (ep *endpoint) storeCtxErr(ctx context.Context, op string, err error) error {
	var se *StoreError
	if err == nil || errors.As(err, &se) {
		return err
	}
	return ep.storeErr(op, withContext(ctx, err))
}

// ErrNoMessage is returned by Fetch and Delete for a UID that is not in
// the mailbox (deleted meanwhile, or from another UIDVALIDITY).
var ErrNoMessage = errors.New("mailsession: no such message in the store")

// ErrStoreClosed is returned by a Store used after Close or Abort.
var ErrStoreClosed = errors.New("mailsession: store closed")

// ErrStoreBusy is returned by a Store call made while a Fetch reader is
// still open.
var ErrStoreBusy = errors.New("mailsession: store busy: close the Fetch reader first")

// errStoreClosedBySession is returned by a Store that its session's Close
// or Shutdown closed: it matches ErrStoreClosed and ErrClosed.
var errStoreClosedBySession error = storeClosedBySession{}

type storeClosedBySession struct{}

func (storeClosedBySession) Error() string {
	return "mailsession: store closed by the session's Close or Shutdown; its deletions were not committed"
}

func (storeClosedBySession) Is(target error) bool {
	return target == ErrStoreClosed || target == ErrClosed
}

// usable reports why the store cannot take a call; st.mu is held.
func (st *Store) usable() error {
	switch {
	case st.cut.Load():
		return errStoreClosedBySession
	case st.done:
		return ErrStoreClosed
	case st.reading:
		return ErrStoreBusy
	}
	return nil
}

// OpenStore connects to the store (mail.store.protocol), starts TLS as
// configured, logs in and, for IMAP, selects INBOX. It fails with
// ErrNoStore when no store protocol is configured, and with ErrClosed
// once the session's Close or Shutdown began. The session's Close and
// Shutdown close a Store left open, without committing its deletions;
// the Store's calls then fail with an error matching ErrStoreClosed and
// ErrClosed.
func (s *Session) OpenStore(ctx context.Context) (*Store, error) {
	return s.openStore(ctx, "")
}

// OpenFolder is OpenStore on another IMAP folder ("" or "INBOX": the
// inbox). POP3 has only the inbox: another name fails.
func (s *Session) OpenFolder(ctx context.Context, folder string) (*Store, error) {
	return s.openStore(ctx, folder)
}

// openStore opens the store on folder (IMAP; "" is INBOX).
func (s *Session) openStore(ctx context.Context, folder string) (*Store, error) {
	ep := s.set.store
	if ep == nil {
		return nil, ErrNoStore
	}
	if s.life.isClosed() {
		return nil, ErrClosed
	}
	if folder != "" && !strings.HasPrefix(ep.Protocol, "imap") {
		if !strings.EqualFold(folder, "INBOX") {
			return nil, fmt.Errorf("mailsession: POP3 has only INBOX, not folder %q", folder)
		}
	}
	// Close interrupts a connection being opened.
	ctx, cancel := s.life.bind(ctx)
	defer cancel()
	var drv storeDriver
	var err error
	if strings.HasPrefix(ep.Protocol, "pop3") {
		drv, err = s.openPOP3(ctx, ep)
	} else {
		drv, err = s.openIMAP(ctx, ep, folder)
	}
	if err != nil {
		if context.Cause(ctx) == ErrClosed {
			return nil, ErrClosed
		}
		return nil, ep.storeCtxErr(ctx, "connect", err)
	}
	st := &Store{ep: ep, drv: drv, life: &s.life}
	if !s.life.track(st) {
		return nil, ErrClosed
	}
	return st, nil
}

// List returns the messages in the mailbox, oldest first. For IMAP,
// messages flagged \Deleted (by this or another client) are left out: they
// are on their way out.
func (st *Store) List(ctx context.Context) ([]MessageInfo, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.usable(); err != nil {
		return nil, err
	}
	return st.drv.list(ctx)
}

// Fetch returns the exact bytes of the message with uid, streamed from the
// server. Close the reader before the next call on the Store; ctx bounds the
// reading too, until Close.
func (st *Store) Fetch(ctx context.Context, uid string) (io.ReadCloser, error) {
	rc, _, err := st.fetch(ctx, uid)
	return rc, err
}

func (st *Store) fetch(ctx context.Context, uid string) (io.ReadCloser, int64, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.usable(); err != nil {
		return nil, 0, err
	}
	rc, size, err := st.drv.fetch(ctx, uid)
	if err != nil {
		return nil, 0, err
	}
	st.reading = true
	return &fetchReader{ReadCloser: rc, st: st}, size, nil
}

// fetchReader gives the driver back to the Store when closed.
type fetchReader struct {
	io.ReadCloser
	st   *Store
	once sync.Once
}

func (r *fetchReader) Close() error {
	err := r.ReadCloser.Close()
	r.once.Do(func() {
		r.st.mu.Lock()
		r.st.reading = false
		r.st.mu.Unlock()
	})
	return err
}

// Delete marks messages for deletion; Close commits. A uid not in the
// mailbox fails with ErrNoMessage and marks nothing.
func (st *Store) Delete(ctx context.Context, uids ...string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.usable(); err != nil {
		return err
	}
	for _, u := range uids {
		ok, err := st.drv.known(ctx, u)
		if err != nil {
			return err
		}
		if !ok {
			return st.ep.storeErr("delete", fmt.Errorf("%w: %q", ErrNoMessage, u))
		}
	}
	for _, u := range uids {
		if !slices.Contains(st.deleted, u) {
			st.deleted = append(st.deleted, u)
		}
	}
	return nil
}

// Close commits the deletions and ends the session politely (POP3: RSET if
// mail.pop3.rsetbeforequit, DELE, QUIT; IMAP: UID STORE \Deleted and UID
// EXPUNGE, or a plain EXPUNGE when the server has no UIDPLUS and no other
// message is flagged \Deleted; then LOGOUT). It waits at most the store's
// connect plus read timeout. Close is idempotent.
func (st *Store) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), st.ep.ConnectTimeout+st.ep.ReadTimeout)
	defer cancel()
	return st.CloseContext(ctx)
}

// CloseContext is Close bounded by ctx.
func (st *Store) CloseContext(ctx context.Context) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.cut.Load() {
		if !st.done {
			st.done = true
			st.drv.abort()
		}
		return errStoreClosedBySession
	}
	if st.done {
		return nil
	}
	if st.reading {
		return ErrStoreBusy
	}
	st.done = true
	st.life.forget(st)
	return st.ep.storeCtxErr(ctx, "commit", st.drv.commit(ctx, st.deleted))
}

// Abort closes the connection without committing anything: no message is
// deleted. Abort after Close does nothing.
func (st *Store) Abort() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.done {
		st.done = true
		st.life.forget(st)
		st.drv.abort()
	}
}

// closeBySession closes the store for the session's Close or Shutdown,
// committing nothing: an idle store says QUIT or LOGOUT (within ctx), a
// busy one has its connection cut, so the call in progress fails now.
func (st *Store) closeBySession(ctx context.Context) {
	st.cut.Store(true)
	if !st.mu.TryLock() {
		// A call is in progress. The drivers' abort may be called from
		// another goroutine and closes the socket at once, but the IMAP
		// one then waits for its reader to stop, which may wait for a
		// message being read: do not wait for it.
		go st.drv.abort()
		return
	}
	defer st.mu.Unlock()
	if st.done {
		return
	}
	st.done = true
	if st.reading {
		go st.drv.abort() // as above: a Fetch reader is open
		return
	}
	st.drv.commit(ctx, nil) // RSET if rsetbeforequit, QUIT; or LOGOUT
}
