// Package mailtest runs an in-process SMTP, POP3 and IMAP server on loopback,
// the way net/http/httptest runs an HTTP server, so that tests (and the
// quickstart) speak the real protocols to a real server.
//
// Every protocol listens twice: on a plain port that offers STARTTLS (STLS for
// POP3) and on an implicit-TLS port, all with a certificate generated at
// start whose trust pool CertPool returns. The servers share one in-memory
// mailbox (INBOX) per user: a message delivered over SMTP is read over POP3
// and IMAP with the same bytes, and a deletion through one is seen by the
// other. Properties hands out the JavaMail properties that point a session at
// the server, and Faults make it misbehave on demand.
//
// SMTP (go-smtp) offers PIPELINING, 8BITMIME, SMTPUTF8, SIZE, CHUNKING,
// STARTTLS and AUTH PLAIN, LOGIN, CRAM-MD5, XOAUTH2, OAUTHBEARER,
// SCRAM-SHA-256 and SCRAM-SHA-1, with SCRAM-SHA-256-PLUS and SCRAM-SHA-1-PLUS
// over TLS (see SetAuthMechanisms). A recipient that is a mailbox's address is delivered to
// it; another address at a domain that has mailboxes is refused with 550;
// any other address is accepted and only recorded in Received, so examples
// can send anywhere. AUTH is optional unless WithAuthRequired is given.
//
// IMAP (go-imap's imapserver) serves each user's INBOX with LOGIN,
// AUTHENTICATE, UIDPLUS, MOVE and IDLE; UIDs are stable and UIDVALIDITY is
// constant unless ResetUIDValidity renumbers them. POP3 (RFC 1939, CAPA,
// STLS, AUTH) locks the maildrop per session (-ERR [IN-USE]), applies DELE
// only at QUIT, and sends lines of any length, dot-stuffed; it refuses an
// AUTH line longer than 255 octets (RFC 5034) and takes the initial
// response after "+" too. IMAP and POP3 offer the SASL mechanisms SMTP
// does, less CRAM-MD5. SCRAM checks the password (stored as SCRAM
// credentials, 4096 iterations) and, for -PLUS, the channel binding the
// client names (tls-unique or tls-exporter); the server's final message
// goes out as a challenge, answered with an empty response. The login
// name is the full address everywhere.
//
// The faults (SetFaults with a Faults value; each applies to what comes
// after it):
//
//   - SMTP: RejectRecipients (a reply code per recipient), FailData (a
//     reply code to the message), CutDataAfter (the connection cut in the
//     middle of the message), CloseAfterDot (the message taken, stored and
//     delivered, then the connection closed without a reply to the final
//     dot or BDAT LAST), CutAtRcpt (the connection cut, without a reply,
//     at the Nth RCPT of a transaction), Reply421AtRcpt ("421" and a close
//     at the Nth RCPT: a server shutting down in the middle of a pipelined
//     group), NoSTARTTLS, RefuseAuth;
//   - IMAP: NoUIDPlus (IMAP4rev1 without UIDPLUS), NoIdle (neither IDLE
//     nor IMAP4rev2 offered), FetchUIDLast (the UID
//     item after the message literal in FETCH responses),
//     Server.ResetUIDValidity (a new UIDVALIDITY, UIDs renumbered, as a
//     recreated mailbox), CutFetchAfter (also POP3 RETR/TOP);
//   - every protocol: ReplyDelay (before every reply), RefuseAuth.
package mailtest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"testing"
)

// The mailbox created when no WithUser option is given, and its credentials.
const (
	DefaultUser     = "user@example.com"
	DefaultPassword = "password"
	DefaultToken    = "token" // accepted by XOAUTH2 and OAUTHBEARER for DefaultUser
)

// Mode selects how a client reaches the server, for Properties.
type Mode int

const (
	Plain       Mode = iota // plain port, no TLS used by the client (STARTTLS still offered)
	StartTLS                // plain port, the client must upgrade (starttls.enable + starttls.required)
	ImplicitTLS             // TLS port (smtps / pop3s / imaps)
)

// String returns the mode's name.
func (m Mode) String() string {
	switch m {
	case Plain:
		return "plain"
	case StartTLS:
		return "starttls"
	case ImplicitTLS:
		return "implicit-tls"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// Ports lists the listening ports. Passed to WithPorts, a zero field means a
// random free port.
type Ports struct{ SMTP, SMTPS, POP3, POP3S, IMAP, IMAPS int }

// Option configures Start.
type Option func(*config)

type user struct {
	addr, password, token string
}

type config struct {
	host         string
	ports        Ports
	users        []user
	logger       *slog.Logger
	onMessage    func(Message)
	authRequired bool
}

// WithUser adds a mailbox. The login name for every protocol is the full
// address. When no WithUser is given, DefaultUser is created with
// DefaultPassword and DefaultToken.
func WithUser(addr, password string) Option {
	return func(c *config) {
		for i := range c.users {
			if equalFold(c.users[i].addr, addr) {
				c.users[i].password = password
				return
			}
		}
		c.users = append(c.users, user{addr: addr, password: password})
	}
}

// WithOAuthToken sets the bearer token that XOAUTH2 and OAUTHBEARER accept
// for addr, creating the mailbox (with an unusable password) if needed.
func WithOAuthToken(addr, token string) Option {
	return func(c *config) {
		for i := range c.users {
			if equalFold(c.users[i].addr, addr) {
				c.users[i].token = token
				return
			}
		}
		c.users = append(c.users, user{addr: addr, token: token})
	}
}

// WithAuthRequired makes the SMTP server refuse MAIL FROM with 530 5.7.0
// until the client has authenticated, as a submission server does. By
// default the server is a sink that accepts mail without AUTH.
func WithAuthRequired() Option { return func(c *config) { c.authRequired = true } }

// WithHost sets the address to listen on; the default is "127.0.0.1".
func WithHost(host string) Option { return func(c *config) { c.host = host } }

// WithPorts sets fixed ports (for a development server); zero fields are
// chosen at random.
func WithPorts(p Ports) Option { return func(c *config) { c.ports = p } }

// WithLogger sets the logger for connection and debug messages; by default
// nothing is logged. Passwords and AUTH data are never logged.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithOnMessage sets a function called (on the SMTP connection's goroutine)
// after each accepted SMTP transaction.
func WithOnMessage(fn func(Message)) Option { return func(c *config) { c.onMessage = fn } }

// Server is a running SMTP + POP3 + IMAP server. Its methods are safe for
// concurrent use.
type Server struct {
	cfg   config
	host  string
	ports Ports
	log   *slog.Logger
	tls   *certs
	store *store

	faults faultState
	smtp   *smtpServer
	pop3   *pop3Server
	imap   *imapServer

	mu         sync.Mutex
	storeMechs []string // SetStoreAuthMechanisms; nil: defaultStoreMechanisms
	listeners  []net.Listener
	closed     bool
	wg         sync.WaitGroup // accept loops and connection handlers
}

// Start starts the servers on loopback and returns once every port listens.
func Start(opts ...Option) (*Server, error) {
	cfg := config{host: "127.0.0.1"}
	for _, o := range opts {
		o(&cfg)
	}
	if len(cfg.users) == 0 {
		cfg.users = []user{{addr: DefaultUser, password: DefaultPassword, token: DefaultToken}}
	}
	log := cfg.logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	certs, err := newCerts(cfg.host)
	if err != nil {
		return nil, fmt.Errorf("mailtest: %w", err)
	}
	s := &Server{cfg: cfg, host: cfg.host, log: log, tls: certs}
	s.store, err = newStore(cfg.users)
	if err != nil {
		return nil, fmt.Errorf("mailtest: %w", err)
	}
	s.smtp = newSMTPServer(s)
	s.pop3 = newPOP3Server(s)
	s.imap = newIMAPServer(s)

	type listen struct {
		port  *int
		want  int
		serve func(net.Listener)
	}
	for _, l := range []listen{
		{&s.ports.SMTP, cfg.ports.SMTP, func(l net.Listener) { s.smtp.serve(l, false) }},
		{&s.ports.SMTPS, cfg.ports.SMTPS, func(l net.Listener) { s.smtp.serve(l, true) }},
		{&s.ports.POP3, cfg.ports.POP3, func(l net.Listener) { s.pop3.serve(l, false) }},
		{&s.ports.POP3S, cfg.ports.POP3S, func(l net.Listener) { s.pop3.serve(l, true) }},
		{&s.ports.IMAP, cfg.ports.IMAP, func(l net.Listener) { s.imap.serve(l, false) }},
		{&s.ports.IMAPS, cfg.ports.IMAPS, func(l net.Listener) { s.imap.serve(l, true) }},
	} {
		ln, err := net.Listen("tcp", net.JoinHostPort(cfg.host, strconv.Itoa(l.want)))
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("mailtest: %w", err)
		}
		*l.port = ln.Addr().(*net.TCPAddr).Port
		s.mu.Lock()
		s.listeners = append(s.listeners, ln)
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			l.serve(ln)
		}()
	}
	log.Debug("mailtest started", "host", s.host, "ports", fmt.Sprintf("%+v", s.ports))
	return s, nil
}

// NewServer starts a server for a test or benchmark and closes it when the
// test ends. It calls tb.Fatal if the server cannot start.
//
//	func TestSignup(t *testing.T) {
//		srv := mailtest.NewServer(t)
//		sess, err := mailsession.FromProperties(srv.Properties(mailtest.StartTLS, "imap"),
//			mailsession.WithRootCAs(srv.CertPool()))
//		...
//		msgs, err := srv.WaitMessages(ctx, mailtest.DefaultUser, 1)
//	}
func NewServer(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s, err := Start(opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// Close stops the listeners, closes every connection and waits until every
// goroutine the server started has returned. It is safe to call more than
// once.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var errs []error
	for _, l := range s.listeners {
		if err := l.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	s.mu.Unlock()
	s.smtp.close()
	s.pop3.close()
	s.imap.close()
	s.wg.Wait()
	return errors.Join(errs...)
}

// Host returns the address the server listens on ("127.0.0.1" by default).
func (s *Server) Host() string { return s.host }

// Ports returns the listening ports.
func (s *Server) Ports() Ports { return s.ports }

// Addr returns host:port for a port number, e.g. s.Addr(s.Ports().SMTP).
func (s *Server) Addr(port int) string { return net.JoinHostPort(s.host, strconv.Itoa(port)) }

// serverTLS returns the server-side TLS configuration.
func (s *Server) serverTLS() *tls.Config { return s.tls.server }

// logWriter sends the protocol libraries' error logs to the slog logger
// (go-smtp's Logger and imapserver's Logger).
type logWriter struct{ log *slog.Logger }

// Printf logs at debug level.
func (w logWriter) Printf(format string, args ...any) { w.log.Debug(fmt.Sprintf(format, args...)) }

// Println logs at debug level.
func (w logWriter) Println(args ...any) { w.log.Debug(fmt.Sprint(args...)) }
