package properties

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// realisticFile returns about size bytes shaped like a large
// portal.properties: comment blocks, indented keys, dotted names, lists
// continued over lines, some escapes and non-ASCII text.
func realisticFile(size int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "##\n## Section %d\n##\n\n", i)
		fmt.Fprintf(&b, "    #\n    # Set the value for setting number %d. This comment explains\n    # what the property does and which values are allowed.\n    #\n", i)
		fmt.Fprintf(&b, "    mail.session.mail.smtp.host.%d=smtp%d.example.com\n", i, i)
		fmt.Fprintf(&b, "    mail.session.mail.smtp.port.%d=%d\n", i, 25+i%1000)
		fmt.Fprintf(&b, "    company.default.time.zone.%d=Europe/Berlin\n", i)
		fmt.Fprintf(&b, "    layout.static.portlets.all.%d=\\\n        com_liferay_portlet_%d,\\\n        com_liferay_journal_%d\n", i, i, i)
		fmt.Fprintf(&b, "    admin.email.from.name.%d = Jo\\u00EBl M\\u00FCller\n", i)
		fmt.Fprintf(&b, "    locales.%d: ar_SA,ca_ES,zh_CN,nl_NL,en_US,fi_FI,fr_FR,de_DE,hu_HU,ja_JP\n", i)
		fmt.Fprintf(&b, "    message.%d=Grüße aus Köln — ünïcödé text\n", i)
		fmt.Fprintf(&b, "    path.%d=C:\\\\Liferay\\\\data\\\\document_library\n\n", i)
	}
	return b.Bytes()
}

func BenchmarkLoad(b *testing.B) {
	data := realisticFile(1 << 20)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadLatin1(b *testing.B) {
	data := realisticFile(1 << 20)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LoadLatin1(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStore(b *testing.B) {
	p, err := Load(bytes.NewReader(realisticFile(1 << 20)))
	if err != nil {
		b.Fatal(err)
	}
	var out strings.Builder
	_ = p.Store(&out)
	b.SetBytes(int64(out.Len()))
	b.ReportAllocs()
	for b.Loop() {
		var w bytes.Buffer
		if err := p.Store(&w); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEdit(b *testing.B) {
	data := realisticFile(1 << 20)
	set := props("mail.session.mail.smtp.host.7", "new.example.com", "brand.new", "x")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Edit(data, set, "locales.3"); err != nil {
			b.Fatal(err)
		}
	}
}
