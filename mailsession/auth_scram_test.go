package mailsession

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jmailgo/jmail/mailsession/mailtest"
)

// scramCheck opens proto ("smtp", "pop3", "imap") on srv with the given
// properties and returns the mechanism that logged in and the TLS version.
func scramCheck(t *testing.T, srv *mailtest.Server, proto string, mode mailtest.Mode, kv ...string) (mech, tlsVersion string, err error) {
	t.Helper()
	store := proto
	if proto == "smtp" {
		store = ""
	}
	p := srv.Properties(mode, store)
	for i := 0; i+1 < len(kv); i += 2 {
		p.Set(kv[i], kv[i+1])
	}
	s, err := FromProperties(p, WithRootCAs(srv.CertPool()), WithLogger(quietLogger()))
	if err != nil {
		t.Fatalf("FromProperties: %v", err)
	}
	defer s.Close()
	rep, err := s.Check(ctxT(t))
	r := rep.Transport
	if proto != "smtp" {
		r = rep.Store
		if rep.Transport.Err != nil {
			t.Fatalf("transport: %v", rep.Transport.Err)
		}
	}
	return r.Mechanism, r.TLSVersion, r.Err
}

// protoKey is the properties prefix of proto in mode.
func protoKey(proto string, mode mailtest.Mode) string {
	if mode == mailtest.ImplicitTLS {
		return "mail." + proto + "s."
	}
	return "mail." + proto + "."
}

// Every SCRAM mechanism over every protocol, over clear text, STARTTLS
// with TLS 1.2 and 1.3, and implicit TLS: -PLUS binds to the channel
// (tls-unique with TLS 1.2, tls-exporter with 1.3) and is never used
// without TLS.
func TestSCRAMEveryMechanismAndProtocol(t *testing.T) {
	srv := mailtest.NewServer(t)
	type conn struct {
		name  string
		mode  mailtest.Mode
		tlsv  string // ssl.protocols
		wantV string
	}
	conns := []conn{
		{"clear", mailtest.Plain, "", ""},
		{"starttls-1.2", mailtest.StartTLS, "TLSv1.2", "TLS 1.2"},
		{"starttls-1.3", mailtest.StartTLS, "TLSv1.3", "TLS 1.3"},
		{"implicit-1.2", mailtest.ImplicitTLS, "TLSv1.2", "TLS 1.2"},
		{"implicit-1.3", mailtest.ImplicitTLS, "TLSv1.3", "TLS 1.3"},
	}
	for _, proto := range []string{"smtp", "pop3", "imap"} {
		for _, mech := range []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS"} {
			for _, c := range conns {
				t.Run(proto+"/"+mech+"/"+c.name, func(t *testing.T) {
					k := protoKey(proto, c.mode)
					kv := []string{k + "auth.mechanisms", mech}
					if c.tlsv != "" {
						kv = append(kv, k+"ssl.protocols", c.tlsv)
					}
					got, tlsv, err := scramCheck(t, srv, proto, c.mode, kv...)
					if isPlus(mech) && c.mode == mailtest.Plain {
						// Not offered, and never chosen, without TLS.
						if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "none of the allowed mechanisms") {
							t.Fatalf("-PLUS over clear text: %v, want ErrAuth, none allowed", err)
						}
						return
					}
					if err != nil {
						t.Fatalf("login: %v", err)
					}
					if got != mech || tlsv != c.wantV {
						t.Errorf("logged in with %q over %q, want %q over %q", got, tlsv, mech, c.wantV)
					}
				})
			}
		}
	}
}

// -PLUS is never chosen over clear text, even when a server offers it
// there (a scripted one: mailtest does not), and a list of -PLUS only
// says why nothing could be used.
func TestSCRAMPlusNeverOverClearText(t *testing.T) {
	ep := &endpoint{Protocol: "smtp", User: "u", Password: "p",
		Mechanisms: []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "PLAIN"}}
	offered := []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "PLAIN"}
	if _, mech, err := chooseSASL(ctxT(t), ep, offered, nil); err != nil || mech != "SCRAM-SHA-256" {
		t.Errorf("clear text: %q, %v; want SCRAM-SHA-256", mech, err)
	}
	ep.Mechanisms = []string{"SCRAM-SHA-256-PLUS"}
	_, _, err := chooseSASL(ctxT(t), ep, offered, nil)
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "-PLUS mechanism needs TLS channel binding") {
		t.Errorf("-PLUS only, clear text: %v", err)
	}
	// A TLS state without a handshake gives no binding data: no -PLUS.
	ep.Mechanisms = []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}
	if _, mech, err := chooseSASL(ctxT(t), ep, offered, &tls.ConnectionState{}); err != nil || mech != "SCRAM-SHA-256" {
		t.Errorf("no binding data: %q, %v", mech, err)
	}
}

// A wrong password fails with ErrAuth for every mechanism and protocol,
// and the error tells nothing secret.
func TestSCRAMWrongPassword(t *testing.T) {
	const pw = "right-Secret-17"
	srv := mailtest.NewServer(t, mailtest.WithUser(mailtest.DefaultUser, pw))
	for _, proto := range []string{"smtp", "pop3", "imap"} {
		for _, tc := range []struct {
			mech string
			mode mailtest.Mode
		}{
			{"SCRAM-SHA-256", mailtest.Plain},
			{"SCRAM-SHA-1", mailtest.Plain},
			{"SCRAM-SHA-256-PLUS", mailtest.ImplicitTLS},
			{"SCRAM-SHA-1-PLUS", mailtest.StartTLS},
		} {
			t.Run(proto+"/"+tc.mech, func(t *testing.T) {
				k := protoKey(proto, tc.mode)
				_, _, err := scramCheck(t, srv, proto, tc.mode, k+"auth.mechanisms", tc.mech, k+"password", "wrong-Secret-42")
				if !errors.Is(err, ErrAuth) {
					t.Fatalf("wrong password: %v, want ErrAuth", err)
				}
				if strings.Contains(err.Error(), "wrong-Secret-42") || strings.Contains(err.Error(), pw) {
					t.Errorf("error shows a password: %v", err)
				}
			})
		}
	}
}

// Without auth.mechanisms SCRAM comes first: over TLS its -PLUS variant,
// SHA-256 before SHA-1, then PLAIN LOGIN; the stores log in with SASL
// when SCRAM is offered, with their own command otherwise.
func TestSCRAMDefaultPreference(t *testing.T) {
	for _, tc := range []struct {
		proto   string
		mode    mailtest.Mode
		offered []string // SMTP: SetAuthMechanisms; nil: mailtest's defaults
		want    string
	}{
		{"smtp", mailtest.Plain, nil, "SCRAM-SHA-256"},
		{"smtp", mailtest.StartTLS, nil, "SCRAM-SHA-256-PLUS"},
		{"smtp", mailtest.ImplicitTLS, nil, "SCRAM-SHA-256-PLUS"},
		{"smtp", mailtest.StartTLS, []string{"PLAIN", "LOGIN", "SCRAM-SHA-1"}, "SCRAM-SHA-1"},
		{"smtp", mailtest.StartTLS, []string{"PLAIN", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256"}, "SCRAM-SHA-1-PLUS"},
		{"smtp", mailtest.StartTLS, []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-1"}, "SCRAM-SHA-256"}, // "y": we could bind, the server offers no -PLUS
		{"smtp", mailtest.StartTLS, []string{"PLAIN", "LOGIN"}, "PLAIN"},
		{"pop3", mailtest.Plain, nil, "SCRAM-SHA-256"},
		{"pop3", mailtest.StartTLS, nil, "SCRAM-SHA-256-PLUS"},
		{"imap", mailtest.Plain, nil, "SCRAM-SHA-256"},
		{"imap", mailtest.ImplicitTLS, nil, "SCRAM-SHA-256-PLUS"},
	} {
		t.Run(fmt.Sprintf("%s/%v/%v", tc.proto, tc.mode, tc.offered), func(t *testing.T) {
			srv := mailtest.NewServer(t)
			if tc.offered != nil {
				srv.SetAuthMechanisms(tc.offered...)
			}
			got, _, err := scramCheck(t, srv, tc.proto, tc.mode)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("logged in with %q, want %q", got, tc.want)
			}
		})
	}
	// SCRAM disabled by its auth.<mech>.disable keys: the stores go back
	// to their own commands.
	srv := mailtest.NewServer(t)
	var kv []string
	for _, m := range scramMechanisms {
		kv = append(kv, "mail.imap.auth."+strings.ToLower(m)+".disable", "true")
	}
	if got, _, err := scramCheck(t, srv, "imap", mailtest.Plain, kv...); err != nil || got != "LOGIN" {
		t.Errorf("SCRAM disabled: %q, %v; want LOGIN", got, err)
	}
}

// scriptedSCRAMServer is an SMTP server on loopback that speaks SCRAM's
// first step correctly, then misbehaves at the last as final says:
// "badsig" (a server-final whose signature is wrong) or "nosig" (235
// without a server-final). It returns the address and what the client
// sent after the server-final (for "badsig": "*", the cancellation).
func scriptedSCRAMServer(t *testing.T, final string) (addr string, after func() string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	var got string
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		say := func(s string) { fmt.Fprintf(c, "%s\r\n", s) }
		read := func() string {
			l, _ := r.ReadString('\n')
			return strings.TrimRight(l, "\r\n")
		}
		say("220 scripted ESMTP")
		read() // EHLO
		say("250-scripted\r\n250 AUTH SCRAM-SHA-256")
		auth := strings.Fields(read()) // AUTH SCRAM-SHA-256 <client-first>
		if len(auth) != 3 {
			say("501 expected an initial response")
			return
		}
		c1, _ := base64.StdEncoding.DecodeString(auth[2])
		_, nonce, _ := strings.Cut(string(c1), ",r=")
		s1 := "r=" + nonce + "srv,s=" + base64.StdEncoding.EncodeToString([]byte("salty")) + ",i=4096"
		say("334 " + base64.StdEncoding.EncodeToString([]byte(s1)))
		read() // client-final
		switch final {
		case "badsig":
			sig := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
			say("334 " + base64.StdEncoding.EncodeToString([]byte("v="+sig)))
			l := read()
			mu.Lock()
			got = l
			mu.Unlock()
			say("501 5.7.0 cancelled")
		case "nosig":
			say("235 2.7.0 ok")
		}
		for {
			switch l := read(); {
			case strings.HasPrefix(l, "QUIT"):
				say("221 bye")
				return
			case l == "":
				return
			default:
				say("250 ok")
			}
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String(), func() string { mu.Lock(); defer mu.Unlock(); return got }
}

// A server that cannot prove it knows the password (a wrong signature, or
// success without one) is refused with ErrAuth: SCRAM authenticates the
// server too.
func TestSCRAMServerSignature(t *testing.T) {
	for _, final := range []string{"badsig", "nosig"} {
		t.Run(final, func(t *testing.T) {
			addr, after := scriptedSCRAMServer(t, final)
			host, port, _ := net.SplitHostPort(addr)
			s := mustSession(t, props("mail.smtp.host", host, "mail.smtp.port", port, "mail.smtp.auth", "true",
				"mail.smtp.user", "u", "mail.smtp.password", "pw-Secret-9", "mail.smtp.auth.mechanisms", "SCRAM-SHA-256"))
			defer s.Close()
			rep, err := s.Check(ctxT(t))
			if !errors.Is(err, ErrAuth) {
				t.Fatalf("Check: %v, want ErrAuth", err)
			}
			if rep.Transport.Authenticated {
				t.Error("reported as authenticated")
			}
			want := map[string]string{"badsig": "signature", "nosig": "without its SCRAM signature"}[final]
			if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "pw-Secret-9") {
				t.Errorf("error %q: want %q, no password", err, want)
			}
			if final == "badsig" && after() != "*" {
				t.Errorf("client answered the bad server-final with %q, want the cancellation *", after())
			}
		})
	}
}

// The protocol trace (mail.debug) shows neither the password nor any key
// derived from it: the client's SCRAM lines are redacted; the server's
// (salt, nonce, signature) are not secret.
func TestSCRAMTraceHasNoSecret(t *testing.T) {
	const pw = "tr4ce-Secret"
	srv := mailtest.NewServer(t, mailtest.WithUser(mailtest.DefaultUser, pw))
	for _, mech := range []string{"SCRAM-SHA-256", "SCRAM-SHA-1-PLUS"} {
		t.Run(mech, func(t *testing.T) {
			var buf bytes.Buffer
			var mu sync.Mutex
			l := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
			s := newTestSession(t, srv, mailtest.StartTLS, WithDebug(l), WithProperty("mail.smtp.auth.mechanisms", mech))
			if _, err := s.Check(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			s.Close()
			mu.Lock()
			out := buf.String()
			mu.Unlock()
			if !strings.Contains(out, "C: AUTH "+mech+" <redacted>") || !strings.Contains(out, "S: 334 ") {
				t.Fatalf("no SCRAM exchange in the trace:\n%s", out)
			}
			if strings.Contains(out, pw) {
				t.Errorf("trace shows the password:\n%s", out)
			}
			if leak := scramSecretsIn(out, pw); leak != "" {
				t.Errorf("trace shows the %s:\n%s", leak, out)
			}
		})
	}
}

var traceChallenge = regexp.MustCompile(`(?:334|\+) ([A-Za-z0-9+/=]{8,})`)

// scramSecretsIn looks in trace for the keys a SCRAM exchange derives
// from password (SaltedPassword, ClientKey, StoredKey, ServerKey), with
// the salt and iteration count of each server-first message it shows,
// raw, base64 or hex. It names the first one found, or returns "".
func scramSecretsIn(trace, password string) string {
	for _, m := range traceChallenge.FindAllStringSubmatch(trace, -1) {
		b, err := base64.StdEncoding.DecodeString(m[1])
		if err != nil || !bytes.HasPrefix(b, []byte("r=")) {
			continue
		}
		var salt []byte
		iters := 0
		for _, f := range strings.Split(string(b), ",") {
			if v, ok := strings.CutPrefix(f, "s="); ok {
				salt, _ = base64.StdEncoding.DecodeString(v)
			} else if v, ok := strings.CutPrefix(f, "i="); ok {
				iters, _ = strconv.Atoi(v)
			}
		}
		if salt == nil || iters <= 0 {
			continue
		}
		for _, h := range []func() hash.Hash{sha1.New, sha256.New} {
			salted, err := pbkdf2.Key(h, password, salt, iters, h().Size())
			if err != nil {
				continue
			}
			mac := func(key []byte, s string) []byte { m := hmac.New(h, key); m.Write([]byte(s)); return m.Sum(nil) }
			clientKey := mac(salted, "Client Key")
			stored := h()
			stored.Write(clientKey)
			for name, k := range map[string][]byte{"SaltedPassword": salted, "ClientKey": clientKey, "StoredKey": stored.Sum(nil), "ServerKey": mac(salted, "Server Key")} {
				for _, form := range []string{string(k), base64.StdEncoding.EncodeToString(k), hex.EncodeToString(k)} {
					if strings.Contains(trace, form) {
						return name
					}
				}
			}
		}
	}
	return ""
}
