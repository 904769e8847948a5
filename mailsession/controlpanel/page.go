package controlpanel

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"html/template"
	"net/http"
)

//go:embed page.html
var pageHTML string

//go:embed style.css
var styleCSS string

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"inc": func(i int) int { return i + 1 }, // 1-based numbering of repeated ids
}).Parse(pageHTML))

// contentSecurityPolicy allows nothing but the page's own inline style
// (by hash), form posts to itself, and no framing: no script runs at all.
var contentSecurityPolicy = func() string {
	sum := sha256.Sum256([]byte(styleCSS))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
}()

// field is one input's view: everything the template needs to render the
// label, hint, value and inline error of one form control.
type field struct {
	ID, Name, Label, Hint, Value, Type   string
	Autocomplete, Inputmode, Placeholder string
	Checked                              bool
	Err                                  string
	Summary                              string // the field's name in the error summary, when Label is ambiguous
}

// notice is a banner above the form (or below the test-message form).
type notice struct {
	OK    bool
	Title string
	Lines []string
}

// summaryItem is one entry of the error summary, linking to its field.
type summaryItem struct{ ID, Label, Msg string }

// pageData is what the page template renders.
type pageData struct {
	CSS            template.CSS
	CSRF           string
	Pending        string // id of the typed passwords the form's placeholders stand for
	Version        string // of the settings file the form was filled from
	Bound          string // the JNDI name the session is published under
	Notice         *notice
	Errors         []summaryItem
	StoreKind      string
	F              map[string]field
	AdvancedErrors []string
	Report         *reportView
	Sent           *notice
	Outbox         *outboxView // nil without WithOutbox
}

// newPageData builds the view of s (passwords replaced by the placeholder)
// with the given field errors.
func newPageData(s settings, errs fieldErrors, testFrom, testTo string) *pageData {
	secret := func(v string) string {
		if v == "" {
			return ""
		}
		return passwordPlaceholder
	}
	d := &pageData{CSS: template.CSS(styleCSS), StoreKind: s.StoreKind, Bound: s.bindName(), F: map[string]field{}}
	add := func(f field) {
		f.ID, f.Err = f.Name, errs[f.Name]
		if f.Type == "" {
			f.Type = "text"
		}
		d.F[f.Name] = f
		if f.Err != "" {
			label := f.Summary
			if label == "" {
				label = f.Label
			}
			d.Errors = append(d.Errors, summaryItem{ID: f.ID, Label: label, Msg: f.Err})
		}
	}
	add(field{Name: fStoreHost, Label: "Incoming server", Value: s.StoreHost, Autocomplete: "off",
		Hint: "Leave empty if the application reads no mail.", Placeholder: "pop.example.com"})
	add(field{Name: fStorePort, Label: "Port", Summary: "Incoming port", Value: s.StorePort, Inputmode: "numeric", Autocomplete: "off",
		Hint: "Empty: the default.", Placeholder: defaultPort(s.StoreKind, s.StoreSecure)})
	add(field{Name: fStoreSecure, Label: "Use a secure network connection", Summary: "Incoming secure connection", Checked: s.StoreSecure,
		Hint: "TLS from the start (POP3S / IMAPS)."})
	add(field{Name: fStoreUser, Label: "User name", Summary: "Incoming user name", Value: s.StoreUser, Autocomplete: "off"})
	add(field{Name: fStorePassword, Label: "Password", Summary: "Incoming password", Value: secret(s.StorePassword), Type: "password", Autocomplete: "new-password",
		Hint: passwordHint(s.StorePassword, "mail.pop3.auth.mechanisms or mail.imap.auth.mechanisms")})
	add(field{Name: fSMTPHost, Label: "Outgoing server", Value: s.SMTPHost, Autocomplete: "off", Placeholder: "smtp.example.com",
		Hint: "Host name or IP address of the SMTP server."})
	add(field{Name: fSMTPPort, Label: "Port", Summary: "Outgoing port", Value: s.SMTPPort, Inputmode: "numeric", Autocomplete: "off",
		Hint: "Empty: the default.", Placeholder: defaultPort("smtp", s.SMTPSecure)})
	add(field{Name: fSMTPSecure, Label: "Use a secure network connection", Summary: "Outgoing secure connection", Checked: s.SMTPSecure,
		Hint: "TLS from the start (SMTPS, usually port 465)."})
	add(field{Name: fSMTPStartTLS, Label: "Use STARTTLS", Checked: s.SMTPStartTLS,
		Hint: "Upgrade a plain connection to TLS when the server offers it (usually port 587)."})
	add(field{Name: fSMTPUser, Label: "User name", Summary: "Outgoing user name", Value: s.SMTPUser, Autocomplete: "off",
		Hint: "Set a user name or password to log in before sending."})
	add(field{Name: fSMTPPassword, Label: "Password", Summary: "Outgoing password", Value: secret(s.SMTPPassword), Type: "password", Autocomplete: "new-password",
		Hint: passwordHint(s.SMTPPassword, "mail.smtp.auth.mechanisms")})
	add(field{Name: fAdvanced, Summary: "Additional JavaMail properties", Label: "Manually specify additional JavaMail properties to override the above configuration",
		Value: maskedAdvanced(s.Advanced), Hint: "One key=value per line, e.g. mail.smtp.connectiontimeout=10000. They override the fields above."})
	add(field{Name: fJNDIName, Label: "JNDI name", Value: s.JNDIName, Autocomplete: "off", Placeholder: DefaultJNDIName,
		Hint: "Code looks the session up under this name. Empty: " + DefaultJNDIName + ", and the name is not written to the file."})
	add(field{Name: fTestFrom, Label: "From", Value: testFrom, Type: "email", Autocomplete: "off",
		Hint: "Empty: the session's default sender (mail.from)."})
	add(field{Name: fTestTo, Label: "To", Value: testTo, Type: "email", Autocomplete: "off"})
	return d
}

// maskedAdvanced is the stored additional-properties box as the page shows
// it: a placeholder for every password or token.
func maskedAdvanced(text string) string {
	return maskAdvanced(text, advancedSecrets(text))
}

// defaultPort is the port a protocol uses when the field is empty, shown
// as the field's placeholder.
func defaultPort(kind string, secure bool) string {
	ports := map[string][2]string{"smtp": {"25", "465"}, "pop3": {"110", "995"}, "imap": {"143", "993"}}
	p, ok := ports[kind]
	if !ok {
		return ""
	}
	if secure {
		return p[1]
	}
	return p[0]
}

// passwordHint says whether a password is stored, and that the field takes
// the OAuth2 access token when mechKeys (in the advanced box) name XOAUTH2
// or OAUTHBEARER, as in JavaMail.
func passwordHint(stored, mechKeys string) string {
	oauth := " With XOAUTH2 or OAUTHBEARER in " + mechKeys + " (advanced properties), this is the OAuth2 access token; leave it empty when the application supplies tokens."
	if stored == "" {
		return "No password is stored." + oauth
	}
	return "A password is stored; leave the dots to keep it, or clear the field to remove it." + oauth
}

// securityHeaders are set on every response of the handler.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// render writes the page with the given status. It renders into a buffer
// first, so a template error never leaves a half-written page.
func render(w http.ResponseWriter, status int, d *pageData) error {
	var b bytes.Buffer
	if err := pageTemplate.ExecuteTemplate(&b, "page", d); err != nil {
		http.Error(w, "controlpanel: cannot render the page", http.StatusInternalServerError)
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err := w.Write(b.Bytes())
	return err
}
