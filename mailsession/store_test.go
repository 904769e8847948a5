package mailsession

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmailgo/jmail/mailsession/mailtest"
	"github.com/jmailgo/jmail/properties"
)

var (
	storeProtos = []string{"pop3", "imap"}
	allModes    = []mailtest.Mode{mailtest.Plain, mailtest.StartTLS, mailtest.ImplicitTLS}
)

// storeSession is a session whose store is srv's POP3 or IMAP in mode.
func storeSession(t testing.TB, srv *mailtest.Server, mode mailtest.Mode, proto string, opts ...Option) *Session {
	t.Helper()
	opts = append([]Option{WithRootCAs(srv.CertPool()), WithLogger(quietLogger())}, opts...)
	s, err := FromProperties(srv.Properties(mode, proto), opts...)
	if err != nil {
		t.Fatalf("FromProperties: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// hardMessage has a 10,000-character line, lines starting with '.', a lone
// "." line and a ".." line.
func hardMessage(subject string) []byte {
	return mailtest.HardMessage("Ann <ann@example.com>", mailtest.DefaultUser, subject)
}

func deliver(t testing.TB, srv *mailtest.Server, msgs ...[]byte) {
	t.Helper()
	for _, m := range msgs {
		if err := srv.Deliver(mailtest.DefaultUser, m); err != nil {
			t.Fatal(err)
		}
	}
}

func TestStoreFetchExactEveryModeBothProtocols(t *testing.T) {
	for _, proto := range storeProtos {
		for _, mode := range allModes {
			t.Run(proto+"/"+mode.String(), func(t *testing.T) {
				srv := mailtest.NewServer(t)
				want := [][]byte{hardMessage("one"), hardMessage("two")}
				deliver(t, srv, want...)
				s := storeSession(t, srv, mode, proto)
				ctx := ctxT(t)
				st, err := s.OpenStore(ctx)
				if err != nil {
					t.Fatalf("OpenStore: %v", err)
				}
				defer st.Abort()
				list, err := st.List(ctx)
				if err != nil || len(list) != 2 {
					t.Fatalf("List = %v, %v", list, err)
				}
				for i, info := range list {
					if info.Size != int64(len(want[i])) {
						t.Errorf("message %d: size %d, want %d", i, info.Size, len(want[i]))
					}
					if proto == "imap" && strings.Count(info.UID, ".") != 1 {
						t.Errorf("IMAP UID %q is not <uidvalidity>.<uid>", info.UID)
					}
					rc, err := st.Fetch(ctx, info.UID)
					if err != nil {
						t.Fatal(err)
					}
					got, err := io.ReadAll(rc)
					rc.Close()
					if err != nil || !bytes.Equal(got, want[i]) {
						t.Fatalf("message %d: %d bytes, %v; not the bytes delivered", i, len(got), err)
					}
				}
				if _, err := st.Fetch(ctx, "no-such-uid"); !errors.Is(err, ErrNoMessage) {
					t.Errorf("Fetch of an unknown UID = %v, want ErrNoMessage", err)
				}
				if err := st.Delete(ctx, "no-such-uid"); !errors.Is(err, ErrNoMessage) {
					t.Errorf("Delete of an unknown UID = %v, want ErrNoMessage", err)
				}
				if err := st.Delete(ctx, list[0].UID); err != nil {
					t.Fatal(err)
				}
				if n := len(srv.Messages(mailtest.DefaultUser)); n != 2 {
					t.Errorf("Delete removed a message before Close: %d left", n)
				}
				if err := st.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				left := srv.Messages(mailtest.DefaultUser)
				if len(left) != 1 || !bytes.Equal(left[0].Data, want[1]) {
					t.Errorf("after Close the server has %d messages, want only the second", len(left))
				}
				if _, err := st.List(ctx); !errors.Is(err, ErrStoreClosed) {
					t.Errorf("List after Close = %v, want ErrStoreClosed", err)
				}
			})
		}
	}
}

// A UID from List stays valid in a later session (POP3 UIDL, IMAP
// UIDVALIDITY.UID).
func TestStoreUIDsStableAcrossSessions(t *testing.T) {
	for _, proto := range storeProtos {
		t.Run(proto, func(t *testing.T) {
			srv := mailtest.NewServer(t)
			deliver(t, srv, hardMessage("a"), hardMessage("b"))
			s := storeSession(t, srv, mailtest.Plain, proto)
			ctx := ctxT(t)
			st, err := s.OpenStore(ctx)
			if err != nil {
				t.Fatal(err)
			}
			list, _ := st.List(ctx)
			st.Close()
			st, err = s.OpenStore(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Delete(ctx, list[1].UID); err != nil {
				t.Fatal(err)
			}
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			left := srv.Messages(mailtest.DefaultUser)
			if len(left) != 1 || !bytes.Equal(left[0].Data, hardMessage("a")) {
				t.Errorf("wrong message deleted")
			}
		})
	}
}

func TestStoreAbortDeletesNothing(t *testing.T) {
	for _, proto := range storeProtos {
		t.Run(proto, func(t *testing.T) {
			srv := mailtest.NewServer(t)
			deliver(t, srv, hardMessage("a"))
			s := storeSession(t, srv, mailtest.Plain, proto)
			ctx := ctxT(t)
			st, err := s.OpenStore(ctx)
			if err != nil {
				t.Fatal(err)
			}
			list, _ := st.List(ctx)
			st.Delete(ctx, list[0].UID)
			st.Abort()
			if n := len(srv.Messages(mailtest.DefaultUser)); n != 1 {
				t.Errorf("%d messages after Abort, want 1", n)
			}
		})
	}
}

func TestStoreWrongPassword(t *testing.T) {
	for _, proto := range storeProtos {
		t.Run(proto, func(t *testing.T) {
			srv := mailtest.NewServer(t)
			s := storeSession(t, srv, mailtest.StartTLS, proto, WithStoreAuth(mailtest.DefaultUser, "wrong-secret"))
			_, err := s.OpenStore(ctxT(t))
			var se *StoreError
			if !errors.Is(err, ErrAuth) || IsTemporary(err) || !errors.As(err, &se) {
				t.Fatalf("OpenStore with a wrong password = %v, want a permanent ErrAuth *StoreError", err)
			}
			if strings.Contains(err.Error(), "wrong-secret") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

func TestStoreStartTLSRequiredButRefused(t *testing.T) {
	for _, proto := range storeProtos {
		t.Run(proto, func(t *testing.T) {
			srv := mailtest.NewServer(t)
			srv.SetFaults(mailtest.Faults{NoSTARTTLS: true})
			s := storeSession(t, srv, mailtest.StartTLS, proto)
			if _, err := s.OpenStore(ctxT(t)); !errors.Is(err, ErrTLSRequired) {
				t.Fatalf("OpenStore = %v, want ErrTLSRequired", err)
			}
		})
	}
}

func TestNoStoreConfigured(t *testing.T) {
	srv := mailtest.NewServer(t)
	s := newTestSession(t, srv, mailtest.Plain)
	if _, err := s.OpenStore(ctxT(t)); !errors.Is(err, ErrNoStore) {
		t.Errorf("OpenStore = %v, want ErrNoStore", err)
	}
}

func TestCheckReportsStore(t *testing.T) {
	for _, proto := range storeProtos {
		for _, mode := range allModes {
			srv := mailtest.NewServer(t)
			deliver(t, srv, hardMessage("a"))
			s := storeSession(t, srv, mode, proto)
			rep, err := s.Check(ctxT(t))
			if err != nil {
				t.Fatalf("%s %v: %v", proto, mode, err)
			}
			r := rep.Store
			if r == nil || !r.Authenticated || (r.TLSVersion != "") != (mode != mailtest.Plain) || len(r.Capabilities) == 0 || r.Messages != 1 {
				t.Errorf("%s %v: store report %+v", proto, mode, r)
			}
			if n := len(srv.Messages(mailtest.DefaultUser)); n != 1 {
				t.Errorf("Check changed the mailbox: %d messages", n)
			}
		}
	}
}

// With a token source the store logs in with XOAUTH2 (POP3 AUTH, IMAP
// AUTHENTICATE), the token fetched per connection.
func TestStoreOAuthToken(t *testing.T) {
	for _, proto := range storeProtos {
		t.Run(proto, func(t *testing.T) {
			srv := mailtest.NewServer(t)
			deliver(t, srv, hardMessage("a"))
			calls := 0
			s := storeSession(t, srv, mailtest.ImplicitTLS, proto, WithTokenSource(func(context.Context) (string, error) {
				calls++
				return mailtest.DefaultToken, nil
			}))
			rep, err := s.Check(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			if rep.Store.Mechanism != "XOAUTH2" || calls == 0 {
				t.Errorf("store logged in with %q after %d token calls, want XOAUTH2", rep.Store.Mechanism, calls)
			}
		})
	}
}

// While a Fetch reader is open other calls fail with ErrStoreBusy; Abort
// from another goroutine ends the read.
func TestStoreBusyWhileReadingAndAbortFromElsewhere(t *testing.T) {
	for _, proto := range storeProtos {
		t.Run(proto, func(t *testing.T) {
			srv := mailtest.NewServer(t)
			deliver(t, srv, hardMessage("a"))
			s := storeSession(t, srv, mailtest.Plain, proto)
			ctx := ctxT(t)
			st, err := s.OpenStore(ctx)
			if err != nil {
				t.Fatal(err)
			}
			list, _ := st.List(ctx)
			rc, err := st.Fetch(ctx, list[0].UID)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.List(ctx); !errors.Is(err, ErrStoreBusy) {
				t.Errorf("List while reading = %v, want ErrStoreBusy", err)
			}
			if err := st.Close(); !errors.Is(err, ErrStoreBusy) {
				t.Errorf("Close while reading = %v, want ErrStoreBusy", err)
			}
			srv.SetFaults(mailtest.Faults{ReplyDelay: 200 * time.Millisecond})
			done := make(chan error)
			go func() {
				_, err := io.Copy(io.Discard, rc)
				done <- err
			}()
			st.Abort()
			<-done
			rc.Close()
			if _, err := st.List(ctx); !errors.Is(err, ErrStoreClosed) {
				t.Errorf("List after Abort = %v, want ErrStoreClosed", err)
			}
			if n := len(srv.Messages(mailtest.DefaultUser)); n != 1 {
				t.Errorf("%d messages, want 1", n)
			}
		})
	}
}

// mail.<p>.auth.mechanisms set: the store logs in with that SASL mechanism.
func TestStoreExplicitMechanism(t *testing.T) {
	for _, proto := range storeProtos {
		t.Run(proto, func(t *testing.T) {
			srv := mailtest.NewServer(t)
			s := storeSession(t, srv, mailtest.StartTLS, proto, WithProperty("mail."+proto+".auth.mechanisms", "LOGIN"))
			rep, err := s.Check(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			if rep.Store.Mechanism != "LOGIN" {
				t.Errorf("logged in with %q, want SASL LOGIN", rep.Store.Mechanism)
			}
		})
	}
}

// Liferay's POP account without its own login uses the SMTP credentials.
func TestStorePortalFallsBackToSMTPCredentials(t *testing.T) {
	srv := mailtest.NewServer(t)
	deliver(t, srv, hardMessage("a"))
	p := properties.New()
	p.Set("mail.session.mail.smtp.host", srv.Host())
	p.Set("mail.session.mail.smtp.port", strconv.Itoa(srv.Ports().SMTP))
	p.Set("mail.session.mail.smtp.auth", "true")
	p.Set("mail.session.mail.smtp.user", mailtest.DefaultUser)
	p.Set("mail.session.mail.smtp.password", mailtest.DefaultPassword)
	p.Set("mail.session.mail.store.protocol", "pop3s")
	p.Set("mail.session.mail.pop3.host", srv.Host())
	p.Set("mail.session.mail.pop3s.port", strconv.Itoa(srv.Ports().POP3S))
	s, err := FromPortalProperties(p, WithRootCAs(srv.CertPool()), WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := s.OpenStore(ctxT(t))
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	defer st.Close()
	if list, err := st.List(ctxT(t)); err != nil || len(list) != 1 {
		t.Errorf("List = %v, %v", list, err)
	}
}

func TestStoreAfterSessionClose(t *testing.T) {
	srv := mailtest.NewServer(t)
	s := storeSession(t, srv, mailtest.Plain, "imap")
	s.Close()
	if _, err := s.OpenStore(ctxT(t)); !errors.Is(err, ErrClosed) {
		t.Errorf("OpenStore after Close = %v, want ErrClosed", err)
	}
}

// mail.debug traces the store conversation without the password.
func TestStoreDebugTraceRedactsPassword(t *testing.T) {
	// Without SCRAM the stores log in with their own command (POP3 PASS,
	// IMAP LOGIN); with it, by SASL, whose every client line is redacted.
	noSCRAM := []Option{WithProperty("mail.pop3.auth.scram-sha-256.disable", "true"), WithProperty("mail.pop3.auth.scram-sha-256-plus.disable", "true"),
		WithProperty("mail.pop3.auth.scram-sha-1.disable", "true"), WithProperty("mail.pop3.auth.scram-sha-1-plus.disable", "true"),
		WithProperty("mail.imap.auth.scram-sha-256.disable", "true"), WithProperty("mail.imap.auth.scram-sha-256-plus.disable", "true"),
		WithProperty("mail.imap.auth.scram-sha-1.disable", "true"), WithProperty("mail.imap.auth.scram-sha-1-plus.disable", "true")}
	for _, tc := range []struct {
		proto string
		opts  []Option
		want  string
	}{
		{"pop3", noSCRAM, "PASS <redacted>"},
		{"imap", noSCRAM, "imap LOGIN"},
		{"pop3", nil, "C: AUTH SCRAM-SHA-256-PLUS <redacted>"},
		{"imap", nil, "imap AUTHENTICATE"},
	} {
		t.Run(tc.proto+" "+tc.want, func(t *testing.T) {
			srv := mailtest.NewServer(t, mailtest.WithUser(mailtest.DefaultUser, "s3cret-pw"))
			var buf bytes.Buffer
			var mu sync.Mutex
			log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
			s := storeSession(t, srv, mailtest.StartTLS, tc.proto, append([]Option{WithDebug(log)}, tc.opts...)...)
			st, err := s.OpenStore(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			st.List(ctxT(t))
			st.Close()
			mu.Lock()
			defer mu.Unlock()
			out := buf.String()
			if strings.Contains(out, "s3cret-pw") {
				t.Errorf("trace shows the password:\n%s", out)
			}
			if leak := scramSecretsIn(out, "s3cret-pw"); leak != "" {
				t.Errorf("trace shows the SCRAM %s:\n%s", leak, out)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("trace lacks %q:\n%s", tc.want, out)
			}
		})
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// mail.pop3.rsetbeforequit: RSET clears marks the server may have set on
// its own; our deletions, sent after it, still happen.
func TestStorePOP3RsetBeforeQuitKeepsOurDeletions(t *testing.T) {
	srv := mailtest.NewServer(t)
	deliver(t, srv, hardMessage("a"), hardMessage("b"))
	s := storeSession(t, srv, mailtest.Plain, "pop3", WithProperty("mail.pop3.rsetbeforequit", "true"))
	ctx := ctxT(t)
	st, err := s.OpenStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	list, _ := st.List(ctx)
	if err := st.Delete(ctx, list[0].UID); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if left := srv.Messages(mailtest.DefaultUser); len(left) != 1 || !bytes.Equal(left[0].Data, hardMessage("b")) {
		t.Errorf("server holds %d messages, want only b", len(left))
	}
}
