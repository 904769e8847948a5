package controlpanel

import (
	"html"
	"net/http"
	"strings"
	"testing"

	"github.com/jmailgo/jmail/mailsession"
)

// A setting the session refuses in the additional-properties box is
// reported on its line, in words, every refused line at once; a secret's
// value is never echoed.
func TestBoxSettingRefusedOnItsLine(t *testing.T) {
	f := newFixture(t, "", WithoutAuthorization())
	form := f.form("test")
	form.Set(fAdvanced, "mail.from="+testUser+"\r\n# timeouts\r\nmail.smtp.port=abc\r\nmail.smtp.connectiontimeout=soon\r\nmail.smtp.connectionpoolsize=many")
	status, body := f.post(form)
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422\n%s", status, body)
	}
	text := html.UnescapeString(body)
	for _, want := range []string{
		`Line 3: mail.smtp.port must be a port number (1–65535), not "abc".`,
		`Line 4: mail.smtp.connectiontimeout must be a number of milliseconds, not "soon".`,
		`Line 5: mail.smtp.connectionpoolsize must be a whole number, not "many".`,
		"3 lines need attention.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("response lacks %q\n%s", want, text)
		}
	}
	if strings.Contains(text, "mailsession: setting") {
		t.Errorf("the library's raw error is shown")
	}
}

func TestSettingWordsHidesSecrets(t *testing.T) {
	for _, key := range []string{"mail.smtp.password", "mail.imap.auth.token", "mail.smtp.proxy.password"} {
		if got := settingWords(key, "Sekr1t", nil); strings.Contains(got, "Sekr1t") || !strings.HasPrefix(got, key+" ") {
			t.Errorf("settingWords(%s) = %q", key, got)
		}
	}
	if got := settingWords("mail.smtp.socks.port", "x", nil); got != `mail.smtp.socks.port must be a port number (1–65535), not "x"` {
		t.Errorf("socks.port: %q", got)
	}
}

// Warnings name the form's fields and the action that fixes them: the
// embedded server offers STARTTLS on its plain port.
func TestWarningsNameFormFields(t *testing.T) {
	f := newFixture(t, "", WithoutAuthorization())
	status, body := f.post(f.form("test"))
	if status != http.StatusOK {
		t.Fatalf("status %d\n%s", status, body)
	}
	if !strings.Contains(body, "Tick Use STARTTLS.") || strings.Contains(body, "set it to true (and starttls.required)") {
		t.Errorf("the STARTTLS warning does not name the checkbox:\n%s", body)
	}
	// Set in the box, the key is named with its line.
	form := f.form("test")
	form.Set(fAdvanced, "mail.from="+testUser+"\r\nmail.smtp.starttls.enable=false")
	_, body = f.post(form)
	if !strings.Contains(html.UnescapeString(body), "Additional JavaMail properties, line 2: mail.smtp.starttls.enable: ") {
		t.Errorf("a warning about a box key does not name its line")
	}
}

func TestWarningText(t *testing.T) {
	box := []advancedEntry{{Line: 4, Key: "mail.smtp.ssl.trust", Value: "*"}, {Line: 6, Key: "mail.smtp.port", Value: "465"}}
	for _, tc := range []struct {
		w       mailsession.Warning
		entries []advancedEntry
		want    string
	}{
		{mailsession.Warning{Key: "mail.smtp.starttls.enable", Message: "the server offers STARTTLS but the connection stays unencrypted: set it to true (and starttls.required)"}, nil,
			"Outgoing mail: the server offers STARTTLS but the connection stays unencrypted. Tick Use STARTTLS."},
		{mailsession.Warning{Key: "mail.session.mail.smtp.auth", Message: "credentials need TLS: enable mail.smtp.starttls.enable or ssl.enable"}, nil,
			"Outgoing mail: the password would be sent unencrypted. Tick Use STARTTLS, or Use a secure network connection (SMTPS)."},
		{mailsession.Warning{Key: "mail.pop3.auth", Message: "credentials need TLS: enable mail.pop3.starttls.enable or ssl.enable"}, nil,
			"Incoming mail: the password would be sent unencrypted. Tick Use a secure network connection."},
		{mailsession.Warning{Key: "mail.smtp.port", Message: "port 465 expects implicit TLS: use protocol smtps or mail.smtp.ssl.enable=true"}, nil,
			"Outgoing port 465 expects a secure connection: tick Use a secure network connection, or use port 587 and tick Use STARTTLS."},
		{mailsession.Warning{Key: "mail.smtps.port", Message: "implicit TLS (smtps or ssl.enable) on port 587, which expects a plain connection (use STARTTLS there, or port 465)"}, nil,
			"Outgoing port 587 expects a plain connection: untick Use a secure network connection and tick Use STARTTLS, or use port 465."},
		{mailsession.Warning{Key: "mail.pop3s.port", Message: "implicit TLS (pop3s or ssl.enable) on port 110, which expects a plain connection (use STARTTLS there, or port 995)"}, nil,
			"Incoming port 110 expects a plain connection: untick Use a secure network connection, or use port 995."},
		{mailsession.Warning{Key: "mail.smtp.host", Message: "something new"}, nil, "Outgoing server (mail.smtp.host): something new"},
		{mailsession.Warning{Key: "mail.smtp.ssl.trust", Message: "every server certificate is trusted without verification"}, box,
			"Additional JavaMail properties, line 4: mail.smtp.ssl.trust: every server certificate is trusted without verification"},
		{mailsession.Warning{Key: "mail.smtps.port", Message: "port 465 expects implicit TLS"}, box,
			"Additional JavaMail properties, line 6: mail.smtps.port: port 465 expects implicit TLS"},
		{mailsession.Warning{Key: "mail.smpt.host", Message: "unknown key, ignored (did you mean mail.smtp.host?)"}, nil,
			"mail.smpt.host: unknown key, ignored (did you mean mail.smtp.host?)"},
		{mailsession.Warning{Message: "session-wide"}, nil, "session-wide"},
	} {
		if got := warningText(tc.w, tc.entries); got != tc.want {
			t.Errorf("warningText(%v)\n got %q\nwant %q", tc.w, got, tc.want)
		}
	}
}
