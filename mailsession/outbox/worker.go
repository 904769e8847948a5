package outbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/jmailgo/jmail/mailsession"
)

// worker is the River worker of the outbox's jobs: one attempt to send one
// message to the recipients not yet reached.
type worker struct {
	river.WorkerDefaults[sendArgs]
	ob *Outbox
}

// stored is a message as the worker reads it.
type stored struct {
	id        int64
	jobID     int64
	messageID string
	from      string
	raw       []byte
	outcome   string
	attempts  int
	lastErr   string
	created   int64
	updated   int64
	rcpts     []rcptRow
}

type rcptRow struct {
	pos       int
	address   string
	state     string // pending, sent, failed
	code      int
	reply     string
	uncertain bool
	changed   bool
}

// load reads message id and its recipients; with withRaw, its bytes too.
func (ob *Outbox) load(ctx context.Context, q conn, id int64, withRaw bool) (*stored, error) {
	m := &stored{id: id}
	cols := `job_id, message_id, env_from, outcome, attempts, last_error, created_at, updated_at`
	dest := []any{&m.jobID, &m.messageID, &m.from, &m.outcome, &m.attempts, &m.lastErr, &m.created, &m.updated}
	if withRaw {
		cols += `, raw`
		dest = append(dest, &m.raw)
	}
	err := q.queryRow(ctx, `SELECT `+cols+` FROM outbox_message WHERE id = ?`, id).Scan(dest...)
	if errors.Is(err, errNoRows) {
		return nil, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("outbox: reading message %d: %w", id, err)
	}
	rows, err := q.query(ctx, `SELECT pos, address, state, code, reply, uncertain FROM outbox_recipient WHERE message = ? ORDER BY pos`, id)
	if err != nil {
		return nil, fmt.Errorf("outbox: reading message %d: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r rcptRow
		if err := rows.Scan(&r.pos, &r.address, &r.state, &r.code, &r.reply, &r.uncertain); err != nil {
			return nil, fmt.Errorf("outbox: reading message %d: %w", id, err)
		}
		m.rcpts = append(m.rcpts, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outbox: reading message %d: %w", id, err)
	}
	return m, nil
}

// Work makes one attempt. Every recipient's outcome is written before the
// job completes, so that a retry (or a restart) goes only to the
// recipients not yet reached.
func (w *worker) Work(ctx context.Context, job *river.Job[sendArgs]) error {
	ob := w.ob
	m, err := ob.load(ctx, ob.db, job.Args.Message, true)
	if errors.Is(err, ErrNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	if m.outcome != "" || m.jobID != job.ID {
		return nil // finished, canceled, or superseded by Retry
	}
	m.attempts++
	if err := ob.db.exec(ctx, `UPDATE outbox_message SET attempts = attempts + 1, updated_at = ? WHERE id = ?`, time.Now().UnixMilli(), m.id); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	byAddr := map[string]*rcptRow{}
	var pending []string
	for i := range m.rcpts {
		r := &m.rcpts[i]
		byAddr[strings.ToLower(r.address)] = r
		if r.state == "pending" {
			if ob.cfg.set.blacklist[strings.ToLower(r.address)] {
				// mail.send.blacklist now (after Retry, or a change of
				// settings since Enqueue): never sent.
				r.state, r.code, r.reply, r.changed = "failed", 0, blacklistReply, true
				continue
			}
			pending = append(pending, r.address)
		}
	}
	ob.emit(ctx, Event{Kind: EventAttempt, ID: ID(m.id), MessageID: m.messageID, Attempt: m.attempts, Recipients: rcptList(m.rcpts, pending)})

	var lastErr error
	// mail.batch.size: envelopes of at most N recipients, each recorded.
	for _, pending := range ob.cfg.set.batches(pending) {
		for len(pending) > 0 {
			if err := ob.cfg.set.limiter.wait(ctx); err != nil {
				lastErr = err // left pending: retried
				break
			}
			err := ob.s.SendRaw(ctx, m.from, pending, bytes.NewReader(m.raw))
			if err == nil {
				for _, a := range pending {
					setRcpt(byAddr, a, "sent", 0, "", false)
				}
				break
			}
			lastErr = err
			again := ob.classify(err, pending, byAddr)
			if len(again) == 0 || len(again) == len(pending) {
				break
			}
			// The server refused some recipients and the rest were not sent
			// (mail.smtp.sendpartial=false): send to the rest now.
			pending = again
		}
	}

	// What is left for a later attempt.
	var left []string
	anySent := false
	for _, r := range m.rcpts {
		switch r.state {
		case "pending":
			left = append(left, r.address)
		case "sent":
			anySent = true
		}
	}
	outcome := ""
	if len(left) > 0 && !time.Now().Before(job.Args.Deadline) {
		reply := "maximum age reached"
		if lastErr != nil {
			reply += ": " + lastErr.Error()
		}
		for _, a := range left {
			r := byAddr[strings.ToLower(a)]
			r.state, r.reply, r.changed = "failed", reply, true
		}
		left = nil
	}
	if len(left) == 0 {
		outcome = "failed"
		if anySent {
			outcome = "sent"
		}
	}
	lastText := ""
	if lastErr != nil {
		lastText = lastErr.Error()
	}
	// Record the outcome even when ctx ended (Stop, Close): what was sent
	// must not be sent again.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := ob.record(wctx, m, outcome, lastText); err != nil {
		return err
	}
	ev := Event{ID: ID(m.id), MessageID: m.messageID, Attempt: m.attempts, Recipients: rcptList(m.rcpts, nil), Err: lastErr}
	switch outcome {
	case "sent":
		ev.Kind = EventSent
	case "failed":
		ev.Kind = EventFailed
	default:
		ev.Kind = EventRetry
	}
	ob.tel.attempt(ctx, ev.Kind)
	ob.emit(ctx, ev)
	if outcome != "" {
		return nil
	}
	if ctx.Err() != nil {
		// Stopped or timed out in the middle: try again soon, not after
		// a back-off.
		return river.JobSnooze(time.Second)
	}
	return fmt.Errorf("outbox: message %d: %w", m.id, lastErr)
}

// classify records the outcome of one failed SendRaw to pending and
// returns the recipients worth sending to again at once: those left unsent
// only because others were refused.
func (ob *Outbox) classify(err error, pending []string, byAddr map[string]*rcptRow) []string {
	var se *mailsession.SendError
	if !errors.As(err, &se) {
		switch {
		case errors.Is(err, mailsession.ErrUncertain):
			for _, a := range pending {
				ob.uncertain(byAddr, a, err.Error())
			}
		case errors.Is(err, mailsession.ErrInvalidMessage) || permanentReply(err):
			for _, a := range pending {
				setRcpt(byAddr, a, "failed", 0, err.Error(), false)
			}
		default:
			// Temporary, or a configuration problem (authentication,
			// TLS) an operator can fix: retried until the maximum age.
			for _, a := range pending {
				setRcpt(byAddr, a, "pending", 0, err.Error(), false)
			}
		}
		return nil
	}
	for _, a := range se.Sent {
		setRcpt(byAddr, a, "sent", 0, "", false)
	}
	for _, r := range se.Rejected {
		st := "failed"
		if r.Temporary() {
			st = "pending"
		}
		setRcpt(byAddr, r.Address, st, r.Code, r.Error(), false)
	}
	for _, a := range se.Uncertain {
		ob.uncertain(byAddr, a, se.Error())
	}
	why, st, code := "", "pending", 0
	if se.Err != nil {
		why = se.Err.Error()
		if permanentReply(se.Err) {
			// A 5xx to MAIL FROM, DATA or the message: it will not be
			// taken later either.
			st = "failed"
			var smtpErr *smtp.SMTPError
			errors.As(se.Err, &smtpErr)
			code = smtpErr.Code
		}
	}
	for _, a := range se.Unsent {
		setRcpt(byAddr, a, st, code, why, false)
	}
	if se.Err == nil && len(se.Sent) == 0 && len(se.Uncertain) == 0 && len(se.Rejected) > 0 {
		return se.Unsent
	}
	return nil
}

// permanentReply reports whether err is the server's 5xx reply.
func permanentReply(err error) bool {
	var smtpErr *smtp.SMTPError
	return errors.As(err, &smtpErr) && smtpErr.Code >= 500 && smtpErr.Code < 600
}

func (ob *Outbox) uncertain(byAddr map[string]*rcptRow, a, reply string) {
	st := "failed"
	if ob.cfg.retryUncertain {
		st = "pending"
	}
	setRcpt(byAddr, a, st, 0, reply, true)
}

func setRcpt(byAddr map[string]*rcptRow, addr, state string, code int, reply string, uncertain bool) {
	r := byAddr[strings.ToLower(addr)]
	if r == nil {
		return
	}
	r.state, r.code, r.reply, r.changed = state, code, reply, true
	r.uncertain = r.uncertain || uncertain
}

// record writes the recipients' outcomes and the message's in one
// transaction. A message canceled meanwhile stays canceled.
func (ob *Outbox) record(ctx context.Context, m *stored, outcome, lastErr string) error {
	_, err := inTx(ctx, ob.db, "recording an attempt", func(t tx) (struct{}, error) {
		for _, r := range m.rcpts {
			if !r.changed {
				continue
			}
			if err := t.exec(ctx, `UPDATE outbox_recipient SET state = ?, code = ?, reply = ?, uncertain = ? WHERE message = ? AND pos = ?`,
				r.state, r.code, r.reply, r.uncertain, m.id, r.pos); err != nil {
				return struct{}{}, fmt.Errorf("outbox: recording an attempt: %w", err)
			}
		}
		if err := t.exec(ctx, `UPDATE outbox_message SET outcome = CASE WHEN outcome = '' THEN ? ELSE outcome END, last_error = ?, updated_at = ? WHERE id = ?`,
			outcome, lastErr, time.Now().UnixMilli(), m.id); err != nil {
			return struct{}{}, fmt.Errorf("outbox: recording an attempt: %w", err)
		}
		return struct{}{}, nil
	})
	return err
}

// retryPolicy is exponential back-off with jitter, never past the
// message's deadline (its maximum age), where the last attempt is made.
type retryPolicy struct{ cfg *config }

// NextRetry implements river.ClientRetryPolicy.
func (p *retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	n := max(job.Attempt, 1)
	d := p.cfg.maxBackoff
	if n <= 40 {
		if b := p.cfg.minBackoff << (n - 1); b > 0 && b < d {
			d = b
		}
	}
	d = time.Duration(float64(d) * (0.75 + rand.Float64()/2))
	now := time.Now()
	next := now.Add(d)
	var a sendArgs
	if err := json.Unmarshal(job.EncodedArgs, &a); err == nil && !a.Deadline.IsZero() && next.After(a.Deadline) {
		next = a.Deadline
	}
	if next.Before(now) {
		next = now
	}
	return next
}
