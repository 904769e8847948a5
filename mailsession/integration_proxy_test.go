//go:build integration

// Proxies: JavaMail's mail.<p>.socks.* and mail.<p>.proxy.* keys against
// real Dante (danted, SOCKS5) and tinyproxy (HTTP CONNECT with Basic
// authentication), started by .ci/proxies.sh next to the mail servers:
//
//	.ci/mailservers.sh start && .ci/proxies.sh start
//	go test -tags integration -count=1 -run IntegrationProxy ./mailsession/
//
// A proxy that cannot be reached fails the suite; it never skips.

package mailsession_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/properties"
)

// proxyEnv returns the mail servers' settings plus the proxies' (from the
// environment, else $JMAIL_PROXY_DIR/env, default /tmp/jmail-proxy/env),
// and fails when a proxy does not answer.
func proxyEnv(t *testing.T) itEnv {
	t.Helper()
	e := itEnv{}
	for k, v := range stack(t) {
		e[k] = v
	}
	if e["JMAIL_IT_SOCKS"] == "" {
		dir := os.Getenv("JMAIL_PROXY_DIR")
		if dir == "" {
			dir = "/tmp/jmail-proxy"
		}
		data, err := os.ReadFile(filepath.Join(dir, "env"))
		if err != nil {
			t.Fatalf("proxies not available: %v (run .ci/proxies.sh start)", err)
		}
		for line := range strings.Lines(string(data)) {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
				e[k] = v
			}
		}
	}
	for _, k := range []string{"JMAIL_IT_SOCKS", "JMAIL_IT_HTTP_PROXY"} {
		c, err := net.DialTimeout("tcp", e[k], 5*time.Second)
		if err != nil {
			t.Fatalf("%s (%s) does not answer: %v (run .ci/proxies.sh start)", k, e[k], err)
		}
		c.Close()
	}
	return e
}

// proxyCase is one proxy and the keys that select it.
type proxyCase struct {
	name string
	host string            // the mail servers' address asked for through it
	keys map[string]string // mail.<p>. + key = value, for every protocol
	log  string            // the proxy's log file
}

func proxyCases(e itEnv) []proxyCase {
	httpHost, httpPort, _ := net.SplitHostPort(e["JMAIL_IT_HTTP_PROXY"])
	return []proxyCase{{
		// The host name goes to danted, which resolves it (SOCKS5 domain
		// address type); the certificate is checked against it.
		name: "danted", host: "localhost",
		keys: map[string]string{"socks.host": e["JMAIL_IT_SOCKS"]}, // host:port form
		log:  filepath.Join(e["JMAIL_IT_PROXY_DIR"], "danted.log"),
	}, {
		// The production-like address, through the authenticating proxy.
		name: "tinyproxy", host: e["JMAIL_IT_STRICT_HOST"],
		keys: map[string]string{
			"proxy.host": httpHost, "proxy.port": httpPort,
			"proxy.user": e["JMAIL_IT_HTTP_PROXY_USER"], "proxy.password": e["JMAIL_IT_HTTP_PROXY_PASSWORD"],
		},
		log: filepath.Join(e["JMAIL_IT_PROXY_DIR"], "tinyproxy.log"),
	}}
}

func withProxy(p *properties.Properties, keys map[string]string) {
	for _, proto := range []string{"smtp", "smtps", "pop3", "imap"} {
		for k, v := range keys {
			p.Set("mail."+proto+"."+k, v)
		}
	}
}

// waitLogged polls the proxy's log, from offset, until it holds want.
func waitLogged(t *testing.T, path string, offset int64, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		f.Seek(offset, io.SeekStart)
		data, _ := io.ReadAll(f)
		f.Close()
		if bytes.Contains(data, []byte(want)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the proxy log %s does not show %q; it shows:\n%s", path, want, data)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestIntegrationProxy: through danted and through tinyproxy, a message
// goes to Postfix (submission: STARTTLS inside the tunnel, AUTH) and is
// read back from Dovecot over POP3 (STLS) and IMAP (implicit TLS), each
// connection through the proxy (its log names the mail server's port).
func TestIntegrationProxy(t *testing.T) {
	e := proxyEnv(t)
	user := e.user("judy")
	for _, pc := range proxyCases(e) {
		t.Run(pc.name, func(t *testing.T) {
			marker := uniq(t.Name())
			smtp := e.postfix(pc.host, startTLS, user)
			p := javaMailProps(t, smtp, nil, user.addr)
			withProxy(p, pc.keys)
			s := sessionFrom(t, false, p)
			off := logSize(t, pc.log)
			ctx := testContext(t, 2*time.Minute)
			err := s.Send(ctx, &mailsession.Message{
				To: []string{user.addr}, Subject: "through " + pc.name, Text: "proxied\n",
				Header: map[string][]string{"X-Jmail-Test": {marker}},
			})
			if err != nil {
				t.Fatalf("Send through %s: %v", pc.name, err)
			}
			waitLogged(t, pc.log, off, proxyLogTarget(pc, net.JoinHostPort(pc.host, fmt.Sprint(smtp.port))))
			waitHeader(t, e, user, marker)

			for _, st := range []endpointSpec{e.dovecot("pop3", pc.host, startTLS, user), e.dovecot("imap", pc.host, implicit, user)} {
				t.Run(st.proto, func(t *testing.T) {
					p := javaMailProps(t, smtp, &st, user.addr)
					withProxy(p, pc.keys)
					s := sessionFrom(t, false, p)
					off := logSize(t, pc.log)
					raw := findMessage(t, s, marker, false)
					if !bytes.Contains(raw, []byte("Subject: through "+pc.name)) {
						t.Errorf("the message read through %s is not the one sent:\n%s", pc.name, raw)
					}
					waitLogged(t, pc.log, off, proxyLogTarget(pc, net.JoinHostPort(pc.host, fmt.Sprint(st.port))))
				})
			}
			// Tidy: remove this run's message through the proxy.
			st := e.dovecot("imap", pc.host, implicit, user)
			p = javaMailProps(t, smtp, &st, user.addr)
			withProxy(p, pc.keys)
			findMessage(t, sessionFrom(t, false, p), marker, true)
		})
	}
}

// proxyLogTarget is the text the proxy logs for a tunnel to target.
func proxyLogTarget(pc proxyCase, target string) string {
	if pc.name == "tinyproxy" {
		return "CONNECT " + target + " HTTP/1.1"
	}
	h, p, _ := net.SplitHostPort(target)
	if h == "localhost" {
		h = "127.0.0.1" // danted logs the address it resolved the name to
	}
	return " " + h + "." + p + "\n" // danted: "... -> SRC.PORT DST.PORT"
}

// waitHeader waits until Dovecot stored a message with X-Jmail-Test marker.
func waitHeader(t *testing.T, e itEnv, a account, marker string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		for _, v := range e.headerValues(t, a, "X-Jmail-Test") {
			if v == marker {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message with X-Jmail-Test: %s delivered to %s", marker, a.addr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// findMessage opens s's store, returns the message with X-Jmail-Test
// marker, and deletes it when del.
func findMessage(t *testing.T, s *mailsession.Session, marker string, del bool) []byte {
	t.Helper()
	ctx := testContext(t, time.Minute)
	st, err := s.OpenStore(ctx)
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			t.Errorf("store Close: %v", err)
		}
	}()
	infos, err := st.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	for _, info := range infos {
		rc, err := st.Fetch(ctx, info.UID)
		if err != nil {
			t.Fatalf("Fetch %s: %v", info.UID, err)
		}
		raw, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("Fetch %s: %v", info.UID, err)
		}
		if headerValue(raw, "X-Jmail-Test") != marker {
			continue
		}
		if del {
			if err := st.Delete(ctx, info.UID); err != nil {
				t.Fatalf("Delete: %v", err)
			}
		}
		return raw
	}
	t.Fatalf("no message with X-Jmail-Test: %s among %d", marker, len(infos))
	return nil
}

// TestIntegrationProxyWrongPassword: tinyproxy refuses a wrong proxy
// password; the error names the proxy and its status, is permanent, matches
// ErrProxy, never shows the password, and nothing reaches Postfix.
func TestIntegrationProxyWrongPassword(t *testing.T) {
	e := proxyEnv(t)
	user := e.user("judy")
	const wrong = "not-the-proxy-secret"
	httpHost, httpPort, _ := net.SplitHostPort(e["JMAIL_IT_HTTP_PROXY"])
	for _, store := range []string{"", "pop3", "imap"} {
		t.Run("store="+store, func(t *testing.T) {
			var st *endpointSpec
			if store != "" {
				sp := e.dovecot(store, e["JMAIL_IT_STRICT_HOST"], startTLS, user)
				st = &sp
			}
			p := javaMailProps(t, e.postfix(e["JMAIL_IT_STRICT_HOST"], startTLS, user), st, user.addr)
			withProxy(p, map[string]string{
				"proxy.host": httpHost + ":" + httpPort, // JavaMail's host:port form
				"proxy.user": e["JMAIL_IT_HTTP_PROXY_USER"], "proxy.password": wrong,
			})
			s := sessionFrom(t, false, p)
			ctx := testContext(t, time.Minute)
			var err error
			if store == "" {
				err = s.Send(ctx, &mailsession.Message{To: []string{user.addr}, Subject: "never", Text: "x\n"})
			} else {
				_, err = s.OpenStore(ctx)
			}
			if err == nil {
				t.Fatal("a wrong proxy password was accepted")
			}
			msg := err.Error()
			t.Logf("error: %s", msg)
			if !strings.Contains(msg, "HTTP proxy "+e["JMAIL_IT_HTTP_PROXY"]) || !strings.Contains(msg, "401") ||
				!strings.Contains(msg, "check the proxy.user and proxy.password keys") {
				t.Errorf("error %q does not name the proxy, its status and the keys", msg)
			}
			if strings.Contains(msg, wrong) {
				t.Errorf("the proxy password is in the error: %q", msg)
			}
			if !errors.Is(err, mailsession.ErrProxy) || mailsession.IsTemporary(err) {
				t.Errorf("errors.Is(ErrProxy) = %v, temporary = %v: want a permanent proxy error", errors.Is(err, mailsession.ErrProxy), mailsession.IsTemporary(err))
			}
		})
	}
}
