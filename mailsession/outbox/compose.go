package outbox

import (
	"bytes"
	"io"
	"strings"

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

// compose writes m as the RFC 5322 bytes Send would send (the session's
// composer: defaults, MIME structure, Bcc out of the header) to w and
// returns its envelope, each recipient once. Attachment readers are read
// here, once.
func compose(s *mailsession.Session, m *mailsession.Message, w io.Writer) (*composed, error) {
	env, err := s.ComposeMessage(w, m)
	if err != nil {
		return nil, err
	}
	c := &composed{from: env.From, messageID: env.MessageID}
	seen := map[string]bool{}
	for _, r := range env.To {
		if k := strings.ToLower(r); !seen[k] {
			seen[k] = true
			c.rcpts = append(c.rcpts, r)
		}
	}
	return c, nil
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
