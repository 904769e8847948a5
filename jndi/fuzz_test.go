package jndi

import (
	"strings"
	"testing"
	"unicode"
)

// FuzzNormalize checks the properties of canonical names: valid names
// normalise to a clean, idempotent form that every prefix form shares.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"mail/MailSession", "java:comp/env/mail//x/", "java:", "/", "a\x00", "java:/comp//env/", "\xff", "ü/ß"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		key, err := Normalize(name)
		if err != nil {
			return
		}
		if key == "" || strings.Contains(key, "//") || strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") {
			t.Fatalf("Normalize(%q) = %q: not clean", name, key)
		}
		if strings.ContainsFunc(key, unicode.IsControl) {
			t.Fatalf("Normalize(%q) = %q: control character", name, key)
		}
		forms := []string{key, "/" + key, "java:comp/env/" + key}
		if key != "comp/env" && !strings.HasPrefix(key, "comp/env/") {
			forms = append(forms, "java:"+key) // else "java:" + key is a java:comp/env form
		}
		for _, form := range forms {
			if k, err := Normalize(form); err != nil || k != key {
				t.Fatalf("Normalize(%q) = %q, %v; want %q (from %q)", form, k, err, key, name)
			}
		}
	})
}

// FuzzBindResources checks that any document either binds or fails
// cleanly, never half-binds and never panics.
func FuzzBindResources(f *testing.F) {
	f.Add(contextXML)
	f.Add(`<Server><GlobalNamingResources><Resource name="a" type="t"/></GlobalNamingResources></Server>`)
	f.Add(`<Context><Resource name="a" type="t"/><Resource name="a" type="t"/></Context>`)
	f.Add(`<Context><Resource name="a" type="t" fail="true"/></Context>`)
	f.Fuzz(func(t *testing.T, doc string) {
		r := NewRegistry()
		var fl factoryLog
		for _, typ := range []string{"t", "javax.mail.Session", "jakarta.mail.Session"} {
			r.RegisterResourceFactory(typ, fl.factory)
		}
		names, err := r.BindResources(strings.NewReader(doc))
		bound := r.List("")
		if err != nil {
			if names != nil || len(bound) != 0 {
				t.Fatalf("error %v but bound %q", err, bound)
			}
			for _, m := range fl.made {
				if !m.closed {
					t.Fatalf("error %v but %q was not closed", err, m.res.Name)
				}
			}
			return
		}
		if len(names) != len(bound) {
			t.Fatalf("returned %q, bound %q", names, bound)
		}
	})
}
