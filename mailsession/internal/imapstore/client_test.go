package imapstore

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/jmailgo/jmail/mailsession/mailtest"
)

func hardMessage(subject string) []byte {
	return mailtest.HardMessage("user@example.com", mailtest.DefaultUser, subject)
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var modes = []mailtest.Mode{mailtest.Plain, mailtest.StartTLS, mailtest.ImplicitTLS}

func options(srv *mailtest.Server, mode mailtest.Mode) Options {
	o := Options{TLSConfig: srv.ClientTLSConfig()}
	switch mode {
	case mailtest.StartTLS:
		o.TLS = StartTLSRequired
	case mailtest.ImplicitTLS:
		o.TLS = ImplicitTLS
	}
	return o
}

func dialer(srv *mailtest.Server, mode mailtest.Mode) func(context.Context) (net.Conn, error) {
	port := srv.Ports().IMAP
	if mode == mailtest.ImplicitTLS {
		port = srv.Ports().IMAPS
	}
	return func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", srv.Addr(port))
	}
}

// open dials, logs in and selects INBOX.
func open(t testing.TB, srv *mailtest.Server, mode mailtest.Mode, opt Options) *Client {
	t.Helper()
	ctx := testContext(t)
	c, err := Dial(ctx, dialer(srv, mode), opt)
	if err != nil {
		t.Fatalf("dial %v: %v", mode, err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(ctx, mailtest.DefaultUser, mailtest.DefaultPassword); err != nil {
		t.Fatalf("login: %v", err)
	}
	if _, _, err := c.Select(ctx, ""); err != nil {
		t.Fatalf("select: %v", err)
	}
	return c
}

func fetchAll(t testing.TB, c *Client, uid imap.UID) []byte {
	t.Helper()
	r, size, err := c.Fetch(testContext(t), uid)
	if err != nil {
		t.Fatalf("fetch %d: %v", uid, err)
	}
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %d: %v", uid, err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if int64(len(got)) != size {
		t.Errorf("size %d, read %d", size, len(got))
	}
	return got
}

func TestFetchExactEveryMode(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			srv := mailtest.NewServer(t)
			want := [][]byte{hardMessage("one"), hardMessage("two")}
			for _, m := range want {
				srv.Deliver(mailtest.DefaultUser, m)
			}
			c := open(t, srv, mode, options(srv, mode))
			if c.TLS() != (mode != mailtest.Plain) {
				t.Errorf("TLS() = %v in %v", c.TLS(), mode)
			}
			if c.UIDValidity() == 0 {
				t.Error("no UIDVALIDITY")
			}
			ctx := testContext(t)
			list, err := c.List(ctx)
			if err != nil || len(list) != 2 {
				t.Fatalf("List = %v, %v", list, err)
			}
			for i, m := range list {
				if m.Size != int64(len(want[i])) || m.Deleted {
					t.Errorf("message %d: %+v, want size %d", i, m, len(want[i]))
				}
				if got := fetchAll(t, c, m.UID); !bytes.Equal(got, want[i]) {
					t.Errorf("message %d differs", i)
				}
			}
			// Fetch leaves \Seen alone (BODY.PEEK).
			if err := c.Noop(ctx); err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.Fetch(ctx, list[1].UID+100); !errors.Is(err, ErrNoMessage) {
				t.Errorf("fetch of a missing UID = %v, want ErrNoMessage", err)
			}
			if err := c.Expunge(ctx, []imap.UID{list[0].UID}); err != nil {
				t.Fatal(err)
			}
			left := srv.Messages(mailtest.DefaultUser)
			if len(left) != 1 || !bytes.Equal(left[0].Data, want[1]) {
				t.Errorf("after expunging the first, the server has %d messages", len(left))
			}
			if err := c.Logout(ctx); err != nil {
				t.Errorf("logout: %v", err)
			}
		})
	}
}

func TestCloseEarlyThenNextFetch(t *testing.T) {
	srv := mailtest.NewServer(t)
	srv.Deliver(mailtest.DefaultUser, hardMessage("one"))
	srv.Deliver(mailtest.DefaultUser, hardMessage("two"))
	c := open(t, srv, mailtest.Plain, Options{})
	ctx := testContext(t)
	list, _ := c.List(ctx)
	r, _, err := c.Fetch(ctx, list[0].UID)
	if err != nil {
		t.Fatal(err)
	}
	io.CopyN(io.Discard, r, 100)
	if _, err := c.List(ctx); !errors.Is(err, ErrBusy) {
		t.Errorf("List while reading = %v, want ErrBusy", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if got := fetchAll(t, c, list[1].UID); !bytes.Equal(got, hardMessage("two")) {
		t.Error("second message differs")
	}
}

func TestCutMidFetchIsAnError(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			srv := mailtest.NewServer(t)
			srv.Deliver(mailtest.DefaultUser, hardMessage("cut"))
			c := open(t, srv, mode, options(srv, mode))
			list, err := c.List(testContext(t))
			if err != nil {
				t.Fatal(err)
			}
			srv.SetFaults(mailtest.Faults{CutFetchAfter: 3000})
			r, _, err := c.Fetch(testContext(t), list[0].UID)
			if err == nil {
				_, err = io.ReadAll(r)
			}
			if err == nil {
				t.Fatal("read a cut message without error")
			}
			if err := c.Noop(testContext(t)); !errors.Is(err, ErrClosed) {
				t.Errorf("NOOP after a cut = %v, want ErrClosed", err)
			}
			if n := len(srv.Messages(mailtest.DefaultUser)); n != 1 {
				t.Errorf("%d messages on the server, want 1", n)
			}
		})
	}
}

// imapclient has no per-command timeout: the watchdog ends a command on a
// silent server.
func TestWatchdogTimesOutSilentServer(t *testing.T) {
	srv := mailtest.NewServer(t)
	opt := Options{ReadTimeout: time.Second}
	c := open(t, srv, mailtest.Plain, opt)
	srv.SetFaults(mailtest.Faults{ReplyDelay: 4 * time.Second})
	err := c.Noop(testContext(t))
	var ne net.Error
	if !errors.Is(err, ErrTimeout) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("NOOP to a silent server = %v, want ErrTimeout", err)
	}
}

// An idle connection outlives the read timeout: only waiting for an answer
// counts.
func TestIdleConnectionSurvivesReadTimeout(t *testing.T) {
	srv := mailtest.NewServer(t)
	c := open(t, srv, mailtest.Plain, Options{ReadTimeout: 300 * time.Millisecond})
	time.Sleep(1500 * time.Millisecond)
	if err := c.Noop(testContext(t)); err != nil {
		t.Fatalf("NOOP after idling: %v", err)
	}
}

func TestContextCancelClosesConnection(t *testing.T) {
	srv := mailtest.NewServer(t)
	c := open(t, srv, mailtest.Plain, Options{})
	srv.SetFaults(mailtest.Faults{ReplyDelay: 2 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if err := c.Noop(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("NOOP = %v, want context.Canceled", err)
	}
	if err := c.Noop(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("NOOP after cancel = %v, want ErrClosed", err)
	}
}

func TestStartTLSRefused(t *testing.T) {
	srv := mailtest.NewServer(t)
	srv.SetFaults(mailtest.Faults{NoSTARTTLS: true})
	o := options(srv, mailtest.StartTLS)
	if _, err := Dial(testContext(t), dialer(srv, mailtest.Plain), o); !errors.Is(err, ErrNoSTARTTLS) {
		t.Errorf("required STARTTLS refused = %v, want ErrNoSTARTTLS", err)
	}
	o.TLS = StartTLSIfOffered
	c, err := Dial(testContext(t), dialer(srv, mailtest.Plain), o)
	if err != nil {
		t.Fatalf("opportunistic STARTTLS refused: %v", err)
	}
	defer c.Close()
	if c.TLS() {
		t.Error("TLS() true without STARTTLS")
	}
	if err := c.Login(testContext(t), mailtest.DefaultUser, mailtest.DefaultPassword); err != nil {
		t.Error(err)
	}
}

func TestWrongPassword(t *testing.T) {
	srv := mailtest.NewServer(t)
	c, err := Dial(testContext(t), dialer(srv, mailtest.ImplicitTLS), options(srv, mailtest.ImplicitTLS))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Login(testContext(t), mailtest.DefaultUser, "wrong")
	var ie *imap.Error
	if !errors.As(err, &ie) || ie.Type != imap.StatusResponseTypeNo {
		t.Fatalf("wrong password = %v, want NO", err)
	}
	if err := c.Login(testContext(t), mailtest.DefaultUser, mailtest.DefaultPassword); err != nil {
		t.Errorf("connection unusable after a refused login: %v", err)
	}
}

var _ = tls.VersionTLS12

// Without UIDPLUS a plain EXPUNGE removes exactly our messages when no
// other message is flagged \Deleted.
func TestExpungeWithoutUIDPlus(t *testing.T) {
	srv := mailtest.NewServer(t)
	srv.Deliver(mailtest.DefaultUser, hardMessage("one"))
	srv.Deliver(mailtest.DefaultUser, hardMessage("two"))
	srv.SetFaults(mailtest.Faults{NoUIDPlus: true})
	c := open(t, srv, mailtest.Plain, Options{})
	ctx := testContext(t)
	list, err := c.List(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("List = %v, %v", list, err)
	}
	if err := c.Expunge(ctx, []imap.UID{list[0].UID}); err != nil {
		t.Fatalf("Expunge: %v", err)
	}
	left := srv.Messages(mailtest.DefaultUser)
	if len(left) != 1 || !bytes.Equal(left[0].Data, hardMessage("two")) {
		t.Errorf("server holds %d messages, want only the second", len(left))
	}
}

// Without UIDPLUS, when another client has flagged a message \Deleted, a
// plain EXPUNGE would remove it too: nothing is flagged or expunged.
func TestExpungeWithoutUIDPlusRefusesToTakeOthersWith(t *testing.T) {
	srv := mailtest.NewServer(t)
	srv.Deliver(mailtest.DefaultUser, hardMessage("ours"))
	srv.Deliver(mailtest.DefaultUser, hardMessage("theirs"))
	srv.SetFaults(mailtest.Faults{NoUIDPlus: true})
	ctx := testContext(t)

	other := open(t, srv, mailtest.Plain, Options{})
	list, err := other.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The other client flags "theirs" and does not expunge (yet).
	if err := other.c.Store(imap.UIDSetNum(list[1].UID), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}

	c := open(t, srv, mailtest.Plain, Options{})
	list, err = c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if list[0].Deleted || !list[1].Deleted {
		t.Fatalf("flags as listed: %+v", list)
	}
	if err := c.Expunge(ctx, []imap.UID{list[0].UID}); !errors.Is(err, ErrUnsafeExpunge) {
		t.Fatalf("Expunge = %v, want ErrUnsafeExpunge", err)
	}
	if n := len(srv.Messages(mailtest.DefaultUser)); n != 2 {
		t.Errorf("%d messages left, want 2", n)
	}
	list, err = c.List(ctx) // the connection is still usable
	if err != nil || list[0].Deleted {
		t.Errorf("our message got flagged (%+v) or the connection broke: %v", list, err)
	}
}

// recConn records what the client writes, one entry per Write.
type recConn struct {
	net.Conn
	mu     sync.Mutex
	writes []string
}

func (c *recConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes = append(c.writes, string(p))
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *recConn) lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.SplitAfter(strings.Join(c.writes, ""), "\r\n")
}

// saslScript is a SASL client with a fixed initial response that answers
// every challenge with an empty response.
type saslScript struct {
	mech string
	ir   []byte
}

func (s saslScript) Start() (string, []byte, error) { return s.mech, s.ir, nil }
func (s saslScript) Next([]byte) ([]byte, error)    { return []byte{}, nil }

// imapclient sends "=" for an empty SASL response after a continuation;
// RFC 9051 (6.2.2) wants an empty line there, and Dovecot refuses "="
// (SCRAM's last step, the answer to an XOAUTH2 error challenge). "=" stays
// what it is on the command line: the empty initial response of SASL-IR.
func TestAuthenticateEmptyResponseIsAnEmptyLine(t *testing.T) {
	srv := mailtest.NewServer(t)
	for _, tc := range []struct {
		name string
		sc   saslScript
		cmd  string // the AUTHENTICATE line, tag stripped
	}{
		// A bad token: the server sends its JSON error challenge and
		// the client's empty answer must be an empty line.
		{"error challenge", saslScript{"XOAUTH2", []byte("user=" + mailtest.DefaultUser + "\x01auth=Bearer bad\x01\x01")}, "AUTHENTICATE XOAUTH2 "},
		{"empty initial response", saslScript{"XOAUTH2", []byte{}}, "AUTHENTICATE XOAUTH2 =\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rc *recConn
			dial := func(ctx context.Context) (net.Conn, error) {
				c, err := dialer(srv, mailtest.Plain)(ctx)
				if err != nil {
					return nil, err
				}
				rc = &recConn{Conn: c}
				return rc, nil
			}
			c, err := Dial(testContext(t), dial, options(srv, mailtest.Plain))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Authenticate(testContext(t), tc.sc); err == nil {
				t.Fatal("bad token accepted")
			}
			lines := rc.lines()
			var auth, after []string
			for i, l := range lines {
				if _, rest, ok := strings.Cut(l, " "); ok && strings.HasPrefix(rest, "AUTHENTICATE") {
					auth, after = append(auth, rest), lines[i+1:]
				}
			}
			if len(auth) != 1 || !strings.HasPrefix(auth[0], tc.cmd) {
				t.Fatalf("AUTHENTICATE lines %q, want one starting %q (all: %q)", auth, tc.cmd, lines)
			}
			if len(after) == 0 || after[0] != "\r\n" {
				t.Errorf("after AUTHENTICATE the client sent %q, want an empty line first", after)
			}
			for _, l := range after {
				if l == "=\r\n" {
					t.Errorf("client sent \"=\" as a continued SASL response: %q", lines)
				}
			}
		})
	}
}

func TestTLSConnectionState(t *testing.T) {
	srv := mailtest.NewServer(t)
	for _, mode := range modes {
		c, err := Dial(testContext(t), dialer(srv, mode), options(srv, mode))
		if err != nil {
			t.Fatalf("%v: %v", mode, err)
		}
		cs, ok := c.TLSConnectionState()
		if ok != (mode != mailtest.Plain) || ok != c.TLS() || (ok && (!cs.HandshakeComplete || cs.Version < tls.VersionTLS12)) {
			t.Errorf("%v: TLSConnectionState %v, %v (TLS() %v)", mode, ok, cs.Version, c.TLS())
		}
		// After STARTTLS imapclient asks for the capabilities again:
		// they are not the greeting's, read before TLS.
		caps, err := c.Caps(testContext(t))
		if err != nil {
			t.Fatalf("%v: %v", mode, err)
		}
		if caps.Has(imap.CapStartTLS) != (mode == mailtest.Plain) {
			t.Errorf("%v: STARTTLS in capabilities = %v", mode, caps.Has(imap.CapStartTLS))
		}
		c.Close()
	}
}

// A refused STARTTLS leaves the connection in clear text, usable: no
// second connection.
func TestStartTLSRefusedKeepsTheConnection(t *testing.T) {
	srv := mailtest.NewServer(t)
	srv.SetFaults(mailtest.Faults{NoSTARTTLS: true})
	dials := 0
	dial := func(ctx context.Context) (net.Conn, error) {
		dials++
		return dialer(srv, mailtest.Plain)(ctx)
	}
	o := options(srv, mailtest.StartTLS)
	o.TLS = StartTLSIfOffered
	c, err := Dial(testContext(t), dial, o)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(testContext(t), mailtest.DefaultUser, mailtest.DefaultPassword); err != nil {
		t.Fatal(err)
	}
	if dials != 1 || c.TLS() {
		t.Errorf("%d connections, TLS %v; want 1, false", dials, c.TLS())
	}
}
