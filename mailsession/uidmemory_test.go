package mailsession

import (
	"os"
	"path/filepath"
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
