package controlpanel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmailgo/jmail/jndi"
	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/mailsession/mailtest"
	"github.com/jmailgo/jmail/properties"
)

// Passwords distinctive enough that finding them in a page is a leak.
const (
	testUser     = "admin@example.com"
	testPassword = "s3cr3t-Pa55-Qx"
)

// fixture is a Mail page over httptest, saving into a temporary
// portal-ext.properties, publishing into its own registry, with an embedded
// mail server to point the settings at.
type fixture struct {
	t      *testing.T
	mail   *mailtest.Server
	reg    *jndi.Registry
	path   string
	h      *Handler
	srv    *httptest.Server
	client *http.Client
}

func newFixture(t *testing.T, file string, opts ...Option) *fixture {
	t.Helper()
	f := &fixture{t: t, reg: jndi.NewRegistry()}
	f.mail = mailtest.NewServer(t, mailtest.WithUser(testUser, testPassword))
	f.path = filepath.Join(t.TempDir(), "portal-ext.properties")
	if file != "" {
		if err := os.WriteFile(f.path, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	base := []Option{WithRegistry(f.reg), WithSessionOptions(mailsession.WithRootCAs(f.mail.CertPool()))}
	h, err := New(f.path, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	t.Cleanup(func() { h.Close() })
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	f.client = f.newClient()
	return f
}

func (f *fixture) newClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar} // follows the 303 after a save, as a browser does
}

// portalFile is a portal-ext.properties pointing at the fixture's server
// (SMTP and POP3, plain ports on loopback) with comments and an unrelated key.
func (f *fixture) portalFile() string {
	p := f.mail.Ports()
	return "# Operator's notes: keep this comment.\n" +
		"company.default.web.id=example.com\n" +
		"\n# Mail\n" +
		"mail.session.mail=true\n" +
		"mail.session.mail.smtp.host=" + f.mail.Host() + "\n" +
		"mail.session.mail.smtp.port=" + strconv.Itoa(p.SMTP) + "\n" +
		"mail.session.mail.smtp.user=" + testUser + "\n" +
		"mail.session.mail.smtp.password=" + testPassword + "\n" +
		"mail.session.mail.transport.protocol=smtp\n" +
		"mail.session.mail.advanced.properties=mail.from=" + testUser + "\n" +
		"# trailing comment\n"
}

// form is a complete Save submission pointing at the fixture's server.
func (f *fixture) form(action string) url.Values {
	p := f.mail.Ports()
	return url.Values{
		"action":       {action},
		fStoreKind:     {"pop3"},
		fStoreHost:     {f.mail.Host()},
		fStorePort:     {strconv.Itoa(p.POP3)},
		fStoreUser:     {testUser},
		fStorePassword: {testPassword},
		fSMTPHost:      {f.mail.Host()},
		fSMTPPort:      {strconv.Itoa(p.SMTP)},
		fSMTPUser:      {testUser},
		fSMTPPassword:  {testPassword},
		fAdvanced:      {"mail.from=" + testUser + "\r\nmail.smtp.connectiontimeout=5000"},
		fJNDIName:      {"mail/MailSession"},
	}
}

var tokenRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// get loads the page and returns its body and CSRF token.
func (f *fixture) get(c *http.Client) (string, string) {
	f.t.Helper()
	resp, err := c.Get(f.srv.URL)
	if err != nil {
		f.t.Fatal(err)
	}
	body := readBody(f.t, resp)
	if resp.StatusCode != http.StatusOK {
		f.t.Fatalf("GET: %s\n%s", resp.Status, body)
	}
	m := tokenRE.FindStringSubmatch(body)
	if m == nil {
		f.t.Fatal("no CSRF token in the page")
	}
	return body, m[1]
}

// post submits form with a fresh token (as a browser would after loading
// the page) and returns the response status and body.
func (f *fixture) post(form url.Values) (int, string) {
	f.t.Helper()
	_, tok := f.get(f.client)
	form.Set(csrfField, tok)
	return f.postRaw(f.client, form, nil)
}

func (f *fixture) postRaw(c *http.Client, form url.Values, header http.Header) (int, string) {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.srv.URL, strings.NewReader(form.Encode()))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp.StatusCode, readBody(f.t, resp)
}

func (f *fixture) file() string {
	f.t.Helper()
	b, err := os.ReadFile(f.path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		f.t.Fatal(err)
	}
	return string(b)
}

func (f *fixture) lookup() *mailsession.Session {
	f.t.Helper()
	s, err := jndi.LookupAs[*mailsession.Session](f.reg, "mail/MailSession")
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestNewRequiresAuthorizer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "portal-ext.properties")
	_, err := New(path, WithRegistry(jndi.NewRegistry()))
	if !errors.Is(err, ErrNoAuthorizer) {
		t.Fatalf("New without an authorizer: err = %v, want ErrNoAuthorizer", err)
	}
	if !strings.Contains(err.Error(), "WithoutAuthorization") {
		t.Errorf("the error should say how to opt out: %v", err)
	}
	h, err := New(path, WithRegistry(jndi.NewRegistry()), WithoutAuthorization())
	if err != nil {
		t.Fatalf("explicit unprotected mode: %v", err)
	}
	h.Close()
}

func TestAuthorizerRefuses(t *testing.T) {
	var calls atomic.Int32
	deny := errors.New("not an administrator: internal detail")
	f := newFixture(t, "", WithAuthorizer(func(r *http.Request) error {
		calls.Add(1)
		if r.Header.Get("X-Test-Admin") == "yes" {
			return nil
		}
		return deny
	}))
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		req, _ := http.NewRequest(method, f.srv.URL, strings.NewReader(f.form("save").Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := f.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s without authorization: %s, want 403", method, resp.Status)
		}
		if strings.Contains(body, "internal detail") || strings.Contains(body, "csrf_token") {
			t.Errorf("%s: refusal leaks the authorizer's error or the form:\n%s", method, body)
		}
		if resp.Header.Get("Set-Cookie") != "" {
			t.Errorf("%s: a refused request got a cookie", method)
		}
	}
	if got := f.file(); got != "" {
		t.Errorf("a refused POST wrote the file:\n%s", got)
	}
	if _, err := f.reg.Lookup("mail/MailSession"); !errors.Is(err, jndi.ErrNameNotFound) {
		t.Errorf("a refused POST published a session: %v", err)
	}
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL, nil)
	req.Header.Set("X-Test-Admin", "yes")
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("authorized GET: %s", resp.Status)
	}
	if calls.Load() != 3 {
		t.Errorf("authorizer called %d times, want 3 (once per request)", calls.Load())
	}
}

func TestCSRFRefusal(t *testing.T) {
	f := newFixture(t, "", WithoutAuthorization())
	_, tok := f.get(f.client)
	other := f.newClient()
	_, otherTok := f.get(other)

	cases := []struct {
		name   string
		token  string
		header http.Header
	}{
		{"no token", "", nil},
		{"forged token", strings.Repeat("A", len(tok)), nil},
		{"token of another browser's cookie", otherTok, nil},
		{"cross-site fetch metadata", tok, http.Header{"Sec-Fetch-Site": {"cross-site"}}},
		{"foreign Origin", tok, http.Header{"Origin": {"https://evil.example"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			form := f.form("save")
			if c.token != "" {
				form.Set(csrfField, c.token)
			}
			status, body := f.postRaw(f.client, form, c.header)
			if status != http.StatusForbidden {
				t.Fatalf("status %d, want 403\n%s", status, body)
			}
		})
	}
	t.Run("token and action in the URL, not the body", func(t *testing.T) {
		form := f.form("")
		form.Del("action")
		req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"?action=save&"+csrfField+"="+url.QueryEscape(tok), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := f.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("status %d, want 403", resp.StatusCode)
		}
	})
	t.Run("GET with the form's fields changes nothing", func(t *testing.T) {
		resp, err := f.client.Get(f.srv.URL + "?" + f.form("save").Encode() + "&" + csrfField + "=" + url.QueryEscape(tok))
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("no cookie", func(t *testing.T) {
		form := f.form("save")
		form.Set(csrfField, tok)
		status, _ := f.postRaw(&http.Client{}, form, nil)
		if status != http.StatusForbidden {
			t.Fatalf("status %d, want 403", status)
		}
	})
	if got := f.file(); got != "" {
		t.Errorf("a refused POST wrote the file:\n%s", got)
	}
	if _, err := f.reg.Lookup("mail/MailSession"); !errors.Is(err, jndi.ErrNameNotFound) {
		t.Errorf("a refused POST published a session: %v", err)
	}
	// The same form with the right token, same-origin, goes through.
	form := f.form("save")
	form.Set(csrfField, tok)
	status, body := f.postRaw(f.client, form, http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {f.srv.URL}})
	if status != http.StatusOK {
		t.Fatalf("valid POST: status %d\n%s", status, body)
	}
}

func TestPageHeadersAndCookie(t *testing.T) {
	f := newFixture(t, "", WithoutAuthorization())
	resp, err := f.client.Get(f.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	h := resp.Header
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "style-src 'sha256-", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "script-src") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP allows scripts or unsafe-inline: %q", csp)
	}
	for k, want := range map[string]string{
		"X-Frame-Options": "DENY", "Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
		"X-Content-Type-Options": "nosniff", "Content-Type": "text/html; charset=utf-8",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	ck := resp.Cookies()
	if len(ck) != 1 || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode {
		t.Errorf("CSRF cookie: %+v, want one HttpOnly SameSite=Strict cookie", ck)
	}
	for _, external := range []string{"<script", "http://", "https://", "<link", "@import", "url("} {
		if strings.Contains(body, external) {
			t.Errorf("the page refers to something outside itself (%q)", external)
		}
	}
	for _, want := range []string{`<label for="smtpHost">`, "<fieldset>", "<legend>Incoming mail</legend>", `aria-live="polite"`, `name="viewport"`,
		// The password fields say they take the token for XOAUTH2.
		"With XOAUTH2 or OAUTHBEARER in mail.smtp.auth.mechanisms (advanced properties), this is the OAuth2 access token"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
}

func TestOtherMethodsAndActionsRefused(t *testing.T) {
	f := newFixture(t, "", WithoutAuthorization())
	req, _ := http.NewRequest(http.MethodPut, f.srv.URL, strings.NewReader("x"))
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD, POST" {
		t.Errorf("PUT: %s, Allow %q", resp.Status, resp.Header.Get("Allow"))
	}
	if status, _ := f.post(url.Values{"action": {"delete-everything"}}); status != http.StatusBadRequest {
		t.Errorf("unknown action: %d, want 400", status)
	}
}

func TestSaveAppliesAndPersistsInPlace(t *testing.T) {
	f := newFixture(t, "", WithoutAuthorization())
	if err := os.WriteFile(f.path, []byte(f.portalFile()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := f.mail.Deliver(testUser, []byte("From: a@example.org\r\nSubject: waiting\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	status, body := f.post(f.form("save"))
	if status != http.StatusOK {
		t.Fatalf("save: %d\n%s", status, body)
	}
	for _, want := range []string{"Saved.", "All servers work", "Outgoing mail (SMTP)", "Incoming mail (POP3)", "Reached: yes",
		"<dt>Messages waiting</dt><dd>1</dd>"} {
		if !strings.Contains(body, want) {
			t.Errorf("response lacks %q", want)
		}
	}
	got := f.file()
	for _, want := range []string{
		"# Operator's notes: keep this comment.\ncompany.default.web.id=example.com\n\n# Mail\n",
		"# trailing comment\n",
		"mail.session.mail.pop3.port=" + strconv.Itoa(f.mail.Ports().POP3) + "\n",
		"mail.session.mail.store.protocol=pop3\n",
		`mail.session.mail.advanced.properties=mail.from\=` + testUser + `\nmail.smtp.connectiontimeout\=5000`,
		"mail.session.jndi.name=mail/MailSession\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("saved file lacks %q:\n%s", want, got)
		}
	}
	p, err := properties.Load(strings.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := p.Get(KeyAdvancedProperties); v != "mail.from="+testUser+"\nmail.smtp.connectiontimeout=5000" {
		t.Errorf("advanced properties read back as %q", v)
	}
	fi, err := os.Stat(f.path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600 kept (it holds passwords)", fi.Mode().Perm())
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(f.path), ".*.tmp"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
	// The published session is the new one and works.
	s := f.lookup()
	if got := s.Property("mail.smtp.connectiontimeout"); got != "5000" {
		t.Errorf("published session's mail.smtp.connectiontimeout = %q", got)
	}
	if err := s.Send(testContext(t), &mailsession.Message{To: []string{"someone@example.org"}, Subject: "hi", Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.mail.WaitReceived(testContext(t), 1); err != nil {
		t.Fatal(err)
	}
	// Reload: the saved values are shown, the password is not.
	page, _ := f.get(f.client)
	if !strings.Contains(page, `value="`+strconv.Itoa(f.mail.Ports().POP3)+`"`) {
		t.Errorf("reloaded page does not show the saved POP3 port")
	}
	if strings.Contains(page, testPassword) {
		t.Errorf("the page contains the stored password")
	}
}

func TestPasswordPlaceholderKeepsStoredPassword(t *testing.T) {
	f := newFixture(t, "", WithoutAuthorization())
	if err := os.WriteFile(f.path, []byte(f.portalFile()), 0o600); err != nil {
		t.Fatal(err)
	}
	page, _ := f.get(f.client)
	if strings.Contains(page, testPassword) {
		t.Fatal("the page contains the stored password")
	}
	if !strings.Contains(page, `type="password" id="smtpPassword" name="smtpPassword" value="`+passwordPlaceholder+`"`) {
		t.Fatalf("the SMTP password field does not show the placeholder:\n%s", page)
	}
	form := f.form("save")
	form.Set(fSMTPPassword, passwordPlaceholder)
	form.Set(fStorePassword, "")
	status, body := f.post(form)
	if status != http.StatusOK {
		t.Fatalf("save: %d\n%s", status, body)
	}
	if strings.Contains(body, testPassword) {
		t.Error("the response contains the password")
	}
	p, err := properties.LoadFile(f.path)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := p.Get(KeySMTPPassword); v != testPassword {
		t.Errorf("stored SMTP password after submitting the placeholder = %q, want the old one kept", v)
	}
	if v, ok := p.Get(KeyPOP3Password); !ok || v != "" {
		t.Errorf("POP3 password after submitting it empty = %q, %v; want cleared", v, ok)
	}
	// The kept password is really used: the check logged in.
	if !strings.Contains(body, "Login: SCRAM-SHA-256") && !strings.Contains(body, "Login: PLAIN") && !strings.Contains(body, "Login: CRAM-MD5") && !strings.Contains(body, "Login: LOGIN") {
		t.Errorf("the check report shows no SMTP login with the kept password:\n%s", body)
	}
}

func TestOutputIsEscaped(t *testing.T) {
	f := newFixture(t, "", WithoutAuthorization())
	form := f.form("save")
	form.Set(fSMTPHost, `<script>alert("host")</script>`)
	form.Set(fStoreUser, `"><img src=x onerror=alert(1)>`)
	form.Set(fAdvanced, "</textarea><script>alert(2)</script>=x")
	form.Set(fJNDIName, `mail/"><b>x`)
	status, body := f.post(form)
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422", status)
	}
	for _, raw := range []string{"<script", "<img", "<b>x", `"><img`, `"><b>`} {
		if strings.Contains(body, raw) {
			t.Errorf("unescaped %q in the page", raw)
		}
	}
	if !strings.Contains(body, "&lt;script&gt;alert(&#34;host&#34;)&lt;/script&gt;") {
		t.Errorf("the submitted host is not shown escaped")
	}
	if got := f.file(); got != "" {
		t.Errorf("an invalid form was saved:\n%s", got)
	}
}

func TestRequestSizeLimit(t *testing.T) {
	f := newFixture(t, "", WithoutAuthorization(), WithMaxRequestBytes(4096))
	form := f.form("save")
	form.Set(fAdvanced, "mail.x="+strings.Repeat("y", 8192))
	status, body := f.post(form)
	if status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413\n%s", status, body)
	}
	if got := f.file(); got != "" {
		t.Errorf("an oversized form was saved")
	}
}

func TestValidationMessagesInline(t *testing.T) {
	f := newFixture(t, "", WithoutAuthorization())
	form := f.form("save")
	form.Set(fSMTPPort, "70000")
	form.Set(fSMTPHost, "")
	form.Set(fSMTPSecure, "true")
	form.Set(fSMTPStartTLS, "true")
	form.Set(fSMTPUser, "bob\r\nRSET")
	status, body := f.post(form)
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422", status)
	}
	for _, id := range []string{fSMTPPort, fSMTPHost, fSMTPStartTLS, fSMTPUser} {
		if !strings.Contains(body, `<span class="error" id="`+id+`-err">`) {
			t.Errorf("no inline message for %s", id)
		}
		if !strings.Contains(body, `href="#`+id+`"`) {
			t.Errorf("the error summary does not link to %s", id)
		}
	}
	if !strings.Contains(body, `aria-invalid="true"`) || !strings.Contains(body, "Nothing was saved: 4 fields need attention.") {
		t.Errorf("error summary or aria-invalid missing")
	}
	// A new password typed into an invalid form is not echoed back: the
	// placeholder stands for it, kept with this form.
	if strings.Contains(body, testPassword) || !pendingRE.MatchString(body) {
		t.Errorf("the typed password is in the page, or it was not kept with the form")
	}
	if f.file() != "" {
		t.Error("an invalid form was saved")
	}
}

func TestAdvancedPropertiesErrorsHaveLineNumbers(t *testing.T) {
	f := newFixture(t, "", WithoutAuthorization())
	form := f.form("save")
	form.Set(fAdvanced, "# overrides\nmail.smtp.timeout=1000\nfoo=bar\nmail.smtp.localhost=a\\\n  b\nmail.x=\\u12G4\nmail.session.mail.smtp.host=x")
	status, body := f.post(form)
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422", status)
	}
	for _, want := range []string{
		"Line 3: &#34;foo&#34; is not a JavaMail property",
		`Line 6: malformed \u escape`,
		"Line 7: &#34;mail.session.mail.smtp.host&#34; is a portal key",
		"3 lines need attention.",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("response lacks %q", want)
		}
	}
	if strings.Contains(body, "Line 2:") || strings.Contains(body, "Line 4:") {
		t.Error("a valid line is reported")
	}
	// Each line's message is tied to the box for screen readers.
	if !strings.Contains(body, `aria-describedby="advancedProperties-hint advancedProperties-err advancedProperties-err-1 advancedProperties-err-2 advancedProperties-err-3"`) ||
		!strings.Contains(body, `<span class="error" id="advancedProperties-err-3">Line 7:`) {
		t.Errorf("the box's line messages are not tied to it with aria-describedby")
	}
	// The form posts to #report: where the browser lands (below the form on
	// a phone), the report says nothing was checked and links to the problems.
	if !strings.Contains(body, `<a href="#error-summary">`) {
		t.Errorf("the report area does not point to the error summary")
	}
	if f.file() != "" {
		t.Error("an invalid form was saved")
	}
}

// A save answers 303 See Other to the page itself (relative, so any mount
// point works); the outcome is shown to the browser that saved, not to
// another one given the same URL.
func TestSaveRedirectsAndOutcomeIsPrivate(t *testing.T) {
	f := newFixture(t, "", WithoutAuthorization())
	noFollow := *f.client
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	_, tok := f.get(f.client)
	form := f.form("save")
	form.Set(csrfField, tok)
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "?saved=") || !strings.HasSuffix(loc, "#report") {
		t.Fatalf("save: %s, Location %q; want 303 to ?saved=...#report", resp.Status, loc)
	}
	page := func(c *http.Client) string {
		resp, err := c.Get(f.srv.URL + strings.TrimSuffix(loc, "#report"))
		if err != nil {
			t.Fatal(err)
		}
		return readBody(t, resp)
	}
	for range 2 { // a reload shows it again
		if body := page(f.client); !strings.Contains(body, "Saved. The new settings") || !strings.Contains(body, "✔ Working") {
			t.Fatalf("the saving browser does not see the outcome")
		}
	}
	if body := page(f.newClient()); strings.Contains(body, "Saved.") || strings.Contains(body, "Working") {
		t.Error("another browser sees the outcome of the save")
	}
}

func TestSaveWithFailingCheckSavesAndSaysSo(t *testing.T) {
	f := newFixture(t, "", WithoutAuthorization())
	form := f.form("save")
	form.Set(fSMTPPassword, "wrong")
	status, body := f.post(form)
	if status != http.StatusOK {
		t.Fatalf("status %d\n%s", status, body)
	}
	if !strings.Contains(body, "but the check found problems") || strings.Contains(body, "Saved. The new settings") {
		t.Errorf("the banner does not say the check failed")
	}
	p, err := properties.LoadFile(f.path)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := p.Get(KeySMTPPassword); v != "wrong" {
		t.Errorf("saved SMTP password %q", v)
	}
	f.lookup() // published all the same
}

func TestTestConnectionDoesNotSave(t *testing.T) {
	f := newFixture(t, "", WithoutAuthorization())
	form := f.form("test")
	form.Set(fSMTPPassword, "wrong")
	status, body := f.post(form)
	if status != http.StatusOK {
		t.Fatalf("status %d\n%s", status, body)
	}
	for _, want := range []string{"Test only, nothing was saved", "✘ Failed", "Login: refused", "Incoming mail (POP3)"} {
		if !strings.Contains(body, want) {
			t.Errorf("response lacks %q", want)
		}
	}
	if f.file() != "" {
		t.Error("Test connection saved the file")
	}
	if _, err := f.reg.Lookup("mail/MailSession"); !errors.Is(err, jndi.ErrNameNotFound) {
		t.Errorf("Test connection published a session: %v", err)
	}
}

func TestSendTestMessage(t *testing.T) {
	f := newFixture(t, "", WithoutAuthorization())
	status, body := f.post(url.Values{"action": {"send"}, fTestTo: {"ops@example.org"}})
	if status != http.StatusConflict || !strings.Contains(body, "save the settings first") {
		t.Fatalf("send before any save: %d, want 409 with advice\n%s", status, body)
	}
	if status, body := f.post(f.form("save")); status != http.StatusOK {
		t.Fatalf("save: %d\n%s", status, body)
	}
	status, body = f.post(url.Values{"action": {"send"}, fTestTo: {"ops@example.org"}})
	if status != http.StatusOK || !strings.Contains(body, "Test message sent to ops@example.org.") {
		t.Fatalf("send: %d\n%s", status, body)
	}
	msgs, err := f.mail.WaitReceived(testContext(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	if msgs[0].From != testUser || len(msgs[0].To) != 1 || msgs[0].To[0] != "ops@example.org" {
		t.Errorf("received %s → %v", msgs[0].From, msgs[0].To)
	}
	if !strings.Contains(string(msgs[0].Data), "Subject: Test message from the Mail control panel") {
		t.Errorf("unexpected message:\n%s", msgs[0].Data)
	}
	status, _ = f.post(url.Values{"action": {"send"}, fTestTo: {"not an address"}})
	if status != http.StatusUnprocessableEntity {
		t.Errorf("send to a bad address: %d, want 422", status)
	}
}

func TestStartPublishesSavedSettings(t *testing.T) {
	f := newFixture(t, "", WithoutAuthorization())
	if err := os.WriteFile(f.path, []byte(f.portalFile()), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := jndi.NewRegistry()
	h, err := New(f.path, WithoutAuthorization(), WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	s, err := jndi.LookupAs[*mailsession.Session](reg, "mail/MailSession")
	if err != nil {
		t.Fatalf("New did not publish the file's session: %v", err)
	}
	if s.Property("mail.smtp.host") != f.mail.Host() {
		t.Errorf("published session's host = %q", s.Property("mail.smtp.host"))
	}
	h.Close()
	if _, err := reg.Lookup("mail/MailSession"); !errors.Is(err, jndi.ErrNameNotFound) {
		t.Errorf("Close left the session bound: %v", err)
	}
	if err := s.Send(testContext(t), &mailsession.Message{To: []string{"a@example.org"}, Text: "x"}); !errors.Is(err, mailsession.ErrClosed) {
		t.Errorf("send on the session after Handler.Close: %v, want ErrClosed", err)
	}
}

func TestRenameUnbindsOldName(t *testing.T) {
	f := newFixture(t, "", WithoutAuthorization())
	if status, body := f.post(f.form("save")); status != http.StatusOK {
		t.Fatalf("save: %d\n%s", status, body)
	}
	old := f.lookup()
	form := f.form("save")
	form.Set(fJNDIName, "mail/Notifications")
	if status, body := f.post(form); status != http.StatusOK {
		t.Fatalf("save: %d\n%s", status, body)
	}
	if _, err := f.reg.Lookup("mail/MailSession"); !errors.Is(err, jndi.ErrNameNotFound) {
		t.Errorf("old name still bound: %v", err)
	}
	s, err := jndi.LookupAs[*mailsession.Session](f.reg, "java:comp/env/mail/Notifications")
	if err != nil || s == old {
		t.Fatalf("new name: %v (same session: %v)", err, s == old)
	}
	if err := old.Send(testContext(t), &mailsession.Message{To: []string{"a@example.org"}, Text: "x"}); !errors.Is(err, mailsession.ErrClosed) {
		t.Errorf("old session still open: %v", err)
	}
}

// TestRebindSeenByConcurrentLookup looks the session up without pause from
// several goroutines while Save replaces it: no look-up may fail (Rebind
// leaves no gap) and every look-up after Save returned gets the new one.
func TestRebindSeenByConcurrentLookup(t *testing.T) {
	f := newFixture(t, "", WithoutAuthorization())
	if err := os.WriteFile(f.path, []byte(f.portalFile()), 0o600); err != nil {
		t.Fatal(err)
	}
	h, err := New(f.path, WithoutAuthorization(), WithRegistry(f.reg), WithSessionOptions(mailsession.WithRootCAs(f.mail.CertPool())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	f.srv = srv
	old := f.lookup()

	var stop atomic.Bool
	var failures, sawNew atomic.Int32
	saved := make(chan struct{})
	var wg sync.WaitGroup
	var newSess atomic.Pointer[mailsession.Session]
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				// Whether the save had returned is decided before the
				// look-up starts: only such a look-up must see the new one.
				after := false
				select {
				case <-saved:
					after = true
				default:
				}
				s, err := jndi.LookupAs[*mailsession.Session](f.reg, "mail/MailSession")
				switch {
				case err != nil:
					failures.Add(1)
				case after && s != newSess.Load():
					failures.Add(1)
				case !after && s != old:
					sawNew.Add(1)
				}
			}
		})
	}
	status, body := f.post(f.form("save"))
	s := f.lookup()
	newSess.Store(s)
	close(saved)
	// Let the lookers-up run a while after the save.
	for range 1000 {
		if _, err := f.reg.Lookup("mail/MailSession"); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if status != http.StatusOK {
		t.Fatalf("save: %d\n%s", status, body)
	}
	if s == old {
		t.Fatal("the save did not replace the published session")
	}
	if n := failures.Load(); n > 0 {
		t.Errorf("%d look-ups failed or returned a stale session after the save", n)
	}
	t.Logf("look-ups that saw the new session while the save was still responding: %d", sawNew.Load())
}

// TestOldSessionClosedAfterInFlightSend holds a send in flight on the
// published session (the server answers slowly and the message has many
// recipients) while Save replaces it: the send must complete successfully,
// before Save returns, and the old session must be closed afterwards.
func TestOldSessionClosedAfterInFlightSend(t *testing.T) {
	f := newFixture(t, "", WithoutAuthorization())
	if err := os.WriteFile(f.path, []byte(f.portalFile()), 0o600); err != nil {
		t.Fatal(err)
	}
	h, err := New(f.path, WithoutAuthorization(), WithRegistry(f.reg), WithSessionOptions(mailsession.WithRootCAs(f.mail.CertPool())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	f.srv = srv
	old := f.lookup()

	var to []string
	for i := range 30 {
		to = append(to, fmt.Sprintf("r%d@example.org", i))
	}
	f.mail.SetFaults(mailtest.Faults{ReplyDelay: 100 * time.Millisecond})
	sendDone := make(chan error, 1)
	go func() {
		sendDone <- old.Send(context.Background(), &mailsession.Message{To: to, Subject: "in flight", Text: "x"})
	}()
	// Wait until the send is on the wire: its RCPT commands are arriving.
	for !containsVerb(f.mail.SMTPCommands(), "RCPT") {
		select {
		case err := <-sendDone:
			t.Fatalf("send finished before the save started: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	form := f.form("save")
	form.Set(fStoreHost, "") // no store: the save's check is short, the send still runs
	status, body := f.post(form)
	if status != http.StatusOK {
		t.Fatalf("save: %d\n%s", status, body)
	}
	select {
	case err := <-sendDone:
		if err != nil {
			t.Fatalf("the in-flight send failed: %v", err)
		}
	default:
		t.Fatal("Save returned while the old session's send was still in flight (closed too early or not waited for)")
	}
	f.mail.SetFaults(mailtest.Faults{})
	msgs, err := f.mail.WaitReceived(testContext(t), 1)
	if err != nil || len(msgs[0].To) != len(to) {
		t.Fatalf("the in-flight message did not arrive whole: %v", err)
	}
	if err := old.Send(testContext(t), &mailsession.Message{To: []string{"a@example.org"}, Text: "x"}); !errors.Is(err, mailsession.ErrClosed) {
		t.Errorf("old session after the save: %v, want ErrClosed", err)
	}
	if s := f.lookup(); s == old {
		t.Error("the old session is still published")
	}
}

func containsVerb(cmds []string, verb string) bool {
	for _, c := range cmds {
		if c == verb {
			return true
		}
	}
	return false
}

// A password written in the additional-properties box (mail.smtp.password=...)
// is a password like the fields': the page shows a placeholder for it, and
// submitting the placeholder keeps the stored value.
func TestAdvancedBoxPasswordsNotSentBack(t *testing.T) {
	f := newFixture(t, "", WithoutAuthorization())
	const boxSecret = "box-Secret-77Zq"
	// The incoming server is the one the form below submits: the box's
	// store passwords were stored for it.
	file := f.portalFile() + "mail.session.mail.store.protocol=pop3\n" +
		"mail.session.mail.pop3.host=" + f.mail.Host() + "\n" +
		"mail.session.mail.pop3.port=" + strconv.Itoa(f.mail.Ports().POP3) + "\n" +
		"mail.session.mail.advanced.properties=mail.from=" + testUser +
		`\nmail.pop3.password=` + boxSecret + `\nmail.imaps.password=` + boxSecret + "tok\n"
	if err := os.WriteFile(f.path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	page, _ := f.get(f.client)
	if strings.Contains(page, boxSecret) {
		t.Fatalf("the page shows a password from the additional-properties box")
	}
	m := regexp.MustCompile(`(?s)<textarea[^>]*>(.*?)</textarea>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no textarea")
	}
	box := strings.NewReplacer("&#43;", "+", "&#34;", `"`, "&amp;", "&", "&#39;", "'", "&lt;", "<", "&gt;", ">").Replace(m[1])
	if !strings.Contains(box, "mail.pop3.password="+passwordPlaceholder) || !strings.Contains(box, "mail.from="+testUser) {
		t.Fatalf("the box does not show the placeholder for the password:\n%s", box)
	}

	// Submitted unchanged: the stored values are kept.
	form := f.form("save")
	form.Set(fSMTPPassword, passwordPlaceholder)
	form.Set(fAdvanced, strings.ReplaceAll(box, "\n", "\r\n"))
	status, body := f.post(form)
	if status != http.StatusOK || strings.Contains(body, boxSecret) {
		t.Fatalf("save: %d (or the password is in the response)\n%s", status, body)
	}
	p, err := properties.LoadFile(f.path)
	if err != nil {
		t.Fatal(err)
	}
	adv, _ := p.Get(KeyAdvancedProperties)
	if !strings.Contains(adv, "mail.pop3.password="+boxSecret) || !strings.Contains(adv, "mail.imaps.password="+boxSecret+"tok") ||
		strings.Contains(adv, passwordPlaceholder) {
		t.Errorf("the box's passwords were not kept:\n%s", adv)
	}

	// A new password typed into the box of a form that fails validation is
	// not echoed back either.
	form = f.form("save")
	form.Set(fSMTPPort, "0")
	form.Set(fAdvanced, "mail.smtp.password=typed-New-Pw99\nmail.pop3.password="+passwordPlaceholder)
	status, body = f.post(form)
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422", status)
	}
	if strings.Contains(body, "typed-New-Pw99") || strings.Contains(body, boxSecret) {
		t.Errorf("a password from the box is in the re-shown form")
	}
	if !strings.Contains(body, "mail.pop3.password="+passwordPlaceholder) {
		t.Errorf("the kept box password lost its placeholder")
	}
	if !strings.Contains(body, "mail.smtp.password="+passwordPlaceholder) || !pendingRE.MatchString(body) {
		t.Errorf("the typed box password is not shown as the placeholder kept with the form")
	}
}

// Two administrators saving at the same time: the saves are applied one
// after the other, so the file is one complete save (comments kept, no
// temporary file left), the published session is the one the file
// describes, and the replaced sessions are closed.
func TestConcurrentSavesSerialized(t *testing.T) {
	f := newFixture(t, "", WithoutAuthorization())
	if err := os.WriteFile(f.path, []byte(f.portalFile()), 0o600); err != nil {
		t.Fatal(err)
	}
	type result struct {
		status int
		body   string
	}
	results := make(chan result, 2)
	var wg sync.WaitGroup
	for i, timeout := range []string{"1111", "2222"} {
		c := f.client
		if i == 1 {
			c = f.newClient()
		}
		_, tok := f.get(c)
		form := f.form("save")
		form.Set(fAdvanced, "mail.smtp.connectiontimeout="+timeout)
		form.Set(csrfField, tok)
		wg.Go(func() {
			status, body := f.postRaw(c, form, nil)
			results <- result{status, body}
		})
	}
	wg.Wait()
	close(results)
	for r := range results {
		if r.status != http.StatusOK {
			t.Fatalf("save: %d\n%s", r.status, r.body)
		}
	}
	got := f.file()
	if !strings.HasPrefix(got, "# Operator's notes: keep this comment.\n") || !strings.Contains(got, "# trailing comment\n") ||
		strings.Count(got, "mail.session.mail.advanced.properties=") != 1 {
		t.Errorf("the file is not one complete save:\n%s", got)
	}
	p, err := properties.Load(strings.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	adv, _ := p.Get(KeyAdvancedProperties)
	if got := f.lookup().Property("mail.smtp.connectiontimeout"); "mail.smtp.connectiontimeout="+got != adv {
		t.Errorf("published session has connectiontimeout %q, the file says %q", got, adv)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(f.path), ".*.tmp")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

// Nothing the page logs, on success or failure, holds a password.
func TestLogsHoldNoPassword(t *testing.T) {
	var buf lockedBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := newFixture(t, "", WithoutAuthorization(), WithLogger(log))
	form := f.form("save")
	form.Set(fAdvanced, "mail.imap.password="+testPassword+"box")
	if status, body := f.post(form); status != http.StatusOK {
		t.Fatalf("save: %d\n%s", status, body)
	}
	form = f.form("save")
	form.Set(fSMTPPassword, testPassword+"wrong")
	status, body := f.post(form)
	if status != http.StatusOK || !strings.Contains(body, "Login: refused") {
		t.Fatalf("save with a refused login: %d\n%s", status, body)
	}
	if strings.Contains(body, testPassword) {
		t.Errorf("the refused login's report shows the password")
	}
	form.Set("action", "test")
	if _, body := f.post(form); !strings.Contains(body, "Login: refused") || strings.Contains(body, testPassword) {
		t.Errorf("Test connection with a refused login: no refusal shown, or the password is in the page")
	}
	f.post(url.Values{"action": {"send"}, fTestTo: {"ops@example.org"}})
	if buf.String() == "" {
		t.Fatal("nothing was logged")
	}
	if strings.Contains(buf.String(), testPassword) {
		t.Errorf("a password is in the log:\n%s", buf.String())
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Over HTTPS, directly or behind a TLS-terminating proxy that says so in
// X-Forwarded-Proto, the CSRF cookie is Secure and __Host- prefixed; over
// plain HTTP it cannot be (a browser would drop it).
func TestCSRFCookieSecureOverHTTPS(t *testing.T) {
	f := newFixture(t, "", WithoutAuthorization())
	tlsSrv := httptest.NewTLSServer(f.h)
	t.Cleanup(tlsSrv.Close)
	cookieOf := func(c *http.Client, url string, header http.Header) *http.Cookie {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		if len(resp.Cookies()) != 1 {
			t.Fatalf("cookies: %v", resp.Cookies())
		}
		return resp.Cookies()[0]
	}
	for name, ck := range map[string]*http.Cookie{
		"TLS":               cookieOf(tlsSrv.Client(), tlsSrv.URL, nil),
		"X-Forwarded-Proto": cookieOf(&http.Client{}, f.srv.URL, http.Header{"X-Forwarded-Proto": {"https"}}),
	} {
		if !ck.Secure || ck.Name != "__Host-jmail_csrf" || ck.Path != "/" || ck.Domain != "" {
			t.Errorf("%s: cookie %+v, want a Secure __Host- cookie", name, ck)
		}
	}
	if ck := cookieOf(&http.Client{}, f.srv.URL, nil); ck.Secure {
		t.Errorf("plain HTTP: cookie %+v is Secure", ck)
	}
}

// A password typed on a line the parser refuses (a malformed \u escape) is
// not echoed back either, neither in the box nor in the line's message.
func TestAdvancedBoxMalformedPasswordLineNotEchoed(t *testing.T) {
	f := newFixture(t, "", WithoutAuthorization())
	form := f.form("save")
	form.Set(fAdvanced, "mail.from=a@example.org\nmail.smtp.password=Typed\\uZZ99Secret")
	status, body := f.post(form)
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422", status)
	}
	for _, leak := range []string{"Typed", "Secret", `\uZZ99`} {
		if strings.Contains(body, leak) {
			t.Errorf("the page echoes %q from the password line", leak)
		}
	}
	if !strings.Contains(body, "Line 2: malformed") || !strings.Contains(body, "mail.smtp.password="+passwordPlaceholder+"</textarea>") {
		t.Errorf("the line's message or its placeholder is missing")
	}
}

var pendingRE = regexp.MustCompile(`name="pending" value="([^"]*)"`)

// "Test connection" with a newly typed password, then Save on the page it
// returns (the natural order): the password tested is the one saved,
// although the browser never got it back (the form carries the
// placeholder and an id of the typed secrets kept on the server for this
// browser only).
func TestTestThenSaveKeepsTypedPassword(t *testing.T) {
	f := newFixture(t, "", WithoutAuthorization())
	if err := os.WriteFile(f.path, []byte(strings.Replace(f.portalFile(), testPassword, "old-Password-1", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	form := f.form("test")
	form.Set(fAdvanced, "mail.from="+testUser+"\nmail.imap.password=Box-Typed-9")
	status, body := f.post(form)
	if status != http.StatusOK || !strings.Contains(body, "Test only") {
		t.Fatalf("test: %d\n%s", status, body)
	}
	for _, leak := range []string{testPassword, "Box-Typed-9", "old-Password-1"} {
		if strings.Contains(body, leak) {
			t.Errorf("the page shows %q", leak)
		}
	}
	if !strings.Contains(body, `id="smtpPassword" name="smtpPassword" value="`+passwordPlaceholder+`"`) {
		t.Errorf("the typed SMTP password is not shown as the placeholder")
	}
	m := pendingRE.FindStringSubmatch(body)
	if m == nil || m[1] == "" {
		t.Fatal("the form carries no id of the typed passwords")
	}
	tok := tokenRE.FindStringSubmatch(body)[1]

	// Another browser cannot use the id.
	other := f.newClient()
	_, otherTok := f.get(other)
	save := f.form("save")
	save.Set(fSMTPPassword, passwordPlaceholder)
	save.Set(fStorePassword, passwordPlaceholder)
	save.Set(fAdvanced, "mail.from="+testUser+"\nmail.imap.password="+passwordPlaceholder)
	save.Set("pending", m[1])
	save.Set(csrfField, otherTok)
	if status, body := f.postRaw(other, save, nil); status != http.StatusOK || strings.Contains(body, testPassword) {
		t.Fatalf("save from another browser: %d", status)
	}
	p, _ := properties.LoadFile(f.path)
	if v, _ := p.Get(KeySMTPPassword); v != "old-Password-1" {
		t.Errorf("another browser's save used this browser's typed password: %q", v)
	}

	// This browser saves the page the test returned, placeholders and all.
	save.Set(csrfField, tok)
	if status, body := f.postRaw(f.client, save, nil); status != http.StatusOK || !strings.Contains(body, "Saved. The new settings") {
		t.Fatalf("save: %d\n%s", status, body)
	}
	p, _ = properties.LoadFile(f.path)
	adv, _ := p.Get(KeyAdvancedProperties)
	if v, _ := p.Get(KeySMTPPassword); v != testPassword || !strings.Contains(adv, "mail.imap.password=Box-Typed-9") {
		t.Errorf("saved SMTP password %q, box %q: want the ones tested", v, adv)
	}
}

var versionRE = regexp.MustCompile(`name="version" value="([^"]*)"`)

// Two administrators with the page open: the second Save, made on a page
// loaded before the first one saved, would silently undo the first one's
// changes. It is refused instead (nothing saved, the form kept, the reason
// shown); saving that form again then replaces the settings knowingly.
func TestStaleFormSaveRefused(t *testing.T) {
	f := newFixture(t, "", WithoutAuthorization())
	if err := os.WriteFile(f.path, []byte(f.portalFile()), 0o600); err != nil {
		t.Fatal(err)
	}
	pageA, tokA := f.get(f.client)
	other := f.newClient()
	pageB, tokB := f.get(other)
	verA, verB := versionRE.FindStringSubmatch(pageA), versionRE.FindStringSubmatch(pageB)
	if verA == nil || verB == nil || verA[1] != verB[1] {
		t.Fatal("the form carries no version of the settings it shows")
	}

	formB := f.form("save")
	formB.Set(fAdvanced, "mail.smtp.connectiontimeout=2222")
	formB.Set("version", verB[1])
	formB.Set(csrfField, tokB)
	if status, body := f.postRaw(other, formB, nil); status != http.StatusOK {
		t.Fatalf("B's save: %d\n%s", status, body)
	}
	saved := f.file()

	formA := f.form("save")
	formA.Set(fAdvanced, "mail.smtp.connectiontimeout=1111")
	formA.Set("version", verA[1])
	formA.Set(csrfField, tokA)
	status, body := f.postRaw(f.client, formA, nil)
	if status != http.StatusConflict || !strings.Contains(body, "changed since you loaded this page") {
		t.Fatalf("A's stale save: %d, want 409 saying why\n%s", status, body)
	}
	if f.file() != saved || f.lookup().Property("mail.smtp.connectiontimeout") != "2222" {
		t.Fatal("the stale save changed the file or the published session")
	}
	if !strings.Contains(body, "mail.smtp.connectiontimeout=1111") || strings.Contains(body, testPassword) {
		t.Error("the refused form does not keep A's values (or shows a password)")
	}
	// Saving the re-shown form replaces the settings: A has been told.
	ver := versionRE.FindStringSubmatch(body)
	if ver == nil || ver[1] == verA[1] {
		t.Fatal("the re-shown form does not carry the current version")
	}
	formA.Set("version", ver[1])
	formA.Set(csrfField, tokenRE.FindStringSubmatch(body)[1])
	if status, body := f.postRaw(f.client, formA, nil); status != http.StatusOK {
		t.Fatalf("A's second save: %d\n%s", status, body)
	}
	if f.lookup().Property("mail.smtp.connectiontimeout") != "1111" {
		t.Error("A's second save was not applied")
	}
}

// A checkbox's hint describes it (aria-describedby) without being part of
// its name: it is outside the label, so a screen reader reads it once.
func TestCheckboxHintOutsideLabel(t *testing.T) {
	f := newFixture(t, "", WithoutAuthorization())
	page, _ := f.get(f.client)
	want := `aria-describedby="smtpSecure-hint"> <span>Use a secure network connection</span></label><span class="hint check-hint" id="smtpSecure-hint">`
	if !strings.Contains(page, want) {
		t.Errorf("the checkbox's hint is not a description outside its label")
	}
}

// mail.session.jndi.name is written only when the operator set one: with it
// Liferay would look a session up instead of using the keys saved. The page
// shows an empty field (the default as its placeholder) and publishes under
// DefaultJNDIName; clearing a stored name removes the key.
func TestJNDINameWrittenOnlyWhenSet(t *testing.T) {
	f := newFixture(t, "", WithoutAuthorization())
	form := f.form("save")
	form.Set(fJNDIName, "")
	if status, body := f.post(form); status != http.StatusOK {
		t.Fatalf("save: %d\n%s", status, body)
	}
	if got := f.file(); strings.Contains(got, KeyJNDIName) {
		t.Errorf("the file names a JNDI name the operator did not set:\n%s", got)
	}
	f.lookup() // published under the default all the same
	page, _ := f.get(f.client)
	if !strings.Contains(page, `id="jndiName" name="jndiName" value=""`) || !strings.Contains(page, `placeholder="`+DefaultJNDIName+`"`) {
		t.Errorf("the JNDI field does not show empty with the default as placeholder")
	}

	form.Set(fJNDIName, "mail/Notifications")
	if status, body := f.post(form); status != http.StatusOK {
		t.Fatalf("save: %d\n%s", status, body)
	}
	if got := f.file(); !strings.Contains(got, KeyJNDIName+"=mail/Notifications\n") {
		t.Errorf("the name the operator set is not saved:\n%s", got)
	}
	form.Set(fJNDIName, "")
	if status, body := f.post(form); status != http.StatusOK {
		t.Fatalf("save: %d\n%s", status, body)
	}
	if got := f.file(); strings.Contains(got, KeyJNDIName) {
		t.Errorf("a cleared JNDI name is still in the file:\n%s", got)
	}
	f.lookup()
	if _, err := f.reg.Lookup("mail/Notifications"); err == nil {
		t.Errorf("the old name is still bound")
	}
}
