package properties

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func props(kv ...string) *Properties {
	p := &Properties{}
	for i := 0; i+1 < len(kv); i += 2 {
		p.Set(kv[i], kv[i+1])
	}
	return p
}

func TestEdit(t *testing.T) {
	tests := []struct {
		name string
		src  string
		set  *Properties
		del  []string
		want string
	}{
		{"keeps spacing and comments",
			"# Mail\n\nmail.smtp.host = old.example.com\n  # indented comment\nmail.smtp.port:25\n",
			props("mail.smtp.host", "smtp.example.com"), nil,
			"# Mail\n\nmail.smtp.host = smtp.example.com\n  # indented comment\nmail.smtp.port:25\n"},
		{"last occurrence wins",
			"k=1\nk=2\nother=x\n", props("k", "3"), nil,
			"k=1\nk=3\nother=x\n"},
		{"continuation rewritten whole",
			"a=1\nk = one \\\n    two\\\n    three\nb=2\n", props("k", "new"), nil,
			"a=1\nk=new\nb=2\n"},
		{"continuation keeps indentation",
			"    k = one \\\n    two\n", props("k", "v"), nil,
			"    k=v\n"},
		{"delete removes continuations and all occurrences",
			"k=1\na=1\n  k = two \\\n   lines\r\nb=2\n", nil, []string{"k"},
			"a=1\nb=2\n"},
		{"append respects CRLF and missing final newline",
			"# c\r\na=1", props("new.key", "v 1", "a", "2"), nil,
			"# c\r\na=2\r\nnew.key=v 1\r\n"},
		{"append with lone CR",
			"a=1\r", props("b", "2"), nil,
			"a=1\rb=2\r"},
		{"append to empty", "", props("k", " v"), nil, "k=\\ v\n"},
		{"escaping", "x=1\n", props("a key", "=v:\n", "é", "😀"), nil,
			"x=1\na\\ key=\\=v\\:\\n\né=😀\n"},
		{"set and delete same key: set wins", "k=1\n", props("k", "2"), []string{"k"}, "k=2\n"},
		{"delete missing key", "a=1\n", nil, []string{"zz"}, "a=1\n"},
		{"dangling continuation at EOF", "k=a\\\n", props("n", "1"), nil, "k=a\\\n\nn=1\n"},
		{"dangling continuation no newline", "k=a\\", props("n", "1"), nil, "k=a\\\n\nn=1\n"},
		{"dangling continuation CRLF", "k=a\\\r\n", props("n", "1"), nil, "k=a\\\r\n\r\nn=1\r\n"},
		{"trailing whitespace after continuation", "k=a\\\n  ", props("n", "1"), nil, "k=a\\\n  \nn=1\n"},
		{"rewritten dangling line", "k=a\\\n", props("k", "b", "n", "1"), nil, "k=b\nn=1\n"},
		{"value at EOF with backslash", "k=a\\", props("k", "b"), nil, "k=b"},
		{"comment continuation untouched", "# x \\\nk=1\n", props("k", "2"), nil, "# x \\\nk=2\n"},
		{"escaped key matched after decoding", "a\\ b=1\n\\u0063=2\n", props("a b", "x", "c", "y"), nil,
			"a\\ b=x\n\\u0063=y\n"},
		{"separator only whitespace", "k   v\n", props("k", "w"), nil, "k   w\n"},
		{"key without value", "k\nz=1\n", props("k", "v"), nil, "k=v\nz=1\n"},
		{"BOM stays part of first key", "\ufeffk=1\n", props("k", "2"), nil, "\ufeffk=1\nk=2\n"},
		{"invalid UTF-8 elsewhere kept", "a=\xff\nk=1\n", props("k", "2"), nil, "a=\xff\nk=2\n"},
		{"delete keeps neighbours", "a=1\n\n# about k\nk=1\n\nb=2", nil, []string{"k", "b"}, "a=1\n\n# about k\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Edit([]byte(tt.src), tt.set, tt.del...)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("Edit:\n got %q\nwant %q", got, tt.want)
			}
			checkEditResult(t, []byte(tt.src), got, tt.set, tt.del, false)
		})
	}
}

// checkEditResult checks that loading the edited text gives the source's
// properties with set merged in and del removed.
func checkEditResult(t *testing.T, src, got []byte, set *Properties, del []string, latin1 bool) {
	t.Helper()
	load := loadUTF8Bytes
	if latin1 {
		load = loadLatin1Bytes
	}
	before, err := load(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range del {
		before.Delete(k)
	}
	before.Merge(set)
	after, err := load(got)
	if err != nil {
		t.Fatalf("edited text does not load: %v", err)
	}
	if !maps.Equal(after.Map(), before.Map()) {
		t.Errorf("edited text loads as\n %q\nwant\n %q", after.Map(), before.Map())
	}
}

func TestEditLatin1(t *testing.T) {
	src := []byte("# caf\xe9\nk=\xe9\nn=1\n")
	got, err := EditLatin1(src, props("k", "€", "new", "ü"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "# caf\xe9\nk=\\u20AC\nn=1\nnew=\\u00FC\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
	checkEditResult(t, src, got, props("k", "€", "new", "ü"), nil, true)
}

func TestEditMalformed(t *testing.T) {
	_, err := Edit([]byte("a=1\nb=\\uXYZW\n"), props("a", "2"))
	var se *SyntaxError
	if !errors.As(err, &se) || se.Line != 2 {
		t.Fatalf("err = %v, want a *SyntaxError on line 2", err)
	}
}

// TestEditCorpus edits every Java test input: setting its keys, deleting
// them, and adding a new key must always load back as expected.
func TestEditCorpus(t *testing.T) {
	files, _ := filepath.Glob("testdata/load/*.properties")
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, latin1 := range []bool{false, true} {
			load, editFn := loadUTF8Bytes, Edit
			if latin1 {
				load, editFn = loadLatin1Bytes, EditLatin1
			}
			p, err := load(src)
			if err != nil {
				continue // malformed inputs are tested by TestEditMalformed
			}
			keys := p.Keys()
			set := props("added.key", "added value")
			var del []string
			for i, k := range keys {
				if i%2 == 0 {
					set.Set(k, "new "+strings.Repeat("v", i))
				} else {
					del = append(del, k)
				}
			}
			got, err := editFn(src, set, del...)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			t.Run(filepath.Base(f), func(t *testing.T) {
				checkEditResult(t, src, got, set, del, latin1)
			})
			// Setting nothing changes nothing.
			same, err := editFn(src, nil)
			if err != nil || string(same) != string(src) {
				t.Errorf("%s: Edit with no changes altered the text: %q", f, same)
			}
		}
	}
}
