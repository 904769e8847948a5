// Package outbox sends mail durably and asynchronously: a message enqueued
// is composed at once, stored, and sent by workers that retry temporary
// failures with back-off until a maximum age, resume after a restart, and
// never send it again to a recipient who has it.
//
// It is Liferay's MailEngine made durable, on River
// (github.com/riverqueue/river): River holds the jobs, their retries,
// schedules and graceful stop; the outbox adds one job kind, its worker,
// and a table of its own beside River's that keeps each message's RFC 5322
// bytes and the fate of each recipient. SQLite (River's riversqlite over
// modernc.org/sqlite, pure Go) is the embedded default:
//
//	ob, err := outbox.Open(ctx, session, outbox.SQLite("outbox.db"), outbox.WithMigrate())
//	id, err := ob.Enqueue(ctx, msg) // durable when it returns
//	err = ob.Start(ctx)             // workers send in the background
//	st, err := ob.Status(ctx, id)   // Pending, Sending, Sent, Failed, Canceled
//	err = ob.Stop(ctx)              // lets the sends in flight finish
//
// # Databases
//
// SQLite (River's riversqlite over modernc.org/sqlite, pure Go, one file)
// serves one process. PostgreSQL (River's riverpgxv5 over pgx, Postgres)
// is the queue that several instances share: each runs workers on it, and
// River hands a message to one worker at a time. EnqueueTx joins the
// application's transaction on either: a *sql.Tx begun on DB() for
// SQLite, a pgx.Tx for PostgreSQL. Migrate (or WithMigrate) runs River's
// migrator and creates the outbox's tables; on PostgreSQL several
// processes may run it at once.
//
// A process that dies mid-send leaves its messages Sending; River's
// rescuer makes them due again after WithRescueAfter (default the attempt
// timeout plus a minute), and that send may then reach the server twice,
// with the same Message-ID.
//

// # Outcomes
//
// Each recipient ends Sent, Failed (a 5xx, or the maximum age reached) or,
// while the message is retried, stays Pending. A retry goes only to the
// recipients not yet reached. A message is Sent when every recipient has a
// final outcome and at least one has it, Failed when none has it. A send
// whose outcome is uncertain (the end of the message was written but no
// reply came, see mailsession.ErrUncertain) is retried by default, with the
// same Message-ID so that receivers can de-duplicate; WithUncertain(false)
// fails those recipients instead.
//
// # Settings
//
// The outbox reads these keys (Keys lists them) from the session's
// properties, or from the properties given to WithProperties; an option
// given to Open wins over its key. Liferay's MailEngine keys:
//
//   - mail.send.blacklist: comma-separated addresses never mailed. Such a
//     recipient is recorded Failed at Enqueue, with a reply naming the key,
//     and never sent to (the workers check again before every attempt, so
//     neither Retry nor a message enqueued before the setting sends to it). Addresses match ignoring case (Liferay compares
//     them exactly); blank items are ignored.
//   - mail.audit.trail: comma-separated addresses (RFC 5322 list) that also
//     get every message, as Bcc: added to the envelope, not to the header.
//     An address also in mail.send.blacklist is never mailed.
//   - mail.batch.size: at most this many recipients per envelope; an
//     attempt sends to the rest in further SMTP transactions, each
//     recipient's outcome kept. 0 or unset: one envelope.
//
// The outbox's own keys, each also an option:
//
//   - mail.outbox.ratelimit (WithRateLimit): envelopes (SMTP transactions)
//     per second sent by one outbox, all workers together; 0: no limit.
//   - mail.outbox.workers (WithWorkers): messages sent at once; default the
//     SMTP pool size.
//   - mail.outbox.maxage (WithMaxAge): how long temporary failures are
//     retried, a Go duration (120h) or seconds; default 5 days.
//
// mailsession.FromPortalProperties keeps only the mail.session. keys of a
// portal-ext.properties, so a session built by it has none of these: give
// the same properties to WithProperties.
package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/properties"
)

// Defaults.
const (
	// DefaultMaxAge is how long temporary failures are retried before the
	// message fails: Postfix's maximal_queue_lifetime.
	DefaultMaxAge = 5 * 24 * time.Hour
	// DefaultMaxSize is the largest composed message Enqueue accepts.
	DefaultMaxSize = 25 << 20
	// DefaultMinBackoff and DefaultMaxBackoff bound the delay between
	// attempts (doubling from the first, with jitter), as Postfix's
	// minimal_backoff_time and maximal_backoff_time.
	DefaultMinBackoff = 5 * time.Minute
	DefaultMaxBackoff = 4000 * time.Second
	// DefaultAttemptTimeout bounds one attempt (River's job timeout).
	DefaultAttemptTimeout = 10 * time.Minute
)

const (
	jobKind     = "jmail_outbox_send"
	queueName   = "jmail_outbox"
	maxAttempts = 10000 // the maximum age, not a count, ends the retries
	// fetchCooldown is River's FetchCooldown: see Open.
	fetchCooldown = 5 * time.Millisecond
)

// ErrTooLarge is returned by Enqueue for a message larger than the size cap
// (WithMaxSize).
var ErrTooLarge = errors.New("outbox: message too large")

// ErrNotFound is returned for an ID the outbox does not hold.
var ErrNotFound = errors.New("outbox: no such message")

// ErrFinished is returned by Cancel and Retry for a message whose outcome
// does not allow it (Cancel of a Sent or Failed message, Retry of a Sent
// one or of one being sent).
var ErrFinished = errors.New("outbox: message already finished")

// Outbox is a durable queue of messages sent through a mailsession.Session.
// Its methods are safe for concurrent use.
type Outbox struct {
	s     *mailsession.Session
	db    db
	queue queue
	cfg   config
	tel   *telemetry // metrics with the session's meter provider (telemetry.go)

	mu      sync.Mutex
	started bool
	closed  bool
}

// Option configures Open.
type Option func(*config)

type config struct {
	migrate        bool
	maxAge         time.Duration
	maxSize        int64
	minBackoff     time.Duration
	maxBackoff     time.Duration
	workers        int
	attemptTimeout time.Duration
	rescueAfter    time.Duration
	pollInterval   time.Duration
	retryUncertain bool
	logger         *slog.Logger
	onEvent        func(Event)

	props *properties.Properties // WithProperties; see settings.go
	rate  float64
	set   settings
}

// WithMigrate makes Open run Migrate first. (A new SQLite file, with no
// table at all, is migrated by Open in any case.)
func WithMigrate() Option { return func(c *config) { c.migrate = true } }

// WithMaxAge sets how long temporary failures are retried, counted from
// Enqueue (or from the scheduled time, or from Retry); default 5 days.
func WithMaxAge(d time.Duration) Option { return func(c *config) { c.maxAge = d } }

// WithMaxSize sets the largest composed message Enqueue accepts, in bytes;
// default 25 MiB.
func WithMaxSize(n int64) Option { return func(c *config) { c.maxSize = n } }

// WithBackoff sets the delay before the first retry and the largest delay:
// each retry waits twice as long as the one before, with ±25 % jitter,
// never past the maximum age. Default 5 minutes and 4000 seconds.
func WithBackoff(first, max time.Duration) Option {
	return func(c *config) { c.minBackoff, c.maxBackoff = first, max }
}

// WithWorkers sets how many messages are sent at once; default the SMTP
// pool size (mail.smtp.connectionpoolsize, default 2).
func WithWorkers(n int) Option { return func(c *config) { c.workers = n } }

// WithAttemptTimeout bounds one attempt; default 10 minutes.
func WithAttemptTimeout(d time.Duration) Option { return func(c *config) { c.attemptTimeout = d } }

// WithRescueAfter sets how long a message stays Sending after its attempt
// started before another worker may take it over: the attempt of a
// process that died (killed, or its machine lost) is never finished, and
// River's rescuer makes such a message due again after this long. It must
// be longer than the attempt timeout, or an attempt still running could be
// taken over and the message sent twice; default the attempt timeout plus
// one minute.
func WithRescueAfter(d time.Duration) Option { return func(c *config) { c.rescueAfter = d } }

// WithPollInterval sets how often the workers look for due messages when
// no notification woke them (River's FetchPollInterval; default 1s).
func WithPollInterval(d time.Duration) Option { return func(c *config) { c.pollInterval = d } }

// WithUncertain sets what happens to recipients whose outcome is uncertain
// (see mailsession.ErrUncertain): retried (true, the default: a duplicate,
// with the same Message-ID, rather than a loss) or failed (false).
func WithUncertain(retry bool) Option { return func(c *config) { c.retryUncertain = retry } }

// WithLogger sets where the outbox logs each attempt and outcome (and
// River its warnings); default slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithEvents calls fn with every attempt and outcome, from the worker that
// made it; fn must not block for long.
func WithEvents(fn func(Event)) Option { return func(c *config) { c.onEvent = fn } }

// Open opens the outbox kept in d, sending through s. It does not start
// the workers (Start). The outbox does not own s; it owns the database it
// opened, closed by Close. Its metrics (mail.outbox.messages by state,
// mail.outbox.attempts by result) go to s's meter provider
// (mailsession.WithMeterProvider): no option of its own is needed.
func Open(ctx context.Context, s *mailsession.Session, d Database, opts ...Option) (*Outbox, error) {
	if s == nil {
		return nil, errors.New("outbox: nil session")
	}
	if d == nil {
		return nil, errors.New("outbox: nil database")
	}
	cfg := config{
		maxAge:         DefaultMaxAge,
		maxSize:        DefaultMaxSize,
		minBackoff:     DefaultMinBackoff,
		maxBackoff:     DefaultMaxBackoff,
		attemptTimeout: DefaultAttemptTimeout,
		retryUncertain: true,
	}
	if err := applySettings(s, &cfg, opts); err != nil {
		return nil, err
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	if cfg.workers <= 0 {
		cfg.workers = poolSize(s)
	}
	if cfg.maxAge <= 0 || cfg.maxSize <= 0 || cfg.minBackoff <= 0 || cfg.maxBackoff < cfg.minBackoff || cfg.attemptTimeout <= 0 {
		return nil, errors.New("outbox: max age, max size, back-off and attempt timeout must be positive (and the first back-off at most the largest)")
	}
	if cfg.rescueAfter == 0 {
		cfg.rescueAfter = cfg.attemptTimeout + time.Minute
	}
	if cfg.rescueAfter <= cfg.attemptTimeout {
		return nil, fmt.Errorf("outbox: WithRescueAfter(%v) must be longer than the attempt timeout (%v): a running attempt would be taken over and its message sent twice", cfg.rescueAfter, cfg.attemptTimeout)
	}
	db, err := d.open(ctx)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Outbox, error) {
		db.close()
		return nil, err
	}
	empty, err := checkSchema(ctx, db)
	if err != nil && !cfg.migrate {
		return fail(err)
	}
	if cfg.migrate || empty {
		if err := db.migrate(ctx); err != nil {
			return fail(err)
		}
	}
	ob := &Outbox{s: s, db: db, cfg: cfg}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &worker{ob: ob}); err != nil {
		return fail(fmt.Errorf("outbox: %w", err))
	}
	rc := &river.Config{
		Queues:               map[string]river.QueueConfig{queueName: {MaxWorkers: cfg.workers}},
		Workers:              workers,
		RetryPolicy:          &retryPolicy{cfg: &ob.cfg},
		MaxAttempts:          maxAttempts,
		JobTimeout:           cfg.attemptTimeout,
		RescueStuckJobsAfter: cfg.rescueAfter,
		Logger:               slog.New(warnOnly{cfg.logger.Handler()}),
	}
	// River fetches at most once per FetchCooldown, each time as many
	// jobs as there are idle workers, so a busy outbox sends at most
	// workers/FetchCooldown messages a second: River's default of 100 ms
	// would hold two workers to 20 a second. The cooldown applies only
	// while jobs keep coming; an idle outbox polls every poll interval.
	rc.FetchCooldown = fetchCooldown
	if cfg.pollInterval > 0 {
		rc.FetchPollInterval = cfg.pollInterval
		rc.FetchCooldown = min(cfg.pollInterval, fetchCooldown)
	}
	ob.queue, err = db.newQueue(rc)
	if err != nil {
		return fail(fmt.Errorf("outbox: %w", err))
	}
	if ob.tel, err = newTelemetry(s.MeterProvider(), ob); err != nil {
		return fail(err)
	}
	return ob, nil
}

// poolSize is the session's SMTP pool size, the default number of workers.
func poolSize(s *mailsession.Session) int {
	proto := s.Property("mail.transport.protocol")
	if proto == "" {
		proto = "smtp"
	}
	if n, err := strconv.Atoi(s.Property("mail." + proto + ".connectionpoolsize")); err == nil && n > 0 {
		return n
	}
	return 2
}

// DB returns the outbox's SQLite database, for a transaction to give
// EnqueueTx; nil on PostgreSQL, whose pool is the caller's. It has a single
// connection: a transaction holds it (and the workers wait) until it
// commits or rolls back.
func (ob *Outbox) DB() *sql.DB {
	if d, ok := ob.db.(*sqliteDB); ok {
		return d.db
	}
	return nil
}

// Start starts the workers, which send due messages until Stop. ctx bounds
// the workers' lifetime: when it ends they stop at once, as with Close.
func (ob *Outbox) Start(ctx context.Context) error {
	ob.mu.Lock()
	defer ob.mu.Unlock()
	if ob.closed {
		return errors.New("outbox: closed")
	}
	if err := ob.queue.start(ctx); err != nil {
		return fmt.Errorf("outbox: start: %w", err)
	}
	ob.started = true
	return nil
}

// Stop stops fetching messages and waits for the sends in flight to finish
// (their outcome recorded) or ctx to end; then it cancels those still
// running (they are retried later) and returns ctx's error. Enqueue, Status,
// Retry and Cancel keep working; Start may be called again.
func (ob *Outbox) Stop(ctx context.Context) error {
	ob.mu.Lock()
	defer ob.mu.Unlock()
	return ob.stopLocked(ctx)
}

func (ob *Outbox) stopLocked(ctx context.Context) error {
	if !ob.started {
		return nil
	}
	err := ob.queue.stop(ctx)
	if err != nil && ctx.Err() != nil {
		// Cancel the attempts still running; they return promptly since
		// every send honours its ctx.
		hard, cancel := context.WithTimeout(context.WithoutCancel(ctx), ob.cfg.attemptTimeout)
		defer cancel()
		ob.queue.stopAndCancel(hard)
	}
	ob.started = false
	if err != nil {
		return fmt.Errorf("outbox: stop: %w", err)
	}
	return nil
}

// Close stops the workers at once (an attempt in flight is cancelled and
// retried later) and closes the database if the outbox opened it (an
// SQLite file; never the caller's PostgreSQL pool). Use Stop
// first to let the sends in flight finish.
func (ob *Outbox) Close() error {
	ob.mu.Lock()
	defer ob.mu.Unlock()
	if ob.closed {
		return nil
	}
	ob.closed = true
	if ob.started {
		ctx, cancel := context.WithTimeout(context.Background(), ob.cfg.attemptTimeout)
		defer cancel()
		ob.queue.stopAndCancel(ctx)
		ob.started = false
	}
	ob.tel.stop()
	return ob.db.close()
}

// warnOnly passes River's warnings and errors on, not its routine logs.
type warnOnly struct{ slog.Handler }

func (h warnOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.Handler.Enabled(ctx, l)
}
func (h warnOnly) WithAttrs(a []slog.Attr) slog.Handler { return warnOnly{h.Handler.WithAttrs(a)} }
func (h warnOnly) WithGroup(n string) slog.Handler      { return warnOnly{h.Handler.WithGroup(n)} }
