package mailsession

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"

	"github.com/jmailgo/jmail/mailsession/mailtest"
)

// TestBearerInitialResponses: XOAUTH2's format (Google's and Microsoft's
// documentation), and OAUTHBEARER's as go-sasl writes it (RFC 7628), with
// the authzid escaped (RFC 5801).
func TestBearerInitialResponses(t *testing.T) {
	ep := &endpoint{User: "u@example.com", Host: "imap.example.com", Port: 993}
	_, ir, _ := newBearerClient("XOAUTH2", ep, "ya29.tok").Start()
	if string(ir) != "user=u@example.com\x01auth=Bearer ya29.tok\x01\x01" {
		t.Errorf("XOAUTH2 %q", ir)
	}
	_, want, _ := sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: ep.User, Token: "ya29.tok", Host: ep.Host, Port: ep.Port}).Start()
	if _, ir, _ := newBearerClient("OAUTHBEARER", ep, "ya29.tok").Start(); string(ir) != string(want) {
		t.Errorf("OAUTHBEARER %q, go-sasl's %q", ir, want)
	}
	odd := &endpoint{User: "a=b,c@example.com", Host: "h", Port: 143}
	if _, ir, _ := newBearerClient("OAUTHBEARER", odd, "t").Start(); !strings.HasPrefix(string(ir), "n,a=a=3Db=2Cc@example.com,\x01host=h\x01port=143\x01") {
		t.Errorf("escaped authzid: %q", ir)
	}
}

// TestBearerErrorChallenge: a server refusing the token sends a JSON
// challenge; the client answers it as the mechanism requires, and the
// login error says the status and the scope the server wanted, over SMTP,
// POP3 and IMAP, for XOAUTH2 and OAUTHBEARER, without the token.
func TestBearerErrorChallenge(t *testing.T) {
	srv := mailtest.NewServer(t, mailtest.WithOAuthToken(mailtest.DefaultUser, "good-token"))
	bad := func(context.Context) (string, error) { return "expired-token-value", nil }
	for _, mech := range []string{"XOAUTH2", "OAUTHBEARER"} {
		for _, store := range []string{"", "pop3s", "imaps"} {
			name := mech + "/smtp"
			if store != "" {
				name = mech + "/" + store
			}
			t.Run(name, func(t *testing.T) {
				p := srv.Properties(mailtest.ImplicitTLS, store)
				for _, proto := range []string{"smtps", "pop3s", "imaps", "pop3", "imap"} {
					p.Set("mail."+proto+".auth.mechanisms", mech)
				}
				s, err := FromProperties(p, WithRootCAs(srv.CertPool()), WithLogger(quietLogger()), WithTokenSource(bad))
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				if store == "" {
					err = s.Send(ctxT(t), &Message{From: mailtest.DefaultUser, To: []string{mailtest.DefaultUser}, Text: "x"})
				} else {
					var st *Store
					st, err = s.OpenStore(ctxT(t))
					if err == nil {
						st.Close()
					}
				}
				if !errors.Is(err, ErrAuth) {
					t.Fatalf("err = %v, want ErrAuth", err)
				}
				msg := err.Error()
				// mailtest answers as Google does for XOAUTH2 (an HTTP
				// status and the scope), as go-sasl's server does for
				// OAUTHBEARER (RFC 7628's invalid_token).
				want := map[string]string{"XOAUTH2": "XOAUTH2 challenge: status 401, scope https://", "OAUTHBEARER": "OAUTHBEARER challenge: status invalid_token"}[mech]
				if !strings.Contains(msg, want) {
					t.Errorf("the error lacks the server's challenge: %s", msg)
				}
				if strings.Contains(msg, "expired-token-value") {
					t.Errorf("the error shows the token: %s", msg)
				}
			})
		}
	}
}
