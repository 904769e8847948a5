package mailsession

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/jmailgo/jmail/jndi"
	"github.com/jmailgo/jmail/mailsession/mailtest"
)

const testDKIMDomain, testDKIMSelector = "example.com", "jmail2026"

// testRSAKey is one 2048-bit key for the whole test binary: generating
// one takes a while under the race detector.
var testRSAKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

var testEd25519Key = sync.OnceValue(func() ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
})

// dkimTestKeys are the two kinds of key DKIM signs with.
func dkimTestKeys() []struct {
	name string
	key  crypto.Signer
} {
	return []struct {
		name string
		key  crypto.Signer
	}{{"rsa-2048", testRSAKey()}, {"ed25519", testEd25519Key()}}
}

// dkimShape is a composed shape a signature must survive.
type dkimShape struct {
	Name string
	Msg  func() *Message
}

// dkimShapes are the composed shapes every signature must survive.
func dkimShapes() []dkimShape {
	long := strings.Repeat("a long line without a break, ", 60) // 1,740 characters
	png := []byte("\x89PNG\r\n\x1a\n fake image bytes \x00\x01\x02")
	return []dkimShape{
		{"text", func() *Message { return &Message{Subject: "text", Text: "Hello.\n\nA second paragraph.  \n"} }},
		{"html", func() *Message { return &Message{Subject: "html", HTML: "<p>Hello <b>there</b></p>"} }},
		{"alternative", func() *Message { return &Message{Subject: "both", Text: "Hello", HTML: "<p>Hello</p>"} }},
		{"attachments", func() *Message {
			return &Message{Subject: "files", Text: "see attached", Attachments: []Attachment{
				{Filename: "report.csv", Data: strings.NewReader("a,b\r\n1,2\r\n")},
				{Filename: "blob.bin", Data: bytes.NewReader(bytes.Repeat([]byte{0, 1, 2, 255}, 5000))},
			}}
		}},
		{"inline", func() *Message {
			return &Message{Subject: "inline", Text: "logo", HTML: `<p><img src="cid:logo@example.com"></p>`, Attachments: []Attachment{
				{Filename: "logo.png", ContentID: "logo@example.com", Data: bytes.NewReader(png)},
			}}
		}},
		{"non-ascii-headers", func() *Message {
			return &Message{From: "Zoë Ångström <sender@example.com>", To: []string{"Jürgen Groß <to@elsewhere.example>"},
				Subject: "Grüße aus Köln — ünïcödé, and a subject long enough to be folded over more than one header line",
				Text:    "Ça va? Привет. 日本語."}
		}},
		{"long-lines", func() *Message { return &Message{Subject: "long", Text: long, HTML: "<p>" + long + "</p>"} }},
		{"list-headers", func() *Message {
			return &Message{Subject: "digest", Text: "news", ListID: "Weekly digest <digest.example.com>",
				UnsubscribeURL: "https://example.com/unsub?u=1", UnsubscribeMailto: "unsub@example.com",
				ReplyTo: []string{"replies@example.com"}, Cc: []string{"cc@elsewhere.example"}}
		}},
	}
}

// fillTestMessage gives m the addresses the shapes leave out.
func fillTestMessage(m *Message) *Message {
	if m.From == "" {
		m.From = "Sender <sender@example.com>"
	}
	if len(m.To) == 0 {
		m.To = []string{"to@elsewhere.example"}
	}
	return m
}

// dkimResolver serves the TXT record of key at the test selector.
func dkimResolver(t testing.TB, pub crypto.PublicKey) map[string]string {
	t.Helper()
	rec, err := DKIMRecord(pub)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{testDKIMSelector + "._domainkey." + testDKIMDomain: rec}
}

// verifyGoMsgauth verifies every signature of raw with go-msgauth.
func verifyGoMsgauth(raw []byte, records map[string]string) ([]*dkim.Verification, error) {
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
		LookupTXT: func(domain string) ([]string, error) {
			if r, ok := records[strings.TrimSuffix(domain, ".")]; ok {
				return []string{r}, nil
			}
			return nil, fmt.Errorf("no TXT record for %s", domain)
		},
	})
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, errors.New("no DKIM-Signature")
	}
	for _, v := range vs {
		if v.Err != nil {
			return vs, fmt.Errorf("d=%s: %w", v.Domain, v.Err)
		}
	}
	return vs, nil
}

// debianPython is the interpreter apt installs python3-dkim for: the PATH
// may lead to another one (pyenv) that lacks it.
const debianPython = "/usr/bin/python3"

// haveDKIMPy reports whether Debian's python3-dkim (dkimpy) is installed,
// with python3-nacl for Ed25519.
var haveDKIMPy = sync.OnceValue(func() bool {
	return exec.Command(debianPython, "-c", "import dkim, nacl").Run() == nil
})

// verifyDKIMPy verifies every signature of raw with dkimpy, its resolver
// serving records.
func verifyDKIMPy(t testing.TB, raw []byte, records map[string]string) error {
	t.Helper()
	args := []string{filepath.Join("testdata", "dkimverify.py")}
	for name, rec := range records {
		args = append(args, name+"="+rec)
	}
	cmd := exec.Command(debianPython, args...)
	cmd.Stdin = bytes.NewReader(raw)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("dkimpy: %v: %s", err, out)
	}
	return nil
}

// signatureTags parses the first DKIM-Signature of raw.
func signatureTags(t testing.TB, raw []byte) map[string]string {
	t.Helper()
	head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	unfolded := strings.ReplaceAll(string(head), "\r\n ", " ")
	for _, line := range strings.Split(unfolded, "\r\n") {
		name, value, _ := strings.Cut(line, ":")
		if !strings.EqualFold(name, "DKIM-Signature") {
			continue
		}
		tags := map[string]string{}
		for _, tag := range strings.Split(value, ";") {
			k, v, _ := strings.Cut(tag, "=")
			tags[strings.TrimSpace(k)] = strings.Join(strings.Fields(v), "")
		}
		return tags
	}
	t.Fatalf("no DKIM-Signature in\n%s", head)
	return nil
}

// TestDKIMSignsEveryShape: every composed shape, sent through the
// embedded server with an RSA and an Ed25519 key, arrives with one
// relaxed/relaxed signature that go-msgauth and (when installed) dkimpy
// verify, over the fields that matter with From over-signed; one changed
// byte of the body breaks it.
func TestDKIMSignsEveryShape(t *testing.T) {
	srv := mailtest.NewServer(t)
	for _, k := range dkimTestKeys() {
		s := newTestSession(t, srv, mailtest.Plain, WithDKIM(testDKIMDomain, testDKIMSelector, k.key))
		records := dkimResolver(t, k.key.Public())
		for _, shape := range dkimShapes() {
			t.Run(k.name+"/"+shape.Name, func(t *testing.T) {
				srv.Reset()
				m := fillTestMessage(shape.Msg())
				if err := s.Send(ctxT(t), m); err != nil {
					t.Fatal(err)
				}
				got := srv.Received()
				if len(got) != 1 {
					t.Fatalf("%d messages received", len(got))
				}
				raw := got[0].Data
				if n := bytes.Count(raw, []byte("DKIM-Signature:")); n != 1 {
					t.Fatalf("%d DKIM-Signature fields", n)
				}
				vs, err := verifyGoMsgauth(raw, records)
				if err != nil {
					t.Fatalf("go-msgauth: %v\n%s", err, raw)
				}
				if vs[0].Domain != testDKIMDomain {
					t.Errorf("d=%s", vs[0].Domain)
				}
				tags := signatureTags(t, raw)
				wantAlgo := map[string]string{"rsa-2048": "rsa-sha256", "ed25519": "ed25519-sha256"}[k.name]
				if tags["a"] != wantAlgo || tags["c"] != "relaxed/relaxed" || tags["s"] != testDKIMSelector {
					t.Errorf("a=%s c=%s s=%s", tags["a"], tags["c"], tags["s"])
				}
				h := strings.Split(strings.ToLower(tags["h"]), ":")
				fields := map[string]int{}
				for _, f := range h {
					fields[f]++
				}
				want := []string{"from", "to", "subject", "date", "message-id", "mime-version", "content-type"}
				if m.Cc != nil {
					want = append(want, "cc", "reply-to")
				}
				if m.ListID != "" {
					want = append(want, "list-unsubscribe", "list-unsubscribe-post", "list-id")
				}
				for _, f := range want {
					if fields[f] == 0 {
						t.Errorf("h= lacks %s: %s", f, tags["h"])
					}
				}
				if fields["from"] != 2 {
					t.Errorf("From is in h= %d times, want 2 (over-signed): %s", fields["from"], tags["h"])
				}
				if m.ListID == "" && fields["list-id"] > 0 {
					t.Errorf("h= names an absent field: %s", tags["h"])
				}
				if haveDKIMPy() {
					if err := verifyDKIMPy(t, raw, records); err != nil {
						t.Errorf("%v\n%s", err, raw)
					}
				}
				// The signature can fail: one byte of the body changed.
				i := bytes.Index(raw, []byte("\r\n\r\n")) + 4
				tampered := append([]byte(nil), raw...)
				for ; i < len(tampered); i++ {
					if c := tampered[i]; c >= 'a' && c <= 'y' {
						tampered[i] = c + 1
						break
					}
				}
				if _, err := verifyGoMsgauth(tampered, records); err == nil {
					t.Error("a changed body still verifies")
				}
			})
		}
	}
	if !haveDKIMPy() {
		t.Log("python3-dkim not installed: dkimpy's check runs in the integration suite (.ci/run)")
	}
}

// TestDKIMSendRawAndWriteMessage: SendRaw signs a raw message once; the
// bytes WriteMessage writes carry the signature, and SendRaw does not sign
// them again; a raw message without From is refused before connecting.
func TestDKIMSendRawAndWriteMessage(t *testing.T) {
	srv := mailtest.NewServer(t)
	key := testEd25519Key()
	records := dkimResolver(t, key.Public())
	s := newTestSession(t, srv, mailtest.Plain, WithDKIM(testDKIMDomain, testDKIMSelector, key))

	raw := "From: a@example.com\nTo: b@elsewhere.example\nSubject: raw, LF line ends\n\nbody line  \nlast\n"
	if err := s.SendRaw(ctxT(t), "a@example.com", []string{"b@elsewhere.example"}, strings.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := s.WriteMessage(&buf, fillTestMessage(&Message{Subject: "written", Text: "hello"})); err != nil {
		t.Fatal(err)
	}
	written := buf.String()
	if _, err := verifyGoMsgauth(buf.Bytes(), records); err != nil {
		t.Fatalf("WriteMessage's bytes: %v", err)
	}
	if err := s.SendRaw(ctxT(t), "", []string{"to@elsewhere.example"}, &buf); err != nil {
		t.Fatal(err)
	}
	got := srv.Received()
	if len(got) != 2 {
		t.Fatalf("%d received", len(got))
	}
	for i, g := range got {
		if n := bytes.Count(g.Data, []byte("DKIM-Signature:")); n != 1 {
			t.Errorf("message %d: %d signatures", i, n)
		}
		if _, err := verifyGoMsgauth(g.Data, records); err != nil {
			t.Errorf("message %d: %v", i, err)
		}
	}
	if string(got[1].Data) != written {
		t.Error("SendRaw changed a message it had signed already")
	}

	// Signed already for another selector (a relay's, a rotation):
	// signed again, and both signatures verify.
	other := newTestSession(t, srv, mailtest.Plain, WithDKIM(testDKIMDomain, "other", key))
	buf.Reset()
	if err := other.WriteMessage(&buf, fillTestMessage(&Message{Subject: "two selectors", Text: "hello"})); err != nil {
		t.Fatal(err)
	}
	records["other._domainkey."+testDKIMDomain] = records[testDKIMSelector+"._domainkey."+testDKIMDomain]
	srv.Reset()
	if err := s.SendRaw(ctxT(t), "", []string{"to@elsewhere.example"}, &buf); err != nil {
		t.Fatal(err)
	}
	if got := srv.Received(); len(got) != 1 || bytes.Count(got[0].Data, []byte("DKIM-Signature:")) != 2 {
		t.Error("a message signed for another selector is not signed again")
	} else if vs, err := verifyGoMsgauth(got[0].Data, records); err != nil || len(vs) != 2 {
		t.Errorf("two signatures: %d verified, %v", len(vs), err)
	}

	srv.Reset()
	err := s.SendRaw(ctxT(t), "a@example.com", []string{"b@elsewhere.example"}, strings.NewReader("Subject: no from\r\n\r\nbody\r\n"))
	var se *SendError
	if !errors.Is(err, ErrInvalidMessage) || !errors.As(err, &se) || len(se.Unsent) != 1 {
		t.Errorf("raw message without From: %v", err)
	}
	if n := len(srv.Received()); n != 0 {
		t.Errorf("%d messages delivered", n)
	}
}

// TestDKIMContextEndsSigning: a ctx that ends while a large attachment is
// being composed for signing stops it, and nothing is sent.
func TestDKIMContextEndsSigning(t *testing.T) {
	srv := mailtest.NewServer(t)
	s := newTestSession(t, srv, mailtest.Plain, WithDKIM(testDKIMDomain, testDKIMSelector, testEd25519Key()))
	ctx, cancel := context.WithCancel(context.Background())
	r := &cancelAfterReader{n: 4 << 20, cancelAt: 2 << 20, cancel: cancel}
	err := s.Send(ctx, fillTestMessage(&Message{Subject: "big", Text: "x", Attachments: []Attachment{{Filename: "a.bin", Data: r}}}))
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrTemporary) {
		t.Errorf("Send: %v; want context.Canceled, temporary", err)
	}
	if n := len(srv.Received()); n != 0 {
		t.Errorf("%d messages delivered", n)
	}
}

// cancelAfterReader yields n bytes and calls cancel after cancelAt.
type cancelAfterReader struct {
	n, read, cancelAt int
	cancel            func()
}

func (r *cancelAfterReader) Read(p []byte) (int, error) {
	if r.read >= r.n {
		return 0, errors.New("read past the end")
	}
	if len(p) > r.n-r.read {
		p = p[:r.n-r.read]
	}
	for i := range p {
		p[i] = 'x'
	}
	r.read += len(p)
	if r.read >= r.cancelAt {
		r.cancel()
	}
	return len(p), nil
}

// TestDKIMSpoolLeavesNoFile: a message beyond the in-memory spool goes
// through a temporary file, which is gone after the send.
func TestDKIMSpoolLeavesNoFile(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	srv := mailtest.NewServer(t)
	key := testRSAKey()
	s := newTestSession(t, srv, mailtest.Plain, WithDKIM(testDKIMDomain, testDKIMSelector, key))
	big := bytes.Repeat([]byte("0123456789abcdef"), 3<<16) // 3 MiB
	if err := s.Send(ctxT(t), fillTestMessage(&Message{Subject: "big", Text: "x", Attachments: []Attachment{{Filename: "a.bin", Data: bytes.NewReader(big)}}})); err != nil {
		t.Fatal(err)
	}
	got := srv.Received()
	if len(got) != 1 {
		t.Fatalf("%d received", len(got))
	}
	if _, err := verifyGoMsgauth(got[0].Data, dkimResolver(t, key.Public())); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(tmp)
	if err != nil || len(entries) != 0 {
		t.Errorf("left in TMPDIR: %v %v", entries, err)
	}

	// No temporary directory: a large message fails as temporary, before
	// connecting; a small one still goes, from memory.
	t.Setenv("TMPDIR", filepath.Join(tmp, "missing"))
	srv.Reset()
	err = s.Send(ctxT(t), fillTestMessage(&Message{Subject: "big", Text: "x", Attachments: []Attachment{{Filename: "a.bin", Data: bytes.NewReader(big)}}}))
	var se *SendError
	if !errors.Is(err, ErrTemporary) || !errors.Is(err, os.ErrNotExist) || !errors.As(err, &se) || len(se.Unsent) != 1 {
		t.Errorf("no TMPDIR: %v", err)
	}
	if err := s.Send(ctxT(t), fillTestMessage(&Message{Subject: "small", Text: "x"})); err != nil {
		t.Errorf("small message without TMPDIR: %v", err)
	}
	if n := len(srv.Received()); n != 1 {
		t.Errorf("%d delivered, want the small one", n)
	}
}

// writeKeyFile writes a PEM block to a file of mode 0600 in dir.
func writeKeyFile(t *testing.T, dir, name, typ string, der []byte, headers map[string]string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Headers: headers, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDKIMSettings: the mail.dkim.* keys (also under Liferay's
// mail.session. prefix) build a signer from PKCS#8 and PKCS#1 files;
// a missing, unreadable, short, encrypted or non-DKIM key, a missing
// companion key, a bad name or a header list without From is an error
// naming the key; a From of another domain, a key others may read and a
// header list without a signer are warnings naming the key.
func TestDKIMSettings(t *testing.T) {
	dir := t.TempDir()
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	short, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, _ := x509.MarshalECPrivateKey(ec)
	rsa8 := writeKeyFile(t, dir, "rsa8.pem", "PRIVATE KEY", pkcs8(testRSAKey()), nil)
	rsa1 := writeKeyFile(t, dir, "rsa1.pem", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(testRSAKey()), nil)
	ed := writeKeyFile(t, dir, "ed.pem", "PRIVATE KEY", pkcs8(testEd25519Key()), nil)
	shortFile := writeKeyFile(t, dir, "short.pem", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(short), nil)
	ecFile := writeKeyFile(t, dir, "ec.pem", "EC PRIVATE KEY", ecDER, nil)
	ec8File := writeKeyFile(t, dir, "ec8.pem", "PRIVATE KEY", pkcs8(ec), nil)
	encrypted := writeKeyFile(t, dir, "enc.pem", "RSA PRIVATE KEY", []byte("opaque"), map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"})
	cert := writeKeyFile(t, dir, "cert.pem", "CERTIFICATE", []byte("x"), nil)
	garbage := filepath.Join(dir, "garbage.pem")
	os.WriteFile(garbage, []byte("not a key"), 0o600)
	open := writeKeyFile(t, dir, "open.pem", "PRIVATE KEY", pkcs8(testEd25519Key()), nil)
	os.Chmod(open, 0o644)
	unreadable := filepath.Join(dir, "dir.pem")
	os.Mkdir(unreadable, 0o700)

	base := func(file string, kv ...string) []string {
		return append([]string{"mail.from", "app@example.com", "mail.dkim.domain", "example.com", "mail.dkim.selector", "s1", "mail.dkim.key.file", file}, kv...)
	}
	cases := []struct {
		name    string
		kv      []string
		portal  bool
		errKey  string // the key a SettingError names
		errText string
		warnKey string
		algo    string // a= of the signature when it builds
		headers string // h= expected to contain
	}{
		{name: "rsa pkcs8", kv: base(rsa8), algo: "rsa-sha256"},
		{name: "rsa pkcs1", kv: base(rsa1), algo: "rsa-sha256"},
		{name: "ed25519", kv: base(ed), algo: "ed25519-sha256"},
		{name: "liferay prefix", portal: true, kv: []string{"mail.session.mail.from", "app@example.com", "mail.session.mail.dkim.domain", "example.com",
			"mail.session.mail.dkim.selector", "s1", "mail.session.mail.dkim.key.file", ed}, algo: "ed25519-sha256"},
		{name: "header list", kv: base(ed, "mail.dkim.headers", "from, subject:x-app  date"), algo: "ed25519-sha256", headers: "from:from:subject:date"},
		{name: "subdomain of From", kv: base(ed, "mail.from", "app@mail.example.com"), algo: "ed25519-sha256"},
		{name: "other From domain", kv: base(ed, "mail.from", "app@example.org"), warnKey: "mail.dkim.domain", algo: "ed25519-sha256"},
		{name: "key readable by others", kv: base(open), warnKey: "mail.dkim.key.file", algo: "ed25519-sha256"},
		{name: "headers alone", kv: []string{"mail.dkim.headers", "From"}, warnKey: "mail.dkim.headers"},
		{name: "no selector", kv: []string{"mail.dkim.domain", "example.com", "mail.dkim.key.file", ed}, errKey: "mail.dkim.selector", errText: "missing"},
		{name: "no key file", kv: []string{"mail.dkim.domain", "example.com", "mail.dkim.selector", "s1"}, errKey: "mail.dkim.key.file", errText: "missing"},
		{name: "no domain, liferay prefix", portal: true, kv: []string{"mail.session.mail.dkim.selector", "s1", "mail.session.mail.dkim.key.file", ed},
			errKey: "mail.session.mail.dkim.domain", errText: "missing"},
		{name: "missing file", kv: base(filepath.Join(dir, "nope.pem")), errKey: "mail.dkim.key.file", errText: "no such file"},
		{name: "unreadable file", kv: base(unreadable), errKey: "mail.dkim.key.file", errText: "directory"},
		{name: "short rsa", kv: base(shortFile), errKey: "mail.dkim.key.file", errText: "1024 bits is too short"},
		{name: "ec key", kv: base(ecFile), errKey: "mail.dkim.key.file", errText: "RSA or Ed25519 only"},
		{name: "ec pkcs8", kv: base(ec8File), errKey: "mail.dkim.key.file", errText: "RSA or Ed25519 only"},
		{name: "encrypted", kv: base(encrypted), errKey: "mail.dkim.key.file", errText: "encrypted"},
		{name: "certificate", kv: base(cert), errKey: "mail.dkim.key.file", errText: "not a private key"},
		{name: "not PEM", kv: base(garbage), errKey: "mail.dkim.key.file", errText: "no PEM block"},
		{name: "bad domain", kv: base(ed, "mail.dkim.domain", "exa mple.com"), errKey: "mail.dkim.domain", errText: "not a DNS name"},
		{name: "bad selector", kv: base(ed, "mail.dkim.selector", "s1..x"), errKey: "mail.dkim.selector", errText: "label is empty"},
		{name: "headers without From", kv: base(ed, "mail.dkim.headers", "Subject, Date"), errKey: "mail.dkim.headers", errText: "must include From"},
		{name: "bad header name", kv: base(ed, "mail.dkim.headers", "From, Sübject"), errKey: "mail.dkim.headers", errText: "not valid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s *Session
			var err error
			if c.portal {
				s, err = FromPortalProperties(props(c.kv...), WithLogger(quietLogger()), WithRegistry(jndi.NewRegistry()))
			} else {
				s, err = FromProperties(props(c.kv...), WithLogger(quietLogger()))
			}
			if c.errKey != "" {
				var se *SettingError
				if !errors.As(err, &se) || se.Key != c.errKey || !strings.Contains(err.Error(), c.errText) {
					t.Fatalf("err = %v; want a SettingError for %s saying %q", err, c.errKey, c.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var warned []string
			for _, w := range s.Warnings() {
				if strings.HasPrefix(w.Key, "mail.dkim.") {
					warned = append(warned, w.Key)
				}
			}
			if want := c.warnKey; (want == "") != (len(warned) == 0) || (want != "" && warned[0] != want) {
				t.Errorf("DKIM warnings %v, want %q", warned, want)
			}
			if c.algo == "" {
				if s.set.dkim != nil {
					t.Error("signing without mail.dkim.domain")
				}
				return
			}
			var buf bytes.Buffer
			if err := s.WriteMessage(&buf, &Message{To: []string{"to@elsewhere.example"}, Subject: "s", Text: "t"}); err != nil {
				t.Fatal(err)
			}
			tags := signatureTags(t, buf.Bytes())
			if tags["a"] != c.algo || tags["d"] != "example.com" || tags["s"] != "s1" {
				t.Errorf("a=%s d=%s s=%s", tags["a"], tags["d"], tags["s"])
			}
			if c.headers != "" && strings.ToLower(tags["h"]) != c.headers {
				t.Errorf("h=%s, want %s", tags["h"], c.headers)
			}
			if _, err := verifyGoMsgauth(buf.Bytes(), map[string]string{"s1._domainkey.example.com": mustRecord(t, s.set.dkim.key.Public())}); err != nil {
				t.Error(err)
			}
			if str := s.String(); !strings.Contains(str, "dkim: d=example.com s=s1") || strings.Contains(str, "PRIVATE") {
				t.Errorf("String() = %s", str)
			}
		})
	}
}

func mustRecord(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	r, err := DKIMRecord(pub)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestWithDKIM: the option signs, takes precedence over the keys (with a
// warning), and refuses what the keys refuse.
func TestWithDKIM(t *testing.T) {
	short, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, c := range []struct {
		name    string
		opt     Option
		errText string
	}{
		{"short rsa", WithDKIM("example.com", "s", short), "too short"},
		{"ec", WithDKIM("example.com", "s", ec), "RSA or Ed25519 only"},
		{"nil key", WithDKIM("example.com", "s", nil), "no key"},
		{"no domain", WithDKIM("", "s", testEd25519Key()), "domain"},
		{"no selector", WithDKIM("example.com", "", testEd25519Key()), "selector"},
		{"headers without From", WithDKIM("example.com", "s", testEd25519Key(), "Subject"), "must include From"},
		{"DKIM-Signature signed", WithDKIM("example.com", "s", testEd25519Key(), "From", "DKIM-Signature"), "itself"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.opt, WithLogger(quietLogger()))
			if err == nil || !strings.Contains(err.Error(), "WithDKIM") || !strings.Contains(err.Error(), c.errText) {
				t.Errorf("err = %v; want WithDKIM: …%s…", err, c.errText)
			}
		})
	}
	s, err := FromProperties(props("mail.dkim.domain", "example.org"), WithDKIM("Example.COM.", "s", testEd25519Key()), WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.set.dkim.domain != "example.com" || len(s.Warnings()) != 1 || s.Warnings()[0].Key != "mail.dkim.domain" {
		t.Errorf("domain %q, warnings %v", s.set.dkim.domain, s.Warnings())
	}
	if str := fmt.Sprintf("%+v", s); strings.Contains(str, "PRIVATE") || !strings.Contains(str, "d=example.com s=s") {
		t.Errorf("%%+v = %s", str)
	}
}

// TestDKIMLargeMessageHeap: a signed 100 MB attachment goes out with a
// live heap that stays under 8 MiB above where it started: the message is
// spooled to a file, never held. The live heap after each collection is
// sampled while the send runs (go-msgauth's canonicaliser makes garbage
// in proportion to the body, about twice its size, which the collector
// takes back as it goes: BenchmarkAttachment100MBSigned reports it).
func TestDKIMLargeMessageHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("a 100 MB send")
	}
	const size = 100 << 20
	port := discardServer(t)
	s, err := New(WithHost("127.0.0.1", port), WithLogger(quietLogger()), WithDKIM(testDKIMDomain, testDKIMSelector, testEd25519Key()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	live := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	runtime.GC()
	base := live()
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if v := live(); v > peak.Load() {
					peak.Store(v)
				}
			}
		}
	}()
	err = s.Send(context.Background(), &Message{From: benchFrom, To: []string{benchTo}, Subject: "big", Text: "see attachment",
		Attachments: []Attachment{{Filename: "big.bin", Data: &patternReader{n: size}}}})
	runtime.GC() // one more sample, at the end
	if v := live(); v > peak.Load() {
		peak.Store(v)
	}
	close(stop)
	<-sampled
	if err != nil {
		t.Fatal(err)
	}
	grown := int64(peak.Load()) - int64(base)
	t.Logf("live heap: %d KiB at the start, %d KiB more at the peak", base>>10, grown>>10)
	if grown >= 8<<20 {
		t.Errorf("the live heap grew by %d KiB while sending a signed 100 MB message; want < 8 MiB", grown>>10)
	}
}
