package controlpanel

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/jmailgo/jmail/properties"
)

// writeFileAtomic replaces path with data so that a reader (or a crash)
// sees either the old file or the new one, never a mix: the data goes to a
// temporary file in the same directory with mode 0600 (it holds
// passwords), is synced, renamed over path, and the directory is synced so
// the rename itself is durable.
//
// A symbolic link at path is followed, so the file it points to is replaced
// and the link kept.
func writeFileAtomic(path string, data []byte) (err error) {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("controlpanel: save %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	// CreateTemp already uses 0600; Chmod makes it explicit and immune to
	// a future change there.
	if err = f.Chmod(0o600); err != nil {
		return fmt.Errorf("controlpanel: save %s: %w", path, err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("controlpanel: save %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("controlpanel: save %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("controlpanel: save %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("controlpanel: save %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		derr = d.Sync()
		d.Close()
		if derr != nil {
			return fmt.Errorf("controlpanel: save %s: sync directory: %w", path, derr)
		}
	}
	return nil
}

// persist writes s into the properties file in place: the form's keys get
// their new values (where they are, or appended), every other line —
// comments, blank lines, other keys — stays byte for byte. Called with h.mu
// held.
func (h *Handler) persist(s settings) error {
	src, err := os.ReadFile(h.path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("controlpanel: read %s: %w", h.path, err)
	}
	kvs, del := s.values()
	set := properties.New()
	for _, kv := range kvs {
		set.Set(kv[0], kv[1])
	}
	out, err := properties.Edit(src, set, del...)
	if err != nil {
		return fmt.Errorf("controlpanel: edit %s: %w", h.path, err)
	}
	return writeFileAtomic(h.path, out)
}
