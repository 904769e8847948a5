package outbox

import (
	"context"
	"errors"
	"fmt"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// The outbox runs on two databases (sqlite.go, postgres.go) behind these
// few interfaces: its own SQL, written once with ? placeholders, runs on a
// conn; River's client is generic over the driver's transaction type, so
// queue wraps it once for both.

// errNoRows is what a row's Scan returns when the query found none, on
// either database.
var errNoRows = errors.New("outbox: no rows")

// conn runs the outbox's own SQL: the database itself, or a transaction.
type conn interface {
	exec(ctx context.Context, q string, args ...any) error
	queryRow(ctx context.Context, q string, args ...any) row
	query(ctx context.Context, q string, args ...any) (rows, error)
}

// row is one result row; Scan returns errNoRows when there is none.
type row interface{ Scan(dest ...any) error }

// rows iterates over a query's result.
type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// tx is a transaction: the outbox's own, or the caller's (EnqueueTx).
type tx interface {
	conn
	commit(ctx context.Context) error
	rollback(ctx context.Context) // no-op after commit
	native() any                  // the driver's transaction, for River
}

// db is an open outbox database.
type db interface {
	conn
	begin(ctx context.Context) (tx, error)
	// adopt wraps the caller's transaction, or says what type it takes.
	adopt(t any) (tx, error)
	migrate(ctx context.Context) error
	// tables counts the named tables in the outbox's schema; with no
	// names, all its tables.
	tables(ctx context.Context, names ...string) (int, error)
	// validateRiver reports ErrNotMigrated unless River's migrations are
	// all applied.
	validateRiver(ctx context.Context) error
	newQueue(cfg *river.Config) (queue, error)
	close() error // closes what the outbox opened, nothing else
}

// queue is River's client, whatever the driver.
type queue interface {
	insert(ctx context.Context, t tx, args river.JobArgs, opts *river.InsertOpts) (jobID int64, err error)
	get(ctx context.Context, t tx, id int64) (*rivertype.JobRow, error)
	retry(ctx context.Context, t tx, id int64) error
	cancel(ctx context.Context, t tx, id int64) error
	start(ctx context.Context) error
	stop(ctx context.Context) error
	stopAndCancel(ctx context.Context) error
}

// riverQueue is queue over a River client whose transactions are TTx.
type riverQueue[TTx any] struct{ c *river.Client[TTx] }

func (q riverQueue[TTx]) txOf(t tx) (TTx, error) {
	n, ok := t.native().(TTx)
	if !ok {
		var zero TTx
		return zero, fmt.Errorf("outbox: a %T transaction on a queue of %T", t.native(), zero)
	}
	return n, nil
}

func (q riverQueue[TTx]) insert(ctx context.Context, t tx, args river.JobArgs, opts *river.InsertOpts) (int64, error) {
	n, err := q.txOf(t)
	if err != nil {
		return 0, err
	}
	res, err := q.c.InsertTx(ctx, n, args, opts)
	if err != nil {
		return 0, err
	}
	return res.Job.ID, nil
}

func (q riverQueue[TTx]) get(ctx context.Context, t tx, id int64) (*rivertype.JobRow, error) {
	n, err := q.txOf(t)
	if err != nil {
		return nil, err
	}
	return q.c.JobGetTx(ctx, n, id)
}

func (q riverQueue[TTx]) retry(ctx context.Context, t tx, id int64) error {
	n, err := q.txOf(t)
	if err != nil {
		return err
	}
	_, err = q.c.JobRetryTx(ctx, n, id)
	return err
}

func (q riverQueue[TTx]) cancel(ctx context.Context, t tx, id int64) error {
	n, err := q.txOf(t)
	if err != nil {
		return err
	}
	_, err = q.c.JobCancelTx(ctx, n, id)
	return err
}

func (q riverQueue[TTx]) start(ctx context.Context) error         { return q.c.Start(ctx) }
func (q riverQueue[TTx]) stop(ctx context.Context) error          { return q.c.Stop(ctx) }
func (q riverQueue[TTx]) stopAndCancel(ctx context.Context) error { return q.c.StopAndCancel(ctx) }

// inTx runs fn in a transaction of the outbox's, committed if fn succeeds.
func inTx[T any](ctx context.Context, d db, op string, fn func(tx) (T, error)) (T, error) {
	var zero T
	t, err := d.begin(ctx)
	if err != nil {
		return zero, fmt.Errorf("outbox: %s: %w", op, err)
	}
	defer t.rollback(ctx)
	v, err := fn(t)
	if err != nil {
		return zero, err
	}
	if err := t.commit(ctx); err != nil {
		return zero, fmt.Errorf("outbox: %s: commit: %w", op, err)
	}
	return v, nil
}
