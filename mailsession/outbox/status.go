package outbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// State is where a message is in the outbox.
type State int

// The states of a message.
const (
	Pending  State = iota // waiting for its (first or next) attempt
	Sending               // an attempt is running
	Sent                  // final: every recipient has an outcome, at least one has the message
	Failed                // final: no recipient has the message
	Canceled              // final: canceled before every recipient had an outcome
)

// String gives the state's name.
func (s State) String() string {
	switch s {
	case Pending:
		return "Pending"
	case Sending:
		return "Sending"
	case Sent:
		return "Sent"
	case Failed:
		return "Failed"
	case Canceled:
		return "Canceled"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// RecipientState is the fate of one envelope recipient.
type RecipientState int

// The states of a recipient.
const (
	RecipientPending RecipientState = iota // not reached yet
	RecipientSent                          // the server accepted the message for it
	RecipientFailed                        // refused (5xx), or the maximum age reached
)

// String gives the recipient state's name.
func (s RecipientState) String() string {
	switch s {
	case RecipientPending:
		return "Pending"
	case RecipientSent:
		return "Sent"
	case RecipientFailed:
		return "Failed"
	}
	return fmt.Sprintf("RecipientState(%d)", int(s))
}

// Recipient is one envelope recipient and its outcome so far.
type Recipient struct {
	Address string
	State   RecipientState
	Code    int    // the server's reply code to it (e.g. 550, 451); 0 if none
	Reply   string // the last reply or failure concerning it; empty once sent
	// Uncertain: an attempt wrote the end of the message and no reply
	// came; it may have the message already (see mailsession.ErrUncertain).
	Uncertain bool
}

// Status is a message's state in the outbox.
type Status struct {
	ID         ID
	State      State
	MessageID  string // the Message-ID fixed at Enqueue (empty for a raw message without one)
	Attempts   int    // attempts started
	Recipients []Recipient
	LastError  string    // the last attempt's failure, if any
	Enqueued   time.Time // when Enqueue stored it
	Updated    time.Time // when an attempt, Retry or Cancel last changed it
	Next       time.Time // when Pending: when the next attempt is due
}

// Status returns the message's state, attempts, recipients and last error.
func (ob *Outbox) Status(ctx context.Context, id ID) (*Status, error) {
	// One transaction: the message, its recipients and its job as of one
	// moment (the worker records an attempt before River completes the
	// job).
	return inTx(ctx, ob.db, "status", func(t tx) (*Status, error) { return ob.status(ctx, t, id) })
}

func (ob *Outbox) status(ctx context.Context, t tx, id ID) (*Status, error) {
	m, err := ob.load(ctx, t, int64(id), false)
	if err != nil {
		return nil, err
	}
	st := &Status{ID: id, MessageID: m.messageID, Attempts: m.attempts, LastError: m.lastErr, Enqueued: time.UnixMilli(m.created), Updated: time.UnixMilli(m.updated), Recipients: rcptList(m.rcpts, nil)}
	if m.outcome != "" {
		st.State = stateOf(m.outcome, "")
		return st, nil
	}
	job, err := ob.queue.get(ctx, t, m.jobID)
	if errors.Is(err, river.ErrNotFound) {
		st.State = stateOf("", "")
		if st.LastError == "" {
			st.LastError = "outbox: the message's job is gone"
		}
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("outbox: status of %d: %w", id, err)
	}
	st.State = stateOf("", job.State)
	if st.State == Pending {
		st.Next = job.ScheduledAt
	}
	return st, nil
}

// Counts returns how many messages the outbox holds in each state (states
// with none are absent).
func (ob *Outbox) Counts(ctx context.Context) (map[State]int, error) {
	return inTx(ctx, ob.db, "counts", func(t tx) (map[State]int, error) {
		rs, err := t.query(ctx, `SELECT m.outcome, COALESCE(CAST(j.state AS TEXT), ''), count(*)
			FROM outbox_message m LEFT JOIN river_job j ON j.id = m.job_id GROUP BY 1, 2`)
		if err != nil {
			return nil, fmt.Errorf("outbox: counts: %w", err)
		}
		defer rs.Close()
		counts := map[State]int{}
		for rs.Next() {
			var outcome, job string
			var n int
			if err := rs.Scan(&outcome, &job, &n); err != nil {
				return nil, fmt.Errorf("outbox: counts: %w", err)
			}
			counts[stateOf(outcome, rivertype.JobState(job))] += n
		}
		if err := rs.Err(); err != nil {
			return nil, fmt.Errorf("outbox: counts: %w", err)
		}
		return counts, nil
	})
}

// Failures returns up to limit messages that an operator may want to look
// at, the most recently changed first: those Failed, those with a failed
// recipient, and those whose last attempt failed (Pending, to be retried).
// Each Status carries the server's replies per recipient.
func (ob *Outbox) Failures(ctx context.Context, limit int) ([]*Status, error) {
	if limit <= 0 {
		return nil, nil
	}
	return inTx(ctx, ob.db, "failures", func(t tx) ([]*Status, error) {
		rs, err := t.query(ctx, `SELECT id FROM outbox_message m
			WHERE m.outcome = 'failed' OR (m.last_error <> '' AND m.outcome <> 'canceled')
			   OR EXISTS (SELECT 1 FROM outbox_recipient r WHERE r.message = m.id AND r.state = 'failed')
			ORDER BY m.updated_at DESC, m.id DESC LIMIT ?`, limit)
		if err != nil {
			return nil, fmt.Errorf("outbox: failures: %w", err)
		}
		var ids []ID
		for rs.Next() {
			var id int64
			if err := rs.Scan(&id); err != nil {
				rs.Close()
				return nil, fmt.Errorf("outbox: failures: %w", err)
			}
			ids = append(ids, ID(id))
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return nil, fmt.Errorf("outbox: failures: %w", err)
		}
		out := make([]*Status, 0, len(ids))
		for _, id := range ids {
			st, err := ob.status(ctx, t, id)
			if err != nil {
				return nil, err
			}
			out = append(out, st)
		}
		return out, nil
	})
}

// stateOf is a message's State from its recorded outcome and, while it has
// none, its River job's state ("" when the job is gone).
func stateOf(outcome string, job rivertype.JobState) State {
	switch outcome {
	case "sent":
		return Sent
	case "failed":
		return Failed
	case "canceled":
		return Canceled
	}
	switch job {
	case rivertype.JobStateRunning:
		return Sending
	case rivertype.JobStateCancelled:
		return Canceled
	case rivertype.JobStateDiscarded, "":
		return Failed
	case rivertype.JobStateCompleted:
		return Sent
	}
	return Pending
}

// rcptList converts rows to Recipients; with only non-nil, just those.
func rcptList(rows []rcptRow, only []string) []Recipient {
	var want map[string]bool
	if only != nil {
		want = map[string]bool{}
		for _, a := range only {
			want[a] = true
		}
	}
	out := make([]Recipient, 0, len(rows))
	for _, r := range rows {
		if want != nil && !want[r.address] {
			continue
		}
		rc := Recipient{Address: r.address, Code: r.code, Reply: r.reply, Uncertain: r.uncertain}
		switch r.state {
		case "sent":
			rc.State = RecipientSent
		case "failed":
			rc.State = RecipientFailed
		}
		out = append(out, rc)
	}
	return out
}

// Retry makes the message due now. A Failed or Canceled message (or a Sent
// one with failed recipients) is enqueued again for the recipients who do
// not have it, with a new maximum age; a Pending one is moved forward; one
// being sent is left alone. Retry of a message every recipient has fails
// with ErrFinished.
func (ob *Outbox) Retry(ctx context.Context, id ID) error {
	_, err := inTx(ctx, ob.db, "retry", func(t tx) (struct{}, error) { return struct{}{}, ob.retry(ctx, t, id) })
	return err
}

func (ob *Outbox) retry(ctx context.Context, t tx, id ID) error {
	m, err := ob.load(ctx, t, int64(id), false)
	if err != nil {
		return err
	}
	if m.outcome == "" {
		job, err := ob.queue.get(ctx, t, m.jobID)
		if err != nil && !errors.Is(err, river.ErrNotFound) {
			return fmt.Errorf("outbox: retry: %w", err)
		}
		if err == nil && job.State == rivertype.JobStateRunning {
			return nil
		}
		if err == nil && job.State != rivertype.JobStateCompleted && job.State != rivertype.JobStateCancelled && job.State != rivertype.JobStateDiscarded {
			if err := ob.queue.retry(ctx, t, m.jobID); err != nil {
				return fmt.Errorf("outbox: retry: %w", err)
			}
			return nil
		}
		// The job ended without an outcome recorded: enqueue it again.
	}
	n := 0
	for _, r := range m.rcpts {
		if r.state != "sent" {
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("%w: message %d was sent to every recipient", ErrFinished, id)
	}
	if err := t.exec(ctx, `UPDATE outbox_recipient SET state = 'pending' WHERE message = ? AND state = 'failed'`, int64(id)); err != nil {
		return fmt.Errorf("outbox: retry: %w", err)
	}
	if err := t.exec(ctx, `UPDATE outbox_message SET outcome = '', updated_at = ? WHERE id = ?`, time.Now().UnixMilli(), int64(id)); err != nil {
		return fmt.Errorf("outbox: retry: %w", err)
	}
	return ob.insertJob(ctx, t, int64(id), time.Now())
}

// Cancel cancels a message not yet finished: it is not sent to the
// recipients who do not have it yet. An attempt in flight is told to stop,
// but what it delivered stays delivered. Cancel of a Canceled message does
// nothing; of a Sent or Failed one it fails with ErrFinished.
func (ob *Outbox) Cancel(ctx context.Context, id ID) error {
	_, err := inTx(ctx, ob.db, "cancel", func(t tx) (struct{}, error) { return struct{}{}, ob.cancel(ctx, t, id) })
	return err
}

func (ob *Outbox) cancel(ctx context.Context, t tx, id ID) error {
	var outcome string
	var jobID int64
	err := t.queryRow(ctx, `SELECT outcome, job_id FROM outbox_message WHERE id = ?`, int64(id)).Scan(&outcome, &jobID)
	if errors.Is(err, errNoRows) {
		return fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	if err != nil {
		return fmt.Errorf("outbox: cancel: %w", err)
	}
	switch outcome {
	case "canceled":
		return nil
	case "sent", "failed":
		return fmt.Errorf("%w: message %d is %s", ErrFinished, id, outcome)
	}
	if err := t.exec(ctx, `UPDATE outbox_message SET outcome = 'canceled', updated_at = ? WHERE id = ?`, time.Now().UnixMilli(), int64(id)); err != nil {
		return fmt.Errorf("outbox: cancel: %w", err)
	}
	if err := ob.queue.cancel(ctx, t, jobID); err != nil && !errors.Is(err, river.ErrNotFound) {
		return fmt.Errorf("outbox: cancel: %w", err)
	}
	return nil
}
