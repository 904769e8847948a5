package mailsession

import "io"

// Message is a mail to compose and send with Session.Send.
//
// Addresses are RFC 5322 ("Name <addr@example.com>" or "addr@example.com");
// an entry may hold several, comma-separated. Names and the subject may be
// any UTF-8: they are encoded as MIME encoded-words. Bcc recipients receive
// the message but never appear in its header.
type Message struct {
	From                 string // default: mail.from, else mail.smtp.from, else the SMTP user if an address
	To, Cc, Bcc, ReplyTo []string
	Subject              string
	Text                 string // text/plain body
	HTML                 string // text/html body; with Text, multipart/alternative
	Attachments          []Attachment
	// UnsubscribeURL is an https URL that unsubscribes the recipient with
	// one POST (RFC 8058 one-click, as Gmail and Yahoo require of bulk
	// senders): written as List-Unsubscribe, with List-Unsubscribe-Post:
	// List-Unsubscribe=One-Click.
	UnsubscribeURL string
	// UnsubscribeMailto is an address, or a mailto: URL with a subject or
	// body, that unsubscribes the recipient when mailed: written in
	// List-Unsubscribe too (RFC 2369).
	UnsubscribeMailto string
	// ListID identifies the list the message belongs to (RFC 2919):
	// "Weekly digest <digest.example.com>" or "digest.example.com",
	// written as List-Id.
	ListID string
	// Header holds extra header fields (X-Mailer, List-Unsubscribe, ...).
	// Date and Message-ID given here replace the generated ones; Bcc and
	// the MIME structure fields (Content-Type, Content-Transfer-Encoding,
	// MIME-Version) are refused.
	Header map[string][]string
}

// Attachment is a file attached to a Message, or an inline part (an image
// referenced from the HTML as cid:ContentID).
type Attachment struct {
	Filename    string
	ContentType string // default: from the file name's extension, else application/octet-stream
	ContentID   string // for inline parts: the HTML refers to it as cid:<ContentID>
	Inline      bool   // Content-Disposition inline (implied by ContentID)
	// Data is streamed into the message (base64) while it is sent, never
	// read whole into memory. It is read once: a Message with attachments
	// can be sent once.
	Data io.Reader
}
