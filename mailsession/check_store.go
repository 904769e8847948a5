package mailsession

import (
	"context"
	"errors"
	"time"
)

// checkStore opens the store as Receive would (connect, TLS, login, for
// IMAP SELECT INBOX), lists it, and ends politely without deleting
// anything. Check calls it when a store is configured.
func (s *Session) checkStore(ctx context.Context) *EndpointReport {
	ep := s.set.store
	r := &EndpointReport{Protocol: ep.Protocol, Addr: ep.Addr(), Warnings: endpointWarnings(s.set.warnings, ep.Protocol)}
	start := time.Now()
	st, err := s.openStore(ctx, "")
	r.Latency = time.Since(start)
	if err != nil {
		r.Err = err
		// What the connection showed before a refused login is what an
		// operator debugging it needs.
		var se *StoreError
		if errors.As(err, &se) && se.seen != nil {
			r.TLSVersion, r.Capabilities, r.AuthMechanisms = se.seen.TLSVersion, se.seen.Capabilities, se.seen.AuthMechanisms
			r.Mechanism = se.seen.Mechanism
		}
		return r
	}
	defer st.Abort()
	if _, err := st.List(ctx); err != nil {
		r.Err = err
		return r
	}
	inf := st.drv.info()
	r.TLSVersion = inf.TLSVersion
	r.Capabilities = inf.Capabilities
	r.AuthMechanisms = inf.AuthMechanisms
	r.Authenticated, r.Mechanism = true, inf.Mechanism
	r.Messages = inf.Messages
	if err := st.CloseContext(ctx); err != nil {
		r.Err = err
	}
	return r
}
