//go:build jmail_wip

package controlpanel

import (
	"net/url"
	"strconv"
	"strings"
)

// Liferay's portal property keys for the Mail page (PropsKeys.MAIL_SESSION_*),
// as its Server Administration → Mail action stores them. The incoming
// server's fields are the pop3 keys whatever the store protocol, as in
// Liferay; the secure checkboxes choose the protocols pop3s / imaps / smtps.
const (
	KeyMail               = "mail.session.mail" // "true": the portal builds its own session from these keys
	KeyAdvancedProperties = "mail.session.mail.advanced.properties"
	KeyStoreProtocol      = "mail.session.mail.store.protocol"     // pop3, pop3s, imap, imaps
	KeyTransportProtocol  = "mail.session.mail.transport.protocol" // smtp, smtps
	KeyPOP3Host           = "mail.session.mail.pop3.host"
	KeyPOP3Port           = "mail.session.mail.pop3.port"
	KeyPOP3User           = "mail.session.mail.pop3.user"
	KeyPOP3Password       = "mail.session.mail.pop3.password"
	KeySMTPHost           = "mail.session.mail.smtp.host"
	KeySMTPPort           = "mail.session.mail.smtp.port"
	KeySMTPUser           = "mail.session.mail.smtp.user"
	KeySMTPPassword       = "mail.session.mail.smtp.password"
	KeySMTPAuth           = "mail.session.mail.smtp.auth"
	KeySMTPStartTLS       = "mail.session.mail.smtp.starttls.enable"
	KeyJNDIName           = "mail.session.jndi.name"
)

// DefaultJNDIName is the name the session is bound under when the form
// leaves it empty: Liferay's and Tomcat's conventional mail/MailSession.
const DefaultJNDIName = "mail/MailSession"

// passwordPlaceholder is what a password field shows when a password is
// stored. Submitting it unchanged keeps the stored password (Liferay's
// Portal.TEMP_OBFUSCATION_VALUE); the password itself never leaves the server.
const passwordPlaceholder = "\u2022\u2022\u2022\u2022\u2022\u2022\u2022\u2022"

// settings is the Mail page's form model: what the operator edits, in the
// form's own terms. It converts to and from Liferay's keys.
type settings struct {
	StoreKind     string // "pop3" or "imap"
	StoreHost     string
	StorePort     string
	StoreSecure   bool
	StoreUser     string
	StorePassword string

	SMTPHost     string
	SMTPPort     string
	SMTPSecure   bool
	SMTPStartTLS bool
	SMTPUser     string
	SMTPPassword string

	Advanced string
	JNDIName string
}

// settingsFrom reads the form model from Liferay's keys; get returns the
// value of a key and whether it is set.
func settingsFrom(get func(string) (string, bool)) settings {
	val := func(k string) string { v, _ := get(k); return strings.TrimSpace(v) }
	s := settings{
		StoreHost: val(KeyPOP3Host), StorePort: val(KeyPOP3Port), StoreUser: val(KeyPOP3User),
		SMTPHost: val(KeySMTPHost), SMTPPort: val(KeySMTPPort), SMTPUser: val(KeySMTPUser),
		SMTPStartTLS: strings.EqualFold(val(KeySMTPStartTLS), "true"),
		JNDIName:     val(KeyJNDIName),
	}
	s.StorePassword, _ = get(KeyPOP3Password)
	s.SMTPPassword, _ = get(KeySMTPPassword)
	s.Advanced, _ = get(KeyAdvancedProperties)
	switch strings.ToLower(val(KeyStoreProtocol)) {
	case "pop3s":
		s.StoreKind, s.StoreSecure = "pop3", true
	case "imap":
		s.StoreKind = "imap"
	case "imaps":
		s.StoreKind, s.StoreSecure = "imap", true
	default:
		s.StoreKind = "pop3"
	}
	s.SMTPSecure = strings.EqualFold(val(KeyTransportProtocol), "smtps")
	if s.JNDIName == "" {
		s.JNDIName = DefaultJNDIName
	}
	return s
}

// values returns the Liferay keys and values that represent s, in the order
// Liferay's page lists them. Every key is always written (an emptied field
// stores an empty value), so a saved file says exactly what the page showed.
func (s settings) values() [][2]string {
	store := s.StoreKind
	if s.StoreSecure {
		store += "s"
	}
	transport := "smtp"
	if s.SMTPSecure {
		transport = "smtps"
	}
	auth := s.SMTPUser != "" || s.SMTPPassword != "" // Liferay: auth when a user or password is set
	return [][2]string{
		{KeyMail, "true"},
		{KeyStoreProtocol, store},
		{KeyPOP3Host, s.StoreHost},
		{KeyPOP3Port, s.StorePort},
		{KeyPOP3User, s.StoreUser},
		{KeyPOP3Password, s.StorePassword},
		{KeyTransportProtocol, transport},
		{KeySMTPHost, s.SMTPHost},
		{KeySMTPPort, s.SMTPPort},
		{KeySMTPUser, s.SMTPUser},
		{KeySMTPPassword, s.SMTPPassword},
		{KeySMTPAuth, strconv.FormatBool(auth)},
		{KeySMTPStartTLS, strconv.FormatBool(s.SMTPStartTLS)},
		{KeyAdvancedProperties, s.Advanced},
		{KeyJNDIName, s.JNDIName},
	}
}

// Form field names.
const (
	fStoreKind     = "storeKind"
	fStoreHost     = "pop3Host"
	fStorePort     = "pop3Port"
	fStoreSecure   = "pop3Secure"
	fStoreUser     = "pop3User"
	fStorePassword = "pop3Password"
	fSMTPHost      = "smtpHost"
	fSMTPPort      = "smtpPort"
	fSMTPSecure    = "smtpSecure"
	fSMTPStartTLS  = "smtpStartTLS"
	fSMTPUser      = "smtpUser"
	fSMTPPassword  = "smtpPassword"
	fAdvanced      = "advancedProperties"
	fJNDIName      = "jndiName"
	fTestFrom      = "testFrom"
	fTestTo        = "testTo"
)

// settingsFromForm reads the submitted form. A password field that still
// holds the placeholder keeps the stored password from stored.
func settingsFromForm(f url.Values, stored settings) settings {
	val := func(k string) string { return strings.TrimSpace(f.Get(k)) }
	s := settings{
		StoreKind: val(fStoreKind), StoreHost: val(fStoreHost), StorePort: val(fStorePort),
		StoreSecure: f.Get(fStoreSecure) != "", StoreUser: val(fStoreUser),
		StorePassword: f.Get(fStorePassword),
		SMTPHost:      val(fSMTPHost), SMTPPort: val(fSMTPPort),
		SMTPSecure: f.Get(fSMTPSecure) != "", SMTPStartTLS: f.Get(fSMTPStartTLS) != "",
		SMTPUser: val(fSMTPUser), SMTPPassword: f.Get(fSMTPPassword),
		Advanced: normalizeNewlines(f.Get(fAdvanced)),
		JNDIName: val(fJNDIName),
	}
	if s.StorePassword == passwordPlaceholder {
		s.StorePassword = stored.StorePassword
	}
	if s.SMTPPassword == passwordPlaceholder {
		s.SMTPPassword = stored.SMTPPassword
	}
	if s.JNDIName == "" {
		s.JNDIName = DefaultJNDIName
	}
	return s
}

// normalizeNewlines turns the CRLF line ends browsers submit for a textarea
// into LF, so the stored value reads the same on every platform.
func normalizeNewlines(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}
