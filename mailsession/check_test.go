package mailsession

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/jmailgo/jmail/mailsession/mailtest"
)

func TestCheckReportsEachMode(t *testing.T) {
	checkNoLeaks(t)
	srv := mailtest.NewServer(t)
	for _, mode := range []mailtest.Mode{mailtest.Plain, mailtest.StartTLS, mailtest.ImplicitTLS} {
		s := newTestSession(t, srv, mode, WithProperty("mail.smtp.connectionpolsize", "3"))
		rep, err := s.Check(ctxT(t))
		if err != nil {
			t.Fatalf("%v: %v", mode, err)
		}
		tr := rep.Transport
		wantTLS := mode != mailtest.Plain
		if (tr.TLSVersion != "") != wantTLS || (wantTLS && !strings.HasPrefix(tr.TLSVersion, "TLS 1.")) {
			t.Errorf("%v: TLS version %q", mode, tr.TLSVersion)
		}
		// SCRAM by default; its -PLUS variant (channel binding) over TLS,
		// where the server offers it too.
		wantMech, wantOffered := "SCRAM-SHA-256", 7
		if wantTLS {
			wantMech, wantOffered = "SCRAM-SHA-256-PLUS", 9
		}
		if !tr.Authenticated || tr.Mechanism != wantMech || len(tr.AuthMechanisms) != wantOffered || tr.Latency <= 0 {
			t.Errorf("%v: report %+v", mode, tr)
		}
		if mode == mailtest.Plain {
			if !strings.Contains(strings.Join(tr.Capabilities, " "), "STARTTLS") {
				t.Errorf("plain: capabilities %v lack STARTTLS", tr.Capabilities)
			}
			if !strings.Contains(fmt.Sprint(tr.Warnings), "offers STARTTLS") {
				t.Errorf("plain: no warning about the unused STARTTLS: %v", tr.Warnings)
			}
		} else if strings.Contains(fmt.Sprint(tr.Warnings), "offers STARTTLS") {
			t.Errorf("%v: endpoint warnings %v", mode, tr.Warnings)
		}
		if len(rep.Warnings) != 1 || rep.Warnings[0].Key != "mail.smtp.connectionpolsize" {
			t.Errorf("%v: warnings %v", mode, rep.Warnings)
		}
		if !strings.Contains(tr.String(), "logged in with "+wantMech+",") {
			t.Errorf("summary %q", tr.String())
		}
		s.Close()
	}
	// Check does not use or disturb the pool, and QUITs.
	if cmds := srv.SMTPCommands(); count(cmds, "QUIT") != 3 || count(cmds, "MAIL") != 0 {
		t.Errorf("commands %v", cmds)
	}
}

func TestCheckFailsForUnusableEndpoint(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there now
	s := mustSession(t, props("mail.smtp.host", "127.0.0.1", "mail.smtp.port", strconv.Itoa(port)))
	rep, err := s.Check(ctxT(t))
	if err == nil || rep == nil || rep.Transport.Err == nil || !IsTemporary(err) {
		t.Fatalf("Check on a closed port: %v %+v", err, rep)
	}
	if !strings.Contains(rep.Transport.String(), "FAILED") {
		t.Errorf("summary %q", rep.Transport.String())
	}

	srv := mailtest.NewServer(t)
	srv.SetFaults(mailtest.Faults{RefuseAuth: true})
	s2 := newTestSession(t, srv, mailtest.ImplicitTLS)
	if _, err := s2.Check(ctxT(t)); !errors.Is(err, ErrAuth) {
		t.Errorf("Check with refused login: %v", err)
	}
}

// TestCheckAfterRefusedLogin: when the login is refused, the report still
// says what the connection showed — TLS version, capabilities, mechanisms —
// for the transport and for each store protocol: that is when an operator
// needs it.
func TestCheckAfterRefusedLogin(t *testing.T) {
	srv := mailtest.NewServer(t)
	srv.SetFaults(mailtest.Faults{RefuseAuth: true})
	for _, store := range []string{"pop3", "imap"} {
		t.Run(store, func(t *testing.T) {
			s, err := FromProperties(srv.Properties(mailtest.StartTLS, store), WithRootCAs(srv.CertPool()), WithLogger(quietLogger()))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			rep, err := s.Check(ctxT(t))
			if err == nil || !errors.Is(err, ErrAuth) {
				t.Fatalf("Check: %v, want a refused login", err)
			}
			for name, r := range map[string]*EndpointReport{"transport": rep.Transport, "store": rep.Store} {
				if r.Err == nil || r.Authenticated {
					t.Errorf("%s: err %v, authenticated %v", name, r.Err, r.Authenticated)
				}
				if !strings.HasPrefix(r.TLSVersion, "TLS 1.") || len(r.Capabilities) == 0 || len(r.AuthMechanisms) == 0 {
					t.Errorf("%s after a refused login: TLS %q, capabilities %v, mechanisms %v", name, r.TLSVersion, r.Capabilities, r.AuthMechanisms)
				}
			}
		})
	}
}
