package mailsession

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/jmailgo/jmail/properties"
)

// Session is a configured mail session: one SMTP transport with a pool of
// live connections and, when mail.store.protocol is set, a POP3 or IMAP
// store. It is immutable after construction and safe for concurrent use;
// share one per service.
type Session struct {
	*core
	// borrowed marks the Session FromPortalProperties returns for a
	// session found under mail.session.jndi.name: it shares the bound
	// session's core, and its Close and Shutdown leave the session to its
	// owner.
	borrowed bool
}

// core is a Session's state, shared by the borrowed views of it.
type core struct {
	set   *settings
	log   *slog.Logger // warnings
	trace *slog.Logger // protocol trace; nil when debugging is off
	pool  *pool
	recv  receiveState // the store side's state for Receive (receive.go)
	life  lifecycle    // Receive calls and open Stores, for Close and Shutdown (lifecycle.go)
	// suppressor is consulted before every envelope (WithSuppression).
	suppressor Suppressor
	// tel is the OpenTelemetry instrumentation (telemetry.go).
	tel *telemetry
}

// New builds a Session from options only (no properties): by default it
// sends with SMTP to localhost:25.
func New(opts ...Option) (*Session, error) {
	return build(nil, opts)
}

// FromProperties builds a Session from JavaMail properties (mail.smtp.host,
// mail.transport.protocol, ...; see Keys), then the options. Settings are
// validated: a bad value fails with a *SettingError naming the key.
func FromProperties(p *properties.Properties, opts ...Option) (*Session, error) {
	return build(p, opts)
}

// build merges properties and options into settings and starts the session.
func build(p *properties.Properties, opts []Option) (*Session, error) {
	c := &config{}
	for _, o := range opts {
		o(c)
	}
	return buildConfig(p, c)
}

func buildConfig(p *properties.Properties, c *config) (*Session, error) {
	eff := p.Clone()
	if c.useEnviron && !c.portal {
		// FromPortalProperties merged them already, before stripping.
		eff.Merge(properties.EnvOverrides(c.environ))
	}
	for _, x := range c.extra {
		eff.Merge(x)
	}
	for _, e := range c.props {
		eff.Set(e.key, e.value)
	}
	props := eff.Map()
	applyEndpointOptions(props, c)
	set, err := resolveSettings(props, c)
	if err != nil {
		return nil, err
	}
	tel, err := newTelemetry(c, set)
	if err != nil {
		return nil, err
	}
	s := &Session{core: &core{set: set, log: c.logger, suppressor: c.suppressor, tel: tel}}
	if s.log == nil {
		s.log = slog.Default()
	}
	switch {
	case c.debugLogger != nil:
		s.trace = c.debugLogger
	case set.debug:
		s.trace = slog.New(traceAtInfo{s.log.Handler()})
	}
	for _, w := range set.warnings {
		s.log.Warn("mailsession: configuration", "key", w.Key, "warning", w.Message)
	}
	s.pool = newPool(s, set.transport)
	if err := tel.observePool(s.pool); err != nil {
		return nil, err
	}
	return s, nil
}

// applyEndpointOptions writes the options that target "the transport" or
// "the store" under the protocol actually chosen.
func applyEndpointOptions(props map[string]string, c *config) {
	tp := strings.ToLower(strings.TrimSpace(props["mail.transport.protocol"]))
	if tp == "" {
		tp = "smtp"
	}
	for k, v := range c.transport {
		props["mail."+tp+"."+k] = v
	}
	sp := strings.ToLower(strings.TrimSpace(props["mail.store.protocol"]))
	if sp != "" {
		for k, v := range c.store {
			props["mail."+sp+"."+k] = v
		}
	}
}

// Property returns the effective value of a JavaMail key after every
// overlay and option ("" when unset), as JavaMail's Session.getProperty.
// Password keys are returned too: do not log the result blindly.
func (s *Session) Property(key string) string { return s.set.props[key] }

// Warnings returns what is legal in the configuration but almost surely
// wrong (unknown keys, ports of another protocol, TLS settings that do not
// match the port). Check reports them too.
func (s *Session) Warnings() []Warning { return append([]Warning(nil), s.set.warnings...) }

// String describes the session's endpoints without any secret.
func (s *Session) String() string {
	var b strings.Builder
	b.WriteString("mailsession.Session{transport: ")
	b.WriteString(s.set.transport.String())
	if s.set.store != nil {
		b.WriteString(", store: ")
		b.WriteString(s.set.store.String())
	}
	if s.set.dkim != nil {
		b.WriteString(", dkim: ")
		b.WriteString(s.set.dkim.String())
	}
	b.WriteString("}")
	return b.String()
}

// Format makes %v, %+v and %#v print String, never a field (so never a
// password).
func (s *Session) Format(f fmt.State, _ rune) { io.WriteString(f, s.String()) }

// Send composes m and sends it. Addresses and headers are validated before
// any connection is made (an invalid message fails with ErrInvalidMessage).
// When the server refuses recipients or the transaction, the error is a
// *SendError telling who received the message and who did not, with the
// server's replies; errors.Is(err, ErrTemporary) says whether a retry may
// succeed. ctx bounds the whole send, including waiting for a pooled
// connection.
func (s *Session) Send(ctx context.Context, m *Message) (err error) {
	ctx, op := s.tel.startSend(ctx)
	if op != nil {
		defer func() { op.end(ctx, err) }()
	}
	p, err := s.prepare(m)
	if err != nil {
		return err
	}
	return s.sendChecked(ctx, p.env, p.writeTo, op)
}

// SendRaw sends msg, an RFC 5322 message as prepared bytes, from the
// envelope sender from (empty: mail.smtp.from, else mail.from, else the SMTP
// user when it is an address) to the
// envelope recipients to. The message is sent as it is: its Bcc header, if
// any, is not removed.
func (s *Session) SendRaw(ctx context.Context, from string, to []string, msg io.Reader) (err error) {
	ctx, op := s.tel.startSend(ctx)
	if op != nil {
		defer func() { op.end(ctx, err) }()
	}
	if from == "" {
		from = s.set.transport.From
		if from == "" {
			from = s.defaultFrom()
		}
	}
	if from == "" {
		return fmt.Errorf("%w: no envelope sender (give from, or set mail.smtp.from or mail.from)", ErrInvalidMessage)
	}
	fa, err := envelopeAddress(from)
	if err != nil {
		return fmt.Errorf("%w: sender: %v", ErrInvalidMessage, err)
	}
	env := envelope{from: fa, rcpts: make([]string, 0, len(to))}
	for _, t := range to {
		a, err := envelopeAddress(t)
		if err != nil {
			return fmt.Errorf("%w: recipient: %v", ErrInvalidMessage, err)
		}
		env.rcpts = append(env.rcpts, a)
	}
	if len(env.rcpts) == 0 {
		return fmt.Errorf("%w: no recipient", ErrInvalidMessage)
	}
	if msg == nil {
		return fmt.Errorf("%w: nil message", ErrInvalidMessage)
	}
	return s.sendChecked(ctx, env, func(w io.Writer) error {
		_, err := io.Copy(w, msg)
		return err
	}, op)
}
