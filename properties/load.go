package properties

import (
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// SyntaxError reports input that Java's Properties.load rejects: a
// malformed \uXXXX escape. Java throws IllegalArgumentException without a
// position; SyntaxError adds the line.
type SyntaxError struct {
	// Line is the 1-based physical line on which the offending logical
	// line (key and value, with its continuation lines) starts. LF, CRLF
	// and a lone CR each end a line.
	Line int
	// Text is the offending escape as written, e.g. `\u00G1` or `\u12`.
	// It may be part of a secret (a password value), so Error leaves it
	// out; show it only where the line is known to hold none.
	Text string
}

// Error names the line, not the escape (see Text).
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("properties: line %d: malformed \\uxxxx encoding", e.Line)
}

// Load reads a .properties text in UTF-8, as Java's Properties.load(Reader)
// does given an InputStreamReader for UTF-8. Malformed UTF-8 is replaced by
// U+FFFD the way Java's decoder replaces it (one U+FFFD per malformed
// sequence), never rejected. A leading byte-order mark is not removed: like
// Java, it becomes part of the first key. A \u escape of a lone UTF-16
// surrogate, which Go strings cannot hold, becomes U+FFFD.
func Load(r io.Reader) (*Properties, error) {
	s, err := readAll(r)
	if err != nil {
		return nil, err
	}
	return parse(decodeUTF8(s))
}

// LoadLatin1 reads .properties bytes in ISO-8859-1, as Java's
// Properties.load(InputStream) does: every byte is one character, and other
// characters are written as \uXXXX escapes.
func LoadLatin1(r io.Reader) (*Properties, error) {
	s, err := readAll(r)
	if err != nil {
		return nil, err
	}
	return parse(decodeLatin1(s))
}

// LoadFile reads the named file with Load (UTF-8). Errors carry the path;
// a *SyntaxError is still found with errors.As.
func LoadFile(path string) (*Properties, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var b strings.Builder
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 && fi.Size() < 1<<30 {
		b.Grow(int(fi.Size()) + 1)
	}
	if _, err := io.Copy(&b, f); err != nil {
		return nil, fmt.Errorf("properties: read %s: %w", path, err)
	}
	p, err := parse(decodeUTF8(b.String()))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

func readAll(r io.Reader) (string, error) {
	var b strings.Builder
	if _, err := io.Copy(&b, r); err != nil {
		return "", fmt.Errorf("properties: read: %w", err)
	}
	return b.String(), nil
}

func parse(s string) (*Properties, error) {
	// Collect the entries first (a guess at their number saves regrowing)
	// and build the index once its size is known.
	entries := make([]entry, 0, strings.Count(s, "\n")/2+1)
	var lr lineReader
	lr.init(s)
	var conv converter
	for {
		line, ok := lr.readLine()
		if !ok {
			return newFromEntries(entries), nil
		}
		keyEnd, valStart := splitLine(line)
		key, err := conv.convert(line[:keyEnd])
		if err != nil {
			return nil, &SyntaxError{Line: lr.startLine, Text: err.(badEscape).text}
		}
		value, err := conv.convert(line[valStart:])
		if err != nil {
			return nil, &SyntaxError{Line: lr.startLine, Text: err.(badEscape).text}
		}
		entries = append(entries, entry{key, value})
	}
}

// newFromEntries indexes entries in place; for a duplicated key the first
// position and the last value win, as with repeated Set calls.
func newFromEntries(entries []entry) *Properties {
	if len(entries) == 0 {
		return &Properties{}
	}
	index := make(map[string]int, len(entries))
	n := 0
	for _, e := range entries {
		if i, ok := index[e.key]; ok {
			entries[i].value = e.value
			continue
		}
		index[e.key] = n
		entries[n] = e
		n++
	}
	clear(entries[n:])
	return &Properties{index: index, entries: entries[:n]}
}

// lineReader splits text into logical lines exactly as Java 17's
// Properties.LineReader: it skips blank and comment lines, leading
// whitespace, and joins continuation lines.
type lineReader struct {
	s         string
	off       int
	line      int // physical line number at off, 1-based
	startLine int // physical line where the last logical line started
	skipLF    bool
	buf       []byte
	// decode, when set, turns each raw segment (a physical line's part of
	// the logical line) into UTF-8 text; Edit parses undecoded bytes.
	decode func(string) string
	// Positions of the last logical line within s, for Edit: first is its
	// first character, rawEnd the end of its last physical line (the
	// terminator's position, or len(s)).
	first, rawEnd int
	// eofContinued: the input ended while the last line was continued.
	eofContinued bool
}

func (lr *lineReader) init(s string) {
	lr.s = s
	lr.line = 1
}

func isWhite(c byte) bool { return c == ' ' || c == '\t' || c == '\f' }

// countEOL counts the line ended by the terminator c at off-1; CR LF is one
// line end, CR LF being seen as its CR.
func (lr *lineReader) countEOL(c byte, off int) {
	if c == '\n' || off >= len(lr.s) || lr.s[off] != '\n' {
		lr.line++
	}
}

// readLine returns the next logical line, before escape decoding.
func (lr *lineReader) readLine() (string, bool) {
	s := lr.s
	off := lr.off
	skipWhiteSpace := true
	appendedLineBegin := false
	precedingBackslash := false
	multi := false // the line spans physical lines: assembled in buf
	segStart := -1 // start of the current physical line's content
	lr.buf = lr.buf[:0]
	lr.first = -1

	// finish returns the logical line ending at end (exclusive) in s.
	finish := func(end, rawEnd int) (string, bool) {
		lr.off = off
		lr.rawEnd = rawEnd
		if !multi {
			if segStart < 0 {
				return "", true
			}
			return lr.segment(s[segStart:end]), true
		}
		if segStart >= 0 {
			lr.buf = append(lr.buf, lr.segment(s[segStart:end])...)
		}
		return string(lr.buf), true
	}
	length := func(at int) int { // Java's len: characters appended so far
		n := len(lr.buf)
		if segStart >= 0 {
			n += at - segStart
		}
		return n
	}

	for {
		if off >= len(s) {
			if length(off) == 0 {
				lr.off = off
				return "", false
			}
			// A following line would still be joined to this one.
			lr.eofContinued = precedingBackslash ||
				(appendedLineBegin && (s[off-1] == '\n' || s[off-1] == '\r'))
			if precedingBackslash {
				return finish(off-1, off)
			}
			return finish(off, off)
		}
		c := s[off]
		off++
		if lr.skipLF {
			lr.skipLF = false
			if c == '\n' {
				lr.line++
				continue
			}
		}
		if skipWhiteSpace {
			if isWhite(c) {
				continue
			}
			if !appendedLineBegin && (c == '\r' || c == '\n') {
				lr.countEOL(c, off)
				continue
			}
			skipWhiteSpace = false
			appendedLineBegin = false
		}
		if segStart < 0 && len(lr.buf) == 0 && (c == '#' || c == '!') {
			// A comment: consume the rest of the physical line.
			rest := s[off:]
			i := strings.IndexByte(rest, '\n')
			if i < 0 {
				i = len(rest)
			}
			if j := strings.IndexByte(rest[:i], '\r'); j >= 0 {
				i = j
			}
			if i == len(rest) {
				lr.off = len(s)
				return "", false
			}
			off += i + 1
			lr.countEOL(rest[i], off)
			skipWhiteSpace = true
			continue
		}
		if c != '\n' && c != '\r' {
			if segStart < 0 {
				segStart = off - 1
				if lr.first < 0 {
					lr.first = segStart
					lr.startLine = lr.line
				}
			}
			// Take the rest of the physical line at once; only the
			// backslashes at its end matter for continuation.
			i := off
			for i < len(s) && s[i] != '\n' && s[i] != '\r' {
				i++
			}
			j := i
			for j >= off && s[j-1] == '\\' {
				j--
			}
			odd := (i-j)%2 == 1
			if j == off-1 { // all backslashes: they extend the current run
				precedingBackslash = precedingBackslash != odd
			} else {
				precedingBackslash = odd
			}
			off = i
			continue
		}
		// End of a physical line.
		lr.countEOL(c, off)
		if length(off-1) == 0 {
			skipWhiteSpace = true
			continue
		}
		if off >= len(s) {
			if precedingBackslash {
				lr.eofContinued = true
				return finish(off-2, off-1)
			}
			return finish(off-1, off-1)
		}
		if !precedingBackslash {
			return finish(off-1, off-1)
		}
		// Continuation: drop the backslash, join the next line.
		multi = true
		if segStart >= 0 {
			lr.buf = append(lr.buf, lr.segment(s[segStart:off-2])...)
		}
		segStart = -1
		skipWhiteSpace = true
		appendedLineBegin = true
		precedingBackslash = false
		if c == '\r' {
			lr.skipLF = true
		}
	}
}

func (lr *lineReader) segment(seg string) string {
	if lr.decode == nil {
		return seg
	}
	return lr.decode(seg)
}

// splitLine finds the end of the key and the start of the value in a
// logical line, as Properties.load0 does.
func splitLine(line string) (keyEnd, valStart int) {
	limit := len(line)
	valStart = limit
	hasSep := false
	precedingBackslash := false
	for keyEnd < limit {
		c := line[keyEnd]
		if (c == '=' || c == ':') && !precedingBackslash {
			valStart = keyEnd + 1
			hasSep = true
			break
		} else if isWhite(c) && !precedingBackslash {
			valStart = keyEnd + 1
			break
		}
		if c == '\\' {
			precedingBackslash = !precedingBackslash
		} else {
			precedingBackslash = false
		}
		keyEnd++
	}
	for valStart < limit {
		c := line[valStart]
		if !isWhite(c) {
			if !hasSep && (c == '=' || c == ':') {
				hasSep = true
			} else {
				break
			}
		}
		valStart++
	}
	return keyEnd, valStart
}

type badEscape struct{ text string }

func (e badEscape) Error() string { return "malformed \\uxxxx encoding " + e.text }

// converter decodes escapes as Properties.loadConvert does.
type converter struct {
	buf []byte
}

func (cv *converter) convert(in string) (string, error) {
	i := strings.IndexByte(in, '\\')
	if i < 0 {
		return in, nil
	}
	out := append(cv.buf[:0], in[:i]...)
	for i < len(in) {
		c := in[i]
		i++
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if i >= len(in) {
			// Cannot happen for lines from lineReader: an odd trailing
			// backslash is removed there. Drop it, as there is no char.
			break
		}
		c = in[i]
		i++
		switch c {
		case 'u':
			r, err := hex4(in, i)
			if err != nil {
				return "", err
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if r < 0xdc00 && i+6 <= len(in) && in[i] == '\\' && in[i+1] == 'u' {
					if r2, err := hex4(in, i+2); err == nil && r2 >= 0xdc00 && r2 <= 0xdfff {
						r = utf16.DecodeRune(r, r2)
						i += 6
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		case 't':
			out = append(out, '\t')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 'f':
			out = append(out, '\f')
		default:
			out = append(out, c)
		}
	}
	cv.buf = out
	return string(out), nil
}

// hex4 decodes the four hex digits of a \u escape starting at in[i].
func hex4(in string, i int) (rune, error) {
	if i+4 > len(in) {
		return 0, badEscape{`\u` + in[i:]}
	}
	var r rune
	for j := i; j < i+4; j++ {
		c := in[j]
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			end := i + 4
			for end > i && !utf8.ValidString(in[i:end]) {
				end--
			}
			return 0, badEscape{`\u` + in[i:end]}
		}
	}
	return r, nil
}
