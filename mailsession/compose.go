package mailsession

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"net/textproto"
	"path"
	"strings"
	"time"

	"github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"
)

// prepared is a validated message: its envelope and a function that writes
// the composed RFC 5322 bytes.
type prepared struct {
	env    envelope
	header message.Header
	m      *Message
}

// refusedHeaders may not be set through Message.Header.
var refusedHeaders = map[string]string{
	"Bcc":                       "Bcc recipients go in Message.Bcc and never in the header",
	"Content-Type":              "the MIME structure is composed from Text, HTML and Attachments",
	"Content-Transfer-Encoding": "the MIME structure is composed from Text, HTML and Attachments",
	"Mime-Version":              "MIME-Version is always 1.0",
}

// prepare validates m (addresses, CR/LF, headers) and builds its header and
// envelope. Nothing is sent and no connection is made.
func (s *Session) prepare(m *Message) (*prepared, error) {
	if m == nil {
		return nil, fmt.Errorf("%w: nil message", ErrInvalidMessage)
	}
	fromStr := m.From
	if strings.TrimSpace(fromStr) == "" {
		fromStr = s.defaultFrom()
	}
	if strings.TrimSpace(fromStr) == "" {
		return nil, fmt.Errorf("%w: no From address (set Message.From, mail.from, or a mail.smtp.user that is an address)", ErrInvalidMessage)
	}
	from, err := parseAddressList("From", []string{fromStr})
	if err != nil {
		return nil, err
	}
	if len(from) != 1 {
		return nil, fmt.Errorf("%w: From must be one address, got %q", ErrInvalidMessage, fromStr)
	}
	to, err := parseAddressList("To", m.To)
	if err != nil {
		return nil, err
	}
	cc, err := parseAddressList("Cc", m.Cc)
	if err != nil {
		return nil, err
	}
	bcc, err := parseAddressList("Bcc", m.Bcc)
	if err != nil {
		return nil, err
	}
	replyTo, err := parseAddressList("Reply-To", m.ReplyTo)
	if err != nil {
		return nil, err
	}
	if err := checkLine(m.Subject); err != nil {
		return nil, fmt.Errorf("%w: Subject: %v", ErrInvalidMessage, err)
	}

	p := &prepared{m: m}
	// Envelope sender: mail.smtp.from, else the message's From, else mail.from.
	p.env.from = from[0].Address
	if s.set.transport.From != "" {
		a, _ := mail.ParseAddress(s.set.transport.From)
		p.env.from = a.Address
	}
	seen := map[string]bool{}
	for _, list := range [][]*mail.Address{to, cc, bcc} {
		for _, a := range list {
			k := strings.ToLower(a.Address)
			if !seen[k] {
				seen[k] = true
				p.env.rcpts = append(p.env.rcpts, a.Address)
			}
		}
	}
	if len(p.env.rcpts) == 0 {
		return nil, fmt.Errorf("%w: no recipient in To, Cc or Bcc", ErrInvalidMessage)
	}
	for i, a := range m.Attachments {
		if a.Data == nil {
			return nil, fmt.Errorf("%w: attachment %d (%q) has no Data", ErrInvalidMessage, i, a.Filename)
		}
		for _, v := range []string{a.Filename, a.ContentType, a.ContentID} {
			if err := checkLine(v); err != nil {
				return nil, fmt.Errorf("%w: attachment %d: %v", ErrInvalidMessage, i, err)
			}
		}
		if a.ContentType != "" {
			if _, _, err := mime.ParseMediaType(a.ContentType); err != nil {
				return nil, fmt.Errorf("%w: attachment %d: content type %q: %v", ErrInvalidMessage, i, a.ContentType, err)
			}
		}
	}

	h := gomail.Header{}
	h.SetDate(time.Now())
	h.SetAddressList("From", toGoMail(from))
	if len(to) > 0 {
		h.SetAddressList("To", toGoMail(to))
	}
	if len(cc) > 0 {
		h.SetAddressList("Cc", toGoMail(cc))
	}
	if len(replyTo) > 0 {
		h.SetAddressList("Reply-To", toGoMail(replyTo))
	}
	h.SetSubject(m.Subject)
	h.SetMessageID(newMessageID(from[0].Address))
	lf, err := listFields(m)
	if err != nil {
		return nil, err
	}
	for _, f := range lf {
		h.Add(f[0], f[1])
	}
	for k, vs := range m.Header {
		ck := textprotoCanonical(k)
		if why, bad := refusedHeaders[ck]; bad {
			return nil, fmt.Errorf("%w: header %s: %s", ErrInvalidMessage, k, why)
		}
		if !validFieldName(k) {
			return nil, fmt.Errorf("%w: header name %q is not a valid field name", ErrInvalidMessage, k)
		}
		if ck == "Date" || ck == "Message-Id" || ck == "Subject" || ck == "From" || ck == "To" || ck == "Cc" || ck == "Reply-To" {
			h.Del(k)
		}
		for _, v := range vs {
			if err := checkLine(v); err != nil {
				return nil, fmt.Errorf("%w: header %s: %v", ErrInvalidMessage, k, err)
			}
			if isASCII(v) {
				h.Add(k, v)
			} else {
				h.Add(k, mime.QEncoding.Encode("utf-8", v))
			}
		}
	}
	p.header = h.Header
	return p, nil
}

// defaultFrom is the From of a message without one: mail.from, else
// mail.smtp.from, else the SMTP user when it is an address (JavaMail derives
// it from mail.user too).
func (s *Session) defaultFrom() string { return s.set.defaultFrom() }

func (set *settings) defaultFrom() string {
	switch {
	case set.from != "":
		return set.from
	case set.transport.From != "":
		return set.transport.From
	case strings.Contains(set.transport.User, "@"):
		if _, err := parseAddress(set.transport.User); err == nil {
			return set.transport.User
		}
	}
	return ""
}

func toGoMail(l []*mail.Address) []*gomail.Address {
	out := make([]*gomail.Address, len(l))
	for i, a := range l {
		out[i] = &gomail.Address{Name: a.Name, Address: a.Address}
	}
	return out
}

func newMessageID(from string) string {
	var b [16]byte
	rand.Read(b[:])
	domain := "localhost"
	if at := strings.LastIndexByte(from, '@'); at >= 0 {
		domain = from[at+1:]
	}
	return hex.EncodeToString(b[:]) + "@" + domain
}

func textprotoCanonical(k string) string { return textproto.CanonicalMIMEHeaderKey(k) }

// validFieldName reports whether k is an RFC 5322 field name: printable
// ASCII without space or colon.
func validFieldName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] <= ' ' || k[i] >= 0x7f || k[i] == ':' {
			return false
		}
	}
	return true
}

// writeTo composes the message into w, streaming attachments:
//
//	text | html | text+html as multipart/alternative
//	  + inline parts (ContentID) → multipart/related around the HTML
//	  + attachments → multipart/mixed around everything
//
// Text goes out as 7bit when it is ASCII with short lines, else
// quoted-printable; attachments base64: no line is ever longer than 998
// characters.
func (p *prepared) writeTo(w io.Writer) error {
	var inline, attach []Attachment
	for _, a := range p.m.Attachments {
		if a.Inline || a.ContentID != "" {
			inline = append(inline, a)
		} else {
			attach = append(attach, a)
		}
	}
	if p.m.HTML == "" && len(inline) > 0 {
		// Inline parts need an HTML body to refer to them: attach them.
		attach = append(inline, attach...)
		inline = nil
	}
	h := p.header.Copy()
	if len(attach) > 0 {
		h.SetContentType("multipart/mixed", nil)
		mw, err := message.CreateWriter(w, h)
		if err != nil {
			return err
		}
		if p.m.Text != "" || p.m.HTML != "" {
			if err := p.writeBody(func(ph message.Header) (io.WriteCloser, error) { return mw.CreatePart(ph) }, inline); err != nil {
				return err
			}
		}
		for _, a := range attach {
			if err := writeAttachment(mw, a, false); err != nil {
				return err
			}
		}
		return mw.Close()
	}
	return p.writeBody(func(ph message.Header) (io.WriteCloser, error) {
		for f := ph.Fields(); f.Next(); {
			h.Add(f.Key(), f.Value())
		}
		return message.CreateWriter(w, h)
	}, inline)
}

// writeBody writes the text/HTML part (with its inline parts) as one entity
// created by create.
func (p *prepared) writeBody(create func(message.Header) (io.WriteCloser, error), inline []Attachment) error {
	if len(inline) > 0 {
		var rh message.Header
		rh.SetContentType("multipart/related", map[string]string{"type": alternativeOrHTML(p.m)})
		rw, err := create(rh)
		if err != nil {
			return err
		}
		mw := rw.(*message.Writer)
		if err := p.writeAlternative(func(ph message.Header) (io.WriteCloser, error) { return mw.CreatePart(ph) }); err != nil {
			return err
		}
		for _, a := range inline {
			if err := writeAttachment(mw, a, true); err != nil {
				return err
			}
		}
		return mw.Close()
	}
	return p.writeAlternative(create)
}

func alternativeOrHTML(m *Message) string {
	if m.Text != "" && m.HTML != "" {
		return "multipart/alternative"
	}
	return "text/html"
}

// writeAlternative writes text, HTML, or both as multipart/alternative.
func (p *prepared) writeAlternative(create func(message.Header) (io.WriteCloser, error)) error {
	if p.m.Text != "" && p.m.HTML != "" {
		var ah message.Header
		ah.SetContentType("multipart/alternative", nil)
		aw, err := create(ah)
		if err != nil {
			return err
		}
		mw := aw.(*message.Writer)
		for _, part := range []struct{ typ, body string }{{"text/plain", p.m.Text}, {"text/html", p.m.HTML}} {
			if err := writeText(func(h message.Header) (io.WriteCloser, error) { return mw.CreatePart(h) }, part.typ, part.body); err != nil {
				return err
			}
		}
		return mw.Close()
	}
	if p.m.HTML != "" {
		return writeText(create, "text/html", p.m.HTML)
	}
	return writeText(create, "text/plain", p.m.Text)
}

func writeText(create func(message.Header) (io.WriteCloser, error), typ, body string) error {
	var h message.Header
	h.SetContentType(typ, map[string]string{"charset": "utf-8"})
	h.Set("Content-Transfer-Encoding", textEncoding(body))
	w, err := create(h)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, body); err != nil {
		return err
	}
	return w.Close()
}

// textEncoding is 7bit for ASCII text whose lines fit in 998 characters and
// that has no bare CR, quoted-printable otherwise.
func textEncoding(s string) string {
	line := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 0x80 || c == 0:
			return "quoted-printable"
		case c == '\r':
			if i+1 >= len(s) || s[i+1] != '\n' {
				return "quoted-printable"
			}
		case c == '\n':
			line = -1
		}
		line++
		if line > 998 {
			return "quoted-printable"
		}
	}
	return "7bit"
}

func writeAttachment(mw *message.Writer, a Attachment, inline bool) error {
	var h message.Header
	ct := a.ContentType
	if ct == "" {
		ct = mime.TypeByExtension(path.Ext(a.Filename))
		if ct == "" {
			ct = "application/octet-stream"
		}
	}
	t, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return err
	}
	if a.Filename != "" {
		params["name"] = a.Filename
	}
	h.SetContentType(t, params)
	disp := "attachment"
	if inline {
		disp = "inline"
	}
	var dparams map[string]string
	if a.Filename != "" {
		dparams = map[string]string{"filename": a.Filename}
	}
	// mime.FormatMediaType writes a non-ASCII file name as an RFC 2231
	// parameter (filename*=utf-8''...); go-message's SetContentDisposition
	// would put an encoded-word inside a quoted string, which RFC 2047 (5)
	// forbids. The Content-Type name keeps the encoded-word form that older
	// clients read.
	h.Set("Content-Disposition", mime.FormatMediaType(disp, dparams))
	if a.ContentID != "" {
		id := strings.Trim(a.ContentID, "<>")
		h.Set("Content-ID", "<"+id+">")
	}
	h.Set("Content-Transfer-Encoding", "base64")
	pw, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	if _, err := io.Copy(pw, a.Data); err != nil {
		return fmt.Errorf("attachment %q: %w", a.Filename, err)
	}
	return pw.Close()
}
