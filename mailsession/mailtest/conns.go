package mailtest

import (
	"crypto/tls"
	"net"
	"sync"
)

// connSet tracks a protocol's live connections so that Close can end them.
type connSet struct {
	mu     sync.Mutex
	m      map[net.Conn]struct{}
	closed bool
}

// add registers c; it reports false (and closes c) once the set is closed.
func (cs *connSet) add(c net.Conn) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.closed {
		c.Close()
		return false
	}
	if cs.m == nil {
		cs.m = make(map[net.Conn]struct{})
	}
	cs.m[c] = struct{}{}
	return true
}

func (cs *connSet) remove(c net.Conn) {
	cs.mu.Lock()
	delete(cs.m, c)
	cs.mu.Unlock()
}

// closeAll closes every live connection and refuses new ones.
func (cs *connSet) closeAll() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.closed = true
	for c := range cs.m {
		c.Close()
	}
}

// accept runs an accept loop on ln until it is closed, handing each
// connection, wrapped in a faultConn (and TLS when implicit), to handle on a
// goroutine counted in s.wg. The connection is closed when handle returns.
func (s *Server) accept(ln net.Listener, cs *connSet, implicitTLS bool, handle func(net.Conn, *faultConn)) {
	for {
		raw, err := ln.Accept()
		if err != nil {
			return
		}
		s.log.Debug("mailtest connection", "listener", ln.Addr().String(), "remote", raw.RemoteAddr().String())
		fc := newFaultConn(raw, &s.faults)
		if !cs.add(fc) {
			return
		}
		var c net.Conn = fc
		if implicitTLS {
			c = tls.Server(fc, s.serverTLS())
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer cs.remove(fc)
			defer c.Close()
			handle(c, fc)
		}()
	}
}
