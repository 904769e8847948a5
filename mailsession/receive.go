package mailsession

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strings"
	"sync"
	"time"
)

// ReceiveOptions configure Receive.
type ReceiveOptions struct {
	// Delete removes each message whose handler returned nil. Deletions are
	// committed when the run ends (POP3 QUIT, IMAP UID EXPUNGE); a message
	// whose handler failed stays on the server to be handed over again.
	// A handled message is also remembered in Memory, so it is never
	// handed over again even when its deletion cannot be committed (the
	// connection breaks before the commit, the commit fails, an IMAP
	// server without UIDPLUS holds another client's \Deleted message):
	// later runs skip it and mark it for deletion again, until a commit
	// succeeds and the server no longer lists it. Only with a memory that
	// survives restarts (OpenFileUIDMemory) does this hold when the
	// process dies between the handler and the commit.
	Delete bool
	// Folder is the IMAP folder to read; "" is INBOX. POP3 has INBOX only.
	Folder string
	// MaxMessages limits the messages handed over per run; 0: no limit.
	MaxMessages int
	// CommitEvery, with Delete, commits the deletions after every so many
	// handled messages (closing and reopening the store), so that a crash
	// in a long run re-delivers at most that many; 0: once, at the end.
	CommitEvery int
	// Memory remembers the messages whose handler returned nil, so that
	// each is handed over once: without Delete they stay on the server;
	// with Delete they are remembered until the server no longer lists
	// them (see Delete). A message remembered without Delete is, in a run
	// with Delete sharing the memory, deleted without being handed over
	// again. Each run forgets the UIDs the server no longer lists (Retain).
	// Nil: the session's in-memory memory (lost on restart; use
	// OpenFileUIDMemory to survive restarts).
	Memory UIDMemory
	// PollInterval, when positive, makes Receive run again after each run
	// until ctx ends or the session closes. After a failed run the wait
	// doubles with each consecutive failure, up to 10 × PollInterval; a
	// successful run resets it. Zero: one run.
	//
	// With an IMAP store whose server offers IDLE (RFC 2177), the wait is
	// push rather than a sleep: Receive keeps one more connection in IDLE
	// on Folder and starts a run as soon as the server reports new
	// messages (typically within milliseconds of their arrival), whatever
	// the wait left, backoff included (runs then follow the mail, not the
	// clock). A run still comes at each PollInterval, as a safety net.
	// IDLE is renewed every 25 minutes (before RFC 2177's 29); an idle
	// connection silent for 3 minutes is probed (DONE, NOOP, each within
	// mail.imap.timeout) and replaced when it does not answer. POP3, a
	// server without IDLE, NoIdle, or an idle connection that fails
	// (logged; it is replaced, after a growing delay of at most
	// PollInterval) mean plain polling meanwhile.
	PollInterval time.Duration
	// NoIdle turns IMAP IDLE off: with PollInterval, Receive only polls.
	// JavaMail has no property for this (its IMAPFolder.idle is an
	// explicit call), so none is read.
	NoIdle bool
	// OnError, with PollInterval, is called with the error of each failed
	// run (a network failure, a locked POP3 maildrop, a refused login, the
	// *HandlerError of a handler that failed, a failed commit), after it
	// is logged and before the wait; polling goes on. It runs on
	// Receive's goroutine: a slow OnError delays the next run. Without
	// PollInterval the run's error is returned instead.
	OnError func(error)
}

// maxBackoff is how many poll intervals Receive waits at most after
// consecutive failed runs.
const maxBackoff = 10

// pollWait is the wait after a run, given the consecutive failed runs so
// far (0 after a success): interval, doubled per failure after the first,
// at most maxBackoff intervals.
func pollWait(interval time.Duration, failures int) time.Duration {
	w := interval
	for i := 1; i < failures && w < maxBackoff*interval; i++ {
		w *= 2
	}
	return min(w, maxBackoff*interval)
}

// Received is one message handed to a Receive handler.
type Received struct {
	UID  string // the Store UID (see MessageInfo)
	Size int64  // in bytes, as the server reports it
	// Raw streams the exact message bytes; valid during the handler call.
	// Parts reads the same stream: use Raw or Parts, not both.
	Raw io.Reader
	// Header is the parsed message header; nil when the header is not
	// parseable or longer than 1 MiB (Raw still has it).
	Header mail.Header
}

// Subject returns the decoded Subject header.
func (r *Received) Subject() string {
	if r.Header == nil {
		return ""
	}
	return decodeHeaderText(r.Header.Get("Subject"))
}

// decodeHeaderText decodes the RFC 2047 encoded-words of a header field's
// text, keeping the text as it is when it cannot.
func decodeHeaderText(s string) string {
	if d, err := new(mime.WordDecoder).DecodeHeader(s); err == nil {
		return d
	}
	return s
}

// From returns the From header's addresses.
func (r *Received) From() ([]*mail.Address, error) {
	if r.Header == nil {
		return nil, mail.ErrHeaderNotPresent
	}
	return r.Header.AddressList("From")
}

// HandlerError is a handler's failure (or panic) for one message; the
// message was left on the server.
type HandlerError struct {
	UID string
	Err error
}

// Error names the message and the handler's error.
func (e *HandlerError) Error() string {
	return fmt.Sprintf("mailsession: handler failed for message %s: %s", e.UID, innerText(e.Err))
}

// Unwrap returns the handler's error.
func (e *HandlerError) Unwrap() error { return e.Err }

// receiveState is the Receive state a Session keeps: its default UID memory.
type receiveState struct {
	once sync.Once
	mem  *MemoryUIDMemory
	// waitHook, set by tests, sees each wait between polls.
	waitHook func(time.Duration)
	// Set by tests: the IDLE renewal and quiet periods and the first
	// reconnection delay (0: idleRenew, idleQuiet, idleRetryMin), and a
	// hook that sees the idle connection's events ("idle", "renew",
	// "probe", "lost", "unsupported"; on its goroutine).
	idleRenew, idleQuiet, idleRetryMin time.Duration
	idleHook                           func(string)
}

func (rs *receiveState) memory() UIDMemory {
	rs.once.Do(func() { rs.mem = &MemoryUIDMemory{} })
	return rs.mem
}

// Receive reads the store and calls h for each message, oldest first, with
// its exact bytes. Unlike Liferay's mail listeners it never loses mail: with
// Delete only the messages whose handler returned nil are deleted, when the
// run ends; the messages handed over are remembered (see
// ReceiveOptions.Memory) and not handed over again. A failing handler does
// not stop the run: its message stays, and the error, a *HandlerError, is
// returned (joined with the others) at the end. A broken connection ends
// the run with a *StoreError and deletes nothing. The caller's ctx ending
// ends the run with a *StoreError matching ErrTemporary and ctx.Err().
//
// With PollInterval, runs repeat: a failed run, whatever the failure, is
// logged, passed to ReceiveOptions.OnError and followed by a longer wait
// (see PollInterval); polling goes on. Receive returns nil when ctx ends.
// On IMAP, unless NoIdle, the wait is push (IMAP IDLE): a new message
// starts a run within moments of its arrival, not at the next poll; the
// idle connection is one more IMAP connection, closed when Receive
// returns, and the runs, their deletions and commits are as without it
// (see PollInterval).
//
// When the session's Close or Shutdown begins, Receive returns ErrClosed
// (joined with the run's errors, if any): Shutdown lets the run finish the
// message being handled and commit first; Close stops it at once (the
// handler's ctx ends, cause ErrClosed, and nothing is deleted that was
// not committed). A Receive called after Close or Shutdown returns
// ErrClosed.
func (s *Session) Receive(ctx context.Context, opts ReceiveOptions, h func(context.Context, *Received) error) error {
	if h == nil {
		return errors.New("mailsession: Receive needs a handler")
	}
	if s.set.store == nil {
		return ErrNoStore
	}
	if opts.MaxMessages < 0 || opts.CommitEvery < 0 {
		return fmt.Errorf("mailsession: ReceiveOptions.MaxMessages (%d) and CommitEvery (%d) must not be negative", opts.MaxMessages, opts.CommitEvery)
	}
	if !s.life.beginRun() {
		return ErrClosed
	}
	defer s.life.runs.Done()
	user := ctx
	ctx, cancel := s.life.bind(ctx)
	defer cancel()
	mem := opts.Memory
	if mem == nil {
		mem = s.defaultUIDMemory()
	}
	var news <-chan struct{} // IDLE's signal; nil: polling only
	if opts.PollInterval > 0 && !opts.NoIdle && strings.HasPrefix(s.set.store.Protocol, "imap") {
		idle := s.startIdle(ctx, opts.Folder, opts.PollInterval)
		defer idle.stop()
		news = idle.news
	}
	failures := 0
	for {
		select { // what was signalled so far, this run lists
		case <-news:
		default:
		}
		err := s.receiveOnce(ctx, opts, mem, h)
		if s.life.isClosed() {
			if err == nil {
				return ErrClosed
			}
			return errors.Join(ErrClosed, err)
		}
		if opts.PollInterval <= 0 {
			return err
		}
		if user.Err() != nil {
			return nil
		}
		if err != nil {
			failures++
		} else {
			failures = 0
		}
		wait := pollWait(opts.PollInterval, failures)
		if err != nil {
			s.log.Warn("mailsession: receive failed; polling goes on", "store", s.set.store.String(), "err", err, "retry_in", wait)
			if opts.OnError != nil {
				opts.OnError(err)
			}
		}
		if s.recv.waitHook != nil {
			s.recv.waitHook(wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			if s.life.isClosed() {
				return ErrClosed
			}
			return nil
		case <-s.life.draining:
			t.Stop()
			return ErrClosed
		case <-t.C:
		case <-news:
			t.Stop()
		}
	}
}

// receiveOnce is one run: open, hand over, commit. It stops after the
// message being handled when the session begins to shut down.
func (s *Session) receiveOnce(ctx context.Context, opts ReceiveOptions, mem UIDMemory, h func(context.Context, *Received) error) (err error) {
	ctx, run := s.tel.startReceive(ctx, s.set.store)
	defer func() { run.end(ctx, err) }()
	st, err := s.openStore(ctx, opts.Folder)
	if err != nil {
		return err
	}
	run.opened(st)
	var errs []error
	fail := func(err error) error {
		st.Abort() // nothing is deleted
		return errors.Join(append(errs, err)...)
	}
	list, err := st.List(ctx)
	if err != nil {
		return fail(err)
	}
	key := mailboxKey(st.ep, opts.Folder)
	present := make([]string, len(list))
	for i, m := range list {
		present[i] = m.UID
	}
	if err := mem.Retain(key, present); err != nil {
		return fail(err)
	}
	handed, marked := 0, 0
	for _, info := range list {
		if opts.MaxMessages > 0 && handed >= opts.MaxMessages {
			break
		}
		if s.life.isClosed() {
			break // Shutdown: commit what was handled
		}
		seen, err := mem.Seen(key, info.UID)
		if err != nil {
			return fail(err)
		}
		if seen {
			if opts.Delete {
				// Handled before, its deletion not committed: again.
				if err := st.Delete(ctx, info.UID); err != nil && !errors.Is(err, ErrNoMessage) {
					return fail(err)
				} else if err == nil {
					run.markedDeleted()
				}
			}
			continue
		}
		if err := ctx.Err(); err != nil {
			return fail(st.ep.storeCtxErr(ctx, "receive", err))
		}
		rc, size, err := st.fetch(ctx, info.UID)
		if errors.Is(err, ErrNoMessage) {
			continue // gone meanwhile (another client)
		}
		if err != nil {
			return fail(st.ep.storeCtxErr(ctx, "fetch", err))
		}
		handed++
		run.handedOver(ctx)
		herr := callHandler(ctx, h, newReceived(info.UID, size, rc))
		if err := rc.Close(); err != nil {
			// The stream broke (the handler may have seen a short
			// message): nothing of this run is deleted.
			return fail(st.ep.storeCtxErr(ctx, "fetch", err))
		}
		if herr != nil {
			errs = append(errs, &HandlerError{UID: info.UID, Err: herr})
			run.handlerFailed(ctx)
			continue
		}
		// Remembered first: whatever happens to the deletion, the
		// message is not handed over again.
		if err := mem.Remember(key, info.UID); err != nil {
			if !opts.Delete {
				return fail(err)
			}
			errs = append(errs, err) // the deletion below still holds
		}
		if !opts.Delete {
			continue
		}
		if err := st.Delete(ctx, info.UID); err != nil {
			return fail(err)
		}
		marked++
		run.markedDeleted()
		if opts.CommitEvery > 0 && marked == opts.CommitEvery {
			// Commit this batch; the UIDs of the listing stay valid.
			marked = 0
			err := st.CloseContext(ctx)
			run.committed(ctx, err)
			if err != nil {
				return errors.Join(append(errs, err)...)
			}
			if s.life.isClosed() {
				return errors.Join(errs...) // Shutdown: committed, stop here
			}
			if st, err = s.openStore(ctx, opts.Folder); err != nil {
				return errors.Join(append(errs, err)...)
			}
			run.opened(st)
		}
	}
	if err := st.CloseContext(ctx); err != nil {
		errs = append(errs, err)
	} else {
		run.committed(ctx, nil)
	}
	return errors.Join(errs...)
}

// callHandler runs h, turning a panic into an error: the message stays.
func callHandler(ctx context.Context, h func(context.Context, *Received) error, r *Received) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("handler panicked: %v", v)
		}
	}()
	return h(ctx, r)
}

// maxHeader is the longest header Received parses.
const maxHeader = 1 << 20

// newReceived reads the header off rc for Header and hands over the whole
// message in Raw.
func newReceived(uid string, size int64, rc io.Reader) *Received {
	br := bufio.NewReaderSize(rc, 32<<10)
	var head bytes.Buffer
	for head.Len() <= maxHeader {
		line, err := br.ReadSlice('\n')
		head.Write(line)
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			break
		}
		if err == nil && (len(line) == 1 || (len(line) == 2 && line[0] == '\r')) {
			break // the blank line ends the header
		}
	}
	r := &Received{UID: uid, Size: size, Raw: &rawStream{r: io.MultiReader(bytes.NewReader(head.Bytes()), br)}}
	if head.Len() <= maxHeader {
		if m, err := mail.ReadMessage(bytes.NewReader(head.Bytes())); err == nil {
			r.Header = m.Header
		}
	}
	return r
}

// mailboxKey names the account and folder for the UID memory.
func mailboxKey(ep *endpoint, folder string) string {
	proto := strings.TrimSuffix(ep.Protocol, "s")
	if folder == "" || proto == "pop3" {
		folder = "INBOX"
	}
	return proto + "://" + ep.User + "@" + ep.Addr() + "/" + folder
}

// defaultUIDMemory is the session's in-memory UID memory.
func (s *Session) defaultUIDMemory() UIDMemory { return s.recv.memory() }
