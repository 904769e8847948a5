package mailsession

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/textproto"
	"strings"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // text parts in other charsets
	gotextproto "github.com/emersion/go-message/textproto"
)

// Errors of a PartReader and of its parts.
var (
	// ErrMalformedMIME is the error, matched with errors.Is, of a message
	// whose MIME structure cannot be read: a multipart without its
	// boundary, a part not closed by the boundary, a malformed or overlong
	// part header, a body that does not decode as its transfer encoding
	// says, multiparts nested too deeply.
	ErrMalformedMIME = errors.New("mailsession: malformed MIME structure")
	// ErrUnknownCharset is a Part's DecodeErr when its charset is not
	// known: the Body has the bytes in that charset, transfer encoding
	// undone.
	ErrUnknownCharset = errors.New("mailsession: unknown charset")
	// ErrUnknownEncoding is a Part's DecodeErr when its
	// Content-Transfer-Encoding is not known: the Body has the bytes as
	// they are in the message.
	ErrUnknownEncoding = errors.New("mailsession: unknown transfer encoding")
)

// PartKind says what a Part is to a reader of the message.
type PartKind int

// The kinds of Part.
const (
	// PartText is a text/plain body part, as UTF-8.
	PartText PartKind = iota + 1
	// PartHTML is a text/html body part, as UTF-8.
	PartHTML
	// PartAttachment is any other part: a file, an image shown in the
	// HTML (Inline), a message forwarded as message/rfc822.
	PartAttachment
)

// String gives the kind's name.
func (k PartKind) String() string {
	switch k {
	case PartText:
		return "PartText"
	case PartHTML:
		return "PartHTML"
	case PartAttachment:
		return "PartAttachment"
	}
	return fmt.Sprintf("PartKind(%d)", int(k))
}

// Part is one leaf of a received message's MIME tree.
type Part struct {
	// Kind is PartText or PartHTML for a text/plain or text/html part
	// that has no file name and is not marked as an attachment
	// (Content-Disposition: attachment); PartAttachment for every other
	// part.
	Kind PartKind
	// ContentType is the media type, lower case ("text/plain",
	// "image/png"), without its parameters; "text/plain" when the part
	// has none (RFC 2045), "message/rfc822" in a multipart/digest.
	ContentType string
	// Charset is the charset parameter as declared ("" when none). The
	// Body of a text or HTML part is converted from it to UTF-8 (see
	// DecodeErr); an attachment's Body is not: a file keeps its bytes.
	Charset string
	// Filename is the file name (the Content-Disposition filename,
	// else the Content-Type name), RFC 2231 and RFC 2047 decoded, without
	// any directory part: "report.pdf", never "../report.pdf".
	Filename string
	// ContentID is the Content-ID without its angle brackets, as an HTML
	// part refers to it in a cid: URL.
	ContentID string
	// Inline reports a part to be shown in the body (Content-Disposition
	// inline, or no Content-Disposition and a Content-ID: an image of
	// the HTML) rather than offered as a file.
	Inline bool
	// Header is the part's header, as it is in the message (field values
	// not decoded); for a message that is not multipart, the message's
	// header.
	Header textproto.MIMEHeader
	// Body streams the part's content, its transfer encoding (base64,
	// quoted-printable) undone and, for text and HTML, its charset
	// converted to UTF-8. It is valid until the next call of NextPart and
	// is never held in memory whole. A body that breaks off or does not
	// decode fails with an error matching ErrMalformedMIME.
	Body io.Reader
	// DecodeErr is nil when Body is decoded as described; otherwise it
	// matches ErrUnknownCharset or ErrUnknownEncoding and Body has the
	// bytes as far as they could be decoded. The walk goes on.
	DecodeErr error
}

// Limits of a PartReader.
const (
	// maxPartDepth is how deeply multiparts may nest.
	maxPartDepth = 64
	// maxPartHeader is the longest header of a part (and of the message).
	maxPartHeader = maxHeader
)

// PartReader walks the MIME tree of a received message (see
// Received.Parts).
type PartReader struct {
	src   *partSource
	stack []partLevel // the open multiparts, innermost last
	begun bool
	body  *partBody // the Body handed out last
	err   error     // sticky: io.EOF at the end, or the walk's failure
}

// partLevel is one open multipart of the walk.
type partLevel struct {
	mr     *gotextproto.MultipartReader
	part   *gotextproto.Part // the child being read
	digest bool              // multipart/digest: parts default to message/rfc822
}

// Parts walks the message's MIME tree depth first and hands over its leaf
// parts in order: the text and HTML bodies and the attachments, decoded.
// Every multipart (mixed, alternative, related, ...) is descended into; a
// message/rfc822 part is an attachment, not descended into. A message that
// is not MIME is one text part.
//
// Parts reads Raw, the one stream of the message: use Raw or Parts, not
// both, and call Parts once. Reading Raw after Parts, or Parts after Raw
// was read, fails instead of handing over a part of the message. Like Raw,
// the parts are valid during the handler call.
func (r *Received) Parts() *PartReader {
	pr := &PartReader{}
	switch raw := r.Raw.(type) {
	case nil:
		pr.err = errors.New("mailsession: Parts: the Received has no Raw")
	case *rawStream:
		switch {
		case raw.claimed:
			pr.err = errors.New("mailsession: Parts called again: the message was read")
		case raw.read:
			pr.err = errors.New("mailsession: Parts after Raw was read: use Raw or Parts, not both")
		default:
			raw.claimed = true
			pr.src = &partSource{r: raw.r}
		}
	default:
		pr.src = &partSource{r: raw}
	}
	return pr
}

// NextPart returns the next leaf part, or io.EOF after the last. The
// previous part's Body is no longer valid. A malformed structure fails
// with an error matching ErrMalformedMIME, a broken stream (the store's
// connection) with the stream's error; both end the walk.
func (pr *PartReader) NextPart() (*Part, error) {
	if pr.body != nil {
		pr.body.pr = nil // expired
		pr.body = nil
	}
	if pr.err != nil {
		return nil, pr.err
	}
	p, err := pr.next()
	if err != nil {
		pr.err = err
		return nil, err
	}
	pr.body = p.Body.(*partBody)
	return p, nil
}

func (pr *PartReader) next() (*Part, error) {
	if !pr.begun {
		pr.begun = true
		br := bufio.NewReader(pr.src)
		pr.src.limit(maxPartHeader)
		h, err := gotextproto.ReadHeader(br)
		pr.src.unlimit()
		if err != nil {
			return nil, pr.fail("the message header", err)
		}
		if p, err := pr.entity(h, br, false); p != nil || err != nil {
			return p, err
		}
	}
	for len(pr.stack) > 0 {
		top := &pr.stack[len(pr.stack)-1]
		if top.part != nil {
			// What the caller did not read of the part, or the epilogue
			// of a multipart inside it.
			if _, err := io.Copy(io.Discard, top.part); err != nil {
				return nil, pr.fail("a part", err)
			}
			top.part = nil
		}
		pr.src.limit(maxPartHeader)
		tp, err := top.mr.NextPart()
		pr.src.unlimit()
		if errors.Is(err, io.EOF) {
			pr.stack = pr.stack[:len(pr.stack)-1]
			continue
		}
		if err != nil {
			return nil, pr.fail("a multipart", err)
		}
		top.part = tp
		if p, err := pr.entity(tp.Header, tp, top.digest); p != nil || err != nil {
			return p, err
		}
	}
	return nil, io.EOF
}

// entity opens a multipart (nil, nil) or makes the Part of a leaf.
func (pr *PartReader) entity(h gotextproto.Header, body io.Reader, digest bool) (*Part, error) {
	t, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if t == "" || (err != nil && !errors.Is(err, mime.ErrInvalidMediaParameter)) {
		t, params = "text/plain", nil // RFC 2045 (5.2)
		if digest {
			t = "message/rfc822" // RFC 2046 (5.1.5)
		}
	}
	if strings.HasPrefix(t, "multipart/") {
		if len(pr.stack) >= maxPartDepth {
			return nil, fmt.Errorf("%w: multiparts nested more than %d deep", ErrMalformedMIME, maxPartDepth)
		}
		b := params["boundary"]
		if b == "" {
			return nil, fmt.Errorf("%w: %s without a boundary", ErrMalformedMIME, t)
		}
		pr.stack = append(pr.stack, partLevel{mr: gotextproto.NewMultipartReader(body, b), digest: t == "multipart/digest"})
		return nil, nil
	}

	disp, dparams, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	p := &Part{
		Kind:        PartAttachment,
		ContentType: t,
		Charset:     params["charset"],
		Filename:    baseName(decodeHeaderText(firstNonEmpty(dparams["filename"], params["name"]))),
		ContentID:   strings.Trim(strings.TrimSpace(h.Get("Content-Id")), "<>"),
		Header:      textproto.MIMEHeader(h.Map()),
	}
	p.Inline = disp == "inline" || (disp == "" && p.ContentID != "")
	if disp != "attachment" && p.Filename == "" {
		switch t {
		case "text/plain":
			p.Kind = PartText
		case "text/html":
			p.Kind = PartHTML
		}
	}

	// The transfer encoding, then (text only) the charset, by go-message.
	var eh message.Header
	eh.Set("Content-Transfer-Encoding", h.Get("Content-Transfer-Encoding"))
	e, err := message.New(eh, body)
	if message.IsUnknownEncoding(err) {
		p.DecodeErr = fmt.Errorf("%w %q", ErrUnknownEncoding, h.Get("Content-Transfer-Encoding"))
	} else {
		body = e.Body
		if p.Kind != PartAttachment && p.Charset != "" {
			var ch message.Header
			ch.SetContentType("text/plain", map[string]string{"charset": p.Charset})
			e, err := message.New(ch, body)
			if message.IsUnknownCharset(err) {
				p.DecodeErr = fmt.Errorf("%w %q", ErrUnknownCharset, p.Charset)
			} else {
				body = e.Body
			}
		}
	}
	p.Body = &partBody{r: body, pr: pr}
	return p, nil
}

// fail is the error of the walk failing while reading what: the stream's
// own error when it broke, else a malformed structure.
func (pr *PartReader) fail(what string, err error) error {
	if pr.src.err != nil {
		return fmt.Errorf("mailsession: reading the message: %w", pr.src.err)
	}
	return fmt.Errorf("%w: %s: %w", ErrMalformedMIME, what, err)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// baseName is a file name without any directory part, in either
// separator: a handler may use it as a name in its own directory.
func baseName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.TrimSpace(name)
	if name == "." || name == ".." {
		return ""
	}
	return name
}

// partBody is a Part's Body: valid until the next NextPart, its errors
// told apart (a broken stream, a malformed part).
type partBody struct {
	r  io.Reader
	pr *PartReader // nil once the next part was asked for
}

var errBodyExpired = errors.New("mailsession: Part.Body read after the next NextPart")

func (b *partBody) Read(p []byte) (int, error) {
	if b.pr == nil {
		return 0, errBodyExpired
	}
	n, err := b.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = b.pr.fail("a part", err)
	}
	return n, err
}

// partSource is the stream a PartReader reads: it keeps the stream's own
// error, and bounds the bytes read while a header is read.
type partSource struct {
	r       io.Reader
	err     error // the stream's first error other than io.EOF
	limited bool
	left    int64 // with limited, the bytes the header may still take
}

var errPartHeaderTooLong = fmt.Errorf("a header longer than %d bytes", maxPartHeader)

func (s *partSource) limit(n int64) { s.limited, s.left = true, n }
func (s *partSource) unlimit()      { s.limited = false }

func (s *partSource) Read(p []byte) (int, error) {
	if s.limited {
		if s.left <= 0 {
			return 0, errPartHeaderTooLong
		}
		if int64(len(p)) > s.left {
			p = p[:s.left]
		}
	}
	n, err := s.r.Read(p)
	if s.limited {
		s.left -= int64(n)
	}
	if err != nil && !errors.Is(err, io.EOF) && s.err == nil {
		s.err = err
	}
	return n, err
}

// rawStream is Received.Raw as Receive makes it: it tells Parts whether
// Raw was read, and refuses reads once Parts took the stream.
type rawStream struct {
	r       io.Reader
	read    bool // Raw was read
	claimed bool // Parts took the stream
}

var errRawAfterParts = errors.New("mailsession: Raw read after Parts: use Raw or Parts, not both")

func (s *rawStream) Read(p []byte) (int, error) {
	if s.claimed {
		return 0, errRawAfterParts
	}
	s.read = true
	return s.r.Read(p)
}
