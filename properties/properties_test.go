package properties

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestZeroValue(t *testing.T) {
	var p Properties
	if _, ok := p.Get("k"); ok || p.Len() != 0 || len(p.Keys()) != 0 {
		t.Fatal("zero Properties is not empty")
	}
	if p.Delete("k") {
		t.Fatal("Delete on empty reported a key")
	}
	p.Set("k", "v")
	if v, ok := p.Get("k"); !ok || v != "v" {
		t.Fatalf("Get = %q, %v", v, ok)
	}
	var nilp *Properties
	if nilp.Len() != 0 || nilp.Keys() != nil || nilp.Value("k", "d") != "d" {
		t.Fatal("nil *Properties reads are not empty")
	}
	if nilp.Delete("k") || nilp.Map() == nil || nilp.Clone().Len() != 0 || nilp.Sub("a.").Len() != 0 {
		t.Fatal("nil *Properties Delete/Map/Clone/Sub are not empty")
	}
	for range nilp.All() {
		t.Fatal("nil *Properties All yields")
	}
}

func TestOrderSetDelete(t *testing.T) {
	p := props("b", "1", "a", "2", "c", "3")
	p.Set("b", "x") // keeps its place
	if got := p.Keys(); !slices.Equal(got, []string{"b", "a", "c"}) {
		t.Fatalf("Keys = %q", got)
	}
	if !p.Delete("a") || p.Delete("a") {
		t.Fatal("Delete results wrong")
	}
	p.Set("a", "again") // goes to the end
	if got := p.Keys(); !slices.Equal(got, []string{"b", "c", "a"}) {
		t.Fatalf("Keys = %q", got)
	}
	if v, _ := p.Get("c"); v != "3" || p.Len() != 3 {
		t.Fatalf("after delete: c=%q len=%d", v, p.Len())
	}
	if p.Value("a", "d") != "again" || p.Value("zz", "d") != "d" {
		t.Fatal("Value wrong")
	}
}

func TestLoadOrderAndDuplicates(t *testing.T) {
	p, err := loadUTF8Bytes([]byte("z=1\na=2\nz=3\nm=4\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Keys(); !slices.Equal(got, []string{"z", "a", "m"}) {
		t.Fatalf("Keys = %q, want first-appearance order", got)
	}
	if v, _ := p.Get("z"); v != "3" {
		t.Fatalf("z = %q, want the last value", v)
	}
}

func TestClone(t *testing.T) {
	p := props("a", "1", "b", "2")
	c := p.Clone()
	c.Set("a", "changed")
	c.Delete("b")
	c.Set("new", "x")
	if v, _ := p.Get("a"); v != "1" || p.Len() != 2 {
		t.Fatal("Clone shares state with the original")
	}
	if got := c.Keys(); !slices.Equal(got, []string{"a", "new"}) {
		t.Fatalf("clone Keys = %q", got)
	}
	var zero Properties
	if zero.Clone().Len() != 0 {
		t.Fatal("clone of zero not empty")
	}
}

func TestMerge(t *testing.T) {
	p := props("a", "1", "b", "2")
	p.Merge(props("b", "from-first", "c", "3"), nil, props("c", "from-second", "d", "4"))
	want := [][2]string{{"a", "1"}, {"b", "from-first"}, {"c", "from-second"}, {"d", "4"}}
	var got [][2]string
	for k, v := range p.All() {
		got = append(got, [2]string{k, v})
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Merge = %q, want %q", got, want)
	}
}

func TestSub(t *testing.T) {
	p := props(
		"mail.session.mail.smtp.host", "smtp.example.com",
		"company.default.name", "x",
		"mail.session.jndi.name", "mail/MailSession",
		"mail.session.", "empty",
		"mail.sessionx", "no",
	)
	s := p.Sub("mail.session.")
	want := [][2]string{{"mail.smtp.host", "smtp.example.com"}, {"jndi.name", "mail/MailSession"}, {"", "empty"}}
	var got [][2]string
	for k, v := range s.All() {
		got = append(got, [2]string{k, v})
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Sub = %q, want %q", got, want)
	}
	if p.Sub("").Len() != p.Len() {
		t.Fatal("Sub(\"\") should copy everything")
	}
}

func TestPrintingHidesValues(t *testing.T) {
	p := props("mail.smtp.password", "hunter2", "mail.smtp.host", "h")
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(format, p)
		if strings.Contains(out, "hunter2") || !strings.Contains(out, "mail.smtp.password") {
			t.Errorf("%s printed %q", format, out)
		}
	}
}
