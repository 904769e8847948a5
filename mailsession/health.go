package mailsession

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults of HealthOptions.
const (
	DefaultHealthTimeout  = 5 * time.Second
	DefaultHealthCacheFor = 30 * time.Second
)

// HealthOptions configure HealthHandler. The zero value is ready to use.
type HealthOptions struct {
	// Timeout bounds one check and so every probe's wait: a probe is
	// answered within Timeout even when the server accepts the connection
	// and never says a word. Zero means DefaultHealthTimeout (5s).
	Timeout time.Duration
	// CacheFor is how long the result of a check, healthy or not, answers
	// the probes that follow before a new check runs, so that probes do
	// not hammer the relay (a dead one included). It counts from the end
	// of the check. Zero means DefaultHealthCacheFor (30s); a negative
	// value caches nothing, though probes that arrive while a check is
	// running still share it.
	CacheFor time.Duration
	// IgnoreStore leaves the store (POP3 or IMAP) out: only the transport
	// is contacted and judged, for a service that only sends.
	IgnoreStore bool
	// Lookup, when set, gives the session to check at each probe instead
	// of the one HealthHandler was given (which may then be nil): the
	// session bound under a JNDI name that WatchFile replaces, e.g.
	// func() (*Session, error) { return jndi.LookupAs[*Session](reg, name) }.
	// A cached result answers only for the session it checked. A failed
	// look-up answers 503 and is not cached.
	Lookup func() (*Session, error)
}

func (o HealthOptions) withDefaults() HealthOptions {
	if o.Timeout <= 0 {
		o.Timeout = DefaultHealthTimeout
	}
	if o.CacheFor == 0 {
		o.CacheFor = DefaultHealthCacheFor
	}
	return o
}

// Health statuses, the "status" field of a HealthReport.
const (
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// HealthReport is the JSON body HealthHandler answers with. It holds no
// secret: no password or token (one that a server quotes back in a reply
// is replaced by "[redacted]"), no user name field, and of the
// configuration warnings only their keys (their messages may quote values).
type HealthReport struct {
	// Status is HealthHealthy or HealthUnhealthy.
	Status string `json:"status"`
	// Error says why the session is unhealthy (every failing endpoint,
	// or a timeout); empty when healthy.
	Error string `json:"error,omitempty"`
	// CheckedAt is when the check ended: a cached answer shows its age.
	CheckedAt time.Time `json:"checked_at"`
	// Transport is the SMTP endpoint's report; nil when no check could run
	// (no session).
	Transport *HealthEndpoint `json:"transport,omitempty"`
	// Store is the POP3 or IMAP endpoint's report; nil when no store is
	// configured or HealthOptions.IgnoreStore is set.
	Store *HealthEndpoint `json:"store,omitempty"`
	// WarningCount is the number of configuration warnings
	// (Session.Warnings); they do not make the session unhealthy.
	WarningCount int `json:"warning_count"`
	// Warnings lists the property keys the warnings are about, without
	// their messages.
	Warnings []string `json:"warnings,omitempty"`
}

// HealthEndpoint is one endpoint in a HealthReport, from the
// EndpointReport of Session.Check.
type HealthEndpoint struct {
	Protocol      string  `json:"protocol"`              // smtp, smtps, pop3, pop3s, imap, imaps
	Addr          string  `json:"addr"`                  // host:port
	TLSVersion    string  `json:"tls_version,omitempty"` // e.g. "TLS 1.3"; empty without TLS
	LatencyMS     float64 `json:"latency_ms"`            // from dialling to ready, in milliseconds
	Authenticated bool    `json:"authenticated"`         // login succeeded
	Mechanism     string  `json:"mechanism,omitempty"`   // SASL mechanism used to log in
	Error         string  `json:"error,omitempty"`       // why the endpoint is unusable
}

// HealthHandler returns an http.Handler for readiness probes
// (Kubernetes, load balancers): it runs Session.Check and answers 200 with
// a HealthReport when the session is healthy, 503 when it is not.
//
// Healthy means that the session is open and that the transport (and the
// store, if one is configured and HealthOptions.IgnoreStore is not set)
// accepted a fresh connection: greeting, TLS as configured, and login when
// authentication is configured, all within HealthOptions.Timeout.
// Configuration warnings are reported but do not make it unhealthy.
//
// The answer never waits longer than the timeout: the check runs with a
// context that ends then, and the probe stops waiting then even if the
// check has not returned; a probe whose request context ends stops waiting
// at once. A result, healthy or not, is cached for HealthOptions.CacheFor,
// and probes that arrive while a check runs wait for that one check (and
// its own deadline) instead of starting another, so a burst of probes
// makes one connection per endpoint. A check is not tied to the probe that
// started it: if that probe goes away, the others still get its result.
//
// GET and HEAD are answered (HEAD without the body); other methods get
// 405. Responses are application/json with Cache-Control: no-store. A nil
// session gives a handler that answers 503 and says so, unless
// HealthOptions.Lookup gives the session at each probe: set it when the
// session is replaced while the service runs (WatchFile), or every probe
// after the first reload would check the closed one. A failed check is
// logged once (at warning level, with the session's logger), not per probe.
func HealthHandler(s *Session, opts HealthOptions) http.Handler {
	return &healthHandler{s: s, opts: opts.withDefaults(), now: time.Now}
}

type healthHandler struct {
	s    *Session
	opts HealthOptions
	now  func() time.Time // the clock of the cache and of CheckedAt (tests move it)

	mu     sync.Mutex
	cached *healthResult // last result; nil before the first check
	flight *healthFlight // the check running; nil when none
}

// healthResult is an answer ready to be written.
type healthResult struct {
	code    int
	body    []byte
	expires time.Time
	s       *Session // the session checked
}

// healthFlight is one check of s in progress: done is closed once res is
// set.
type healthFlight struct {
	s    *Session
	done chan struct{}
	res  *healthResult
}

// sameSession says whether a and b are one session (a view handed out by
// a JNDI look-up shares its core).
func sameSession(a, b *Session) bool { return a != nil && b != nil && a.core == b.core }

func (h *healthHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed: use GET or HEAD", http.StatusMethodNotAllowed)
		return
	}
	res := h.result(r.Context())
	hdr.Set("Content-Type", "application/json")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Length", strconv.Itoa(len(res.body)))
	w.WriteHeader(res.code)
	if r.Method != http.MethodHead {
		w.Write(res.body)
	}
}

// result returns the cached result while it is fresh, else the result of
// the check in flight (started now if none), or an unhealthy answer when
// ctx ends first.
func (h *healthHandler) result(ctx context.Context) *healthResult {
	s := h.s
	if h.opts.Lookup != nil {
		var err error
		if s, err = h.opts.Lookup(); err != nil {
			return h.encode(&HealthReport{Status: HealthUnhealthy, Error: fmt.Sprintf("mailsession: health check: looking up the session: %v", err), CheckedAt: h.now().UTC()})
		}
	}
	if s == nil || s.core == nil {
		return h.encode(&HealthReport{Status: HealthUnhealthy, Error: "mailsession: health check: no session (a nil or zero *Session)", CheckedAt: h.now().UTC()})
	}
	h.mu.Lock()
	if c := h.cached; c != nil && sameSession(c.s, s) && h.now().Before(c.expires) {
		h.mu.Unlock()
		return c
	}
	f := h.flight
	if f == nil || !sameSession(f.s, s) {
		f = &healthFlight{s: s, done: make(chan struct{})}
		h.flight = f
		go h.run(f)
	}
	h.mu.Unlock()
	select {
	case <-f.done:
		return f.res
	case <-ctx.Done():
		return h.encode(&HealthReport{Status: HealthUnhealthy,
			Error:     fmt.Sprintf("mailsession: health check: the probe's request ended before the check: %v", context.Cause(ctx)),
			CheckedAt: h.now().UTC()})
	}
}

type checkOutcome struct {
	rep *CheckReport
	err error
}

// run performs one check for the flight f, caches its result and releases
// the probes waiting for it. The check gets a deadline a little before
// Timeout so that its own report (which endpoint timed out, what the
// others showed) normally arrives in time; at Timeout the probes are
// answered anyway.
func (h *healthHandler) run(f *healthFlight) {
	timeout := h.opts.Timeout
	budget := timeout - min(timeout/10, 100*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	out := make(chan checkOutcome, 1) // buffered: a late check does not block
	go func() {
		if f.s.life.isClosed() {
			out <- checkOutcome{err: ErrClosed}
			return
		}
		rep, err := f.s.check(ctx, !h.opts.IgnoreStore)
		out <- checkOutcome{rep, err}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var rep *HealthReport
	select {
	case o := <-out:
		rep = h.report(f.s, o.rep, o.err)
	case <-timer.C:
		rep = h.report(f.s, nil, fmt.Errorf("mailsession: health check did not finish within %v: %w", timeout, context.DeadlineExceeded))
	}
	if rep.Status != HealthHealthy {
		f.s.log.Warn("mail health check failed", "error", rep.Error)
	}
	res := h.encode(rep)
	res.s = f.s
	if h.opts.CacheFor > 0 {
		res.expires = h.now().Add(h.opts.CacheFor)
	}
	h.mu.Lock()
	f.res = res
	if h.opts.CacheFor > 0 {
		h.cached = res
	}
	if h.flight == f {
		h.flight = nil // a flight for a newer session may have begun
	}
	h.mu.Unlock()
	close(f.done)
}

// report turns a Check result into the public report, with every error
// text passed through redactSecrets.
func (h *healthHandler) report(s *Session, cr *CheckReport, err error) *HealthReport {
	rep := &HealthReport{Status: HealthHealthy, CheckedAt: h.now().UTC()}
	if err != nil {
		rep.Status = HealthUnhealthy
		rep.Error = redactSecrets(s, err.Error())
	}
	set := s.set
	endpoint := func(ep *endpoint, er *EndpointReport) *HealthEndpoint {
		he := &HealthEndpoint{Protocol: ep.Protocol, Addr: ep.Addr()}
		if er == nil {
			if err != nil {
				he.Error = "not checked: " + rep.Error
			}
			return he
		}
		he.TLSVersion = er.TLSVersion
		he.LatencyMS = math.Round(float64(er.Latency)/float64(time.Microsecond)) / 1000
		he.Authenticated = er.Authenticated
		he.Mechanism = er.Mechanism
		if er.Err != nil {
			he.Error = redactSecrets(s, er.Err.Error())
		}
		return he
	}
	var tr, st *EndpointReport
	if cr != nil {
		tr, st = cr.Transport, cr.Store
	}
	rep.Transport = endpoint(set.transport, tr)
	if set.store != nil && !h.opts.IgnoreStore {
		rep.Store = endpoint(set.store, st)
	}
	warns := s.Warnings()
	rep.WarningCount = len(warns)
	for _, w := range warns {
		if w.Key != "" {
			rep.Warnings = append(rep.Warnings, w.Key)
		}
	}
	return rep
}

// redactSecrets removes the session's secrets from an error text. The errors of
// this package carry none; this guards against a server that echoes one.
func redactSecrets(s *Session, text string) string {
	var secrets []string
	for _, ep := range []*endpoint{s.set.transport, s.set.store} {
		if ep != nil && ep.Password != "" {
			secrets = append(secrets, ep.Password)
		}
	}
	for k, v := range s.set.props {
		if v != "" && isSecretKey(k) {
			secrets = append(secrets, v)
		}
	}
	for _, sec := range secrets {
		text = strings.ReplaceAll(text, sec, "[redacted]")
	}
	return text
}

// encode marshals rep into a result with the status code its status gives.
func (h *healthHandler) encode(rep *HealthReport) *healthResult {
	code := http.StatusOK
	if rep.Status != HealthHealthy {
		code = http.StatusServiceUnavailable
	}
	body, err := json.Marshal(rep)
	if err != nil { // cannot happen: the report holds strings, numbers and a time
		body = []byte(`{"status":"unhealthy","error":"mailsession: health check: encoding the report failed"}`)
		code = http.StatusServiceUnavailable
	}
	return &healthResult{code: code, body: append(body, '\n')}
}
