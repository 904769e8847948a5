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
	// whose handler failed, or any message when the connection breaks or
	// the process dies, stays on the server to be fetched again.
	Delete bool
	// Folder is the IMAP folder to read; "" is INBOX. POP3 has INBOX only.
	Folder string
	// MaxMessages limits the messages handed over per run; 0: no limit.
	MaxMessages int
	// CommitEvery, with Delete, commits the deletions after every so many
	// handled messages (closing and reopening the store), so that a crash
	// in a long run re-delivers at most that many; 0: once, at the end.
	CommitEvery int
	// Memory remembers the messages handed over when Delete is off, so
	// that each is handed over once. Nil: the session's in-memory memory
	// (lost on restart; use OpenFileUIDMemory to survive restarts).
	Memory UIDMemory
	// PollInterval, when positive, makes Receive run again after each run
	// until ctx ends. Zero: one run.
	PollInterval time.Duration
}

// Received is one message handed to a Receive handler.
type Received struct {
	UID  string // the Store UID (see MessageInfo)
	Size int64  // in bytes, as the server reports it
	// Raw streams the exact message bytes; valid during the handler call.
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
	s := r.Header.Get("Subject")
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

func (e *HandlerError) Error() string {
	return fmt.Sprintf("mailsession: handler failed for message %s: %v", e.UID, e.Err)
}

func (e *HandlerError) Unwrap() error { return e.Err }

// receiveState is the Receive state a Session keeps: its default UID memory.
type receiveState struct {
	once sync.Once
	mem  *MemoryUIDMemory
}

func (rs *receiveState) memory() UIDMemory {
	rs.once.Do(func() { rs.mem = &MemoryUIDMemory{} })
	return rs.mem
}

// Receive reads the store and calls h for each message, oldest first, with
// its exact bytes. Unlike Liferay's mail listeners it never loses mail: with
// Delete only the messages whose handler returned nil are deleted, when the
// run ends; without Delete the messages handed over are remembered (see
// ReceiveOptions.Memory) and not handed over again. A failing handler does
// not stop the run: its message stays, and the error, a *HandlerError, is
// returned (joined with the others) at the end. A broken connection ends
// the run with a *StoreError and deletes nothing.
//
// With PollInterval, runs repeat until ctx ends; failures of a run are
// logged and polling goes on, except permanent store failures (refused
// login, bad settings) and a closed session, which are returned. Receive then returns nil when
// ctx ends.
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
	mem := opts.Memory
	if mem == nil && !opts.Delete {
		mem = s.defaultUIDMemory()
	}
	for {
		err := s.receiveOnce(ctx, opts, mem, h)
		if opts.PollInterval <= 0 {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			var se *StoreError
			if errors.Is(err, ErrClosed) || (errors.As(err, &se) && !se.Temporary()) {
				return err
			}
			s.log.Warn("mailsession: receive", "store", s.set.store.String(), "err", err)
		}
		t := time.NewTimer(opts.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// receiveOnce is one run: open, hand over, commit.
func (s *Session) receiveOnce(ctx context.Context, opts ReceiveOptions, mem UIDMemory, h func(context.Context, *Received) error) error {
	st, err := s.openStore(ctx, opts.Folder)
	if err != nil {
		return err
	}
	list, err := st.List(ctx)
	if err != nil {
		st.Abort()
		return err
	}
	key := mailboxKey(st.ep, opts.Folder)
	if mem != nil && !opts.Delete {
		present := make([]string, len(list))
		for i, m := range list {
			present[i] = m.UID
		}
		if err := mem.Retain(key, present); err != nil {
			st.Abort()
			return err
		}
	}
	var handlerErrs []error
	handed, marked := 0, 0
	for _, info := range list {
		if opts.MaxMessages > 0 && handed >= opts.MaxMessages {
			break
		}
		if !opts.Delete {
			seen, err := mem.Seen(key, info.UID)
			if err != nil {
				st.Abort()
				return errors.Join(append(handlerErrs, err)...)
			}
			if seen {
				continue
			}
		}
		if err := ctx.Err(); err != nil {
			st.Abort()
			return errors.Join(append(handlerErrs, err)...)
		}
		rc, size, err := st.fetch(ctx, info.UID)
		if errors.Is(err, ErrNoMessage) {
			continue // gone meanwhile (another client)
		}
		if err != nil {
			st.Abort() // nothing is deleted
			return errors.Join(append(handlerErrs, err)...)
		}
		handed++
		herr := callHandler(ctx, h, newReceived(info.UID, size, rc))
		if err := rc.Close(); err != nil {
			// The stream broke (the handler may have seen a short
			// message): nothing of this run is deleted.
			st.Abort()
			return errors.Join(append(handlerErrs, err)...)
		}
		if herr != nil {
			handlerErrs = append(handlerErrs, &HandlerError{UID: info.UID, Err: herr})
			continue
		}
		if opts.Delete {
			err = st.Delete(ctx, info.UID)
			marked++
		} else {
			err = mem.Remember(key, info.UID)
		}
		if err == nil && opts.Delete && opts.CommitEvery > 0 && marked == opts.CommitEvery {
			// Commit this batch; the UIDs of the listing stay valid.
			marked = 0
			if err = st.CloseContext(ctx); err == nil {
				st, err = s.openStore(ctx, opts.Folder)
				if err != nil {
					return errors.Join(append(handlerErrs, err)...)
				}
			}
		}
		if err != nil {
			st.Abort()
			return errors.Join(append(handlerErrs, err)...)
		}
	}
	if err := st.CloseContext(ctx); err != nil {
		handlerErrs = append(handlerErrs, err)
	}
	return errors.Join(handlerErrs...)
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
	r := &Received{UID: uid, Size: size, Raw: io.MultiReader(bytes.NewReader(head.Bytes()), br)}
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
