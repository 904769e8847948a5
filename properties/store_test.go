package properties

import (
	"bytes"
	"flag"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
	{"comment_controls", "tab\there \x01\x7f\u0085\u00a0\u00ff\u0100 😀\f=:\\\r\r\n\n!", [][2]string{{"k", "v"}}},
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
				if latin1 && c.comment == "" {
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

// TestStoreBytesLikeJava runs only where a java command exists: for every
// store case it has Java 17 store the same map (with the same comment) with
// store(OutputStream) and store(Writer), and checks that our StoreLatin1
// and Store wrote the same bytes, apart from Java's date line and the order
// of the entries (Java 17 writes them in hash order, we in insertion order).
func TestStoreBytesLikeJava(t *testing.T) {
	java, err := exec.LookPath("java")
	if err != nil {
		t.Skip("no java on PATH")
	}
	if testing.Short() {
		t.Skip("slow: starts a JVM per case")
	}
	dir := t.TempDir()
	for _, c := range storeCases {
		t.Run(c.name, func(t *testing.T) {
			p := storeCaseProps(c.kv)
			ours := map[bool]*bytes.Buffer{false: {}, true: {}}
			for latin1, b := range ours {
				if err := p.StoreWith(b, StoreOptions{Latin1: latin1, Comment: c.comment}); err != nil {
					t.Fatal(err)
				}
			}
			in := filepath.Join(dir, c.name+".in")
			if err := os.WriteFile(in, ours[true].Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			commentFile := "-"
			if c.comment != "" {
				commentFile = filepath.Join(dir, c.name+".comment")
				if err := os.WriteFile(commentFile, []byte(c.comment), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			outs := map[bool]string{true: filepath.Join(dir, c.name+".latin1"), false: filepath.Join(dir, c.name+".utf8")}
			cmd := exec.Command(java, "testdata/java/StoreLikeJava.java", in, commentFile, outs[true], outs[false])
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("java: %v\n%s", err, out)
			}
			for latin1, path := range outs {
				javaOut, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := comparableStore(t, ours[latin1].Bytes(), false), comparableStore(t, javaOut, true); got != want {
					t.Errorf("latin1=%v:\n ours %q\njava  %q", latin1, got, want)
				}
			}
		})
	}
}

// comparableStore returns store output with the comment lines first as
// written, then the entry lines sorted; dated drops the date line that
// Java writes after the comment.
func comparableStore(t *testing.T, b []byte, dated bool) string {
	t.Helper()
	lines := strings.SplitAfter(string(b), "\n")
	i := 0
	for i < len(lines) && (strings.HasPrefix(lines[i], "#") || strings.HasPrefix(lines[i], "!")) {
		i++
	}
	head := lines[:i]
	if dated {
		if len(head) == 0 {
			t.Fatalf("no date line in Java's output %q", b)
		}
		head = head[:len(head)-1]
	}
	entries := slices.Clone(lines[i:])
	slices.Sort(entries)
	return strings.Join(head, "") + strings.Join(entries, "")
}
