package properties

import (
	"strings"
	"unicode/utf8"
)

// decodeUTF8 returns s with every malformed UTF-8 sequence replaced by
// U+FFFD exactly as Java's UTF-8 decoder does behind an InputStreamReader
// (the reader Properties.load(Reader) is normally given): one U+FFFD per
// malformed subsequence, not one per byte, and encoded surrogates (ED A0 80)
// are malformed. Valid input is returned unchanged without copying.
func decodeUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + len(s)/8)
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			b.WriteByte(s[i])
			i++
			continue
		}
		n, ok := javaUTF8Seq(s[i:])
		if ok {
			b.WriteString(s[i : i+n])
		} else {
			b.WriteRune(utf8.RuneError)
		}
		i += n
	}
	return b.String()
}

func isCont(b byte) bool { return b&0xc0 == 0x80 }

// javaUTF8Seq looks at the multi-byte sequence at the start of s (s[0] >=
// 0x80) and returns its length and whether it is valid. For a malformed
// sequence n is the number of bytes Java's sun.nio.cs.UTF_8 decoder replaces
// with one U+FFFD, including its end-of-input rule (a truncated but so far
// well-formed tail is one malformed unit).
func javaUTF8Seq(s string) (n int, ok bool) {
	b1 := s[0]
	rem := len(s)
	switch {
	case b1 >= 0xc2 && b1 <= 0xdf:
		if rem < 2 || !isCont(s[1]) {
			return 1, false
		}
		return 2, true
	case b1 >= 0xe0 && b1 <= 0xef:
		if rem < 3 {
			if rem > 1 && ((b1 == 0xe0 && s[1]&0xe0 == 0x80) || !isCont(s[1])) {
				return 1, false
			}
			return rem, false
		}
		b2, b3 := s[1], s[2]
		if (b1 == 0xe0 && b2&0xe0 == 0x80) || !isCont(b2) || !isCont(b3) {
			if (b1 == 0xe0 && b2&0xe0 == 0x80) || !isCont(b2) {
				return 1, false
			}
			return 2, false
		}
		c := rune(b1&0x0f)<<12 | rune(b2&0x3f)<<6 | rune(b3&0x3f)
		if c >= 0xd800 && c <= 0xdfff {
			return 3, false
		}
		return 3, true
	case b1 >= 0xf0 && b1 <= 0xf7:
		if rem < 4 {
			if b1 > 0xf4 || (rem > 1 && malformed4Head(b1, s[1])) {
				return 1, false
			}
			if rem > 2 && !isCont(s[2]) {
				return 2, false
			}
			return rem, false
		}
		b2, b3, b4 := s[1], s[2], s[3]
		uc := rune(b1&0x07)<<18 | rune(b2&0x3f)<<12 | rune(b3&0x3f)<<6 | rune(b4&0x3f)
		if !isCont(b2) || !isCont(b3) || !isCont(b4) || uc < 0x10000 || uc > 0x10ffff {
			if b1 > 0xf4 || malformed4Head(b1, b2) {
				return 1, false
			}
			if !isCont(b3) {
				return 2, false
			}
			return 3, false
		}
		return 4, true
	}
	return 1, false
}

// malformed4Head reports whether b1 b2 cannot start a 4-byte sequence.
func malformed4Head(b1, b2 byte) bool {
	return (b1 == 0xf0 && (b2 < 0x90 || b2 > 0xbf)) ||
		(b1 == 0xf4 && b2&0xf0 != 0x80) ||
		!isCont(b2)
}

// decodeLatin1 returns the ISO-8859-1 bytes of s as UTF-8 text.
func decodeLatin1(s string) string {
	high := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			high++
		}
	}
	if high == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + high)
	start := 0 // of the pending ASCII run
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf {
			b.WriteString(s[start:i])
			b.WriteByte(0xc0 | c>>6)
			b.WriteByte(0x80 | c&0x3f)
			start = i + 1
		}
	}
	b.WriteString(s[start:])
	return b.String()
}
