// Package imapstore is the IMAP client behind mailsession's Store, on
// github.com/emersion/go-imap/v2 v2.0.0-beta.8's imapclient.
//
// imapclient does the protocol; this package adds what it lacks or gets in
// the way of losing nothing:
//
//   - deadlines: imapclient has no context and no per-command timeout, so a
//     watchdog (watchConn) closes the connection when a command waits on a
//     silent server longer than the read timeout, or when its context ends;
//   - streaming: a message is fetched with BODY.PEEK[] and handed over as a
//     reader of the literal, never collected in memory; the command is
//     completed as soon as the literal is read to its end, and a response
//     that puts its UID after the literal (imapclient matches it to no
//     command) is taken through the unilateral FETCH handler;
//   - deletions: UID STORE +FLAGS.SILENT (\Deleted) and UID EXPUNGE of
//     exactly our UIDs when UIDPLUS (or IMAP4rev2) is offered; otherwise a
//     plain EXPUNGE only after UID SEARCH DELETED shows that no other
//     message is flagged \Deleted (it would be expunged with ours). Never
//     CLOSE (it expunges silently) and never imapclient's Move (its
//     fallback without MOVE is COPY + STORE + plain EXPUNGE);
//   - STARTTLS is ours (startTLS), as imapclient keeps the TLS connection
//     of its own STARTTLS to itself: we need it for SCRAM -PLUS channel
//     binding (TLSConnectionState). A refused STARTTLS goes on in clear
//     text on the same connection;
//   - an empty SASL response after a continuation is an empty line
//     (RFC 9051, 6.2.2), not imapclient's "=" (authConn).
//
// A Client is not safe for concurrent use.
package imapstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
)

// DefaultTimeout is the read and write timeout when Options leaves it 0.
const DefaultTimeout = 60 * time.Second

var (
	// ErrTimeout matches an operation the watchdog ended: the server sent
	// nothing for the read timeout.
	ErrTimeout = timeoutError{}
	// ErrNoSTARTTLS is returned when STARTTLS is required and the server
	// refuses it.
	ErrNoSTARTTLS = errors.New("imap: server does not offer STARTTLS")
	// ErrUnsafeExpunge is returned by Expunge when the server has no
	// UIDPLUS and other messages are flagged \Deleted: a plain EXPUNGE
	// would remove them with ours, so nothing is expunged.
	ErrUnsafeExpunge = errors.New("imap: server lacks UIDPLUS and other messages are flagged \\Deleted; not expunging")
	// ErrNoMessage is returned by Fetch for a UID that is not (or no
	// longer) in the mailbox.
	ErrNoMessage = errors.New("imap: no such message")
	// ErrBusy is returned when a command is issued while a fetched
	// message is still open, or while IDLE runs.
	ErrBusy = errors.New("imap: busy: a message is still being read, or IDLE runs")
	// ErrClosed is returned once the connection is closed or broken.
	ErrClosed = errors.New("imap: connection closed")
)

type timeoutError struct{}

func (timeoutError) Error() string   { return "imap: server did not answer within the read timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }
func (timeoutError) Unwrap() error   { return os.ErrDeadlineExceeded }

// TLSMode says how the connection is encrypted.
type TLSMode int

const (
	NoTLS             TLSMode = iota // clear text
	StartTLSIfOffered                // STARTTLS when the server offers it
	StartTLSRequired                 // STARTTLS or fail
	ImplicitTLS                      // TLS from the first byte (imaps)
)

// Options configure Dial.
type Options struct {
	TLS          TLSMode
	TLSConfig    *tls.Config   // for ImplicitTLS and STARTTLS; ServerName must be set
	ReadTimeout  time.Duration // longest wait for the server within a command; 0: DefaultTimeout
	WriteTimeout time.Duration // per write; 0: DefaultTimeout
	// Debug receives the raw protocol trace (it includes credentials:
	// give a redacting writer). Nil: none.
	Debug io.Writer
	// Logger receives a debug message per command (name and UIDs, never
	// credentials). Nil: none.
	Logger *slog.Logger
}

// Client is one IMAP connection.
type Client struct {
	c       *imapclient.Client
	wc      *watchConn
	ac      *authConn // what imapclient reads and writes (above TLS)
	tlsConn *tls.Conn // nil without TLS
	opt     Options
	tls     bool
	reading *bodyReader
	broken  error

	wantMu sync.Mutex
	want   *fetchWait  // the Fetch waiting for its message, for unilateralFetch
	closed atomic.Bool // Close was called (from any goroutine)

	mailbox     string
	uidValidity uint32
	tlsVersion  atomic.Uint32 // negotiated TLS version, recorded by VerifyConnection

	idle *Idle // the IDLE in progress, if any (see idle.go)
	// count is the selected mailbox's message count as the server last
	// reported it (SELECT, EXISTS, EXPUNGE); news is signalled when an
	// EXISTS raises it.
	countMu sync.Mutex
	count   uint32
	news    chan struct{}
}

// Dial connects with dial (a plain TCP connection: TLS is done here),
// reads the greeting and, as opt says, starts TLS. ctx bounds the whole set
// up. With StartTLSIfOffered a server that refuses STARTTLS is spoken to in
// clear text on the same connection.
func Dial(ctx context.Context, dial func(context.Context) (net.Conn, error), opt Options) (*Client, error) {
	if opt.ReadTimeout <= 0 {
		opt.ReadTimeout = DefaultTimeout
	}
	if opt.WriteTimeout <= 0 {
		opt.WriteTimeout = DefaultTimeout
	}
	c, err := connect(ctx, dial, opt, opt.TLS)
	if err != nil {
		if opt.TLS == StartTLSRequired && isRefusal(err) {
			err = fmt.Errorf("%w: %v", ErrNoSTARTTLS, err)
		}
		return nil, err
	}
	return c, nil
}

// isRefusal reports whether err is a NO/BAD answer (the server is fine).
func isRefusal(err error) bool {
	var ie *imap.Error
	return errors.As(err, &ie)
}

func connect(ctx context.Context, dial func(context.Context) (net.Conn, error), opt Options, mode TLSMode) (*Client, error) {
	raw, err := dial(ctx)
	if err != nil {
		return nil, err
	}
	wc := newWatchConn(raw, opt.ReadTimeout, opt.WriteTimeout)
	cl := &Client{wc: wc, opt: opt, news: make(chan struct{}, 1)}
	end := cl.guard(ctx)
	var cfg *tls.Config
	if opt.TLSConfig != nil {
		// Record the TLS version: imapclient keeps its STARTTLS conn to
		// itself.
		cfg = opt.TLSConfig.Clone()
		verify := cfg.VerifyConnection
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			cl.tlsVersion.Store(uint32(cs.Version))
			if verify != nil {
				return verify(cs)
			}
			return nil
		}
	}
	io := imapclient.Options{
		TLSConfig: cfg, DebugWriter: opt.Debug,
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Fetch: cl.unilateralFetch, Mailbox: cl.unilateralMailbox, Expunge: cl.unilateralExpunge,
		},
	}
	if cfg == nil {
		cfg = &tls.Config{}
	}
	switch mode {
	case ImplicitTLS:
		tc := tls.Client(wc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			wc.Close()
			return nil, end(fmt.Errorf("imap: TLS handshake: %w", err))
		}
		cl.ac = newAuthConn(tc, nil)
		cl.c, cl.tls, cl.tlsConn = imapclient.New(cl.ac, &io), true, tc
	case StartTLSIfOffered, StartTLSRequired:
		// STARTTLS is ours, not imapclient's: imapclient keeps the TLS
		// connection it makes to itself, and we need it above TLS (the
		// channel binding of SCRAM -PLUS, authConn).
		tc, greeting, err := startTLS(ctx, wc, cfg)
		switch {
		case err == nil:
			// imapclient reads a greeting first: the server's came
			// before TLS and its capabilities may differ now (RFC 9051,
			// 7.1.4), so imapclient gets one without them and asks.
			cl.ac = newAuthConn(tc, []byte("* OK TLS started\r\n"))
			cl.c, cl.tls, cl.tlsConn = imapclient.New(cl.ac, &io), true, tc
		case mode == StartTLSIfOffered && isRefusal(err):
			// Refused: go on in clear text on this connection, with
			// the server's greeting handed to imapclient.
			cl.ac = newAuthConn(wc, greeting)
			cl.c = imapclient.New(cl.ac, &io)
		default:
			wc.Close()
			return nil, end(fmt.Errorf("imap: STARTTLS: %w", err))
		}
	default:
		cl.ac = newAuthConn(wc, nil)
		cl.c = imapclient.New(cl.ac, &io)
	}
	if err := cl.c.WaitGreeting(); err != nil {
		cl.c.Close()
		return nil, end(fmt.Errorf("imap: greeting: %w", err))
	}
	if err := end(nil); err != nil {
		cl.c.Close()
		return nil, err
	}
	return cl, nil
}

// guard arms the watchdog and ties the connection to ctx until the returned
// function is called with the operation's error; it returns the error to
// report (a timeout or ctx's error when they caused the failure).
func (cl *Client) trace(msg string, args ...any) {
	if cl.opt.Logger != nil {
		cl.opt.Logger.Debug("imap "+msg, args...)
	}
}

func (cl *Client) guard(ctx context.Context) func(error) error {
	cl.wc.arm()
	stop := context.AfterFunc(ctx, func() { cl.wc.Close() })
	return func(err error) error {
		cl.wc.disarm()
		stopped := stop()
		switch {
		case !stopped:
			cl.fail(ctx.Err())
			if err == nil {
				return ctx.Err()
			}
			return fmt.Errorf("%w (%v)", ctx.Err(), err)
		case cl.wc.timedOut.Load():
			cl.fail(ErrTimeout)
			if err == nil || errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "closed network connection") {
				return ErrTimeout
			}
			return fmt.Errorf("%w (%v)", ErrTimeout, err)
		case err != nil && !isRefusal(err) && !errors.Is(err, ErrNoMessage) && !errors.Is(err, ErrUnsafeExpunge):
			cl.fail(err)
		}
		return err
	}
}

// fail marks the connection unusable and closes it.
func (cl *Client) fail(cause error) {
	if cl.broken == nil {
		cl.broken = cause
		cl.wc.Close()
	}
}

// begin checks that a command may be issued and guards it.
func (cl *Client) begin(ctx context.Context) (func(error) error, error) {
	if cl.broken != nil {
		return nil, fmt.Errorf("%w: %v", ErrClosed, cl.broken)
	}
	if cl.closed.Load() {
		return nil, ErrClosed
	}
	if cl.reading != nil || cl.idle != nil {
		return nil, ErrBusy
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return cl.guard(ctx), nil
}

// TLS reports whether the connection is encrypted.
func (cl *Client) TLS() bool { return cl.tls }

// TLSVersion names the negotiated TLS version ("TLS 1.3"); "" without TLS.
func (cl *Client) TLSVersion() string {
	if v := cl.tlsVersion.Load(); cl.tls && v != 0 {
		return tls.VersionName(uint16(v))
	}
	return ""
}

// Caps returns the server's capabilities.
func (cl *Client) Caps(ctx context.Context) (imap.CapSet, error) {
	end, err := cl.begin(ctx)
	if err != nil {
		return nil, err
	}
	caps := cl.c.Caps()
	if caps == nil {
		return nil, end(errors.New("imap: CAPABILITY failed"))
	}
	return caps, end(nil)
}

// Login authenticates with LOGIN.
func (cl *Client) Login(ctx context.Context, user, password string) error {
	end, err := cl.begin(ctx)
	if err != nil {
		return err
	}
	if cl.c.Caps().Has(imap.CapLoginDisabled) {
		return end(&imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodePrivacyRequired, Text: "LOGINDISABLED: the server refuses LOGIN on this connection"})
	}
	cl.trace("LOGIN", "user", user)
	return end(cl.c.Login(user, password).Wait())
}

// Authenticate runs AUTHENTICATE with sc. The initial response goes on the
// command line when the server has SASL-IR, whatever its length (IMAP has
// no line limit; imapclient always inlines it), else after the first "+".
func (cl *Client) Authenticate(ctx context.Context, sc sasl.Client) error {
	end, err := cl.begin(ctx)
	if err != nil {
		return err
	}
	cl.trace("AUTHENTICATE")
	cl.ac.inAuth.Store(true)
	err = cl.c.Authenticate(sc)
	cl.ac.inAuth.Store(false)
	return end(err)
}

// TLSConnectionState returns the state of the TLS connection, for SCRAM
// -PLUS channel binding; ok is false without TLS.
func (cl *Client) TLSConnectionState() (cs tls.ConnectionState, ok bool) {
	if cl.tlsConn == nil {
		return tls.ConnectionState{}, false
	}
	return cl.tlsConn.ConnectionState(), true
}

// Select opens mailbox (INBOX when empty) read-write and returns its
// UIDVALIDITY and message count.
func (cl *Client) Select(ctx context.Context, mailbox string) (uidValidity uint32, count uint32, err error) {
	if mailbox == "" {
		mailbox = "INBOX"
	}
	if strings.ContainsAny(mailbox, "\r\n\x00") {
		return 0, 0, fmt.Errorf("imap: mailbox name %q holds CR, LF or NUL", mailbox)
	}
	end, err := cl.begin(ctx)
	if err != nil {
		return 0, 0, err
	}
	cl.trace("SELECT", "mailbox", mailbox)
	data, err := cl.c.Select(mailbox, nil).Wait()
	if err != nil {
		return 0, 0, end(err)
	}
	cl.mailbox, cl.uidValidity = mailbox, data.UIDValidity
	cl.countMu.Lock()
	cl.count = data.NumMessages
	cl.countMu.Unlock()
	return data.UIDValidity, data.NumMessages, end(nil)
}

// UIDValidity is the selected mailbox's UIDVALIDITY.
func (cl *Client) UIDValidity() uint32 { return cl.uidValidity }

// Message describes one message of the selected mailbox.
type Message struct {
	UID     imap.UID
	Size    int64
	Deleted bool // flagged \Deleted (by anyone)
}

// List returns every message of the selected mailbox, by UID order.
func (cl *Client) List(ctx context.Context) ([]Message, error) {
	end, err := cl.begin(ctx)
	if err != nil {
		return nil, err
	}
	if mb := cl.c.Mailbox(); mb == nil || mb.NumMessages == 0 {
		// "1:*" on an empty mailbox is an error on some servers; ask NOOP
		// for news first so that a message that just arrived is seen.
		if err := cl.c.Noop().Wait(); err != nil {
			return nil, end(err)
		}
		if mb := cl.c.Mailbox(); mb == nil || mb.NumMessages == 0 {
			return nil, end(nil)
		}
	}
	bufs, err := cl.c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, RFC822Size: true, Flags: true}).Collect()
	if err != nil {
		return nil, end(err)
	}
	out := make([]Message, 0, len(bufs))
	for _, b := range bufs {
		if b.UID == 0 {
			continue
		}
		out = append(out, Message{UID: b.UID, Size: b.RFC822Size, Deleted: slices.Contains(b.Flags, imap.FlagDeleted)})
	}
	slices.SortFunc(out, func(a, b Message) int { return int(a.UID) - int(b.UID) })
	return out, end(nil)
}

// Fetch streams the exact bytes of message uid (BODY.PEEK[]: the \Seen flag
// is left alone). The reader must be closed before the next command. ctx
// bounds the whole read, until the last byte is read or the reader closed:
// the command is completed (its tagged OK read, the watchdog released) as
// soon as the literal has been read to its end, so a consumer may then take
// its time before closing.
//
// A response that carries the literal before its UID item (legal, if rare)
// is still ours: imapclient cannot match it to the command, so it reaches
// the client's unilateral FETCH handler, which hands it over here; its UID
// is checked once the literal has been read.
func (cl *Client) Fetch(ctx context.Context, uid imap.UID) (io.ReadCloser, int64, error) {
	end, err := cl.begin(ctx)
	if err != nil {
		return nil, 0, err
	}
	cl.trace("UID FETCH BODY.PEEK[]", "uid", uid)
	w := &fetchWait{uid: uid, ch: make(chan fetched, 3)}
	cl.wantMu.Lock()
	cl.want = w
	cl.wantMu.Unlock()
	cmd := cl.c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{
		UID:         true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	})
	go pump(cmd, w.ch)
	f := <-w.ch
	cl.wantMu.Lock()
	if cl.want == w {
		cl.want = nil
	}
	cl.wantMu.Unlock()
	if f.end {
		if f.err != nil {
			return nil, 0, end(f.err)
		}
		return nil, 0, end(fmt.Errorf("%w: UID %d in %s", ErrNoMessage, uid, cl.mailbox))
	}
	r := &bodyReader{cl: cl, w: w, f: f, size: f.lit.Size(), end: end}
	cl.reading = r
	return r, r.size, nil
}

// fetchWait is a Fetch waiting for its message. Both the command's own
// responses (through pump) and unmatched FETCH responses whose literal came
// before any UID (through unilateralFetch) are sent on ch, which holds all
// they can send (one message each and pump's end) so that no sender
// blocks.
type fetchWait struct {
	uid imap.UID
	ch  chan fetched
}

// fetched is a FETCH response stopped at its body literal, or the end of
// the command.
type fetched struct {
	msg *imapclient.FetchMessageData
	lit imap.LiteralReader
	uid imap.UID // from a UID item before the literal; 0: none (yet)
	// release, for a response of pump's, lets pump go on (true) or stop
	// without touching the command again (false: the connection is
	// abandoned). Nil for a response handed over by unilateralFetch.
	release chan bool

	end bool  // the command completed
	err error // with this error
}

// pump reads cmd's responses, sends each one that carries a body literal
// on ch and waits until it is released, then sends the command's end.
func pump(cmd *imapclient.FetchCommand, ch chan<- fetched) {
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		f, ok := untilLiteral(msg)
		if !ok {
			continue
		}
		f.release = make(chan bool, 1)
		ch <- f
		if !<-f.release {
			return
		}
	}
	ch <- fetched{end: true, err: cmd.Close()}
}

// untilLiteral reads msg's items up to the first body section with a
// literal, noting the UID met on the way.
func untilLiteral(msg *imapclient.FetchMessageData) (fetched, bool) {
	f := fetched{msg: msg}
	for item := msg.Next(); item != nil; item = msg.Next() {
		switch item := item.(type) {
		case imapclient.FetchItemDataUID:
			f.uid = item.UID
		case imapclient.FetchItemDataBodySection:
			if item.Literal != nil {
				f.lit = item.Literal
				return f, true
			}
		}
	}
	return f, false
}

// unilateralFetch receives the FETCH responses imapclient matched to no
// command: flag updates, and responses whose literal came before their UID
// item. One of the latter goes to the Fetch waiting, if any; the rest is
// read and discarded (the decoder waits until a literal is consumed).
func (cl *Client) unilateralFetch(msg *imapclient.FetchMessageData) {
	f, ok := untilLiteral(msg)
	if !ok {
		return
	}
	cl.wantMu.Lock()
	w := cl.want
	if f.uid != 0 {
		w = nil // a UID first and still unmatched: not our command's
	}
	if w != nil {
		cl.want = nil
	}
	cl.wantMu.Unlock()
	if w != nil {
		w.ch <- f
		return
	}
	for item := msg.Next(); item != nil; item = msg.Next() {
	}
}

// bodyReader is the literal of a fetched message.
type bodyReader struct {
	cl     *Client
	w      *fetchWait
	f      fetched
	size   int64
	end    func(error) error
	read   int64
	closed bool
	err    error // sticky: io.EOF once finished, or the failure
}

func (r *bodyReader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, ErrClosed
	}
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.f.lit.Read(p)
	r.read += int64(n)
	switch {
	case err == io.EOF && r.read < r.size:
		err = io.ErrUnexpectedEOF
	case err == nil && r.read >= r.size:
		err = io.EOF // the last byte: finish now, not on the next Read
	}
	switch {
	case err == io.EOF:
		// Complete the command now: a consumer that works on the
		// message before closing must not hold the command (and the
		// watchdog) open.
		if r.err = r.finish(nil); r.err == nil {
			r.err = io.EOF
		}
		return n, r.err
	case err != nil:
		r.err = r.finish(fmt.Errorf("imap: FETCH: %w", err))
		return n, r.err
	}
	return n, nil
}

// finish completes the command once and frees the connection.
func (r *bodyReader) finish(err error) error {
	if r.cl.reading != r {
		return err
	}
	r.cl.reading = nil
	if err != nil {
		// A half-read literal leaves the stream unusable. The literal must
		// not be touched again (imapclient's decoder goes on reading the
		// same buffer once a literal read failed): close the connection and
		// wait for the decoder to stop.
		if r.f.release != nil {
			r.f.release <- false
		}
		r.cl.wc.Close()
		r.cl.c.Close()
		return r.end(err)
	}
	uid := restUID(r.f)
	var cmdErr error
	for f := range r.w.ch {
		if f.end {
			cmdErr = f.err
			break
		}
		// Another response with a literal (a server answering twice):
		// discard it.
		io.Copy(io.Discard, f.lit)
		restUID(f)
	}
	switch {
	case cmdErr != nil:
		err = fmt.Errorf("imap: FETCH: %w", cmdErr)
	case uid != r.w.uid:
		err = fmt.Errorf("imap: FETCH of UID %d answered with a message of UID %d", r.w.uid, uid)
	}
	return r.end(err)
}

// restUID reads the rest of f's message (the literal must have been read)
// and releases it; it returns its UID, from before or after the literal.
func restUID(f fetched) imap.UID {
	uid := f.uid
	for item := f.msg.Next(); item != nil; item = f.msg.Next() {
		if u, ok := item.(imapclient.FetchItemDataUID); ok && uid == 0 {
			uid = u.UID
		}
	}
	if f.release != nil {
		f.release <- true
	}
	return uid
}

// Close discards what was not read and completes the command.
func (r *bodyReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.err == io.EOF {
		return nil
	}
	if r.err != nil {
		return r.err
	}
	if _, err := io.Copy(io.Discard, r.f.lit); err != nil {
		return r.finish(fmt.Errorf("imap: FETCH: %w", err))
	}
	return r.finish(nil)
}

// Expunge flags uids \Deleted and expunges exactly them: UID EXPUNGE with
// UIDPLUS/IMAP4rev2; without it a plain EXPUNGE, only when UID SEARCH
// DELETED shows no other flagged message (else ErrUnsafeExpunge and
// nothing is flagged).
func (cl *Client) Expunge(ctx context.Context, uids []imap.UID) error {
	if len(uids) == 0 {
		return nil
	}
	end, err := cl.begin(ctx)
	if err != nil {
		return err
	}
	set := imap.UIDSetNum(uids...)
	uidplus := cl.c.Caps().Has(imap.CapUIDPlus)
	if !uidplus {
		data, err := cl.c.UIDSearch(&imap.SearchCriteria{Flag: []imap.Flag{imap.FlagDeleted}}, nil).Wait()
		if err != nil {
			return end(err)
		}
		for _, u := range data.AllUIDs() {
			if !slices.Contains(uids, u) {
				return end(fmt.Errorf("%w (UID %d)", ErrUnsafeExpunge, u))
			}
		}
	}
	cl.trace("UID STORE +FLAGS.SILENT (\\Deleted) then EXPUNGE", "uids", set.String(), "uidplus", uidplus)
	store := &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}
	if err := cl.c.Store(set, store, nil).Close(); err != nil {
		return end(err)
	}
	if uidplus {
		_, err = cl.c.UIDExpunge(set).Collect()
	} else {
		_, err = cl.c.Expunge().Collect()
	}
	return end(err)
}

// Noop sends NOOP.
func (cl *Client) Noop(ctx context.Context) error {
	end, err := cl.begin(ctx)
	if err != nil {
		return err
	}
	return end(cl.c.Noop().Wait())
}

// Logout sends LOGOUT and closes the connection. It never expunges.
func (cl *Client) Logout(ctx context.Context) error {
	end, err := cl.begin(ctx)
	if err != nil {
		cl.Close()
		return err
	}
	err = cl.c.Logout().Wait()
	cl.fail(ErrClosed)
	cl.c.Close()
	if err != nil && (errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF)) {
		err = nil // the server closed first, as it may after BYE
	}
	return end(err)
}

// Close closes the connection without LOGOUT. Unlike the other methods it
// may be called from another goroutine, to abandon a command or a message
// being read.
func (cl *Client) Close() error {
	if !cl.closed.Swap(true) {
		cl.wc.Close()
		cl.c.Close()
	}
	return nil
}
