package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	_ "modernc.org/sqlite" // the pure-Go SQLite driver, registered as "sqlite"
)

// SQLite keeps the outbox in the SQLite file at path (created if missing),
// through River's riversqlite driver over modernc.org/sqlite (pure Go): the
// embedded default, for one process. The file is opened in WAL mode with
// one connection, as River recommends: a transaction begun on Outbox.DB
// holds it until it ends. EnqueueTx takes a *sql.Tx begun on Outbox.DB.
func SQLite(path string) Database { return sqliteDatabase{path: path} }

type sqliteDatabase struct{ path string }

func (d sqliteDatabase) String() string { return "sqlite:" + d.path }

func (d sqliteDatabase) open(ctx context.Context) (db, error) {
	if d.path == "" {
		return nil, errors.New("outbox: SQLite: empty path")
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	sdb, err := sql.Open("sqlite", "file:"+url.PathEscape(d.path)+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("outbox: opening %s: %w", d, err)
	}
	sdb.SetMaxOpenConns(1)
	if err := sdb.PingContext(ctx); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("outbox: opening %s: %w", d, err)
	}
	return &sqliteDB{sqlConn: sqlConn{sdb}, db: sdb}, nil
}

// sqliteSchema is the outbox's own tables beside River's: the composed
// message and the fate of each recipient. Statements are idempotent.
var sqliteSchema = []string{
	`CREATE TABLE IF NOT EXISTS outbox_message (
		id          INTEGER PRIMARY KEY AUTOINCREMENT,
		job_id      INTEGER NOT NULL DEFAULT 0,
		idem_key    TEXT UNIQUE,
		message_id  TEXT NOT NULL DEFAULT '',
		env_from    TEXT NOT NULL DEFAULT '',
		raw         BLOB NOT NULL,
		outcome     TEXT NOT NULL DEFAULT '',
		attempts    INTEGER NOT NULL DEFAULT 0,
		last_error  TEXT NOT NULL DEFAULT '',
		created_at  INTEGER NOT NULL,
		updated_at  INTEGER NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS outbox_recipient (
		message   INTEGER NOT NULL REFERENCES outbox_message(id) ON DELETE CASCADE,
		pos       INTEGER NOT NULL,
		address   TEXT NOT NULL,
		state     TEXT NOT NULL DEFAULT 'pending',
		code      INTEGER NOT NULL DEFAULT 0,
		reply     TEXT NOT NULL DEFAULT '',
		uncertain INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (message, pos)
	)`,
	`CREATE INDEX IF NOT EXISTS outbox_message_job ON outbox_message(job_id)`,
	`CREATE INDEX IF NOT EXISTS outbox_message_updated ON outbox_message(updated_at)`,
}

// sqliteDB is an outbox in an SQLite file.
type sqliteDB struct {
	sqlConn
	db *sql.DB
}

func (d *sqliteDB) begin(ctx context.Context) (tx, error) {
	t, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return sqlTx{sqlConn{t}, t}, nil
}

func (d *sqliteDB) adopt(t any) (tx, error) {
	st, ok := t.(*sql.Tx)
	if !ok || st == nil {
		return nil, fmt.Errorf("outbox: EnqueueTx with SQLite takes a *sql.Tx begun on Outbox.DB(), not %T", t)
	}
	return sqlTx{sqlConn{st}, st}, nil
}

func (d *sqliteDB) migrate(ctx context.Context) error {
	m, err := rivermigrate.New(riversqlite.New(d.db), nil)
	if err != nil {
		return fmt.Errorf("outbox: migrate: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("outbox: migrate River's schema: %w", err)
	}
	for _, s := range sqliteSchema {
		if _, err := d.db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("outbox: migrate the outbox's schema: %w", err)
		}
	}
	return nil
}

func (d *sqliteDB) tables(ctx context.Context, names ...string) (int, error) {
	q, args := `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`, []any(nil)
	if len(names) > 0 {
		q, args = `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN (`+placeholders(len(names))+`)`, anys(names)
	}
	var n int
	err := d.db.QueryRowContext(ctx, q, args...).Scan(&n)
	return n, err
}

func (d *sqliteDB) validateRiver(ctx context.Context) error {
	m, err := rivermigrate.New(riversqlite.New(d.db), nil)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return validateRiver(m.Validate(ctx, nil))
}

func (d *sqliteDB) newQueue(cfg *river.Config) (queue, error) {
	c, err := river.NewClient(riversqlite.New(d.db), cfg)
	if err != nil {
		return nil, err
	}
	return riverQueue[*sql.Tx]{c}, nil
}

func (d *sqliteDB) close() error { return d.db.Close() }

// sqlConn is conn over database/sql: a *sql.DB or a *sql.Tx.
type sqlConn struct {
	q interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
		QueryRowContext(context.Context, string, ...any) *sql.Row
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	}
}

func (c sqlConn) exec(ctx context.Context, q string, args ...any) error {
	_, err := c.q.ExecContext(ctx, q, args...)
	return err
}

func (c sqlConn) queryRow(ctx context.Context, q string, args ...any) row {
	return sqlRow{c.q.QueryRowContext(ctx, q, args...)}
}

func (c sqlConn) query(ctx context.Context, q string, args ...any) (rows, error) {
	r, err := c.q.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{r}, nil
}

type sqlRow struct{ r *sql.Row }

func (r sqlRow) Scan(dest ...any) error {
	err := r.r.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return errNoRows
	}
	return err
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }

type sqlTx struct {
	sqlConn
	t *sql.Tx
}

func (t sqlTx) commit(context.Context) error { return t.t.Commit() }
func (t sqlTx) rollback(context.Context)     { t.t.Rollback() }
func (t sqlTx) native() any                  { return t.t }
