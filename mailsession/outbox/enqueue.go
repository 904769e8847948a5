package outbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/jmailgo/jmail/mailsession"
)

// ID identifies a message in the outbox.
type ID int64

// String gives the ID in decimal.
func (id ID) String() string { return strconv.FormatInt(int64(id), 10) }

// EnqueueOption configures one Enqueue.
type EnqueueOption func(*enqueueConfig)

type enqueueConfig struct {
	key string
	at  time.Time
}

// WithKey makes the Enqueue idempotent: a later Enqueue with the same key
// returns the first message's ID and enqueues nothing (whatever the
// message). Keys are kept as long as the message is.
func WithKey(key string) EnqueueOption { return func(c *enqueueConfig) { c.key = key } }

// At schedules the first attempt at t (a time in the past means now). The
// maximum age counts from t.
func At(t time.Time) EnqueueOption { return func(c *enqueueConfig) { c.at = t } }

// sendArgs is the River job: which message, and until when to retry. The
// message itself is in outbox_message, not in the job's arguments.
type sendArgs struct {
	Message  int64     `json:"message"`
	Deadline time.Time `json:"deadline"`
}

// Kind is the River job kind of the outbox's sends.
func (sendArgs) Kind() string { return jobKind }

// InsertOpts puts the job in the outbox's queue.
func (sendArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: queueName, MaxAttempts: maxAttempts}
}

// Enqueue composes msg (reading its attachments, once), stores it and
// returns its ID: the message is durable when Enqueue returns, and the
// workers send it (Start). Its Message-ID is fixed now and the same on
// every attempt. A message that cannot be composed fails with
// mailsession.ErrInvalidMessage; one larger than the size cap with
// ErrTooLarge.
func (ob *Outbox) Enqueue(ctx context.Context, msg *mailsession.Message, opts ...EnqueueOption) (ID, error) {
	c, raw, err := ob.compose(msg)
	if err != nil {
		return 0, err
	}
	return inTx(ctx, ob.db, "enqueue", func(t tx) (ID, error) { return ob.insert(ctx, t, c, raw, opts) })
}

// EnqueueTx is Enqueue in the caller's transaction: the message is sent
// if and only if the transaction commits. With SQLite it is a *sql.Tx
// begun on DB(); with PostgreSQL a pgx.Tx begun on the outbox's pool.
func (ob *Outbox) EnqueueTx(ctx context.Context, t any, msg *mailsession.Message, opts ...EnqueueOption) (ID, error) {
	stx, err := ob.db.adopt(t)
	if err != nil {
		return 0, err
	}
	c, raw, err := ob.compose(msg)
	if err != nil {
		return 0, err
	}
	return ob.insert(ctx, stx, c, raw, opts)
}

// EnqueueRaw enqueues raw, an RFC 5322 message as prepared bytes, from the
// envelope sender from (empty: the session's default, as SendRaw) to the
// envelope recipients to. raw is read at once.
func (ob *Outbox) EnqueueRaw(ctx context.Context, from string, to []string, raw io.Reader, opts ...EnqueueOption) (ID, error) {
	c, b, err := ob.prepareRaw(from, to, raw)
	if err != nil {
		return 0, err
	}
	return inTx(ctx, ob.db, "enqueue", func(t tx) (ID, error) { return ob.insert(ctx, t, c, b, opts) })
}

// EnqueueRawTx is EnqueueRaw in the caller's transaction (see EnqueueTx).
func (ob *Outbox) EnqueueRawTx(ctx context.Context, t any, from string, to []string, raw io.Reader, opts ...EnqueueOption) (ID, error) {
	stx, err := ob.db.adopt(t)
	if err != nil {
		return 0, err
	}
	c, b, err := ob.prepareRaw(from, to, raw)
	if err != nil {
		return 0, err
	}
	return ob.insert(ctx, stx, c, b, opts)
}

func (ob *Outbox) prepareRaw(from string, to []string, raw io.Reader) (*composed, []byte, error) {
	if raw == nil {
		return nil, nil, fmt.Errorf("%w: nil message", mailsession.ErrInvalidMessage)
	}
	c := &composed{}
	if from != "" {
		a, err := mail.ParseAddress(from)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: sender %q: %v", mailsession.ErrInvalidMessage, from, err)
		}
		c.from = a.Address
	}
	seen := map[string]bool{}
	for _, t := range to {
		a, err := mail.ParseAddress(t)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: recipient %q: %v", mailsession.ErrInvalidMessage, t, err)
		}
		if k := strings.ToLower(a.Address); !seen[k] {
			seen[k] = true
			c.rcpts = append(c.rcpts, a.Address)
		}
	}
	if len(c.rcpts) == 0 {
		return nil, nil, fmt.Errorf("%w: no recipient", mailsession.ErrInvalidMessage)
	}
	b, err := io.ReadAll(io.LimitReader(raw, ob.cfg.maxSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("outbox: reading the message: %w", err)
	}
	if int64(len(b)) > ob.cfg.maxSize {
		return nil, nil, fmt.Errorf("%w: more than %d bytes (WithMaxSize)", ErrTooLarge, ob.cfg.maxSize)
	}
	c.messageID = messageIDOf(b)
	return c, b, nil
}

// capWriter is a bytes.Buffer that refuses to grow past max.
type capWriter struct {
	buf bytes.Buffer
	max int64
}

func (w *capWriter) Write(p []byte) (int, error) {
	if int64(w.buf.Len())+int64(len(p)) > w.max {
		return 0, fmt.Errorf("%w: more than %d bytes composed (WithMaxSize)", ErrTooLarge, w.max)
	}
	return w.buf.Write(p)
}

func (ob *Outbox) compose(msg *mailsession.Message) (*composed, []byte, error) {
	w := &capWriter{max: ob.cfg.maxSize}
	c, err := compose(ob.s, msg, w)
	if err != nil {
		if errors.Is(err, ErrTooLarge) || errors.Is(err, mailsession.ErrInvalidMessage) {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("outbox: composing the message: %w", err)
	}
	return c, w.buf.Bytes(), nil
}

// insert stores the message, its recipients and its River job in tx.
func (ob *Outbox) insert(ctx context.Context, t tx, c *composed, raw []byte, opts []EnqueueOption) (ID, error) {
	var ec enqueueConfig
	for _, o := range opts {
		o(&ec)
	}
	now := time.Now()
	start := now
	if ec.at.After(now) {
		start = ec.at
	}
	var key any
	if ec.key != "" {
		key = ec.key
	}
	// With a key, a second Enqueue inserts nothing: it finds the first
	// (looked up first, so that the usual case burns no ID), and ON
	// CONFLICT covers a concurrent one with the same key, which PostgreSQL
	// waits for.
	var id int64
	byKey := func() (ID, error) {
		err := t.queryRow(ctx, `SELECT id FROM outbox_message WHERE idem_key = ?`, ec.key).Scan(&id)
		if err != nil {
			return 0, err
		}
		return ID(id), nil
	}
	if ec.key != "" {
		found, err := byKey()
		if err == nil {
			return found, nil
		}
		if !errors.Is(err, errNoRows) {
			return 0, fmt.Errorf("outbox: enqueue: %w", err)
		}
	}
	err := t.queryRow(ctx, `INSERT INTO outbox_message (idem_key, message_id, env_from, raw, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (idem_key) DO NOTHING RETURNING id`, key, c.messageID, c.from, raw, now.UnixMilli(), now.UnixMilli()).Scan(&id)
	if errors.Is(err, errNoRows) && ec.key != "" {
		found, err := byKey()
		if err != nil {
			return 0, fmt.Errorf("outbox: enqueue: %w", err)
		}
		return found, nil
	}
	if err != nil {
		return 0, fmt.Errorf("outbox: enqueue: %w", err)
	}
	// mail.send.blacklist and mail.audit.trail (settings.go).
	addrs, blocked := ob.cfg.set.envelope(c.rcpts)
	for i, r := range addrs {
		state, reply := "pending", ""
		if blocked[i] {
			state, reply = "failed", blacklistReply
		}
		if err := t.exec(ctx, `INSERT INTO outbox_recipient (message, pos, address, state, reply) VALUES (?, ?, ?, ?, ?)`, id, i, r, state, reply); err != nil {
			return 0, fmt.Errorf("outbox: enqueue: %w", err)
		}
	}
	if err := ob.insertJob(ctx, t, id, start); err != nil {
		return 0, err
	}
	return ID(id), nil
}

// insertJob adds the River job that sends message id from start, and
// records it as the message's job.
func (ob *Outbox) insertJob(ctx context.Context, t tx, id int64, start time.Time) error {
	io := &river.InsertOpts{}
	if start.After(time.Now()) {
		io.ScheduledAt = start
	}
	jobID, err := ob.queue.insert(ctx, t, sendArgs{Message: id, Deadline: start.Add(ob.cfg.maxAge)}, io)
	if err != nil {
		return fmt.Errorf("outbox: enqueue: %w", err)
	}
	if err := t.exec(ctx, `UPDATE outbox_message SET job_id = ? WHERE id = ?`, jobID, id); err != nil {
		return fmt.Errorf("outbox: enqueue: %w", err)
	}
	return nil
}
