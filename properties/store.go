package properties

import (
	"bufio"
	"io"
	"unicode/utf16"
	"unicode/utf8"
)

// StoreOptions controls Properties.StoreWith.
type StoreOptions struct {
	// Latin1 writes ISO-8859-1 output with every character below U+0020 or
	// above U+007E escaped as \uXXXX (UTF-16 units, so a supplementary
	// character becomes a surrogate pair), as Java's store(OutputStream)
	// does. Otherwise the output is UTF-8, as Java's store(Writer) with a
	// UTF-8 writer: only \t \n \r \f and the syntax characters are escaped.
	Latin1 bool
	// Comment, when not empty, is written first as comment lines, byte
	// for byte as Java's store(out, comments) writes them: each line break
	// starts a new "#" line and characters above U+00FF are \u escaped
	// (with Latin1, U+0080..U+00FF are single ISO-8859-1 bytes, as Java
	// writes them).
	// Unlike Java, no date line is written, so output is reproducible.
	Comment string
}

// Store writes p in UTF-8, one "key=value" line per key in order, escaped
// so that Java's Properties.load(Reader) (and Load) reads back exactly the
// same keys and values. Invalid UTF-8 in a key or value is written as
// U+FFFD.
func (p *Properties) Store(w io.Writer) error {
	return p.StoreWith(w, StoreOptions{})
}

// StoreLatin1 writes p in ISO-8859-1 with \uXXXX escapes, so that Java's
// Properties.load(InputStream) (and LoadLatin1) reads back exactly the same
// keys and values. The output is pure ASCII.
func (p *Properties) StoreLatin1(w io.Writer) error {
	return p.StoreWith(w, StoreOptions{Latin1: true})
}

// StoreWith writes p as Store or StoreLatin1 do, with options.
func (p *Properties) StoreWith(w io.Writer, opts StoreOptions) error {
	bw := bufio.NewWriter(w)
	var buf []byte
	if opts.Comment != "" {
		buf = appendComment(buf, opts.Comment, opts.Latin1)
	}
	for k, v := range p.All() {
		buf = appendEscaped(buf, k, true, opts.Latin1)
		buf = append(buf, '=')
		buf = appendEscaped(buf, v, false, opts.Latin1)
		buf = append(buf, '\n')
		if len(buf) >= 4096 {
			if _, err := bw.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	if _, err := bw.Write(buf); err != nil {
		return err
	}
	return bw.Flush()
}

const hexDigits = "0123456789ABCDEF"

func appendU(buf []byte, u uint16) []byte {
	return append(buf, '\\', 'u', hexDigits[u>>12], hexDigits[u>>8&0xf], hexDigits[u>>4&0xf], hexDigits[u&0xf])
}

// appendEscaped escapes s as Java's Properties.saveConvert does.
func appendEscaped(buf []byte, s string, isKey, latin1 bool) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			i += n
			if !latin1 {
				buf = utf8.AppendRune(buf, r) // RuneError for invalid bytes
				continue
			}
			if r >= 0x10000 {
				r1, r2 := utf16.EncodeRune(r)
				buf = appendU(appendU(buf, uint16(r1)), uint16(r2))
			} else {
				buf = appendU(buf, uint16(r))
			}
			continue
		}
		i++
		switch {
		case c > '=' && c < 0x7f:
			if c == '\\' {
				buf = append(buf, '\\', '\\')
			} else {
				buf = append(buf, c)
			}
		case c == ' ':
			if i == 1 || isKey {
				buf = append(buf, '\\')
			}
			buf = append(buf, ' ')
		case c == '\t':
			buf = append(buf, '\\', 't')
		case c == '\n':
			buf = append(buf, '\\', 'n')
		case c == '\r':
			buf = append(buf, '\\', 'r')
		case c == '\f':
			buf = append(buf, '\\', 'f')
		case c == '=' || c == ':' || c == '#' || c == '!':
			buf = append(buf, '\\', c)
		case latin1 && (c < 0x20 || c == 0x7f):
			buf = appendU(buf, uint16(c))
		default:
			buf = append(buf, c)
		}
	}
	return buf
}

// appendComment writes comment as Java's Properties.writeComments does:
// every line starts with '#' unless it already starts with '#' or '!';
// characters above U+00FF are \u escaped (UTF-16 units), others are
// written as they are: one byte each in ISO-8859-1 (latin1), UTF-8
// otherwise. Only CR and LF end a comment line, so the output loads in
// both encodings with the comment ignored.
func appendComment(buf []byte, comment string, latin1 bool) []byte {
	buf = append(buf, '#')
	for i := 0; i < len(comment); {
		r, n := utf8.DecodeRuneInString(comment[i:])
		i += n
		switch {
		case r == '\r' || r == '\n':
			if r == '\r' && i < len(comment) && comment[i] == '\n' {
				i++
			}
			buf = append(buf, '\n')
			if i < len(comment) && (comment[i] == '#' || comment[i] == '!') {
				continue
			}
			buf = append(buf, '#')
		case r > 0xff:
			if r >= 0x10000 {
				r1, r2 := utf16.EncodeRune(r)
				buf = appendU(appendU(buf, uint16(r1)), uint16(r2))
			} else {
				buf = appendU(buf, uint16(r))
			}
		case latin1:
			buf = append(buf, byte(r))
		default:
			buf = utf8.AppendRune(buf, r)
		}
	}
	return append(buf, '\n')
}
