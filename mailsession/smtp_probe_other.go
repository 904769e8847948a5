//go:build !unix

package mailsession

import "net"

// peerSpoke cannot peek at a socket on this system: it reports false, and a
// dead idle connection is found by the transaction itself.
func peerSpoke(net.Conn) bool { return false }
