package properties

import (
	"bytes"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/store/*.properties from Store (then run GenExpected.java)")

// storeCases are the maps whose Store and StoreLatin1 output Java must read
// back unchanged. Each is written to testdata/store and checked by
// testdata/java/GenExpected.java.
var storeCases = []struct {
	name    string
	comment string
	kv      [][2]string
}{
	{"syntax", "", [][2]string{
		{"a b", "x"}, {" lead", "  two leading"}, {"trail ", "trailing  "},
		{"=", "="}, {":", ":"}, {"#", "#"}, {"!", "!"}, {"#start", "#v"}, {"!start", "!v"},
		{"a=b:c d", "=v:w x"}, {"back\\slash\\", "\\"}, {"\\u0041", "\\u0041"},
		{"cont\\", "v\\"}, {" ", " "}, {"\t", "\t"}, {"tab\tkey", "\tv"}, {"\f", "\f lead"},
	}},
	{"control", "", [][2]string{
		{"nl\n", "a\nb"}, {"cr\r", "a\rb"}, {"crlf\r\n", "\r\n"}, {"ctl\x01\x1f", "\x00\x01\x1f\x7f"},
		{"\v", "\v"}, {"nul\x00", ""}, {"\x7f", "del"},
	}},
	{"unicode", "", [][2]string{
		{"é", "éè"}, {"€", "€uro"}, {"日本", "語"}, {"😀", "😀 smile"}, {"\u00a0", "\u00a0nbsp"},
		{"\ufffd", "\ufffd"}, {"\u0085nel", "\u2028ls\u2029ps"}, {"\U0010ffff", "\U00010000"},
		{"ÿ", "\u0100"}, {"\u00ff\u00ff", "\u0080"},
	}},
	{"bom", "", [][2]string{{"\ufeffkey", "\ufeff"}, {"k", "v"}}},
	{"empty", "", [][2]string{{"", ""}, {"k", ""}, {"", ""}}},
	{"comment", "hello\nworld\r\n#already\n!bang\r€ and ünïcödé\n", [][2]string{{"k", "v"}}},
	{"portal", "Liferay mail settings", [][2]string{
		{"mail.session.mail.smtp.host", "smtp.example.com"},
		{"mail.session.mail.smtp.password", "p@ss w=rd:#!"},
		{"admin.email.from.name", "Joe Bloggs"},
	}},
	{"nothing", "", nil},
}

func storeCaseProps(kv [][2]string) *Properties {
	p := &Properties{}
	for _, e := range kv {
		p.Set(e[0], e[1])
	}
	return p
}

// TestStoreMatchesJava checks that our Store and StoreLatin1 output is the
// one Java 17 was given (testdata/store) and that Java read back exactly the
// map we stored.
func TestStoreMatchesJava(t *testing.T) {
	for _, c := range storeCases {
		t.Run(c.name, func(t *testing.T) {
			p := storeCaseProps(c.kv)
			for _, latin1 := range []bool{false, true} {
				mode := "utf8"
				if latin1 {
					mode = "latin1"
				}
				var out bytes.Buffer
				if err := p.StoreWith(&out, StoreOptions{Latin1: latin1, Comment: c.comment}); err != nil {
					t.Fatal(err)
				}
				base := filepath.Join("testdata/store", c.name+"."+mode)
				if *update {
					if err := os.WriteFile(base+".properties", out.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				if latin1 {
					for _, b := range out.Bytes() {
						if b >= 0x80 {
							t.Fatalf("StoreLatin1 wrote a non-ASCII byte %#x", b)
						}
					}
				}
				committed, err := os.ReadFile(base + ".properties")
				if err != nil {
					t.Fatalf("%v (regenerate, see testdata/README.md)", err)
				}
				if !bytes.Equal(out.Bytes(), committed) {
					t.Fatalf("%s: output differs from what Java checked; regenerate (testdata/README.md)\n got %q\nwant %q", mode, out.Bytes(), committed)
				}
				want := readExpected(t, base+".json")
				javaRead := want.UTF8
				load := loadUTF8Bytes
				if latin1 {
					javaRead = want.Latin1
					load = loadLatin1Bytes
				}
				if javaRead.Error != nil {
					t.Fatalf("%s: Java failed to read our output: %s", mode, *javaRead.Error)
				}
				if javaRead.Map == nil {
					javaRead.Map = map[string]string{}
				}
				if !maps.Equal(javaRead.Map, p.Map()) {
					t.Errorf("%s: Java read back\n %q\nwe stored\n %q", mode, javaRead.Map, p.Map())
				}
				back, err := load(out.Bytes())
				if err != nil {
					t.Fatalf("%s: Load(Store(p)): %v", mode, err)
				}
				if !equalOrdered(back, p) {
					t.Errorf("%s: Load(Store(p)) = %q, want %q", mode, back.Keys(), p.Keys())
				}
			}
		})
	}
}

func equalOrdered(a, b *Properties) bool {
	if a.Len() != b.Len() {
		return false
	}
	ak, bk := a.Keys(), b.Keys()
	for i := range ak {
		if ak[i] != bk[i] {
			return false
		}
		av, _ := a.Get(ak[i])
		bv, _ := b.Get(bk[i])
		if av != bv {
			return false
		}
	}
	return true
}

func TestStoreFormat(t *testing.T) {
	p := &Properties{}
	p.Set("a key", " v = 1")
	p.Set("é", "😀")
	var u, l strings.Builder
	if err := p.Store(&u); err != nil {
		t.Fatal(err)
	}
	if err := p.StoreLatin1(&l); err != nil {
		t.Fatal(err)
	}
	if want := "a\\ key=\\ v \\= 1\né=😀\n"; u.String() != want {
		t.Errorf("Store = %q, want %q", u.String(), want)
	}
	if want := "a\\ key=\\ v \\= 1\n\\u00E9=\\uD83D\\uDE00\n"; l.String() != want {
		t.Errorf("StoreLatin1 = %q, want %q", l.String(), want)
	}
}

func TestStoreInvalidUTF8(t *testing.T) {
	p := &Properties{}
	p.Set("k\xff", "\xe2\x82")
	var b strings.Builder
	if err := p.Store(&b); err != nil {
		t.Fatal(err)
	}
	if want := "k\ufffd=\ufffd\ufffd\n"; b.String() != want {
		t.Errorf("Store = %q, want %q", b.String(), want)
	}
}
