package outbox_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jmailgo/jmail/mailsession/outbox"
)

// postgresEnv names the PostgreSQL database (a postgres:// URL) that, when
// set, the package's tests run on instead of SQLite files, each test in a
// schema of its own; .ci/run sets it to the cluster of .ci/postgres.sh:
//
//	JMAIL_TEST_POSTGRES=postgres://jmail:jmail-pg-secret@127.0.0.1:15432/jmail go test ./mailsession/outbox/
const postgresEnv = "JMAIL_TEST_POSTGRES"

// testDB is where a test's outbox lives: a new SQLite file, or a new
// schema in $JMAIL_TEST_POSTGRES (dropped when the test ends), with its
// pool.
type testDB struct {
	outbox.Database
	pool *pgxpool.Pool // nil for SQLite
	path string        // the SQLite file
}

func newTestDB(t testing.TB) testDB { return testDBAt(t, os.Getenv(postgresEnv)) }

// testDBAt is a new SQLite file when url is empty, else a new schema in
// the PostgreSQL database at url.
func testDBAt(t testing.TB, url string) testDB {
	t.Helper()
	if url == "" {
		path := filepath.Join(t.TempDir(), "outbox.db")
		return testDB{Database: outbox.SQLite(path), path: path}
	}
	pool := schemaPool(t, url, newSchema(t, url))
	return testDB{Database: outbox.Postgres(pool), pool: pool}
}

// newSchema creates a schema of its own in the database at url, dropped
// (with everything in it) when the test ends.
func newSchema(t testing.TB, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	schema := fmt.Sprintf("t_%d_%d", os.Getpid(), time.Now().UnixNano())
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("PostgreSQL (%s or JMAIL_IT_POSTGRES): %v", postgresEnv, err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, url); err == nil {
			c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			c.Close(ctx)
		}
	})
	return schema
}

// schemaPool is a pool on the database at url whose connections use
// schema; it is closed when the test ends (before the schema is dropped).
func schemaPool(t testing.TB, url, schema string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// appTx is a transaction of the application's on the outbox's database,
// whichever it is: what EnqueueTx joins.
type appTx struct {
	native   any // *sql.Tx or pgx.Tx
	exec     func(q string) error
	commit   func() error
	rollback func() error
}

// begin begins an application transaction on the database of ob, opened
// on d.
func (d testDB) begin(t testing.TB, ctx context.Context, ob *outbox.Outbox) *appTx {
	t.Helper()
	if d.pool == nil {
		db := ob.DB()
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		return &appTx{
			native:   tx,
			exec:     func(q string) error { _, err := tx.ExecContext(ctx, q); return err },
			commit:   tx.Commit,
			rollback: tx.Rollback,
		}
	}
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return &appTx{
		native:   tx,
		exec:     func(q string) error { _, err := tx.Exec(ctx, q); return err },
		commit:   func() error { return tx.Commit(ctx) },
		rollback: func() error { return tx.Rollback(ctx) },
	}
}

// exec runs q on the database directly, as the application would.
func (d testDB) exec(t testing.TB, q string) {
	t.Helper()
	ctx := context.Background()
	if d.pool != nil {
		if _, err := d.pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
		return
	}
	db, err := sql.Open("sqlite", d.path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, q); err != nil {
		t.Fatal(err)
	}
}
