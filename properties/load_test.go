package properties

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

func TestSyntaxErrorLine(t *testing.T) {
	tests := []struct {
		src  string
		line int
		text string
	}{
		{"a=\\u12", 1, `\u12`},
		{"a=1\nb=2\nc=\\uXYZ1\n", 3, `\uXYZ1`},
		{"a=1\r\nb=2\r\n\r\nc=\\u00g0", 4, `\u00g0`},
		{"a=1\rb=2\r\rc=\\u", 4, `\u`},
		{"# c\n! d\n\\u00=x\n", 3, `\u00`},
		{"k=one\\\n  two\\\n  \\u12z4\n", 1, `\u12z4`},
		{"a=1\\\r\n b\nz=\\u0é", 3, `\u0`},
	}
	for _, tt := range tests {
		for _, load := range []func([]byte) (*Properties, error){loadUTF8Bytes, loadLatin1Bytes} {
			p, err := load([]byte(tt.src))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("%q: err = %v, p = %v", tt.src, err, p)
			}
			if se.Line != tt.line || !strings.HasPrefix(se.Text, tt.text) {
				t.Errorf("%q: %v; want line %d, text %q", tt.src, se, tt.line, tt.text)
			}
			if p != nil {
				t.Errorf("%q: properties returned with an error", tt.src)
			}
		}
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "portal-ext.properties")
	if err := os.WriteFile(path, []byte("mail.session.mail.smtp.host=smtp.example.com\nk=é\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := p.Get("k"); v != "é" {
		t.Errorf("k = %q", v)
	}
	if _, err := LoadFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	bad := filepath.Join(dir, "bad.properties")
	if err := os.WriteFile(bad, []byte("a=1\nb=\\u\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadFile(bad)
	var se *SyntaxError
	if !errors.As(err, &se) || se.Line != 2 || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad file: %v", err)
	}
}

func TestLoadReadError(t *testing.T) {
	boom := errors.New("boom")
	_, err := Load(io.MultiReader(strings.NewReader("a=1\n"), iotest.ErrReader(boom)))
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want the reader's error", err)
	}
	if _, err := LoadLatin1(iotest.ErrReader(boom)); !errors.Is(err, boom) {
		t.Errorf("latin1 err = %v", err)
	}
}

// TestLoadSmallReads checks that input arriving in tiny pieces loads the same.
func TestLoadSmallReads(t *testing.T) {
	src := "a=1\\\r\n  2\r\nb=\xe2\x82\xac\xe2\x82\n#c\nd=\\u0041\n"
	want, err := Load(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Load(iotest.OneByteReader(strings.NewReader(src)))
	if err != nil {
		t.Fatal(err)
	}
	if !equalOrdered(got, want) {
		t.Errorf("one-byte reads: %q, want %q", got.Map(), want.Map())
	}
}

// A malformed escape is often typed in a password: the message names the
// line only; the escape as written is in SyntaxError.Text for callers that
// know the line holds no secret.
func TestSyntaxErrorMessageHidesText(t *testing.T) {
	_, err := Load(strings.NewReader("a=1\nmail.smtp.password=se\\uZZ99cret\n"))
	var se *SyntaxError
	if !errors.As(err, &se) || se.Line != 2 || se.Text != `\uZZ99` {
		t.Fatalf("err = %#v, want a *SyntaxError on line 2 with Text \\uZZ99", err)
	}
	if strings.Contains(err.Error(), "ZZ99") || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("Error() = %q: want the line, not the escape", err.Error())
	}
}
