package controlpanel

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/jmailgo/jmail/jndi"
	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/mailsession/outbox"
)

// Defaults for the limits the options change.
const (
	DefaultMaxRequestBytes = 64 << 10 // a filled form is a few KiB
	DefaultCheckTimeout    = 30 * time.Second
	DefaultSendTimeout     = 60 * time.Second
)

// Option configures a Handler.
type Option func(*config)

type config struct {
	authorize      func(*http.Request) error
	unprotected    bool
	registry       *jndi.Registry
	sessionOptions []mailsession.Option
	logger         *slog.Logger
	maxBytes       int64
	checkTimeout   time.Duration
	sendTimeout    time.Duration
	trustedOrigins []string
	outbox         *outbox.Outbox
}

// WithAuthorizer sets the check every request must pass before the page is
// shown or anything is changed: return nil to allow, an error to refuse
// (the client gets 403 Forbidden; the error is logged, never shown). The
// host application decides who is an administrator, typically from its own
// session cookie or the authenticated user in the request's context.
// New requires it unless WithoutAuthorization is given.
func WithAuthorizer(fn func(*http.Request) error) Option {
	return func(c *config) { c.authorize = fn }
}

// WithoutAuthorization explicitly serves the page to anyone who can reach
// it. Use it only where the listener itself is the protection (a loopback
// address on a single-user machine, a development setup). CSRF protection
// stays on.
func WithoutAuthorization() Option {
	return func(c *config) { c.unprotected = true }
}

// WithRegistry sets the registry the session is published in; the default
// is jndi's process-wide registry.
func WithRegistry(r *jndi.Registry) Option {
	return func(c *config) { c.registry = r }
}

// WithSessionOptions adds options to every session the page builds, after
// the properties, e.g. mailsession.WithRootCAs for a private CA or
// mailsession.WithLogger.
func WithSessionOptions(opts ...mailsession.Option) Option {
	return func(c *config) { c.sessionOptions = append(c.sessionOptions, opts...) }
}

// WithLogger sets the logger for what the page did (saves, refusals,
// failures); the default discards. Passwords are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// WithMaxRequestBytes limits the size of a request body (default
// DefaultMaxRequestBytes); a larger one is refused with 413. Zero or less
// keeps the default, as it does for the timeouts.
func WithMaxRequestBytes(n int64) Option {
	return func(c *config) { c.maxBytes = n }
}

// WithCheckTimeout bounds a connection check (default DefaultCheckTimeout).
func WithCheckTimeout(d time.Duration) Option {
	return func(c *config) { c.checkTimeout = d }
}

// WithSendTimeout bounds sending the test message (default
// DefaultSendTimeout).
func WithSendTimeout(d time.Duration) Option {
	return func(c *config) { c.sendTimeout = d }
}

// WithTrustedOrigins allows POSTs whose Origin is one of origins (e.g.
// "https://admin.example.com") in addition to the request's own host, for a
// page served behind a proxy that rewrites Host.
func WithTrustedOrigins(origins ...string) Option {
	return func(c *config) { c.trustedOrigins = append(c.trustedOrigins, origins...) }
}

// WithOutbox adds an Outbox section to the page: how many of ob's messages
// are in each state, and its latest failures with each recipient's state
// and the server's reply, with Retry and Cancel buttons. The buttons are
// POSTs protected like the rest of the page (authorizer, CSRF token); each
// action is logged and its outcome shown after a redirect back to the page.
// The handler neither starts nor closes ob.
func WithOutbox(ob *outbox.Outbox) Option {
	return func(c *config) { c.outbox = ob }
}
