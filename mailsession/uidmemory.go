package mailsession

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// UIDMemory remembers which messages Receive has handed over when it does
// not delete them, so that a message left on the server is handled once,
// not on every poll (Liferay's IMAP listener re-posts it each time).
// Mailbox keys name a store account and folder; UIDs are Store UIDs (IMAP
// UIDs carry their UIDVALIDITY, so a new UIDVALIDITY starts afresh).
// Implementations must be safe for concurrent use.
type UIDMemory interface {
	// Seen reports whether uid of mailbox was handed over before.
	Seen(mailbox, uid string) (bool, error)
	// Remember records that uid of mailbox was handed over.
	Remember(mailbox, uid string) error
	// Retain forgets the UIDs of mailbox that are not in present (the
	// messages no longer on the server, or of an old UIDVALIDITY), so the
	// memory stays as small as the mailbox.
	Retain(mailbox string, present []string) error
}

// uidSets are remembered UIDs by mailbox.
type uidSets map[string]map[string]struct{}

func (u uidSets) has(mailbox, uid string) bool {
	_, ok := u[mailbox][uid]
	return ok
}

// add records uid; it reports whether it was new.
func (u uidSets) add(mailbox, uid string) bool {
	if u[mailbox] == nil {
		u[mailbox] = map[string]struct{}{}
	}
	if _, ok := u[mailbox][uid]; ok {
		return false
	}
	u[mailbox][uid] = struct{}{}
	return true
}

// retain drops the UIDs of mailbox not in present; it reports whether any
// was dropped.
func (u uidSets) retain(mailbox string, present []string) bool {
	keep := make(map[string]struct{}, len(present))
	for _, id := range present {
		keep[id] = struct{}{}
	}
	changed := false
	for id := range u[mailbox] {
		if _, ok := keep[id]; !ok {
			delete(u[mailbox], id)
			changed = true
		}
	}
	return changed
}

// MemoryUIDMemory is a UIDMemory in memory: it lasts as long as the
// process. The zero value is ready to use.
type MemoryUIDMemory struct {
	mu sync.Mutex
	m  uidSets
}

// Seen implements UIDMemory.
func (m *MemoryUIDMemory) Seen(mailbox, uid string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.m.has(mailbox, uid), nil
}

// Remember implements UIDMemory.
func (m *MemoryUIDMemory) Remember(mailbox, uid string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = uidSets{}
	}
	m.m.add(mailbox, uid)
	return nil
}

// Retain implements UIDMemory.
func (m *MemoryUIDMemory) Retain(mailbox string, present []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.m.retain(mailbox, present)
	return nil
}

// FileUIDMemory is a UIDMemory kept in a JSON file, so that it survives
// restarts. Every change is written at once and atomically (a temporary
// file in the same directory, synced, then renamed over the old one, mode
// 0600): a crash leaves the old or the new state, never a torn file. At
// worst a message whose handler succeeded just before a crash is handed
// over again. One process should use a file at a time.
type FileUIDMemory struct {
	path string
	mu   sync.Mutex
	m    uidSets
}

// fileUIDs is the file's JSON form: mailbox → UIDs, sorted.
type fileUIDs struct {
	Mailboxes map[string][]string `json:"mailboxes"`
}

// OpenFileUIDMemory loads the memory at path; a missing file is an empty
// memory (the file is created on the first change).
func OpenFileUIDMemory(path string) (*FileUIDMemory, error) {
	f := &FileUIDMemory{path: path, m: uidSets{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mailsession: UID memory: %w", err)
	}
	var data fileUIDs
	if err := json.Unmarshal(b, &data); err != nil {
		return nil, fmt.Errorf("mailsession: UID memory %s: %w", path, err)
	}
	for mb, uids := range data.Mailboxes {
		set := make(map[string]struct{}, len(uids))
		for _, u := range uids {
			set[u] = struct{}{}
		}
		f.m[mb] = set
	}
	return f, nil
}

// Seen implements UIDMemory.
func (f *FileUIDMemory) Seen(mailbox, uid string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.m.has(mailbox, uid), nil
}

// Remember implements UIDMemory and writes the file.
func (f *FileUIDMemory) Remember(mailbox, uid string) error {
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

// Retain implements UIDMemory and writes the file when something was
// forgotten.
func (f *FileUIDMemory) Retain(mailbox string, present []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.m.retain(mailbox, present) {
		return nil
	}
	return f.save()
}

// save writes the memory atomically.
func (f *FileUIDMemory) save() error {
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

// writeFileAtomic replaces path with data: temporary file in the same
// directory, fsync, rename, fsync of the directory.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
