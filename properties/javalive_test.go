package properties

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestJavaLive runs only where a java command exists (go test never needs
// it otherwise): it loads random inputs made of the characters that matter
// to the format with Java 17 and with this package, and also has Java read
// back what Store and StoreLatin1 wrote for what Load read.
func TestJavaLive(t *testing.T) {
	java, err := exec.LookPath("java")
	if err != nil {
		t.Skip("no java on PATH; the committed expectations are checked by TestLoadMatchesJava")
	}
	if testing.Short() {
		t.Skip("slow: starts a JVM")
	}
	pieces := []string{
		"\\", "\\", "\\\\", "\r", "\n", "\r\n", " ", "\t", "\f", "=", ":", "#", "!",
		"\\u", "\\u0041", "\\uD83D", "\\uDE00", "\\u00", "u", "0", "a", "F", "k", "key", "v", "t", "n",
		"é", "€", "😀", "\ufeff", "\xe2\x82", "\xed\xa0\x80", "\xf0\x90\x80", "\xff", "\xc3", "\x80", "\x00", "\v",
		"\\\r", "\\\r\n", "\r\r", "\\ ", "\\=", "\\:", "\\#", "\\!", "\\uDBFF", "\\uDFFF", "\\uFFFF", "\\uFEFF",
		"\\u000", "\\u0009", "\u0085", "\u2028", "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xe0\x80\x80", "\xc0\xaf",
	}
	seed := uint64(1)
	if v, err := strconv.ParseUint(os.Getenv("PROPERTIES_JAVA_SEED"), 10, 64); err == nil {
		seed = v // explore other inputs: PROPERTIES_JAVA_SEED=N go test -run TestJavaLive
	}
	rng := rand.New(rand.NewPCG(seed, 2))
	dir := t.TempDir()
	const n = 1500
	inputs := make([][]byte, n)
	for i := range inputs {
		var b strings.Builder
		for range rng.IntN(40) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		inputs[i] = []byte(b.String())
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("in%04d.properties", i)), inputs[i], 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// What Store wrote for what Load read goes back to Java as well.
	storeDir := t.TempDir()
	stored := map[string]map[string]string{}
	for i, in := range inputs {
		for _, latin1 := range []bool{false, true} {
			load := loadUTF8Bytes
			if latin1 {
				load = loadLatin1Bytes
			}
			p, err := load(in)
			if err != nil {
				continue
			}
			var b strings.Builder
			if err := p.StoreWith(&b, StoreOptions{Latin1: latin1}); err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("st%04d-%v", i, latin1)
			stored[name] = p.Map()
			if err := os.WriteFile(filepath.Join(storeDir, name+".properties"), []byte(b.String()), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	cmd := exec.Command(java, "testdata/java/GenExpected.java", dir, storeDir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("java: %v\n%s", err, out)
	}
	for i, in := range inputs {
		path := filepath.Join(dir, fmt.Sprintf("in%04d.json", i))
		if raw, err := os.ReadFile(path); err == nil && loneSurrogateKeys(raw) {
			// Two keys that differ only in lone surrogates are one key
			// for us (both U+FFFD): not comparable.
			continue
		}
		want := readExpected(t, path)
		checkAgainstJava(t, fmt.Sprintf("input %q utf8", in), in, loadUTF8Bytes, want.UTF8)
		checkAgainstJava(t, fmt.Sprintf("input %q latin1", in), in, loadLatin1Bytes, want.Latin1)
	}
	for name, m := range stored {
		want := readExpected(t, filepath.Join(storeDir, name+".json"))
		got := want.UTF8
		if strings.HasSuffix(name, "true") {
			got = want.Latin1
		}
		if got.Error != nil {
			t.Errorf("%s: Java cannot read our output: %s", name, *got.Error)
			continue
		}
		if got.Map == nil {
			got.Map = map[string]string{}
		}
		for k, v := range m {
			if w, ok := got.Map[k]; !ok || w != v {
				t.Errorf("%s: Java read %q=%q, we stored %q", name, k, w, v)
			}
		}
		if len(got.Map) != len(m) {
			t.Errorf("%s: Java read %d keys, we stored %d", name, len(got.Map), len(m))
		}
	}
}

// loneSurrogateKeys reports whether a GenExpected result has keys that
// collide once decoded: keys differing only in lone UTF-16 surrogates,
// which Go strings (and so this package) hold as U+FFFD.
func loneSurrogateKeys(raw []byte) bool {
	var e struct {
		UTF8, Latin1 struct {
			Map json.RawMessage `json:"map"`
		}
	}
	if json.Unmarshal(raw, &e) != nil {
		return false
	}
	for _, m := range []json.RawMessage{e.UTF8.Map, e.Latin1.Map} {
		var keys map[string]json.RawMessage
		if json.Unmarshal(m, &keys) != nil {
			continue
		}
		if strings.Count(string(m), "\": ") != len(keys) {
			return true
		}
	}
	return false
}
