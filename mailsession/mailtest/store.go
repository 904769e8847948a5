package mailtest

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/jmailgo/jmail/mailsession/mailtest/internal/imapmem"
)

// Message is a message held in a mailbox or accepted by the SMTP server.
type Message struct {
	From     string    // envelope sender (MAIL FROM); empty for Deliver and IMAP APPEND
	To       []string  // envelope recipients accepted in that transaction
	Data     []byte    // exact DATA bytes after dot-unstuffing, line ends as sent
	Received time.Time // when the server accepted it
	UID      uint32    // IMAP UID in the mailbox (0 in Received())
	// AuthUser is the mailbox the SMTP session acted as: the one that
	// logged in, or the authorization identity it gave (AllowAuthorization).
	// Empty without AUTH; set in Received() only.
	AuthUser string
}

// ErrNoMailbox is returned for an address that has no mailbox.
var ErrNoMailbox = errors.New("mailtest: no such mailbox")

// mailbox is one user's account: its credentials and INBOX.
type mailbox struct {
	addr     string
	password string
	token    string
	actAs    map[*mailbox]bool // AllowAuthorization; guarded by store.mu
	user     *imapmem.User
	inbox    *imapmem.Mailbox

	pop3Lock sync.Mutex // held by the POP3 session that owns the maildrop
	pop3Busy bool
}

// envelope is the SMTP envelope remembered for a delivered UID.
type envelope struct {
	from string
	to   []string
}

// store is every mailbox plus the log of accepted transactions.
type store struct {
	boxes   map[string]*mailbox // by lower-case address
	domains map[string]bool     // lower-case domains that have mailboxes

	mu        sync.Mutex
	envelopes map[*mailbox]map[imap.UID]envelope
	received  []Message
	changed   chan struct{} // closed and replaced on every change
}

func newStore(users []user) (*store, error) {
	st := &store{
		boxes:     make(map[string]*mailbox),
		domains:   make(map[string]bool),
		envelopes: make(map[*mailbox]map[imap.UID]envelope),
		changed:   make(chan struct{}),
	}
	for _, u := range users {
		if strings.ContainsAny(u.addr, " \t\r\n<>") || !strings.Contains(u.addr, "@") {
			return nil, fmt.Errorf("invalid mailbox address %q", u.addr)
		}
		key := strings.ToLower(u.addr)
		iu := imapmem.NewUser(u.addr, u.password)
		if err := iu.Create("INBOX", nil); err != nil {
			return nil, err
		}
		inbox, err := iu.Mailbox("INBOX")
		if err != nil {
			return nil, err
		}
		st.boxes[key] = &mailbox{addr: u.addr, password: u.password, token: u.token, user: iu, inbox: inbox}
		st.domains[domainOf(key)] = true
		st.envelopes[st.boxes[key]] = make(map[imap.UID]envelope)
	}
	return st, nil
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return ""
}

func equalFold(a, b string) bool { return strings.EqualFold(a, b) }

// lookup returns the mailbox for an address, or nil.
func (st *store) lookup(addr string) *mailbox {
	return st.boxes[strings.ToLower(addr)]
}

// checkPassword returns the mailbox if the login and password match.
func (st *store) checkPassword(login, password string) *mailbox {
	mb := st.lookup(login)
	if mb == nil || mb.password == "" {
		return nil
	}
	if subtle.ConstantTimeCompare([]byte(password), []byte(mb.password)) != 1 {
		return nil
	}
	return mb
}

// checkToken returns the mailbox if the OAuth token matches.
func (st *store) checkToken(login, token string) *mailbox {
	mb := st.lookup(login)
	if mb == nil {
		return nil
	}
	st.mu.Lock()
	want := mb.token // SetOAuthToken may change it
	st.mu.Unlock()
	if want == "" || subtle.ConstantTimeCompare([]byte(token), []byte(want)) != 1 {
		return nil
	}
	return mb
}

// AllowAuthorization lets the mailbox authcid, logged in with its own
// credentials, act as the mailbox authzid: the authorization identity of
// PLAIN (RFC 4616) and SCRAM (RFC 5802), as a Dovecot master user or an
// Exchange shared mailbox allows. Without it, an authorization identity
// other than the login's own fails the login.
func (s *Server) AllowAuthorization(authcid, authzid string) error {
	from, to := s.store.lookup(authcid), s.store.lookup(authzid)
	if from == nil || to == nil {
		return ErrNoMailbox
	}
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	if from.actAs == nil {
		from.actAs = make(map[*mailbox]bool)
	}
	from.actAs[to] = true
	return nil
}

// authorize returns the mailbox that mb, authenticated, acts as with the
// authorization identity authzid ("" or its own address: itself), or nil
// when it may not.
func (st *store) authorize(mb *mailbox, authzid string) *mailbox {
	if authzid == "" || strings.EqualFold(authzid, mb.addr) {
		return mb
	}
	to := st.lookup(authzid)
	st.mu.Lock()
	defer st.mu.Unlock()
	if to == nil || !mb.actAs[to] {
		return nil
	}
	return to
}

// SetOAuthToken replaces the bearer token XOAUTH2 and OAUTHBEARER accept
// for the mailbox addr while the server runs ("" accepts none): a test
// expires or revokes a token between two logins.
func (s *Server) SetOAuthToken(addr, token string) error {
	mb := s.store.lookup(addr)
	if mb == nil {
		return ErrNoMailbox
	}
	s.store.mu.Lock()
	mb.token = token
	s.store.mu.Unlock()
	return nil
}

// notifyLocked wakes every waiter; st.mu must be held.
func (st *store) notifyLocked() {
	close(st.changed)
	st.changed = make(chan struct{})
}

// deliver puts data into mb with an envelope.
func (st *store) deliver(mb *mailbox, env envelope, data []byte, t time.Time) imap.UID {
	st.mu.Lock()
	defer st.mu.Unlock()
	uid := mb.inbox.Add(data, t)
	st.envelopes[mb][uid] = env
	st.notifyLocked()
	return uid
}

// record appends an accepted SMTP transaction to the log.
func (st *store) record(m Message) {
	st.mu.Lock()
	st.received = append(st.received, m)
	st.notifyLocked()
	st.mu.Unlock()
}

// remove expunges UIDs from mb (nil: all) and forgets their envelopes.
func (st *store) remove(mb *mailbox, uids []imap.UID) {
	st.mu.Lock()
	defer st.mu.Unlock()
	mb.inbox.Remove(uids)
	st.pruneLocked(mb)
	st.notifyLocked()
}

// pruneLocked drops envelopes of messages no longer in mb (expunged over IMAP).
func (st *store) pruneLocked(mb *mailbox) {
	envs := st.envelopes[mb]
	if len(envs) == 0 {
		return
	}
	live := make(map[imap.UID]bool)
	for _, m := range mb.inbox.Messages() {
		live[m.UID] = true
	}
	for uid := range envs {
		if !live[uid] {
			delete(envs, uid)
		}
	}
}

func (st *store) messages(mb *mailbox) []Message {
	st.mu.Lock()
	defer st.mu.Unlock()
	stored := mb.inbox.Messages()
	msgs := make([]Message, len(stored))
	for i, m := range stored {
		env := st.envelopes[mb][m.UID]
		msgs[i] = Message{From: env.from, To: append([]string(nil), env.to...), Data: m.Data, Received: m.Time, UID: uint32(m.UID)}
	}
	return msgs
}

// wait calls check under st.mu each time the store changes until it reports
// done, ctx ends or the server closes.
func (st *store) wait(ctx context.Context, check func() bool) error {
	for {
		st.mu.Lock()
		ch := st.changed
		st.mu.Unlock()
		if check() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Messages returns the current contents of the mailbox with that address, in
// order, or nil if there is no such mailbox.
func (s *Server) Messages(mailbox string) []Message {
	mb := s.store.lookup(mailbox)
	if mb == nil {
		return nil
	}
	return s.store.messages(mb)
}

// Received returns every accepted SMTP transaction, in order, whether its
// recipients were local mailboxes or not.
func (s *Server) Received() []Message {
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	out := make([]Message, len(s.store.received))
	for i, m := range s.store.received {
		m.To = append([]string(nil), m.To...)
		m.Data = append([]byte(nil), m.Data...)
		out[i] = m
	}
	return out
}

// WaitMessages waits until the mailbox holds at least n messages and returns
// them, or returns ctx's error.
func (s *Server) WaitMessages(ctx context.Context, mailbox string, n int) ([]Message, error) {
	mb := s.store.lookup(mailbox)
	if mb == nil {
		return nil, fmt.Errorf("%w: %q", ErrNoMailbox, mailbox)
	}
	err := s.store.wait(ctx, func() bool { return mb.inbox.Len() >= n })
	msgs := s.store.messages(mb)
	if err != nil {
		return msgs, fmt.Errorf("mailtest: waiting for %d messages in %s (have %d): %w", n, mailbox, len(msgs), err)
	}
	return msgs, nil
}

// WaitReceived waits until at least n SMTP transactions were accepted and
// returns them, or returns ctx's error.
func (s *Server) WaitReceived(ctx context.Context, n int) ([]Message, error) {
	err := s.store.wait(ctx, func() bool {
		s.store.mu.Lock()
		defer s.store.mu.Unlock()
		return len(s.store.received) >= n
	})
	msgs := s.Received()
	if err != nil {
		return msgs, fmt.Errorf("mailtest: waiting for %d received messages (have %d): %w", n, len(msgs), err)
	}
	return msgs, nil
}

// Deliver puts a message straight into a mailbox, as if delivered locally.
// A bare LF line end in data is stored as CRLF, as a mail system stores
// messages, so that POP3 and IMAP serve proper lines and sizes; data with
// CRLF line ends is stored byte for byte.
func (s *Server) Deliver(mailbox string, data []byte) error {
	mb := s.store.lookup(mailbox)
	if mb == nil {
		return fmt.Errorf("%w: %q", ErrNoMailbox, mailbox)
	}
	s.store.deliver(mb, envelope{}, crlfLines(data), time.Now())
	return nil
}

// crlfLines returns a copy of data with every bare LF turned into CRLF.
func crlfLines(data []byte) []byte {
	out := make([]byte, 0, len(data)+bytes.Count(data, []byte("\n"))-bytes.Count(data, []byte("\r\n")))
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return append(out, data...)
		}
		if i > 0 && data[i-1] == '\r' {
			out = append(out, data[:i+1]...)
		} else {
			out = append(append(out, data[:i]...), '\r', '\n')
		}
		data = data[i+1:]
	}
}

// Reset empties every mailbox and the Received log, clears the SMTP command
// log and connection count, and clears the faults. Open connections stay
// open.
func (s *Server) Reset() {
	for _, mb := range s.store.boxes {
		s.store.remove(mb, nil)
	}
	s.store.mu.Lock()
	s.store.received = nil
	s.store.notifyLocked()
	s.store.mu.Unlock()
	s.smtp.resetLog()
	s.SetFaults(Faults{})
}
