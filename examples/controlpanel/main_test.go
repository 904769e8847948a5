package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The example serves the page only with the administrator's credentials,
// and its test message goes through the session published from the seeded
// file to the embedded server.
func TestExampleServesPageBehindBasicAuthAndSends(t *testing.T) {
	config := filepath.Join(t.TempDir(), "portal-ext.properties")
	app, cleanup, err := newApp(config, "admin", "pw", true, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	srv := httptest.NewServer(app)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}

	do := func(method, path, user, pass string, form url.Values) (*http.Response, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, srv.URL+path, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	for _, cred := range [][2]string{{"", ""}, {"admin", "wrong"}, {"root", "pw"}} {
		resp, _ := do(http.MethodGet, "/admin/mail/", cred[0], cred[1], nil)
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("credentials %q: %s, want 401 with a Basic challenge", cred, resp.Status)
		}
	}
	resp, page := do(http.MethodGet, "/admin/mail/", "admin", "pw", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `value="127.0.0.1"`) {
		t.Fatalf("page: %s", resp.Status)
	}
	tok := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(page)
	if tok == nil {
		t.Fatal("no CSRF token")
	}
	resp, body := do(http.MethodPost, "/admin/mail/", "admin", "pw",
		url.Values{"csrf_token": {tok[1]}, "action": {"send"}, "testTo": {"ops@example.org"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Test message sent to ops@example.org.") {
		t.Fatalf("send: %s\n%s", resp.Status, body)
	}
}
