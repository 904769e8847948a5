package mailtest

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

func TestSMTPModesDeliver(t *testing.T) {
	s := NewServer(t)
	for i, mode := range []Mode{Plain, StartTLS, ImplicitTLS} {
		t.Run(mode.String(), func(t *testing.T) {
			msg := hardMessage(mode.String())
			sendSMTP(t, s, mode, "sender@elsewhere.test", []string{DefaultUser}, msg)
			msgs, err := s.WaitMessages(testContext(t), DefaultUser, i+1)
			if err != nil {
				t.Fatal(err)
			}
			got := msgs[i]
			if !bytes.Equal(got.Data, msg) {
				t.Errorf("data differs:\n got %q\nwant %q", got.Data[:80], msg[:80])
			}
			if got.From != "sender@elsewhere.test" || !slices.Equal(got.To, []string{DefaultUser}) || got.UID != uint32(i+1) {
				t.Errorf("envelope = %q %q uid %d", got.From, got.To, got.UID)
			}
		})
	}
	if n := len(s.Received()); n != 3 {
		t.Errorf("Received() has %d messages, want 3", n)
	}
	if r := s.Received()[0]; r.UID != 0 {
		t.Errorf("Received()[0].UID = %d, want 0", r.UID)
	}
}

func TestSMTPExtensions(t *testing.T) {
	s := NewServer(t)
	c := dialSMTP(t, s, Plain)
	if err := c.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{"PIPELINING", "SIZE", "8BITMIME", "SMTPUTF8", "STARTTLS", "AUTH"} {
		if ok, _ := c.Extension(ext); !ok {
			t.Errorf("extension %s not offered", ext)
		}
	}
	_, mechs := c.Extension("AUTH")
	if mechs != "PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER SCRAM-SHA-256 SCRAM-SHA-1" { // -PLUS only over TLS
		t.Errorf("AUTH %s", mechs)
	}
	tc := dialSMTP(t, s, ImplicitTLS)
	if err := tc.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := tc.Extension("STARTTLS"); ok {
		t.Error("STARTTLS offered on the implicit-TLS port")
	}
	if _, mechs := tc.Extension("AUTH"); mechs != "PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER SCRAM-SHA-256-PLUS SCRAM-SHA-1-PLUS SCRAM-SHA-256 SCRAM-SHA-1" {
		t.Errorf("AUTH over TLS %s", mechs)
	}
}

// xoauth2Client is the client side of XOAUTH2 for the tests.
type xoauth2Client struct{ user, token string }

func (x xoauth2Client) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + x.user + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}
func (x xoauth2Client) Next(challenge []byte) ([]byte, error) { return []byte{}, nil }

// cramClient is the client side of CRAM-MD5 for the tests.
type cramClient struct{ user, password string }

func (c cramClient) Start() (string, []byte, error) { return "CRAM-MD5", nil, nil }
func (c cramClient) Next(challenge []byte) ([]byte, error) {
	return []byte(c.user + " " + hmacMD5Hex(c.password, challenge)), nil
}

func TestSMTPAuthMechanisms(t *testing.T) {
	s := NewServer(t)
	tests := []struct {
		name string
		good sasl.Client
		bad  sasl.Client
	}{
		{"PLAIN", sasl.NewPlainClient("", DefaultUser, DefaultPassword), sasl.NewPlainClient("", DefaultUser, "wrong")},
		{"LOGIN", sasl.NewLoginClient(DefaultUser, DefaultPassword), sasl.NewLoginClient(DefaultUser, "wrong")},
		{"CRAM-MD5", cramClient{DefaultUser, DefaultPassword}, cramClient{DefaultUser, "wrong"}},
		{"XOAUTH2", xoauth2Client{DefaultUser, DefaultToken}, xoauth2Client{DefaultUser, "wrong"}},
		{"OAUTHBEARER", sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: DefaultUser, Token: DefaultToken}),
			sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: DefaultUser, Token: "wrong"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialSMTP(t, s, StartTLS)
			if err := c.Auth(tt.good); err != nil {
				t.Errorf("good credentials: %v", err)
			}
			c2 := dialSMTP(t, s, StartTLS)
			err := c2.Auth(tt.bad)
			var se *smtp.SMTPError
			if tt.name == "OAUTHBEARER" {
				// go-sasl's client ends the exchange itself on the
				// server's error challenge.
				if err == nil {
					t.Error("bad token accepted")
				}
			} else if !errors.As(err, &se) || se.Code != 535 {
				t.Errorf("bad credentials: %v, want 535", err)
			}
		})
	}
}

func TestSMTPRecipients(t *testing.T) {
	s := NewServer(t, WithUser("alice@example.com", "a"), WithUser("bob@example.com", "b"))
	c := dialSMTP(t, s, Plain)
	if err := c.Mail("x@remote.test", nil); err != nil {
		t.Fatal(err)
	}
	var se *smtp.SMTPError
	if err := c.Rcpt("nobody@example.com", nil); !errors.As(err, &se) || se.Code != 550 {
		t.Errorf("unknown local user: %v, want 550", err)
	}
	for _, rcpt := range []string{"Alice@Example.com", "bob@example.com", "far@away.test"} {
		if err := c.Rcpt(rcpt, nil); err != nil {
			t.Fatalf("RCPT %s: %v", rcpt, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("Subject: hi\r\n\r\nhello\r\n"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := len(s.Messages("alice@example.com")); got != 1 {
		t.Errorf("alice has %d messages", got)
	}
	if got := len(s.Messages("bob@example.com")); got != 1 {
		t.Errorf("bob has %d messages", got)
	}
	r := s.Received()
	if len(r) != 1 || !slices.Equal(r[0].To, []string{"Alice@Example.com", "bob@example.com", "far@away.test"}) {
		t.Errorf("Received() = %+v", r)
	}
	if s.Messages("far@away.test") != nil {
		t.Error("a mailbox appeared for a remote address")
	}
}

func TestSMTPCommandsLog(t *testing.T) {
	s := NewServer(t)
	c := dialSMTP(t, s, StartTLS)
	if err := c.Auth(sasl.NewLoginClient(DefaultUser, DefaultPassword)); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := c.SendMail(DefaultUser, []string{DefaultUser}, strings.NewReader("Subject: x\r\n\r\n.\r\n.hidden\r\nRSET\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Reset(); err != nil {
		t.Fatal(err)
	}
	c.Quit()
	want := []string{"EHLO", "STARTTLS", "EHLO", "AUTH", "MAIL", "RCPT", "DATA", "MAIL", "RCPT", "DATA", "NOOP", "RSET", "EHLO", "QUIT"}
	// (go-smtp's client says EHLO again after RSET.)
	waitFor(t, func() bool { return slices.Equal(s.SMTPCommands(), want) })
	if got := s.SMTPCommands(); !slices.Equal(got, want) {
		t.Errorf("SMTPCommands() = %q\nwant %q", got, want)
	}
	if n := s.SMTPConnections(); n != 1 {
		t.Errorf("SMTPConnections() = %d", n)
	}
	for _, m := range s.Messages(DefaultUser) {
		if string(m.Data) != "Subject: x\r\n\r\n.\r\n.hidden\r\nRSET\r\n" {
			t.Errorf("data %q", m.Data)
		}
	}
}

func TestSMTPAuthRequired(t *testing.T) {
	s := NewServer(t, WithAuthRequired())
	c := dialSMTP(t, s, StartTLS)
	var se *smtp.SMTPError
	if err := c.Mail("a@remote.test", nil); !errors.As(err, &se) || se.Code != 530 {
		t.Errorf("MAIL before AUTH: %v, want 530", err)
	}
	if err := c.Auth(sasl.NewPlainClient("", DefaultUser, DefaultPassword)); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("a@remote.test", nil); err != nil {
		t.Errorf("MAIL after AUTH: %v", err)
	}
}

func TestSetAuthMechanisms(t *testing.T) {
	s := NewServer(t)
	s.SetAuthMechanisms("plain")
	c := dialSMTP(t, s, Plain)
	if err := c.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	if _, mechs := c.Extension("AUTH"); mechs != "PLAIN" {
		t.Errorf("AUTH %q, want PLAIN", mechs)
	}
	var se *smtp.SMTPError
	if err := c.Auth(sasl.NewLoginClient(DefaultUser, DefaultPassword)); !errors.As(err, &se) || se.Code != 504 {
		t.Errorf("AUTH LOGIN when not offered: %v, want 504", err)
	}
	s.SetAuthMechanisms()
	c = dialSMTP(t, s, Plain)
	c.Hello("client.test")
	if ok, _ := c.Extension("AUTH"); ok {
		t.Error("AUTH offered with no mechanisms")
	}
}

// Each user sees only their own mailbox, over every protocol.
func TestUsersAreSeparate(t *testing.T) {
	s := NewServer(t, WithUser("alice@example.com", "pa"), WithUser("bob@example.com", "pb"))
	s.Deliver("alice@example.com", []byte("Subject: for alice\r\n\r\n"))
	s.Deliver("bob@example.com", []byte("Subject: for bob\r\n\r\nb\r\n"))
	p := dialPOP3(t, s, true)
	p.ok("USER bob@example.com")
	p.ok("PASS pb")
	p.ok("RETR 1")
	if got := string(p.multi()); got != "Subject: for bob\r\n\r\nb\r\n" {
		t.Errorf("bob's POP3 RETR 1 = %q", got)
	}
	c := dialIMAP(t, s, ImplicitTLS)
	if err := c.Login("Alice@Example.com", "pa").Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil || sel.NumMessages != 1 {
		t.Fatalf("alice SELECT = %+v, %v", sel, err)
	}
	if got := string(fetchBody(t, c, 1)); got != "Subject: for alice\r\n\r\n" {
		t.Errorf("alice's UID 1 = %q", got)
	}
	if err := dialIMAP(t, s, ImplicitTLS).Login("alice@example.com", "pb").Wait(); err == nil {
		t.Error("alice logged in with bob's password")
	}
}
