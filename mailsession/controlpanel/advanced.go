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
	for i := 0; i < len(lines); i++ {
		start := i
		logical := lines[i]
		// A line ending in an odd number of backslashes continues on the
		// next line, exactly as Properties.load reads it.
		for continues(lines[i]) && i+1 < len(lines) {
			i++
			logical += "\n" + lines[i]
		}
		p, err := properties.Load(strings.NewReader(logical))
		if err != nil {
			var se *properties.SyntaxError
			if errors.As(err, &se) {
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
