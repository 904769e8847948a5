package outbox

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/riverqueue/river/rivermigrate"
)

// Database says where the outbox keeps its queue: SQLite(path) for one
// process (the embedded default), Postgres(pool) for a queue that several
// processes share.
type Database interface {
	open(ctx context.Context) (db, error)
	String() string
}

// Migrate brings the database's schema up to date: River's tables through
// River's migrator (rivermigrate), then the outbox's own. It is safe to run
// on a database already up to date, and, on PostgreSQL, from several
// processes at once.
func Migrate(ctx context.Context, d Database) error {
	if d == nil {
		return errors.New("outbox: nil database")
	}
	db, err := d.open(ctx)
	if err != nil {
		return err
	}
	defer db.close()
	return db.migrate(ctx)
}

// ErrNotMigrated is returned by Open when the database lacks the outbox's
// schema or River's is not up to date: run Migrate, or Open with
// WithMigrate.
var ErrNotMigrated = errors.New("outbox: database schema missing or out of date (run outbox.Migrate or Open with outbox.WithMigrate())")

// validateRiver turns the result of River's migrator's Validate into
// ErrNotMigrated when a migration is missing.
func validateRiver(res *rivermigrate.ValidateResult, err error) error {
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotMigrated, err)
	}
	if !res.OK {
		return fmt.Errorf("%w: %v", ErrNotMigrated, res.Messages)
	}
	return nil
}

// checkSchema reports ErrNotMigrated unless River's migrations are all
// applied and the outbox's tables exist; a database with no table at all
// (a new SQLite file, an empty schema) is reported as empty.
func checkSchema(ctx context.Context, d db) (empty bool, err error) {
	n, err := d.tables(ctx)
	if err != nil {
		return false, fmt.Errorf("outbox: reading the schema: %w", err)
	}
	if n == 0 {
		return true, nil
	}
	if err := d.validateRiver(ctx); err != nil {
		return false, err
	}
	ours := []string{"outbox_message", "outbox_recipient"}
	if n, err = d.tables(ctx, ours...); err != nil {
		return false, fmt.Errorf("outbox: reading the schema: %w", err)
	}
	if n != len(ours) {
		return false, ErrNotMigrated
	}
	return false, nil
}

// placeholders is n ? placeholders separated by commas.
func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

func anys(s []string) []any {
	a := make([]any, len(s))
	for i, v := range s {
		a[i] = v
	}
	return a
}
