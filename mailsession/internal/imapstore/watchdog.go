package imapstore

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// watchConn is the TCP connection under imapclient (and under TLS). It
// enforces our timeouts, because imapclient has no context and no
// per-command timeout:
//
//   - every Write gets its own deadline (imapclient's own SetDeadline calls
//     are ignored: they would also cut an idle connection whose reader
//     goroutine always sits in Read);
//   - a watchdog closes the connection when, while one of our operations is
//     in progress, a Read has waited longer than the read timeout for data,
//     or when the operation's context ends.
//
// A consumer that is slow to read a fetched message is not a timeout: no
// Read is waiting on the network then.
type watchConn struct {
	net.Conn
	writeTimeout time.Duration
	readTimeout  time.Duration

	reading  atomic.Int32 // Reads in progress
	lastRead atomic.Int64 // UnixNano of the last Read start or return
	armed    atomic.Int64 // UnixNano when the current operation began; 0: idle
	timedOut atomic.Bool  // the watchdog closed the connection
	created  time.Time

	stopOnce sync.Once
	stop     chan struct{}
}

func newWatchConn(c net.Conn, read, write time.Duration) *watchConn {
	w := &watchConn{Conn: c, readTimeout: read, writeTimeout: write, stop: make(chan struct{}), created: time.Now()}
	go w.watch()
	return w
}

func (w *watchConn) Read(p []byte) (int, error) {
	w.lastRead.Store(time.Now().UnixNano())
	w.reading.Add(1)
	n, err := w.Conn.Read(p)
	w.reading.Add(-1)
	w.lastRead.Store(time.Now().UnixNano())
	return n, err
}

func (w *watchConn) Write(p []byte) (int, error) {
	if err := w.Conn.SetWriteDeadline(time.Now().Add(w.writeTimeout)); err != nil {
		return 0, err
	}
	return w.Conn.Write(p)
}

func (w *watchConn) SetDeadline(time.Time) error      { return nil }
func (w *watchConn) SetReadDeadline(time.Time) error  { return nil }
func (w *watchConn) SetWriteDeadline(time.Time) error { return nil }

func (w *watchConn) Close() error {
	w.stopOnce.Do(func() { close(w.stop) })
	return w.Conn.Close()
}

// arm marks an operation in progress; disarm ends it.
func (w *watchConn) arm()    { w.armed.Store(time.Now().UnixNano()) }
func (w *watchConn) disarm() { w.armed.Store(0) }

// watch checks a few times per read timeout whether a Read of an operation
// has waited too long.
func (w *watchConn) watch() {
	period := max(w.readTimeout/8, 5*time.Millisecond)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case now := <-t.C:
			armed := w.armed.Load()
			if armed == 0 || w.reading.Load() == 0 {
				continue
			}
			since := max(armed, w.lastRead.Load())
			if now.UnixNano()-since >= int64(w.readTimeout) {
				w.timedOut.Store(true)
				w.Close()
				return
			}
		}
	}
}
