package mailsession

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmailgo/jmail/mailsession/mailtest"
	"github.com/jmailgo/jmail/properties"
)

// The real proxies (danted, tinyproxy) are in integration_proxy_test.go;
// these small scripted servers produce the edge cases the real ones do not
// produce on demand.

// proxyRequest is what a scripted proxy was asked.
type proxyRequest struct {
	atyp   byte   // SOCKS5 address type (1 IPv4, 3 domain, 4 IPv6)
	target string // host:port asked for
	auth   string // HTTP Proxy-Authorization
	host   string // HTTP Host header
}

// scriptedProxy is a loopback SOCKS5 or HTTP CONNECT server whose answers
// are set by the test.
type scriptedProxy struct {
	ln   net.Listener
	reqs chan proxyRequest
	wg   sync.WaitGroup

	mu    sync.Mutex
	conns []net.Conn
}

func startProxy(t *testing.T, handle func(p *scriptedProxy, c net.Conn)) *scriptedProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &scriptedProxy{ln: ln, reqs: make(chan proxyRequest, 100)}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns = append(p.conns, c)
			p.mu.Unlock()
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				defer c.Close()
				handle(p, c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *scriptedProxy) addr() string { return p.ln.Addr().String() }

// dialTarget connects to what the client asked for; "localhost" is
// 127.0.0.1, where mailtest listens.
func dialTarget(target string) (net.Conn, error) {
	host, port, _ := net.SplitHostPort(target)
	if host == "localhost" {
		host = "127.0.0.1"
	}
	return net.Dial("tcp4", net.JoinHostPort(host, port))
}

// pipe copies both ways until either side ends.
func pipe(a, b net.Conn) {
	done := make(chan struct{}, 2)
	go func() { io.Copy(a, b); a.Close(); done <- struct{}{} }()
	go func() { io.Copy(b, a); b.Close(); done <- struct{}{} }()
	<-done
	<-done
}

// socksScript is how the scripted SOCKS5 server answers.
type socksScript struct {
	method byte   // method chosen (0 none, 0xFF none acceptable)
	reply  byte   // CONNECT reply code
	raw    []byte // if set, sent instead of the method reply, then close
}

func socksHandler(sc socksScript) func(*scriptedProxy, net.Conn) {
	return func(p *scriptedProxy, c net.Conn) {
		var b [262]byte
		if _, err := io.ReadFull(c, b[:2]); err != nil {
			return
		}
		if _, err := io.ReadFull(c, b[:b[1]]); err != nil {
			return
		}
		if sc.raw != nil {
			c.Write(sc.raw)
			return
		}
		c.Write([]byte{5, sc.method})
		if sc.method != 0 {
			return
		}
		if _, err := io.ReadFull(c, b[:4]); err != nil {
			return
		}
		req := proxyRequest{atyp: b[3]}
		var host string
		switch b[3] {
		case 1, 4:
			n := 4
			if b[3] == 4 {
				n = 16
			}
			if _, err := io.ReadFull(c, b[:n]); err != nil {
				return
			}
			host = net.IP(append([]byte(nil), b[:n]...)).String()
		case 3:
			if _, err := io.ReadFull(c, b[:1]); err != nil {
				return
			}
			n := int(b[0])
			if _, err := io.ReadFull(c, b[:n]); err != nil {
				return
			}
			host = string(b[:n])
		}
		if _, err := io.ReadFull(c, b[:2]); err != nil {
			return
		}
		req.target = net.JoinHostPort(host, strconv.Itoa(int(b[0])<<8|int(b[1])))
		p.reqs <- req
		if sc.reply != 0 {
			c.Write([]byte{5, sc.reply, 0, 1, 0, 0, 0, 0, 0, 0})
			return
		}
		up, err := dialTarget(req.target)
		if err != nil {
			c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
			return
		}
		// A domain-type bound address, to exercise its length byte.
		c.Write([]byte{5, 0, 0, 3, 9, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't', 0, 25})
		pipe(c, up)
	}
}

// httpScript is how the scripted CONNECT proxy answers.
type httpScript struct {
	user, password string // required Basic credentials; "" accepts anyone
	status         string // a refusal status line, e.g. "403 Forbidden"; "" tunnels
	raw            string // if set, sent instead of a reply, then close
	hang           bool   // never answer
}

func httpHandler(sc httpScript) func(*scriptedProxy, net.Conn) {
	return func(p *scriptedProxy, c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		p.reqs <- proxyRequest{target: req.RequestURI, auth: req.Header.Get("Proxy-Authorization"), host: req.Host}
		switch {
		case sc.hang:
			io.Copy(io.Discard, br)
			return
		case sc.raw != "":
			io.WriteString(c, sc.raw)
			return
		case sc.status != "":
			fmt.Fprintf(c, "HTTP/1.1 %s\r\nContent-Length: 0\r\n\r\n", sc.status)
			return
		}
		if req.Method != http.MethodConnect {
			io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\n\r\n")
			return
		}
		if sc.user != "" {
			want := "Basic " + base64.StdEncoding.EncodeToString([]byte(sc.user+":"+sc.password))
			if req.Header.Get("Proxy-Authorization") != want {
				io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"t\"\r\n\r\n")
				return
			}
		}
		up, err := dialTarget(req.RequestURI)
		if err != nil {
			io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
			return
		}
		// The server speaks first (220 / +OK / * OK): send its greeting in
		// the same write as our header, as a proxy that reads ahead may.
		// (With implicit TLS the client speaks first: nothing comes.)
		greet := make([]byte, 512)
		up.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, _ := up.Read(greet)
		up.SetReadDeadline(time.Time{})
		c.Write(append([]byte("HTTP/1.1 200 Connection established\r\nX-Extra: 1\r\n\r\n"), greet[:n]...))
		pipe(&bufConn{c, br}, up)
	}
}

// bufConn reads through the proxy's buffered reader (the client may have
// sent its first bytes already).
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// proxiedProps is mailtest's properties with the server named localhost
// (so that the certificate is checked against the name, not the proxy)
// and the proxy keys added for every protocol used.
func proxiedProps(srv *mailtest.Server, mode mailtest.Mode, store string, keys map[string]string) *properties.Properties {
	p := srv.Properties(mode, store)
	for _, k := range p.Keys() {
		if strings.HasSuffix(k, ".host") {
			p.Set(k, "localhost")
		}
	}
	for _, proto := range []string{"smtp", "pop3", "imap"} {
		for k, v := range keys {
			p.Set("mail."+proto+"."+k, v)
		}
	}
	return p
}

func proxySession(t *testing.T, p *properties.Properties, opts ...Option) *Session {
	t.Helper()
	s, err := FromProperties(p, append([]Option{WithLogger(quietLogger())}, opts...)...)
	if err != nil {
		t.Fatalf("FromProperties: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func sendOne(ctx context.Context, s *Session, subject string) error {
	return s.Send(ctx, &Message{To: []string{mailtest.DefaultUser}, Subject: subject, Text: "through a proxy\n"})
}

// TestProxySendAndStore: a send and a store read go through SOCKS5 and
// through HTTP CONNECT, in every TLS mode; TLS runs in the tunnel and is
// verified against the mail server's name; the proxy gets the name, not an
// address (it resolves it); Basic credentials reach the HTTP proxy.
func TestProxySendAndStore(t *testing.T) {
	for _, kind := range []string{"socks", "http"} {
		for _, mode := range []mailtest.Mode{mailtest.Plain, mailtest.StartTLS, mailtest.ImplicitTLS} {
			for _, store := range []string{"pop3", "imap"} {
				t.Run(kind+"/"+mode.String()+"/"+store, func(t *testing.T) {
					checkNoLeaks(t)
					srv := mailtest.NewServer(t)
					var px *scriptedProxy
					keys := map[string]string{}
					if kind == "socks" {
						px = startProxy(t, socksHandler(socksScript{}))
						keys["socks.host"] = px.addr() // host:port form
					} else {
						px = startProxy(t, httpHandler(httpScript{user: "pxuser", password: "px-secret"}))
						h, port, _ := net.SplitHostPort(px.addr())
						keys["proxy.host"], keys["proxy.port"] = h, port
						keys["proxy.user"], keys["proxy.password"] = "pxuser", "px-secret"
					}
					s := proxySession(t, proxiedProps(srv, mode, store, keys), WithRootCAs(srv.CertPool()))
					ctx := ctxT(t)
					if err := sendOne(ctx, s, "via "+kind); err != nil {
						t.Fatalf("Send: %v", err)
					}
					if got := srv.Received(); len(got) != 1 || !strings.Contains(string(got[0].Data), "via "+kind) {
						t.Fatalf("received %d messages", len(got))
					}
					st, err := s.OpenStore(ctx)
					if err != nil {
						t.Fatalf("OpenStore: %v", err)
					}
					list, err := st.List(ctx)
					if err != nil {
						t.Fatalf("List: %v", err)
					}
					if len(list) != 1 {
						t.Errorf("store lists %d messages, want 1", len(list))
					}
					if err := st.Close(); err != nil {
						t.Errorf("store Close: %v", err)
					}
					for range 2 { // the transport's and the store's connection
						select {
						case r := <-px.reqs:
							if !strings.HasPrefix(r.target, "localhost:") {
								t.Errorf("proxy asked for %q, want the name localhost", r.target)
							}
							if kind == "socks" && r.atyp != 3 {
								t.Errorf("SOCKS address type %d, want 3 (domain name)", r.atyp)
							}
							if kind == "http" {
								want := "Basic " + base64.StdEncoding.EncodeToString([]byte("pxuser:px-secret"))
								if r.auth != want || r.host != r.target {
									t.Errorf("CONNECT auth %q host %q for %q", r.auth, r.host, r.target)
								}
							}
						default:
							t.Fatal("a connection did not go through the proxy")
						}
					}
				})
			}
		}
	}
}

// TestProxyRefusals: every way a proxy can refuse or fail is an error that
// names the proxy and what it said, matches ErrProxy, is temporary or
// permanent as it should be, and never shows the password.
func TestProxyRefusals(t *testing.T) {
	const secret = "px-very-secret"
	tests := []struct {
		name      string
		socks     *socksScript
		http      *httpScript
		creds     bool
		want      string
		temporary bool
	}{
		{name: "http 407 wrong password", http: &httpScript{user: "pxuser", password: "other"}, creds: true, want: "407 Proxy Authentication Required (check the proxy.user and proxy.password keys)"},
		{name: "http 407 no credentials", http: &httpScript{user: "pxuser", password: "other"}, want: "407 Proxy Authentication Required (the proxy wants"},
		{name: "http 403", http: &httpScript{status: "403 Forbidden"}, creds: true, want: "refused: 403 Forbidden"},
		{name: "http 502", http: &httpScript{status: "502 Bad Gateway"}, creds: true, want: "502 Bad Gateway", temporary: true},
		{name: "http not http", http: &httpScript{raw: "SSH-2.0-OpenSSH\r\n\r\n"}, want: "not an HTTP reply"},
		{name: "http closes", http: &httpScript{raw: "HTTP/1.1 200 OK\r\nX-A: b"}, want: "cut short"},
		{name: "http endless line", http: &httpScript{raw: "HTTP/1.1 200 OK\r\nX-A: " + strings.Repeat("a", 5000)}, want: "line is too long"},
		{name: "http endless header", http: &httpScript{raw: "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-A: b\r\n", 200)}, want: "header is too long"},
		{name: "socks not allowed", socks: &socksScript{reply: 2}, want: "connection not allowed by ruleset (reply 2)"},
		{name: "socks refused", socks: &socksScript{reply: 5}, want: "connection refused (reply 5)", temporary: true},
		{name: "socks host unreachable", socks: &socksScript{reply: 4}, want: "host unreachable (reply 4)", temporary: true},
		{name: "socks wants auth", socks: &socksScript{method: 0xFF}, want: "no connection without authentication"},
		{name: "socks v4", socks: &socksScript{raw: []byte{4, 0x5a}}, want: "not a SOCKS5 server"},
		{name: "socks closes", socks: &socksScript{raw: []byte{5}}, want: "the proxy closed the connection", temporary: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := mailtest.NewServer(t)
			keys := map[string]string{}
			var px *scriptedProxy
			var kind string
			if tt.socks != nil {
				px = startProxy(t, socksHandler(*tt.socks))
				keys["socks.host"] = px.addr()
				kind = "SOCKS5 proxy "
			} else {
				px = startProxy(t, httpHandler(*tt.http))
				keys["proxy.host"] = px.addr()
				kind = "HTTP proxy "
				if tt.creds {
					keys["proxy.user"], keys["proxy.password"] = "pxuser", secret
				}
			}
			s := proxySession(t, proxiedProps(srv, mailtest.StartTLS, "", keys), WithRootCAs(srv.CertPool()))
			err := sendOne(ctxT(t), s, "refused")
			if err == nil {
				t.Fatal("Send through a refusing proxy succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) || !strings.Contains(msg, kind+px.addr()) {
				t.Errorf("error %q, want %q naming the %s%s", msg, tt.want, kind, px.addr())
			}
			if strings.Contains(msg, secret) || strings.Contains(msg, base64.StdEncoding.EncodeToString([]byte("pxuser:"+secret))) {
				t.Errorf("the proxy password is in the error: %q", msg)
			}
			if !errors.Is(err, ErrProxy) {
				t.Errorf("errors.Is(%v, ErrProxy) = false", err)
			}
			if IsTemporary(err) != tt.temporary || errors.Is(err, ErrTemporary) != tt.temporary {
				t.Errorf("temporary = %v, want %v (%v)", IsTemporary(err), tt.temporary, err)
			}
			if len(srv.Received()) != 0 {
				t.Error("a message went through a refusing proxy")
			}
		})
	}
}

// TestHTTPConnectKeepsBytesAfterHeader: bytes the proxy sent with its
// header belong to the tunnel and are read first.
func TestHTTPConnectKeepsBytesAfterHeader(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	done := make(chan error, 1)
	go func() {
		defer server.Close()
		br := bufio.NewReader(server)
		if _, err := http.ReadRequest(br); err != nil {
			done <- err
			return
		}
		_, err := io.WriteString(server, "HTTP/1.0 200 Connection established\r\nProxy-Agent: t\r\n\r\n220 hello\r\nmore")
		if err == nil {
			_, err = io.WriteString(server, " and more\r\n")
		}
		done <- err
	}()
	tun, err := httpConnect(client, proxySpec{Kind: proxyHTTP, Host: "px", Port: 1}, "mail.example:25")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(io.LimitReader(tun, int64(len("220 hello\r\nmore and more\r\n"))))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "220 hello\r\nmore and more\r\n" {
		t.Errorf("tunnel read %q", got)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestProxyContextCancel: a proxy that never answers holds the dial only
// until the ctx ends; the error says so.
func TestProxyContextCancel(t *testing.T) {
	for _, kind := range []string{"socks", "http"} {
		t.Run(kind, func(t *testing.T) {
			srv := mailtest.NewServer(t)
			keys := map[string]string{"connectiontimeout": "3600000"}
			var asked chan proxyRequest
			if kind == "socks" {
				// Answer the greeting, then never the CONNECT.
				px := startProxy(t, func(p *scriptedProxy, c net.Conn) {
					var b [3]byte
					io.ReadFull(c, b[:])
					c.Write([]byte{5, 0})
					p.reqs <- proxyRequest{}
					io.Copy(io.Discard, c)
				})
				asked, keys["socks.host"] = px.reqs, px.addr()
			} else {
				px := startProxy(t, httpHandler(httpScript{hang: true}))
				asked, keys["proxy.host"] = px.reqs, px.addr()
			}
			s := proxySession(t, proxiedProps(srv, mailtest.Plain, "", keys))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				<-asked
				cancel()
			}()
			err := sendOne(ctx, s, "cancel")
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Send = %v, want context.Canceled", err)
			}
		})
	}
}

// TestProxyConnectTimeout: the connect timeout bounds the proxy handshake.
func TestProxyConnectTimeout(t *testing.T) {
	srv := mailtest.NewServer(t)
	px := startProxy(t, httpHandler(httpScript{hang: true}))
	s := proxySession(t, proxiedProps(srv, mailtest.Plain, "", map[string]string{"proxy.host": px.addr(), "connectiontimeout": "200"}))
	err := sendOne(ctxT(t), s, "timeout")
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !IsTemporary(err) {
		t.Fatalf("Send = %v, want a temporary timeout", err)
	}
	if !strings.Contains(err.Error(), "HTTP proxy "+px.addr()) {
		t.Errorf("error %q does not name the proxy", err)
	}
}

// TestWithDialerThroughProxy: with proxy keys, the WithDialer dialer
// opens the connection to the proxy, and the handshake runs over it.
func TestWithDialerThroughProxy(t *testing.T) {
	srv := mailtest.NewServer(t)
	px := startProxy(t, socksHandler(socksScript{}))
	var mu sync.Mutex
	var dialed []string
	s := proxySession(t, proxiedProps(srv, mailtest.ImplicitTLS, "", map[string]string{"socks.host": px.addr()}), WithRootCAs(srv.CertPool()),
		WithDialer(func(ctx context.Context, network, addr string) (net.Conn, error) {
			mu.Lock()
			dialed = append(dialed, addr)
			mu.Unlock()
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}))
	if err := sendOne(ctxT(t), s, "composed"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(dialed) != 1 || dialed[0] != px.addr() {
		t.Errorf("WithDialer dialled %v, want the proxy %s", dialed, px.addr())
	}
	if r := <-px.reqs; r.target != net.JoinHostPort("localhost", strconv.Itoa(srv.Ports().SMTPS)) {
		t.Errorf("the proxy was asked for %q", r.target)
	}
}

// TestProxyCleartextAuthRefused: the SOCKS server tunnels a remote-named
// server (to mailtest): no AUTH without TLS, ErrInsecureAuth.
func TestProxyCleartextAuthRefused(t *testing.T) {
	srv := mailtest.NewServer(t)
	px := startProxy(t, func(p *scriptedProxy, c net.Conn) {
		// Answer any CONNECT by tunnelling to mailtest's SMTP port.
		var b [262]byte
		io.ReadFull(c, b[:3])
		c.Write([]byte{5, 0})
		io.ReadFull(c, b[:5])
		io.ReadFull(c, b[:int(b[4])+2])
		up, err := net.Dial("tcp", srv.Addr(srv.Ports().SMTP))
		if err != nil {
			return
		}
		c.Write([]byte{5, 0, 0, 1, 127, 0, 0, 1, 0, 25})
		pipe(c, up)
	})
	p := srv.Properties(mailtest.Plain, "")
	p.Set("mail.smtp.host", "mail.example.com")
	p.Set("mail.smtp.socks.host", px.addr())
	s := proxySession(t, p)
	err := sendOne(ctxT(t), s, "cleartext")
	if !errors.Is(err, ErrInsecureAuth) {
		t.Fatalf("Send = %v, want ErrInsecureAuth", err)
	}
	if count(srv.SMTPCommands(), "AUTH") != 0 {
		t.Errorf("AUTH without TLS through the proxy: %v", srv.SMTPCommands())
	}
}

// TestWithDialerDirect: without proxy keys, the WithDialer dialer connects
// to the server itself, for the transport and the store.
func TestWithDialerDirect(t *testing.T) {
	srv := mailtest.NewServer(t)
	var mu sync.Mutex
	var dialed []string
	s := proxySession(t, srv.Properties(mailtest.StartTLS, "imap"), WithRootCAs(srv.CertPool()),
		WithDialer(func(ctx context.Context, network, addr string) (net.Conn, error) {
			mu.Lock()
			dialed = append(dialed, network+" "+addr)
			mu.Unlock()
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}))
	ctx := ctxT(t)
	if err := sendOne(ctx, s, "dialer"); err != nil {
		t.Fatal(err)
	}
	st, err := s.OpenStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	mu.Lock()
	defer mu.Unlock()
	want := []string{"tcp " + srv.Addr(srv.Ports().SMTP), "tcp " + srv.Addr(srv.Ports().IMAP)}
	if fmt.Sprint(dialed) != fmt.Sprint(want) {
		t.Errorf("dialled %v, want %v", dialed, want)
	}
}

// TestProxySettings: JavaMail's reading of the keys (SocketFetcher), the
// warnings where a key does nothing, and settings errors naming the key.
func TestProxySettings(t *testing.T) {
	tests := []struct {
		name     string
		keys     map[string]string
		want     string // proxy String()
		auth     bool
		warn     string // a warning's key, if any
		errKey   string // a SettingError's key, if any
		proto    string // default smtp
		warnMsg  string
		noDiffer bool // no "differs from JavaMail" warning expected
	}{
		{name: "none", keys: nil, want: "direct"},
		{name: "http default port", keys: map[string]string{"mail.smtp.proxy.host": "px.example"}, want: "HTTP proxy px.example:80"},
		{name: "http host:port", keys: map[string]string{"mail.smtp.proxy.host": "px.example:3128"}, want: "HTTP proxy px.example:3128"},
		{name: "http port key wins", keys: map[string]string{"mail.smtp.proxy.host": "px.example:3128", "mail.smtp.proxy.port": "8080"}, want: "HTTP proxy px.example:8080"},
		{name: "http ipv6", keys: map[string]string{"mail.smtp.proxy.host": "[::1]:3128"}, want: "HTTP proxy [::1]:3128"},
		{name: "http auth", keys: map[string]string{"mail.smtp.proxy.host": "px", "mail.smtp.proxy.user": "u", "mail.smtp.proxy.password": "px-secret-value"}, want: "HTTP proxy px:80", auth: true},
		{name: "http user without password", keys: map[string]string{"mail.smtp.proxy.host": "px", "mail.smtp.proxy.user": "u"}, want: "HTTP proxy px:80", warn: "mail.smtp.proxy.user"},
		{name: "socks default port", keys: map[string]string{"mail.smtp.socks.host": "sx"}, want: "SOCKS5 proxy sx:1080"},
		{name: "socks host:port and port key", keys: map[string]string{"mail.smtp.socks.host": "sx:1", "mail.smtp.socks.port": "2"}, want: "SOCKS5 proxy sx:2"},
		{name: "socks to an IP: nothing to resolve", keys: map[string]string{"mail.smtp.host": "192.0.2.1", "mail.smtp.socks.host": "sx"}, want: "SOCKS5 proxy sx:1080", noDiffer: true},
		{name: "both: http wins", keys: map[string]string{"mail.smtp.socks.host": "sx", "mail.smtp.proxy.host": "px"}, want: "HTTP proxy px:80", warn: "mail.smtp.socks.host", warnMsg: "HTTP proxy wins"},
		{name: "socks with proxy user", keys: map[string]string{"mail.smtp.socks.host": "sx", "mail.smtp.proxy.user": "u"}, want: "SOCKS5 proxy sx:1080", warn: "mail.smtp.proxy.user"},
		{name: "port alone", keys: map[string]string{"mail.smtp.socks.port": "1"}, want: "direct", warn: "mail.smtp.socks.port"},
		{name: "smtps falls back to smtp", proto: "smtps", keys: map[string]string{"mail.transport.protocol": "smtps", "mail.smtp.socks.host": "sx"}, want: "SOCKS5 proxy sx:1080"},
		{name: "bad port in host", keys: map[string]string{"mail.smtp.proxy.host": "px:http"}, errKey: "mail.smtp.proxy.host"},
		{name: "bad port key", keys: map[string]string{"mail.smtp.socks.host": "sx", "mail.smtp.socks.port": "70000"}, errKey: "mail.smtp.socks.port"},
		{name: "bad host", keys: map[string]string{"mail.smtp.socks.host": "user@sx"}, errKey: "mail.smtp.socks.host"},
		{name: "user with colon", keys: map[string]string{"mail.smtp.proxy.host": "px", "mail.smtp.proxy.user": "a:b", "mail.smtp.proxy.password": "p"}, errKey: "mail.smtp.proxy.user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := properties.New()
			p.Set("mail.smtp.host", "mail.example.com")
			for k, v := range tt.keys { // may override the host
				p.Set(k, v)
			}
			s, err := FromProperties(p, WithLogger(quietLogger()))
			if tt.errKey != "" {
				var se *SettingError
				if !errors.As(err, &se) || se.Key != tt.errKey {
					t.Fatalf("FromProperties = %v, want a SettingError for %s", err, tt.errKey)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			px := s.set.transport.Proxy
			if px.String() != tt.want || px.HasAuth != tt.auth {
				t.Errorf("proxy %v auth %v, want %s auth %v", px, px.HasAuth, tt.want, tt.auth)
			}
			if tt.auth {
				for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
					if out := fmt.Sprintf(f, px); strings.Contains(out, px.Password) {
						t.Errorf("%s prints the proxy password: %s", f, out)
					}
				}
			}
			var got []string
			differs := 0
			for _, w := range s.Warnings() {
				if strings.HasPrefix(w.Message, javaMailDiffers) {
					differs++
					continue
				}
				if strings.Contains(w.Key, "proxy") || strings.Contains(w.Key, "socks") {
					got = append(got, w.Key)
					if tt.warnMsg != "" && !strings.Contains(w.Message, tt.warnMsg) {
						t.Errorf("warning %v, want %q", w, tt.warnMsg)
					}
				}
			}
			// Every proxy in use says how it differs from JavaMail (the
			// SOCKS proxy resolves names; any 2xx opens a CONNECT tunnel).
			wantDiffers := 0
			if px.Kind != proxyNone && !tt.noDiffer {
				wantDiffers = 1
			}
			if differs != wantDiffers {
				t.Errorf("%d 'differs from JavaMail' warnings, want %d: %v", differs, wantDiffers, s.Warnings())
			}
			if want := tt.warn; (want == "" && len(got) != 0) || (want != "" && (len(got) != 1 || got[0] != want)) {
				t.Errorf("proxy warnings %v, want [%s]", got, want)
			}
		})
	}
}

// TestProxyKeysDocumented: Keys lists the proxy keys for every protocol and
// Check does not call them unknown.
func TestProxyKeysDocumented(t *testing.T) {
	docs := map[string]string{}
	for _, k := range Keys() {
		docs[k.Name] = k.Doc
	}
	for _, proto := range protocols {
		for _, name := range []string{"proxy.host", "proxy.port", "proxy.user", "proxy.password", "socks.host", "socks.port"} {
			key := "mail." + proto + "." + name
			if docs[key] == "" {
				t.Errorf("Keys() does not document %s", key)
			}
			if !knownKey(key) {
				t.Errorf("%s is reported unknown", key)
			}
		}
	}
}

// TestEmptyProxyHostWarned: an empty proxy host means no proxy here, which
// JavaMail would not do: it is reported.
func TestEmptyProxyHostWarned(t *testing.T) {
	for _, k := range []string{"mail.smtp.proxy.host", "mail.smtp.socks.host"} {
		s := mustSession(t, props(k, ""))
		found := false
		for _, w := range s.Warnings() {
			found = found || (w.Key == k && strings.Contains(w.Message, "empty"))
		}
		if !found || s.set.transport.Proxy.Kind != proxyNone {
			t.Errorf("%s empty: warnings %v, proxy %v", k, s.Warnings(), s.set.transport.Proxy.Kind)
		}
	}
}
