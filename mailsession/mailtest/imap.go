package mailtest

import (
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-sasl"

	"github.com/jmailgo/jmail/mailsession/mailtest/internal/imapmem"
)

// imapServer serves IMAP with go-imap's imapserver over the shared
// mailboxes. Two imapserver instances run: one offers STARTTLS, the other
// (implicit TLS, or Faults.NoSTARTTLS) does not.
type imapServer struct {
	s        *Server
	conns    connSet
	withTLS  *imapserver.Server
	plain    *imapserver.Server
	feedTLS  *chanListener
	feedNone *chanListener
	serveWG  sync.WaitGroup
}

func newIMAPServer(s *Server) *imapServer {
	is := &imapServer{s: s}
	opts := func(tlsConfig bool) *imapserver.Server {
		o := &imapserver.Options{
			NewSession: is.newSession,
			Caps: imap.CapSet{
				imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {},
				// advertised to IMAP4rev1 clients (JavaMail) too
				imap.CapUIDPlus: {}, imap.CapMove: {}, imap.CapNamespace: {},
			},
			Logger:       logWriter{s.log},
			InsecureAuth: true, // loopback test server
		}
		if tlsConfig {
			o.TLSConfig = s.serverTLS()
		}
		return imapserver.New(o)
	}
	is.withTLS, is.plain = opts(true), opts(false)
	is.feedTLS, is.feedNone = newChanListener(is), newChanListener(is)
	is.serveWG.Add(2)
	go func() { defer is.serveWG.Done(); is.withTLS.Serve(is.feedTLS) }()
	go func() { defer is.serveWG.Done(); is.plain.Serve(is.feedNone) }()
	return is
}

func (is *imapServer) serve(ln net.Listener, implicitTLS bool) {
	is.s.accept(ln, &is.conns, implicitTLS, func(c net.Conn, fc *faultConn) {
		feed := is.feedNone
		if !implicitTLS && !is.s.faults.get().NoSTARTTLS {
			feed = is.feedTLS
		}
		fc.swallowWriteErrors()
		ic := &imapConn{Conn: c, fc: fc, done: make(chan struct{})}
		if !feed.push(ic) {
			return
		}
		// imapserver serves the connection on its own goroutine; wait for
		// its session to end so that Close waits for it too.
		<-ic.done
	})
}

func (is *imapServer) close() {
	is.feedTLS.Close()
	is.feedNone.Close()
	is.serveWG.Wait() // Serve has returned: imapserver.Close may wait on it now
	is.conns.closeAll()
	is.withTLS.Close()
	is.plain.Close()
}

// imapConn carries the faultConn to the session, and done, closed when the
// session ends.
type imapConn struct {
	net.Conn
	fc   *faultConn
	done chan struct{}
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
	return &imapSession{is: is, ic: ic, auth: &authenticator{s: is.s}}, nil, nil
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
	return err
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

func (se *imapSession) AuthenticateMechanisms() []string {
	return []string{sasl.Plain, sasl.Login, "XOAUTH2", sasl.OAuthBearer}
}

func (se *imapSession) Authenticate(mech string) (sasl.Server, error) {
	m := se.auth.mechanism(mech)
	if m == nil {
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

// Fetch arms Faults.CutFetchAfter for the response.
func (se *imapSession) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	se.ic.fc.startFetch()
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
	err := se.UserSession.Expunge(w, uids)
	st := se.is.s.store
	st.mu.Lock()
	st.pruneLocked(se.mb)
	st.notifyLocked()
	st.mu.Unlock()
	return err
}
