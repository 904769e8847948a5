package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"

	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	_ "modernc.org/sqlite" // the pure-Go SQLite driver, registered as "sqlite"
)

// Database says where the outbox keeps its queue: SQLite(path) for one
// process (the embedded default), later Postgres(pool) for a queue shared
// by several.
type Database interface {
	// open returns the database handle; owned reports whether the outbox
	// opened it (and closes it).
	open(ctx context.Context) (db *sql.DB, owned bool, err error)
	String() string
}

// SQLite keeps the outbox in the SQLite file at path (created if missing),
// through River's riversqlite driver over modernc.org/sqlite (pure Go).
// The file is opened in WAL mode with one connection, as River
// recommends: a transaction begun on Outbox.DB holds it until it ends.
func SQLite(path string) Database { return sqliteDB{path: path} }

type sqliteDB struct{ path string }

func (d sqliteDB) String() string { return "sqlite:" + d.path }

func (d sqliteDB) open(ctx context.Context) (*sql.DB, bool, error) {
	if d.path == "" {
		return nil, false, errors.New("outbox: SQLite: empty path")
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	db, err := sql.Open("sqlite", "file:"+url.PathEscape(d.path)+"?"+q.Encode())
	if err != nil {
		return nil, false, fmt.Errorf("outbox: opening %s: %w", d, err)
	}
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, false, fmt.Errorf("outbox: opening %s: %w", d, err)
	}
	return db, true, nil
}

// ourSchema is the outbox's own tables beside River's: the composed
// message and the fate of each recipient. Statements are idempotent.
var ourSchema = []string{
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
}

// Migrate brings the database's schema up to date: River's tables through
// River's migrator (rivermigrate), then the outbox's own. It is safe to run
// on a database already up to date.
func Migrate(ctx context.Context, d Database) error {
	db, owned, err := d.open(ctx)
	if err != nil {
		return err
	}
	if owned {
		defer db.Close()
	}
	return migrate(ctx, db)
}

func migrate(ctx context.Context, db *sql.DB) error {
	m, err := rivermigrate.New(riversqlite.New(db), nil)
	if err != nil {
		return fmt.Errorf("outbox: migrate: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("outbox: migrate River's schema: %w", err)
	}
	for _, s := range ourSchema {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("outbox: migrate the outbox's schema: %w", err)
		}
	}
	return nil
}

// ErrNotMigrated is returned by Open when the database lacks the outbox's
// schema or River's is not up to date: run Migrate, or Open with
// WithMigrate.
var ErrNotMigrated = errors.New("outbox: database schema missing or out of date (run outbox.Migrate or Open with outbox.WithMigrate())")

// checkSchema reports ErrNotMigrated unless River's migrations are all
// applied and our tables exist. A database with no tables at all (a new
// SQLite file) is reported by empty.
func checkSchema(ctx context.Context, db *sql.DB) (empty bool, err error) {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).Scan(&n); err != nil {
		return false, fmt.Errorf("outbox: reading the schema: %w", err)
	}
	if n == 0 {
		return true, nil
	}
	m, err := rivermigrate.New(riversqlite.New(db), nil)
	if err != nil {
		return false, fmt.Errorf("outbox: %w", err)
	}
	res, err := m.Validate(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("%w: %v", ErrNotMigrated, err)
	}
	if !res.OK {
		return false, fmt.Errorf("%w: %v", ErrNotMigrated, res.Messages)
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('outbox_message', 'outbox_recipient')`).Scan(&n); err != nil {
		return false, fmt.Errorf("outbox: reading the schema: %w", err)
	}
	if n != 2 {
		return false, ErrNotMigrated
	}
	return false, nil
}
