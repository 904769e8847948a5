package outbox

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/properties"
)

// The keys the outbox reads. The first three are Liferay's
// (portal.properties, read by its MailEngine and mail sender); the others
// are the outbox's own, each also a Go option.
const (
	KeyBlacklist  = "mail.send.blacklist"
	KeyAuditTrail = "mail.audit.trail"
	KeyBatchSize  = "mail.batch.size"
	KeyRateLimit  = "mail.outbox.ratelimit"
	KeyWorkers    = "mail.outbox.workers"
	KeyMaxAge     = "mail.outbox.maxage"
)

var outboxKeys = []mailsession.Key{
	{Name: KeyBlacklist, Doc: "comma-separated addresses never mailed: such a recipient is recorded Failed at Enqueue (reply \"mail.send.blacklist\"), never sent; matched ignoring case", Support: mailsession.Extension},
	{Name: KeyAuditTrail, Doc: "comma-separated addresses that also get every message, as Bcc: added to the envelope, not to the header", Support: mailsession.Extension},
	{Name: KeyBatchSize, Doc: "recipients per envelope: an attempt sends a message with more recipients as several SMTP transactions of at most this many; 0 or unset: one envelope", Support: mailsession.Extension},
	{Name: KeyRateLimit, Doc: "envelopes (SMTP transactions) per second sent by one outbox, e.g. 0.5 or 20; 0 or unset: no limit (WithRateLimit)", Support: mailsession.Extension},
	{Name: KeyWorkers, Doc: "messages sent at once; default the SMTP pool size, mail.smtp.connectionpoolsize (WithWorkers)", Support: mailsession.Extension},
	{Name: KeyMaxAge, Doc: "how long temporary failures are retried, a Go duration (120h) or seconds; default 120h, Postfix's maximal_queue_lifetime (WithMaxAge)", Support: mailsession.Extension},
}

// Keys lists the keys the outbox reads, with what they do.
func Keys() []mailsession.Key {
	out := make([]mailsession.Key, len(outboxKeys))
	copy(out, outboxKeys)
	return out
}

// WithProperties makes the outbox read its keys (Keys) from p rather than
// from the session's properties. A session built by
// mailsession.FromPortalProperties keeps only the mail.session. keys, so
// Liferay's mail.send.blacklist, mail.audit.trail and mail.batch.size are
// not among its properties: pass the same portal properties here.
func WithProperties(p *properties.Properties) Option {
	return func(c *config) { c.props = p }
}

// WithRateLimit limits the outbox to perSecond envelopes (SMTP
// transactions: one per message, or one per batch with mail.batch.size)
// per second, shared by its workers; 0 means no limit. Key
// mail.outbox.ratelimit.
func WithRateLimit(perSecond float64) Option {
	return func(c *config) { c.rate = perSecond }
}

// settings are the keys' effects, resolved at Open.
type settings struct {
	blacklist map[string]bool // lower-case addresses
	audit     []string
	batchSize int
	limiter   *limiter
}

// applySettings fills cfg from the keys (read from the WithProperties
// properties, else from the session's), then applies opts over them: an
// option given explicitly wins over its key.
func applySettings(s *mailsession.Session, cfg *config, opts []Option) error {
	var probe config
	for _, o := range opts {
		o(&probe)
	}
	get := s.Property
	if probe.props != nil {
		get = func(k string) string { v, _ := probe.props.Get(k); return v }
	}
	val := func(k string) string { return strings.TrimSpace(get(k)) }

	for _, a := range splitList(val(KeyBlacklist)) {
		if cfg.set.blacklist == nil {
			cfg.set.blacklist = map[string]bool{}
		}
		cfg.set.blacklist[strings.ToLower(bareAddress(a))] = true
	}
	if v := val(KeyAuditTrail); v != "" {
		list, err := mail.ParseAddressList(v)
		if err != nil {
			return &mailsession.SettingError{Key: KeyAuditTrail, Value: v, Err: err}
		}
		for _, a := range list {
			cfg.set.audit = append(cfg.set.audit, a.Address)
		}
	}
	if v := val(KeyBatchSize); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return &mailsession.SettingError{Key: KeyBatchSize, Value: v, Err: errors.New("not a whole number of recipients (0: no batches)")}
		}
		cfg.set.batchSize = n
	}
	if v := val(KeyRateLimit); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r < 0 || math.IsInf(r, 0) || math.IsNaN(r) {
			return &mailsession.SettingError{Key: KeyRateLimit, Value: v, Err: errors.New("not a rate in envelopes per second (0: no limit)")}
		}
		cfg.rate = r
	}
	if v := val(KeyWorkers); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return &mailsession.SettingError{Key: KeyWorkers, Value: v, Err: errors.New("not a positive number of workers")}
		}
		cfg.workers = n
	}
	if v := val(KeyMaxAge); v != "" {
		d, err := parseAge(v)
		if err != nil {
			return &mailsession.SettingError{Key: KeyMaxAge, Value: v, Err: err}
		}
		cfg.maxAge = d
	}

	for _, o := range opts {
		o(cfg)
	}
	if cfg.rate < 0 || math.IsNaN(cfg.rate) || math.IsInf(cfg.rate, 0) {
		return fmt.Errorf("outbox: rate limit %v: must be a finite number of envelopes per second, 0 for none", cfg.rate)
	}
	if cfg.rate > 0 {
		cfg.set.limiter = newLimiter(cfg.rate)
	}
	return nil
}

// parseAge reads a Go duration or a number of seconds.
func parseAge(v string) (time.Duration, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 || n > math.MaxInt64/int64(time.Second) {
			return 0, errors.New("not a positive number of seconds")
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, errors.New("not a positive duration (120h) or number of seconds")
	}
	return d, nil
}

// splitList splits a comma-separated value as Liferay's PropsUtil.getArray
// does: items trimmed, empty ones dropped.
func splitList(v string) []string {
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// bareAddress is the address of "Name <a@b>" or a bare a@b.
func bareAddress(a string) string {
	if p, err := mail.ParseAddress(a); err == nil {
		return p.Address
	}
	return a
}

// blacklistReply is the reply recorded for a blacklisted recipient.
const blacklistReply = "not sent: the address is in " + KeyBlacklist

// envelope gives the recipients stored for a message: rcpts, then the audit
// trail's addresses not already among them; and which are blacklisted. An
// address on both lists is never mailed (Liferay, which adds the audit
// trail after filtering, would mail it): the blacklist is also applied by
// the worker before every attempt, Retry included.
func (st *settings) envelope(rcpts []string) (addrs []string, blocked []bool) {
	seen := map[string]bool{}
	for _, r := range rcpts {
		k := strings.ToLower(r)
		if seen[k] {
			continue
		}
		seen[k] = true
		addrs = append(addrs, r)
		blocked = append(blocked, st.blacklist[k])
	}
	for _, a := range st.audit {
		if k := strings.ToLower(a); !seen[k] {
			seen[k] = true
			addrs = append(addrs, a)
			blocked = append(blocked, st.blacklist[k])
		}
	}
	return addrs, blocked
}

// batches splits rcpts into envelopes of at most batchSize recipients.
func (st *settings) batches(rcpts []string) [][]string {
	n := st.batchSize
	if n <= 0 || len(rcpts) <= n {
		return [][]string{rcpts}
	}
	var out [][]string
	for len(rcpts) > n {
		out = append(out, rcpts[:n:n])
		rcpts = rcpts[n:]
	}
	return append(out, rcpts)
}

// limiter is a token bucket of one token refilled every interval: it
// spaces envelopes evenly at the rate. Its zero (nil) value does not limit.
type limiter struct {
	interval time.Duration
	now      func() time.Time

	mu   sync.Mutex
	next time.Time // when the next token is free
}

func newLimiter(perSecond float64) *limiter {
	iv := time.Duration(float64(time.Second) / perSecond)
	return &limiter{interval: max(iv, 1), now: time.Now}
}

// reserve takes the next token and returns when it may be used.
func (l *limiter) reserve() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.next
	if now := l.now(); t.Before(now) {
		t = now
	}
	l.next = t.Add(l.interval)
	return t
}

// wait blocks until a token is free or ctx ends.
func (l *limiter) wait(ctx context.Context) error {
	if l == nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	d := l.reserve().Sub(l.now())
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
