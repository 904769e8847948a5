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
// Values are read as JavaMail reads them from what java.util.Properties
// leaves (a trailing blank is kept): a boolean whose default is false is
// true only for "true" in any case, one whose default is true is false only
// for "false"; anything else ("yes", "1", "true ") is read so, with a
// warning. A number with a blank around it ("25 ") is not a number to
// JavaMail, which uses the default: so it is here, with a warning; any other
// value that is not a number is refused at construction (JavaMail would use
// the default without a word). A host name with a blank is refused (JavaMail
// fails to connect to it); a user or password keeps its blank, as JavaMail
// sends it, with a warning. JavaMail keys that are set but not supported are
// reported ("JavaMail key, not supported here: ..."), and so is ssl.trust
// naming the server, which turns certificate verification off for it.
// Warnings and errors name the keys as the operator wrote them: for
// FromPortalProperties, mail.session.mail.smtp.port or the LIFERAY_ variable.
//
// In portal properties, mail.session.mail is Liferay's settings-source flag:
// false (the default) builds the session from the mail.session.* keys alone
// (a login does not switch SMTP authentication on, the advanced box is not
// applied), true from the Control Panel settings (authentication on when a
// user or password is set, mail.session.mail.advanced.properties applied
// last). See FromPortalProperties; the section "Every key" lists them all.
//
// # Sending
//
// Send composes a Message (UTF-8 headers as encoded-words, text and HTML as
// multipart/alternative, inline parts and attachments streamed from their
// io.Reader) and SendRaw sends prepared bytes. A failed send returns a
// *SendError in which every envelope recipient is in exactly one of four
// lists: Sent (accepted; never send again), Rejected (refused, each with
// the server's reply; a 4xx may succeed later), Unsent (the transaction
// stopped before the message was accepted: safe to send again) and
// Uncertain (the end of the message went out and no reply came: the server
// may have it, so a resend may duplicate it). errors.Is(err, ErrTemporary)
// or IsTemporary tells whether retrying later may help and is safe,
// ErrPermanent that it will not help, ErrUncertain that the outcome is
// unknown; a send stopped by its context also matches ctx.Err().
//
// One engine speaks every transaction (RSET when needed, MAIL, RCPT, DATA or
// BDAT, the body), matching each reply to the command it answers. With
// PIPELINING (mail.smtp.pipelining) the commands go in groups: two round
// trips a message with DATA; with CHUNKING as well (mail.smtp.chunking,
// WithChunking) the body goes as "BDAT n LAST" in the same group as MAIL and
// RCPT, one round trip, when there is one recipient or sendpartial is on
// (otherwise the recipients' replies come first, so that a refused one can
// stop the message, as JavaMail does). Without PIPELINING each group is one
// command. Server replies are capped (64 KiB a line, 256 KiB a reply).
//
// The session keeps a pool of live SMTP connections
// (mail.smtp.connectionpoolsize, mail.smtp.connectionpooltimeout): after a
// successful transaction the next starts with MAIL directly, RSET is sent
// only after a failed one, an idle connection is checked before reuse (a
// look at the socket for a server that spoke or hung up, and NOOP after
// five seconds of rest), and a dead one is replaced without losing or
// duplicating the message (a send is repeated on a new connection only when
// nothing can have been delivered: before the end of the message, or after
// a 421).
//
// # Deliverability
//
// WithDKIM (or the mail.dkim.* keys) signs every message the session sends
// or writes (WriteMessage), RSA or Ed25519, relaxed/relaxed; DKIMRecord
// gives the TXT record to publish. Message.UnsubscribeURL and
// UnsubscribeMailto write RFC 8058 one-click unsubscribe headers.
// ParseBounce reads delivery status notifications and complaints, and
// WithSuppression keeps the session from mailing the addresses they name
// (SuppressBounces is the Receive handler that fills the list). Received.Parts
// walks a received message's text, HTML and attachments as decoded streams.
// ParseTemplates renders messages from text/template and html/template files
// of an fs.FS, with the text alternative derived from the HTML when absent.
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
