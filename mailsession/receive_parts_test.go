package mailsession

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/jmailgo/jmail/mailsession/mailtest"
)

// gotPart is what a test sees of a Part: its fields and its whole Body.
type gotPart struct {
	Kind                                      PartKind
	ContentType, Charset, Filename, ContentID string
	Inline                                    bool
	Body                                      string
	DecodeErr                                 error
}

func (p gotPart) String() string {
	return fmt.Sprintf("{%v %s charset=%q file=%q cid=%q inline=%v %d bytes %q decodeErr=%v}",
		p.Kind, p.ContentType, p.Charset, p.Filename, p.ContentID, p.Inline, len(p.Body), abbrev(p.Body), p.DecodeErr)
}

func abbrev(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// walked is one received message walked by walkParts.
type walked struct {
	parts []gotPart
	err   error // the walk's error (NextPart or reading a Body)
}

// walkParts walks m's parts, reading each Body whole, or none of them
// (skip: NextPart itself has to get past them).
func walkParts(m *Received, skip bool) walked {
	var w walked
	pr := m.Parts()
	for {
		p, err := pr.NextPart()
		if errors.Is(err, io.EOF) {
			return w
		}
		if err != nil {
			w.err = err
			return w
		}
		g := gotPart{Kind: p.Kind, ContentType: p.ContentType, Charset: p.Charset, Filename: p.Filename,
			ContentID: p.ContentID, Inline: p.Inline, DecodeErr: p.DecodeErr}
		if !skip {
			b, err := io.ReadAll(p.Body)
			if err != nil {
				w.err = err
				return w
			}
			g.Body = string(b)
		}
		w.parts = append(w.parts, g)
	}
}

// receiveWalked receives every message of the mailbox and walks its
// parts, by Subject.
func receiveWalked(t *testing.T, s *Session, skip bool) map[string]walked {
	t.Helper()
	got := map[string]walked{}
	err := s.Receive(ctxT(t), ReceiveOptions{Delete: true}, func(ctx context.Context, m *Received) error {
		got[m.Subject()] = walkParts(m, skip)
		return nil
	})
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	return got
}

func checkParts(t *testing.T, name string, w walked, want []gotPart) {
	t.Helper()
	if w.err != nil {
		t.Errorf("%s: walk failed: %v (parts so far %v)", name, w.err, w.parts)
		return
	}
	if len(w.parts) != len(want) {
		t.Errorf("%s: %d parts %v, want %d %v", name, len(w.parts), w.parts, len(want), want)
		return
	}
	for i := range want {
		g, wp := w.parts[i], want[i]
		if (g.DecodeErr == nil) != (wp.DecodeErr == nil) || (wp.DecodeErr != nil && !errors.Is(g.DecodeErr, wp.DecodeErr)) {
			t.Errorf("%s: part %d: DecodeErr %v, want %v", name, i, g.DecodeErr, wp.DecodeErr)
		}
		g.DecodeErr, wp.DecodeErr = nil, nil
		if g != wp {
			t.Errorf("%s: part %d:\n got %v\nwant %v", name, i, g, wp)
		}
	}
}

// binary is every byte value, twice.
var binary = func() string {
	var b []byte
	for i := range 512 {
		b = append(b, byte(i))
	}
	return string(b)
}()

// Messages composed by the session, sent over SMTP, received over POP3
// and IMAP: each part comes back with its kind, type, names and bytes.
func TestReceivedPartsComposed(t *testing.T) {
	const (
		// Ending in a line break: a message that does not end in one
		// gets one in POP3 (mailtest's POP3 adds it, as RFC 1939 needs).
		text = "Grüße aus Köln,\r\nzweite Zeile.\r\n" // quoted-printable
		html = "<p>Hello <b>there</b> <img src=\"cid:logo@example.com\"></p>\r\n"
		png  = "\x89PNG\r\n\x1a\nnot really a png"
	)
	att := func(name, typ, cid string, inline bool, data string) Attachment {
		return Attachment{Filename: name, ContentType: typ, ContentID: cid, Inline: inline, Data: strings.NewReader(data)}
	}
	// Attachments' readers are read by Send: the table is made per run.
	tests := func() []struct {
		subject string
		msg     Message
		want    []gotPart
	} {
		return []struct {
			subject string
			msg     Message
			want    []gotPart
		}{
			{"text", Message{Text: text},
				[]gotPart{{Kind: PartText, ContentType: "text/plain", Charset: "utf-8", Body: text}}},
			{"html", Message{HTML: html},
				[]gotPart{{Kind: PartHTML, ContentType: "text/html", Charset: "utf-8", Body: html}}},
			{"alternative", Message{Text: text, HTML: html},
				[]gotPart{
					{Kind: PartText, ContentType: "text/plain", Charset: "utf-8", Body: text},
					{Kind: PartHTML, ContentType: "text/html", Charset: "utf-8", Body: html},
				}},
			{"attachment with a non-ASCII name", Message{Text: text, HTML: html, Attachments: []Attachment{att("Rechnung März.pdf", "application/pdf", "", false, binary)}},
				[]gotPart{
					{Kind: PartText, ContentType: "text/plain", Charset: "utf-8", Body: text},
					{Kind: PartHTML, ContentType: "text/html", Charset: "utf-8", Body: html},
					{Kind: PartAttachment, ContentType: "application/pdf", Filename: "Rechnung März.pdf", Body: binary},
				}},
			{"inline image", Message{HTML: html, Attachments: []Attachment{att("logo.png", "", "logo@example.com", true, png)}},
				[]gotPart{
					{Kind: PartHTML, ContentType: "text/html", Charset: "utf-8", Body: html},
					{Kind: PartAttachment, ContentType: "image/png", Filename: "logo.png", ContentID: "logo@example.com", Inline: true, Body: png},
				}},
			{"Grüße, everything — 日本", Message{Text: text, HTML: html, Attachments: []Attachment{
				att("logo.png", "image/png", "<logo@example.com>", true, png),
				att("notes.txt", "", "", false, "a text file\r\n"),
				att("data.bin", "", "", false, binary),
			}},
				[]gotPart{
					{Kind: PartText, ContentType: "text/plain", Charset: "utf-8", Body: text},
					{Kind: PartHTML, ContentType: "text/html", Charset: "utf-8", Body: html},
					{Kind: PartAttachment, ContentType: "image/png", Filename: "logo.png", ContentID: "logo@example.com", Inline: true, Body: png},
					// A text file is an attachment: its name, its bytes.
					{Kind: PartAttachment, ContentType: "text/plain", Charset: "utf-8", Filename: "notes.txt", Body: "a text file\r\n"},
					{Kind: PartAttachment, ContentType: "application/octet-stream", Filename: "data.bin", Body: binary},
				}},
		}
	}
	for _, proto := range storeProtos {
		t.Run(proto, func(t *testing.T) {
			srv := mailtest.NewServer(t)
			s := storeSession(t, srv, mailtest.Plain, proto)
			tests := tests()
			for _, tt := range tests {
				m := tt.msg
				m.To, m.Subject = []string{mailtest.DefaultUser}, tt.subject
				if err := s.Send(ctxT(t), &m); err != nil {
					t.Fatalf("Send %q: %v", tt.subject, err)
				}
			}
			got := receiveWalked(t, s, false)
			for _, tt := range tests {
				w, ok := got[tt.subject]
				if !ok {
					t.Errorf("%q not received (got %d messages)", tt.subject, len(got))
					continue
				}
				checkParts(t, tt.subject, w, tt.want)
			}
		})
	}
}

// Messages from other mailers, sent raw: charsets, names, dispositions,
// forwarded messages, a message that is not MIME.
func TestReceivedPartsRaw(t *testing.T) {
	mixed := func(subject string, parts ...string) string {
		var b strings.Builder
		b.WriteString("From: ann@example.com\r\nTo: user@example.com\r\nSubject: " + subject + "\r\n")
		b.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"=_b\"\r\n\r\npreamble\r\n")
		for _, p := range parts {
			b.WriteString("--=_b\r\n" + p + "\r\n")
		}
		b.WriteString("--=_b--\r\nepilogue\r\n")
		return b.String()
	}
	inner := "From: bob@example.com\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=in\r\n\r\n" +
		"--in\r\nContent-Type: text/plain\r\n\r\ninner text\r\n--in--\r\n"
	tests := []struct {
		subject string
		raw     string
		want    []gotPart
	}{
		{"not MIME", "From: ann@example.com\r\nSubject: not MIME\r\n\r\nJust text.\r\nTwo lines.\r\n",
			[]gotPart{{Kind: PartText, ContentType: "text/plain", Body: "Just text.\r\nTwo lines.\r\n"}}},
		{"latin1 qp", "Subject: latin1 qp\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe aus K=F6ln\r\n",
			[]gotPart{{Kind: PartText, ContentType: "text/plain", Charset: "ISO-8859-1", Body: "Grüße aus Köln\r\n"}}},
		{"latin1 8bit", "Subject: latin1 8bit\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n<p>\xe9t\xe9</p>",
			[]gotPart{{Kind: PartHTML, ContentType: "text/html", Charset: "iso-8859-1", Body: "<p>été</p>"}}},
		{"unknown charset", mixed("unknown charset",
			"Content-Type: text/plain; charset=x-klingon\r\nContent-Transfer-Encoding: base64\r\n\r\nAQID",
			"Content-Type: text/plain; charset=utf-8\r\n\r\nstill read"),
			[]gotPart{
				{Kind: PartText, ContentType: "text/plain", Charset: "x-klingon", Body: "\x01\x02\x03", DecodeErr: ErrUnknownCharset},
				{Kind: PartText, ContentType: "text/plain", Charset: "utf-8", Body: "still read"},
			}},
		{"unknown encoding", mixed("unknown encoding",
			"Content-Type: application/octet-stream; name=a.bin\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 a.bin\r\nend",
			"Content-Type: text/plain\r\n\r\nafter"),
			[]gotPart{
				{Kind: PartAttachment, ContentType: "application/octet-stream", Filename: "a.bin", Body: "begin 644 a.bin\r\nend", DecodeErr: ErrUnknownEncoding},
				{Kind: PartText, ContentType: "text/plain", Body: "after"},
			}},
		{"forwarded", mixed("forwarded",
			"Content-Type: text/plain\r\n\r\nsee below",
			"Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n"+strings.TrimSuffix(inner, "\r\n"),
			"Content-Type: text/plain\r\n\r\nafter it"),
			[]gotPart{
				{Kind: PartText, ContentType: "text/plain", Body: "see below"},
				// Handed over whole, not descended into.
				{Kind: PartAttachment, ContentType: "message/rfc822", Inline: true, Body: strings.TrimSuffix(inner, "\r\n")},
				{Kind: PartText, ContentType: "text/plain", Body: "after it"},
			}},
		{"names", mixed("names",
			// RFC 2231, a Latin-1 file kept as bytes.
			"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Disposition: attachment; filename*=utf-8''%C3%A9t%C3%A9.txt\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\xe9t\xe9",
			// RFC 2047 in the name (not conformant, common), no disposition.
			"Content-Type: application/pdf; name=\"=?utf-8?q?caf=C3=A9.pdf?=\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERg==",
			// No directories.
			"Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"../../etc/passwd\"\r\n\r\nx",
			// A text part with a file name is a file, even inline.
			"Content-Type: text/plain\r\nContent-Disposition: inline; filename=notes.txt\r\n\r\nnotes"),
			[]gotPart{
				{Kind: PartAttachment, ContentType: "text/plain", Charset: "iso-8859-1", Filename: "été.txt", Body: "\xe9t\xe9"},
				{Kind: PartAttachment, ContentType: "application/pdf", Filename: "café.pdf", Body: "%PDF"},
				{Kind: PartAttachment, ContentType: "application/octet-stream", Filename: "passwd", Body: "x"},
				{Kind: PartAttachment, ContentType: "text/plain", Filename: "notes.txt", Inline: true, Body: "notes"},
			}},
		{"related", "Subject: related\r\nContent-Type: multipart/related; boundary=r\r\n\r\n" +
			"--r\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n<img src=cid:a@b>\r\n" +
			"--r\r\nContent-Type: image/gif\r\nContent-ID: <a@b>\r\nContent-Transfer-Encoding: base64\r\n\r\nR0lGODlh\r\n--r--\r\n",
			[]gotPart{
				{Kind: PartHTML, ContentType: "text/html", Charset: "us-ascii", Body: "<img src=cid:a@b>"},
				// No disposition, a Content-ID: shown in the HTML.
				{Kind: PartAttachment, ContentType: "image/gif", ContentID: "a@b", Inline: true, Body: "GIF89a"},
			}},
		{"digest", "Subject: digest\r\nContent-Type: multipart/digest; boundary=d\r\n\r\n" +
			"--d\r\n\r\nSubject: one\r\n\r\nfirst\r\n--d\r\n\r\nSubject: two\r\n\r\nsecond\r\n--d--\r\n",
			[]gotPart{
				{Kind: PartAttachment, ContentType: "message/rfc822", Body: "Subject: one\r\n\r\nfirst"},
				{Kind: PartAttachment, ContentType: "message/rfc822", Body: "Subject: two\r\n\r\nsecond"},
			}},
	}
	srv := mailtest.NewServer(t)
	s := storeSession(t, srv, mailtest.Plain, "imap")
	for _, tt := range tests {
		if err := s.SendRaw(ctxT(t), "ann@example.com", []string{mailtest.DefaultUser}, strings.NewReader(tt.raw)); err != nil {
			t.Fatalf("SendRaw %q: %v", tt.subject, err)
		}
	}
	got := receiveWalked(t, s, false)
	for _, tt := range tests {
		w, ok := got[tt.subject]
		if !ok {
			t.Errorf("%q not received", tt.subject)
			continue
		}
		checkParts(t, tt.subject, w, tt.want)
	}
}

// A malformed structure fails the walk with ErrMalformedMIME, whether the
// bodies are read or skipped, after handing over the parts before it.
func TestReceivedPartsMalformed(t *testing.T) {
	deep := strings.Repeat("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n", 70) + "\r\ntext\r\n"
	tests := []struct {
		subject string
		raw     string
		before  int  // parts handed over before the error
		onRead  bool // the error comes from a Body read (not NextPart) when bodies are read
		// unseen: with the bodies skipped, nothing reads the bad bytes.
		unseen bool
	}{
		{"no closing boundary", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nok\r\n--b\r\nContent-Type: text/plain\r\n\r\ncut off", 1, true, false},
		{"no boundary", "Content-Type: multipart/mixed\r\n\r\n--b\r\n\r\ntext\r\n--b--\r\n", 0, false, false},
		{"nested too deep", deep, 0, false, false},
		{"part header too long", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" +
			strings.Repeat("X-Pad: "+strings.Repeat("p", 990)+"\r\n", 1100) + "\r\ntext\r\n--b--\r\n", 0, false, false},
		{"bad base64", "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n", 0, true, true},
	}
	srv := mailtest.NewServer(t)
	for _, tt := range tests {
		deliver(t, srv, []byte("Subject: "+tt.subject+"\r\n"+tt.raw))
	}
	s := storeSession(t, srv, mailtest.Plain, "imap")
	for _, skip := range []bool{false, true} {
		var got map[string]walked
		err := s.Receive(ctxT(t), ReceiveOptions{Memory: &MemoryUIDMemory{}}, func(ctx context.Context, m *Received) error {
			if got == nil {
				got = map[string]walked{}
			}
			got[m.Subject()] = walkParts(m, skip)
			return nil
		})
		if err != nil {
			t.Fatalf("Receive: %v", err)
		}
		for _, tt := range tests {
			w := got[tt.subject]
			if skip && tt.unseen {
				if w.err != nil || len(w.parts) != 1 {
					t.Errorf("%s (skip): walk error %v, %d parts; want no error, one part", tt.subject, w.err, len(w.parts))
				}
				continue
			}
			if !errors.Is(w.err, ErrMalformedMIME) {
				t.Errorf("%s (skip %v): walk error %v, want ErrMalformedMIME", tt.subject, skip, w.err)
			}
			if want := tt.before; len(w.parts) != want && !(skip && tt.onRead && len(w.parts) == want+1) {
				t.Errorf("%s (skip %v): %d parts before the error, want %d", tt.subject, skip, len(w.parts), want)
			}
		}
	}
}

// A broken stream is the stream's error, not a malformed message.
func TestReceivedPartsBrokenStream(t *testing.T) {
	errCut := errors.New("connection cut")
	msg := "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nok\r\n--b\r\nContent-Type: text/plain\r\n\r\nhalf"
	for _, skip := range []bool{false, true} {
		m := &Received{Raw: io.MultiReader(strings.NewReader(msg), iotest.ErrReader(errCut))}
		w := walkParts(m, skip)
		if !errors.Is(w.err, errCut) || errors.Is(w.err, ErrMalformedMIME) {
			t.Errorf("skip %v: walk error %v, want the stream's error only", skip, w.err)
		}
	}

	// Real traffic: the server cuts the fetch in the middle of a part.
	srv := mailtest.NewServer(t)
	s := storeSession(t, srv, mailtest.Plain, "imap")
	big := strings.Repeat("0123456789abcdef", 4096)
	if err := s.Send(ctxT(t), &Message{To: []string{mailtest.DefaultUser}, Subject: "cut", Text: "see attached",
		Attachments: []Attachment{{Filename: "big.bin", Data: strings.NewReader(big)}}}); err != nil {
		t.Fatal(err)
	}
	srv.SetFaults(mailtest.Faults{CutFetchAfter: 20000})
	var w walked
	err := s.Receive(ctxT(t), ReceiveOptions{}, func(ctx context.Context, m *Received) error {
		w = walkParts(m, false)
		return w.err
	})
	if err == nil || w.err == nil || errors.Is(w.err, ErrMalformedMIME) {
		t.Errorf("Receive = %v; walk error %v, want a stream error, not ErrMalformedMIME", err, w.err)
	}
}

// Raw and Parts share one stream: using both fails rather than handing
// over a part of the message; a Body is valid until the next NextPart.
func TestReceivedPartsMisuse(t *testing.T) {
	const msg = "Subject: misuse\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b--\r\n"
	tests := []struct {
		name    string
		handler func(m *Received) error // returns the misuse's error
	}{
		{"Parts after Raw", func(m *Received) error {
			m.Raw.Read(make([]byte, 1))
			_, err := m.Parts().NextPart()
			return err
		}},
		{"Raw after Parts", func(m *Received) error {
			if _, err := m.Parts().NextPart(); err != nil {
				return fmt.Errorf("NextPart: %w (not the misuse)", err)
			}
			_, err := m.Raw.Read(make([]byte, 1))
			return err
		}},
		{"Parts twice", func(m *Received) error {
			m.Parts().NextPart()
			_, err := m.Parts().NextPart()
			return err
		}},
		{"Body after NextPart", func(m *Received) error {
			pr := m.Parts()
			p, err := pr.NextPart()
			if err != nil {
				return fmt.Errorf("NextPart: %w (not the misuse)", err)
			}
			if _, err := pr.NextPart(); err != nil {
				return fmt.Errorf("NextPart: %w (not the misuse)", err)
			}
			_, err = io.ReadAll(p.Body)
			return err
		}},
	}
	srv := mailtest.NewServer(t)
	s := storeSession(t, srv, mailtest.Plain, "pop3")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			deliver(t, srv, []byte(msg))
			var got error
			err := s.Receive(ctxT(t), ReceiveOptions{Delete: true}, func(ctx context.Context, m *Received) error {
				got = tt.handler(m)
				return nil
			})
			if err != nil {
				t.Fatalf("Receive: %v", err)
			}
			if got == nil || strings.Contains(got.Error(), "not the misuse") {
				t.Errorf("error %v, want the misuse reported", got)
			}
		})
	}

	// A Received made by hand (a handler's own test) is walked too.
	w := walkParts(&Received{Raw: strings.NewReader(msg)}, false)
	checkParts(t, "by hand", w, []gotPart{
		{Kind: PartText, ContentType: "text/plain", Body: "one"},
		{Kind: PartText, ContentType: "text/plain", Body: "two"},
	})
}

// A 20 MB attachment streams through the walk: what the walk allocates is
// a small fraction of it.
func TestReceivedPartsLargeAttachmentStreams(t *testing.T) {
	const size = 20 << 20
	srv := mailtest.NewServer(t)
	s := storeSession(t, srv, mailtest.Plain, "imap")
	sent := sha256.New()
	data := io.TeeReader(io.LimitReader(rand.NewChaCha8([32]byte{1}), size), sent)
	if err := s.Send(ctxT(t), &Message{To: []string{mailtest.DefaultUser}, Subject: "big", Text: "attached",
		Attachments: []Attachment{{Filename: "big.bin", Data: data}}}); err != nil {
		t.Fatal(err)
	}
	var (
		n     int64
		sum   []byte
		alloc uint64
	)
	err := s.Receive(ctxT(t), ReceiveOptions{Delete: true}, func(ctx context.Context, m *Received) error {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		pr := m.Parts()
		for {
			p, err := pr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			if p.Filename == "big.bin" {
				h := sha256.New()
				if n, err = io.Copy(h, p.Body); err != nil {
					return err
				}
				sum = h.Sum(nil)
			}
		}
		runtime.ReadMemStats(&after)
		alloc = after.TotalAlloc - before.TotalAlloc
		return nil
	})
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if n != size || !bytes.Equal(sum, sent.Sum(nil)) {
		t.Fatalf("attachment: %d bytes, sha256 %x; want %d bytes, %x", n, sum, size, sent.Sum(nil))
	}
	t.Logf("the walk of a %d MB attachment allocated %d KB (the store's reads included)", size>>20, alloc>>10)
	if alloc > 1<<20 {
		t.Errorf("the walk allocated %d bytes for a %d-byte attachment: it is held in memory", alloc, size)
	}
}
