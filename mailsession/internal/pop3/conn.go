package pop3

import (
	"net"
	"sync"
	"time"
)

// deadlineConn gives every Read and Write its own deadline and lets the
// connection under it be replaced after STLS. knadh/go-pop3 reads and writes
// through it too (it is what our Opt.Dialer hands over), so its I/O gets
// deadlines as well (defect (d): go-pop3 sets none after dialling).
type deadlineConn struct {
	mu           sync.Mutex
	c            net.Conn
	readTimeout  time.Duration
	writeTimeout time.Duration
}

func (d *deadlineConn) conn() net.Conn {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.c
}

func (d *deadlineConn) swap(c net.Conn) {
	d.mu.Lock()
	d.c = c
	d.mu.Unlock()
}

func (d *deadlineConn) Read(p []byte) (int, error) {
	c := d.conn()
	if err := c.SetReadDeadline(time.Now().Add(d.readTimeout)); err != nil {
		return 0, err
	}
	return c.Read(p)
}

func (d *deadlineConn) Write(p []byte) (int, error) {
	c := d.conn()
	if err := c.SetWriteDeadline(time.Now().Add(d.writeTimeout)); err != nil {
		return 0, err
	}
	return c.Write(p)
}

func (d *deadlineConn) Close() error                       { return d.conn().Close() }
func (d *deadlineConn) LocalAddr() net.Addr                { return d.conn().LocalAddr() }
func (d *deadlineConn) RemoteAddr() net.Addr               { return d.conn().RemoteAddr() }
func (d *deadlineConn) SetDeadline(t time.Time) error      { return nil } // owned by Read/Write
func (d *deadlineConn) SetReadDeadline(t time.Time) error  { return nil }
func (d *deadlineConn) SetWriteDeadline(t time.Time) error { return nil }

// oneConnDialer is go-pop3's Opt.Dialer: it hands over the connection we
// already dialled (with our context, timeouts and TLS).
type oneConnDialer struct{ c net.Conn }

func (d oneConnDialer) Dial(network, addr string) (net.Conn, error) { return d.c, nil }
