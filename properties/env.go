package properties

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// EnvPrefix starts the names of the environment variables that override
// portal properties in Liferay (LIFERAY_MAIL_PERIOD_SESSION_PERIOD_...).
const EnvPrefix = "LIFERAY_"

// envExcluded are LIFERAY_ variables that configure Liferay's Docker image
// itself; Liferay's EnvPropertiesUtil does not turn them into properties.
var envExcluded = [...]string{"LIFERAY_CONTAINER_", "LIFERAY_DOCKER_"}

// DecodeEnvName returns the property key that the environment variable
// name overrides, as Liferay's EnvPropertiesUtil decodes it, and whether
// name is such a variable. The name must start with EnvPrefix; the rest is
// lower-cased, then every "_WORD_" group is replaced by the character it
// names: a Liferay CharPool name without underscores (_PERIOD_ '.',
// _DASH_ '-', _UNDERLINE_ '_', _UPPERCASEX_ 'X', _COLON_ ':', ...) or a
// decimal code point (_46_ '.'). A group that names nothing is kept as
// written, underscores included. For example
// LIFERAY_MAIL_PERIOD_SESSION_PERIOD_MAIL_PERIOD_SMTP_PERIOD_HOST decodes
// to mail.session.mail.smtp.host.
//
// Like Liferay, variables of the Docker image (LIFERAY_CONTAINER_...,
// LIFERAY_DOCKER_...) and the key "include-and-override" are not
// overrides.
func DecodeEnvName(name string) (key string, ok bool) {
	if !strings.HasPrefix(name, EnvPrefix) {
		return "", false
	}
	for _, ex := range envExcluded {
		if strings.HasPrefix(name, ex) {
			return "", false
		}
	}
	key = decodeEnv(strings.ToLower(name[len(EnvPrefix):]))
	if key == "include-and-override" {
		return "", false
	}
	return key, true
}

// EnvOverrides returns the properties that the Liferay override variables
// in environ set, in environ order (a later duplicate wins). environ holds
// "NAME=value" strings as os.Environ returns them; nothing is read from the
// process environment unless the caller passes os.Environ(). Overlay them
// on loaded properties with Merge:
//
//	p.Merge(properties.EnvOverrides(os.Environ()))
func EnvOverrides(environ []string) *Properties {
	p := &Properties{}
	for _, kv := range environ {
		name, value, found := strings.Cut(kv, "=")
		if !found {
			continue
		}
		if key, ok := DecodeEnvName(name); ok {
			p.Set(key, value)
		}
	}
	return p
}

// decodeEnv follows EnvPropertiesUtil.decode: underscores pair up into
// groups; an unpaired trailing underscore stays.
func decodeEnv(s string) string {
	if strings.IndexByte(s, '_') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for {
		open := strings.IndexByte(s, '_')
		if open < 0 {
			break
		}
		end := strings.IndexByte(s[open+1:], '_')
		if end < 0 {
			break
		}
		end += open + 1
		b.WriteString(s[:open])
		group := s[open+1 : end]
		if r, ok := envChar(group); ok {
			b.WriteRune(r)
		} else {
			b.WriteString(s[open : end+1])
		}
		s = s[end+1:]
	}
	b.WriteString(s)
	return b.String()
}

// envChar decodes one group: a CharPool name, else a decimal code point
// that Java's Character.isDefined accepts (judged with Go's Unicode tables,
// which may know a few characters more than Java 17's).
func envChar(group string) (rune, bool) {
	if r, ok := charPool[strings.ToUpper(group)]; ok {
		return r, true
	}
	n, err := strconv.ParseInt(group, 10, 32)
	if err != nil || n < 0 || n > unicode.MaxRune {
		return 0, false
	}
	r := rune(n)
	if !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs) {
		return 0, false
	}
	if !utf8.ValidRune(r) { // a surrogate: Go strings cannot hold it alone
		r = utf8.RuneError
	}
	return r, true
}

// charPool maps Liferay's CharPool constant names, underscores removed, to
// their characters.
var charPool = func() map[string]rune {
	m := map[string]rune{
		"AMPERSAND": '&', "APOSTROPHE": '\'', "AT": '@', "BACKSLASH": '\\',
		"CARET": '^', "CLOSEBRACKET": ']', "CLOSECURLYBRACE": '}',
		"CLOSEPARENTHESIS": ')', "COLON": ':', "COMMA": ',', "DASH": '-',
		"DOLLAR": '$', "EQUAL": '=', "EXCLAMATION": '!', "FORWARDSLASH": '/',
		"GRAVEACCENT": '`', "GREATERTHAN": '>', "LESSTHAN": '<', "MINUS": '-',
		"NEWLINE": '\n', "NOBREAKSPACE": '\u00a0', "OPENBRACKET": '[',
		"OPENCURLYBRACE": '{', "OPENPARENTHESIS": '(', "PERCENT": '%',
		"PERIOD": '.', "PIPE": '|', "PLUS": '+', "POUND": '#', "QUESTION": '?',
		"QUOTE": '"', "RETURN": '\r', "SEMICOLON": ';', "SLASH": '/',
		"SPACE": ' ', "STAR": '*', "TAB": '\t', "TILDE": '~', "UNDERLINE": '_',
	}
	for c := 'A'; c <= 'Z'; c++ {
		m["UPPERCASE"+string(c)] = c
		m["LOWERCASE"+string(c)] = unicode.ToLower(c)
	}
	for c := '0'; c <= '9'; c++ {
		m["NUMBER"+string(c)] = c
	}
	return m
}()
