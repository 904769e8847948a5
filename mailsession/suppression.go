package mailsession

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// Suppressor is a list of addresses not to mail: hard bounces, complaints,
// unsubscribes. A session given one (WithSuppression) consults it before
// every envelope; a suppressed recipient is not sent to and is reported in
// SendError.Rejected, never silently dropped.
type Suppressor interface {
	// Suppressed reports whether address must not be mailed, and why.
	// Addresses compare ignoring case. An error fails the send: a list
	// that cannot be read does not let mail through it should stop.
	Suppressed(ctx context.Context, address string) (reason string, suppressed bool, err error)
}

// SuppressionAdder is a Suppressor that addresses can be added to, such as
// MemorySuppression and FileSuppression; SuppressBounces adds to one.
type SuppressionAdder interface {
	Suppressor
	// Suppress adds address with its reason; adding it again keeps the
	// first reason.
	Suppress(ctx context.Context, address, reason string) error
}

// WithSuppression makes the session consult sup before every envelope
// (Send, SendRaw, and so the outbox's attempts): a suppressed recipient is
// not sent to and is reported in SendError.Rejected with the reason, Code
// 0 (no server replied) and so permanent. When every recipient is
// suppressed nothing connects to the server.
func WithSuppression(sup Suppressor) Option { return func(c *config) { c.suppressor = sup } }

// suppress splits env's recipients into those to send to and those sup
// suppresses.
func suppress(ctx context.Context, sup Suppressor, env envelope) (envelope, []*RecipientError, error) {
	if sup == nil {
		return env, nil, nil
	}
	var keep []string
	var refused []*RecipientError
	for _, r := range env.rcpts {
		reason, yes, err := sup.Suppressed(ctx, r)
		if err != nil {
			return env, nil, fmt.Errorf("mailsession: suppression list: %w", err)
		}
		if !yes {
			keep = append(keep, r)
			continue
		}
		msg := "suppressed, not sent (WithSuppression)"
		if reason != "" {
			msg = "suppressed, not sent (WithSuppression): " + reason
		}
		refused = append(refused, &RecipientError{Address: r, Message: msg})
	}
	env.rcpts = keep
	return env, refused, nil
}

// sendChecked is pool.send after the suppression list (the suppressed
// recipients join the outcome's Rejected) and the DKIM signature.
func (s *Session) sendChecked(ctx context.Context, env envelope, body func(io.Writer) error, op *sendOp) error {
	op.envelope(env)
	env, refused, err := suppress(ctx, s.suppressor, env)
	if err != nil {
		return err
	}
	if len(env.rcpts) > 0 && s.set.dkim != nil {
		signed, release, err := s.set.dkim.sign(ctx, body)
		if err != nil {
			return &SendError{Unsent: env.rcpts, Rejected: refused, Err: err}
		}
		defer release()
		body = signed
	}
	if len(refused) == 0 {
		return s.pool.send(ctx, env, body, op)
	}
	if len(env.rcpts) == 0 {
		return &SendError{Rejected: refused}
	}
	err = s.pool.send(ctx, env, body, op)
	if err == nil {
		return &SendError{Sent: env.rcpts, Rejected: refused}
	}
	var se *SendError
	if errors.As(err, &se) {
		se.Rejected = append(se.Rejected, refused...)
		return se
	}
	return &SendError{Unsent: env.rcpts, Rejected: refused, Err: err}
}

// MemorySuppression is a Suppressor held in memory, safe for concurrent
// use. The zero value is empty and ready.
type MemorySuppression struct {
	mu sync.RWMutex
	m  map[string]string // lower-cased address → reason
}

// Suppressed implements Suppressor.
func (m *MemorySuppression) Suppressed(_ context.Context, address string) (string, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	reason, ok := m.m[strings.ToLower(address)]
	return reason, ok, nil
}

// Suppress implements SuppressionAdder.
func (m *MemorySuppression) Suppress(_ context.Context, address, reason string) error {
	m.add(address, reason)
	return nil
}

// add records address and reports whether it is new.
func (m *MemorySuppression) add(address, reason string) bool {
	k := strings.ToLower(strings.TrimSpace(address))
	if k == "" {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.m[k]; ok {
		return false
	}
	if m.m == nil {
		m.m = map[string]string{}
	}
	m.m[k] = reason
	return true
}

// Len is how many addresses are suppressed.
func (m *MemorySuppression) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.m)
}

// FileSuppression is a Suppressor kept in a file: one line per address,
// "address<TAB>reason", appended and synced as addresses are added, so that
// what was added survives a crash. Lines starting with # and blank lines
// are ignored, so the file can be written by hand too. Safe for
// concurrent use within one process.
type FileSuppression struct {
	mem  MemorySuppression
	mu   sync.Mutex // serialises appends
	path string
}

// OpenFileSuppression loads the list at path; a missing file is an empty
// list (created on the first Suppress).
func OpenFileSuppression(path string) (*FileSuppression, error) {
	f := &FileSuppression{path: path}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mailsession: suppression list: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		addr, reason, _ := strings.Cut(line, "\t")
		f.mem.add(addr, strings.TrimSpace(reason))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("mailsession: suppression list %s: %w", path, err)
	}
	return f, nil
}

// Suppressed implements Suppressor.
func (f *FileSuppression) Suppressed(ctx context.Context, address string) (string, bool, error) {
	return f.mem.Suppressed(ctx, address)
}

// Suppress implements SuppressionAdder: the address is written to the file
// (and synced) before it counts as suppressed.
func (f *FileSuppression) Suppress(_ context.Context, address, reason string) error {
	address = strings.TrimSpace(address)
	if address == "" || strings.ContainsAny(address, "\t\r\n") {
		return fmt.Errorf("mailsession: suppression list: bad address %q", address)
	}
	reason = strings.Join(strings.Fields(reason), " ") // one line
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok, _ := f.mem.Suppressed(context.Background(), address); ok {
		return nil
	}
	fh, err := os.OpenFile(f.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("mailsession: suppression list: %w", err)
	}
	_, werr := fmt.Fprintf(fh, "%s\t%s\n", address, reason)
	if werr == nil {
		werr = fh.Sync()
	}
	if cerr := fh.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("mailsession: suppression list %s: %w", f.path, werr)
	}
	f.mem.add(address, reason)
	return nil
}

// Len is how many addresses are suppressed.
func (f *FileSuppression) Len() int { return f.mem.Len() }

// SuppressBounces returns a Receive handler that adds to sup the
// recipients of every hard bounce (a failed delivery with a 5.x.x status)
// and every complaint (RFC 5965 abuse report) it is given, and then
// passes the message to next (nil: none). A message that is not a
// bounce, or a temporary one, goes to next alone. An error adding to sup
// is the handler's error, so the message is not deleted and comes again.
func SuppressBounces(sup SuppressionAdder, next func(context.Context, *Received) error) func(context.Context, *Received) error {
	return func(ctx context.Context, m *Received) error {
		var buf bytes.Buffer
		b, err := ParseBounce(io.TeeReader(m.Raw, &buf))
		if err == nil {
			for _, r := range b.Recipients {
				if !r.Permanent() {
					continue
				}
				reason := r.Action + " " + r.Status
				if r.DiagnosticCode != "" {
					reason += ": " + r.DiagnosticCode
				}
				if b.Kind == Complaint {
					reason = "complaint (" + b.FeedbackType + ")"
				}
				if err := sup.Suppress(ctx, r.Address, strings.TrimSpace(reason)); err != nil {
					return err
				}
			}
		}
		if next == nil {
			return nil
		}
		// next reads the whole message: what ParseBounce read, then the rest.
		m.Raw = io.MultiReader(&buf, m.Raw)
		return next(ctx, m)
	}
}
