package mailsession

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"syscall"
)

// endpointConn is a connection to an endpoint. Conn is what protocol
// clients read and write: the *tls.Conn when TLS is on, else the
// timeoutConn. Every I/O, including the TLS handshake, goes through the
// timeoutConn and so has its own deadline.
type endpointConn struct {
	net.Conn
	t    *timeoutConn
	ep   *endpoint
	peek *peeker // nil when not a socket
	// loopback: the server is on loopback (see dialEndpointTCP).
	loopback bool
}

// dialEndpoint connects to ep within its connect timeout and ctx. For
// implicit TLS (smtps, pop3s, imaps, ssl.enable) it completes the handshake,
// so a bad certificate fails here. A proxy (ep.Proxy) is crossed first; TLS
// runs inside the tunnel.
func dialEndpoint(ctx context.Context, ep *endpoint) (*endpointConn, error) {
	raw, loopback, err := dialEndpointTCP(ctx, ep)
	if err != nil {
		return nil, &protocolError{Op: "dial", Addr: ep.Addr(), Err: err}
	}
	c := &endpointConn{t: newTimeoutConn(raw, ep.ReadTimeout, ep.WriteTimeout), ep: ep, loopback: loopback}
	if sc, ok := raw.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			c.peek = newPeeker(rc)
		}
	}
	c.Conn = c.t
	if ep.ImplicitTLS {
		if err := c.handshake(ctx); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// startTLS upgrades the connection after the server accepted STARTTLS/STLS
// and completes the handshake.
func (c *endpointConn) startTLS(ctx context.Context) error {
	if _, ok := c.Conn.(*tls.Conn); ok {
		return errors.New("mailsession: TLS already active")
	}
	return c.handshake(ctx)
}

func (c *endpointConn) handshake(ctx context.Context) error {
	tc := tls.Client(c.t, tlsConfigFor(c.ep))
	hctx, cancel := context.WithTimeout(ctx, c.ep.ConnectTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		c.t.Close()
		return &protocolError{Op: "TLS handshake", Addr: c.ep.Addr(), Err: withContext(hctx, err)}
	}
	c.Conn = tc
	return nil
}

// bind ties every I/O on the connection to ctx until release is called (see
// timeoutConn.bind).
func (c *endpointConn) bind(ctx context.Context) binding { return c.t.bind(ctx) }

// tlsState returns the TLS state when TLS is active.
func (c *endpointConn) tlsState() (tls.ConnectionState, bool) {
	if tc, ok := c.Conn.(*tls.Conn); ok {
		return tc.ConnectionState(), true
	}
	return tls.ConnectionState{}, false
}

// isLoopback reports whether the server is on loopback: the peer's
// address, or the host name when a proxy is in between.
func (c *endpointConn) isLoopback() bool { return c.loopback }

// checkAuthAllowed refuses to send credentials over a connection without
// TLS to a host that is not loopback, unless the user opted in.
// tlsActive says whether TLS is on (protocol clients that upgrade
// themselves, like go-smtp's STARTTLS, know it better than c).
func checkAuthAllowed(ep *endpoint, tlsActive, loopback bool) error {
	if tlsActive || loopback || ep.AllowCleartextAuth {
		return nil
	}
	return fmt.Errorf("%w to %s: enable mail.%s.starttls.enable=true (or ssl.enable / the %ss protocol), or allow it with mail.%s.auth.allowcleartext=true or the WithInsecureAuth option",
		ErrInsecureAuth, ep.Addr(), ep.Protocol, trimS(ep.Protocol), ep.Protocol)
}

func trimS(p string) string {
	if len(p) > 0 && p[len(p)-1] == 's' {
		return p[:len(p)-1]
	}
	return p
}
