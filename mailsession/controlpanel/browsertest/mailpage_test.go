package browsertest

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/jmailgo/jmail/jndi"
	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/mailsession/controlpanel"
	"github.com/jmailgo/jmail/mailsession/mailtest"
	"github.com/jmailgo/jmail/properties"
)

const (
	adminUser     = "admin"
	adminPassword = "browser-test-pw"
	placeholder   = "\u2022\u2022\u2022\u2022\u2022\u2022\u2022\u2022"
)

// servePage serves page at /admin/mail/ on a test server and returns that
// URL; page and server close when the test ends.
func servePage(t *testing.T, page *controlpanel.Handler) string {
	t.Helper()
	t.Cleanup(func() { page.Close() })
	mux := http.NewServeMux()
	mux.Handle("/admin/mail/", page)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/admin/mail/"
}

// chromium returns the browser to drive, or skips (fails in CI) without one.
func chromium(t *testing.T) string {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Chromium not found at %s in CI: %v (the CI script installs Debian's chromium package)", path, err)
		}
		t.Skipf("Chromium not found at %s: %v", path, err)
	}
	return path
}

// browser starts a headless Chromium with a fresh profile and returns a
// context for chromedp actions.
func browser(t *testing.T, execPath string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(execPath),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancelTimeout)
	do(t, ctx, chromedp.Navigate("about:blank")) // starts the browser and opens the tab
	return ctx
}

// do runs steps in the browser and fails the test on error.
func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// get runs an action that returns a value and fails the test on error.
func get[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// id selects an element by its id.
func id(s string) chromedp.ID { return chromedp.ID(s) }

// css selects by a CSS selector.
func css(s string) chromedp.CSS { return chromedp.CSS(s) }

func TestMailPageInChromium(t *testing.T) {
	ctx := browser(t, chromium(t))

	mail := mailtest.NewServer(t)
	reg := jndi.NewRegistry()
	file := filepath.Join(t.TempDir(), "portal-ext.properties")
	if err := os.WriteFile(file, []byte("# operator's file\ncompany.default.web.id=example.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	page, err := controlpanel.New(file,
		controlpanel.WithRegistry(reg),
		controlpanel.WithSessionOptions(mailsession.WithRootCAs(mail.CertPool())),
		controlpanel.WithAuthorizer(func(r *http.Request) error {
			if u, p, ok := r.BasicAuth(); !ok || u != adminUser || p != adminPassword {
				return errors.New("not the administrator")
			}
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	url := servePage(t, page)
	shots := screenshotDir(t)
	ports := mail.Ports()

	// Without credentials the browser is refused.
	resp := get(t, ctx, chromedp.NavigateResponse(url))
	if resp.Status != http.StatusForbidden {
		t.Errorf("page without credentials: status %d, want 403", resp.Status)
	}
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(adminUser+":"+adminPassword))
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": auth}}); err != nil {
		t.Fatal(err)
	}

	// Fill the form by typing, as a person would, and save.
	do(t, ctx,
		chromedp.Navigate(url),
		chromedp.WaitVisible(id("smtpHost")),
		chromedp.Click(css(`input[name="storeKind"][value="imap"]`)),
		chromedp.SendKeys(id("pop3Host"), mail.Host()),
		chromedp.SendKeys(id("pop3Port"), strconv.Itoa(ports.IMAPS)),
		chromedp.Click(id("pop3Secure")),
		chromedp.SendKeys(id("pop3User"), mailtest.DefaultUser),
		chromedp.SendKeys(id("pop3Password"), mailtest.DefaultPassword),
		chromedp.SendKeys(id("smtpHost"), mail.Host()),
		chromedp.SendKeys(id("smtpPort"), strconv.Itoa(ports.SMTP)),
		chromedp.Click(id("smtpStartTLS")),
		chromedp.SendKeys(id("smtpUser"), mailtest.DefaultUser),
		chromedp.SendKeys(id("smtpPassword"), mailtest.DefaultPassword),
		chromedp.SendKeys(id("advancedProperties"), "mail.from="+mailtest.DefaultUser+"\nmail.smtp.starttls.required=true"),
		chromedp.Click(css(`button[value="save"]`)),
		chromedp.WaitVisible(css("#report .endpoint")),
	)
	report := get(t, ctx, chromedp.Text(id("report")))
	banner := get(t, ctx, chromedp.Text(css(".banner")))
	shot(ctx, t, shots, "saved.png")
	if !strings.Contains(banner, "Saved.") {
		t.Errorf("no confirmation after Save; banner: %q", banner)
	}
	for _, want := range []string{"Outgoing mail (SMTP)", "Incoming mail (IMAPS)", "✔ Working", "TLS: TLS 1.3"} {
		if !strings.Contains(report, want) {
			t.Errorf("check report lacks %q:\n%s", want, report)
		}
	}
	if strings.Contains(report, "✘") {
		t.Errorf("check report shows a failure:\n%s", report)
	}
	saved, err := properties.LoadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := saved.Get(controlpanel.KeyStoreProtocol); v != "imaps" {
		t.Errorf("saved store protocol %q, want imaps", v)
	}

	// The save redirected to the page (post/redirect/get), so reloading
	// shows it again without submitting anything.
	if loc := get(t, ctx, chromedp.Location()); !strings.Contains(loc, "/admin/mail/?saved=") {
		t.Errorf("after Save the browser is at %s, want the page's own URL with ?saved=", loc)
	}
	do(t, ctx, chromedp.Reload(), chromedp.WaitVisible(id("smtpHost")))
	if report := get(t, ctx, chromedp.Text(id("report"))); !strings.Contains(report, "✔ Working") {
		t.Errorf("after a reload the report is gone:\n%s", report)
	}
	// A fresh visit: the saved values are back, the passwords are not.
	do(t, ctx, chromedp.Navigate(url), chromedp.WaitVisible(id("smtpHost")))
	smtpHost := get(t, ctx, chromedp.Value(id("smtpHost")))
	smtpPort := get(t, ctx, chromedp.Value(id("smtpPort")))
	storePort := get(t, ctx, chromedp.Value(id("pop3Port")))
	smtpPassword := get(t, ctx, chromedp.Value(id("smtpPassword")))
	advanced := get(t, ctx, chromedp.Value(id("advancedProperties")))
	startTLS := get(t, ctx, chromedp.Evaluate[bool](`document.querySelector("#smtpStartTLS").checked`))
	imapChecked := get(t, ctx, chromedp.Evaluate[bool](`document.querySelector('input[name="storeKind"][value="imap"]').checked`))
	if smtpHost != mail.Host() || smtpPort != strconv.Itoa(ports.SMTP) || storePort != strconv.Itoa(ports.IMAPS) || !startTLS || !imapChecked {
		t.Errorf("reloaded values: host %q port %q store port %q STARTTLS %v IMAP %v", smtpHost, smtpPort, storePort, startTLS, imapChecked)
	}
	if smtpPassword != placeholder {
		t.Errorf("reloaded password field holds %q, want the placeholder", smtpPassword)
	}
	if !strings.Contains(advanced, "mail.smtp.starttls.required=true") {
		t.Errorf("reloaded additional properties: %q", advanced)
	}

	// Send a test message through the published session.
	sentXPath := `//p[contains(., "Test message sent")]`
	do(t, ctx,
		chromedp.SendKeys(id("testTo"), "ops@example.org"),
		chromedp.Click(css(`button[value="send"]`)),
		chromedp.WaitVisible(sentXPath),
	)
	shot(ctx, t, shots, "sent.png")
	wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs, err := mail.WaitReceived(wctx, 1)
	if err != nil {
		t.Fatalf("mailtest received nothing: %v", err)
	}
	if msgs[0].From != mailtest.DefaultUser || len(msgs[0].To) != 1 || msgs[0].To[0] != "ops@example.org" {
		t.Errorf("received %s → %v", msgs[0].From, msgs[0].To)
	}
	if cmds := strings.Join(mail.SMTPCommands(), " "); !strings.Contains(cmds, "STARTTLS") {
		t.Errorf("the test message did not go over STARTTLS: %s", cmds)
	}

	// The page on a phone: one column, nothing cut off sideways.
	do(t, ctx,
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(url),
		chromedp.WaitVisible(id("smtpHost")),
	)
	scrollWidth := get(t, ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	innerWidth := get(t, ctx, chromedp.Evaluate[int](`window.innerWidth`))
	shot(ctx, t, shots, "phone.png")
	if scrollWidth > innerWidth {
		t.Errorf("the page scrolls sideways on a phone: %d > %d", scrollWidth, innerWidth)
	}
}

// TestMailPageValidationInChromium submits a bad form from the keyboard and
// checks the inline messages and the error summary in a real browser.
func TestMailPageValidationInChromium(t *testing.T) {
	ctx := browser(t, chromium(t))
	file := filepath.Join(t.TempDir(), "portal-ext.properties")
	page, err := controlpanel.New(file, controlpanel.WithRegistry(jndi.NewRegistry()), controlpanel.WithoutAuthorization())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { page.Close() })
	srv := httptest.NewServer(page)
	t.Cleanup(srv.Close)

	do(t, ctx,
		chromedp.Navigate(srv.URL),
		chromedp.WaitVisible(id("smtpHost")),
		chromedp.SendKeys(id("smtpPort"), "99999"),
		chromedp.SendKeys(id("advancedProperties"), "mail.smtp.timeout=5\nnot.mail=1"),
		// Submit from the keyboard: Enter in a text field presses Save.
		chromedp.SendKeys(id("smtpPort"), "\r"),
		chromedp.WaitVisible(id("error-summary")),
	)
	summary := get(t, ctx, chromedp.Text(id("error-summary")))
	portErr := get(t, ctx, chromedp.Text(id("smtpPort-err")))
	invalid := get(t, ctx, chromedp.AttributeValue(id("smtpPort"), "aria-invalid"))
	advErr := get(t, ctx, chromedp.Text(css("#advancedProperties ~ .error + .error")))
	shot(ctx, t, screenshotDir(t), "errors.png")
	for _, want := range []string{"Outgoing server", "Outgoing port", "Additional JavaMail properties"} {
		if !strings.Contains(summary, want) {
			t.Errorf("error summary lacks %q: %s", want, summary)
		}
	}
	if !strings.Contains(portErr, "1 to 65535") || invalid.Value != "true" {
		t.Errorf("port message %q, aria-invalid %q", portErr, invalid.Value)
	}
	if !strings.Contains(advErr, "Line 2:") {
		t.Errorf("additional-properties message %q lacks its line number", advErr)
	}
	// The summary's links lead to the fields.
	do(t, ctx, chromedp.Click(css(`#error-summary a[href="#smtpPort"]`)))
	if loc := get(t, ctx, chromedp.Location()); !strings.HasSuffix(loc, "#smtpPort") {
		t.Errorf("summary link went to %s", loc)
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an invalid form was saved: %v", err)
	}
}

func screenshotDir(t *testing.T) string {
	if d := os.Getenv("BROWSERTEST_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

func shot(ctx context.Context, t *testing.T, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}
