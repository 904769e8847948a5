package mailsession

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"github.com/jmailgo/jmail/mailsession/mailtest"
)

// templateFS is a set of templates of every shape.
var templateFS = fstest.MapFS{
	"welcome.subject.tmpl": {Data: []byte("Welcome, {{.Name}}\n")},
	"welcome.txt.tmpl":     {Data: []byte("Hello {{.Name}},\nyour code is {{.Code}}.\n")},
	"welcome.html.tmpl":    {Data: []byte(`<p>Hello {{.Name}},</p><p>your code is <b>{{.Code}}</b>.</p><img src="cid:logo.png">` + "\n")},

	"mail/reset.subject.tmpl": {Data: []byte("Reset your password")},
	"mail/reset.html.tmpl": {Data: []byte(`<html><head><style>p { color: red }</style><title>x</title></head>` +
		`<body><h1>Password reset</h1><p>Hello {{.Name}}, follow <a href="{{.Link}}">this link</a>.</p>` +
		`<ul><li>valid for one hour</li></ul><script>alert(1)</script></body></html>`)},

	"plain.txt.tmpl": {Data: []byte("just text for {{.Name}}\n")},

	"multiline.subject.tmpl": {Data: []byte("{{.Name}}\nsecond line")},
	"multiline.txt.tmpl":     {Data: []byte("body\n")},

	"subjectonly.subject.tmpl": {Data: []byte("nothing else")},

	"badtext.txt.tmpl":  {Data: []byte("{{.Name")},
	"badhtml.html.tmpl": {Data: []byte(`<a href="{{.Link}}>{{end}}`)},

	"img/logo.png":   {Data: []byte("\x89PNG\r\n\x1a\nnot really a png")},
	"img/other.png":  {Data: []byte("\x89PNG\r\n\x1a\nanother")},
	"other/logo.png": {Data: []byte("\x89PNG\r\n\x1a\nsame base name")},
	"terms.pdf":      {Data: []byte("%PDF-1.7 terms")},
	"img":            {Mode: fs.ModeDir},
}

type welcomeData struct{ Name, Code string }

func TestTemplateMessage(t *testing.T) {
	tmpl, err := ParseTemplates(templateFS, "welcome")
	if err != nil {
		t.Fatal(err)
	}
	m, err := tmpl.Message(welcomeData{Name: `Zoë <script>`, Code: "A&B"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ what, got, want string }{
		// The subject: trimmed, not escaped (it is encoded as a MIME word).
		{"Subject", m.Subject, "Welcome, Zoë <script>"},
		{"Text", m.Text, "Hello Zoë <script>,\nyour code is A&B.\n"},
		// html/template escapes what the data brings.
		{"HTML", m.HTML, `<p>Hello Zoë &lt;script&gt;,</p><p>your code is <b>A&amp;B</b>.</p><img src="cid:logo.png">` + "\n"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	if len(m.Attachments) != 0 || m.To != nil || m.From != "" {
		t.Errorf("Message sets more than subject and bodies: %+v", m)
	}
}

// With the HTML alone, the text alternative is derived from it: words and
// links kept, markup, style and script gone.
func TestTemplateTextFromHTML(t *testing.T) {
	tmpl, err := ParseTemplates(templateFS, "mail/reset")
	if err != nil {
		t.Fatal(err)
	}
	m, err := tmpl.Message(map[string]string{"Name": "Ann", "Link": "https://example.com/reset?t=1&u=2"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Reset your password" {
		t.Errorf("Subject = %q", m.Subject)
	}
	for _, want := range []string{"Password reset", "Hello Ann, follow this link ( https://example.com/reset?t=1&u=2 ).", "valid for one hour"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("Text lacks %q:\n%s", want, m.Text)
		}
	}
	for _, bad := range []string{"<", "color", "alert", "&amp;"} {
		if strings.Contains(m.Text, bad) {
			t.Errorf("Text contains %q:\n%s", bad, m.Text)
		}
	}
	if !strings.HasSuffix(m.Text, "\n") {
		t.Errorf("Text does not end in a line break: %q", m.Text)
	}
}

func TestTemplateErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fsys    fs.FS
		tmpl    string
		data    any
		want    string // in the error
		is      error  // errors.Is, when set
		atParse bool
	}{
		{name: "no body", fsys: templateFS, tmpl: "subjectonly", want: "neither subjectonly.txt.tmpl nor subjectonly.html.tmpl", is: fs.ErrNotExist, atParse: true},
		{name: "no such template", fsys: templateFS, tmpl: "missing", is: fs.ErrNotExist, atParse: true},
		{name: "text does not parse", fsys: templateFS, tmpl: "badtext", want: "badtext.txt.tmpl", atParse: true},
		{name: "html does not parse", fsys: templateFS, tmpl: "badhtml", want: "badhtml.html.tmpl", atParse: true},
		{name: "name with dot-dot", fsys: templateFS, tmpl: "../welcome", want: "invalid template name", atParse: true},
		{name: "absolute name", fsys: templateFS, tmpl: "/welcome", want: "invalid template name", atParse: true},
		{name: "empty name", fsys: templateFS, tmpl: "", want: "invalid template name", atParse: true},
		{name: "nil fs", tmpl: "welcome", want: "nil file system", atParse: true},
		{name: "unreadable file", fsys: errFS{templateFS, "welcome.txt.tmpl"}, tmpl: "welcome", want: "welcome.txt.tmpl: read refused", atParse: true},
		{name: "missing map key", fsys: templateFS, tmpl: "welcome", data: map[string]string{"Name": "x"}, want: `welcome.html.tmpl: template: welcome.html.tmpl:1:44: executing "welcome.html.tmpl" at <.Code>: map has no entry for key "Code"`},
		{name: "missing field", fsys: templateFS, tmpl: "plain", data: struct{ Other string }{}, want: "plain.txt.tmpl"},
		{name: "subject of two lines", fsys: templateFS, tmpl: "multiline", data: welcomeData{Name: "x"}, want: "several lines", is: ErrInvalidMessage},
		{name: "subject with a line break in the data", fsys: templateFS, tmpl: "welcome", data: welcomeData{Name: "a\r\nBcc: evil@example.com", Code: "1"}, want: "several lines", is: ErrInvalidMessage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := ParseTemplates(tc.fsys, tc.tmpl)
			if !tc.atParse {
				if err != nil {
					t.Fatalf("ParseTemplates: %v", err)
				}
				_, err = tmpl.Message(tc.data)
			} else if tmpl != nil {
				t.Errorf("ParseTemplates returned a template with its error")
			}
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v does not match %v", err, tc.is)
			}
		})
	}
}

// errFS refuses to read one file.
type errFS struct {
	fs.FS
	bad string
}

func (e errFS) Open(name string) (fs.File, error) {
	if name == e.bad {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errors.New("read refused")}
	}
	return e.FS.Open(name)
}

func TestTemplateFilesErrors(t *testing.T) {
	welcome, err := ParseTemplates(templateFS, "welcome")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := ParseTemplates(templateFS, "plain")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		call func() (*Template, error)
		want string
	}{
		{"missing attachment", func() (*Template, error) { return welcome.Attach("nope.pdf") }, "nope.pdf"},
		{"directory", func() (*Template, error) { return welcome.Attach("img") }, "not a regular file"},
		{"invalid path", func() (*Template, error) { return welcome.Inline("../logo.png") }, "invalid file name"},
		{"two inline parts with one cid", func() (*Template, error) { return welcome.Inline("img/logo.png", "other/logo.png") }, "two inline parts named cid:logo.png"},
		{"inline without HTML", func() (*Template, error) { return plain.Inline("img/logo.png") }, "need plain.html.tmpl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.call()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
			if got != nil {
				t.Error("a template returned with its error")
			}
		})
	}
	// The failed calls left the template as it was.
	m, err := welcome.Message(welcomeData{Name: "x", Code: "1"})
	if err != nil || len(m.Attachments) != 0 {
		t.Errorf("welcome changed by failed calls: %v, %d attachments", err, len(m.Attachments))
	}
}

// countFS counts opens and closes of its files.
type countFS struct {
	fs.FS
	opens, closes atomic.Int32
}

func (c *countFS) Open(name string) (fs.File, error) {
	f, err := c.FS.Open(name)
	if err != nil {
		return nil, err
	}
	c.opens.Add(1)
	return &countFile{File: f, c: c}, nil
}

type countFile struct {
	fs.File
	c *countFS
}

func (f *countFile) Close() error { f.c.closes.Add(1); return f.File.Close() }

// Rendered messages with attachments and inline images arrive with their
// parts; a file is opened only when its message is sent, and closed.
func TestTemplateSend(t *testing.T) {
	cfs := &countFS{FS: templateFS}
	base, err := ParseTemplates(cfs, "welcome")
	if err != nil {
		t.Fatal(err)
	}
	withLogo, err := base.Inline("img/logo.png")
	if err != nil {
		t.Fatal(err)
	}
	full, err := withLogo.Attach("terms.pdf")
	if err != nil {
		t.Fatal(err)
	}
	opensAfterParse := cfs.opens.Load()

	srv := mailtest.NewServer(t)
	s := storeSession(t, srv, mailtest.Plain, "imap")
	const n = 3
	for i := range n {
		before := cfs.opens.Load()
		m, err := full.Message(welcomeData{Name: fmt.Sprint("user", i), Code: fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		if got := cfs.opens.Load(); got != before {
			t.Fatalf("Message opened %d files; they open when sent", got-before)
		}
		m.To = []string{mailtest.DefaultUser}
		if err := s.Send(ctxT(t), m); err != nil {
			t.Fatal(err)
		}
	}
	if o, c := cfs.opens.Load()-opensAfterParse, cfs.closes.Load()-opensAfterParse; o != 2*n || c != 2*n {
		t.Errorf("sending %d messages opened %d files and closed %d, want %d each", n, o, c, 2*n)
	}
	// base is unchanged by Inline and Attach.
	if m, _ := base.Message(welcomeData{Name: "x", Code: "1"}); len(m.Attachments) != 0 {
		t.Errorf("base template has %d attachments", len(m.Attachments))
	}

	got := receiveWalked(t, s, false)
	for i := range n {
		subject := fmt.Sprint("Welcome, user", i)
		w, ok := got[subject]
		if !ok {
			t.Errorf("%q not received (got %d)", subject, len(got))
			continue
		}
		// Ending in CRLF: as sent over SMTP.
		text := fmt.Sprintf("Hello user%d,\r\nyour code is %d.\r\n", i, i)
		html := fmt.Sprintf("<p>Hello user%d,</p><p>your code is <b>%d</b>.</p><img src=\"cid:logo.png\">\r\n", i, i)
		checkParts(t, subject, w, []gotPart{
			{Kind: PartText, ContentType: "text/plain", Charset: "utf-8", Body: text},
			{Kind: PartHTML, ContentType: "text/html", Charset: "utf-8", Body: html},
			{Kind: PartAttachment, ContentType: "image/png", Filename: "logo.png", ContentID: "logo.png", Inline: true, Body: string(templateFS["img/logo.png"].Data)},
			{Kind: PartAttachment, ContentType: "application/pdf", Filename: "terms.pdf", Body: string(templateFS["terms.pdf"].Data)},
		})
	}
}

// An attachment whose file went away between Attach and Send fails the
// send, naming the file; nothing is sent.
func TestTemplateAttachmentGone(t *testing.T) {
	fsys := fstest.MapFS{
		"n.txt.tmpl": {Data: []byte("body\n")},
		"a.bin":      {Data: []byte("data")},
	}
	tmpl, err := ParseTemplates(fsys, "n")
	if err != nil {
		t.Fatal(err)
	}
	if tmpl, err = tmpl.Attach("a.bin"); err != nil {
		t.Fatal(err)
	}
	m, err := tmpl.Message(nil)
	if err != nil {
		t.Fatal(err)
	}
	delete(fsys, "a.bin")
	srv := mailtest.NewServer(t)
	s := storeSession(t, srv, mailtest.Plain, "imap")
	m.To = []string{mailtest.DefaultUser}
	err = s.Send(ctxT(t), m)
	if err == nil || !strings.Contains(err.Error(), "a.bin") || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Send = %v, want an error naming a.bin that matches fs.ErrNotExist", err)
	}
	if got := len(srv.Messages(mailtest.DefaultUser)); got != 0 {
		t.Errorf("%d messages delivered", got)
	}
}

// One Template renders from many goroutines at once (run with -race).
func TestTemplateConcurrent(t *testing.T) {
	tmpl, err := ParseTemplates(templateFS, "welcome")
	if err != nil {
		t.Fatal(err)
	}
	if tmpl, err = tmpl.Inline("img/logo.png"); err != nil {
		t.Fatal(err)
	}
	html, err := ParseTemplates(templateFS, "mail/reset")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 50 {
				name := fmt.Sprintf("g%d-%d", g, i)
				m, err := tmpl.Message(welcomeData{Name: name, Code: "c"})
				if err != nil {
					t.Error(err)
					return
				}
				if m.Subject != "Welcome, "+name {
					t.Errorf("Subject %q for %s", m.Subject, name)
				}
				b, err := io.ReadAll(m.Attachments[0].Data)
				if err != nil || string(b) != string(templateFS["img/logo.png"].Data) {
					t.Errorf("inline part: %q, %v", b, err)
				}
				r, err := html.Message(map[string]string{"Name": name, "Link": "https://example.com/" + name})
				if err != nil || !strings.Contains(r.Text, name) {
					t.Errorf("derived text %q, %v", r.Text, err)
				}
			}
		})
	}
	wg.Wait()
}
