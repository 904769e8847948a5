package mailsession

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// A new IMAP UIDVALIDITY gives new Store UIDs; Retain then forgets the old
// ones, so the memory resets.
func TestUIDMemoryResetsOnNewUIDValidity(t *testing.T) {
	path := filepath.Join(t.TempDir(), "uids.json")
	fm, err := OpenFileUIDMemory(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, mem := range []UIDMemory{&MemoryUIDMemory{}, fm} {
		const mb = "imap://u@h:143/INBOX"
		mem.Remember(mb, "7.1")
		mem.Remember(mb, "7.2")
		if err := mem.Retain(mb, []string{"8.1", "8.2"}); err != nil {
			t.Fatal(err)
		}
		for _, u := range []string{"7.1", "7.2", "8.1"} {
			if seen, _ := mem.Seen(mb, u); seen {
				t.Errorf("%T: %s still seen after UIDVALIDITY 7 → 8", mem, u)
			}
		}
	}
}

func TestFileUIDMemoryWritesAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "uids.json")
	m, err := OpenFileUIDMemory(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Remember("pop3://u@h:110/INBOX", "abc"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	m2, err := OpenFileUIDMemory(path)
	if err != nil {
		t.Fatal(err)
	}
	if seen, _ := m2.Seen("pop3://u@h:110/INBOX", "abc"); !seen {
		t.Error("not remembered after reload")
	}
	os.WriteFile(path, []byte("{torn"), 0o600)
	if _, err := OpenFileUIDMemory(path); err == nil {
		t.Error("a corrupt file loaded without error")
	}
}

// Keys and UIDs that need quoting: spaces, quotes, "://", "@", a newline,
// a backslash, invalid UTF-8 and the empty string.
var oddUIDKeys = []struct{ mb, uid string }{
	{"imap://u@h:143/INBOX", "7.1"},
	{"imap://u@h:143/INBOX", "7.2"},
	{"pop3://a b@h:110/Sent \"x\"", "uid with spaces"},
	{"pop3://a b@h:110/Sent \"x\"", "line\nbreak\\ and \"quotes\""},
	{"", ""},
	{"\xff\xfe not UTF-8", "\x00\x80"},
	{"Ünïcödé 📬", "é"},
}

// openUIDs opens the memory at path or fails the test.
func openUIDs(t testing.TB, path string) *FileUIDMemory {
	t.Helper()
	m, err := OpenFileUIDMemory(path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// wantSeen checks mem's answer for each of uids of mb.
func wantSeen(t *testing.T, mem UIDMemory, mb string, want bool, uids ...string) {
	t.Helper()
	for _, u := range uids {
		seen, err := mem.Seen(mb, u)
		if err != nil {
			t.Fatal(err)
		}
		if seen != want {
			t.Errorf("Seen(%q, %q) = %v, want %v", mb, u, seen, want)
		}
	}
}

func TestFileUIDMemoryReopenKeepsState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "uids")
	m := openUIDs(t, path)
	for _, k := range oddUIDKeys {
		if err := m.Remember(k.mb, k.uid); err != nil {
			t.Fatal(err)
		}
	}
	const mb = "imap://u@h:143/INBOX"
	if err := m.Retain(mb, []string{"7.2", "8.1"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Remember(mb, "8.1"); err != nil {
		t.Fatal(err)
	}
	m2 := openUIDs(t, path)
	for _, k := range oddUIDKeys {
		wantSeen(t, m2, k.mb, k.mb != mb || k.uid == "7.2", k.uid)
	}
	wantSeen(t, m2, mb, true, "8.1")
	wantSeen(t, m2, mb, false, "7.1", "8.2")
	wantSeen(t, m2, "pop3://other", false, "")

	// A third generation, after changes on the reopened memory.
	if err := m2.Retain("", nil); err != nil {
		t.Fatal(err)
	}
	m3 := openUIDs(t, path)
	wantSeen(t, m3, "", false, "")
	wantSeen(t, m3, "\xff\xfe not UTF-8", true, "\x00\x80")
}

// A known UID, or a Retain that forgets nothing, writes nothing.
func TestFileUIDMemoryNoChangeWritesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "uids")
	m := openUIDs(t, path)
	if err := m.Retain("mb", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a Retain of an empty memory wrote the file: %v", err)
	}
	for _, u := range []string{"1", "2"} {
		if err := m.Remember("mb", u); err != nil {
			t.Fatal(err)
		}
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Remember("mb", "1"); err != nil {
		t.Fatal(err)
	}
	if err := m.Retain("mb", []string{"1", "2", "3"}); err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("file changed without a change:\n%q\n→\n%q", before, after)
	}
	if want := uidLogHeader + "\n+ \"mb\" \"1\"\n+ \"mb\" \"2\"\n"; string(after) != want {
		t.Errorf("file %q, want %q", after, want)
	}
}

// The JSON file of earlier versions loads, and the first change turns it
// into a log that keeps the old UIDs.
func TestFileUIDMemoryReadsOldJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "uids.json")
	old := `{
  "mailboxes": {
    "imap://u@h:143/INBOX": [
      "7.1",
      "7.2"
    ],
    "pop3://a b@h:110/INBOX \"q\"": [
      "x y"
    ]
  }
}
`
	if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	m := openUIDs(t, path)
	wantSeen(t, m, "imap://u@h:143/INBOX", true, "7.1", "7.2")
	wantSeen(t, m, `pop3://a b@h:110/INBOX "q"`, true, "x y")
	wantSeen(t, m, "imap://u@h:143/INBOX", false, "7.3")
	if err := m.Remember("imap://u@h:143/INBOX", "7.3"); err != nil {
		t.Fatal(err)
	}
	if err := m.Retain(`pop3://a b@h:110/INBOX "q"`, nil); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), uidLogHeader+"\n") {
		t.Errorf("not converted to a log:\n%s", b)
	}
	m2 := openUIDs(t, path)
	wantSeen(t, m2, "imap://u@h:143/INBOX", true, "7.1", "7.2", "7.3")
	wantSeen(t, m2, `pop3://a b@h:110/INBOX "q"`, false, "x y")
}

// A process killed in the middle of an append leaves a torn last line: it
// is ignored, the records before it are kept, and the next change leaves
// a well-formed log.
func TestFileUIDMemoryToleratesTornLastRecord(t *testing.T) {
	for _, tail := range []string{
		`+ "mb" "3`,        // cut in the middle of the UID
		`+ "mb" "3"`,       // cut just before the newline
		`-`,                // cut after the op
		"\x00\x00\x00\x00", // a tail of zeros
	} {
		t.Run(tail, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "uids")
			m := openUIDs(t, path)
			for _, u := range []string{"1", "2"} {
				if err := m.Remember("mb", u); err != nil {
					t.Fatal(err)
				}
			}
			appendFile(t, path, tail)

			m2 := openUIDs(t, path)
			wantSeen(t, m2, "mb", true, "1", "2")
			wantSeen(t, m2, "mb", false, "3")
			if err := m2.Remember("mb", "4"); err != nil {
				t.Fatal(err)
			}
			if err := m2.Remember("mb", "5"); err != nil {
				t.Fatal(err)
			}
			m3 := openUIDs(t, path)
			wantSeen(t, m3, "mb", true, "1", "2", "4", "5")
			wantSeen(t, m3, "mb", false, "3")
		})
	}
}

// appendFile appends s to the file at path.
func appendFile(t *testing.T, path, s string) {
	t.Helper()
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
}

// A malformed complete line is an error that names the file and the line.
func TestFileUIDMemoryCorruptRecord(t *testing.T) {
	for _, tc := range []struct{ name, line string }{
		{"unknown op", `* "mb" "1"`},
		{"no space after op", `+"mb" "1"`},
		{"unquoted", `+ mb 1`},
		{"one string", `+ "mb"`},
		{"no UID", `+ "mb" `},
		{"three strings", `+ "mb" "1" "2"`},
		{"single quotes", `+ "mb" '1'`},
		{"raw string", "+ `mb` \"1\""},
		{"bad escape", `+ "mb" "\q"`},
		{"JSON", `{"op":"+","mb":"mb","uid":"1"}`},
		{"empty", ``},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "uids")
			m := openUIDs(t, path)
			if err := m.Remember("mb", "0"); err != nil {
				t.Fatal(err)
			}
			appendFile(t, path, tc.line+"\n"+`+ "mb" "2"`+"\n")
			_, err := OpenFileUIDMemory(path)
			if err == nil {
				t.Fatal("a corrupt log loaded without error")
			}
			for _, want := range []string{"mailsession: UID memory", path, "line 3"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

func TestFileUIDMemoryUnsupportedFormat(t *testing.T) {
	for _, content := range []string{
		"jmail-uidmemory v2\n",
		"jmail-uidmemory v1", // a header without its newline
	} {
		path := filepath.Join(t.TempDir(), "uids")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenFileUIDMemory(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%q: error %v, want one naming %s", content, err, path)
		}
	}
}

// Many Remember and Retain cycles over a mailbox whose messages come and
// go: the log is compacted, so its size stays bounded by the live UIDs,
// and the state survives a reopen.
func TestFileUIDMemoryCompacts(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "uids")
	m := openUIDs(t, path)
	const (
		mb     = "imap://u@h:143/INBOX"
		total  = 10000
		batch  = 100 // messages arriving between two polls
		window = 50  // messages still on the server at a poll
	)
	uid := func(i int) string { return fmt.Sprintf("42.%d", i) }
	maxSize := int64(0)
	for i := 0; i < total; i++ {
		if i%batch == 0 {
			var present []string
			for j := max(0, i-window); j < i; j++ {
				present = append(present, uid(j))
			}
			if err := m.Retain(mb, present); err != nil {
				t.Fatal(err)
			}
		}
		if err := m.Remember(mb, uid(i)); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		maxSize = max(maxSize, fi.Size())
	}
	// At most window+batch UIDs live; the log holds at most twice that
	// plus the floor, plus one Retain's records, of one line each.
	line := int64(len(fmt.Sprintf("+ %q %q\n", mb, uid(total))))
	if bound := (2*(window+batch) + uidLogFloor + batch + 1) * line; maxSize > bound {
		t.Errorf("the log grew to %d bytes, want at most %d", maxSize, bound)
	}
	// Without compaction it would hold about 2×total records.
	if uncompacted := int64(2*total-window-batch) * line; maxSize*4 > uncompacted {
		t.Errorf("the log grew to %d bytes, not compacted (uncompacted %d)", maxSize, uncompacted)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("after compaction: %v, %v; want mode 0600", fi.Mode(), err)
	}

	m2 := openUIDs(t, path)
	last := (total - 1) / batch * batch // the index of the last Retain
	for i := 0; i < total; i++ {
		want := i >= last-window
		if seen, _ := m2.Seen(mb, uid(i)); seen != want {
			t.Fatalf("after reopen Seen(%s) = %v, want %v", uid(i), seen, want)
		}
	}
	if m2.live != total-(last-window) {
		t.Errorf("%d UIDs loaded, want %d", m2.live, total-(last-window))
	}
}

// Concurrent Remembers (some of the same UIDs) are all kept, each new UID
// is written once, and nothing else is.
func TestFileUIDMemoryConcurrentRemember(t *testing.T) {
	path := filepath.Join(t.TempDir(), "uids")
	m := openUIDs(t, path)
	const workers, each = 8, 100
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				// Workers w and w+1 share half of their UIDs.
				u := strconv.Itoa(w*each/2 + i)
				if err := m.Remember("mb", u); err != nil {
					errs <- err
				}
				if seen, err := m.Seen("mb", u); err != nil || !seen {
					errs <- fmt.Errorf("Seen(%s) = %v, %v right after Remember", u, seen, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	unique := (workers + 1) * each / 2
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if lines := bytes.Count(b, []byte("\n")); lines != unique+1 {
		t.Errorf("%d lines in the log, want the header and %d records", lines, unique)
	}
	m2 := openUIDs(t, path)
	for i := range unique {
		wantSeen(t, m2, "mb", true, strconv.Itoa(i))
	}
}

// A failed write leaves the memory as it was and says why; the next
// change that succeeds leaves a well-formed file.
func TestFileUIDMemoryFailedWrite(t *testing.T) {
	dir := t.TempDir()
	t.Run("no directory", func(t *testing.T) {
		gone := filepath.Join(dir, "gone")
		if err := os.Mkdir(gone, 0o700); err != nil {
			t.Fatal(err)
		}
		m := openUIDs(t, filepath.Join(gone, "uids"))
		if err := os.Remove(gone); err != nil {
			t.Fatal(err)
		}
		err := m.Remember("mb", "1")
		if err == nil || !strings.HasPrefix(err.Error(), "mailsession: UID memory: ") {
			t.Fatalf("Remember = %v, want a UID memory error", err)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("error %v does not wrap fs.ErrNotExist", err)
		}
		wantSeen(t, m, "mb", false, "1")
	})
	t.Run("append", func(t *testing.T) {
		path := filepath.Join(dir, "uids")
		m := openUIDs(t, path)
		for _, u := range []string{"1", "2"} {
			if err := m.Remember("mb", u); err != nil {
				t.Fatal(err)
			}
		}
		// The log cannot be opened for writing: a directory is there.
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(path, 0o700); err != nil {
			t.Fatal(err)
		}
		err := m.Remember("mb", "3")
		var pe *fs.PathError
		if err == nil || !strings.HasPrefix(err.Error(), "mailsession: UID memory: ") || !errors.As(err, &pe) {
			t.Fatalf("Remember = %v, want a UID memory error wrapping a *fs.PathError", err)
		}
		wantSeen(t, m, "mb", false, "3")
		if err := m.Retain("mb", nil); err == nil {
			t.Fatal("Retain succeeded without a file")
		}
		wantSeen(t, m, "mb", true, "1", "2")

		// The file comes back: the next change writes all of the memory.
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		if err := m.Remember("mb", "4"); err != nil {
			t.Fatal(err)
		}
		m2 := openUIDs(t, path)
		wantSeen(t, m2, "mb", true, "1", "2", "4")
		wantSeen(t, m2, "mb", false, "3")
	})
}
