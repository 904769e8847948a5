//go:build integration

// The integration suite runs against real Postfix, Dovecot and Mailpit
// started by .ci/mailservers.sh (see that script for ports, users and
// certificates):
//
//	.ci/mailservers.sh start
//	go test -tags integration -count=1 -run Integration ./mailsession/
//
// A server that cannot be reached fails the suite; it never skips.

package mailsession_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/properties"
)

// itEnv holds the settings printed by `.ci/mailservers.sh env`.
type itEnv map[string]string

var (
	envOnce sync.Once
	envVals itEnv
	envErr  error
)

// stack returns the running servers' settings, read from the environment or
// from $JMAIL_IT_DIR/env (default /tmp/jmail-it/env). It fails the test when
// the settings are missing or a server does not answer.
func stack(t testing.TB) itEnv {
	t.Helper()
	envOnce.Do(func() { envVals, envErr = loadEnv() })
	if envErr != nil {
		t.Fatalf("integration servers not available: %v (run .ci/mailservers.sh start)", envErr)
	}
	return envVals
}

func loadEnv() (itEnv, error) {
	dir := os.Getenv("JMAIL_IT_DIR")
	if dir == "" {
		dir = "/tmp/jmail-it"
	}
	e := itEnv{}
	if data, err := os.ReadFile(filepath.Join(dir, "env")); err == nil {
		for line := range strings.Lines(string(data)) {
			k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
			if ok {
				e[k] = v
			}
		}
	} else if os.Getenv("JMAIL_IT_TRUST") == "" {
		return nil, err
	}
	for _, kv := range os.Environ() { // the environment wins over the file
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "JMAIL_IT_") {
			e[k] = v
		}
	}
	// A session built from plain properties trusts the throwaway CA the
	// way a JVM would through its trust store: Go reads SSL_CERT_FILE when
	// it first verifies a certificate, which no test has done before this
	// runs. The bundle holds the system roots plus the test CA.
	if err := os.Setenv("SSL_CERT_FILE", e["JMAIL_IT_TRUST"]); err != nil {
		return nil, err
	}
	for _, k := range []string{"JMAIL_IT_POSTFIX_RELAY_PORT", "JMAIL_IT_POSTFIX_SUBMISSION_PORT", "JMAIL_IT_POSTFIX_SMTPS_PORT",
		"JMAIL_IT_DOVECOT_POP3_PORT", "JMAIL_IT_DOVECOT_POP3S_PORT", "JMAIL_IT_DOVECOT_IMAP_PORT", "JMAIL_IT_DOVECOT_IMAPS_PORT",
		"JMAIL_IT_MAILPIT_SMTP_PORT", "JMAIL_IT_MAILPIT_POP3_PORT"} {
		addr := net.JoinHostPort(e["JMAIL_IT_HOST"], e[k])
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return nil, fmt.Errorf("%s (%s): %w", k, addr, err)
		}
		c.Close()
	}
	return e, nil
}

func (e itEnv) port(key string) int {
	n, err := strconv.Atoi(e[key])
	if err != nil {
		panic("integration env: " + key + " is not a port: " + e[key])
	}
	return n
}

func (e itEnv) domain() string { return e["JMAIL_IT_DOMAIN"] }

// account is a Dovecot user of the test stack.
type account struct{ addr, password string }

func (e itEnv) user(name string) account {
	return account{name + "@" + e.domain(), name + e["JMAIL_IT_PASSWORD_SUFFIX"]}
}

func (e itEnv) mailpitUser() account {
	return account{e["JMAIL_IT_MAILPIT_USER"], e["JMAIL_IT_MAILPIT_PASSWORD"]}
}

// tlsMode is how a client protects one connection.
type tlsMode int

const (
	plain    tlsMode = iota // no TLS (loopback only)
	startTLS                // plain port, STARTTLS / STLS required
	implicit                // TLS from the first byte (smtps, pop3s, imaps)
)

func (m tlsMode) String() string { return [...]string{"plain", "starttls", "implicit"}[m] }

// endpointSpec is one server a session talks to.
type endpointSpec struct {
	proto string // smtp, pop3 or imap
	host  string
	port  int
	mode  tlsMode
	acct  account // empty: no authentication
}

// postfix returns the Postfix endpoint for mode: the plain relay port
// (no AUTH), submission with STARTTLS, or SMTPS.
func (e itEnv) postfix(host string, mode tlsMode, a account) endpointSpec {
	switch mode {
	case plain:
		return endpointSpec{"smtp", e["JMAIL_IT_HOST"], e.port("JMAIL_IT_POSTFIX_RELAY_PORT"), plain, account{}}
	case startTLS:
		return endpointSpec{"smtp", host, e.port("JMAIL_IT_POSTFIX_SUBMISSION_PORT"), startTLS, a}
	}
	return endpointSpec{"smtp", host, e.port("JMAIL_IT_POSTFIX_SMTPS_PORT"), implicit, a}
}

// dovecot returns the Dovecot endpoint for proto (pop3 or imap) and mode.
func (e itEnv) dovecot(proto, host string, mode tlsMode, a account) endpointSpec {
	key := "JMAIL_IT_DOVECOT_" + strings.ToUpper(proto)
	if mode == implicit {
		key += "S"
	}
	return endpointSpec{proto, host, e.port(key + "_PORT"), mode, a}
}

// javaMailProps writes JavaMail properties (mail.smtp.*, mail.pop3.* ...) as
// a properties file and loads it, as an application would. Both JavaMail
// spellings of implicit TLS are used: the transport as protocol smtps with
// mail.smtps.* keys, the store as mail.<p>.ssl.enable=true on the plain
// protocol name.
func javaMailProps(t testing.TB, smtp endpointSpec, store *endpointSpec, from string) *properties.Properties {
	t.Helper()
	var b strings.Builder
	tp := "smtp"
	if smtp.mode == implicit {
		tp = "smtps"
	}
	fmt.Fprintf(&b, "# JavaMail session properties\nmail.transport.protocol=%s\nmail.from=%s\n", tp, from)
	writeEndpoint(&b, "mail."+tp+".", smtp, false)
	if store != nil {
		fmt.Fprintf(&b, "mail.store.protocol=%s\n", store.proto)
		writeEndpoint(&b, "mail."+store.proto+".", *store, true)
	}
	return loadProps(t, b.String())
}

// portalProps writes a Liferay portal-ext.properties as Liferay documents
// it: mail.session.mail.smtp.* and mail.session.mail.pop3.* keys, "Use a
// secure network connection" as protocol smtps / pop3s with the same keys.
// Liferay has no IMAP fields: an IMAP store is written with JavaMail's
// mail.imap.* keys under the mail.session. prefix.
func portalProps(t testing.TB, smtp endpointSpec, store *endpointSpec, from string) *properties.Properties {
	t.Helper()
	var b strings.Builder
	b.WriteString("# portal-ext.properties\nmail.session.mail=false\n")
	fmt.Fprintf(&b, "mail.session.mail.from=%s\n", from)
	tp := "smtp"
	if smtp.mode == implicit {
		tp = "smtps"
	}
	fmt.Fprintf(&b, "mail.session.mail.transport.protocol=%s\n", tp)
	writeEndpoint(&b, "mail.session.mail.smtp.", smtp, false)
	if store != nil {
		sp := store.proto
		if store.mode == implicit {
			sp += "s"
		}
		fmt.Fprintf(&b, "mail.session.mail.store.protocol=%s\n", sp)
		writeEndpoint(&b, "mail.session.mail."+store.proto+".", *store, false)
	}
	return loadProps(t, b.String())
}

// writeEndpoint writes ep's keys under the prefix p (e.g. "mail.smtp.").
func writeEndpoint(b *strings.Builder, p string, ep endpointSpec, sslEnable bool) {
	fmt.Fprintf(b, "%shost=%s\n%sport=%d\n", p, ep.host, p, ep.port)
	if ep.acct.addr != "" {
		fmt.Fprintf(b, "%suser=%s\n%spassword=%s\n", p, ep.acct.addr, p, escapeProp(ep.acct.password))
		if ep.proto == "smtp" {
			fmt.Fprintf(b, "%sauth=true\n", p)
		}
	}
	switch ep.mode {
	case startTLS:
		fmt.Fprintf(b, "%sstarttls.enable=true\n%sstarttls.required=true\n", p, p)
	case implicit:
		if sslEnable {
			fmt.Fprintf(b, "%sssl.enable=true\n", p)
		}
	}
	fmt.Fprintf(b, "%sconnectiontimeout=10000\n%stimeout=30000\n", p, p)
}

func escapeProp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "=", `\=`, ":", `\:`, "#", `\#`, "!", `\!`).Replace(s)
}

func loadProps(t testing.TB, text string) *properties.Properties {
	t.Helper()
	p, err := properties.Load(strings.NewReader(text))
	if err != nil {
		t.Fatalf("properties.Load:\n%s\n%v", text, err)
	}
	return p
}

// sessionFrom builds a session from p with the constructor for its style.
func sessionFrom(t testing.TB, portal bool, p *properties.Properties, opts ...mailsession.Option) *mailsession.Session {
	t.Helper()
	var (
		s   *mailsession.Session
		err error
	)
	if portal {
		s, err = mailsession.FromPortalProperties(p, opts...)
	} else {
		s, err = mailsession.FromProperties(p, opts...)
	}
	if err != nil {
		t.Fatalf("building session: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testContext(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// mtaTraceHeaders are the header fields, in order, that the Postfix -> LMTP
// -> Dovecot path prepends to a submitted message (see .ci/mailservers.sh).
var mtaTraceHeaders = []string{"Return-Path", "Delivered-To", "Received", "Received"}

// mailpitTraceHeaders are the ones Mailpit prepends.
var mailpitTraceHeaders = []string{"Return-Path", "Received"}

// stripTrace removes exactly the named leading header fields (with their
// folded continuation lines) and fails if they are not there in that order.
func stripTrace(t testing.TB, raw []byte, names []string) []byte {
	t.Helper()
	rest := raw
	for _, name := range names {
		line, after, ok := bytes.Cut(rest, []byte("\n"))
		if !ok {
			t.Fatalf("message ends before trace header %s:\n%s", name, raw)
		}
		field, _, _ := bytes.Cut(line, []byte(":"))
		if !strings.EqualFold(string(field), name) {
			t.Fatalf("want trace header %s, got %q in:\n%.600s", name, line, raw)
		}
		rest = after
		for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
			_, rest, _ = bytes.Cut(rest, []byte("\n"))
		}
	}
	return rest
}

// diff describes where got first differs from want, briefly.
func diff(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := max(0, i-40)
	return fmt.Sprintf("first difference at byte %d of %d (want %d bytes):\n got %q\nwant %q",
		i, len(got), len(want), got[from:min(len(got), i+40)], want[from:min(len(want), i+40)])
}

// headerValue returns the first value of a header field in raw (unfolded).
func headerValue(raw []byte, name string) string {
	hdr, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	var val string
	found := false
	for line := range strings.Lines(string(hdr)) {
		line = strings.TrimRight(line, "\r\n")
		if found {
			if line != "" && (line[0] == ' ' || line[0] == '\t') {
				val += line
				continue
			}
			return strings.TrimSpace(val)
		}
		if f, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(f, name) {
			val, found = v, true
		}
	}
	return strings.TrimSpace(val)
}

// uniq returns a marker unique to this run and name, safe in headers.
func uniq(name string) string {
	return fmt.Sprintf("%s-%d-%d", strings.NewReplacer("/", "-", " ", "-").Replace(name), os.Getpid(), time.Now().UnixNano())
}

// doveadm runs doveadm against the test instance: Dovecot's own count of
// what it stored, independent of the client under test.
func (e itEnv) doveadm(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command("doveadm", append([]string{"-c", e["JMAIL_IT_DOVECOT_CONF"]}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("doveadm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// emptyMailbox expunges every message of the user's INBOX.
func (e itEnv) emptyMailbox(t testing.TB, a account) {
	t.Helper()
	e.doveadm(t, "expunge", "-u", a.addr, "mailbox", "INBOX", "all")
}

// messageCount is Dovecot's count of messages in the user's INBOX.
func (e itEnv) messageCount(t testing.TB, a account) int {
	t.Helper()
	out := strings.TrimSpace(e.doveadm(t, "mailbox", "status", "-u", a.addr, "messages", "INBOX"))
	_, n, ok := strings.Cut(out, "messages=")
	if !ok {
		t.Fatalf("doveadm mailbox status: unexpected output %q", out)
	}
	c, err := strconv.Atoi(strings.TrimSpace(n))
	if err != nil {
		t.Fatalf("doveadm mailbox status: %q: %v", out, err)
	}
	return c
}

// headerValues lists one header's value for every message in the user's
// INBOX, as Dovecot stored them.
func (e itEnv) headerValues(t testing.TB, a account, name string) []string {
	t.Helper()
	out := e.doveadm(t, "fetch", "-u", a.addr, "hdr."+strings.ToLower(name), "mailbox", "INBOX")
	var vals []string
	sc := bufio.NewScanner(strings.NewReader(out))
	prefix := "hdr." + strings.ToLower(name) + ":"
	for sc.Scan() {
		line := strings.TrimLeft(sc.Text(), "\f")
		if v, ok := strings.CutPrefix(line, prefix); ok {
			vals = append(vals, strings.TrimSpace(v))
		}
	}
	return vals
}

// submissions maps each message's X-Jmail-Test value to the Postfix queue
// IDs it was stored under (from Postfix's Received header). One queue ID
// delivered twice is Postfix redelivering after an abrupt stop (at least
// once); two queue IDs are two submissions by the client.
func (e itEnv) submissions(t testing.TB, a account) map[string]map[string]int {
	t.Helper()
	out := e.doveadm(t, "fetch", "-u", a.addr, "hdr.x-jmail-test hdr.received", "mailbox", "INBOX")
	subs := map[string]map[string]int{}
	for rec := range strings.SplitSeq(out, "\f") {
		var seq, qid string
		for line := range strings.Lines(rec) {
			if v, ok := strings.CutPrefix(line, "hdr.x-jmail-test:"); ok {
				seq = strings.TrimSpace(v)
			}
			if _, after, ok := strings.Cut(line, "(Postfix) with "); ok {
				if f := strings.Fields(after); len(f) >= 3 && f[1] == "id" {
					qid = f[2]
				}
			}
		}
		if seq == "" {
			continue
		}
		if qid == "" {
			t.Fatalf("message %s has no Postfix queue id in its Received header:\n%s", seq, rec)
		}
		if subs[seq] == nil {
			subs[seq] = map[string]int{}
		}
		subs[seq][qid]++
	}
	return subs
}

// waitDelivered waits until Dovecot holds want messages for the user and the
// Postfix queue is empty, so nothing more can arrive; it returns the count.
func (e itEnv) waitDelivered(t testing.TB, a account, want int, limit time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		n := e.messageCount(t, a)
		if n >= want && e.postfixQueueEmpty(t) {
			return e.messageCount(t, a)
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v Dovecot holds %d messages for %s, want %d (postfix queue empty: %v)", limit, n, a.addr, want, e.postfixQueueEmpty(t))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (e itEnv) postfixQueueEmpty(t testing.TB) bool {
	t.Helper()
	out, err := exec.Command("postqueue", "-c", e["JMAIL_IT_POSTFIX_CONF"], "-j").CombinedOutput()
	if err != nil {
		t.Fatalf("postqueue -j: %v\n%s", err, out)
	}
	return len(bytes.TrimSpace(out)) == 0
}

// postfixCtl stops (abruptly) or starts the test stack's Postfix.
func (e itEnv) postfixCtl(t testing.TB, action string) {
	t.Helper()
	out, err := exec.Command(e["JMAIL_IT_POSTFIX_CTL"], "postfix", action).CombinedOutput()
	if err != nil {
		t.Fatalf("postfix %s: %v\n%s", action, err, out)
	}
}

// readStore lists the session's store and fetches every message, keyed by
// the given header's value; it fails on a duplicate key.
func readStore(t testing.TB, ctx context.Context, s *mailsession.Session, key string) (map[string][]byte, map[string]string) {
	t.Helper()
	st, err := s.OpenStore(ctx)
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	defer st.Close()
	infos, err := st.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	msgs := map[string][]byte{}
	uids := map[string]string{}
	for _, info := range infos {
		rc, err := st.Fetch(ctx, info.UID)
		if err != nil {
			t.Fatalf("Fetch %s: %v", info.UID, err)
		}
		raw, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("Fetch %s: reading: %v", info.UID, err)
		}
		if int64(len(raw)) != info.Size {
			t.Errorf("message %s: List says %d bytes, Fetch gave %d", info.UID, info.Size, len(raw))
		}
		k := headerValue(raw, key)
		if _, dup := msgs[k]; dup {
			t.Fatalf("two messages with %s %q", key, k)
		}
		msgs[k], uids[k] = raw, info.UID
	}
	return msgs, uids
}

// mailpit is a client of Mailpit's HTTP API.
type mailpit struct{ base string }

func (e itEnv) mailpit() mailpit { return mailpit{e["JMAIL_IT_MAILPIT_HTTP"]} }

func (m mailpit) do(t testing.TB, method, path string, out any) {
	t.Helper()
	req, err := http.NewRequest(method, m.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("mailpit %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("mailpit %s %s: %s %v\n%s", method, path, resp.Status, err, body)
	}
	switch o := out.(type) {
	case nil:
	case *[]byte:
		*o = body
	default:
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("mailpit %s %s: %v\n%s", method, path, err, body)
		}
	}
}

// mailpitSummary is one entry of GET /api/v1/messages.
type mailpitSummary struct {
	ID        string
	MessageID string
	Subject   string
}

// mailpitMessage is GET /api/v1/message/{ID}.
type mailpitMessage struct {
	ID          string
	MessageID   string
	Subject     string
	Text, HTML  string
	From        struct{ Address string }
	To          []struct{ Address string }
	Attachments []struct {
		PartID, FileName, ContentType string
		Size                          int
	}
}

func (m mailpit) deleteAll(t testing.TB) { m.do(t, http.MethodDelete, "/api/v1/messages", nil) }

// find waits for the message whose Subject is subject.
func (m mailpit) find(t testing.TB, subject string) mailpitMessage {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var list struct{ Messages []mailpitSummary }
		m.do(t, http.MethodGet, "/api/v1/messages?limit=500", &list)
		for _, s := range list.Messages {
			if s.Subject == subject {
				var msg mailpitMessage
				m.do(t, http.MethodGet, "/api/v1/message/"+s.ID, &msg)
				return msg
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Mailpit has no message with Subject %q", subject)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (m mailpit) raw(t testing.TB, id string) []byte {
	t.Helper()
	var b []byte
	m.do(t, http.MethodGet, "/api/v1/message/"+id+"/raw", &b)
	return b
}

func (m mailpit) part(t testing.TB, id, part string) []byte {
	t.Helper()
	var b []byte
	m.do(t, http.MethodGet, "/api/v1/message/"+id+"/part/"+part, &b)
	return b
}

// logSize is a server log's current length: what a test adds comes after.
func logSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("log: %v", err)
	}
	return fi.Size()
}

// dovecotLog and postfixLog are the stack's server logs.
func dovecotLog(e itEnv) string { return filepath.Join(e["JMAIL_IT_DIR"], "dovecot", "dovecot.log") }
func postfixLog(e itEnv) string { return filepath.Join(e["JMAIL_IT_DIR"], "postfix", "maillog") }
