package mailsession

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

// BenchmarkUIDMemory is one Receive run over a mailbox of n messages, none
// handled before: a Retain with the present list, then Seen and Remember of
// every UID, on a fresh file. "log" is FileUIDMemory, "legacy" the
// implementation it replaced (legacyFileUIDMemory), which rewrites the
// whole file on every Remember.
func BenchmarkUIDMemory(b *testing.B) {
	impls := []struct {
		name string
		open func(path string) (UIDMemory, error)
	}{
		{"log", func(p string) (UIDMemory, error) { return OpenFileUIDMemory(p) }},
		{"legacy", func(p string) (UIDMemory, error) { return openLegacyFileUIDMemory(p) }},
	}
	for _, n := range []int{1000, 10000} {
		const mb = "imap://user@mail.example.com:993/INBOX"
		present := make([]string, n)
		for i := range present {
			present[i] = fmt.Sprintf("1700000000.%d", i+1)
		}
		for _, impl := range impls {
			b.Run(fmt.Sprintf("n=%d/%s", n, impl.name), func(b *testing.B) {
				dir := b.TempDir()
				run := 0
				for b.Loop() {
					run++
					mem, err := impl.open(filepath.Join(dir, fmt.Sprintf("uids%d", run)))
					if err != nil {
						b.Fatal(err)
					}
					if err := mem.Retain(mb, present); err != nil {
						b.Fatal(err)
					}
					for _, uid := range present {
						seen, err := mem.Seen(mb, uid)
						if err != nil || seen {
							b.Fatalf("Seen(%s) = %v, %v", uid, seen, err)
						}
						if err := mem.Remember(mb, uid); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		}
	}
}

// legacyFileUIDMemory is FileUIDMemory as it was before the append-only
// log: every change rewrites and syncs the whole JSON file. It is test-only
// code, kept as the baseline of BenchmarkUIDMemory.
type legacyFileUIDMemory struct {
	path string
	mu   sync.Mutex
	m    uidSets
}

func openLegacyFileUIDMemory(path string) (*legacyFileUIDMemory, error) {
	// The benchmark starts from a missing file; loading is not measured.
	return &legacyFileUIDMemory{path: path, m: uidSets{}}, nil
}

func (f *legacyFileUIDMemory) Seen(mailbox, uid string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.m.has(mailbox, uid), nil
}

func (f *legacyFileUIDMemory) Remember(mailbox, uid string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.m.add(mailbox, uid) {
		return nil
	}
	if err := f.save(); err != nil {
		delete(f.m[mailbox], uid)
		return err
	}
	return nil
}

func (f *legacyFileUIDMemory) Retain(mailbox string, present []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.m.retain(mailbox, present) {
		return nil
	}
	return f.save()
}

func (f *legacyFileUIDMemory) save() error {
	data := fileUIDs{Mailboxes: make(map[string][]string, len(f.m))}
	for mb, set := range f.m {
		uids := make([]string, 0, len(set))
		for u := range set {
			uids = append(uids, u)
		}
		slices.Sort(uids)
		data.Mailboxes[mb] = uids
	}
	b, err := json.MarshalIndent(data, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(f.path, append(b, '\n')); err != nil {
		return fmt.Errorf("mailsession: UID memory: %w", err)
	}
	return nil
}
