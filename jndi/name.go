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
// Normalize("java:comp/env/mail//MailSession/") is "mail/MailSession". An
// invalid name yields an error matching [ErrInvalidName].
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
	if !utf8.ValidString(name) {
		return "", "not valid UTF-8"
	}
	for i, r := range name {
		if unicode.IsControl(r) {
			return "", fmt.Sprintf("control character %U at byte %d", r, i)
		}
	}
	rest, prefixed := stripPrefix(name)
	key = cleanComponents(rest)
	if key == "" {
		if prefixed {
			return "", "only an environment prefix, no name after it"
		}
		return "", "no name components, only separators"
	}
	return key, ""
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
// single separators. It does not allocate when s is already clean.
func cleanComponents(s string) string {
	clean := s != "" && s[0] != '/' && s[len(s)-1] != '/' && !strings.Contains(s, "//")
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
