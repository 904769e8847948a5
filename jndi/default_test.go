package jndi

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestDefaultRegistry exercises every package-level function. The default
// registry is shared by the whole test binary, so names are unique here
// and removed afterwards.
func TestDefaultRegistry(t *testing.T) {
	if Default() == nil || Default() != Default() {
		t.Fatal("Default() must return one registry")
	}
	const name = "test/default/MailSession"
	t.Cleanup(func() {
		for _, n := range List("test/default") {
			_ = Unbind(n)
		}
	})
	var events []Event
	stop, err := Watch(name, func(ev Event) { events = append(events, ev) })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	s := &session{host: "default"}
	must(t, Bind(name, s))
	if err := Bind("java:comp/env/"+name, s); !errors.Is(err, ErrAlreadyBound) {
		t.Errorf("second Bind = %v", err)
	}
	if got, err := Lookup("java:" + name); got != s || err != nil {
		t.Errorf("Lookup = %v, %v", got, err)
	}
	if got, err := LookupAs[*session](nil, name); got != s || err != nil {
		t.Errorf("LookupAs(nil) = %v, %v", got, err)
	}
	if got, err := LookupAs[*session](Default(), name); got != s || err != nil {
		t.Errorf("LookupAs(Default()) = %v, %v", got, err)
	}
	s2 := &session{host: "rebound"}
	must(t, Rebind(name, s2))
	must(t, BindFactory("test/default/Lazy", func() (any, error) { return "lazy", nil }))
	if got, _ := Lookup("test/default/Lazy"); got != "lazy" {
		t.Errorf("lazy = %v", got)
	}

	RegisterResourceFactory("test.default.Type", func(res Resource) (any, error) { return res.Attrs["v"], nil })
	defer RegisterResourceFactory("test.default.Type", nil)
	names, err := BindResources(strings.NewReader(`<Context><Resource name="test/default/Res" type="test.default.Type" v="x"/></Context>`))
	if err != nil || !slices.Equal(names, []string{"test/default/Res"}) {
		t.Fatalf("BindResources = %q, %v", names, err)
	}
	if _, err := BindResourcesFile("testdata/does-not-exist.xml"); err == nil {
		t.Error("BindResourcesFile of a missing file succeeded")
	}
	if got := List("java:comp/env/test/default"); !slices.Equal(got, []string{"test/default/Lazy", name, "test/default/Res"}) {
		t.Errorf("List = %q", got)
	}
	must(t, Unbind(name))
	if _, err := Lookup(name); !errors.Is(err, ErrNameNotFound) {
		t.Errorf("after Unbind: %v", err)
	}
	want := []Event{{Name: name, Kind: Bound, New: s}, {Name: name, Kind: Rebound, Old: s, New: s2}, {Name: name, Kind: Unbound, Old: s2}}
	if !slices.Equal(events, want) {
		t.Errorf("events = %+v, want %+v", events, want)
	}
}
