//go:build unix

package mailsession

import (
	"errors"
	"syscall"
)

// peeker tells whether the server has sent anything (data, or the end of
// the connection) on an idle connection: a server closing an idle
// connection sends 421 or FIN, and a transaction written on it would be
// lost once its body was consumed. It peeks at the socket without blocking
// and without taking any byte.
type peeker struct {
	raw   syscall.RawConn
	buf   [1]byte
	spoke bool
	fn    func(fd uintptr) bool // built once: a probe allocates nothing
}

func newPeeker(raw syscall.RawConn) *peeker {
	p := &peeker{raw: raw}
	p.fn = func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), p.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// n > 0: unsolicited data; n == 0 without error: FIN; an error
		// other than "nothing yet": a reset.
		p.spoke = n > 0 || (n == 0 && err == nil) ||
			(err != nil && !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR))
		return true // never wait for readiness
	}
	return p
}

// peerSpoke reports whether the server spoke or hung up; false when it
// cannot tell (p is nil: not a socket).
func (p *peeker) peerSpoke() bool {
	if p == nil {
		return false
	}
	p.spoke = false
	if p.raw.Read(p.fn) != nil {
		return true // the connection is closed
	}
	return p.spoke
}
