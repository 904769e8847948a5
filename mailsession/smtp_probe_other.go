//go:build !unix

package mailsession

import "syscall"

// peeker cannot peek at a socket on this system: a dead idle connection
// is found by the transaction itself.
type peeker struct{}

func newPeeker(syscall.RawConn) *peeker { return nil }

// peerSpoke reports false: it cannot tell.
func (p *peeker) peerSpoke() bool { return false }
