package properties

import "strings"

// Edit returns a copy of src, the text of a .properties file in UTF-8, in
// which every key of set has its value from set and every key in del is
// gone, while every other byte is kept: comments, blank lines, order,
// indentation, continuation lines and line endings. It is meant for saving
// settings into a hand-written file such as portal-ext.properties.
//
//   - A key of set that is in src: its last occurrence (the one Java
//     uses) is rewritten in place. If that line is a single physical line,
//     its key and separator are kept as written ("key = old" becomes
//     "key = new"); otherwise the whole logical line, continuations
//     included, becomes "key=value". Earlier occurrences stay (Java ignores
//     them).
//   - A key of set that is not in src is appended as "key=value", in set's
//     order, ending with src's first line ending (LF when src has none). A missing final line ending is added first,
//     and a dangling continuation at the end of src is closed, so the new
//     lines stand alone.
//   - A key in del that is not also in set: each of its occurrences is
//     removed as a whole logical line, from the start of its first physical
//     line through the line ending of its last.
//
// Keys and values are written escaped as Store does. Keys in src are
// compared after decoding exactly as Load reads them. Edit fails only when
// src is not loadable (a malformed \uXXXX escape: a *SyntaxError). Loading
// the result gives the properties of src with set merged in and del
// removed.
func Edit(src []byte, set *Properties, del ...string) ([]byte, error) {
	return edit(src, set, del, decodeUTF8, false)
}

// EditLatin1 is Edit for a file in ISO-8859-1 (read with LoadLatin1):
// keys in src are decoded as Latin-1 and new values are written with
// StoreLatin1's \uXXXX escapes.
func EditLatin1(src []byte, set *Properties, del ...string) ([]byte, error) {
	return edit(src, set, del, decodeLatin1, true)
}

// logicalLine locates one key/value line of the source.
type logicalLine struct {
	key       string
	lineStart int  // start of its first physical line
	first     int  // its first character
	valStart  int  // where its value starts in src, or -1 if unknown
	sep       bool // a separator precedes valStart
	empty     bool // no characters at all ("\" at the end of the file)
	rawEnd    int  // end of its last physical line, before the terminator
	termEnd   int  // after the terminator
}

func edit(src []byte, set *Properties, del []string, decode func(string) string, latin1 bool) ([]byte, error) {
	s := string(src)
	var lr lineReader
	lr.init(s)
	lr.decode = decode
	var conv converter
	var lines []logicalLine
	for {
		line, ok := lr.readLine()
		if !ok {
			break
		}
		keyEnd, valStart := splitLine(line)
		key, err := conv.convert(line[:keyEnd])
		if err != nil {
			return nil, &SyntaxError{Line: lr.startLine, Text: err.(badEscape).text}
		}
		if _, err := conv.convert(line[valStart:]); err != nil {
			return nil, &SyntaxError{Line: lr.startLine, Text: err.(badEscape).text}
		}
		ll := logicalLine{key: key, first: lr.first, rawEnd: lr.rawEnd, valStart: -1, empty: line == ""}
		if lr.first < 0 { // an empty logical line ("\" at the end)
			ll.first = lr.rawEnd
		}
		ll.lineStart = strings.LastIndexAny(s[:ll.first], "\r\n") + 1
		ll.termEnd = ll.rawEnd
		if ll.termEnd < len(s) {
			if s[ll.termEnd] == '\r' && ll.termEnd+1 < len(s) && s[ll.termEnd+1] == '\n' {
				ll.termEnd += 2
			} else {
				ll.termEnd++
			}
		}
		// A single physical line that decoding left unchanged: the value's
		// position in src is known.
		if raw := s[ll.first:ll.rawEnd]; strings.IndexAny(raw, "\r\n") < 0 && strings.HasPrefix(raw, line) {
			ll.valStart = ll.first + valStart
			ll.sep = valStart > keyEnd
		}
		lines = append(lines, ll)
	}

	last := make(map[string]int, len(lines)) // key -> index of last occurrence
	for i, ll := range lines {
		last[ll.key] = i
	}
	deleted := make(map[string]bool, len(del))
	for _, k := range del {
		if _, ok := set.Get(k); !ok {
			deleted[k] = true
		}
	}

	appending := false
	for k := range set.All() {
		if _, ok := last[k]; !ok {
			appending = true
			break
		}
	}

	var out []byte
	var esc []byte
	pos := 0
	lastTouched := false
	for i, ll := range lines {
		lastTouched = false
		if appending && lr.eofContinued && ll.empty && i == len(lines)-1 && !deleted[ll.key] {
			if _, ok := set.Get(ll.key); !ok {
				// src ends with a lone continued backslash, an empty
				// key that Java keeps only at the very end of input:
				// spell it "=" so the appended lines cannot change it.
				out = append(out, s[pos:ll.first]...)
				out = append(out, '=')
				pos = ll.rawEnd
				lastTouched = true
				continue
			}
		}
		switch {
		case deleted[ll.key]:
			out = append(out, s[pos:ll.lineStart]...)
			pos = ll.termEnd
			lastTouched = true
		case last[ll.key] == i:
			v, ok := set.Get(ll.key)
			if !ok {
				continue
			}
			lastTouched = true
			if ll.valStart >= 0 {
				out = append(out, s[pos:ll.valStart]...)
				if !ll.sep {
					out = append(out, '=')
				}
			} else {
				out = append(out, s[pos:ll.first]...)
				esc = appendEscaped(esc[:0], ll.key, true, latin1)
				out = append(out, esc...)
				out = append(out, '=')
			}
			esc = appendEscaped(esc[:0], v, false, latin1)
			out = append(out, esc...)
			pos = ll.rawEnd
		}
	}
	out = append(out, s[pos:]...)

	eol := lineEnding(s)
	appended := false
	for k, v := range set.All() {
		if _, ok := last[k]; ok {
			continue
		}
		if !appended {
			appended = true
			if len(out) > 0 && out[len(out)-1] != '\n' && out[len(out)-1] != '\r' {
				out = append(out, eol...)
			}
			if lr.eofContinued && !lastTouched {
				// src ends inside a continued line: close it with an
				// empty line so it does not swallow the new keys.
				out = append(out, eol...)
			}
		}
		out = appendEscaped(out, k, true, latin1)
		out = append(out, '=')
		out = appendEscaped(out, v, false, latin1)
		out = append(out, eol...)
	}
	if out == nil {
		out = []byte{}
	}
	return out, nil
}

// lineEnding returns the first line ending in s, or "\n".
func lineEnding(s string) string {
	i := strings.IndexAny(s, "\r\n")
	switch {
	case i < 0 || s[i] == '\n':
		return "\n"
	case i+1 < len(s) && s[i+1] == '\n':
		return "\r\n"
	}
	return "\r"
}
