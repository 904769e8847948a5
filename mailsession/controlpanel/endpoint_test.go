package controlpanel

import (
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jmailgo/jmail/mailsession/mailtest"
	"github.com/jmailgo/jmail/properties"
)

// other is a second mail server that would accept the stored password: if
// the page sent it there, the login would succeed and be recorded.
func otherServer(t *testing.T) *mailtest.Server {
	return mailtest.NewServer(t, mailtest.WithUser(testUser, testPassword), mailtest.WithAuthRequired())
}

// smtpOnlyForm is f.form without an incoming server, the SMTP password
// left as the placeholder.
func (f *fixture) smtpOnlyForm(action string) url.Values {
	form := f.form(action)
	form.Set(fStoreHost, "")
	form.Set(fStorePort, "")
	form.Set(fStoreUser, "")
	form.Set(fStorePassword, "")
	form.Set(fSMTPPassword, passwordPlaceholder)
	return form
}

func (f *fixture) writeFile(text string) {
	f.t.Helper()
	if err := os.WriteFile(f.path, []byte(text), 0o600); err != nil {
		f.t.Fatal(err)
	}
}

func fieldError(body, id string) string {
	_, rest, ok := strings.Cut(body, `<span class="error" id="`+id+`-err">`)
	if !ok {
		return ""
	}
	msg, _, _ := strings.Cut(rest, "</span>")
	return msg
}

// The placeholder stands for the stored SMTP password only at the endpoint
// it was stored for: with another host, port, protocol or TLS setting,
// Test connection and Save are refused on the password field, and the new
// server is never contacted (so never receives the password).
func TestStoredPasswordNotSentToAnotherEndpoint(t *testing.T) {
	f := newFixture(t, "", WithoutAuthorization())
	f.writeFile(f.portalFile())
	other := otherServer(t)
	stored := f.mail.Addr(f.mail.Ports().SMTP)
	for _, tc := range []struct {
		name string
		edit func(url.Values)
		want string
	}{
		{"another port", func(v url.Values) { v.Set(fSMTPPort, strconv.Itoa(other.Ports().SMTP)) },
			"The password was stored for " + stored + "; type it again to use it with " + other.Addr(other.Ports().SMTP) + "."},
		{"another host", func(v url.Values) { v.Set(fSMTPHost, "localhost"); v.Set(fSMTPPort, strconv.Itoa(other.Ports().SMTP)) },
			"The password was stored for " + stored + "; type it again to use it with localhost:" + strconv.Itoa(other.Ports().SMTP) + "."},
		{"STARTTLS ticked", func(v url.Values) { v.Set(fSMTPStartTLS, "true") },
			"The password was stored for " + stored + " without TLS; type it again to use it with " + stored + " with STARTTLS."},
		{"SMTPS", func(v url.Values) { v.Set(fSMTPSecure, "true"); v.Set(fSMTPPort, strconv.Itoa(other.Ports().SMTPS)) },
			"The password was stored for " + stored + "; type it again to use it with " + other.Addr(other.Ports().SMTPS) + "."},
		{"host moved in the box", func(v url.Values) { v.Set(fAdvanced, "mail.smtp.port="+strconv.Itoa(other.Ports().SMTP)) },
			"The password was stored for " + stored + "; type it again to use it with " + other.Addr(other.Ports().SMTP) + "."},
		{"certificate trust in the box", func(v url.Values) { v.Set(fAdvanced, "mail.smtp.ssl.trust=*") },
			"The password was stored for " + stored + " without TLS; type it again to use it with " + stored + " with the connection settings changed."},
	} {
		for _, action := range []string{"test", "save"} {
			t.Run(tc.name+"/"+action, func(t *testing.T) {
				before, mine := f.file(), f.mail.SMTPConnections()
				form := f.smtpOnlyForm(action)
				tc.edit(form)
				status, body := f.post(form)
				if status != http.StatusUnprocessableEntity {
					t.Fatalf("status %d, want 422\n%s", status, body)
				}
				if got := fieldError(body, fSMTPPassword); got != tc.want {
					t.Errorf("password field error %q,\nwant %q", got, tc.want)
				}
				if strings.Contains(body, testPassword) {
					t.Error("the response contains the password")
				}
				if n := other.SMTPConnections(); n != 0 {
					t.Errorf("the other server was contacted (%d connections): %v", n, other.SMTPCommands())
				}
				if f.mail.SMTPConnections() != mine {
					t.Errorf("the stored server was contacted with the changed settings")
				}
				if f.file() != before {
					t.Errorf("a refused form changed the file")
				}
				// Shown back empty, to be typed again.
				if !strings.Contains(body, `id="smtpPassword" name="smtpPassword" value=""`) {
					t.Errorf("the refused password field is not emptied")
				}
			})
		}
	}

	// The unchanged endpoint still works with the placeholder.
	status, body := f.post(f.smtpOnlyForm("test"))
	if status != http.StatusOK || !strings.Contains(body, "The server works") || !strings.Contains(body, "Login: ") {
		t.Fatalf("test with the stored endpoint: %d\n%s", status, body)
	}

	// Typed again, the password is used with the new server; the form
	// shown back keeps it for that server, so Save with the placeholder
	// saves it.
	form := f.smtpOnlyForm("test")
	form.Set(fSMTPPort, strconv.Itoa(other.Ports().SMTP))
	form.Set(fSMTPPassword, testPassword)
	status, body = f.post(form)
	if status != http.StatusOK || !slices.Contains(other.SMTPCommands(), "AUTH") {
		t.Fatalf("test with the password typed: %d, other server saw %v\n%s", status, other.SMTPCommands(), body)
	}
	m := pendingRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the form shown back does not keep the typed password")
	}
	form.Set("action", "save")
	form.Set(fSMTPPassword, passwordPlaceholder)
	form.Set(fPending, m[1])
	if status, body := f.post(form); status != http.StatusOK {
		t.Fatalf("save after the test: %d\n%s", status, body)
	}
	p, err := properties.LoadFile(f.path)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := p.Get(KeySMTPPassword); v != testPassword {
		t.Errorf("saved password %q", v)
	}
	if v, _ := p.Get(KeySMTPPort); v != strconv.Itoa(other.Ports().SMTP) {
		t.Errorf("saved port %q", v)
	}
}

// The incoming side is bound separately: moving the POP3 server refuses the
// incoming password, not the outgoing one (the store has its own login).
// An incoming server without a login of its own logs in with the outgoing
// credentials (Liferay), so adding or moving one refuses the outgoing
// password too.
func TestStoredStorePasswordBoundToItsServer(t *testing.T) {
	f := newFixture(t, "", WithoutAuthorization())
	other := otherServer(t)
	p := f.mail.Ports()
	withStore := f.portalFile() +
		"mail.session.mail.store.protocol=pop3\n" +
		"mail.session.mail.pop3.host=" + f.mail.Host() + "\n" +
		"mail.session.mail.pop3.port=" + strconv.Itoa(p.POP3) + "\n" +
		"mail.session.mail.pop3.user=" + testUser + "\n" +
		"mail.session.mail.pop3.password=" + testPassword + "\n"
	storedPOP3 := f.mail.Addr(p.POP3)
	otherPOP3 := other.Addr(other.Ports().POP3)

	f.writeFile(withStore)
	form := f.form("test")
	form.Set(fSMTPPassword, passwordPlaceholder)
	form.Set(fStorePassword, passwordPlaceholder)
	form.Set(fStorePort, strconv.Itoa(other.Ports().POP3))
	status, body := f.post(form)
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422", status)
	}
	if got, want := fieldError(body, fStorePassword), "The password was stored for "+storedPOP3+"; type it again to use it with "+otherPOP3+"."; got != want {
		t.Errorf("incoming password error %q, want %q", got, want)
	}
	if got := fieldError(body, fSMTPPassword); got != "" {
		t.Errorf("the outgoing password is refused although it is not sent to the store: %q", got)
	}

	// Secure connection ticked: another endpoint as well.
	form = f.form("test")
	form.Set(fSMTPPassword, passwordPlaceholder)
	form.Set(fStorePassword, passwordPlaceholder)
	form.Set(fStoreSecure, "true")
	form.Set(fStorePort, strconv.Itoa(p.POP3S))
	if _, body := f.post(form); fieldError(body, fStorePassword) == "" {
		t.Errorf("POP3S with the stored POP3 password is not refused")
	}

	// Store user cleared: the refused incoming password leaves the store
	// logging in with the outgoing credentials, at the new server.
	form = f.form("test")
	form.Set(fSMTPPassword, passwordPlaceholder)
	form.Set(fStorePassword, passwordPlaceholder)
	form.Set(fStoreUser, "")
	form.Set(fStorePort, strconv.Itoa(other.Ports().POP3))
	_, body = f.post(form)
	if fieldError(body, fStorePassword) == "" || !strings.Contains(fieldError(body, fSMTPPassword), "type it again to use it with "+otherPOP3) {
		t.Errorf("the outgoing password would reach the new incoming server: store %q, smtp %q",
			fieldError(body, fStorePassword), fieldError(body, fSMTPPassword))
	}

	// No store stored; one added without its own login borrows the
	// outgoing password.
	f.writeFile(f.portalFile())
	form = f.smtpOnlyForm("test")
	form.Set(fStoreHost, other.Host())
	form.Set(fStorePort, strconv.Itoa(other.Ports().POP3))
	status, body = f.post(form)
	want := "The password was stored for " + f.mail.Addr(p.SMTP) + "; type it again to use it with " + otherPOP3 + "."
	if status != http.StatusUnprocessableEntity || fieldError(body, fSMTPPassword) != want {
		t.Errorf("adding a store without a login: %d, %q, want %q", status, fieldError(body, fSMTPPassword), want)
	}
	// With its own login the outgoing password stays where it was.
	form.Set(fStoreUser, testUser)
	form.Set(fStorePassword, testPassword)
	if status, body := f.post(form); status != http.StatusOK {
		t.Errorf("a store with its own login: %d\n%s", status, body)
	}
}

// A password stored in the additional-properties box is bound the same way,
// and the refusal is reported on its line, which is emptied.
func TestBoxPasswordBoundToItsServer(t *testing.T) {
	f := newFixture(t, "", WithoutAuthorization())
	const boxSecret = "box-Secret-81Kp"
	f.writeFile(f.portalFile() + "mail.session.mail.advanced.properties=mail.from=" + testUser + `\nmail.smtp.password=` + boxSecret + "\n")
	other := otherServer(t)

	form := f.smtpOnlyForm("test")
	form.Set(fSMTPPassword, testPassword) // typed: the field itself is fine
	form.Set(fSMTPPort, strconv.Itoa(other.Ports().SMTP))
	form.Set(fAdvanced, "mail.from="+testUser+"\r\nmail.smtp.password="+passwordPlaceholder)
	status, body := f.post(form)
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422", status)
	}
	want := "Line 2: The value of mail.smtp.password was stored for " + f.mail.Addr(f.mail.Ports().SMTP) +
		"; type it again to use it with " + other.Addr(other.Ports().SMTP) + "."
	if !strings.Contains(body, want) {
		t.Errorf("the box's refusal is not on its line: want %q\n%s", want, body)
	}
	if fieldError(body, fSMTPPassword) != "" {
		t.Errorf("the typed password is refused")
	}
	if strings.Contains(body, boxSecret) || strings.Contains(body, "mail.smtp.password="+passwordPlaceholder) {
		t.Errorf("the refused line still stands for the stored secret")
	}
	if other.SMTPConnections() != 0 {
		t.Errorf("the other server was contacted")
	}

	// At the stored endpoint the box placeholder keeps the secret.
	form = f.smtpOnlyForm("save")
	form.Set(fAdvanced, "mail.from="+testUser+"\r\nmail.smtp.password="+passwordPlaceholder)
	if status, body := f.post(form); status != http.StatusOK {
		t.Fatalf("save at the stored endpoint: %d\n%s", status, body)
	}
	p, err := properties.LoadFile(f.path)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := p.Get(KeyAdvancedProperties); !strings.Contains(v, "mail.smtp.password="+boxSecret) {
		t.Errorf("box after the save: %q", v)
	}
}

func TestEndpointKeyIgnoresHarmlessChanges(t *testing.T) {
	base := settings{StoreKind: "pop3", SMTPHost: "smtp.example.com", SMTPPort: "587", SMTPStartTLS: true, SMTPUser: "a", SMTPPassword: "x"}
	same := base
	same.SMTPHost = "SMTP.example.com"
	same.SMTPUser = "b"
	same.Advanced = "mail.smtp.connectiontimeout=5000\nmail.from=a@example.com\nmail.smtp.password=y"
	if base.endpointsKey() != same.endpointsKey() {
		t.Errorf("case, user, timeouts, sender or the secret itself changed the endpoint")
	}
	port := base
	port.SMTPPort = ""
	dflt := base
	dflt.SMTPPort = "25"
	if port.endpointsKey() != dflt.endpointsKey() {
		t.Errorf("an empty port is not the default port")
	}
	for _, adv := range []string{"mail.smtp.socks.host=proxy", "mail.smtp.proxy.host=proxy", "mail.smtp.ssl.checkserveridentity=false",
		"mail.smtp.socketFactory.port=2525", "mail.host=other", "mail.smtp.starttls.enable=false", "mail.transport.protocol=smtps"} {
		moved := base
		moved.Advanced = adv
		if adv == "mail.host=other" {
			moved.SMTPHost = ""
		}
		if moved.endpointsKey() == base.endpointsKey() {
			t.Errorf("%s does not change the endpoint", adv)
		}
	}
}
