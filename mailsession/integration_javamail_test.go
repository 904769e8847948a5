//go:build integration

// The JavaMail oracle: real JavaMail 1.6 (Debian's libmail-java, javax.mail)
// and Jakarta Mail 2.0 (libjakarta-mail-java, jakarta.mail) under the
// installed Java send with the same .properties file as our session, each
// against its own recording SMTP server, and what each did on the wire is
// compared. Set up with
//
//	.ci/javamail.sh install
//	set -a; eval "$(.ci/javamail.sh env)"; set +a
//	go test -tags integration -count=1 -run TestIntegrationJavaMail ./mailsession/
//
// A missing oracle fails the test; it never skips. Postfix and Dovecot are
// not needed.

package mailsession_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/properties"
)

// oracleServerConfig is what a recording server offers.
type oracleServerConfig struct {
	startTLS bool   // advertise STARTTLS on a plain connection
	implicit bool   // TLS from the first byte (SMTPS)
	noAuth   bool   // do not advertise AUTH
	mechs    string // the AUTH mechanisms advertised (default "PLAIN LOGIN")
	cert     string // "" (trusted, names 127.0.0.1), "wrongname" (trusted, names other.test only), "untrusted" (in no trust store)
}

// oracleCerts are the server certificates a case can choose.
type oracleCerts struct{ good, wrongName, untrusted *tls.Config }

func (c *oracleCerts) pick(name string) *tls.Config {
	switch name {
	case "wrongname":
		return c.wrongName
	case "untrusted":
		return c.untrusted
	}
	return c.good
}

// wireConn is what one client connection did.
type wireConn struct {
	verbs      []string // EHLO / HELO, in order
	name       string   // the first EHLO/HELO argument
	startTLS   bool
	authMech   string
	authUser   string
	mailFrom   string // first MAIL FROM address
	mailParams []string
	rcpts      []string // accepted RCPT addresses
	rcptParams []string // parameters of the first RCPT
	data       bool     // a message was accepted (DATA or BDAT LAST)
	tlsVersion string   // the TLS version negotiated, if any
	rset       bool     // RSET was said
	quit       bool     // QUIT was said
	body8bit   bool     // the message had bytes of 8 bits
}

// oracleServer is a scripted ESMTP server on loopback that records every
// command of every connection.
type oracleServer struct {
	ln    net.Listener
	cfg   oracleServerConfig
	tls   *tls.Config
	mu    sync.Mutex
	conns []*wireConn
	wg    sync.WaitGroup
}

func startOracleServer(t *testing.T, cfg oracleServerConfig, certs *oracleCerts) *oracleServer {
	t.Helper()
	tlsCfg := certs.pick(cfg.cert)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &oracleServer{ln: ln, cfg: cfg, tls: tlsCfg}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(c)
			}()
		}
	}()
	return s
}

func (s *oracleServer) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// stop closes the listener and waits for every connection to end (the
// clients have finished by then; a deadline bounds a stuck one).
func (s *oracleServer) stop() []*wireConn {
	s.ln.Close()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

func (s *oracleServer) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	rec := &wireConn{}
	s.mu.Lock()
	s.conns = append(s.conns, rec)
	s.mu.Unlock()
	// The handler goroutine owns rec until the connection ends; stop reads
	// it only after wg.Wait.
	inTLS := false
	// The TLS version counts once the client says something over TLS: a
	// client that refuses the certificate after the server's side of the
	// handshake (JavaMail's identity and ssl.trust checks) is like one that
	// refuses it during the handshake (ours).
	tlsVersion := ""
	if s.cfg.implicit {
		tc := tls.Server(c, s.tls)
		if tc.Handshake() != nil {
			return
		}
		c, inTLS = tc, true
		tlsVersion = tls.VersionName(tc.ConnectionState().Version)
	}
	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	reply := func(lines ...string) bool {
		for _, l := range lines {
			w.WriteString(l + "\r\n")
		}
		return w.Flush() == nil
	}
	readLine := func() (string, bool) {
		l, err := r.ReadString('\n')
		if err != nil {
			return "", false
		}
		return strings.TrimRight(l, "\r\n"), true
	}
	if !reply("220 oracle.test ESMTP recording") {
		return
	}
	for {
		line, ok := readLine()
		if !ok {
			return
		}
		if tlsVersion != "" {
			rec.tlsVersion = tlsVersion
		}
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		switch verb {
		case "EHLO", "HELO":
			rec.verbs = append(rec.verbs, verb)
			if rec.name == "" {
				rec.name = arg
			}
			if verb == "HELO" {
				reply("250 oracle.test")
				continue
			}
			ext := []string{"oracle.test", "PIPELINING", "8BITMIME", "SIZE 10240000", "DSN", "CHUNKING", "ENHANCEDSTATUSCODES"}
			if !s.cfg.noAuth {
				mechs := s.cfg.mechs
				if mechs == "" {
					mechs = "PLAIN LOGIN"
				}
				ext = append(ext, "AUTH "+mechs)
			}
			if s.cfg.startTLS && !inTLS {
				ext = append(ext, "STARTTLS")
			}
			for i := range ext {
				sep := "-"
				if i == len(ext)-1 {
					sep = " "
				}
				ext[i] = "250" + sep + ext[i]
			}
			reply(ext...)
		case "STARTTLS":
			if !s.cfg.startTLS || inTLS {
				reply("502 5.5.1 no STARTTLS here")
				continue
			}
			rec.startTLS = true
			reply("220 2.0.0 go ahead")
			tc := tls.Server(c, s.tls)
			if tc.Handshake() != nil {
				return
			}
			c, inTLS = tc, true
			tlsVersion = tls.VersionName(tc.ConnectionState().Version)
			r, w = bufio.NewReader(c), bufio.NewWriter(c)
		case "AUTH":
			mech, ir, _ := strings.Cut(arg, " ")
			mech = strings.ToUpper(mech)
			rec.authMech = mech
			offered := s.cfg.mechs
			if offered == "" {
				offered = "PLAIN LOGIN"
			}
			if s.cfg.noAuth || !slices.Contains(strings.Fields(offered), mech) {
				reply("504 5.5.4 mechanism not offered")
				continue
			}
			switch mech {
			case "CRAM-MD5":
				reply("334 " + base64.StdEncoding.EncodeToString([]byte("<1.2@oracle.test>")))
				l, ok := readLine()
				if !ok {
					return
				}
				b, _ := base64.StdEncoding.DecodeString(l)
				rec.authUser, _, _ = strings.Cut(string(b), " ")
			case "PLAIN":
				if ir == "" {
					reply("334 ")
					if ir, ok = readLine(); !ok {
						return
					}
				}
				b, _ := base64.StdEncoding.DecodeString(ir)
				if parts := strings.Split(string(b), "\x00"); len(parts) == 3 {
					rec.authUser = parts[1]
				}
			case "LOGIN":
				if ir == "" {
					reply("334 VXNlcm5hbWU6")
					if ir, ok = readLine(); !ok {
						return
					}
				}
				b, _ := base64.StdEncoding.DecodeString(ir)
				rec.authUser = string(b)
				reply("334 UGFzc3dvcmQ6")
				if _, ok = readLine(); !ok {
					return
				}
			default:
				reply("504 5.5.4 mechanism not offered")
				continue
			}
			reply("235 2.7.0 authenticated")
		case "MAIL":
			addr, params := smtpPath(arg, "FROM:")
			if rec.mailFrom == "" && rec.mailParams == nil {
				rec.mailFrom, rec.mailParams = addr, params
			}
			reply("250 2.1.0 ok")
		case "RCPT":
			addr, params := smtpPath(arg, "TO:")
			if strings.Contains(addr, "refused") {
				reply("550 5.1.1 <" + addr + ">: recipient refused")
				continue
			}
			if len(rec.rcpts) == 0 {
				rec.rcptParams = params
			}
			rec.rcpts = append(rec.rcpts, addr)
			reply("250 2.1.5 ok")
		case "DATA":
			if len(rec.rcpts) == 0 {
				reply("554 5.5.1 no valid recipients")
				continue
			}
			reply("354 end with .")
			for {
				l, ok := readLine()
				if !ok {
					return
				}
				if l == "." {
					break
				}
				if strings.IndexFunc(l, func(r rune) bool { return r >= 0x80 }) >= 0 || !utf8.ValidString(l) {
					rec.body8bit = true
				}
			}
			rec.data = true
			reply("250 2.0.0 queued")
		case "BDAT":
			f := strings.Fields(arg)
			n, err := strconv.Atoi(f[0])
			if err != nil || n < 0 {
				reply("501 5.5.4 bad size")
				return
			}
			if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
				return
			}
			switch {
			case len(rec.rcpts) == 0:
				reply("554 5.5.1 no valid recipients") // RFC 3030: the data is discarded
			case len(f) > 1 && strings.EqualFold(f[1], "LAST"):
				rec.data = true
				reply("250 2.0.0 queued")
			default:
				reply("250 2.0.0 chunk")
			}
		case "RSET", "NOOP":
			if verb == "RSET" {
				rec.rset = true
			}
			reply("250 2.0.0 ok")
		case "QUIT":
			rec.quit = true
			reply("221 2.0.0 bye")
			return
		default:
			reply("500 5.5.2 unknown command")
		}
	}
}

// smtpPath splits "FROM:<a@b> P1 P2" into the address and the parameters.
func smtpPath(arg, prefix string) (string, []string) {
	if len(arg) >= len(prefix) && strings.EqualFold(arg[:len(prefix)], prefix) {
		arg = arg[len(prefix):]
	}
	f := strings.Fields(arg)
	if len(f) == 0 {
		return "", nil
	}
	a := strings.TrimPrefix(f[0], "<")
	if len(f) == 1 || !strings.HasSuffix(a, ">") {
		a = strings.TrimSuffix(a, ">")
	} else {
		a = a[:len(a)-1]
	}
	return a, f[1:]
}

// oracleObserved is one client's behaviour, normalised for comparison.
type oracleObserved struct {
	Reached  string // "primary", "decoy" or "none"
	Greeting string // the EHLO/HELO verbs of the first connection, e.g. "EHLO,EHLO"
	Name     string // EHLO/HELO argument
	StartTLS bool
	TLS      string // TLS version negotiated
	Auth     string // "" (no AUTH) or the user, plus " via <mech>" when the case compares mechanisms
	MailFrom string
	Ret      string // RET= of MAIL FROM
	Params   string // the other MAIL FROM parameters (SIZE without its value), sorted
	Rcpts    string // accepted recipients
	Notify   string // NOTIFY= of the first RCPT, values sorted
	Data     bool   // the message was accepted
	Body8bit bool   // the message was sent with 8-bit bytes
	Rset     bool   // RSET was said
	Quit     bool   // QUIT was said
	Outcome  string // "OK" or "FAIL"
}

func (o oracleObserved) String() string {
	return fmt.Sprintf("reached=%s greeting=%s name=%q starttls=%v tls=%s auth=%q mailfrom=%q ret=%q params=%q rcpts=%q notify=%q data=%v 8bit=%v rset=%v quit=%v outcome=%s",
		o.Reached, o.Greeting, o.Name, o.StartTLS, o.TLS, o.Auth, o.MailFrom, o.Ret, o.Params, o.Rcpts, o.Notify, o.Data, o.Body8bit, o.Rset, o.Quit, o.Outcome)
}

// diff names the fields in which o and p differ.
func (o oracleObserved) diff(p oracleObserved) []string {
	var d []string
	add := func(field string, a, b any) {
		if a != b {
			d = append(d, fmt.Sprintf("%s: %v vs %v", field, a, b))
		}
	}
	add("reached", o.Reached, p.Reached)
	add("greeting", o.Greeting, p.Greeting)
	add("EHLO name", o.Name, p.Name)
	add("STARTTLS", o.StartTLS, p.StartTLS)
	add("TLS version", o.TLS, p.TLS)
	add("AUTH", o.Auth, p.Auth)
	add("MAIL FROM", o.MailFrom, p.MailFrom)
	add("RET", o.Ret, p.Ret)
	add("MAIL FROM parameters", o.Params, p.Params)
	add("RCPT", o.Rcpts, p.Rcpts)
	add("NOTIFY", o.Notify, p.Notify)
	add("message accepted", o.Data, p.Data)
	add("8-bit body", o.Body8bit, p.Body8bit)
	add("RSET", o.Rset, p.Rset)
	add("QUIT", o.Quit, p.Quit)
	add("outcome", o.Outcome, p.Outcome)
	return d
}

func oracleParam(params []string, name string) string {
	for _, p := range params {
		if k, v, ok := strings.Cut(p, "="); ok && strings.EqualFold(k, name) {
			return strings.ToUpper(v)
		}
	}
	return ""
}

func oracleObserve(c oracleCase, primary, decoy []*wireConn, ok bool) oracleObserved {
	o := oracleObserved{Reached: "none", Outcome: "FAIL"}
	if ok {
		o.Outcome = "OK"
	}
	var conn *wireConn
	switch {
	case len(primary) > 0:
		o.Reached, conn = "primary", primary[0]
	case len(decoy) > 0:
		o.Reached, conn = "decoy", decoy[0]
	default:
		return o
	}
	o.Greeting = strings.Join(conn.verbs, ",")
	o.Name = conn.name
	o.StartTLS = conn.startTLS
	o.TLS = conn.tlsVersion
	if conn.authMech != "" {
		o.Auth = conn.authUser
		if c.compareMech {
			o.Auth += " via " + conn.authMech
		}
	}
	o.MailFrom = conn.mailFrom
	o.Ret = oracleParam(conn.mailParams, "RET")
	var params []string
	for _, p := range conn.mailParams {
		k, _, _ := strings.Cut(p, "=")
		switch strings.ToUpper(k) {
		case "RET":
			continue
		case "SIZE":
			p = "SIZE"
		case "BODY":
			// Our engine declares BODY=8BITMIME to a server with
			// 8BITMIME whatever the message (composed 7-bit here); no
			// setting is involved, so it is not compared (see the
			// report of issue 12).
			if strings.EqualFold(p, "BODY=8BITMIME") && !conn.body8bit {
				continue
			}
		}
		params = append(params, p)
	}
	slices.Sort(params)
	o.Params = strings.Join(params, " ")
	o.Rcpts = strings.Join(conn.rcpts, ",")
	if n := oracleParam(conn.rcptParams, "NOTIFY"); n != "" {
		v := strings.Split(n, ",")
		slices.Sort(v)
		o.Notify = strings.Join(v, ",")
	}
	o.Data = conn.data
	o.Body8bit = conn.body8bit
	if c.compareRset {
		// JavaMail says RSET after a failed transaction, we do not
		// (the connection is reset before its next use): compared only
		// where a setting asks for RSET.
		o.Rset = conn.rset
	}
	o.Quit = conn.quit
	return o
}

// oracleCase is one configuration sent by JavaMail, Jakarta Mail and us.
// In props, {port} is the recording server's port and {decoy} the port of
// a second recording server, so the port actually connected to shows.
type oracleCase struct {
	name        string
	props       []string // key=value lines of the .properties file
	srv         oracleServerConfig
	from        string   // the From header; default a@example.com
	noFrom      bool     // no From header: the session's defaults choose
	to          []string // default b@example.org
	compareMech bool     // compare the AUTH mechanism too (JavaMail tries LOGIN first, we PLAIN)
	compareRset bool     // compare whether RSET was said
	warn        string   // a key for which our session must report a Warning
	text        string   // the message text; default "hello\n"
}

func (c oracleCase) body() string {
	if c.text == "" {
		return "hello\n"
	}
	return c.text
}

// oracleAt is the usual endpoint: the recording server on 127.0.0.1.
func oracleAt(extra ...string) []string {
	return append([]string{"mail.smtp.host=127.0.0.1", "mail.smtp.port={port}"}, extra...)
}

const sslFactory = "mail.smtp.socketFactory.class=javax.net.ssl.SSLSocketFactory"

var javaMailCases = []oracleCase{
	{name: "plain defaults (EHLO name without mail.smtp.localhost)", props: oracleAt()},
	{name: "mail.smtp.localhost set", props: oracleAt("mail.smtp.localhost=client.example.com")},
	{name: "ehlo=false says HELO", props: oracleAt("mail.smtp.ehlo=false")},
	{name: "ehlo=FALSE says HELO", props: oracleAt("mail.smtp.ehlo=FALSE")},
	{name: "ehlo=no (default-true key: anything but false is true)", props: oracleAt("mail.smtp.ehlo=no"), warn: "mail.smtp.ehlo"},
	{name: "auth=true with user and password", props: oracleAt("mail.smtp.auth=true", "mail.smtp.user=u1", "mail.smtp.password=secret")},
	{name: "auth=TRUE", props: oracleAt("mail.smtp.auth=TRUE", "mail.smtp.user=u1", "mail.smtp.password=secret")},
	{name: "auth=yes is not true", props: oracleAt("mail.smtp.auth=yes", "mail.smtp.user=u1", "mail.smtp.password=secret"), warn: "mail.smtp.auth"},
	{name: "auth=1 is not true", props: oracleAt("mail.smtp.auth=1", "mail.smtp.user=u1", "mail.smtp.password=secret"), warn: "mail.smtp.auth"},
	{name: "auth='true ' (trailing blank) is not true", props: oracleAt("mail.smtp.auth=true ", "mail.smtp.user=u1", "mail.smtp.password=secret"), warn: "mail.smtp.auth"},
	{name: "auth=true with user and no password is refused before connecting", props: oracleAt("mail.smtp.auth=true", "mail.smtp.user=u1")},
	{name: "auth.mechanisms=LOGIN", props: oracleAt("mail.smtp.auth=true", "mail.smtp.user=u1", "mail.smtp.password=secret", "mail.smtp.auth.mechanisms=LOGIN"), compareMech: true},
	{name: "mail.smtp.user wins over mail.user", props: oracleAt("mail.smtp.auth=true", "mail.user=general", "mail.smtp.user=specific", "mail.smtp.password=secret")},
	{name: "mail.user alone", props: oracleAt("mail.smtp.auth=true", "mail.user=general", "mail.smtp.password=secret")},
	{name: "starttls.enable=true", props: oracleAt("mail.smtp.starttls.enable=true"), srv: oracleServerConfig{startTLS: true}},
	{name: "starttls.enable=yes is not true", props: oracleAt("mail.smtp.starttls.enable=yes"), srv: oracleServerConfig{startTLS: true}, warn: "mail.smtp.starttls.enable"},
	{name: "starttls.enable against a server without STARTTLS says EHLO once", props: oracleAt("mail.smtp.starttls.enable=true")},
	{name: "starttls.required against a server without STARTTLS fails", props: oracleAt("mail.smtp.starttls.enable=true", "mail.smtp.starttls.required=true")},
	{name: "starttls.required=TRUE", props: oracleAt("mail.smtp.starttls.enable=true", "mail.smtp.starttls.required=TRUE"), srv: oracleServerConfig{startTLS: true}},
	{name: "starttls.required=1 is not true", props: oracleAt("mail.smtp.starttls.enable=true", "mail.smtp.starttls.required=1"), warn: "mail.smtp.starttls.required"},
	{name: "port with a trailing blank", props: []string{"mail.smtp.host=127.0.0.1", "mail.smtp.port={port} "}, warn: "mail.smtp.port"},
	{name: "port not a number", props: []string{"mail.smtp.host=127.0.0.1", "mail.smtp.port=twenty-five"}},
	{name: "host with a trailing blank", props: []string{"mail.smtp.host=127.0.0.1 ", "mail.smtp.port={port}"}, warn: "mail.smtp.host"},
	{name: "mail.host alone", props: []string{"mail.host=127.0.0.1", "mail.smtp.port={port}"}},
	{name: "mail.smtp.host wins over mail.host", props: []string{"mail.host=nowhere.invalid", "mail.smtp.host=127.0.0.1", "mail.smtp.port={port}"}},
	{name: "SSLSocketFactory with socketFactory.port and no port", props: []string{"mail.smtp.host=127.0.0.1", sslFactory, "mail.smtp.socketFactory.port={port}"}, srv: oracleServerConfig{implicit: true}},
	{name: "SSLSocketFactory with socketFactory.port and port", props: []string{"mail.smtp.host=127.0.0.1", sslFactory, "mail.smtp.socketFactory.port={port}", "mail.smtp.port={decoy}"}, srv: oracleServerConfig{implicit: true}},
	{name: "SSLSocketFactory with port and no socketFactory.port", props: []string{"mail.smtp.host=127.0.0.1", sslFactory, "mail.smtp.port={port}"}, srv: oracleServerConfig{implicit: true}},
	{name: "ssl.enable with socketFactory.port and port", props: []string{"mail.smtp.host=127.0.0.1", "mail.smtp.ssl.enable=true", "mail.smtp.socketFactory.port={decoy}", "mail.smtp.port={port}"}, srv: oracleServerConfig{implicit: true}},
	{name: "smtps with socketFactory.port and port", props: []string{"mail.transport.protocol=smtps", "mail.smtps.host=127.0.0.1", "mail.smtps.socketFactory.port={decoy}", "mail.smtps.port={port}"}, srv: oracleServerConfig{implicit: true}},
	{name: "socketFactory.port without a factory class, with port", props: []string{"mail.smtp.host=127.0.0.1", "mail.smtp.socketFactory.port={port}", "mail.smtp.port={decoy}"}},
	{name: "socketFactory.port without a factory class, no port", props: []string{"mail.smtp.host=127.0.0.1", "mail.smtp.socketFactory.port={port}"}},
	{name: "mail.transport.protocol=smtps", props: []string{"mail.transport.protocol=smtps", "mail.smtps.host=127.0.0.1", "mail.smtps.port={port}"}, srv: oracleServerConfig{implicit: true}},
	{name: "ssl.enable=true", props: oracleAt("mail.smtp.ssl.enable=true"), srv: oracleServerConfig{implicit: true}},
	{name: "mail.smtp.from wins over mail.from for MAIL FROM", props: oracleAt("mail.from=header@example.com", "mail.smtp.from=bounce@example.com"), noFrom: true},
	{name: "mail.from alone for MAIL FROM", props: oracleAt("mail.from=header@example.com"), noFrom: true},
	{name: "mail.smtp.from with a From header", props: oracleAt("mail.smtp.from=bounce@example.com")},
	{name: "dsn.notify and dsn.ret", props: oracleAt("mail.smtp.dsn.notify=SUCCESS,FAILURE", "mail.smtp.dsn.ret=HDRS")},
	{name: "sendpartial=true with a refused recipient", props: oracleAt("mail.smtp.sendpartial=true"), to: []string{"b@example.org", "refused@example.org"}},
	{name: "sendpartial unset with a refused recipient", props: oracleAt(), to: []string{"b@example.org", "refused@example.org"}},

	// Ports and hosts with mail.transport.protocol=smtps.
	{name: "smtps: mail.smtp.port is not read", props: []string{"mail.transport.protocol=smtps", "mail.smtps.host=127.0.0.1", "mail.smtp.port={port}"}, srv: oracleServerConfig{implicit: true}},
	{name: "smtps: mail.smtps.port wins over mail.smtp.port", props: []string{"mail.transport.protocol=smtps", "mail.smtps.host=127.0.0.1", "mail.smtps.port={port}", "mail.smtp.port={decoy}"}, srv: oracleServerConfig{implicit: true}},
	{name: "smtps: mail.smtp.host is not read", props: []string{"mail.transport.protocol=smtps", "mail.smtp.host=nowhere.invalid", "mail.smtps.port={port}"}, srv: oracleServerConfig{implicit: true}},
	{name: "smtps: mail.host", props: []string{"mail.transport.protocol=smtps", "mail.host=127.0.0.1", "mail.smtps.port={port}"}, srv: oracleServerConfig{implicit: true}},
	{name: "smtps: mail.smtps.user", props: []string{"mail.transport.protocol=smtps", "mail.smtps.host=127.0.0.1", "mail.smtps.port={port}", "mail.smtps.auth=true", "mail.smtps.user=su", "mail.smtps.password=secret"}, srv: oracleServerConfig{implicit: true}},
	{name: "smtps: mail.user", props: []string{"mail.transport.protocol=smtps", "mail.smtps.host=127.0.0.1", "mail.smtps.port={port}", "mail.smtps.auth=true", "mail.user=general", "mail.smtps.password=secret"}, srv: oracleServerConfig{implicit: true}},
	{name: "smtps: mail.smtp.user is not read", props: []string{"mail.transport.protocol=smtps", "mail.smtps.host=127.0.0.1", "mail.smtps.port={port}", "mail.smtps.auth=true", "mail.user=general", "mail.smtp.user=specific", "mail.smtps.password=secret"}, srv: oracleServerConfig{implicit: true}},
	{name: "smtps: mail.smtp.auth is not read", props: []string{"mail.transport.protocol=smtps", "mail.smtps.host=127.0.0.1", "mail.smtps.port={port}", "mail.smtp.auth=true", "mail.smtps.user=su", "mail.smtps.password=secret"}, srv: oracleServerConfig{implicit: true}},
	{name: "transport protocol SMTP in upper case", props: oracleAt("mail.transport.protocol=SMTP")},
	{name: "transport protocol smtp", props: oracleAt("mail.transport.protocol=smtp")},
	{name: "smtps against a plain server fails", props: []string{"mail.transport.protocol=smtps", "mail.smtps.host=127.0.0.1", "mail.smtps.port={port}"}},
	{name: "ssl.enable=false", props: oracleAt("mail.smtp.ssl.enable=false")},

	// STARTTLS combinations.
	{name: "starttls.required without starttls.enable", props: oracleAt("mail.smtp.starttls.required=true"), srv: oracleServerConfig{startTLS: true}},
	{name: "starttls.enable=false, server offers STARTTLS", props: oracleAt("mail.smtp.starttls.enable=false"), srv: oracleServerConfig{startTLS: true}},
	{name: "no starttls keys, server offers STARTTLS", props: oracleAt(), srv: oracleServerConfig{startTLS: true}},
	{name: "starttls.enable with AUTH", props: oracleAt("mail.smtp.starttls.enable=true", "mail.smtp.auth=true", "mail.smtp.user=u1", "mail.smtp.password=secret"), srv: oracleServerConfig{startTLS: true}},
	{name: "starttls.enable with ssl.enable", props: oracleAt("mail.smtp.starttls.enable=true", "mail.smtp.ssl.enable=true"), srv: oracleServerConfig{implicit: true, startTLS: true}},
	{name: "starttls.enable=True", props: oracleAt("mail.smtp.starttls.enable=True"), srv: oracleServerConfig{startTLS: true}},

	// Certificates.
	{name: "STARTTLS, wrong name, checkserveridentity unset", props: oracleAt("mail.smtp.starttls.enable=true"), srv: oracleServerConfig{startTLS: true, cert: "wrongname"}},
	{name: "STARTTLS, wrong name, checkserveridentity=false", props: oracleAt("mail.smtp.starttls.enable=true", "mail.smtp.ssl.checkserveridentity=false"), srv: oracleServerConfig{startTLS: true, cert: "wrongname"}},
	{name: "STARTTLS, wrong name, checkserveridentity=true", props: oracleAt("mail.smtp.starttls.enable=true", "mail.smtp.ssl.checkserveridentity=true"), srv: oracleServerConfig{startTLS: true, cert: "wrongname"}},
	{name: "SMTPS, wrong name, checkserveridentity unset", props: oracleAt("mail.smtp.ssl.enable=true"), srv: oracleServerConfig{implicit: true, cert: "wrongname"}},
	{name: "SMTPS, wrong name, checkserveridentity=true", props: oracleAt("mail.smtp.ssl.enable=true", "mail.smtp.ssl.checkserveridentity=true"), srv: oracleServerConfig{implicit: true, cert: "wrongname"}},
	{name: "SMTPS, untrusted certificate", props: oracleAt("mail.smtp.ssl.enable=true"), srv: oracleServerConfig{implicit: true, cert: "untrusted"}},
	{name: "SMTPS, untrusted certificate, checkserveridentity=false", props: oracleAt("mail.smtp.ssl.enable=true", "mail.smtp.ssl.checkserveridentity=false"), srv: oracleServerConfig{implicit: true, cert: "untrusted"}},
	{name: "SMTPS, untrusted certificate, ssl.trust=*", props: oracleAt("mail.smtp.ssl.enable=true", "mail.smtp.ssl.trust=*"), srv: oracleServerConfig{implicit: true, cert: "untrusted"}, warn: "mail.smtp.ssl.trust"},
	{name: "SMTPS, untrusted certificate, ssl.trust names the host", props: oracleAt("mail.smtp.ssl.enable=true", "mail.smtp.ssl.trust=127.0.0.1"), srv: oracleServerConfig{implicit: true, cert: "untrusted"}, warn: "mail.smtp.ssl.trust"},
	{name: "SMTPS, untrusted certificate, ssl.trust names another host", props: oracleAt("mail.smtp.ssl.enable=true", "mail.smtp.ssl.trust=mail.example.com"), srv: oracleServerConfig{implicit: true, cert: "untrusted"}, warn: "mail.smtp.ssl.trust"},
	{name: "SMTPS, trusted certificate, ssl.trust names another host", props: oracleAt("mail.smtp.ssl.enable=true", "mail.smtp.ssl.trust=mail.example.com"), srv: oracleServerConfig{implicit: true}, warn: "mail.smtp.ssl.trust"},
	{name: "STARTTLS, untrusted certificate, ssl.trust=*", props: oracleAt("mail.smtp.starttls.enable=true", "mail.smtp.ssl.trust=*"), srv: oracleServerConfig{startTLS: true, cert: "untrusted"}, warn: "mail.smtp.ssl.trust"},
	{name: "STARTTLS, untrusted certificate", props: oracleAt("mail.smtp.starttls.enable=true"), srv: oracleServerConfig{startTLS: true, cert: "untrusted"}},
	{name: "SMTPS, ssl.trust list with the host", props: oracleAt("mail.smtp.ssl.enable=true", "mail.smtp.ssl.trust=mail.example.com 127.0.0.1"), srv: oracleServerConfig{implicit: true, cert: "untrusted"}, warn: "mail.smtp.ssl.trust"},

	// TLS protocols.
	{name: "ssl.protocols=TLSv1.2", props: oracleAt("mail.smtp.ssl.enable=true", "mail.smtp.ssl.protocols=TLSv1.2"), srv: oracleServerConfig{implicit: true}},
	{name: "ssl.protocols=TLSv1.2 TLSv1.3", props: oracleAt("mail.smtp.ssl.enable=true", "mail.smtp.ssl.protocols=TLSv1.2 TLSv1.3"), srv: oracleServerConfig{implicit: true}},
	{name: "ssl.protocols=TLSv1.3", props: oracleAt("mail.smtp.ssl.enable=true", "mail.smtp.ssl.protocols=TLSv1.3"), srv: oracleServerConfig{implicit: true}},
	{name: "ssl.protocols=TLSv1", props: oracleAt("mail.smtp.ssl.enable=true", "mail.smtp.ssl.protocols=TLSv1"), srv: oracleServerConfig{implicit: true}},
	{name: "ssl.protocols=TLSv1 TLSv1.2", props: oracleAt("mail.smtp.ssl.enable=true", "mail.smtp.ssl.protocols=TLSv1 TLSv1.2"), srv: oracleServerConfig{implicit: true}},
	{name: "ssl.protocols=TLSv1.2 with STARTTLS", props: oracleAt("mail.smtp.starttls.enable=true", "mail.smtp.ssl.protocols=TLSv1.2"), srv: oracleServerConfig{startTLS: true}},

	// Timeouts.
	{name: "connectiontimeout=0", props: oracleAt("mail.smtp.connectiontimeout=0")},
	{name: "connectiontimeout=-1", props: oracleAt("mail.smtp.connectiontimeout=-1")},
	{name: "connectiontimeout=abc", props: oracleAt("mail.smtp.connectiontimeout=abc")},
	{name: "connectiontimeout='5000 '", props: oracleAt("mail.smtp.connectiontimeout=5000 ")},
	{name: "timeout=0", props: oracleAt("mail.smtp.timeout=0")},
	{name: "timeout=-1", props: oracleAt("mail.smtp.timeout=-1")},
	{name: "timeout=abc", props: oracleAt("mail.smtp.timeout=abc")},
	{name: "writetimeout=5000", props: oracleAt("mail.smtp.writetimeout=5000")},

	// Senders.
	{name: "mail.smtp.from with a display name", props: oracleAt("mail.smtp.from=Bounces <bounce@example.com>"), noFrom: true},
	{name: "mail.smtp.from in angle brackets", props: oracleAt("mail.smtp.from=<bounce@example.com>"), noFrom: true},
	{name: "mail.from with a display name", props: oracleAt("mail.from=Portal <header@example.com>"), noFrom: true},
	{name: "mail.from with a display name and a From header", props: oracleAt("mail.from=Portal <header@example.com>")},
	{name: "From header with a display name", props: oracleAt(), from: "Alice <a@example.com>"},
	{name: "mail.smtp.from with a trailing blank", props: oracleAt("mail.smtp.from=bounce@example.com "), noFrom: true},

	// EHLO name.
	{name: "mail.smtp.localhost with a trailing blank", props: oracleAt("mail.smtp.localhost=client.example.com ")},
	{name: "mail.smtp.localhost blank", props: oracleAt("mail.smtp.localhost= ")},
	{name: "mail.smtp.localhost empty", props: oracleAt("mail.smtp.localhost=")},
	{name: "mail.smtp.localhost with HELO", props: oracleAt("mail.smtp.localhost=client.example.com", "mail.smtp.ehlo=false")},

	// AUTH mechanisms.
	{name: "auth.mechanisms=plain (lower case)", props: oracleAt("mail.smtp.auth=true", "mail.smtp.user=u1", "mail.smtp.password=secret", "mail.smtp.auth.mechanisms=plain"), compareMech: true},
	{name: "auth.mechanisms=PLAIN LOGIN", props: oracleAt("mail.smtp.auth=true", "mail.smtp.user=u1", "mail.smtp.password=secret", "mail.smtp.auth.mechanisms=PLAIN LOGIN"), compareMech: true},
	{name: "auth.mechanisms=PLAIN,LOGIN (comma)", props: oracleAt("mail.smtp.auth=true", "mail.smtp.user=u1", "mail.smtp.password=secret", "mail.smtp.auth.mechanisms=PLAIN,LOGIN"), compareMech: true},
	{name: "auth.mechanisms with an unknown name", props: oracleAt("mail.smtp.auth=true", "mail.smtp.user=u1", "mail.smtp.password=secret", "mail.smtp.auth.mechanisms=GSSAPI LOGIN"), compareMech: true},
	{name: "auth.mechanisms=NTLM only", props: oracleAt("mail.smtp.auth=true", "mail.smtp.user=u1", "mail.smtp.password=secret", "mail.smtp.auth.mechanisms=NTLM"), compareMech: true},
	{name: "auth.login.disable=true", props: oracleAt("mail.smtp.auth=true", "mail.smtp.user=u1", "mail.smtp.password=secret", "mail.smtp.auth.login.disable=true"), compareMech: true},
	{name: "auth.plain.disable=true", props: oracleAt("mail.smtp.auth=true", "mail.smtp.user=u1", "mail.smtp.password=secret", "mail.smtp.auth.plain.disable=true"), compareMech: true},
	{name: "auth.login and auth.plain disabled", props: oracleAt("mail.smtp.auth=true", "mail.smtp.user=u1", "mail.smtp.password=secret", "mail.smtp.auth.login.disable=true", "mail.smtp.auth.plain.disable=true"), compareMech: true},
	{name: "server offers LOGIN only", props: oracleAt("mail.smtp.auth=true", "mail.smtp.user=u1", "mail.smtp.password=secret"), srv: oracleServerConfig{mechs: "LOGIN"}, compareMech: true},
	{name: "server offers PLAIN only", props: oracleAt("mail.smtp.auth=true", "mail.smtp.user=u1", "mail.smtp.password=secret"), srv: oracleServerConfig{mechs: "PLAIN"}, compareMech: true},
	{name: "server offers CRAM-MD5 only", props: oracleAt("mail.smtp.auth=true", "mail.smtp.user=u1", "mail.smtp.password=secret"), srv: oracleServerConfig{mechs: "CRAM-MD5"}, compareMech: true},
	{name: "server offers no AUTH, auth=true", props: oracleAt("mail.smtp.auth=true", "mail.smtp.user=u1", "mail.smtp.password=secret"), srv: oracleServerConfig{noAuth: true}},
	{name: "user and password without auth=true", props: oracleAt("mail.smtp.user=u1", "mail.smtp.password=secret")},
	{name: "auth=true without a user", props: oracleAt("mail.smtp.auth=true", "mail.smtp.password=secret")},
	{name: "auth=false with user and password", props: oracleAt("mail.smtp.auth=false", "mail.smtp.user=u1", "mail.smtp.password=secret")},

	// Delivery options.
	{name: "sendpartial=TRUE with a refused recipient", props: oracleAt("mail.smtp.sendpartial=TRUE"), to: []string{"b@example.org", "refused@example.org"}},
	{name: "sendpartial=yes with a refused recipient", props: oracleAt("mail.smtp.sendpartial=yes"), to: []string{"b@example.org", "refused@example.org"}, warn: "mail.smtp.sendpartial"},
	{name: "every recipient refused, sendpartial=true", props: oracleAt("mail.smtp.sendpartial=true"), to: []string{"refused@example.org"}},
	{name: "dsn.notify=NEVER", props: oracleAt("mail.smtp.dsn.notify=NEVER")},
	{name: "dsn.notify=SUCCESS,FAILURE", props: oracleAt("mail.smtp.dsn.notify=SUCCESS,FAILURE")},
	{name: "dsn.notify lower case", props: oracleAt("mail.smtp.dsn.notify=success,failure")},
	{name: "dsn.notify=FAILURE,DELAY", props: oracleAt("mail.smtp.dsn.notify=FAILURE,DELAY")},
	{name: "dsn.ret=FULL", props: oracleAt("mail.smtp.dsn.ret=FULL")},
	{name: "dsn.ret=hdrs (lower case)", props: oracleAt("mail.smtp.dsn.ret=hdrs"), warn: "mail.smtp.dsn.ret"},
	{name: "quitwait=false", props: oracleAt("mail.smtp.quitwait=false")},
	{name: "rsetbeforequit=true", props: oracleAt("mail.smtp.rsetbeforequit=true"), compareRset: true},
	{name: "rsetbeforequit unset", props: oracleAt(), compareRset: true},
	{name: "reportsuccess=true", props: oracleAt("mail.smtp.reportsuccess=true")},
	{name: "allow8bitmime=true with a non-ASCII body", props: oracleAt("mail.smtp.allow8bitmime=true"), text: "Grüße aus Köln\n"},
	{name: "non-ASCII body without allow8bitmime", props: oracleAt(), text: "Grüße aus Köln\n"},
	{name: "mailextension", props: oracleAt("mail.smtp.mailextension=BY=86400;R")},
	{name: "submitter", props: oracleAt("mail.smtp.auth=true", "mail.smtp.user=u1", "mail.smtp.password=secret", "mail.smtp.submitter=u1@example.com")},
	{name: "noop.strict=false", props: oracleAt("mail.smtp.noop.strict=false")},
	{name: "pipelining is not a JavaMail key", props: oracleAt("mail.smtp.pipelining=false")},

	// mail.debug.
	{name: "mail.debug=true", props: oracleAt("mail.debug=true")},
	{name: "mail.debug=TRUE", props: oracleAt("mail.debug=TRUE")},
	{name: "mail.debug=yes", props: oracleAt("mail.debug=yes"), warn: "mail.debug"},
	{name: "mail.debug.auth=true", props: oracleAt("mail.debug=true", "mail.debug.auth=true", "mail.smtp.auth=true", "mail.smtp.user=u1", "mail.smtp.password=secret")},
}

// javaMailImprovement is a documented difference from JavaMail: what
// JavaMail does, what we do, and how our session tells the operator (a
// Warning for warnKey, or a refusal at construction naming errKey).
type javaMailImprovement struct {
	javaMail, ours string
	warnKey        string
	errKey         string
	// keysDoc: a difference for a key the operator did not write (a
	// default), stated in that key's Keys() entry, which must contain
	// keysDocText.
	keysDoc, keysDocText string
	// sendErr: a difference only the server's answer reveals, reported
	// by Send's error, which must contain this text.
	sendErr string
}

func smtpsAt(extra ...string) []string {
	return append([]string{"mail.transport.protocol=smtps", "mail.smtps.host=127.0.0.1", "mail.smtps.port={port}"}, extra...)
}

var javaMailImprovements = map[string]javaMailImprovement{
	"port not a number": {
		javaMail: "PropUtil ignores the unparsable port and connects to the default port 25",
		ours:     "refuses the configuration at construction, naming the key",
		errKey:   "mail.smtp.port",
	},
	"smtps: mail.smtp.port is not read": {
		javaMail: "reads only mail.smtps.* for smtps and ignores mail.smtp.port",
		ours:     "falls back to mail.smtp.port, with a warning naming it",
		warnKey:  "mail.smtp.port",
	},
	"smtps: mail.smtp.host is not read": {
		javaMail: "reads only mail.smtps.* for smtps and ignores mail.smtp.host",
		ours:     "falls back to mail.smtp.host, with a warning naming it",
		warnKey:  "mail.smtp.host",
	},
	"smtps: mail.smtp.user is not read": {
		javaMail: "reads only mail.smtps.* for smtps and ignores mail.smtp.user",
		ours:     "falls back to mail.smtp.user, with a warning naming it",
		warnKey:  "mail.smtp.user",
	},
	"smtps: mail.smtp.auth is not read": {
		javaMail: "reads only mail.smtps.* for smtps and ignores mail.smtp.auth",
		ours:     "falls back to mail.smtp.auth, with a warning naming it",
		warnKey:  "mail.smtp.auth",
	},
	"transport protocol SMTP in upper case": {
		javaMail: "finds no provider for \"SMTP\" (NoSuchProviderException)",
		ours:     "reads it as smtp, with a warning",
		warnKey:  "mail.transport.protocol",
	},
	"STARTTLS, wrong name, checkserveridentity unset": {
		javaMail: "1.6 and 2.0 check only the chain by default and send to a server whose certificate names another host",
		ours:     "check the host name too by default (ssl.checkserveridentity=false turns it off)",
		keysDoc:  "mail.smtp.ssl.checkserveridentity", keysDocText: "JavaMail 1.6's default is false",
	},
	"SMTPS, wrong name, checkserveridentity unset": {
		javaMail: "1.6 and 2.0 check only the chain by default and send to a server whose certificate names another host",
		ours:     "check the host name too by default (ssl.checkserveridentity=false turns it off)",
		keysDoc:  "mail.smtp.ssl.checkserveridentity", keysDocText: "JavaMail 1.6's default is false",
	},
	"ssl.protocols=TLSv1": {
		javaMail: "connects and fails the handshake (Java 17 disables TLSv1)",
		ours:     "refuses the configuration at construction: no protocol of TLS 1.2 or later",
		errKey:   "mail.smtp.ssl.protocols",
	},
	"connectiontimeout=-1":  {javaMail: "treats a negative timeout as none (waits forever)", ours: "refuses it at construction", errKey: "mail.smtp.connectiontimeout"},
	"timeout=-1":            {javaMail: "treats a negative timeout as none (waits forever)", ours: "refuses it at construction", errKey: "mail.smtp.timeout"},
	"connectiontimeout=abc": {javaMail: "silently uses its default (infinite)", ours: "refuses it at construction", errKey: "mail.smtp.connectiontimeout"},
	"timeout=abc":           {javaMail: "silently uses its default (infinite)", ours: "refuses it at construction", errKey: "mail.smtp.timeout"},
	"mail.smtp.from with a display name": {
		javaMail: "sends MAIL FROM:<Bounces <bounce@example.com>> (servers refuse it)",
		ours:     "send the address only, with a warning",
		warnKey:  "mail.smtp.from",
	},
	"mail.smtp.from with a trailing blank": {
		javaMail: "sends MAIL FROM:<bounce@example.com >",
		ours:     "trim the blank, with a warning",
		warnKey:  "mail.smtp.from",
	},
	"mail.smtp.localhost with a trailing blank": {
		javaMail: "says EHLO with the blank",
		ours:     "trim the blank, with a warning",
		warnKey:  "mail.smtp.localhost",
	},
	"auth.mechanisms=PLAIN,LOGIN (comma)": {
		javaMail: "splits at blanks only, finds no mechanism \"PLAIN,LOGIN\" and fails to authenticate",
		ours:     "split at commas too, with a warning",
		warnKey:  "mail.smtp.auth.mechanisms",
	},
	"auth.mechanisms with an unknown name": {
		javaMail: "skips a mechanism it does not know (GSSAPI) and uses the others",
		ours:     "refuse the configuration at construction, naming the mechanism",
		errKey:   "mail.smtp.auth.mechanisms",
	},
	"auth.mechanisms=NTLM only": {
		javaMail: "connects and fails to authenticate (the server offers no NTLM)",
		ours:     "refuse the configuration at construction: NTLM is not supported",
		errKey:   "mail.smtp.auth.mechanisms",
	},
	"server offers no AUTH, auth=true": {
		javaMail: "sends the message without authenticating",
		ours:     "refuse to send without the authentication asked for (ErrAuth)",
		sendErr:  "server offers no authentication",
	},
	"auth=true without a user": {
		javaMail: "authenticates as the JVM's user.name (here root)",
		ours:     "refuse the configuration at construction: no user set",
		errKey:   "mail.smtp.auth",
	},
	"rsetbeforequit=true": {
		javaMail: "reads rsetbeforequit for POP3 only: no RSET over SMTP",
		ours:     "say RSET before QUIT, as the key's Keys() entry says",
		keysDoc:  "mail.smtp.rsetbeforequit", keysDocText: "JavaMail reads it for POP3 only",
	},
	"reportsuccess=true": {
		javaMail: "throws SMTPAddressSucceededException even when every recipient is accepted",
		ours:     "return nil; the key is reported as not supported",
		warnKey:  "mail.smtp.reportsuccess",
	},
	"allow8bitmime=true with a non-ASCII body": {
		javaMail: "sends the text 8-bit",
		ours:     "send it quoted-printable; the key is reported as not supported",
		warnKey:  "mail.smtp.allow8bitmime",
	},
	"mailextension": {
		javaMail: "appends the value to MAIL FROM",
		ours:     "send no extra parameters; the key is reported as not supported",
		warnKey:  "mail.smtp.mailextension",
	},
	"submitter": {
		javaMail: "sends AUTH=<submitter> with MAIL FROM",
		ours:     "send no AUTH= parameter; the key is reported as not supported",
		warnKey:  "mail.smtp.submitter",
	},
}

// javaMailOracle returns the class paths of the two JavaMail flavours, from
// the environment or from `.ci/javamail.sh env`.
func javaMailOracle(t *testing.T) map[string]string {
	t.Helper()
	if _, err := exec.LookPath("java"); err != nil {
		t.Fatalf("JavaMail oracle: no java on PATH: %v", err)
	}
	cps := map[string]string{"JavaMail 1.6": os.Getenv("JMAIL_JAVAMAIL_CP"), "Jakarta Mail 2.0": os.Getenv("JMAIL_JAKARTAMAIL_CP")}
	if cps["JavaMail 1.6"] == "" || cps["Jakarta Mail 2.0"] == "" {
		out, err := exec.Command("bash", "../.ci/javamail.sh", "env").Output()
		if err != nil {
			t.Fatalf("JavaMail oracle not set up (%v): run .ci/javamail.sh install, then set -a; eval \"$(.ci/javamail.sh env)\"; set +a", err)
		}
		for line := range strings.Lines(string(out)) {
			k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
			switch k {
			case "JMAIL_JAVAMAIL_CP":
				cps["JavaMail 1.6"] = v
			case "JMAIL_JAKARTAMAIL_CP":
				cps["Jakarta Mail 2.0"] = v
			}
		}
	}
	for name, cp := range cps {
		for _, p := range filepath.SplitList(cp) {
			if _, err := os.Stat(p); err != nil {
				t.Fatalf("JavaMail oracle: %s class path: %v (run .ci/javamail.sh install)", name, err)
			}
		}
	}
	return cps
}

// oracleTLS makes the servers' self-signed certificates: one for
// 127.0.0.1 and localhost, one naming other.test only (both in the trust
// stores), and one for 127.0.0.1 in no trust store. It returns them, a
// pool for our session and a PKCS12 trust store for the JVM (made by
// keytool): both clients verify certificates, as they would in
// production, without ssl.trust in the configuration.
func oracleTLS(t *testing.T, dir string) (*oracleCerts, *x509.CertPool, string) {
	t.Helper()
	pool := x509.NewCertPool()
	store := filepath.Join(dir, "oracle-trust.p12")
	mk := func(alias string, ips []net.IP, names []string, trusted bool) *tls.Config {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(time.Now().UnixNano()),
			Subject:               pkix.Name{CommonName: "jmail JavaMail oracle " + alias},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(24 * time.Hour),
			KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			BasicConstraintsValid: true,
			IsCA:                  true,
			IPAddresses:           ips,
			DNSNames:              names,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		if trusted {
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			pool.AddCert(cert)
			pemPath := filepath.Join(dir, "oracle-"+alias+".pem")
			if err := os.WriteFile(pemPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("keytool", "-importcert", "-noprompt", "-alias", alias, "-file", pemPath,
				"-keystore", store, "-storetype", "PKCS12", "-storepass", "changeit").CombinedOutput()
			if err != nil {
				t.Fatalf("keytool: %v\n%s", err, out)
			}
		}
		return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	}
	loop := []net.IP{net.ParseIP("127.0.0.1")}
	certs := &oracleCerts{
		good:      mk("good", loop, []string{"localhost"}, true),
		wrongName: mk("wrongname", nil, []string{"other.test"}, true),
		untrusted: mk("untrusted", loop, []string{"localhost"}, false),
	}
	return certs, pool, store
}

// writeCaseProps writes the case's .properties file with the ports filled in.
func writeCaseProps(t *testing.T, path string, c oracleCase, port, decoy int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("# " + c.name + "\n")
	// JavaMail's timeouts are infinite by default: bound them so that a
	// stuck exchange fails the case instead of hanging the JVM. They come
	// first, so that a case's own value (a later line) wins.
	for _, p := range []string{"smtp", "smtps"} {
		b.WriteString("mail." + p + ".connectiontimeout=10000\nmail." + p + ".timeout=10000\n")
	}
	for _, l := range c.props {
		l = strings.ReplaceAll(l, "{port}", strconv.Itoa(port))
		l = strings.ReplaceAll(l, "{decoy}", strconv.Itoa(decoy))
		b.WriteString(l + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (c oracleCase) sender() string {
	switch {
	case c.noFrom:
		return ""
	case c.from == "":
		return "a@example.com"
	}
	return c.from
}

func (c oracleCase) recipients() []string {
	if len(c.to) == 0 {
		return []string{"b@example.org"}
	}
	return c.to
}

// oursResult is our session's run of a case.
type oursResult struct {
	obs      oracleObserved
	warnings []mailsession.Warning
	buildErr error
	sendErr  error
}

func runJavaMail(t *testing.T, flavour, cp, trustStore, dir string, srvTLS *oracleCerts) (map[string]oracleObserved, map[string]string) {
	t.Helper()
	type running struct{ primary, decoy *oracleServer }
	servers := make([]running, len(javaMailCases))
	var jobs strings.Builder
	files := make([]string, len(javaMailCases))
	for i, c := range javaMailCases {
		servers[i] = running{startOracleServer(t, c.srv, srvTLS), startOracleServer(t, c.srv, srvTLS)}
		files[i] = filepath.Join(dir, fmt.Sprintf("%s-%02d.properties", strings.Fields(flavour)[0], i))
		writeCaseProps(t, files[i], c, servers[i].primary.port(), servers[i].decoy.port())
		fmt.Fprintf(&jobs, "%s\t%s\t%s\t%s\n", files[i], c.sender(), strings.Join(c.recipients(), ","), strings.ReplaceAll(c.body(), "\n", "\\n"))
	}
	jobsFile := filepath.Join(dir, strings.Fields(flavour)[0]+"-jobs.txt")
	if err := os.WriteFile(jobsFile, []byte(jobs.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "java",
		"-Djavax.net.ssl.trustStore="+trustStore, "-Djavax.net.ssl.trustStorePassword=changeit", "-Djavax.net.ssl.trustStoreType=PKCS12",
		"-cp", cp, "JavaMailSend", jobsFile)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s harness: %v\n%s", flavour, err, stderr.String())
	}
	results := map[string]string{}
	for line := range strings.Lines(string(out)) {
		file, res, ok := strings.Cut(strings.TrimRight(line, "\n"), "\t")
		if ok {
			results[file] = res
		}
	}
	obs := map[string]oracleObserved{}
	msgs := map[string]string{}
	for i, c := range javaMailCases {
		res, ok := results[files[i]]
		if !ok {
			t.Fatalf("%s harness printed no result for %q:\n%s\n%s", flavour, c.name, out, stderr.String())
		}
		primary, decoy := servers[i].primary.stop(), servers[i].decoy.stop()
		obs[c.name] = oracleObserve(c, primary, decoy, res == "OK")
		msgs[c.name] = res
	}
	return obs, msgs
}

func runOurs(t *testing.T, c oracleCase, dir string, srvTLS *oracleCerts, pool *x509.CertPool) oursResult {
	t.Helper()
	primary, decoy := startOracleServer(t, c.srv, srvTLS), startOracleServer(t, c.srv, srvTLS)
	path := filepath.Join(dir, "ours.properties")
	writeCaseProps(t, path, c, primary.port(), decoy.port())
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := properties.LoadLatin1(f) // as Properties.load(InputStream)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var res oursResult
	s, err := mailsession.FromProperties(p, mailsession.WithRootCAs(pool))
	if err != nil {
		res.buildErr = err
	} else {
		res.warnings = s.Warnings()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		res.sendErr = s.Send(ctx, &mailsession.Message{From: c.sender(), To: c.recipients(), Subject: "oracle", Text: c.body()})
		cancel()
		s.Close()
	}
	res.obs = oracleObserve(c, primary.stop(), decoy.stop(), res.buildErr == nil && res.sendErr == nil)
	return res
}

// reported tells whether our session told the operator about key: a
// Warning for it, or a refusal at construction naming it.
func (r oursResult) reported(key string) bool {
	if slices.ContainsFunc(r.warnings, func(w mailsession.Warning) bool { return w.Key == key }) {
		return true
	}
	var se *mailsession.SettingError
	return errors.As(r.buildErr, &se) && se.Key == key
}

// TestIntegrationJavaMail holds our session against JavaMail 1.6 and
// Jakarta Mail 2.0 on every configuration of javaMailCases: each field of
// what reached the wire must be equal, or the case must be a documented
// improvement that our session reports.
func TestIntegrationJavaMail(t *testing.T) {
	cps := javaMailOracle(t)
	dir := t.TempDir()
	srvTLS, pool, trustStore := oracleTLS(t, dir)

	java := map[string]map[string]oracleObserved{}
	javaMsgs := map[string]map[string]string{}
	flavours := []string{"JavaMail 1.6", "Jakarta Mail 2.0"}
	for _, fl := range flavours {
		java[fl], javaMsgs[fl] = runJavaMail(t, fl, cps[fl], trustStore, dir, srvTLS)
	}
	for _, c := range javaMailCases {
		t.Run(c.name, func(t *testing.T) {
			ours := runOurs(t, c, t.TempDir(), srvTLS, pool)
			t.Logf("config: %q", c.props)
			for _, fl := range flavours {
				t.Logf("%-16s %v  [%s]", fl+":", java[fl][c.name], javaMsgs[fl][c.name])
			}
			t.Logf("%-16s %v  [build: %v; send: %v]", "ours:", ours.obs, ours.buildErr, ours.sendErr)
			if d := java[flavours[0]][c.name].diff(java[flavours[1]][c.name]); len(d) > 0 {
				t.Logf("note: JavaMail 1.6 and Jakarta Mail 2.0 differ: %s", strings.Join(d, "; "))
			}
			if c.warn != "" && !ours.reported(c.warn) {
				t.Errorf("our session reports nothing for %s (warnings: %v; construction: %v)", c.warn, ours.warnings, ours.buildErr)
			}
			imp, documented := javaMailImprovements[c.name]
			if documented {
				t.Logf("documented improvement: JavaMail %s; we %s", imp.javaMail, imp.ours)
				if imp.warnKey != "" && !slices.ContainsFunc(ours.warnings, func(w mailsession.Warning) bool { return w.Key == imp.warnKey }) {
					t.Errorf("improvement not reported: no warning for %s (warnings: %v)", imp.warnKey, ours.warnings)
				}
				if imp.keysDoc != "" && !slices.ContainsFunc(mailsession.Keys(), func(k mailsession.Key) bool {
					return strings.Replace(k.Name, "<p>", "smtp", 1) == imp.keysDoc && strings.Contains(k.Doc, imp.keysDocText)
				}) {
					t.Errorf("improvement not documented: Keys() entry of %s does not say %q", imp.keysDoc, imp.keysDocText)
				}
				if imp.sendErr != "" && (ours.sendErr == nil || !strings.Contains(ours.sendErr.Error(), imp.sendErr)) {
					t.Errorf("improvement not reported: want a Send error saying %q, got %v", imp.sendErr, ours.sendErr)
				}
				if imp.errKey != "" {
					var se *mailsession.SettingError
					if !errors.As(ours.buildErr, &se) || se.Key != imp.errKey {
						t.Errorf("improvement not reported: want a SettingError naming %s, got %v", imp.errKey, ours.buildErr)
					}
				}
				return
			}
			for _, fl := range flavours {
				if d := java[fl][c.name].diff(ours.obs); len(d) > 0 {
					t.Errorf("differs from %s (JavaMail vs ours): %s", fl, strings.Join(d, "; "))
				}
			}
		})
	}
}
