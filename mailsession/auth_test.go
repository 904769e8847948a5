package mailsession

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jmailgo/jmail/mailsession/mailtest"
)

func TestEveryMechanismAgainstServer(t *testing.T) {
	for _, mech := range []string{"PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER"} {
		t.Run(mech, func(t *testing.T) {
			srv := mailtest.NewServer(t)
			srv.SetAuthMechanisms(mech)
			opts := []Option{WithProperty("mail.smtp.auth.mechanisms", mech)}
			if mech == "XOAUTH2" || mech == "OAUTHBEARER" {
				// JavaMail's way: the password is the token.
				opts = append(opts, WithAuth(mailtest.DefaultUser, mailtest.DefaultToken))
			}
			s := newTestSession(t, srv, mailtest.StartTLS, opts...)
			rep, err := s.Check(ctxT(t))
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if !rep.Transport.Authenticated || rep.Transport.Mechanism != mech {
				t.Errorf("report %v", rep.Transport)
			}
			sendOK(t, s, mailtest.DefaultUser)
		})
	}
}

func TestMechanismChosenFromOfferAndPreference(t *testing.T) {
	srv := mailtest.NewServer(t)
	srv.SetAuthMechanisms("CRAM-MD5", "LOGIN")
	// Default preference PLAIN LOGIN CRAM-MD5: PLAIN is not offered → LOGIN.
	s := newTestSession(t, srv, mailtest.StartTLS)
	rep, err := s.Check(ctxT(t))
	if err != nil || rep.Transport.Mechanism != "LOGIN" {
		t.Fatalf("mechanism %q, err %v", rep.Transport.Mechanism, err)
	}
	// Nothing acceptable offered: a clear ErrAuth naming both lists.
	s2 := newTestSession(t, srv, mailtest.StartTLS, WithProperty("mail.smtp.auth.mechanisms", "PLAIN"))
	_, err = s2.Check(ctxT(t))
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "CRAM-MD5 LOGIN") {
		t.Fatalf("err %v", err)
	}
}

func TestTokenSourceCalledPerConnection(t *testing.T) {
	srv := mailtest.NewServer(t)
	var calls atomic.Int32
	ts := func(ctx context.Context) (string, error) {
		calls.Add(1)
		return mailtest.DefaultToken, nil
	}
	s := newTestSession(t, srv, mailtest.ImplicitTLS, WithTokenSource(ts), WithPool(1, 0))
	sendOK(t, s, mailtest.DefaultUser)
	sendOK(t, s, mailtest.DefaultUser)
	if n := calls.Load(); n != 2 {
		t.Errorf("token source called %d times for 2 connections", n)
	}
	// A failing token source is an authentication error.
	bad := newTestSession(t, srv, mailtest.ImplicitTLS, WithTokenSource(func(context.Context) (string, error) {
		return "", errors.New("refresh failed")
	}))
	if err := bad.Send(ctxT(t), &Message{To: []string{mailtest.DefaultUser}, Text: "x"}); !errors.Is(err, ErrAuth) {
		t.Errorf("err %v", err)
	}
}

func TestLoginClientToleratesAnyPrompt(t *testing.T) {
	c := &loginClient{user: "u@example.com", password: "pw"}
	if mech, ir, _ := c.Start(); mech != "LOGIN" || ir != nil {
		t.Fatalf("start %s %q", mech, ir)
	}
	// Microsoft 365 answers with lower-case or localized prompts.
	if r, err := c.Next([]byte("username:")); err != nil || string(r) != "u@example.com" {
		t.Fatalf("user step %q %v", r, err)
	}
	if r, err := c.Next([]byte("Passwort eingeben")); err != nil || string(r) != "pw" {
		t.Fatalf("password step %q %v", r, err)
	}
	if _, err := c.Next([]byte("more?")); err == nil {
		t.Fatal("a third challenge was answered")
	}
	// A server asking for the password first never gets it as the user.
	c2 := &loginClient{user: "u", password: "pw"}
	if _, err := c2.Next([]byte("Password:")); err == nil {
		t.Fatal("password prompt first accepted")
	}
}

func TestCRAMMD5RFC2195Vector(t *testing.T) {
	c := &cramMD5Client{user: "tim", secret: "tanstaaftanstaaf"}
	r, _ := c.Next([]byte("<1896.697170952@postoffice.reston.mci.net>"))
	if string(r) != "tim b913a602c7eda7a495b4e6e7334d3890" {
		t.Errorf("CRAM-MD5 response %q", r)
	}
}

func TestNoCredentialsOverCleartextToRemoteHost(t *testing.T) {
	ep := &endpoint{Protocol: "smtp", Host: "smtp.example.com", Port: 25}
	err := checkAuthAllowed(ep, false, false)
	if !errors.Is(err, ErrInsecureAuth) {
		t.Fatalf("err %v", err)
	}
	for _, hint := range []string{"mail.smtp.starttls.enable=true", "mail.smtp.auth.allowcleartext=true", "WithInsecureAuth"} {
		if !strings.Contains(err.Error(), hint) {
			t.Errorf("error does not say how (%s): %v", hint, err)
		}
	}
	if checkAuthAllowed(ep, true, false) != nil || checkAuthAllowed(ep, false, true) != nil {
		t.Error("TLS or loopback refused")
	}
	ep.AllowCleartextAuth = true
	if checkAuthAllowed(ep, false, false) != nil {
		t.Error("opt-in ignored")
	}
	// The guard sits on the real path: plain SMTP to loopback authenticates.
	srv := mailtest.NewServer(t)
	s := newTestSession(t, srv, mailtest.Plain)
	sendOK(t, s, mailtest.DefaultUser)
}

func TestDebugTraceRedactsAuth(t *testing.T) {
	for _, mech := range []string{"PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER"} {
		srv := mailtest.NewServer(t)
		srv.SetAuthMechanisms(mech)
		var buf bytes.Buffer
		l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		pw := mailtest.DefaultPassword
		if mech == "XOAUTH2" || mech == "OAUTHBEARER" {
			pw = mailtest.DefaultToken
		}
		s := newTestSession(t, srv, mailtest.Plain, WithDebug(l), WithAuth(mailtest.DefaultUser, pw), WithProperty("mail.smtp.auth.mechanisms", mech))
		sendOK(t, s, mailtest.DefaultUser)
		s.Close()
		out := buf.String()
		secrets := []string{
			base64.StdEncoding.EncodeToString([]byte("\x00" + mailtest.DefaultUser + "\x00" + mailtest.DefaultPassword)),
			base64.StdEncoding.EncodeToString([]byte(mailtest.DefaultPassword)),
			base64.StdEncoding.EncodeToString([]byte(mailtest.DefaultUser)),
			"auth=Bearer", pw,
		}
		for _, sec := range secrets {
			if strings.Contains(out, sec) {
				t.Errorf("%s: trace contains %q:\n%s", mech, sec, out)
			}
		}
		// Whatever the mechanism's encoding, no word of the trace decodes
		// to something holding the secret.
		for _, word := range strings.Fields(out) {
			word = strings.Trim(word, `"`)
			if dec, err := base64.StdEncoding.DecodeString(word); err == nil && strings.Contains(string(dec), pw) {
				t.Errorf("%s: trace holds the secret base64-encoded: %q", mech, word)
			}
		}
		for _, want := range []string{"C: EHLO", "C: AUTH " + mech, "<redacted>", "S: 235", "C: MAIL FROM", "<message body", "C: QUIT"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: trace lacks %q:\n%s", mech, want, out)
			}
		}
	}
}

func TestMailDebugKeyUsesLogger(t *testing.T) {
	srv := mailtest.NewServer(t)
	var buf bytes.Buffer
	// An info-level logger, as most services run: mail.debug still shows
	// the trace (JavaMail prints it whatever the logging setup).
	l := slog.New(slog.NewTextHandler(&buf, nil))
	s := newTestSession(t, srv, mailtest.StartTLS, WithProperty("mail.debug", "true"), WithLogger(l))
	sendOK(t, s, mailtest.DefaultUser)
	if !strings.Contains(buf.String(), "C: STARTTLS") || !strings.Contains(buf.String(), "C: AUTH SCRAM-SHA-256-PLUS <redacted>") {
		t.Errorf("mail.debug trace:\n%s", buf.String())
	}
}
