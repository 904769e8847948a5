package imapstore

import (
	"bytes"
	"io"
	"net"
	"sync/atomic"
)

// authConn is the connection as imapclient sees it: above TLS. It hands
// imapclient first the greeting read before a refused STARTTLS, if any.
// While an AUTHENTICATE runs (inAuth) it rewrites imapclient's "=" for an
// empty SASL response into the empty line that RFC 9051 (6.2.2) wants:
// "=" is only the empty *initial* response of SASL-IR. go-imap v2
// beta.8 sends "=" after every continuation (emersion/go-imap#760), and
// Dovecot refuses it ("Invalid base64 data in continued response"), which
// breaks SCRAM's last step and the answer to an XOAUTH2 error challenge.
// The rewrite is exact: imapclient writes each SASL response line with one
// Write, and "=" is never a valid base64 response.
type authConn struct {
	net.Conn
	r      io.Reader // Conn, after the replayed greeting
	inAuth atomic.Bool
}

func newAuthConn(c net.Conn, greeting []byte) *authConn {
	ac := &authConn{Conn: c, r: c}
	if len(greeting) > 0 {
		ac.r = io.MultiReader(bytes.NewReader(greeting), c)
	}
	return ac
}

func (c *authConn) Read(p []byte) (int, error) { return c.r.Read(p) }

var emptySASLIR = []byte("=\r\n")

func (c *authConn) Write(p []byte) (int, error) {
	if c.inAuth.Load() && bytes.Equal(p, emptySASLIR) {
		if _, err := c.Conn.Write([]byte("\r\n")); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}
