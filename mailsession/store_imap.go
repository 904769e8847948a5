package mailsession

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/jmailgo/jmail/mailsession/internal/imapstore"
)

// imapStore is the IMAP driver of Store, over internal/imapstore.
type imapStore struct {
	ep     *endpoint
	c      *imapstore.Client
	folder string
	sizes  map[imap.UID]int64 // UID → size, from the last listing
	inf    storeInfo
}

func (s *Session) openIMAP(ctx context.Context, ep *endpoint, folder string) (*imapStore, error) {
	if folder == "" {
		folder = "INBOX"
	}
	mode := imapstore.NoTLS
	switch {
	case ep.ImplicitTLS:
		mode = imapstore.ImplicitTLS
	case ep.StartTLSRequired:
		mode = imapstore.StartTLSRequired
	case ep.StartTLS:
		mode = imapstore.StartTLSIfOffered
	}
	var loopback bool
	dial := func(ctx context.Context) (net.Conn, error) {
		// A plain TCP connection: imapstore's watchdog owns the deadlines
		// (a per-read deadline would cut imapclient's idle reader).
		d := net.Dialer{Timeout: ep.ConnectTimeout}
		c, err := d.DialContext(ctx, "tcp", ep.Addr())
		if err == nil {
			if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
				loopback = a.IP.IsLoopback()
			}
		}
		return c, err
	}
	c, err := imapstore.Dial(ctx, dial, imapstore.Options{
		TLS: mode, TLSConfig: tlsConfigFor(ep),
		ReadTimeout: ep.ReadTimeout, WriteTimeout: ep.WriteTimeout, Logger: s.trace,
	})
	if err != nil {
		if errors.Is(err, imapstore.ErrNoSTARTTLS) {
			err = fmt.Errorf("%w: %v", ErrTLSRequired, err)
		}
		return nil, ep.storeErr("connect", err)
	}
	st := &imapStore{ep: ep, c: c, folder: folder}
	if err := st.start(ctx, s, loopback); err != nil {
		c.Close()
		return nil, err
	}
	return st, nil
}

func (st *imapStore) start(ctx context.Context, s *Session, loopback bool) error {
	ep := st.ep
	caps, err := st.c.Caps(ctx)
	if err != nil {
		return ep.storeErr("CAPABILITY", err)
	}
	st.inf.TLSVersion = st.c.TLSVersion()
	for c := range caps {
		st.inf.Capabilities = append(st.inf.Capabilities, string(c))
	}
	slices.Sort(st.inf.Capabilities)
	st.inf.AuthMechanisms = caps.AuthMechanisms()
	if ep.User == "" && ep.Token == nil {
		return ep.storeErr("login", fmt.Errorf("%w: no user set (mail.%s.user)", ErrAuth, ep.Protocol))
	}
	if err := checkAuthAllowed(ep, st.c.TLS(), loopback); err != nil {
		return ep.storeErr("login", err)
	}
	if caps.Has(imap.CapLoginDisabled) && !st.c.TLS() && len(caps.AuthMechanisms()) == 0 {
		return ep.storeErr("login", fmt.Errorf("%w: the server refuses to log in without TLS (LOGINDISABLED): set mail.%s.starttls.enable=true, or use imaps", ErrAuth, ep.Protocol))
	}
	if ep.Token != nil || caps.Has(imap.CapLoginDisabled) || s.explicitMechanisms(ep) {
		sc, mech, err := chooseSASL(ctx, ep, caps.AuthMechanisms())
		if err != nil {
			return ep.storeErr("login", err)
		}
		st.inf.Mechanism = mech
		err = st.c.Authenticate(ctx, sc)
		if err != nil {
			return st.loginErr(err)
		}
	} else {
		st.inf.Mechanism = "LOGIN"
		if err := st.c.Login(ctx, ep.User, ep.Password); err != nil {
			return st.loginErr(err)
		}
	}
	uv, n, err := st.c.Select(ctx, st.folder)
	if err != nil {
		return st.opErr("SELECT "+st.folder, err)
	}
	st.inf.UIDValidity, st.inf.Messages = uv, int(n)
	return nil
}

func (st *imapStore) loginErr(err error) error {
	e := st.ep.storeErr("login", err).(*StoreError)
	var ie *imap.Error
	if errors.As(err, &ie) {
		e.Code = string(ie.Code)
		e.temp = ie.Code == imap.ResponseCodeUnavailable || ie.Code == imap.ResponseCodeInUse
		e.auth = !e.temp
	}
	return e
}

func (st *imapStore) opErr(op string, err error) error {
	if err == nil {
		return nil
	}
	e := st.ep.storeErr(op, err)
	var se *StoreError
	var ie *imap.Error
	if errors.As(e, &se) && errors.As(err, &ie) {
		se.Code = string(ie.Code)
		se.temp = se.temp || ie.Code == imap.ResponseCodeUnavailable || ie.Code == imap.ResponseCodeInUse
	}
	if errors.As(e, &se) && errors.Is(err, imapstore.ErrUnsafeExpunge) {
		se.temp = true // another client's EXPUNGE will clear the way
	}
	return e
}

// uidString is the Store form of an IMAP UID: "<UIDVALIDITY>.<UID>".
func (st *imapStore) uidString(u imap.UID) string {
	return strconv.FormatUint(uint64(st.c.UIDValidity()), 10) + "." + strconv.FormatUint(uint64(u), 10)
}

// parseUID accepts "<UIDVALIDITY>.<UID>" of the selected mailbox, or a
// bare UID.
func (st *imapStore) parseUID(s string) (imap.UID, bool) {
	v, u, found := strings.Cut(s, ".")
	if !found {
		v, u = "", s
	}
	if found && v != strconv.FormatUint(uint64(st.c.UIDValidity()), 10) {
		return 0, false
	}
	n, err := strconv.ParseUint(u, 10, 32)
	if err != nil || n == 0 {
		return 0, false
	}
	return imap.UID(n), true
}

func (st *imapStore) list(ctx context.Context) ([]MessageInfo, error) {
	msgs, err := st.c.List(ctx)
	if err != nil {
		return nil, st.opErr("FETCH", err)
	}
	st.sizes = make(map[imap.UID]int64, len(msgs))
	out := make([]MessageInfo, 0, len(msgs))
	for _, m := range msgs {
		if m.Deleted {
			continue
		}
		st.sizes[m.UID] = m.Size
		out = append(out, MessageInfo{UID: st.uidString(m.UID), Size: m.Size})
	}
	st.inf.Messages = len(out)
	return out, nil
}

func (st *imapStore) known(ctx context.Context, uid string) (bool, error) {
	u, ok := st.parseUID(uid)
	if !ok {
		return false, nil
	}
	if st.sizes == nil {
		if _, err := st.list(ctx); err != nil {
			return false, err
		}
	}
	_, ok = st.sizes[u]
	return ok, nil
}

func (st *imapStore) fetch(ctx context.Context, uid string) (io.ReadCloser, int64, error) {
	u, ok := st.parseUID(uid)
	if !ok {
		return nil, 0, st.ep.storeErr("fetch", fmt.Errorf("%w: %q", ErrNoMessage, uid))
	}
	r, size, err := st.c.Fetch(ctx, u)
	if errors.Is(err, imapstore.ErrNoMessage) {
		err = fmt.Errorf("%w: %q", ErrNoMessage, uid)
	}
	if err != nil {
		return nil, 0, st.opErr("FETCH", err)
	}
	return &storeReader{r: r, wrap: func(err error) error { return st.opErr("FETCH", err) }}, size, nil
}

// commit expunges exactly uids (see imapstore.Client.Expunge) and logs out.
// LOGOUT never expunges, so a failed commit deletes nothing more.
func (st *imapStore) commit(ctx context.Context, uids []string) error {
	var set []imap.UID
	for _, s := range uids {
		if u, ok := st.parseUID(s); ok {
			set = append(set, u)
		}
	}
	if err := st.c.Expunge(ctx, set); err != nil {
		st.c.Logout(ctx)
		return st.opErr("EXPUNGE", err)
	}
	if err := st.c.Logout(ctx); err != nil {
		return st.opErr("LOGOUT", err)
	}
	return nil
}

func (st *imapStore) abort() { st.c.Close() }

func (st *imapStore) info() storeInfo { return st.inf }
