package jndi

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"mail/MailSession", "mail/MailSession"},
		{"mail//MailSession/", "mail/MailSession"},
		{"/mail/MailSession", "mail/MailSession"},
		{"///mail///MailSession///", "mail/MailSession"},
		{"java:mail/MailSession", "mail/MailSession"},
		{"java:/mail/MailSession", "mail/MailSession"},
		{"java:comp/env/mail/MailSession", "mail/MailSession"},
		{"java:comp/env//mail/MailSession/", "mail/MailSession"},
		{"java:/comp//env/mail/MailSession", "mail/MailSession"},
		{"java:comp/envx/a", "comp/envx/a"},
		{"java:comp/a", "comp/a"},
		{"java:comp", "comp"},
		{"comp/env/a", "comp/env/a"}, // no java: prefix, so comp/env is part of the name
		{"/java:a", "a"},             // a leading separator is an empty component
		{"//java:comp/env/a", "a"},   //
		{"a/java:b", "a/java:b"},     // a prefix only at the start
		{"MailSession", "MailSession"},
		{"Mail Session/ü", "Mail Session/ü"},
		{"mail/MailSession ", "mail/MailSession "}, // case and spaces are significant
	}
	for _, tt := range tests {
		got, err := Normalize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestNormalizeInvalid(t *testing.T) {
	tests := []struct{ in, reason string }{
		{"", "empty"},
		{"/", "separators"},
		{"////", "separators"},
		{"java:", "prefix"},
		{"java:/", "prefix"},
		{"java:comp/env", "prefix"},
		{"java:comp/env/", "prefix"},
		{"java:comp//env//", "prefix"},
		{"mail/Mail\nSession", "control character U+000A"},
		{"mail/\x00", "control character U+0000"},
		{"\tmail", "control character U+0009"},
		{"mail/\u0085x", "control character U+0085"},
		{"mail/\xff", "UTF-8"},
		{"java:java:a", "repeated"},
		{"java:comp/env/java:a", "repeated"},
		{"/java:/java:a", "repeated"},
	}
	r := NewRegistry()
	for _, tt := range tests {
		_, err := Normalize(tt.in)
		if !errors.Is(err, ErrInvalidName) {
			t.Errorf("Normalize(%q) error = %v, want ErrInvalidName", tt.in, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.reason) {
			t.Errorf("Normalize(%q) error %q does not say %q", tt.in, err, tt.reason)
		}
		// Every operation rejects the name the same way.
		for op, err := range map[string]error{
			"Bind":   r.Bind(tt.in, 1),
			"Rebind": r.Rebind(tt.in, 1),
			"Unbind": r.Unbind(tt.in),
			"Lookup": second(r.Lookup(tt.in)),
			"Watch":  second(r.Watch(tt.in, func(Event) {})),
			"Factory": r.BindFactory(tt.in, func() (any, error) {
				return 1, nil
			}),
		} {
			var ne *NameError
			if !errors.Is(err, ErrInvalidName) || !errors.As(err, &ne) || ne.Name != tt.in {
				t.Errorf("%s(%q) = %v, want *NameError for the name wrapping ErrInvalidName", op, tt.in, err)
			}
		}
	}
	if names := r.List(""); len(names) != 0 {
		t.Errorf("invalid names got bound: %q", names)
	}
}

func second[T any](_ T, err error) error { return err }
