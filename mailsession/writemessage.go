package mailsession

import (
	"context"
	"io"

	gomail "github.com/emersion/go-message/mail"
)

// Envelope is what a composed message is sent with: the SMTP envelope and
// the Message-ID fixed at composition.
type Envelope struct {
	From      string   // the envelope sender (MAIL FROM)
	To        []string // every envelope recipient: To, Cc and Bcc
	MessageID string   // without angle brackets
}

// WriteMessage writes to w the RFC 5322 bytes Send would send for m, with
// the session's defaults applied (From, Date, a new Message-ID unless
// m.Header sets one) and signed when the session signs (WithDKIM), without
// sending: for .eml files, previews, archives and durable queues. Bcc recipients are not in the bytes. Attachment
// readers are read once, as by Send. Invalid input fails with
// ErrInvalidMessage before anything is written.
func (s *Session) WriteMessage(w io.Writer, m *Message) error {
	_, err := s.ComposeMessage(w, m)
	return err
}

// ComposeMessage is WriteMessage that also returns the envelope the
// message is to be sent with (SendRaw takes it as it is).
func (s *Session) ComposeMessage(w io.Writer, m *Message) (Envelope, error) {
	p, err := s.prepare(m)
	if err != nil {
		return Envelope{}, err
	}
	h := gomail.Header{Header: p.header}
	id, _ := h.MessageID()
	env := Envelope{From: p.env.from, To: append([]string(nil), p.env.rcpts...), MessageID: id}
	body := p.writeTo
	if s.set.dkim != nil {
		signed, release, err := s.set.dkim.sign(context.Background(), body)
		if err != nil {
			return Envelope{}, err
		}
		defer release()
		body = signed
	}
	if err := body(w); err != nil {
		return Envelope{}, err
	}
	return env, nil
}
