package controlpanel

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jmailgo/jmail/properties"
)

// maxAdvancedLines bounds the additional-properties box; nobody needs more
// JavaMail overrides than this, and it keeps the per-line parse cheap.
const maxAdvancedLines = 500

// advancedEntry is one key of the additional-properties box and the
// physical line it starts on.
type advancedEntry struct {
	Line       int
	Key, Value string
}

// parseAdvanced reads the "additional JavaMail properties" box with the
// properties package (Java's syntax: comments, continuations, escapes) and
// returns its keys with their line numbers, plus one message per problem,
// each starting with its line number. Only JavaMail keys (mail.*) are
// accepted: anything else is a typo or belongs elsewhere.
func parseAdvanced(text string) ([]advancedEntry, []string) {
	var entries []advancedEntry
	var problems []string
	lines := strings.Split(text, "\n")
	if len(lines) > maxAdvancedLines {
		return nil, []string{fmt.Sprintf("The box has %d lines; at most %d are accepted.", len(lines), maxAdvancedLines)}
	}
	for _, l := range logicalLines(lines) {
		start := l.first
		p, err := properties.Load(strings.NewReader(l.text))
		if err != nil {
			var se *properties.SyntaxError
			if _, secret := rawSecretKey(l.text); secret && errors.As(err, &se) {
				problems = append(problems, fmt.Sprintf("Line %d: malformed \\u escape in a password or token; write \\u followed by four hexadecimal digits.", start+1))
			} else if errors.As(err, &se) {
				problems = append(problems, fmt.Sprintf("Line %d: malformed \\u escape %q; write \\u followed by four hexadecimal digits.", start+1, se.Text))
			} else {
				problems = append(problems, fmt.Sprintf("Line %d: %v", start+1, err))
			}
			continue
		}
		for k, v := range p.All() {
			switch {
			case !strings.HasPrefix(k, "mail."):
				problems = append(problems, fmt.Sprintf("Line %d: %q is not a JavaMail property; their names start with \"mail.\".", start+1, k))
			case strings.HasPrefix(k, "mail.session."):
				problems = append(problems, fmt.Sprintf("Line %d: %q is a portal key; write the JavaMail key without \"session.\" (e.g. mail.smtp.host).", start+1, k))
			case strings.ContainsAny(v, "\r\n"):
				problems = append(problems, fmt.Sprintf("Line %d: the value of %q contains a line break.", start+1, k))
			default:
				entries = append(entries, advancedEntry{Line: start + 1, Key: k, Value: v})
			}
		}
	}
	return entries, problems
}

// logicalLine is one logical line of the box: its text (physical lines
// joined with "\n") and the index of its first and last physical line.
type logicalLine struct {
	first, last int
	text        string
}

// logicalLines groups physical lines: a line ending in an odd number of
// backslashes continues on the next one, exactly as Properties.load reads
// it.
func logicalLines(lines []string) []logicalLine {
	var out []logicalLine
	for i := 0; i < len(lines); i++ {
		l := logicalLine{first: i, text: lines[i]}
		for continues(lines[i]) && i+1 < len(lines) {
			i++
			l.text += "\n" + lines[i]
		}
		l.last = i
		out = append(out, l)
	}
	return out
}

// continues reports whether a physical line ends in an odd number of
// backslashes (and is not a comment line), so the logical line goes on.
func continues(line string) bool {
	t := strings.TrimLeft(line, " \t\f")
	if t == "" || t[0] == '#' || t[0] == '!' {
		return false
	}
	n := 0
	for j := len(line) - 1; j >= 0 && line[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

// isSecretKey reports whether a JavaMail key holds a password or a token:
// its value is never sent back to the browser, in the box as in the
// password fields.
func isSecretKey(k string) bool {
	k = strings.ToLower(k)
	return strings.HasSuffix(k, "password") || strings.Contains(k, "token") || strings.Contains(k, "secret")
}

// secretLine is a secret key's value in the box and the logical line that
// sets it, as written.
type secretLine struct{ value, text string }

// secretOf returns the secret key a logical line sets, if it sets exactly
// one key and that key is secret.
func secretOf(text string) (key, value string, ok bool) {
	p, err := properties.Load(strings.NewReader(text))
	if err != nil {
		// A line the parser refuses may still hold a typed password: its
		// key is read roughly, and the raw rest stands for the value.
		k, secret := rawSecretKey(text)
		return k, text, secret
	}
	if p.Len() != 1 {
		return "", "", false
	}
	for k, v := range p.All() {
		if isSecretKey(k) {
			return k, v, true
		}
	}
	return "", "", false
}

// rawSecretKey reads the key of a logical line the parser refused (up to the
// first separator or white space, escapes ignored) and reports whether it
// names a secret.
func rawSecretKey(text string) (string, bool) {
	t := strings.TrimLeft(text, " \t\f")
	if t == "" || t[0] == '#' || t[0] == '!' {
		return "", false
	}
	k, _, _ := strings.Cut(t, "=")
	k, _, _ = strings.Cut(k, ":")
	if f := strings.Fields(k); len(f) > 0 {
		k = f[0]
	}
	k = strings.ReplaceAll(k, "\\", "")
	return k, isSecretKey(k)
}

// advancedSecrets returns the secret keys the box sets (the last line of a
// key wins, as when it is loaded).
func advancedSecrets(text string) map[string]secretLine {
	m := map[string]secretLine{}
	for _, l := range logicalLines(strings.Split(text, "\n")) {
		if k, v, ok := secretOf(l.text); ok {
			m[k] = secretLine{value: v, text: l.text}
		}
	}
	return m
}

// rewriteSecrets returns text with each logical line that sets a secret
// key replaced by what fn returns for it (keep: the line as it is).
func rewriteSecrets(text string, fn func(key, value string) (repl string, keep bool)) string {
	lines := strings.Split(text, "\n")
	var out []string
	for _, l := range logicalLines(lines) {
		if k, v, ok := secretOf(l.text); ok {
			if repl, keep := fn(k, v); !keep {
				out = append(out, repl)
				continue
			}
		}
		out = append(out, lines[l.first:l.last+1]...)
	}
	return strings.Join(out, "\n")
}

// maskAdvanced returns the box as the page shows it: a secret value that is
// the stored one becomes the placeholder (submitted unchanged, it keeps the
// stored value); any other secret value is emptied.
func maskAdvanced(text string, stored map[string]secretLine) string {
	return rewriteSecrets(text, func(k, v string) (string, bool) {
		switch {
		case v == "" || v == passwordPlaceholder:
			return "", true
		case stored[k].value == v:
			return escapeKey(k) + "=" + passwordPlaceholder, false
		default:
			return escapeKey(k) + "=", false
		}
	})
}

// unmaskAdvanced puts the stored lines back where the submitted box still
// holds the placeholder for a stored secret.
func unmaskAdvanced(text string, stored map[string]secretLine) string {
	return rewriteSecrets(text, func(k, v string) (string, bool) {
		if s, ok := stored[k]; ok && v == passwordPlaceholder {
			return s.text, false
		}
		return "", true
	})
}

// escapeKey writes a key as a properties file line must: with the
// separators, comment characters and whitespace it contains escaped.
func escapeKey(k string) string {
	var b strings.Builder
	for _, r := range k {
		switch r {
		case ' ', '=', ':', '#', '!', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\t':
			b.WriteString(`\t`)
		case '\f':
			b.WriteString(`\f`)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// blankBoxLine returns text with the logical line that starts on line
// (1-based) emptied, its physical lines kept as empty ones so the lines
// after it keep their numbers.
func blankBoxLine(text string, line int) string {
	lines := strings.Split(text, "\n")
	for _, l := range logicalLines(lines) {
		if l.first+1 == line {
			for i := l.first; i <= l.last; i++ {
				lines[i] = ""
			}
		}
	}
	return strings.Join(lines, "\n")
}
