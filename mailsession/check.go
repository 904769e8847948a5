package mailsession

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// CheckReport is the result of Session.Check: one report per configured
// endpoint and the configuration warnings.
type CheckReport struct {
	Transport *EndpointReport
	Store     *EndpointReport // nil when no store is configured
	Warnings  []Warning
}

// EndpointReport describes one live connection attempt to an endpoint.
type EndpointReport struct {
	Protocol       string        // smtp, smtps, pop3, pop3s, imap, imaps
	Addr           string        // host:port
	TLSVersion     string        // e.g. "TLS 1.3"; empty without TLS
	Capabilities   []string      // extensions/capabilities announced
	AuthMechanisms []string      // SASL mechanisms offered
	Authenticated  bool          // login succeeded
	Mechanism      string        // mechanism used to log in
	Latency        time.Duration // from dialling to ready (greeted, TLS, logged in)
	Messages       int           // store only: messages waiting in the mailbox
	Warnings       []Warning     // configuration warnings for this endpoint
	Err            error         // why the endpoint is unusable; nil when it works
}

// String is a one-line summary without secrets.
func (r *EndpointReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s://%s", r.Protocol, r.Addr)
	if r.Err != nil {
		fmt.Fprintf(&b, " FAILED: %v", r.Err)
		return b.String()
	}
	tlsv := r.TLSVersion
	if tlsv == "" {
		tlsv = "no TLS"
	}
	fmt.Fprintf(&b, " ok in %v, %s", r.Latency.Round(time.Millisecond), tlsv)
	if r.Authenticated {
		fmt.Fprintf(&b, ", logged in with %s", r.Mechanism)
	}
	if len(r.AuthMechanisms) > 0 {
		fmt.Fprintf(&b, ", offers %s", strings.Join(r.AuthMechanisms, " "))
	}
	if !strings.HasPrefix(r.Protocol, "smtp") {
		fmt.Fprintf(&b, ", %d messages", r.Messages)
	}
	return b.String()
}

// storeChecker is implemented by the store side of the session (in its own
// file); Check reports the store only when it exists.
type storeChecker interface {
	checkStore(ctx context.Context) *EndpointReport
}

// Check connects to the configured transport (and store) now, as Liferay
// does when its mail settings are saved and as Spring's test-connection:
// greeting, TLS, authentication, then a polite QUIT. The pool is not used,
// so the check proves a fresh connection works. The report tells per
// endpoint the TLS version, capabilities, mechanisms offered, whether login
// succeeded and how long it took, plus the configuration warnings. The error
// is non-nil when an endpoint is unusable (the report is still returned).
func (s *Session) Check(ctx context.Context) (*CheckReport, error) {
	return s.check(ctx, true)
}

// check is Check, with the store left out when withStore is false
// (HealthOptions.IgnoreStore).
func (s *Session) check(ctx context.Context, withStore bool) (*CheckReport, error) {
	rep := &CheckReport{Warnings: s.Warnings()}
	rep.Transport = s.checkTransport(ctx)
	if withStore && s.set.store != nil {
		if sc, ok := any(s).(storeChecker); ok {
			rep.Store = sc.checkStore(ctx)
		}
	}
	var errs []error
	for _, r := range []*EndpointReport{rep.Transport, rep.Store} {
		if r != nil && r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return rep, errors.Join(errs...)
}

func (s *Session) checkTransport(ctx context.Context) *EndpointReport {
	ep := s.set.transport
	r := &EndpointReport{Protocol: ep.Protocol, Addr: ep.Addr(), Warnings: endpointWarnings(s.set.warnings, ep.Protocol)}
	start := time.Now()
	sc, info, err := dialSMTP(ctx, ep, s.trace)
	r.Latency = time.Since(start)
	// What the connection showed up to a failure (a refused login) is
	// reported too: it is what an operator debugging the login needs.
	r.TLSVersion = info.TLSVersion
	r.Capabilities = info.Extensions
	r.AuthMechanisms = info.Mechanisms
	r.Authenticated, r.Mechanism = info.Authenticated, info.Mechanism
	if err != nil {
		r.Err = err
		return r
	}
	if r.TLSVersion == "" && sc.has("STARTTLS") {
		r.Warnings = append(r.Warnings, Warning{"mail." + ep.Protocol + ".starttls.enable",
			"the server offers STARTTLS but the connection stays unencrypted: set it to true (and starttls.required)"})
	}
	sc.quit(ctx, ep)
	return r
}

// endpointWarnings selects the warnings about keys of one protocol.
func endpointWarnings(all []Warning, proto string) []Warning {
	var out []Warning
	base := strings.TrimSuffix(proto, "s")
	for _, w := range all {
		if k := javaMailKey(w.Key); strings.HasPrefix(k, "mail."+proto+".") || strings.HasPrefix(k, "mail."+base+".") {
			out = append(out, w)
		}
	}
	return out
}
