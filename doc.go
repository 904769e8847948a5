// Package jmail is a JavaMail-style mail session for Go services: one
// configured, shareable session that sends mail over SMTP and reads inboxes
// over POP3 or IMAP, configured from the properties operators already wrote
// for Java portals such as Liferay DXP.
//
// The module is split into small packages with one job each:
//
//   - [github.com/jmailgo/jmail/properties] reads and writes Java
//     .properties files exactly as Java 17 does (portal-ext.properties,
//     JavaMail properties), edits them in place, and decodes Liferay's
//     environment-variable overrides.
//   - [github.com/jmailgo/jmail/jndi] is a name registry: bind a shared
//     object under a JNDI-style name such as mail/MailSession and look it up
//     anywhere in the program; it also turns Tomcat context.xml resources into
//     bound objects.
//   - [github.com/jmailgo/jmail/mailsession] is the Session: settings to an
//     SMTP transport and a POP3/IMAP store, with Send, Receive and Check.
//   - [github.com/jmailgo/jmail/mailsession/mailtest] is an embedded SMTP,
//     POP3 and IMAP server on loopback for tests and development, in the
//     spirit of net/http/httptest.
//   - [github.com/jmailgo/jmail/mailsession/controlpanel] is Liferay's Mail
//     administration page as an embeddable http.Handler.
//
// A service typically loads its settings once, builds a session, and binds it
// so that other parts of the program can look it up by name:
//
//	p, err := properties.LoadFile("portal-ext.properties")
//	if err != nil {
//		return err
//	}
//	s, err := mailsession.FromPortalProperties(p)
//	if err != nil {
//		return err
//	}
//	defer s.Close()
//	if err := jndi.Bind("mail/MailSession", s); err != nil {
//		return err
//	}
//	err = s.Send(ctx, &mailsession.Message{
//		To:      []string{"user@example.com"},
//		Subject: "Welcome",
//		Text:    "Your account is ready.",
//	})
package jmail
