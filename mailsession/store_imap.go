package mailsession

import (
	"context"
	"crypto/tls"
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
		// (a per-read deadline would cut imapclient's idle reader). Through
		// ep's proxy, if any.
		c, lb, err := dialEndpointTCP(ctx, ep)
		loopback = lb
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
		return nil, imapErr(ctx, ep, "connect", err)
	}
	st := &imapStore{ep: ep, c: c, folder: folder}
	if err := st.start(ctx, s, loopback); err != nil {
		c.Close()
		return nil, withSeen(err, st.inf)
	}
	return st, nil
}

func (st *imapStore) start(ctx context.Context, s *Session, loopback bool) error {
	ep := st.ep
	caps, err := st.c.Caps(ctx)
	if err != nil {
		return imapErr(ctx, ep, "CAPABILITY", err)
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
	var cs *tls.ConnectionState
	if state, ok := st.c.TLSConnectionState(); ok {
		cs = &state
	}
	if ep.Token != nil || ep.AuthzID != "" || caps.Has(imap.CapLoginDisabled) || s.explicitMechanisms(ep) || preferSASL(ep, caps.AuthMechanisms(), cs) {
		sc, mech, err := chooseSASL(ctx, ep, caps.AuthMechanisms(), cs)
		if err != nil {
			return imapErr(ctx, ep, "login", err)
		}
		st.inf.Mechanism = mech
		err = st.c.Authenticate(ctx, sc)
		if err == nil {
			err = verifySASL(sc)
		}
		if err != nil {
			return withChallenge(sc, st.loginErr(ctx, err))
		}
	} else {
		st.inf.Mechanism = "LOGIN"
		if err := st.c.Login(ctx, ep.User, ep.Password); err != nil {
			return st.loginErr(ctx, err)
		}
	}
	uv, n, err := st.c.Select(ctx, st.folder)
	if err != nil {
		return st.opErr(ctx, "SELECT "+st.folder, err)
	}
	st.inf.UIDValidity, st.inf.Messages = uv, int(n)
	return nil
}

func (st *imapStore) loginErr(ctx context.Context, err error) error {
	e := imapErr(ctx, st.ep, "login", err)
	var se *StoreError
	var ie *imap.Error
	if errors.As(e, &se) && errors.As(err, &ie) {
		se.Code = string(ie.Code)
		se.temp = ie.Code == imap.ResponseCodeUnavailable || ie.Code == imap.ResponseCodeInUse
		se.auth = !se.temp
	}
	return e
}

func (st *imapStore) opErr(ctx context.Context, op string, err error) error {
	return imapErr(ctx, st.ep, op, err)
}

// imapErr is the *StoreError of a failed IMAP operation under ctx: it wraps
// ctx's error when ctx ended meanwhile (errors.Is(err, ctx.Err()) holds,
// and it is temporary), and takes the code of an IMAP NO or BAD.
func imapErr(ctx context.Context, ep *endpoint, op string, err error) error {
	if err == nil {
		return nil
	}
	err = withContext(ctx, err)
	e := ep.storeErr(op, err)
	var se *StoreError
	var ie *imap.Error
	if errors.As(e, &se) && errors.As(err, &ie) {
		se.Code = string(ie.Code)
		se.temp = se.temp || ie.Code == imap.ResponseCodeUnavailable || ie.Code == imap.ResponseCodeInUse
	}
	if errors.As(e, &se) && errors.Is(err, imapstore.ErrUnsafeExpunge) {
		se.temp = true // another client's EXPUNGE will clear the way
	}
	if errors.As(e, &se) && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		// The caller's ctx ended (imapstore wraps its error): the server
		// did nothing wrong, a retry with more time may succeed.
		se.temp = true
	}
	return e
}

// uidString is the Store form of an IMAP UID: "<UIDVALIDITY>.<UID>".
func (st *imapStore) uidString(u imap.UID) string {
	return strconv.FormatUint(uint64(st.c.UIDValidity()), 10) + "." + strconv.FormatUint(uint64(u), 10)
}

// parseUID accepts "<UIDVALIDITY>.<UID>" of the selected folder. A bare
// UID is refused: the same number names another message under another
// UIDVALIDITY. The error matches ErrNoMessage and says why.
func (st *imapStore) parseUID(s string) (imap.UID, error) {
	v, u, found := strings.Cut(s, ".")
	validity, verr := strconv.ParseUint(v, 10, 32)
	n, uerr := strconv.ParseUint(u, 10, 32)
	if !found || verr != nil || uerr != nil || n == 0 {
		return 0, fmt.Errorf("%w: %q is not an IMAP Store UID (\"<UIDVALIDITY>.<UID>\", as List gives; a bare UID is ambiguous across UIDVALIDITY)", ErrNoMessage, s)
	}
	if cur := st.c.UIDValidity(); uint32(validity) != cur {
		return 0, fmt.Errorf("%w: %q is from UIDVALIDITY %d, but %s now has UIDVALIDITY %d (the folder was recreated: its messages have new UIDs)", ErrNoMessage, s, validity, st.folder, cur)
	}
	return imap.UID(n), nil
}

func (st *imapStore) list(ctx context.Context) ([]MessageInfo, error) {
	msgs, err := st.c.List(ctx)
	if err != nil {
		return nil, st.opErr(ctx, "FETCH", err)
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
	u, err := st.parseUID(uid)
	if err != nil {
		return false, st.ep.storeErr("delete", err)
	}
	if st.sizes == nil {
		if _, err := st.list(ctx); err != nil {
			return false, err
		}
	}
	_, ok := st.sizes[u]
	return ok, nil
}

func (st *imapStore) fetch(ctx context.Context, uid string) (io.ReadCloser, int64, error) {
	u, err := st.parseUID(uid)
	if err != nil {
		return nil, 0, st.ep.storeErr("fetch", err)
	}
	r, size, err := st.c.Fetch(ctx, u)
	if errors.Is(err, imapstore.ErrNoMessage) {
		err = fmt.Errorf("%w: %q", ErrNoMessage, uid)
	}
	if err != nil {
		return nil, 0, st.opErr(ctx, "FETCH", err)
	}
	return &storeReader{r: r, wrap: func(err error) error { return st.opErr(ctx, "FETCH", err) }}, size, nil
}

// commit expunges exactly uids (see imapstore.Client.Expunge) and logs out.
// LOGOUT never expunges, so a failed commit deletes nothing more.
func (st *imapStore) commit(ctx context.Context, uids []string) error {
	var set []imap.UID
	for _, s := range uids {
		if u, err := st.parseUID(s); err == nil { // checked by Delete
			set = append(set, u)
		}
	}
	if err := st.c.Expunge(ctx, set); err != nil {
		st.c.Logout(ctx)
		return st.opErr(ctx, "EXPUNGE", err)
	}
	if err := st.c.Logout(ctx); err != nil {
		return st.opErr(ctx, "LOGOUT", err)
	}
	return nil
}

func (st *imapStore) abort() { st.c.Close() }

func (st *imapStore) info() storeInfo { return st.inf }
