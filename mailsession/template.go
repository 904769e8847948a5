package mailsession

import (
	"bytes"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"io/fs"
	"path"
	"strings"
	texttemplate "text/template"

	"github.com/inbucket/html2text"
)

// Template renders a Message from three files of an fs.FS (an embed.FS, a
// directory with os.DirFS, ...), read once by ParseTemplates:
//
//	name.subject.tmpl  the subject, text/template (optional)
//	name.txt.tmpl      the text/plain body, text/template
//	name.html.tmpl     the text/html body, html/template (auto-escaped)
//
// At least one body is required. With the HTML alone, the plain-text
// alternative is derived from the rendered HTML (links kept as
// "text ( url )"), since a mail without one scores as spam and cannot be
// read by text-only clients.
//
// A key missing from a map in data is an error, not "<no value>": a
// password-reset mail must not go out with a hole in it.
//
// A Template is immutable: Attach and Inline return a copy, and one
// Template may render messages from any number of goroutines.
type Template struct {
	name    string
	fsys    fs.FS
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
	files   []templateFile
}

// templateFile is an attachment or inline part added from the template's
// file system to every message rendered.
type templateFile struct {
	name   string // path in fsys
	inline bool
}

// ParseTemplates reads and parses name.subject.tmpl, name.txt.tmpl and
// name.html.tmpl from fsys. The name is a slash-separated path in fsys
// without the suffixes ("welcome", "mail/reset"). A file that does not
// exist is left out; when neither body exists the error matches
// fs.ErrNotExist. A template that does not parse is an error naming the
// file.
func ParseTemplates(fsys fs.FS, name string) (*Template, error) {
	if fsys == nil {
		return nil, errors.New("mailsession: ParseTemplates: nil file system")
	}
	if !fs.ValidPath(name) || name == "." {
		return nil, fmt.Errorf("mailsession: ParseTemplates: invalid template name %q", name)
	}
	t := &Template{name: name, fsys: fsys}
	var err error
	if t.subject, err = parseText(fsys, name+".subject.tmpl"); err != nil {
		return nil, err
	}
	if t.text, err = parseText(fsys, name+".txt.tmpl"); err != nil {
		return nil, err
	}
	src, err := readTemplateFile(fsys, name+".html.tmpl")
	if err != nil {
		return nil, err
	}
	if src != nil {
		t.html, err = htmltemplate.New(path.Base(name) + ".html.tmpl").Option("missingkey=error").Parse(string(src))
		if err != nil {
			return nil, fmt.Errorf("mailsession: template %s.html.tmpl: %w", name, err)
		}
	}
	if t.text == nil && t.html == nil {
		return nil, fmt.Errorf("mailsession: template %q: neither %s.txt.tmpl nor %s.html.tmpl: %w", name, name, name, fs.ErrNotExist)
	}
	return t, nil
}

// parseText parses a text/template file, or returns nil if there is none.
func parseText(fsys fs.FS, file string) (*texttemplate.Template, error) {
	src, err := readTemplateFile(fsys, file)
	if err != nil || src == nil {
		return nil, err
	}
	tt, err := texttemplate.New(path.Base(file)).Option("missingkey=error").Parse(string(src))
	if err != nil {
		return nil, fmt.Errorf("mailsession: template %s: %w", file, err)
	}
	return tt, nil
}

// readTemplateFile reads file, or returns nil, nil if it does not exist.
func readTemplateFile(fsys fs.FS, file string) ([]byte, error) {
	src, err := fs.ReadFile(fsys, file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mailsession: template %s: %w", file, err)
	}
	return src, nil
}

// Name returns the name the template was parsed under.
func (t *Template) Name() string { return t.name }

// Attach returns a copy of t that attaches the named files of its file
// system (paths as in fs.FS) to every message it renders. Each file must
// exist and be a regular file; it is opened only when the message is
// composed, so a rendered Message costs no open file until it is sent.
func (t *Template) Attach(names ...string) (*Template, error) { return t.withFiles(false, names) }

// Inline returns a copy of t that adds the named image files of its file
// system as inline parts of every message it renders: the HTML refers to
// each as cid:<base name> (<img src="cid:logo.png"> for "img/logo.png").
// Inline parts need the HTML body.
func (t *Template) Inline(names ...string) (*Template, error) {
	if t.html == nil {
		return nil, fmt.Errorf("mailsession: template %q: inline parts need %s.html.tmpl", t.name, t.name)
	}
	return t.withFiles(true, names)
}

func (t *Template) withFiles(inline bool, names []string) (*Template, error) {
	c := *t
	c.files = append([]templateFile(nil), t.files...)
	for _, n := range names {
		if !fs.ValidPath(n) {
			return nil, fmt.Errorf("mailsession: template %q: invalid file name %q", t.name, n)
		}
		fi, err := fs.Stat(t.fsys, n)
		if err != nil {
			return nil, fmt.Errorf("mailsession: template %q: %w", t.name, err)
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("mailsession: template %q: %s is not a regular file", t.name, n)
		}
		for _, f := range c.files {
			if inline && f.inline && path.Base(f.name) == path.Base(n) {
				return nil, fmt.Errorf("mailsession: template %q: two inline parts named cid:%s", t.name, path.Base(n))
			}
		}
		c.files = append(c.files, templateFile{name: n, inline: inline})
	}
	return &c, nil
}

// Message renders the template with data into a new Message with its
// Subject, Text, HTML and Attachments set; the caller adds the recipients
// (and may change anything else) before sending it. The subject is
// trimmed of surrounding white space and must then be one line. An error
// names the file whose execution failed.
func (t *Template) Message(data any) (*Message, error) {
	m := &Message{}
	if t.subject != nil {
		s, err := execute(t.subject, data)
		if err != nil {
			return nil, fmt.Errorf("mailsession: template %s.subject.tmpl: %w", t.name, err)
		}
		m.Subject = strings.TrimSpace(s)
		if strings.ContainsAny(m.Subject, "\r\n") {
			return nil, fmt.Errorf("%w: template %s.subject.tmpl renders a subject of several lines", ErrInvalidMessage, t.name)
		}
	}
	if t.html != nil {
		h, err := execute(t.html, data)
		if err != nil {
			return nil, fmt.Errorf("mailsession: template %s.html.tmpl: %w", t.name, err)
		}
		m.HTML = h
	}
	if t.text != nil {
		s, err := execute(t.text, data)
		if err != nil {
			return nil, fmt.Errorf("mailsession: template %s.txt.tmpl: %w", t.name, err)
		}
		m.Text = s
	} else {
		s, err := html2text.FromString(m.HTML)
		if err != nil {
			return nil, fmt.Errorf("mailsession: template %s.html.tmpl: plain-text alternative: %w", t.name, err)
		}
		m.Text = s + "\n"
	}
	for _, f := range t.files {
		a := Attachment{Filename: path.Base(f.name), Data: &lazyFile{fsys: t.fsys, name: f.name}}
		if f.inline {
			a.ContentID, a.Inline = a.Filename, true
		}
		m.Attachments = append(m.Attachments, a)
	}
	return m, nil
}

// executor is what text/template and html/template have in common.
type executor interface {
	Execute(w io.Writer, data any) error
}

func execute(tmpl executor, data any) (string, error) {
	var b bytes.Buffer
	if err := tmpl.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

// lazyFile is an attachment's Data: it opens its file at the first Read
// and closes it at the end (or at the first error), so that a Message that
// is never sent holds nothing open.
type lazyFile struct {
	fsys fs.FS
	name string
	f    fs.File
	done bool
}

func (l *lazyFile) Read(p []byte) (int, error) {
	if l.done {
		return 0, io.EOF
	}
	if l.f == nil {
		f, err := l.fsys.Open(l.name)
		if err != nil {
			l.done = true
			return 0, fmt.Errorf("mailsession: attachment %s: %w", l.name, err)
		}
		l.f = f
	}
	n, err := l.f.Read(p)
	if err != nil {
		l.done = true
		cerr := l.f.Close()
		l.f = nil
		if cerr != nil && err == io.EOF {
			err = fmt.Errorf("mailsession: attachment %s: %w", l.name, cerr)
		}
		if err != io.EOF {
			err = fmt.Errorf("mailsession: attachment %s: %w", l.name, err)
		}
	}
	return n, err
}

// Close closes the file if a read left it open (a send that stopped
// half-way).
func (l *lazyFile) Close() error {
	l.done = true
	if l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	return f.Close()
}
