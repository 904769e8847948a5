package mailsession

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// DialFunc opens a network connection, as net.Dialer.DialContext does. See
// WithDialer.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// ErrProxy matches a failure of the proxy named by mail.<p>.proxy.host or
// mail.<p>.socks.host: it refused the tunnel (an HTTP status, a SOCKS reply
// code) or did not speak its protocol. A refusal for a reason that may pass
// (502, 503, 504; SOCKS: network or host unreachable, connection refused,
// TTL expired) also matches ErrTemporary; any other matches ErrPermanent.
var ErrProxy = errors.New("mailsession: proxy failed")

// proxyKind is the kind of proxy an endpoint connects through.
type proxyKind int

const (
	proxyNone   proxyKind = iota
	proxySOCKS5           // mail.<p>.socks.host: SOCKS5, no authentication
	proxyHTTP             // mail.<p>.proxy.host: HTTP CONNECT
)

// proxySpec is how an endpoint reaches its server: directly, through a
// SOCKS5 or HTTP CONNECT proxy, and with the WithDialer dialer (nil:
// net.Dialer) for the TCP connection to the proxy or, without one, to the
// server.
type proxySpec struct {
	Kind     proxyKind
	Host     string
	Port     int
	User     string // HTTP only; Basic authentication when HasAuth
	Password string // secret: never logged, never formatted
	HasAuth  bool   // both proxy.user and proxy.password are set (JavaMail's rule)
	Dial     DialFunc
}

// String describes the proxy without its password.
func (p proxySpec) String() string {
	switch p.Kind {
	case proxySOCKS5:
		return "SOCKS5 proxy " + p.addr()
	case proxyHTTP:
		return "HTTP proxy " + p.addr()
	}
	return "direct"
}

// GoString keeps %#v from printing the password.
func (p proxySpec) GoString() string { return "proxySpec(" + p.String() + ")" }

// Format makes %v and %+v print String, never the fields.
func (p proxySpec) Format(f fmt.State, verb rune) { fmt.Fprint(f, p.String()) }

func (p proxySpec) addr() string { return net.JoinHostPort(p.Host, strconv.Itoa(p.Port)) }

// indirect reports whether the connection's peer address says nothing about
// the server: a proxy or a dialer of the user's is in between.
func (p proxySpec) indirect() bool { return p.Kind != proxyNone || p.Dial != nil }

// javaMailDiffers starts a warning about a documented improvement over
// JavaMail's reading of a proxy key.
const javaMailDiffers = "differs from JavaMail: "

// resolveProxy reads JavaMail's proxy keys for one endpoint, as Angus
// Mail's SocketFetcher.createSocket does: mail.<p>.proxy.host (HTTP
// CONNECT, default port 80, "host:port" accepted, proxy.port wins over the
// port in the host) and, only when no proxy.host is set,
// mail.<p>.socks.host (SOCKS5, default port 1080, the same forms). Basic
// authentication is sent when both proxy.user and proxy.password are set.
// Where we read a key differently from JavaMail, or a key does nothing, it
// adds a Warning.
func resolveProxy(r *propReader, ep *endpoint, c *config, warns *[]Warning) {
	ep.Proxy = proxySpec{Dial: c.dialer}
	warn := func(name, msg string) {
		_, key, _ := r.lookup(name)
		*warns = append(*warns, Warning{key, msg})
	}
	set := func(name string) bool { v, _, ok := r.lookup(name); return ok && v != "" }
	for _, name := range []string{"proxy.host", "socks.host"} {
		if v, _, ok := r.lookup(name); ok && v == "" {
			warn(name, "empty: no proxy is used; JavaMail would try a proxy with an empty host name and fail")
		}
	}

	hostName, portName, kind, defPort := "proxy.host", "proxy.port", proxyHTTP, 80
	if !set("proxy.host") {
		hostName, portName, kind, defPort = "socks.host", "socks.port", proxySOCKS5, 1080
		if !set("socks.host") {
			for _, k := range []string{"proxy.port", "proxy.user", "proxy.password"} {
				if set(k) {
					warn(k, "ignored: no mail."+r.proto+".proxy.host is set (as in JavaMail)")
				}
			}
			if set("socks.port") {
				warn("socks.port", "ignored: no mail."+r.proto+".socks.host is set (as in JavaMail)")
			}
			return
		}
		for _, k := range []string{"proxy.port", "proxy.user", "proxy.password"} {
			if set(k) {
				warn(k, "ignored: no mail."+r.proto+".proxy.host is set; the SOCKS proxy mail."+r.proto+".socks.host is used, without authentication (as in JavaMail)")
			}
		}
	} else if set("socks.host") {
		warn("socks.host", "ignored: mail."+r.proto+".proxy.host is set, and the HTTP proxy wins (as in JavaMail)")
	}

	host, hostKey, _ := r.lookup(hostName)
	port := defPort
	// JavaMail takes "host:port", cutting at the first colon; we take an
	// IPv6 literal too, bare or as "[addr]:port".
	h, ps, hasPort := host, "", false
	if strings.HasPrefix(host, "[") {
		if hh, pp, err := net.SplitHostPort(host); err == nil {
			h, ps, hasPort = hh, pp, true
		} else {
			h = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		}
	} else if strings.Count(host, ":") == 1 {
		h, ps, hasPort = strings.Cut(host, ":")
	}
	if hasPort {
		n, err := strconv.Atoi(ps)
		if err != nil || n < 1 || n > 65535 {
			r.fail(hostKey, host, fmt.Errorf("not host or host:port (the port must be 1..65535)"))
			return
		}
		port = n
	}
	host = h
	if host == "" || strings.ContainsAny(host, " \t\r\n/@[]") {
		r.fail(hostKey, host, fmt.Errorf("not a host name"))
		return
	}
	port = r.integer(portName, port, 1, 65535)
	ep.Proxy.Kind, ep.Proxy.Host, ep.Proxy.Port = kind, host, port
	if kind != proxyHTTP {
		if net.ParseIP(ep.Host) == nil {
			warn(hostName, javaMailDiffers+"the SOCKS proxy resolves the server's name "+ep.Host+" (JavaMail resolves it itself when it can and sends the address)")
		}
		return
	}
	warn(hostName, javaMailDiffers+"any 2xx reply to CONNECT opens the tunnel, as RFC 9110 says (JavaMail takes only 200)")
	user, userKey, userOK := r.lookup("proxy.user")
	pass, _, passOK := r.lookup("proxy.password")
	switch {
	case userOK && passOK:
		if strings.Contains(user, ":") {
			r.fail(userKey, user, fmt.Errorf("a Basic authentication user name cannot contain ':'"))
			return
		}
		if err := checkLine(user); err != nil {
			r.fail(userKey, user, err)
			return
		}
		ep.Proxy.User, ep.Proxy.Password, ep.Proxy.HasAuth = user, pass, true
	case userOK:
		warn("proxy.user", "no proxy.password is set: the proxy is used without authentication (as in JavaMail)")
	case passOK:
		warn("proxy.password", "no proxy.user is set: the proxy is used without authentication (as in JavaMail)")
	}
}

// dialEndpointTCP opens the byte stream to ep's server: directly, through
// its proxy, with the WithDialer dialer for the first hop. The connect
// timeout and ctx bound the whole of it, proxy handshake included; ctx
// ending during the handshake closes the connection. loopback says whether
// the server is on loopback: from the peer address when dialled directly,
// from the host name when a proxy or the user's dialer is in between (the
// peer is then the proxy's address, which tells nothing about the server).
func dialEndpointTCP(ctx context.Context, ep *endpoint) (conn net.Conn, loopback bool, err error) {
	p := ep.Proxy
	target := ep.Addr()
	first := target
	if p.Kind != proxyNone {
		first = p.addr()
	}
	deadline := time.Now().Add(ep.ConnectTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if p.Dial != nil {
		dctx, cancel := context.WithDeadline(ctx, deadline)
		conn, err = p.Dial(dctx, "tcp", first)
		cancel()
		if err == nil && conn == nil {
			err = errors.New("the WithDialer dialer returned no connection")
		}
	} else {
		d := net.Dialer{Deadline: deadline}
		conn, err = d.DialContext(ctx, "tcp", first)
	}
	if err != nil {
		if p.Kind != proxyNone {
			err = fmt.Errorf("connecting to the %s: %w", p, err)
		}
		return nil, false, withContext(ctx, err)
	}
	if !p.indirect() {
		if a, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
			loopback = a.IP.IsLoopback()
		}
		return conn, loopback, nil
	}
	loopback = isLoopbackHost(ep.Host)
	if p.Kind == proxyNone {
		return conn, loopback, nil
	}

	// The handshake: bounded by the deadline, cut by ctx.
	if err := conn.SetDeadline(deadline); err != nil {
		conn.Close()
		return nil, false, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	var tunnel net.Conn
	switch p.Kind {
	case proxySOCKS5:
		tunnel, err = socks5Connect(conn, ep.Host, ep.Port)
	case proxyHTTP:
		tunnel, err = httpConnect(conn, p, target)
	}
	if !stop() {
		err = errors.Join(err, ctx.Err()) // ctx ended: the connection is closed
	}
	if err == nil {
		err = conn.SetDeadline(time.Time{})
	}
	if err != nil {
		conn.Close()
		return nil, false, withContext(ctx, fmt.Errorf("through the %s: %w", p, err))
	}
	return tunnel, loopback, nil
}

// proxyError is a proxy's refusal or protocol violation.
type proxyError struct {
	msg       string
	temporary bool
}

func (e *proxyError) Error() string { return e.msg }

// Is matches ErrProxy, and ErrTemporary or ErrPermanent.
func (e *proxyError) Is(target error) bool {
	switch target {
	case ErrProxy:
		return true
	case ErrTemporary:
		return e.temporary
	case ErrPermanent:
		return !e.temporary
	}
	return false
}

// SOCKS5 (RFC 1928), the no-authentication method only, as JavaMail's
// socks.* keys have no credentials.

var socksReplies = [...]string{
	1: "general SOCKS server failure",
	2: "connection not allowed by ruleset",
	3: "network unreachable",
	4: "host unreachable",
	5: "connection refused",
	6: "TTL expired",
	7: "command not supported",
	8: "address type not supported",
}

// socks5Connect asks the SOCKS5 server on conn for a tunnel to host:port.
// The host goes as a domain name (resolved by the proxy, which is what a
// firewalled network needs) unless it is an IP literal. The reply is read
// to its exact length, so the connection itself is the tunnel.
func socks5Connect(conn net.Conn, host string, port int) (net.Conn, error) {
	if _, err := conn.Write([]byte{5, 1, 0}); err != nil {
		return nil, err
	}
	var b [4]byte
	if _, err := io.ReadFull(conn, b[:2]); err != nil {
		return nil, protoErr("no SOCKS5 greeting reply", err)
	}
	if b[0] != 5 {
		return nil, &proxyError{msg: fmt.Sprintf("not a SOCKS5 server (version %d)", b[0])}
	}
	if b[1] != 0 {
		return nil, &proxyError{msg: "the SOCKS5 server accepts no connection without authentication (JavaMail's socks keys have none)"}
	}
	req := []byte{5, 1, 0}
	if ip := net.ParseIP(host); ip != nil {
		if ip4 := ip.To4(); ip4 != nil {
			req = append(append(req, 1), ip4...)
		} else {
			req = append(append(req, 4), ip.To16()...)
		}
	} else {
		if len(host) > 255 {
			return nil, &proxyError{msg: "host name too long for SOCKS5"}
		}
		req = append(append(req, 3, byte(len(host))), host...)
	}
	req = append(req, byte(port>>8), byte(port))
	if _, err := conn.Write(req); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(conn, b[:4]); err != nil {
		return nil, protoErr("no SOCKS5 CONNECT reply", err)
	}
	if b[0] != 5 {
		return nil, &proxyError{msg: fmt.Sprintf("bad SOCKS5 reply version %d", b[0])}
	}
	if rep := b[1]; rep != 0 {
		text := "unknown reply"
		if int(rep) < len(socksReplies) {
			text = socksReplies[rep]
		}
		return nil, &proxyError{
			msg:       fmt.Sprintf("SOCKS5 CONNECT to %s refused: %s (reply %d)", net.JoinHostPort(host, strconv.Itoa(port)), text, rep),
			temporary: rep >= 3 && rep <= 6,
		}
	}
	var n int
	switch b[3] {
	case 1:
		n = 4
	case 4:
		n = 16
	case 3:
		if _, err := io.ReadFull(conn, b[:1]); err != nil {
			return nil, protoErr("short SOCKS5 reply", err)
		}
		n = int(b[0])
	default:
		return nil, &proxyError{msg: fmt.Sprintf("bad SOCKS5 reply address type %d", b[3])}
	}
	if _, err := io.CopyN(io.Discard, conn, int64(n+2)); err != nil { // BND.ADDR, BND.PORT
		return nil, protoErr("short SOCKS5 reply", err)
	}
	return conn, nil
}

// protoErr is a proxy that hung up or stopped early: a network error stays
// one (temporary); an early end is a proxy failure.
func protoErr(what string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &proxyError{msg: what + ": the proxy closed the connection", temporary: true}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// HTTP CONNECT (RFC 9110 section 9.3.6), as JavaMail's proxyConnect speaks
// it.

const (
	maxProxyHeaderBytes = 16 << 10
	maxProxyHeaderLines = 100
)

// httpConnect asks the HTTP proxy on conn for a tunnel to target. Any 2xx
// status opens the tunnel (RFC 9110; JavaMail takes only 200). Bytes the
// proxy sent after its header already belong to the server: the returned
// connection reads them first.
func httpConnect(conn net.Conn, p proxySpec, target string) (net.Conn, error) {
	var req strings.Builder
	fmt.Fprintf(&req, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n", target, target)
	if p.HasAuth {
		req.WriteString("Proxy-Authorization: Basic ")
		req.WriteString(base64.StdEncoding.EncodeToString([]byte(p.User + ":" + p.Password)))
		req.WriteString("\r\n")
	}
	req.WriteString("Proxy-Connection: keep-alive\r\n\r\n")
	if _, err := io.WriteString(conn, req.String()); err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(&io.LimitedReader{R: conn, N: maxProxyHeaderBytes}, 4096)
	line, err := readProxyLine(br)
	if err != nil {
		return nil, err
	}
	proto, rest, _ := strings.Cut(line, " ")
	code, reason, _ := strings.Cut(strings.TrimLeft(rest, " "), " ")
	status, convErr := strconv.Atoi(code)
	if !strings.HasPrefix(proto, "HTTP/") || convErr != nil || len(code) != 3 {
		return nil, &proxyError{msg: fmt.Sprintf("not an HTTP reply to CONNECT: %q", printable(line, 120))}
	}
	for n := 0; ; n++ {
		if n == maxProxyHeaderLines {
			return nil, &proxyError{msg: "the proxy's reply header is too long"}
		}
		l, err := readProxyLine(br)
		if err != nil {
			return nil, err
		}
		if l == "" {
			break
		}
	}
	if status < 200 || status > 299 {
		msg := fmt.Sprintf("CONNECT %s refused: %d %s", target, status, printable(reason, 120))
		if status == 401 || status == 407 {
			if p.HasAuth {
				msg += " (check the proxy.user and proxy.password keys)"
			} else {
				msg += " (the proxy wants the proxy.user and proxy.password keys)"
			}
		}
		return nil, &proxyError{msg: msg, temporary: status == 502 || status == 503 || status == 504}
	}
	if br.Buffered() == 0 {
		return conn, nil // nothing read ahead: the socket itself is the tunnel
	}
	ahead, _ := br.Peek(br.Buffered())
	return &prereadConn{Conn: conn, ahead: append([]byte(nil), ahead...)}, nil
}

// readProxyLine reads one header line of the proxy's reply, without its
// CRLF, refusing an endless one.
func readProxyLine(br *bufio.Reader) (string, error) {
	line, err := br.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return "", &proxyError{msg: "the proxy's reply header line is too long"}
	case errors.Is(err, io.EOF) && len(line) > 0:
		return "", &proxyError{msg: "the proxy's reply header is too long or cut short"}
	case err != nil:
		return "", protoErr("no reply to CONNECT", err)
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

// printable bounds (to n bytes) and cleans a server's text for an error
// message.
func printable(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) > n {
		s = s[:n] + "..."
	}
	return textproto.TrimString(s)
}

// prereadConn is a tunnel whose first bytes were read with the proxy's
// header: Read returns them before reading the connection again.
type prereadConn struct {
	net.Conn
	ahead []byte
}

func (c *prereadConn) Read(b []byte) (int, error) {
	if len(c.ahead) > 0 {
		n := copy(b, c.ahead)
		c.ahead = c.ahead[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}
