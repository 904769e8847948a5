package mailsession

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmailgo/jmail/mailsession/mailtest"
)

// storeOps are the two ways the tests below reach the store: OpenStore and
// reading every message by hand, or one Receive run.
var storeOps = []struct {
	name string
	// do calls after, if not nil, once each message has been read.
	do func(ctx context.Context, s *Session, after func()) error
}{
	{"OpenStore", func(ctx context.Context, s *Session, after func()) error {
		st, err := s.OpenStore(ctx)
		if err != nil {
			return err
		}
		defer st.Abort()
		list, err := st.List(ctx)
		if err != nil {
			return err
		}
		for _, m := range list {
			rc, err := st.Fetch(ctx, m.UID)
			if err != nil {
				return err
			}
			_, err = io.Copy(io.Discard, rc)
			if cerr := rc.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			if after != nil {
				after()
			}
		}
		return st.CloseContext(ctx)
	}},
	{"Receive", func(ctx context.Context, s *Session, after func()) error {
		return s.Receive(ctx, ReceiveOptions{}, func(ctx context.Context, m *Received) error {
			_, err := io.Copy(io.Discard, m.Raw)
			if after != nil {
				after()
			}
			return err
		})
	}},
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	return port
}

// The classes of store and Receive errors, both protocols: a refused login
// is ErrAuth and permanent; network failures, timeouts and the caller's
// ctx ending are temporary (the last also matching ctx.Err()); each is a
// *StoreError whose text says "mailsession:" once.
func TestStoreErrorClasses(t *testing.T) {
	type class int
	const (
		temporary class = iota
		permanentAuth
		permanent
	)
	cases := []struct {
		name   string
		protos []string
		// setup configures the server and returns the session options and
		// the ctx of the call.
		setup func(t *testing.T, srv *mailtest.Server, proto string) ([]Option, context.Context)
		// after, if set, runs after each message read, given the cancel
		// function of the call's ctx.
		after func(cancel context.CancelFunc)
		class class
		is    []error // errors.Is must hold for each
		code  string  // StoreError.Code, when set
	}{
		{name: "refused login", protos: storeProtos, class: permanentAuth,
			setup: func(t *testing.T, srv *mailtest.Server, proto string) ([]Option, context.Context) {
				srv.SetFaults(mailtest.Faults{RefuseAuth: true})
				return nil, ctxT(t)
			}},
		{name: "wrong password", protos: storeProtos, class: permanentAuth,
			setup: func(t *testing.T, srv *mailtest.Server, proto string) ([]Option, context.Context) {
				return []Option{WithStoreAuth(mailtest.DefaultUser, "wrong-secret")}, ctxT(t)
			}},
		{name: "connection refused", protos: storeProtos, class: temporary,
			setup: func(t *testing.T, srv *mailtest.Server, proto string) ([]Option, context.Context) {
				return []Option{WithProperty("mail."+proto+".port", closedPort(t))}, ctxT(t)
			}},
		{name: "server cuts the connection", protos: storeProtos, class: temporary,
			setup: func(t *testing.T, srv *mailtest.Server, proto string) ([]Option, context.Context) {
				srv.SetFaults(mailtest.Faults{CutFetchAfter: 5000})
				return nil, ctxT(t)
			}},
		{name: "read timeout", protos: storeProtos, class: temporary, is: []error{os.ErrDeadlineExceeded},
			setup: func(t *testing.T, srv *mailtest.Server, proto string) ([]Option, context.Context) {
				srv.SetFaults(mailtest.Faults{ReplyDelay: 500 * time.Millisecond})
				return []Option{WithTimeouts(5*time.Second, 100*time.Millisecond, 5*time.Second)}, ctxT(t)
			}},
		{name: "ctx canceled before", protos: storeProtos, class: temporary, is: []error{context.Canceled},
			setup: func(t *testing.T, srv *mailtest.Server, proto string) ([]Option, context.Context) {
				ctx, cancel := context.WithCancel(ctxT(t))
				cancel()
				return nil, ctx
			}},
		{name: "ctx deadline mid-conversation", protos: storeProtos, class: temporary, is: []error{context.DeadlineExceeded},
			setup: func(t *testing.T, srv *mailtest.Server, proto string) ([]Option, context.Context) {
				srv.SetFaults(mailtest.Faults{ReplyDelay: 300 * time.Millisecond})
				ctx, cancel := context.WithTimeout(ctxT(t), 100*time.Millisecond)
				t.Cleanup(cancel)
				return nil, ctx
			}},
		{name: "ctx canceled between messages", protos: storeProtos, class: temporary, is: []error{context.Canceled},
			setup: func(t *testing.T, srv *mailtest.Server, proto string) ([]Option, context.Context) {
				deliver(t, srv, hardMessage("m2"))
				return nil, ctxT(t)
			},
			after: func(cancel context.CancelFunc) { cancel() }},
		{name: "STARTTLS required, not offered", protos: storeProtos, class: permanent, is: []error{ErrTLSRequired},
			setup: func(t *testing.T, srv *mailtest.Server, proto string) ([]Option, context.Context) {
				srv.SetFaults(mailtest.Faults{NoSTARTTLS: true})
				return []Option{WithProperty("mail."+proto+".starttls.enable", "true"), WithProperty("mail."+proto+".starttls.required", "true")}, ctxT(t)
			}},
		{name: "maildrop locked", protos: []string{"pop3"}, class: temporary, code: "IN-USE",
			setup: func(t *testing.T, srv *mailtest.Server, proto string) ([]Option, context.Context) {
				st, err := storeSession(t, srv, mailtest.Plain, "pop3").OpenStore(ctxT(t))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(st.Abort)
				return nil, ctxT(t)
			}},
	}
	for _, c := range cases {
		for _, proto := range c.protos {
			for _, op := range storeOps {
				t.Run(c.name+"/"+proto+"/"+op.name, func(t *testing.T) {
					srv := mailtest.NewServer(t)
					deliver(t, srv, hardMessage("m1"))
					opts, ctx := c.setup(t, srv, proto)
					ctx, cancel := context.WithCancel(ctx)
					defer cancel()
					s := storeSession(t, srv, mailtest.Plain, proto, opts...)
					var after func()
					if c.after != nil {
						after = func() { c.after(cancel) }
					}
					err := op.do(ctx, s, after)
					var se *StoreError
					if !errors.As(err, &se) {
						t.Fatalf("%s = %v, want a *StoreError", op.name, err)
					}
					switch c.class {
					case temporary:
						if !errors.Is(err, ErrTemporary) || !IsTemporary(err) || errors.Is(err, ErrPermanent) || errors.Is(err, ErrAuth) {
							t.Errorf("%v: want ErrTemporary only (temporary %v, permanent %v, auth %v)", err,
								errors.Is(err, ErrTemporary), errors.Is(err, ErrPermanent), errors.Is(err, ErrAuth))
						}
					case permanentAuth:
						if !errors.Is(err, ErrAuth) || !errors.Is(err, ErrPermanent) || errors.Is(err, ErrTemporary) || IsTemporary(err) {
							t.Errorf("%v: want ErrAuth and ErrPermanent, not ErrTemporary", err)
						}
					case permanent:
						if !errors.Is(err, ErrPermanent) || errors.Is(err, ErrTemporary) || IsTemporary(err) {
							t.Errorf("%v: want ErrPermanent, not ErrTemporary", err)
						}
					}
					for _, target := range c.is {
						if !errors.Is(err, target) {
							t.Errorf("%v: does not match %v", err, target)
						}
					}
					if c.code != "" && se.Code != c.code {
						t.Errorf("%v: Code %q, want %q", err, se.Code, c.code)
					}
					if n := strings.Count(err.Error(), "mailsession:"); n != 1 {
						t.Errorf("%q says \"mailsession:\" %d times, want once", err.Error(), n)
					}
					if strings.Contains(err.Error(), "wrong-secret") {
						t.Errorf("the error shows a password: %v", err)
					}
				})
			}
		}
	}
}

// A handler's error wrapping one of ours says "mailsession:" once too.
func TestHandlerErrorTextPrefixOnce(t *testing.T) {
	he := &HandlerError{UID: "1", Err: &StoreError{Protocol: "imap", Addr: "h:143", Op: "login", Err: ErrAuth}}
	if n := strings.Count(he.Error(), "mailsession:"); n != 1 {
		t.Errorf("%q says \"mailsession:\" %d times", he.Error(), n)
	}
	if !errors.Is(he, ErrAuth) {
		t.Errorf("%v does not match ErrAuth", he)
	}
}
