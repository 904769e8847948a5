package mailsession

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"

	"github.com/jmailgo/jmail/mailsession/internal/pop3"
)

// pop3Store is the POP3 driver of Store, over internal/pop3.
type pop3Store struct {
	ep    *endpoint
	c     *pop3.Client
	rset  bool             // mail.pop3.rsetbeforequit
	nums  map[string]int   // UIDL → message number, from the last listing
	sizes map[string]int64 // UIDL → size
	inf   storeInfo
}

func (s *Session) openPOP3(ctx context.Context, ep *endpoint) (*pop3Store, error) {
	ec, err := dialEndpoint(ctx, ep)
	if err != nil {
		return nil, ep.storeErr("connect", err)
	}
	st := &pop3Store{ep: ep, rset: (&propReader{props: s.set.props, proto: ep.Protocol, base: "pop3"}).boolean("rsetbeforequit", false)}
	// With mail.debug the conversation is traced above TLS, secrets
	// redacted.
	var conn net.Conn = ec
	if s.trace != nil {
		conn = newTraceConn(ec, s.trace, ep)
	}
	st.c, err = pop3.NewClient(ctx, conn, pop3.Options{
		ReadTimeout: ep.ReadTimeout, WriteTimeout: ep.WriteTimeout, TLS: ep.ImplicitTLS,
	})
	if err != nil {
		return nil, ep.storeErr("greeting", err)
	}
	if err := st.start(ctx, s, ec, conn); err != nil {
		st.c.Close()
		return nil, withSeen(err, st.inf)
	}
	return st, nil
}

// start runs CAPA, STLS and the login.
func (st *pop3Store) start(ctx context.Context, s *Session, ec *endpointConn, conn net.Conn) error {
	ep := st.ep
	caps, err := st.c.Capabilities(ctx)
	if err != nil {
		return ep.storeErr("CAPA", err)
	}
	if !st.c.TLS() && ep.StartTLS {
		if caps.Has("STLS") || ep.StartTLSRequired {
			// ec switches to TLS in place; conn (ec or its trace) stays.
			err := st.c.StartTLS(ctx, func(ctx context.Context, _ net.Conn) (net.Conn, error) {
				return conn, ec.startTLS(ctx)
			})
			switch {
			case errors.Is(err, pop3.ErrNoSTLS) && ep.StartTLSRequired:
				return ep.storeErr("STLS", fmt.Errorf("%w: %v", ErrTLSRequired, err))
			case err != nil && !errors.Is(err, pop3.ErrNoSTLS):
				return ep.storeErr("STLS", err)
			}
			if st.c.TLS() {
				// RFC 2595: the capabilities may differ under TLS.
				if caps, err = st.c.Capabilities(ctx); err != nil {
					return ep.storeErr("CAPA", err)
				}
			}
		}
	}
	if st.c.TLS() {
		if cs, ok := ec.tlsState(); ok {
			st.inf.TLSVersion = tlsVersionName(cs.Version)
		}
	}
	for name, args := range caps {
		st.inf.Capabilities = append(st.inf.Capabilities, strings.TrimSpace(name+" "+strings.Join(args, " ")))
	}
	slices.Sort(st.inf.Capabilities)
	st.inf.AuthMechanisms = caps.SASL()
	if ep.User == "" {
		return ep.storeErr("login", fmt.Errorf("%w: no user set (mail.%s.user)", ErrAuth, ep.Protocol))
	}
	if err := checkAuthAllowed(ep, st.c.TLS(), ec.isLoopback()); err != nil {
		return ep.storeErr("login", err)
	}
	var cs *tls.ConnectionState
	if state, ok := ec.tlsState(); ok {
		cs = &state
	}
	if ep.AuthzID != "" || st.useSASL(caps) || (s.explicitMechanisms(ep) && len(caps.SASL()) > 0) || preferSASL(ep, caps.SASL(), cs) {
		sc, mech, err := chooseSASL(ctx, ep, caps.SASL(), cs)
		if err != nil {
			return ep.storeErr("login", err)
		}
		st.inf.Mechanism = mech
		if mech == "XOAUTH2" && ep.XOAUTH2TwoLine {
			err = st.c.AuthenticateTwoLine(ctx, sc)
		} else {
			err = st.c.Authenticate(ctx, sc)
		}
		if err == nil {
			err = verifySASL(sc)
		}
		return withChallenge(sc, st.loginErr(err))
	}
	st.inf.Mechanism = "USER"
	return st.loginErr(st.c.Login(ctx, ep.User, ep.Password))
}

// useSASL says whether to log in with AUTH rather than USER/PASS: for a
// token, or when the server offers SASL but not USER.
func (st *pop3Store) useSASL(caps pop3.Caps) bool {
	if len(caps.SASL()) == 0 {
		return false
	}
	return st.ep.Token != nil || (len(caps) > 0 && !caps.Has("USER"))
}

func (st *pop3Store) loginErr(err error) error {
	if err == nil {
		return nil
	}
	e := st.ep.storeErr("login", err).(*StoreError)
	var pe *pop3.ProtocolError
	if errors.As(err, &pe) {
		e.Code = pe.Code
		e.temp = pe.Temporary()
		e.auth = !e.temp && errors.Is(err, pop3.ErrAuth)
	}
	if errors.Is(err, pop3.ErrAuth) && !e.temp {
		e.auth = true
	}
	return e
}

// opErr wraps the error of a command after login.
func (st *pop3Store) opErr(op string, err error) error {
	if err == nil {
		return nil
	}
	e := st.ep.storeErr(op, err)
	var se *StoreError
	var pe *pop3.ProtocolError
	if errors.As(e, &se) && errors.As(err, &pe) {
		se.Code = pe.Code
		se.temp = se.temp || pe.Temporary()
	}
	return e
}

func (st *pop3Store) list(ctx context.Context) ([]MessageInfo, error) {
	uidl, err := st.c.UIDL(ctx)
	if err != nil {
		return nil, st.opErr("UIDL", err)
	}
	list, err := st.c.List(ctx)
	if err != nil {
		return nil, st.opErr("LIST", err)
	}
	size := make(map[int]int64, len(list))
	for _, it := range list {
		size[it.Num] = it.Size
	}
	st.nums = make(map[string]int, len(uidl))
	st.sizes = make(map[string]int64, len(uidl))
	out := make([]MessageInfo, 0, len(uidl))
	for _, it := range uidl {
		st.nums[it.UID] = it.Num
		st.sizes[it.UID] = size[it.Num]
		out = append(out, MessageInfo{UID: it.UID, Size: size[it.Num]})
	}
	st.inf.Messages = len(out)
	return out, nil
}

func (st *pop3Store) known(ctx context.Context, uid string) (bool, error) {
	if st.nums == nil {
		if _, err := st.list(ctx); err != nil {
			return false, err
		}
	}
	_, ok := st.nums[uid]
	return ok, nil
}

func (st *pop3Store) fetch(ctx context.Context, uid string) (io.ReadCloser, int64, error) {
	ok, err := st.known(ctx, uid)
	if err != nil {
		return nil, 0, err
	}
	if !ok {
		return nil, 0, st.ep.storeErr("fetch", fmt.Errorf("%w: %q", ErrNoMessage, uid))
	}
	r, err := st.c.Retr(ctx, st.nums[uid])
	if err != nil {
		return nil, 0, st.opErr("RETR", err)
	}
	return &storeReader{r: r, wrap: func(err error) error { return st.opErr("RETR", err) }}, st.sizes[uid], nil
}

// commit marks uids with DELE (after RSET when rsetbeforequit) and QUITs:
// the server deletes them only on a successful QUIT.
func (st *pop3Store) commit(ctx context.Context, uids []string) error {
	if st.rset {
		if err := st.c.Rset(ctx); err != nil {
			st.c.Close()
			return st.opErr("RSET", err)
		}
	}
	for _, u := range uids {
		if err := st.c.Dele(ctx, st.nums[u]); err != nil {
			// Commit all or nothing: undo the marks and leave.
			st.c.Rset(ctx)
			st.c.Quit(ctx)
			st.c.Close()
			return st.opErr("DELE", err)
		}
	}
	if err := st.c.Quit(ctx); err != nil {
		st.c.Close()
		return st.opErr("QUIT", err)
	}
	return nil
}

func (st *pop3Store) abort() { st.c.Close() }

func (st *pop3Store) info() storeInfo { return st.inf }

// storeReader wraps the errors of a fetched message's reader.
type storeReader struct {
	r    io.ReadCloser
	wrap func(error) error
}

func (r *storeReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		err = r.wrap(err)
	}
	return n, err
}

func (r *storeReader) Close() error { return r.wrap(r.r.Close()) }
