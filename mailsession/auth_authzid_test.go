package mailsession

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/jmailgo/jmail/mailsession/mailtest"
)

const (
	authzAdmin    = "admin@example.com"
	authzAdminPW  = "admin-secret-3141"
	authzShared   = "shared@example.com"
	authzStranger = "stranger@example.com"
)

// authzServer has an admin that may act as the shared mailbox (not as the
// stranger's), one message in each mailbox, and logs in as the admin.
func authzServer(t *testing.T) *mailtest.Server {
	t.Helper()
	srv := mailtest.NewServer(t,
		mailtest.WithUser(authzAdmin, authzAdminPW),
		mailtest.WithUser(authzShared, "shared-secret"),
		mailtest.WithUser(authzStranger, "stranger-secret"))
	if err := srv.AllowAuthorization(authzAdmin, authzShared); err != nil {
		t.Fatal(err)
	}
	for _, mb := range []string{authzAdmin, authzShared, authzStranger} {
		if err := srv.Deliver(mb, []byte("Subject: for "+mb+"\r\n\r\nbody\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	return srv
}

// actingAs logs in to proto on srv with mail.<p>.sasl.authorizationid set
// to authzid and says whose mailbox it reached: for a store, the address
// in the only message's subject; for SMTP, the identity the server
// recorded for a message sent.
func actingAs(t *testing.T, srv *mailtest.Server, proto, authzid string, kv ...string) (string, error) {
	t.Helper()
	store := proto
	if proto == "smtp" {
		store = ""
	}
	p := srv.Properties(mailtest.StartTLS, store)
	p.Set("mail."+proto+".sasl.authorizationid", authzid)
	for i := 0; i+1 < len(kv); i += 2 {
		p.Set(kv[i], kv[i+1])
	}
	s, err := FromProperties(p, WithRootCAs(srv.CertPool()), WithLogger(quietLogger()))
	if err != nil {
		t.Fatalf("FromProperties: %v", err)
	}
	defer s.Close()
	ctx := ctxT(t)
	if proto == "smtp" {
		if err := s.Send(ctx, &Message{From: authzShared, To: []string{authzStranger}, Text: "x"}); err != nil {
			return "", err
		}
		got := srv.Received()
		return got[len(got)-1].AuthUser, nil
	}
	return onlySubjectOwner(t, ctx, s)
}

func onlySubjectOwner(t *testing.T, ctx context.Context, s *Session) (string, error) {
	t.Helper()
	st, err := s.OpenStore(ctx)
	if err != nil {
		return "", err
	}
	defer st.Close()
	infos, err := st.List(ctx)
	if err != nil || len(infos) != 1 {
		t.Fatalf("List: %d messages, %v; want the mailbox's one", len(infos), err)
	}
	rc, err := st.Fetch(ctx, infos[0].UID)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	defer rc.Close()
	raw, _ := io.ReadAll(rc)
	_, owner, _ := strings.Cut(strings.SplitN(string(raw), "\r\n", 2)[0], "Subject: for ")
	return owner, nil
}

// mail.<p>.sasl.authorizationid is sent by PLAIN and SCRAM over SMTP, POP3
// and IMAP: the session acts as the shared mailbox with the admin's
// credentials. An identity the admin may not act as fails the login.
func TestAuthorizationID(t *testing.T) {
	srv := authzServer(t)
	for _, proto := range []string{"smtp", "pop3", "imap"} {
		for _, mech := range []string{"", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-1", "SCRAM-SHA-256-PLUS"} {
			name := proto + "/" + mech
			var kv []string
			if mech == "" {
				name = proto + "/default"
			} else {
				kv = []string{"mail." + proto + ".auth.mechanisms", mech}
			}
			t.Run(name, func(t *testing.T) {
				got, err := actingAs(t, srv, proto, authzShared, kv...)
				if err != nil {
					t.Fatalf("login as %s for %s: %v", authzAdmin, authzShared, err)
				}
				if got != authzShared {
					t.Errorf("acted as %q, want %s", got, authzShared)
				}
				_, err = actingAs(t, srv, proto, authzStranger, kv...)
				if !errors.Is(err, ErrAuth) {
					t.Fatalf("acting as a mailbox the admin may not: %v, want ErrAuth", err)
				}
				if strings.Contains(err.Error(), authzAdminPW) {
					t.Errorf("the error shows the password: %v", err)
				}
			})
		}
	}
	t.Run("own-address", func(t *testing.T) {
		got, err := actingAs(t, srv, "imap", authzAdmin)
		if err != nil || got != authzAdmin {
			t.Fatalf("acting as oneself: %q, %v", got, err)
		}
	})
}

// With an authorization identity, mechanisms that cannot carry it are not
// used: a server offering only those is refused before any credential is
// sent, a store logs in with SASL rather than LOGIN or USER/PASS, and the
// setting is reported.
func TestAuthorizationIDMechanisms(t *testing.T) {
	t.Run("server-offers-login-only", func(t *testing.T) {
		srv := authzServer(t)
		srv.SetAuthMechanisms("LOGIN", "XOAUTH2")
		_, err := actingAs(t, srv, "smtp", authzShared)
		if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "sasl.authorizationid") {
			t.Fatalf("Send: %v, want ErrAuth naming sasl.authorizationid", err)
		}
		for _, c := range srv.SMTPCommands() {
			if c == "AUTH" {
				t.Errorf("AUTH was sent: %v", srv.SMTPCommands())
			}
		}
	})

	// A store that offers PLAIN but not SCRAM: SASL PLAIN, not IMAP
	// LOGIN or POP3 USER/PASS (which would reach the admin's mailbox);
	// one without SASL is refused.
	for _, proto := range []string{"pop3", "imap"} {
		t.Run(proto+"/plain-offered", func(t *testing.T) {
			srv := authzServer(t)
			srv.SetStoreAuthMechanisms("PLAIN", "LOGIN")
			got, err := actingAs(t, srv, proto, authzShared)
			if err != nil || got != authzShared {
				t.Fatalf("acted as %q, %v; want %s", got, err, authzShared)
			}
		})
		t.Run(proto+"/no-sasl", func(t *testing.T) {
			srv := authzServer(t)
			srv.SetStoreAuthMechanisms()
			_, err := actingAs(t, srv, proto, authzShared)
			if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "sasl.authorizationid") {
				t.Fatalf("OpenStore: %v, want ErrAuth naming sasl.authorizationid", err)
			}
		})
	}

	for _, tc := range []struct {
		name     string
		kv       []string
		opts     []Option
		wantErr  bool
		wantWarn bool
	}{
		{name: "default", wantWarn: true},
		{name: "plain-and-login", kv: []string{"mail.imap.auth.mechanisms", "PLAIN LOGIN"}, wantWarn: true},
		{name: "plain-only", kv: []string{"mail.imap.auth.mechanisms", "PLAIN"}},
		{name: "login-only", kv: []string{"mail.imap.auth.mechanisms", "LOGIN"}, wantErr: true},
		{name: "token", opts: []Option{WithTokenSource(func(context.Context) (string, error) { return "t", nil })}, wantErr: true},
		{name: "line-break", kv: []string{"mail.imap.sasl.authorizationid", "a@example.com\r\nX"}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := authzServer(t)
			p := srv.Properties(mailtest.StartTLS, "imap")
			p.Set("mail.imap.sasl.authorizationid", authzShared)
			for i := 0; i+1 < len(tc.kv); i += 2 {
				p.Set(tc.kv[i], tc.kv[i+1])
			}
			s, err := FromProperties(p, append([]Option{WithRootCAs(srv.CertPool()), WithLogger(quietLogger())}, tc.opts...)...)
			if tc.wantErr {
				var se *SettingError
				if !errors.As(err, &se) || se.Key != "mail.imap.sasl.authorizationid" {
					t.Fatalf("FromProperties: %v, want a SettingError for mail.imap.sasl.authorizationid", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("FromProperties: %v", err)
			}
			defer s.Close()
			warned := false
			for _, w := range s.Warnings() {
				warned = warned || w.Key == "mail.imap.sasl.authorizationid"
			}
			if warned != tc.wantWarn {
				t.Errorf("warned about sasl.authorizationid: %v, want %v (%v)", warned, tc.wantWarn, s.Warnings())
			}
			got, err := onlySubjectOwner(t, ctxT(t), s)
			if err != nil || got != authzShared {
				t.Fatalf("store acted as %q, %v; want %s", got, err, authzShared)
			}
		})
	}
}
