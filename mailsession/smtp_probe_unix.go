//go:build unix

package mailsession

import (
	"errors"
	"net"
	"syscall"
)

// peerSpoke reports whether the server has sent anything (data, or the end
// of the connection) on an idle connection: a server closing an idle
// connection sends 421 or FIN, and a transaction written on it would be
// lost after the body was consumed. It peeks at the socket without blocking
// and without taking any byte; false when it cannot tell.
func peerSpoke(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	spoke := false
	var buf [1]byte
	raw.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// n > 0: unsolicited data; n == 0 without error: FIN.
		spoke = n > 0 || (n == 0 && err == nil) || (err != nil && !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR))
		return true // never wait for readiness
	})
	return spoke
}
