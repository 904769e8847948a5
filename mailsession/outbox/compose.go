package outbox

import (
	"bytes"
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

	"github.com/jmailgo/jmail/mailsession"
)

// composed is a message composed at Enqueue: its envelope and Message-ID.
// The bytes went to the writer given to compose.
type composed struct {
	from      string // envelope sender; empty: the session's default
	rcpts     []string
	messageID string
}

// compose writes m as RFC 5322 bytes to w and returns its envelope.
//
// Stopgap: mailsession has no exported way to compose a Message without
// sending it; this is a smaller composer (text, HTML, attachments) until
// mailsession exports one (see the package's report). Attachment readers
// are read here, once.
func compose(s *mailsession.Session, m *mailsession.Message, w io.Writer) (*composed, error) {
	if m == nil {
		return nil, fmt.Errorf("%w: nil message", mailsession.ErrInvalidMessage)
	}
	fromStr := m.From
	if strings.TrimSpace(fromStr) == "" {
		for _, k := range []string{"mail.from", "mail.smtp.from", "mail.smtp.user"} {
			if v := s.Property(k); strings.Contains(v, "@") {
				fromStr = v
				break
			}
		}
	}
	if strings.TrimSpace(fromStr) == "" {
		return nil, fmt.Errorf("%w: no From address (set Message.From or mail.from)", mailsession.ErrInvalidMessage)
	}
	from, err := addresses("From", []string{fromStr})
	if err != nil {
		return nil, err
	}
	if len(from) != 1 {
		return nil, fmt.Errorf("%w: From must be one address, got %q", mailsession.ErrInvalidMessage, fromStr)
	}
	to, err := addresses("To", m.To)
	if err != nil {
		return nil, err
	}
	cc, err := addresses("Cc", m.Cc)
	if err != nil {
		return nil, err
	}
	bcc, err := addresses("Bcc", m.Bcc)
	if err != nil {
		return nil, err
	}
	replyTo, err := addresses("Reply-To", m.ReplyTo)
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return nil, fmt.Errorf("%w: Subject contains CR or LF", mailsession.ErrInvalidMessage)
	}
	c := &composed{}
	if s.Property("mail.smtp.from") == "" {
		c.from = from[0].Address
	}
	seen := map[string]bool{}
	for _, l := range [][]*mail.Address{to, cc, bcc} {
		for _, a := range l {
			if k := strings.ToLower(a.Address); !seen[k] {
				seen[k] = true
				c.rcpts = append(c.rcpts, a.Address)
			}
		}
	}
	if len(c.rcpts) == 0 {
		return nil, fmt.Errorf("%w: no recipient in To, Cc or Bcc", mailsession.ErrInvalidMessage)
	}

	var h gomail.Header
	h.SetDate(time.Now())
	h.SetAddressList("From", conv(from))
	if len(to) > 0 {
		h.SetAddressList("To", conv(to))
	}
	if len(cc) > 0 {
		h.SetAddressList("Cc", conv(cc))
	}
	if len(replyTo) > 0 {
		h.SetAddressList("Reply-To", conv(replyTo))
	}
	h.SetSubject(m.Subject)
	h.SetMessageID(newMessageID(from[0].Address))
	for k, vs := range m.Header {
		ck := textproto.CanonicalMIMEHeaderKey(k)
		switch ck {
		case "Bcc", "Content-Type", "Content-Transfer-Encoding", "Mime-Version":
			return nil, fmt.Errorf("%w: header %s may not be set", mailsession.ErrInvalidMessage, k)
		case "Date", "Message-Id", "Subject", "From", "To", "Cc", "Reply-To":
			h.Del(k)
		}
		if k == "" || strings.ContainsAny(k, ": \t\r\n") {
			return nil, fmt.Errorf("%w: header name %q is not a valid field name", mailsession.ErrInvalidMessage, k)
		}
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n") {
				return nil, fmt.Errorf("%w: header %s contains CR or LF", mailsession.ErrInvalidMessage, k)
			}
			h.Add(k, mime.QEncoding.Encode("utf-8", v))
		}
	}
	id, err := h.MessageID()
	if err != nil || id == "" {
		return nil, fmt.Errorf("%w: Message-ID: %v", mailsession.ErrInvalidMessage, err)
	}
	c.messageID = id
	for i, a := range m.Attachments {
		if a.Data == nil {
			return nil, fmt.Errorf("%w: attachment %d (%q) has no Data", mailsession.ErrInvalidMessage, i, a.Filename)
		}
	}
	return c, writeBody(w, h, m)
}

func writeBody(w io.Writer, h gomail.Header, m *mailsession.Message) error {
	text := func(create func(gomail.InlineHeader) (io.WriteCloser, error), typ, body string) error {
		var ih gomail.InlineHeader
		ih.SetContentType(typ, map[string]string{"charset": "utf-8"})
		ih.Set("Content-Transfer-Encoding", "quoted-printable")
		pw, err := create(ih)
		if err != nil {
			return err
		}
		if _, err := io.WriteString(pw, body); err != nil {
			return err
		}
		return pw.Close()
	}
	writeText := func(mw *gomail.Writer) error {
		switch {
		case m.Text != "" && m.HTML != "":
			iw, err := mw.CreateInline()
			if err != nil {
				return err
			}
			if err := text(iw.CreatePart, "text/plain", m.Text); err != nil {
				return err
			}
			if err := text(iw.CreatePart, "text/html", m.HTML); err != nil {
				return err
			}
			return iw.Close()
		case m.HTML != "":
			return text(mw.CreateSingleInline, "text/html", m.HTML)
		default:
			return text(mw.CreateSingleInline, "text/plain", m.Text)
		}
	}
	if len(m.Attachments) == 0 {
		if m.Text != "" && m.HTML != "" {
			iw, err := gomail.CreateInlineWriter(w, h)
			if err != nil {
				return err
			}
			if err := text(iw.CreatePart, "text/plain", m.Text); err != nil {
				return err
			}
			if err := text(iw.CreatePart, "text/html", m.HTML); err != nil {
				return err
			}
			return iw.Close()
		}
		typ, body := "text/plain", m.Text
		if m.HTML != "" {
			typ, body = "text/html", m.HTML
		}
		h.SetContentType(typ, map[string]string{"charset": "utf-8"})
		h.Set("Content-Transfer-Encoding", "quoted-printable")
		pw, err := gomail.CreateSingleInlineWriter(w, h)
		if err != nil {
			return err
		}
		if _, err := io.WriteString(pw, body); err != nil {
			return err
		}
		return pw.Close()
	}
	mw, err := gomail.CreateWriter(w, h)
	if err != nil {
		return err
	}
	if err := writeText(mw); err != nil {
		return err
	}
	for _, a := range m.Attachments {
		ct := a.ContentType
		if ct == "" {
			if ct = mime.TypeByExtension(path.Ext(a.Filename)); ct == "" {
				ct = "application/octet-stream"
			}
		}
		t, params, err := mime.ParseMediaType(ct)
		if err != nil {
			return fmt.Errorf("%w: attachment content type %q: %v", mailsession.ErrInvalidMessage, ct, err)
		}
		if a.Filename != "" {
			params["name"] = a.Filename
		}
		var ah gomail.AttachmentHeader
		ah.SetContentType(t, params)
		disp := "attachment"
		if a.Inline || a.ContentID != "" {
			disp = "inline"
		}
		var dp map[string]string
		if a.Filename != "" {
			dp = map[string]string{"filename": a.Filename}
		}
		ah.Set("Content-Disposition", mime.FormatMediaType(disp, dp))
		if a.ContentID != "" {
			ah.Set("Content-ID", "<"+strings.Trim(a.ContentID, "<>")+">")
		}
		aw, err := mw.CreateAttachment(ah)
		if err != nil {
			return err
		}
		if _, err := io.Copy(aw, a.Data); err != nil {
			return fmt.Errorf("outbox: reading attachment %q: %w", a.Filename, err)
		}
		if err := aw.Close(); err != nil {
			return err
		}
	}
	return mw.Close()
}

func addresses(field string, list []string) ([]*mail.Address, error) {
	var out []*mail.Address
	for _, s := range list {
		if strings.TrimSpace(s) == "" {
			continue
		}
		if strings.ContainsAny(s, "\r\n") {
			return nil, fmt.Errorf("%w: %s contains CR or LF", mailsession.ErrInvalidMessage, field)
		}
		as, err := mail.ParseAddressList(s)
		if err != nil {
			return nil, fmt.Errorf("%w: %s %q: %v", mailsession.ErrInvalidMessage, field, s, err)
		}
		out = append(out, as...)
	}
	return out, nil
}

func conv(l []*mail.Address) []*gomail.Address {
	out := make([]*gomail.Address, len(l))
	for i, a := range l {
		out[i] = (*gomail.Address)(a)
	}
	return out
}

func newMessageID(from string) string {
	var b [12]byte
	rand.Read(b[:])
	host := "localhost"
	if i := strings.LastIndexByte(from, '@'); i >= 0 && i+1 < len(from) {
		host = from[i+1:]
	}
	return hex.EncodeToString(b[:]) + "@" + host
}

// messageIDOf reads the Message-ID of raw RFC 5322 bytes, or "".
func messageIDOf(raw []byte) string {
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil && e == nil {
		return ""
	}
	h := gomail.Header{Header: e.Header}
	id, _ := h.MessageID()
	return id
}
