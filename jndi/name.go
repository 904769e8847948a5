package jndi

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Environment prefixes that denote the same binding as the bare name, in the
// order Liferay's look-up tries them.
const (
	javaPrefix    = "java:"
	compEnvPrefix = "java:comp/env/"
)

// Normalize returns the canonical form of name: the environment prefix
// ("java:comp/env/" or "java:") removed and the components joined by single
// '/' separators, without leading or trailing separators. It is the form in
// which names appear in [Event.Name] and in the results of [Registry.List].
//
// Normalize("java:comp/env/mail//MailSession/") is "mail/MailSession".
// Normalize is idempotent. Leading separators are empty components, so
// "/java:mail/x" is "java:mail/x" is "mail/x". Without the "java:" prefix,
// "comp/env" is an ordinary part of a name: "comp/env/x" is not "x". An
// invalid name yields an error matching [ErrInvalidName]; that includes a
// repeated prefix ("java:java:x").
func Normalize(name string) (string, error) {
	key, reason := normalize(name)
	if reason != "" {
		return "", &NameError{Name: name, Err: fmt.Errorf("%w: %s", ErrInvalidName, reason)}
	}
	return key, nil
}

// normalize returns the canonical key of name, or a non-empty reason why the
// name is invalid.
func normalize(name string) (key, reason string) {
	if name == "" {
		return "", "empty name"
	}
	// One pass over ASCII bytes checks for control characters and "//";
	// non-ASCII names take the slower UTF-8 path.
	double := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= utf8.RuneSelf {
			if reason := checkRunes(name[i:], i); reason != "" {
				return "", reason
			}
			double = strings.Contains(name, "//")
			break
		}
		if c < 0x20 || c == 0x7f {
			return "", fmt.Sprintf("control character %U at byte %d", rune(c), i)
		}
		if c == '/' && i > 0 && name[i-1] == '/' {
			double = true
		}
	}
	rest, prefixed := stripPrefix(strings.TrimLeft(name, "/"))
	key = cleanComponents(rest, double)
	switch {
	case key == "" && prefixed:
		return "", "only an environment prefix, no name after it"
	case key == "":
		return "", "no name components, only separators"
	case strings.HasPrefix(key, javaPrefix):
		return "", `repeated environment prefix "java:"`
	}
	return key, ""
}

// checkRunes reports why s, found at byte offset off of a name, is invalid:
// bad UTF-8 or a control character. It returns "" if s is fine.
func checkRunes(s string, off int) string {
	if !utf8.ValidString(s) {
		return "not valid UTF-8"
	}
	for i, r := range s {
		if unicode.IsControl(r) {
			return fmt.Sprintf("control character %U at byte %d", r, off+i)
		}
	}
	return ""
}

// stripPrefix removes the "java:comp/env/" or "java:" prefix from name.
// The comp and env components are compared as components, so
// "java:/comp//env/x" has the prefix too.
func stripPrefix(name string) (rest string, prefixed bool) {
	rest, prefixed = strings.CutPrefix(name, javaPrefix)
	if !prefixed {
		return name, false
	}
	if after, ok := strings.CutPrefix(strings.TrimLeft(rest, "/"), "comp/"); ok {
		after = strings.TrimLeft(after, "/")
		if after == "env" {
			return "", true
		}
		if tail, ok := strings.CutPrefix(after, "env/"); ok {
			return tail, true
		}
	}
	return rest, true
}

// cleanComponents joins the non-empty '/'-separated components of s with
// single separators; double tells whether s may contain "//". It does not
// allocate when s is already clean.
func cleanComponents(s string, double bool) string {
	clean := s != "" && s[0] != '/' && s[len(s)-1] != '/' && !double
	if clean || s == "" {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for comp := range strings.SplitSeq(s, "/") {
		if comp == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('/')
		}
		b.WriteString(comp)
	}
	return b.String()
}
