package mailsession

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"net/textproto"
	"strings"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // report parts in other charsets
)

// ErrNotBounce is returned by ParseBounce for a message that is neither a
// delivery status notification nor an abuse report.
var ErrNotBounce = errors.New("mailsession: not a delivery status notification or abuse report")

// BounceKind says what a Bounce reports.
type BounceKind int

// The kinds of Bounce.
const (
	// DeliveryStatus is a delivery status notification (RFC 3464,
	// multipart/report; report-type=delivery-status, or RFC 6533's
	// global-delivery-status): a failed, delayed or relayed delivery.
	DeliveryStatus BounceKind = iota + 1
	// Complaint is an abuse report in the Abuse Reporting Format (RFC
	// 5965, multipart/report; report-type=feedback-report): a recipient
	// marked the message as spam.
	Complaint
)

// String gives the kind's name.
func (k BounceKind) String() string {
	switch k {
	case DeliveryStatus:
		return "DeliveryStatus"
	case Complaint:
		return "Complaint"
	}
	return fmt.Sprintf("BounceKind(%d)", int(k))
}

// Bounce is what ParseBounce reads from a report about a message sent
// earlier.
type Bounce struct {
	Kind BounceKind
	// ReportingMTA is the server that wrote a delivery status report
	// (its Reporting-MTA field, without the "dns;" type), or, for a
	// complaint, the reporting User-Agent.
	ReportingMTA string
	// Recipients are the recipients the report is about, each with its
	// action and status; for a complaint, the Original-Rcpt-To addresses
	// (Action "complaint").
	Recipients []BounceRecipient
	// MessageID is the Message-ID of the message reported on, from the
	// returned message or its headers, when the report includes them.
	MessageID string
	// Subject is the returned message's Subject, when included.
	Subject string
	// FeedbackType is a complaint's Feedback-Type (abuse, fraud, virus,
	// other, not-spam, ...).
	FeedbackType string
	// Explanation is the report's human-readable first part, at most 4 KiB.
	Explanation string
}

// BounceRecipient is one recipient of a Bounce.
type BounceRecipient struct {
	// Address is the recipient as the reporting server saw it (the
	// Final-Recipient field's address).
	Address string
	// OriginalRecipient is the address as the sender gave it (the
	// Original-Recipient field), when the report has it.
	OriginalRecipient string
	// Action is failed, delayed, delivered, relayed or expanded (RFC
	// 3464), or complaint for an abuse report.
	Action string
	// Status is the enhanced status code, such as 5.1.1 (RFC 3463).
	Status string
	// DiagnosticCode is the remote server's reply, such as
	// "smtp; 550 5.1.1 <x@example.org>: Recipient address rejected".
	DiagnosticCode string
	// RemoteMTA is the server that gave the reply, when known.
	RemoteMTA string
}

// Permanent reports whether the recipient will not take mail: the
// delivery failed with a 5.x.x status, or the recipient complained.
// Temporary failures (4.x.x, or Action delayed) are not permanent.
func (r BounceRecipient) Permanent() bool {
	switch strings.ToLower(r.Action) {
	case "complaint":
		return true
	case "failed":
		return strings.HasPrefix(r.Status, "5.") || r.Status == ""
	}
	return false
}

// Limits of ParseBounce: a report is small; what it returns of the
// original message is read only for its headers.
const (
	maxReportPart  = 64 << 10
	maxExplanation = 4 << 10
)

// ParseBounce reads a delivery status notification (RFC 3464, as Postfix,
// Exim, Sendmail and the large mailbox providers send them) or an abuse
// report (RFC 5965 ARF, as feedback loops send them) from r: the raw bytes
// of a received message, such as Received.Raw. A message of any other
// shape fails with ErrNotBounce.
func ParseBounce(r io.Reader) (*Bounce, error) {
	e, err := message.Read(r)
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return nil, fmt.Errorf("mailsession: reading the report: %w", err)
	}
	t, params, err := e.Header.ContentType()
	if err != nil || !strings.EqualFold(t, "multipart/report") {
		return nil, fmt.Errorf("%w: Content-Type %q", ErrNotBounce, e.Header.Get("Content-Type"))
	}
	b := &Bounce{}
	switch strings.ToLower(params["report-type"]) {
	case "delivery-status", "global-delivery-status":
		b.Kind = DeliveryStatus
	case "feedback-report":
		b.Kind = Complaint
	default:
		return nil, fmt.Errorf("%w: report-type %q", ErrNotBounce, params["report-type"])
	}
	mr := e.MultipartReader()
	if mr == nil {
		return nil, fmt.Errorf("%w: no parts", ErrNotBounce)
	}
	sawReport := false
	for i := 0; ; i++ {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if sawReport {
				break // a truncated returned message: the report is read
			}
			return nil, fmt.Errorf("mailsession: reading the report: %w", err)
		}
		pt, _, _ := p.Header.ContentType()
		switch pt = strings.ToLower(pt); {
		case i == 0 && strings.HasPrefix(pt, "text/"):
			text, _ := io.ReadAll(io.LimitReader(p.Body, maxExplanation))
			b.Explanation = strings.TrimSpace(string(text))
		case pt == "message/delivery-status" || pt == "message/global-delivery-status":
			if err := b.readDeliveryStatus(p.Body); err != nil {
				return nil, err
			}
			sawReport = true
		case pt == "message/feedback-report":
			if err := b.readFeedbackReport(p.Body); err != nil {
				return nil, err
			}
			sawReport = true
		case pt == "message/rfc822" || pt == "text/rfc822-headers" || pt == "message/global" || pt == "message/global-headers":
			b.readReturned(p.Body)
		}
	}
	if !sawReport {
		return nil, fmt.Errorf("%w: no %s part", ErrNotBounce, map[BounceKind]string{DeliveryStatus: "message/delivery-status", Complaint: "message/feedback-report"}[b.Kind])
	}
	return b, nil
}

// readFields reads the blocks of header fields of a report part: the
// per-message block, then one per recipient, separated by blank lines.
func readFields(r io.Reader) ([]textproto.MIMEHeader, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxReportPart))
	if err != nil {
		return nil, fmt.Errorf("mailsession: reading the report: %w", err)
	}
	data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	var blocks []textproto.MIMEHeader
	for block := range strings.SplitSeq(string(data), "\n\n") {
		block = strings.Trim(block, "\n")
		if block == "" {
			continue
		}
		h, err := textproto.NewReader(bufio.NewReader(strings.NewReader(block + "\n\n"))).ReadMIMEHeader()
		if err != nil && len(h) == 0 {
			return nil, fmt.Errorf("mailsession: malformed report fields: %w", err)
		}
		blocks = append(blocks, h)
	}
	return blocks, nil
}

func (b *Bounce) readDeliveryStatus(r io.Reader) error {
	blocks, err := readFields(r)
	if err != nil {
		return err
	}
	if len(blocks) == 0 {
		return fmt.Errorf("%w: an empty delivery-status part", ErrNotBounce)
	}
	b.ReportingMTA = typedValue(blocks[0].Get("Reporting-Mta"))
	for _, h := range blocks[1:] {
		rc := BounceRecipient{
			Address:           addressValue(h.Get("Final-Recipient")),
			OriginalRecipient: addressValue(h.Get("Original-Recipient")),
			Action:            strings.ToLower(strings.TrimSpace(h.Get("Action"))),
			Status:            statusCode(h.Get("Status")),
			DiagnosticCode:    strings.TrimSpace(h.Get("Diagnostic-Code")),
			RemoteMTA:         typedValue(h.Get("Remote-Mta")),
		}
		if rc.Address == "" {
			rc.Address = rc.OriginalRecipient
		}
		if rc.Address == "" {
			continue
		}
		b.Recipients = append(b.Recipients, rc)
	}
	return nil
}

func (b *Bounce) readFeedbackReport(r io.Reader) error {
	blocks, err := readFields(r)
	if err != nil {
		return err
	}
	if len(blocks) == 0 {
		return fmt.Errorf("%w: an empty feedback-report part", ErrNotBounce)
	}
	h := blocks[0]
	b.FeedbackType = strings.ToLower(strings.TrimSpace(h.Get("Feedback-Type")))
	b.ReportingMTA = strings.TrimSpace(h.Get("User-Agent"))
	for _, v := range h.Values("Original-Rcpt-To") {
		if a := addressValue(v); a != "" {
			b.Recipients = append(b.Recipients, BounceRecipient{Address: a, Action: "complaint"})
		}
	}
	return nil
}

// readReturned reads the headers of the returned message (or of its
// headers alone).
func (b *Bounce) readReturned(r io.Reader) {
	h, err := textproto.NewReader(bufio.NewReader(io.LimitReader(r, maxReportPart))).ReadMIMEHeader()
	if err != nil && len(h) == 0 {
		return
	}
	if id := strings.TrimSpace(h.Get("Message-Id")); id != "" {
		b.MessageID = strings.Trim(id, "<>")
	}
	if s := h.Get("Subject"); s != "" {
		b.Subject = decodeHeaderText(s)
	}
}

// typedValue is a report field of the form "type; value" (dns; mx.example
// or rfc822; a@example.org) without its type.
func typedValue(v string) string {
	if _, after, ok := strings.Cut(v, ";"); ok {
		v = after
	}
	return strings.TrimSpace(v)
}

// addressValue is the address of a recipient field (rfc822; <a@b>).
func addressValue(v string) string {
	v = strings.Trim(typedValue(v), "<>")
	if a, err := mail.ParseAddress(v); err == nil {
		return a.Address
	}
	return v
}

// statusCode is the enhanced status code of a Status field, without any
// comment after it ("5.1.1 (bad destination mailbox address)").
func statusCode(v string) string {
	f := strings.Fields(v)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
