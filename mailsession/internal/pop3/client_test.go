package pop3

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"

	"github.com/jmailgo/jmail/mailsession/mailtest"
)

// hardMessage has a 10,000-character line, lines starting with '.', a lone
// "." line and a ".." line: what dot-stuffing and line handling get wrong.
func hardMessage(subject string) []byte {
	return mailtest.HardMessage("user@example.com", mailtest.DefaultUser, subject)
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var modes = []mailtest.Mode{mailtest.Plain, mailtest.StartTLS, mailtest.ImplicitTLS}

// dial connects a Client to srv in mode (upgrading with STLS in StartTLS
// mode) and logs in as the default user.
func dial(t testing.TB, srv *mailtest.Server, mode mailtest.Mode, opt Options) *Client {
	t.Helper()
	for i := 0; ; i++ {
		c := connect(t, srv, mode, opt)
		err := c.Login(testContext(t), mailtest.DefaultUser, mailtest.DefaultPassword)
		if err == nil {
			return c
		}
		// A session closed without QUIT releases the maildrop when the
		// server notices the close.
		if !errors.Is(err, ErrInUse) || i == 100 {
			t.Fatalf("login: %v", err)
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
}

// connect dials without logging in.
func connect(t testing.TB, srv *mailtest.Server, mode mailtest.Mode, opt Options) *Client {
	t.Helper()
	ctx := testContext(t)
	var conn net.Conn
	var err error
	if mode == mailtest.ImplicitTLS {
		conn, err = tls.Dial("tcp", srv.Addr(srv.Ports().POP3S), srv.ClientTLSConfig())
	} else {
		conn, err = net.Dial("tcp", srv.Addr(srv.Ports().POP3))
	}
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(ctx, conn, opt)
	if err != nil {
		t.Fatalf("greeting: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if mode == mailtest.StartTLS {
		if err := c.StartTLS(ctx, upgrader(srv)); err != nil {
			t.Fatalf("STLS: %v", err)
		}
	}
	return c
}

func upgrader(srv *mailtest.Server) func(context.Context, net.Conn) (net.Conn, error) {
	return func(ctx context.Context, conn net.Conn) (net.Conn, error) {
		tc := tls.Client(conn, srv.ClientTLSConfig())
		return tc, tc.HandshakeContext(ctx)
	}
}

func retrAll(t testing.TB, c *Client, n int) []byte {
	t.Helper()
	r, err := c.Retr(testContext(t), n)
	if err != nil {
		t.Fatalf("RETR %d: %v", n, err)
	}
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading RETR %d: %v", n, err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	return got
}

func TestFetchExactEveryMode(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			srv := mailtest.NewServer(t)
			want := hardMessage("exact " + mode.String())
			if err := srv.Deliver(mailtest.DefaultUser, want); err != nil {
				t.Fatal(err)
			}
			c := dial(t, srv, mode, Options{})
			if got, want := c.TLS(), mode != mailtest.Plain; got != want {
				t.Errorf("TLS() = %v, want %v", got, want)
			}
			ctx := testContext(t)
			n, size, err := c.Stat(ctx)
			if err != nil || n != 1 || size != int64(len(want)) {
				t.Fatalf("STAT = %d %d %v, want 1 %d", n, size, err, len(want))
			}
			list, err := c.List(ctx)
			if err != nil || len(list) != 1 || list[0].Num != 1 || list[0].Size != int64(len(want)) {
				t.Fatalf("LIST = %+v %v", list, err)
			}
			uidl, err := c.UIDL(ctx)
			if err != nil || len(uidl) != 1 || uidl[0].UID == "" {
				t.Fatalf("UIDL = %+v %v", uidl, err)
			}
			if got := retrAll(t, c, 1); !bytes.Equal(got, want) {
				t.Fatalf("RETR differs: got %d bytes, want %d\n%q", len(got), len(want), firstDiff(got, want))
			}
			// The connection carries the next command after a full read.
			if err := c.Noop(ctx); err != nil {
				t.Fatalf("NOOP after RETR: %v", err)
			}
			r, err := c.Top(ctx, 1, 1)
			if err != nil {
				t.Fatal(err)
			}
			top, _ := io.ReadAll(r)
			r.Close()
			wantTop := want[:bytes.Index(want, []byte("\r\n\r\n"))+4]
			wantTop = append(wantTop, ".leading dot\r\n"...)
			if !bytes.Equal(top, wantTop) {
				t.Errorf("TOP 1 1 = %q, want %q", top, wantTop)
			}
			if err := c.Quit(ctx); err != nil {
				t.Fatalf("QUIT: %v", err)
			}
		})
	}
}

func firstDiff(a, b []byte) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			lo := max(0, i-20)
			return "at " + strconv.Itoa(i) + ": got " + string(a[lo:min(len(a), i+20)]) + " want " + string(b[lo:min(len(b), i+20)])
		}
	}
	return "length differs"
}

// A reader closed half way discards the rest: the next command works.
func TestCloseEarlyDrains(t *testing.T) {
	srv := mailtest.NewServer(t)
	srv.Deliver(mailtest.DefaultUser, hardMessage("one"))
	srv.Deliver(mailtest.DefaultUser, hardMessage("two"))
	c := dial(t, srv, mailtest.Plain, Options{})
	ctx := testContext(t)
	r, err := c.Retr(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	io.ReadFull(r, buf)
	if _, _, err := c.Stat(ctx); !errors.Is(err, ErrBusy) {
		t.Errorf("STAT while reading = %v, want ErrBusy", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if got := retrAll(t, c, 2); !bytes.Equal(got, hardMessage("two")) {
		t.Errorf("second message differs after early close")
	}
}

func TestDeleQuitCommitsRsetUndoes(t *testing.T) {
	srv := mailtest.NewServer(t)
	for _, s := range []string{"a", "b", "c"} {
		srv.Deliver(mailtest.DefaultUser, hardMessage(s))
	}
	ctx := testContext(t)
	c := dial(t, srv, mailtest.Plain, Options{})
	if err := c.Dele(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := c.Rset(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Dele(ctx, 2); err != nil {
		t.Fatal(err)
	}
	var pe *ProtocolError
	if err := c.Dele(ctx, 2); !errors.As(err, &pe) || pe.Command != "DELE" {
		t.Errorf("second DELE 2 = %v, want a *ProtocolError for DELE", err)
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(srv.Messages(mailtest.DefaultUser)); got != 2 {
		t.Errorf("%d messages left, want 2", got)
	}
	if err := c.Noop(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("NOOP after QUIT = %v, want ErrClosed", err)
	}
}

// Without QUIT nothing is deleted (the connection was cut).
func TestCloseWithoutQuitDeletesNothing(t *testing.T) {
	srv := mailtest.NewServer(t)
	srv.Deliver(mailtest.DefaultUser, hardMessage("a"))
	ctx := testContext(t)
	c := dial(t, srv, mailtest.Plain, Options{})
	if err := c.Dele(ctx, 1); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c2 := dial(t, srv, mailtest.Plain, Options{})
	if n, _, err := c2.Stat(ctx); err != nil || n != 1 {
		t.Errorf("STAT = %d, %v; want the message still there", n, err)
	}
}

func TestCutMidFetchIsAnErrorNotEOF(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			srv := mailtest.NewServer(t)
			srv.Deliver(mailtest.DefaultUser, hardMessage("cut"))
			c := dial(t, srv, mode, Options{})
			srv.SetFaults(mailtest.Faults{CutFetchAfter: 5000})
			r, err := c.Retr(testContext(t), 1)
			if err == nil {
				_, err = io.ReadAll(r)
			}
			if err == nil {
				t.Fatal("read a cut message without error")
			}
			if err := c.Noop(testContext(t)); !errors.Is(err, ErrClosed) {
				t.Errorf("NOOP after a cut = %v, want ErrClosed", err)
			}
		})
	}
}

func TestContextCancelClosesConnection(t *testing.T) {
	srv := mailtest.NewServer(t)
	c := dial(t, srv, mailtest.Plain, Options{})
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

func TestInUseResponseCode(t *testing.T) {
	srv := mailtest.NewServer(t)
	dial(t, srv, mailtest.Plain, Options{})
	c := connect(t, srv, mailtest.Plain, Options{})
	err := c.Login(testContext(t), mailtest.DefaultUser, mailtest.DefaultPassword)
	var pe *ProtocolError
	if !errors.As(err, &pe) || pe.Code != "IN-USE" || !errors.Is(err, ErrInUse) || !pe.Temporary() {
		t.Fatalf("second login = %#v, want -ERR [IN-USE]", err)
	}
}

func TestAuthenticateSASL(t *testing.T) {
	srv := mailtest.NewServer(t)
	srv.Deliver(mailtest.DefaultUser, hardMessage("sasl"))
	ctx := testContext(t)
	for name, sc := range map[string]sasl.Client{
		"PLAIN": sasl.NewPlainClient("", mailtest.DefaultUser, mailtest.DefaultPassword),
		"LOGIN": sasl.NewLoginClient(mailtest.DefaultUser, mailtest.DefaultPassword),
	} {
		t.Run(name, func(t *testing.T) {
			c := connect(t, srv, mailtest.StartTLS, Options{})
			caps, err := c.Capabilities(ctx)
			if err != nil || len(caps.SASL()) == 0 {
				t.Fatalf("CAPA SASL = %v, %v", caps.SASL(), err)
			}
			if err := c.Authenticate(ctx, sc); err != nil {
				t.Fatalf("AUTH %s: %v", name, err)
			}
			if n, _, err := c.Stat(ctx); err != nil || n != 1 {
				t.Errorf("STAT after AUTH = %d, %v", n, err)
			}
			c.Quit(ctx)
		})
	}
	c := connect(t, srv, mailtest.StartTLS, Options{})
	err := c.Authenticate(ctx, sasl.NewPlainClient("", mailtest.DefaultUser, "wrong"))
	if !errors.Is(err, ErrAuth) {
		t.Errorf("AUTH with a wrong password = %v, want ErrAuth", err)
	}
}

// tokenClient is XOAUTH2 for the tests.
type tokenClient struct{ user, token string }

func (x tokenClient) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + x.user + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}
func (x tokenClient) Next([]byte) ([]byte, error) { return []byte{}, nil }

// The initial response goes on the AUTH line unless the line would pass
// 255 octets (RFC 5034, 4: mailtest refuses such a line) or the two-line
// form is asked for (Microsoft's XOAUTH2); then after the server's "+".
func TestAuthenticateInitialResponsePlacement(t *testing.T) {
	// PLAIN's response is "\x00user\x00password": pick password lengths
	// that make the AUTH line 253 and 257 octets long.
	plainPW := func(line int) string {
		b64 := line - len("AUTH PLAIN ") - 2
		n := b64/4*3 - 2 - len(mailtest.DefaultUser)
		return strings.Repeat("p", n)
	}
	short, long := plainPW(253), plainPW(257)
	token := strings.Repeat("t", 300)
	for _, tc := range []struct {
		name    string
		user    mailtest.Option
		sc      sasl.Client
		twoLine bool
		onLine  bool
	}{
		{"PLAIN 253 octets", mailtest.WithUser(mailtest.DefaultUser, short), sasl.NewPlainClient("", mailtest.DefaultUser, short), false, true},
		{"PLAIN 257 octets", mailtest.WithUser(mailtest.DefaultUser, long), sasl.NewPlainClient("", mailtest.DefaultUser, long), false, false},
		{"XOAUTH2 short", mailtest.WithOAuthToken(mailtest.DefaultUser, "tok"), tokenClient{mailtest.DefaultUser, "tok"}, false, true},
		{"XOAUTH2 short two-line", mailtest.WithOAuthToken(mailtest.DefaultUser, "tok"), tokenClient{mailtest.DefaultUser, "tok"}, true, false},
		{"XOAUTH2 long token", mailtest.WithOAuthToken(mailtest.DefaultUser, token), tokenClient{mailtest.DefaultUser, token}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := mailtest.NewServer(t, tc.user)
			var buf bytes.Buffer
			c := connect(t, srv, mailtest.Plain, Options{Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			auth := c.Authenticate
			if tc.twoLine {
				auth = c.AuthenticateTwoLine
			}
			if err := auth(testContext(t), tc.sc); err != nil {
				t.Fatalf("AUTH: %v\n%s", err, buf.String())
			}
			mech, _, _ := tc.sc.Start()
			bare := strings.Contains(buf.String(), `msg="pop3 C: AUTH `+mech+`"`)
			inline := strings.Contains(buf.String(), `msg="pop3 C: AUTH `+mech+` <redacted>"`)
			if inline != tc.onLine || bare == tc.onLine {
				t.Errorf("initial response on the AUTH line = %v, want %v:\n%s", inline, tc.onLine, buf.String())
			}
			if n, _, err := c.Stat(testContext(t)); err != nil || n != 0 {
				t.Errorf("STAT after AUTH = %d, %v", n, err)
			}
			c.Quit(testContext(t))
		})
	}
}
