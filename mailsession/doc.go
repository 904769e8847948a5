// Package mailsession is a JavaMail-style mail session for Go: one
// configured, shareable Session that sends over SMTP and reads an inbox over
// POP3 or IMAP, built from JavaMail or Liferay properties or from Go options.
//
// # Building a session
//
// FromProperties takes JavaMail keys (mail.smtp.host, mail.transport.protocol,
// ...; Keys lists every one honoured), FromPortalProperties Liferay's
// portal-ext.properties (mail.session.* keys, mail.session.jndi.name,
// mail.session.mail.advanced.properties, LIFERAY_ environment variables with
// WithEnviron), New Go options only. ResourceFactory and
// RegisterResourceFactories turn Tomcat <Resource type="javax.mail.Session">
// (or jakarta.mail.Session) elements into Sessions bound in a jndi.Registry.
//
// Every setting is validated at construction (a *SettingError names the key
// and its value); what is legal but almost surely wrong — an unknown key such
// as mail.smpt.host, the POP3 port given to SMTP, implicit TLS on port 587 —
// is logged, returned by Warnings and reported by Check.
//
// # Sending
//
// Send composes a Message (UTF-8 headers as encoded-words, text and HTML as
// multipart/alternative, inline parts and attachments streamed from their
// io.Reader) and SendRaw sends prepared bytes. A failed send returns a
// *SendError listing the recipients reached, those not reached and those
// refused with the server's reply; errors.Is(err, ErrTemporary) or
// IsTemporary tells whether retrying later may help.
//
// The session keeps a pool of live SMTP connections
// (mail.smtp.connectionpoolsize, mail.smtp.connectionpooltimeout): after a
// successful transaction the next starts with MAIL directly, RSET is sent
// only after a failed one, an idle connection is checked with NOOP before
// reuse, and a dead one is replaced without losing or duplicating the
// message (a send is repeated only when the connection failed before MAIL
// was accepted).
//
// # Secure and bounded by default
//
// Certificates and host names are verified (system roots, or WithRootCAs /
// WithTLSConfig), TLS 1.2 at least; mail.<p>.ssl.trust and
// ssl.checkserveridentity keep their JavaMail meaning but are off unless
// set. Credentials are never sent without TLS to a host that is not
// loopback unless mail.<p>.auth.allowcleartext=true or WithInsecureAuth.
// Every dial has a timeout (30 s) and every read and write its own deadline
// (60 s), the context cancels a send at any step, and passwords never appear
// in logs, errors or formatted values. mail.debug=true or WithDebug traces
// the protocol to an slog.Logger with AUTH exchanges redacted.
//
// Check connects now and reports per endpoint the TLS version, capabilities,
// mechanisms, login result and latency, like Liferay's "connect on save".
package mailsession
