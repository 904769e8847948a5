package properties

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad checks that Load and LoadLatin1 never panic, that whatever they
// accept survives Store / StoreLatin1 and loading again unchanged (in
// order), and that Edit with no changes returns the input.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/load/*.properties")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil && len(data) < 4096 {
			f.Add(data)
		}
	}
	f.Add([]byte("k=v\\\r\n\\u0041 \\\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, latin1 := range []bool{false, true} {
			load, editFn := loadUTF8Bytes, Edit
			if latin1 {
				load, editFn = loadLatin1Bytes, EditLatin1
			}
			p, err := load(data)
			if err != nil {
				var se *SyntaxError
				if !errors.As(err, &se) || se.Line < 1 {
					t.Fatalf("latin1=%v: unexpected error %v", latin1, err)
				}
				if _, err := editFn(data, nil); !errors.As(err, &se) {
					t.Fatalf("Edit accepted what Load rejected: %v", err)
				}
				continue
			}
			var out bytes.Buffer
			if err := p.StoreWith(&out, StoreOptions{Latin1: latin1}); err != nil {
				t.Fatal(err)
			}
			back, err := load(out.Bytes())
			if err != nil {
				t.Fatalf("latin1=%v: Load(Store(p)): %v\n%q", latin1, err, out.Bytes())
			}
			if !equalOrdered(back, p) {
				t.Fatalf("latin1=%v: round trip changed\n %q\nto\n %q", latin1, p.Map(), back.Map())
			}
			same, err := editFn(data, nil)
			if err != nil || !bytes.Equal(same, data) {
				t.Fatalf("latin1=%v: Edit without changes: %v %q", latin1, err, same)
			}
			// Setting every other key, deleting the rest and adding one
			// loads back as expected.
			set := props("fuzz.added", "x y")
			var del []string
			for i, k := range p.Keys() {
				if i%2 == 0 {
					set.Set(k, k+"!")
				} else {
					del = append(del, k)
				}
			}
			edited, err := editFn(data, set, del...)
			if err != nil {
				t.Fatal(err)
			}
			want := p.Clone()
			for _, k := range del {
				want.Delete(k)
			}
			want.Merge(set)
			got, err := load(edited)
			if err != nil {
				t.Fatalf("edited text does not load: %v", err)
			}
			if !equalMaps(got, want) {
				t.Fatalf("latin1=%v: Edit result loads as %q, want %q\nsrc %q\nout %q", latin1, got.Map(), want.Map(), data, edited)
			}
		}
	})
}

func equalMaps(a, b *Properties) bool {
	if a.Len() != b.Len() {
		return false
	}
	for k, v := range a.All() {
		if w, ok := b.Get(k); !ok || w != v {
			return false
		}
	}
	return true
}
