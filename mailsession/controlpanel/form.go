package controlpanel

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/jmailgo/jmail/properties"
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
// The default is not written to the file: for Liferay a
// mail.session.jndi.name means "look the session up in the application
// server" instead of building it from the mail.session.* keys.
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
	JNDIName string // as the operator set it; "" means DefaultJNDIName, not written

	version string // of the file the settings were read from (load only)
	typed   bool   // the secrets were typed into a form shown back, not stored
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
	return s
}

// bindName is the JNDI name the session is published under.
func (s settings) bindName() string {
	if s.JNDIName == "" {
		return DefaultJNDIName
	}
	return s.JNDIName
}

// values returns the Liferay keys and values that represent s, in the order
// Liferay's page lists them, and the keys to remove. Every field is written
// (an emptied field stores an empty value), so a saved file says what the
// page showed; only an empty incoming server removes the store's keys, as
// "no incoming mail" (a store protocol with no host would mean localhost),
// and an empty JNDI name removes mail.session.jndi.name (set, it would make
// Liferay look a session up instead of using these keys).
func (s settings) values() (set [][2]string, del []string) {
	store := s.StoreKind
	if s.StoreSecure {
		store += "s"
	}
	transport := "smtp"
	if s.SMTPSecure {
		transport = "smtps"
	}
	auth := s.SMTPUser != "" || s.SMTPPassword != "" // Liferay: auth when a user or password is set
	set = [][2]string{{KeyMail, "true"}}
	if s.StoreHost == "" {
		del = []string{KeyStoreProtocol, KeyPOP3Host, KeyPOP3Port, KeyPOP3User, KeyPOP3Password}
	} else {
		set = append(set,
			[2]string{KeyStoreProtocol, store},
			[2]string{KeyPOP3Host, s.StoreHost},
			[2]string{KeyPOP3Port, s.StorePort},
			[2]string{KeyPOP3User, s.StoreUser},
			[2]string{KeyPOP3Password, s.StorePassword})
	}
	set = append(set,
		[2]string{KeyTransportProtocol, transport},
		[2]string{KeySMTPHost, s.SMTPHost},
		[2]string{KeySMTPPort, s.SMTPPort},
		[2]string{KeySMTPUser, s.SMTPUser},
		[2]string{KeySMTPPassword, s.SMTPPassword},
		[2]string{KeySMTPAuth, strconv.FormatBool(auth)},
		[2]string{KeySMTPStartTLS, strconv.FormatBool(s.SMTPStartTLS)},
		[2]string{KeyAdvancedProperties, s.Advanced})
	if s.JNDIName != "" {
		set = append(set, [2]string{KeyJNDIName, s.JNDIName})
	} else {
		del = append(del, KeyJNDIName)
	}
	return set, del
}

// apply returns a copy of p with s's keys set and removed.
func (s settings) apply(p *properties.Properties) *properties.Properties {
	p = p.Clone()
	set, del := s.values()
	for _, kv := range set {
		p.Set(kv[0], kv[1])
	}
	for _, k := range del {
		p.Delete(k)
	}
	return p
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
	fPending       = "pending" // hidden: id of passwords typed earlier into this form
	fVersion       = "version" // hidden: version of the file the form was filled from
)

// refusals are the placeholders a submitted form could not use, by field
// and, for the additional-properties box, by line.
type refusals struct {
	fields fieldErrors
	lines  []string
}

// settingsFromForm reads the submitted form. A password field (or a password
// or token line of the additional-properties box) that still holds the
// placeholder keeps the secret from base — the stored settings, or a form
// typed earlier — as long as the submitted settings send it to no endpoint
// base did not send it to (see movedSecret). Otherwise the field (the line)
// is emptied and refusals say why: the password must be typed again.
func settingsFromForm(f url.Values, base settings) (settings, refusals) {
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
	if s.StoreKind != "imap" {
		s.StoreKind = "pop3" // the radio group sends one of the two
	}
	var kept []secret
	if s.StorePassword == passwordPlaceholder {
		s.StorePassword = base.StorePassword
		if s.StorePassword != "" {
			kept = append(kept, secret{field: fStorePassword})
		}
	}
	if s.SMTPPassword == passwordPlaceholder {
		s.SMTPPassword = base.SMTPPassword
		if s.SMTPPassword != "" {
			kept = append(kept, secret{field: fSMTPPassword})
		}
	}
	stored := advancedSecrets(base.Advanced)
	boxLine := map[string]int{}
	for _, l := range logicalLines(strings.Split(s.Advanced, "\n")) {
		if k, v, ok := secretOf(l.text); ok && v == passwordPlaceholder && stored[k].value != "" {
			if _, seen := boxLine[k]; !seen {
				kept = append(kept, secret{field: fAdvanced, key: k})
			}
			boxLine[k] = l.first + 1
		}
	}

	verb := "stored"
	if base.typed {
		verb = "typed"
	}
	baseEnds := endpointsOf(base.effective())
	r := refusals{fields: fieldErrors{}}
	refusedKey := map[string]bool{}
	// Refusing one secret can send another further (an incoming server
	// without its own password logs in with the outgoing one): check again
	// until nothing more is refused.
	for changed := true; changed; {
		changed = false
		// The box still holds the placeholder for a kept secret: for the
		// endpoints only whether a secret is set matters.
		ends := endpointsOf(s.effective())
		for _, sec := range kept {
			what := "The password"
			if sec.field == fAdvanced {
				if refusedKey[sec.key] {
					continue
				}
				what = "The value of " + sec.key
			} else if r.fields[sec.field] != "" {
				continue
			}
			msg := movedSecret(baseEnds, ends, sec, what, verb)
			if msg == "" {
				continue
			}
			changed = true
			switch sec.field {
			case fStorePassword:
				s.StorePassword = ""
				r.fields[sec.field] = msg
			case fSMTPPassword:
				s.SMTPPassword = ""
				r.fields[sec.field] = msg
			default:
				refusedKey[sec.key] = true
				r.lines = append(r.lines, fmt.Sprintf("Line %d: %s", boxLine[sec.key], msg))
				s.Advanced = rewriteSecrets(s.Advanced, func(k, v string) (string, bool) {
					if k == sec.key && v == passwordPlaceholder {
						return escapeKey(k) + "=", false
					}
					return "", true
				})
			}
		}
	}
	s.Advanced = unmaskAdvanced(s.Advanced, stored)
	return s, r
}

// normalizeNewlines turns the CRLF line ends browsers submit for a textarea
// into LF, so the stored value reads the same on every platform.
func normalizeNewlines(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}
