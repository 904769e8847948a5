package mailtest

import (
	"bytes"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-sasl"

	"github.com/jmailgo/jmail/mailsession/mailtest/internal/imapmem"
)

// imapServer serves IMAP with go-imap's imapserver over the shared
// mailboxes. One imapserver instance runs per variant, as capabilities are
// set per instance: with or without STARTTLS (implicit TLS, or
// Faults.NoSTARTTLS), with or without UIDPLUS (Faults.NoUIDPlus: IMAP4rev1
// only), with or without IDLE (Faults.NoIdle: IMAP4rev1, and IDLE taken
// out of the capabilities, see imapConn).
type imapServer struct {
	s       *Server
	conns   connSet
	servers map[imapVariant]*imapserver.Server
	feeds   map[imapVariant]*chanListener
	serveWG sync.WaitGroup

	mu       sync.Mutex
	sessions map[*imapSession]bool // every session; their selected field too
}

// imapVariant names one imapserver instance.
type imapVariant struct{ startTLS, noUIDPlus, noIdle bool }

func newIMAPServer(s *Server) *imapServer {
	is := &imapServer{s: s, sessions: make(map[*imapSession]bool),
		servers: make(map[imapVariant]*imapserver.Server), feeds: make(map[imapVariant]*chanListener)}
	opts := func(v imapVariant) *imapserver.Server {
		caps := imap.CapSet{
			imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {},
			// advertised to IMAP4rev1 clients (JavaMail) too
			imap.CapUIDPlus: {}, imap.CapMove: {}, imap.CapNamespace: {},
		}
		if v.noUIDPlus {
			// IMAP4rev2 implies UIDPLUS: offer IMAP4rev1 alone.
			caps = imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapNamespace: {}}
		}
		if v.noIdle {
			delete(caps, imap.CapIMAP4rev2) // it implies IDLE
		}
		o := &imapserver.Options{
			NewSession:   is.newSession,
			Caps:         caps,
			Logger:       logWriter{s.log},
			InsecureAuth: true, // loopback test server
		}
		if v.startTLS {
			o.TLSConfig = s.serverTLS()
		}
		return imapserver.New(o)
	}
	for _, t := range []bool{false, true} {
		for _, n := range []bool{false, true} {
			for _, i := range []bool{false, true} {
				v := imapVariant{startTLS: t, noUIDPlus: n, noIdle: i}
				if t && i {
					continue // NoIdle's filter works below STARTTLS only
				}
				srv, feed := opts(v), newChanListener(is)
				is.servers[v], is.feeds[v] = srv, feed
				is.serveWG.Add(1)
				go func() { defer is.serveWG.Done(); srv.Serve(feed) }()
			}
		}
	}
	return is
}

func (is *imapServer) serve(ln net.Listener, implicitTLS bool) {
	is.s.accept(ln, &is.conns, implicitTLS, func(c net.Conn, fc *faultConn) {
		f := is.s.faults.get()
		v := imapVariant{startTLS: !implicitTLS && !f.NoSTARTTLS && !f.NoIdle, noUIDPlus: f.NoUIDPlus, noIdle: f.NoIdle}
		feed := is.feeds[v]
		fc.swallowWriteErrors()
		ic := &imapConn{Conn: c, fc: fc, done: make(chan struct{}), noUIDPlus: f.NoUIDPlus, noIdle: f.NoIdle}
		if !feed.push(ic) {
			return
		}
		// imapserver serves the connection on its own goroutine; wait for
		// its session to end so that Close waits for it too.
		<-ic.done
	})
}

func (is *imapServer) close() {
	for _, f := range is.feeds {
		f.Close()
	}
	is.serveWG.Wait() // Serve has returned: imapserver.Close may wait on it now
	is.conns.closeAll()
	for _, srv := range is.servers {
		srv.Close()
	}
}

// imapConn carries the faultConn to the session, and done, closed when the
// session ends.
type imapConn struct {
	net.Conn
	fc        *faultConn
	done      chan struct{}
	noUIDPlus bool // accepted under Faults.NoUIDPlus: UID EXPUNGE refused
	noIdle    bool // accepted under Faults.NoIdle: IDLE neither offered nor served
}

// Write takes IDLE out of the capabilities the server sends when the
// connection was accepted under Faults.NoIdle: imapserver offers IDLE to
// every IMAP4rev1 client. It sees the clear text (imapConn is above
// implicit TLS, and such connections are not offered STARTTLS), and
// imapserver writes each response, a CAPABILITY line whole, in one go.
func (c *imapConn) Write(p []byte) (int, error) {
	if !c.noIdle || !bytes.Contains(p, []byte("CAPABILITY")) {
		return c.Conn.Write(p)
	}
	if _, err := c.Conn.Write(withoutIdleCap(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// withoutIdleCap removes the IDLE atom from the CAPABILITY lines of p.
func withoutIdleCap(p []byte) []byte {
	lines := bytes.SplitAfter(p, []byte("\n"))
	for i, l := range lines {
		if !bytes.Contains(l, []byte("CAPABILITY")) {
			continue
		}
		for _, end := range []string{" ", "]", "\r"} {
			l = bytes.ReplaceAll(l, []byte(" IDLE"+end), []byte(end))
		}
		lines[i] = l
	}
	return bytes.Join(lines, nil)
}

// chanListener is a net.Listener fed by the server's own accept loop.
type chanListener struct {
	is   *imapServer
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newChanListener(is *imapServer) *chanListener {
	return &chanListener{is: is, ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) push(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

func (is *imapServer) newSession(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
	ic, ok := c.NetConn().(*imapConn)
	if !ok {
		return nil, nil, fmt.Errorf("mailtest: unexpected IMAP connection %T", c.NetConn())
	}
	se := &imapSession{is: is, ic: ic}
	se.auth = &authenticator{s: is.s, tlsState: tlsStateOf(func() net.Conn {
		nc := c.NetConn() // a *tls.Conn after STARTTLS
		if ic, ok := nc.(*imapConn); ok {
			return ic.Conn // a *tls.Conn with implicit TLS
		}
		return nc
	}), offersPlus: func() bool {
		return slices.ContainsFunc(se.AuthenticateMechanisms(), isPlusMechanism)
	}}
	is.mu.Lock()
	is.sessions[se] = true
	is.mu.Unlock()
	return se, nil, nil
}

// imapSession is one IMAP connection: before login only Login and
// Authenticate work; afterwards the embedded imapmem session serves INBOX.
type imapSession struct {
	*imapmem.UserSession // nil until logged in

	is   *imapServer
	ic   *imapConn
	auth *authenticator
	mb   *mailbox
	once sync.Once

	selected *imapmem.Mailbox // under is.mu
}

var (
	_ imapserver.SessionSASL      = (*imapSession)(nil)
	_ imapserver.SessionIMAP4rev2 = (*imapSession)(nil)
)

func (se *imapSession) Close() error {
	var err error
	if se.UserSession != nil {
		err = se.UserSession.Close()
	}
	se.once.Do(func() { close(se.ic.done) })
	se.is.mu.Lock()
	delete(se.is.sessions, se)
	se.is.mu.Unlock()
	return err
}

// Select opens the mailbox and records it for ResetUIDValidity.
func (se *imapSession) Select(name string, options *imap.SelectOptions) (*imap.SelectData, error) {
	se.setSelected(nil)
	data, err := se.UserSession.Select(name, options)
	if err == nil {
		mbox, _ := se.mb.user.Mailbox(name)
		se.setSelected(mbox)
	}
	return data, err
}

// Unselect closes the mailbox.
func (se *imapSession) Unselect() error {
	se.setSelected(nil)
	return se.UserSession.Unselect()
}

func (se *imapSession) setSelected(mbox *imapmem.Mailbox) {
	se.is.mu.Lock()
	se.selected = mbox
	se.is.mu.Unlock()
}

// ResetUIDValidity gives the folder ("" is INBOX) of the mailbox with that
// address a new UIDVALIDITY and renumbers its messages' UIDs from 1, as a
// server does whose mailbox was deleted and recreated: every UID handed out
// before is stale. The messages and their order stay. IMAP connections
// that have the folder selected are closed, as Dovecot disconnects them;
// those that select it afterwards see the new UIDVALIDITY. POP3 UIDLs
// ("<UIDVALIDITY>.<UID>") change with it; do not reset while a POP3
// session is open on the mailbox.
func (s *Server) ResetUIDValidity(mailbox, folder string) error {
	mb := s.store.lookup(mailbox)
	if mb == nil {
		return fmt.Errorf("%w: %q", ErrNoMailbox, mailbox)
	}
	if folder == "" || strings.EqualFold(folder, "INBOX") {
		folder = "INBOX"
	}
	mbox, err := mb.user.Mailbox(folder)
	if err != nil {
		return fmt.Errorf("mailtest: %s has no folder %q: %w", mailbox, folder, err)
	}
	st := s.store
	st.mu.Lock()
	renumbered, err := mb.user.ResetUIDValidity(folder)
	if err == nil && mbox == mb.inbox {
		envs := make(map[imap.UID]envelope, len(st.envelopes[mb]))
		for old, env := range st.envelopes[mb] {
			if uid, ok := renumbered[old]; ok {
				envs[uid] = env
			}
		}
		st.envelopes[mb] = envs
	}
	st.notifyLocked()
	st.mu.Unlock()
	if err != nil {
		return fmt.Errorf("mailtest: %s folder %q: %w", mailbox, folder, err)
	}
	is := s.imap
	is.mu.Lock()
	var stale []*imapSession
	for se := range is.sessions {
		if se.selected == mbox {
			stale = append(stale, se)
		}
	}
	is.mu.Unlock()
	for _, se := range stale {
		se.ic.fc.Close()
	}
	return nil
}

func (se *imapSession) Login(username, password string) error {
	if err := se.auth.password(username, password); err != nil {
		return imapserver.ErrAuthFailed
	}
	se.loggedIn()
	return nil
}

func (se *imapSession) loggedIn() {
	se.mb = se.auth.mb
	se.UserSession = imapmem.NewUserSession(se.mb.user)
}

// AuthenticateMechanisms are the AUTHENTICATE mechanisms offered; the
// -PLUS ones over TLS only.
func (se *imapSession) AuthenticateMechanisms() []string {
	return forConnection(se.auth.s.storeMechanisms(), se.auth.tlsState() != nil)
}

func (se *imapSession) Authenticate(mech string) (sasl.Server, error) {
	m := se.auth.mechanism(mech)
	if m == nil || !slices.Contains(se.AuthenticateMechanisms(), strings.ToUpper(mech)) {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Text: "Unsupported authentication mechanism"}
	}
	return imapAuth{se: se, Server: m}, nil
}

// imapAuth maps mechanism failures to NO [AUTHENTICATIONFAILED] and starts
// the user session on success.
type imapAuth struct {
	se *imapSession
	sasl.Server
}

func (a imapAuth) Next(response []byte) ([]byte, bool, error) {
	challenge, done, err := a.Server.Next(response)
	if err != nil {
		return nil, false, imapserver.ErrAuthFailed
	}
	if done {
		a.se.loggedIn()
	}
	return challenge, done, nil
}

// Idle refuses IDLE on a connection accepted under Faults.NoIdle, which
// was not offered it.
func (se *imapSession) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	if se.ic.noIdle {
		return &imap.Error{Type: imap.StatusResponseTypeBad, Text: "IDLE is not offered by this server"}
	}
	return se.UserSession.Idle(w, stop)
}

// Fetch arms Faults.CutFetchAfter for the response and applies
// Faults.FetchUIDLast.
func (se *imapSession) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	se.ic.fc.startFetch()
	if se.is.s.faults.get().FetchUIDLast {
		return se.UserSession.FetchUIDLast(w, numSet, options)
	}
	return se.UserSession.Fetch(w, numSet, options)
}

// Append stores the message and wakes WaitMessages.
func (se *imapSession) Append(mailbox string, r imap.LiteralReader, options *imap.AppendOptions) (*imap.AppendData, error) {
	data, err := se.UserSession.Append(mailbox, r, options)
	if err == nil && strings.EqualFold(mailbox, "INBOX") {
		st := se.is.s.store
		st.mu.Lock()
		st.notifyLocked()
		st.mu.Unlock()
	}
	return data, err
}

// Expunge removes messages and wakes waiters.
func (se *imapSession) Expunge(w *imapserver.ExpungeWriter, uids *imap.UIDSet) error {
	if uids != nil && se.ic.noUIDPlus {
		return &imap.Error{Type: imap.StatusResponseTypeBad, Text: "UID EXPUNGE needs UIDPLUS, which this server does not offer"}
	}
	err := se.UserSession.Expunge(w, uids)
	st := se.is.s.store
	st.mu.Lock()
	st.pruneLocked(se.mb)
	st.notifyLocked()
	st.mu.Unlock()
	return err
}
