package properties

// Regenerate the Java 17 expectations (needs java on the PATH); see
// testdata/README.md.
//go:generate go test -run TestStoreMatchesJava -update .
//go:generate java testdata/java/GenExpected.java testdata/load testdata/store

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// javaResult is one "utf8" or "latin1" result written by
// testdata/java/GenExpected.java.
type javaResult struct {
	Map   map[string]string `json:"map"`
	Error *string           `json:"error"`
}

type javaExpected struct {
	UTF8   javaResult `json:"utf8"`
	Latin1 javaResult `json:"latin1"`
}

func readExpected(t *testing.T, path string) javaExpected {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("missing Java expectation (see testdata/README.md): %v", err)
	}
	var e javaExpected
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return e
}

// checkAgainstJava loads input with load and compares with Java's result.
func checkAgainstJava(t *testing.T, mode string, input []byte, load func([]byte) (*Properties, error), want javaResult) {
	t.Helper()
	p, err := load(input)
	if want.Error != nil {
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%s: Java failed with %q; we got err=%v, map=%q", mode, *want.Error, err, p.Map())
		} else if se.Line < 1 {
			t.Errorf("%s: bad line number in %v", mode, se)
		}
		return
	}
	if err != nil {
		t.Errorf("%s: unexpected error %v; Java read %q", mode, err, want.Map)
		return
	}
	if want.Map == nil {
		want.Map = map[string]string{}
	}
	if got := p.Map(); !maps.Equal(got, want.Map) {
		t.Errorf("%s:\n got %q\nwant %q", mode, got, want.Map)
	}
}

func loadUTF8Bytes(b []byte) (*Properties, error)   { return Load(bytes.NewReader(b)) }
func loadLatin1Bytes(b []byte) (*Properties, error) { return LoadLatin1(bytes.NewReader(b)) }

// TestLoadMatchesJava checks every input in testdata/load against what
// Java 17 made of it, with both load(Reader) in UTF-8 and load(InputStream).
func TestLoadMatchesJava(t *testing.T) {
	files, err := filepath.Glob("testdata/load/*.properties")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test inputs: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".properties")
		t.Run(name, func(t *testing.T) {
			input, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			want := readExpected(t, strings.TrimSuffix(f, ".properties")+".json")
			checkAgainstJava(t, "utf8", input, loadUTF8Bytes, want.UTF8)
			checkAgainstJava(t, "latin1", input, loadLatin1Bytes, want.Latin1)
		})
	}
}
