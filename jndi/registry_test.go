package jndi

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

type session struct{ host string }

func TestBindLookupAllForms(t *testing.T) {
	forms := []string{"mail/MailSession", "java:mail/MailSession", "java:comp/env/mail/MailSession", "mail//MailSession/"}
	for _, bindAs := range forms {
		r := NewRegistry()
		s := &session{host: "smtp.example.com"}
		if err := r.Bind(bindAs, s); err != nil {
			t.Fatalf("Bind(%q): %v", bindAs, err)
		}
		for _, lookAs := range forms {
			got, err := r.Lookup(lookAs)
			if err != nil || got != s {
				t.Errorf("bound as %q, Lookup(%q) = %v, %v; want the session", bindAs, lookAs, got, err)
			}
		}
		for _, other := range forms {
			err := r.Bind(other, &session{})
			if !errors.Is(err, ErrAlreadyBound) || !strings.Contains(err.Error(), other) {
				t.Errorf("bound as %q, Bind(%q) = %v; want ErrAlreadyBound naming the name", bindAs, other, err)
			}
		}
	}
}

func TestLookupNotFound(t *testing.T) {
	r := NewRegistry()
	if err := r.Bind("mail/MailSession", 1); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"mail/Other", "mail", "mail/MailSession/x", "MAIL/MailSession", "java:comp/mail/MailSession"} {
		obj, err := r.Lookup(name)
		var ne *NameError
		if obj != nil || !errors.Is(err, ErrNameNotFound) || !errors.As(err, &ne) || ne.Name != name || ne.Op != "lookup" {
			t.Errorf("Lookup(%q) = %v, %v; want ErrNameNotFound in a *NameError", name, obj, err)
		}
		if !strings.Contains(fmt.Sprint(err), fmt.Sprintf("%q", name)) {
			t.Errorf("error %q does not name %q", err, name)
		}
	}
}

func TestRebindUnbind(t *testing.T) {
	r := NewRegistry()
	if err := r.Rebind("java:comp/env/mail/MailSession", "a"); err != nil { // Rebind of a free name binds it
		t.Fatal(err)
	}
	if err := r.Rebind("mail/MailSession", "b"); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Lookup("java:mail/MailSession"); got != "b" {
		t.Errorf("after Rebind got %v, want b", got)
	}
	if err := r.Unbind("java:mail/MailSession"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lookup("mail/MailSession"); !errors.Is(err, ErrNameNotFound) {
		t.Errorf("after Unbind Lookup error = %v, want ErrNameNotFound", err)
	}
	err := r.Unbind("mail/MailSession")
	if !errors.Is(err, ErrNameNotFound) || !strings.Contains(err.Error(), "mail/MailSession") {
		t.Errorf("second Unbind = %v, want ErrNameNotFound naming the name", err)
	}
	if err := r.Bind("mail/MailSession", "c"); err != nil {
		t.Errorf("Bind after Unbind: %v", err)
	}
}

func TestBindNil(t *testing.T) {
	r := NewRegistry()
	if err := r.Bind("a", nil); !errors.Is(err, ErrNilObject) {
		t.Errorf("Bind(nil) = %v, want ErrNilObject", err)
	}
	if err := r.Rebind("a", nil); !errors.Is(err, ErrNilObject) {
		t.Errorf("Rebind(nil) = %v, want ErrNilObject", err)
	}
	if err := r.BindFactory("a", nil); !errors.Is(err, ErrNilObject) {
		t.Errorf("BindFactory(nil) = %v, want ErrNilObject", err)
	}
	if _, err := r.Lookup("a"); !errors.Is(err, ErrNameNotFound) {
		t.Errorf("a nil object got bound: %v", err)
	}
}

func TestZeroRegistry(t *testing.T) {
	var r Registry
	if _, err := r.Lookup("a"); !errors.Is(err, ErrNameNotFound) {
		t.Fatalf("Lookup on zero Registry = %v", err)
	}
	if got := r.List(""); got != nil {
		t.Fatalf("List on zero Registry = %q", got)
	}
	if err := r.Bind("a", 1); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Lookup("a"); got != 1 || err != nil {
		t.Fatalf("Lookup = %v, %v", got, err)
	}
}

type greeter interface{ Greet() string }

func (s *session) Greet() string { return "hello from " + s.host }

func TestLookupAs(t *testing.T) {
	r := NewRegistry()
	s := &session{host: "h"}
	if err := r.Bind("mail/MailSession", s); err != nil {
		t.Fatal(err)
	}
	got, err := LookupAs[*session](r, "java:comp/env/mail/MailSession")
	if err != nil || got != s {
		t.Fatalf("LookupAs[*session] = %v, %v", got, err)
	}
	g, err := LookupAs[greeter](r, "mail/MailSession") // interfaces work too
	if err != nil || g.Greet() != "hello from h" {
		t.Fatalf("LookupAs[greeter] = %v, %v", g, err)
	}

	str, err := LookupAs[string](r, "mail/MailSession")
	var te *TypeError
	if !errors.As(err, &te) || str != "" {
		t.Fatalf("LookupAs[string] = %q, %v; want a *TypeError", str, err)
	}
	if te.Name != "mail/MailSession" || te.Want != reflect.TypeFor[string]() || te.Got != reflect.TypeFor[*session]() {
		t.Errorf("TypeError = %+v", te)
	}
	if msg := err.Error(); !strings.Contains(msg, "mail/MailSession") || !strings.Contains(msg, "*jndi.session") || !strings.Contains(msg, "string") {
		t.Errorf("TypeError text %q should name the name and both types", msg)
	}

	if _, err := LookupAs[*session](r, "mail/Nothing"); !errors.Is(err, ErrNameNotFound) {
		t.Errorf("LookupAs of an unbound name = %v", err)
	}
}

func TestList(t *testing.T) {
	r := NewRegistry()
	for _, n := range []string{"mail/b", "java:comp/env/mail/a", "mail", "mailer/x", "jdbc/pool", "mail/sub/c"} {
		if err := r.Bind(n, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.BindFactory("mail/lazy", func() (any, error) {
		t.Error("List ran a factory")
		return 1, nil
	}); err != nil {
		t.Fatal(err)
	}
	all := []string{"jdbc/pool", "mail", "mail/a", "mail/b", "mail/lazy", "mail/sub/c", "mailer/x"}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"mail", []string{"mail", "mail/a", "mail/b", "mail/lazy", "mail/sub/c"}},
		{"mail/", []string{"mail", "mail/a", "mail/b", "mail/lazy", "mail/sub/c"}},
		{"java:comp/env/mail", []string{"mail", "mail/a", "mail/b", "mail/lazy", "mail/sub/c"}},
		{"mail/sub", []string{"mail/sub/c"}},
		{"mail/b", []string{"mail/b"}},
		{"mai", nil},
		{"nothing", nil},
		{"", all},
		{"/", all},
		{"java:", all},
		{"java:comp/env", all},
		{"java:comp/env/", all},
		{"mail\x00", nil},
	}
	for _, tt := range tests {
		if got := r.List(tt.prefix); !slices.Equal(got, tt.want) {
			t.Errorf("List(%q) = %q, want %q", tt.prefix, got, tt.want)
		}
	}
}

// TestConcurrentRebind looks names up while other goroutines rebind and
// unbind them; run with -race.
func TestConcurrentRebind(t *testing.T) {
	r := NewRegistry()
	const names, rounds = 4, 500
	for i := range names {
		if err := r.Bind(fmt.Sprintf("mail/S%d", i), &session{host: "0"}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i := range names {
		name := fmt.Sprintf("java:comp/env/mail/S%d", i)
		wg.Go(func() {
			for n := range rounds {
				if err := r.Rebind(name, &session{host: fmt.Sprint(n)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() { // bind and unbind a name that readers may or may not find
		for range rounds {
			if err := r.Bind("mail/Flicker", &session{}); err != nil {
				t.Error(err)
				return
			}
			if err := r.Unbind("mail/Flicker"); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for g := range 8 {
		wg.Go(func() {
			for n := range rounds {
				s, err := LookupAs[*session](r, fmt.Sprintf("mail/S%d", (g+n)%names))
				if err != nil || s == nil || s.host == "" {
					t.Errorf("Lookup during Rebind = %v, %v", s, err)
					return
				}
				if _, err := r.Lookup("mail/Flicker"); err != nil && !errors.Is(err, ErrNameNotFound) {
					t.Errorf("Lookup(mail/Flicker) = %v", err)
					return
				}
				_ = r.List("mail")
			}
		})
	}
	wg.Wait()
	for i := range names {
		s, err := LookupAs[*session](r, fmt.Sprintf("mail/S%d", i))
		if err != nil || s.host != fmt.Sprint(rounds-1) {
			t.Errorf("final mail/S%d = %+v, %v; want the last rebind", i, s, err)
		}
	}
}
