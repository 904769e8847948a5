package mailsession

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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

// FileUIDMemory is a UIDMemory kept in a file, so that it survives
// restarts.
//
// The file is an append-only log: a header line, "jmail-uidmemory v1",
// then one record a line, "+ <mailbox> <uid>" (remembered) or
// "- <mailbox> <uid>" (forgotten by Retain), each string in Go's quoted
// syntax (strconv.Quote), which round-trips any bytes. Every change appends
// its records and syncs the file before it returns: a Remember that
// returned nil survives a crash. A Remember costs the same however many
// UIDs are held (O(1) amortised, with the compaction below); a Retain
// writes only the UIDs it forgets.
//
// When the log has grown well beyond the UIDs it holds (more than twice as
// many records, plus a floor), the next change rewrites it as a snapshot
// (one "+" record per UID) atomically: a temporary file in the same
// directory, synced, renamed over the old one, and the directory synced.
// So the file stays proportional to the UIDs held, and the rewrite costs
// O(1) amortised per change. The file's mode is 0600.
//
// A record counts once its line, newline included, is in the file. A crash
// in the middle of a write leaves an incomplete last line; it is ignored
// when the file is opened (that record is lost, the earlier ones are kept),
// and the next change writes a snapshot, so the log stays well
// formed. At worst a message whose handler succeeded just before a crash is
// handed over again. Any other malformed line is an error that names the
// file and the line.
//
// OpenFileUIDMemory also reads the JSON file of earlier versions
// ({"mailboxes": {mailbox: [uids]}}); the first change replaces it with a
// log. One process should use a file at a time.
type FileUIDMemory struct {
	path string
	mu   sync.Mutex
	m    uidSets
	live int // UIDs in m
	// records counts the records after the log's header; it is what the
	// file holds once appendOK.
	records int
	// appendOK is whether the file is a well-formed log that records may
	// be appended to; otherwise (no file yet, the old JSON form, a torn
	// last line, a failed append) the next change writes a snapshot.
	appendOK bool
}

// uidLogHeader is the first line of the log.
const uidLogHeader = "jmail-uidmemory v1"

// uidLogFloor is the slack of records over the live UIDs the log may hold
// before the next change compacts it, so that a small memory is not
// rewritten on every change.
const uidLogFloor = 1024

// fileUIDs is the JSON form of earlier versions: mailbox → UIDs.
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
	first, rest, nl := bytes.Cut(b, []byte("\n"))
	if !bytes.HasPrefix(first, []byte("jmail-uidmemory ")) {
		if err := f.loadJSON(b); err != nil {
			return nil, fmt.Errorf("mailsession: UID memory %s: %w", path, err)
		}
		return f, nil
	}
	if string(first) != uidLogHeader || !nl {
		// Another version, or a header without its newline (a snapshot
		// is renamed into place whole, so it is never torn).
		return nil, fmt.Errorf("mailsession: UID memory %s: unsupported format %q", path, first)
	}
	torn, err := f.loadLog(rest)
	if err != nil {
		return nil, fmt.Errorf("mailsession: UID memory %s: %w", path, err)
	}
	f.appendOK = !torn
	return f, nil
}

// loadJSON loads the JSON form of earlier versions.
func (f *FileUIDMemory) loadJSON(b []byte) error {
	var data fileUIDs
	if err := json.Unmarshal(b, &data); err != nil {
		return err
	}
	for mb, uids := range data.Mailboxes {
		for _, u := range uids {
			if f.m.add(mb, u) {
				f.live++
			}
		}
	}
	return nil
}

// loadLog applies the records of b, the log after its header line. An
// incomplete last line (no newline) is ignored and reported as torn.
func (f *FileUIDMemory) loadLog(b []byte) (torn bool, err error) {
	for line := 2; len(b) > 0; line++ {
		rec, rest, ok := bytes.Cut(b, []byte("\n"))
		if !ok {
			return true, nil
		}
		b = rest
		op, mb, uid, err := parseUIDRecord(rec)
		if err != nil {
			return false, fmt.Errorf("line %d: %w", line, err)
		}
		f.records++
		if op == '+' {
			if f.m.add(mb, uid) {
				f.live++
			}
		} else if _, ok := f.m[mb][uid]; ok {
			delete(f.m[mb], uid)
			f.live--
		}
	}
	return false, nil
}

// errUIDRecord is the cause of a malformed log line.
var errUIDRecord = errors.New(`malformed record, want + or -, then two quoted strings`)

// parseUIDRecord parses a log line: op ('+' or '-'), mailbox, UID.
func parseUIDRecord(rec []byte) (op byte, mailbox, uid string, err error) {
	if len(rec) < 2 || (rec[0] != '+' && rec[0] != '-') || rec[1] != ' ' {
		return 0, "", "", errUIDRecord
	}
	s := string(rec[2:])
	mq, err := strconv.QuotedPrefix(s)
	if err != nil || mq[0] != '"' || len(s) == len(mq) || s[len(mq)] != ' ' {
		return 0, "", "", errUIDRecord
	}
	uq := s[len(mq)+1:]
	if len(uq) == 0 || uq[0] != '"' {
		return 0, "", "", errUIDRecord
	}
	if mailbox, err = strconv.Unquote(mq); err != nil {
		return 0, "", "", errUIDRecord
	}
	if uid, err = strconv.Unquote(uq); err != nil {
		return 0, "", "", errUIDRecord
	}
	return rec[0], mailbox, uid, nil
}

// appendUIDRecord appends the log line of a record to b.
func appendUIDRecord(b []byte, op byte, mailbox, uid string) []byte {
	b = append(b, op, ' ')
	b = strconv.AppendQuote(b, mailbox)
	b = append(b, ' ')
	b = strconv.AppendQuote(b, uid)
	return append(b, '\n')
}

// Seen implements UIDMemory.
func (f *FileUIDMemory) Seen(mailbox, uid string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.m.has(mailbox, uid), nil
}

// Remember implements UIDMemory: a new UID is appended to the file, which
// is synced before Remember returns. On an error the UID is not
// remembered.
func (f *FileUIDMemory) Remember(mailbox, uid string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.m.add(mailbox, uid) {
		return nil
	}
	f.live++
	if err := f.commit(appendUIDRecord(nil, '+', mailbox, uid), 1); err != nil {
		delete(f.m[mailbox], uid)
		f.live--
		return err
	}
	return nil
}

// Retain implements UIDMemory: the forgotten UIDs are appended to the file
// (nothing is written when none is forgotten), which is synced before
// Retain returns. On an error nothing is forgotten.
func (f *FileUIDMemory) Retain(mailbox string, present []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	set := f.m[mailbox]
	if len(set) == 0 {
		return nil
	}
	keep := make(map[string]struct{}, len(present))
	for _, id := range present {
		keep[id] = struct{}{}
	}
	var gone []string
	var recs []byte
	for id := range set {
		if _, ok := keep[id]; !ok {
			gone = append(gone, id)
			recs = appendUIDRecord(recs, '-', mailbox, id)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	for _, id := range gone {
		delete(set, id)
	}
	if len(set) == 0 {
		delete(f.m, mailbox)
	}
	f.live -= len(gone)
	if err := f.commit(recs, len(gone)); err != nil {
		for _, id := range gone {
			set[id] = struct{}{}
		}
		f.m[mailbox] = set
		f.live += len(gone)
		return err
	}
	return nil
}

// commit makes a change durable: recs, n records already applied to f.m,
// are appended to the log and synced; or, when the log cannot be appended
// to or would grow beyond twice the live UIDs plus uidLogFloor, the whole
// memory is written as a snapshot instead. On an error the caller undoes
// the change in f.m.
func (f *FileUIDMemory) commit(recs []byte, n int) error {
	if !f.appendOK || f.records+n > 2*f.live+uidLogFloor {
		return f.snapshot()
	}
	if err := appendSync(f.path, recs); err != nil {
		// The file may now end in a part of recs: write a snapshot
		// next time rather than append after it.
		f.appendOK = false
		return fmt.Errorf("mailsession: UID memory: %w", err)
	}
	f.records += n
	return nil
}

// snapshot replaces the file atomically with a log of one "+" record per
// UID of f.m.
func (f *FileUIDMemory) snapshot() error {
	b := make([]byte, 0, len(uidLogHeader)+1+f.live*32)
	b = append(b, uidLogHeader...)
	b = append(b, '\n')
	for _, mb := range slices.Sorted(maps.Keys(f.m)) {
		for _, uid := range slices.Sorted(maps.Keys(f.m[mb])) {
			b = appendUIDRecord(b, '+', mb, uid)
		}
	}
	if err := writeFileAtomic(f.path, b); err != nil {
		return fmt.Errorf("mailsession: UID memory: %w", err)
	}
	f.records = f.live
	f.appendOK = true
	return nil
}

// appendSync appends b to the existing file at path and syncs it.
func appendSync(path string, b []byte) error {
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if _, err := fh.Write(b); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
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
