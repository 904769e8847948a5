package mailsession

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/jmailgo/jmail/jndi"
	"github.com/jmailgo/jmail/properties"
)

// Option configures a Session. Options are applied after the properties
// given to FromProperties/FromPortalProperties, so they win over them.
type Option func(*config)

// TokenSource returns a current OAuth2 access token. It is called for every
// new connection that authenticates with XOAUTH2 or OAUTHBEARER, so it can
// refresh expired tokens.
type TokenSource func(ctx context.Context) (string, error)

type kv struct{ key, value string }

// config collects options before the settings are resolved.
type config struct {
	props     []kv              // JavaMail keys set by options, applied in order
	transport map[string]string // mail.<transport protocol>.<name> set by options
	store     map[string]string // mail.<store protocol>.<name> set by options
	extra     []*properties.Properties

	token          TokenSource
	storeToken     TokenSource // WithStoreTokenSource; nil: token
	allowCleartext bool
	rootCAs        *x509.CertPool
	tlsConfig      *tls.Config
	dialer         DialFunc
	connectTimeout time.Duration
	readTimeout    time.Duration
	writeTimeout   time.Duration
	poolSize       int
	poolTimeout    *time.Duration

	debugLogger *slog.Logger
	logger      *slog.Logger
	suppressor  Suppressor
	dkim        *dkimOption
	registry    *jndi.Registry
	environ     []string
	useEnviron  bool
	portal      bool
	buildOnly   bool // buildOnly: mail.session.jndi.name is not looked up

	// portalControlPanel: FromPortalProperties with mail.session.mail=true
	// (Liferay's Control Panel settings).
	portalControlPanel bool
	// sourceKeys maps a JavaMail key to the key the operator wrote
	// (mail.smtp.port → mail.session.mail.smtp.port, or the LIFERAY_
	// variable that set it), for warnings and errors.
	sourceKeys map[string]string
	// preWarnings are found before the settings are resolved (the portal
	// path).
	preWarnings []Warning
	// meterProvider, tracerProvider: WithMeterProvider, WithTracerProvider
	// (nil: no telemetry); telemetryRecipients: WithTelemetryRecipients.
	meterProvider       metric.MeterProvider
	tracerProvider      trace.TracerProvider
	telemetryRecipients bool
	// localName, when set, replaces the look-up of the local host's
	// canonical name (tests).
	localName func() string
}

func (c *config) setTransport(name, value string) {
	if c.transport == nil {
		c.transport = map[string]string{}
	}
	c.transport[name] = value
}

func (c *config) setStore(name, value string) {
	if c.store == nil {
		c.store = map[string]string{}
	}
	c.store[name] = value
}

// WithProperty sets one JavaMail key, as if it were in the properties.
func WithProperty(key, value string) Option {
	return func(c *config) { c.props = append(c.props, kv{key, value}) }
}

// WithProperties overlays additional JavaMail properties last, over the
// properties given to the constructor: Liferay's "Manually specify additional
// JavaMail properties to override the above configuration".
func WithProperties(p *properties.Properties) Option {
	return func(c *config) { c.extra = append(c.extra, p) }
}

// WithHost sets the SMTP server (mail.smtp.host, mail.smtp.port). A port of
// 0 keeps the protocol's default.
func WithHost(host string, port int) Option {
	return func(c *config) {
		c.setTransport("host", host)
		if port != 0 {
			c.setTransport("port", strconv.Itoa(port))
		}
	}
}

// WithAuth sets the SMTP login and turns authentication on
// (mail.smtp.user, mail.smtp.password, mail.smtp.auth=true).
func WithAuth(user, password string) Option {
	return func(c *config) {
		c.setTransport("user", user)
		c.setTransport("password", password)
		c.setTransport("auth", "true")
	}
}

// WithStartTLS upgrades SMTP connections with STARTTLS when offered
// (mail.smtp.starttls.enable); required refuses to go on without it
// (mail.smtp.starttls.required).
func WithStartTLS(required bool) Option {
	return func(c *config) {
		c.setTransport("starttls.enable", "true")
		c.setTransport("starttls.required", strconv.FormatBool(required))
	}
}

// WithImplicitTLS connects to SMTP with TLS from the first byte
// (mail.transport.protocol=smtps; default port 465).
func WithImplicitTLS() Option {
	return func(c *config) { c.props = append(c.props, kv{"mail.transport.protocol", "smtps"}) }
}

// WithFrom sets the default From address (mail.from).
func WithFrom(addr string) Option {
	return func(c *config) { c.props = append(c.props, kv{"mail.from", addr}) }
}

// WithEnvelopeFrom sets the SMTP envelope sender (MAIL FROM), where
// bounces go (mail.smtp.from).
func WithEnvelopeFrom(addr string) Option {
	return func(c *config) { c.setTransport("from", addr) }
}

// WithEHLOName sets the name the client introduces itself with in EHLO
// (mail.smtp.localhost; default: the local host's canonical name, as JavaMail).
func WithEHLOName(name string) Option {
	return func(c *config) { c.setTransport("localhost", name) }
}

// WithAuthMechanisms sets the SASL mechanisms allowed for SMTP, in order of
// preference (mail.smtp.auth.mechanisms): SCRAM-SHA-256-PLUS, SCRAM-SHA-256,
// SCRAM-SHA-1-PLUS, SCRAM-SHA-1, PLAIN, LOGIN, CRAM-MD5, XOAUTH2,
// OAUTHBEARER. Unset, SCRAM comes first (its -PLUS variants over TLS),
// then PLAIN and LOGIN; with a token source, XOAUTH2 then OAUTHBEARER.
func WithAuthMechanisms(mechs ...string) Option {
	return func(c *config) { c.setTransport("auth.mechanisms", strings.Join(mechs, " ")) }
}

// WithDSN asks for delivery status notifications (mail.smtp.dsn.ret: "FULL"
// or "HDRS", "" for the server's default; mail.smtp.dsn.notify: "NEVER" or
// any of "SUCCESS", "FAILURE", "DELAY").
func WithDSN(ret string, notify ...string) Option {
	return func(c *config) {
		if ret != "" {
			c.setTransport("dsn.ret", ret)
		}
		if len(notify) > 0 {
			c.setTransport("dsn.notify", strings.Join(notify, ","))
		}
	}
}

// WithTrustedHosts accepts the certificates of these SMTP hosts without
// verification ("*": every host), as mail.smtp.ssl.trust does; an SMTP host
// not in the list is refused. Prefer WithRootCAs, which keeps verification
// on.
func WithTrustedHosts(hosts ...string) Option {
	return func(c *config) { c.setTransport("ssl.trust", strings.Join(hosts, " ")) }
}

// WithServerIdentityCheck turns the check of the host name in the SMTP
// server's certificate on (the default) or off
// (mail.smtp.ssl.checkserveridentity); the chain is verified either way.
func WithServerIdentityCheck(on bool) Option {
	return func(c *config) { c.setTransport("ssl.checkserveridentity", strconv.FormatBool(on)) }
}

// WithQuit sets how connections are closed: wait for the reply to QUIT
// (mail.smtp.quitwait, default true) and send RSET first
// (mail.smtp.rsetbeforequit, default false).
func WithQuit(wait, rsetFirst bool) Option {
	return func(c *config) {
		c.setTransport("quitwait", strconv.FormatBool(wait))
		c.setTransport("rsetbeforequit", strconv.FormatBool(rsetFirst))
	}
}

// WithPipelining turns SMTP PIPELINING (RFC 2920) on or off
// (mail.smtp.pipelining; on by default, used only when the server offers
// it).
func WithPipelining(on bool) Option {
	return func(c *config) { c.setTransport("pipelining", strconv.FormatBool(on)) }
}

// WithChunking turns SMTP CHUNKING (RFC 3030: the message sent with BDAT
// in the same pipelined group as MAIL and RCPT) on or off
// (mail.smtp.chunking; on by default, used only when the server offers it).
// Off, the message goes with DATA.
func WithChunking(on bool) Option {
	return func(c *config) { c.setTransport("chunking", strconv.FormatBool(on)) }
}

// WithSendPartial sends to the valid recipients when some are rejected
// (mail.smtp.sendpartial).
func WithSendPartial(on bool) Option {
	return func(c *config) { c.setTransport("sendpartial", strconv.FormatBool(on)) }
}

// WithStore configures the store: protocol pop3, pop3s, imap or imaps
// (mail.store.protocol), host and port (0: the protocol's default).
func WithStore(protocol, host string, port int) Option {
	return func(c *config) {
		c.props = append(c.props, kv{"mail.store.protocol", protocol})
		c.setStore("host", host)
		if port != 0 {
			c.setStore("port", strconv.Itoa(port))
		}
	}
}

// WithStoreAuth sets the store login (mail.<store>.user, .password).
func WithStoreAuth(user, password string) Option {
	return func(c *config) {
		c.setStore("user", user)
		c.setStore("password", password)
	}
}

// WithRootCAs verifies server certificates against pool instead of the
// system roots (for every protocol).
func WithRootCAs(pool *x509.CertPool) Option {
	return func(c *config) { c.rootCAs = pool }
}

// WithTLSConfig uses cfg (cloned) as the base TLS configuration for every
// connection. ServerName is filled in per endpoint when empty; MinVersion is
// raised to TLS 1.2.
func WithTLSConfig(cfg *tls.Config) Option {
	return func(c *config) { c.tlsConfig = cfg }
}

// WithDialer makes every connection of the session, transport and store,
// start with dial instead of a net.Dialer: a custom local address, a tunnel
// of the caller's, a test network. It composes with JavaMail's proxy keys:
// with mail.<p>.socks.host or mail.<p>.proxy.host set, dial opens the
// connection to the proxy and the SOCKS5 or HTTP CONNECT handshake runs
// over it; without them, dial connects to the mail server itself
// ("tcp", "host:port"). Its ctx ends at the connect timeout. TLS, implicit
// or by STARTTLS, runs over whatever dial returns and verifies the mail
// server's host name. As the peer's address then says nothing about the
// server, credentials go without TLS only to a server named localhost or
// by a loopback IP (see WithInsecureAuth).
func WithDialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) Option {
	return func(c *config) { c.dialer = dial }
}

// WithTimeouts sets the connect timeout and the per-I/O read and write
// timeouts for every protocol. A zero value keeps the configured one.
func WithTimeouts(connect, read, write time.Duration) Option {
	return func(c *config) {
		c.connectTimeout, c.readTimeout, c.writeTimeout = connect, read, write
	}
}

// WithPool sets how many SMTP connections are used at once and kept
// (mail.smtp.connectionpoolsize) and how long an idle one is kept
// (mail.smtp.connectionpooltimeout; 0 closes each after its send).
func WithPool(size int, idle time.Duration) Option {
	return func(c *config) {
		c.poolSize = size
		c.poolTimeout = &idle
	}
}

// WithTokenSource authenticates with XOAUTH2 or OAUTHBEARER using tokens
// from ts, called for every new connection (the user name is still
// needed): the transport's, and the store's unless WithStoreTokenSource
// gives it its own. Without it, the password is used as the token, as
// JavaMail does. OAuth2 adapts a golang.org/x/oauth2 TokenSource, cached
// and refreshed before it expires.
func WithTokenSource(ts TokenSource) Option {
	return func(c *config) { c.token = ts }
}

// WithStoreTokenSource is WithTokenSource for the store (POP3, IMAP) alone:
// the mailbox a session reads is often another account than the one it
// sends with, with tokens of its own (on Microsoft 365, POP and IMAP
// scopes rather than SMTP's).
func WithStoreTokenSource(ts TokenSource) Option {
	return func(c *config) { c.storeToken = ts }
}

// WithInsecureAuth allows credentials over an unencrypted connection to a
// host that is not loopback (mail.<p>.auth.allowcleartext=true). Avoid it.
func WithInsecureAuth() Option {
	return func(c *config) { c.allowCleartext = true }
}

// WithDebug sends the protocol trace to l at debug level, with AUTH
// exchanges redacted (as mail.debug=true does with the session logger).
func WithDebug(l *slog.Logger) Option {
	return func(c *config) { c.debugLogger = l }
}

// WithLogger sets the logger for warnings (configuration warnings, a JNDI
// look-up that fell through) and, with mail.debug=true, the protocol trace
// (emitted at info level so that it shows without lowering the logger's
// level). Default: slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// WithEnviron applies Liferay environment variables from environ
// (os.Environ() form, e.g. LIFERAY_MAIL_PERIOD_SESSION_PERIOD_MAIL_PERIOD_SMTP_PERIOD_HOST=...)
// over the properties, as Liferay's Docker image does.
func WithEnviron(environ []string) Option {
	return func(c *config) { c.environ, c.useEnviron = environ, true }
}

// WithMeterProvider records the session's OpenTelemetry metrics with mp:
// sends by outcome, their duration, recipients and bytes, the SMTP pool's
// connections, dials, reconnects and TLS handshakes, and Receive's runs,
// messages, handler errors and deletions (see the package documentation
// and the README for the instruments, units and attributes). Without it
// no metric is recorded and nothing is spent on them; the global
// OpenTelemetry provider is not used. The outbox records its own with the
// same provider (Session.MeterProvider).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.meterProvider = mp }
}

// WithTracerProvider records an OpenTelemetry span with tp for every send
// ("smtp send") and every Receive run ("receive pop3", "receive imap"),
// children of the span in the caller's ctx, with the server, protocol,
// TLS version, authentication mechanism, reply codes and outcome as
// attributes. Recipient addresses are left out unless
// WithTelemetryRecipients(true) is given. Without it no span is made; the
// global provider is not used.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tracerProvider = tp }
}

// WithTelemetryRecipients puts the envelope recipients' addresses in the
// send spans (attribute smtp.rcpt.to) and leaves the addresses in the
// errors' texts of the span status and exception events (on: true). They
// are personal data: off by default, when no address is recorded (every
// address in an error's text is replaced by "<redacted>").
func WithTelemetryRecipients(on bool) Option {
	return func(c *config) { c.telemetryRecipients = on }
}

// buildOnly makes FromPortalProperties build the session its settings
// describe and ignore mail.session.jndi.name (from the file or the
// environment) instead of handing back a session bound under that name:
// WatchFile's builds, which replace that very session.
func buildOnly() Option {
	return func(c *config) { c.buildOnly = true }
}
