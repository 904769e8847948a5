package controlpanel

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/jmailgo/jmail/properties"
)

// writeFileAtomic replaces path with data so that a reader (or a crash)
// sees either the old file or the new one, never a mix: the data goes to a
// temporary file in the same directory, created with mode 0600 (it holds
// passwords), is synced, renamed over path, and the directory is synced so
// the rename itself is durable. A new file keeps mode 0600; a replaced one's
// permission bits, owner and group are kept (owner and group where the
// process may set them), so a root:liferay 0640 portal-ext.properties
// stays readable by the portal after a save by a service running as root.
//
// A symbolic link at path is followed, so the file it points to is replaced
// (or created) and the link kept.
func writeFileAtomic(path string, data []byte) (err error) {
	if path, err = linkTarget(path); err != nil {
		return fmt.Errorf("controlpanel: save: %w", err)
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
	if old, serr := os.Stat(path); serr == nil {
		keepOwner(f, old)
		// After the chown, which may clear set-id bits: only the
		// permission bits are kept, applied before any data is written.
		if err = f.Chmod(old.Mode().Perm()); err != nil {
			return fmt.Errorf("controlpanel: save %s: %w", path, err)
		}
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

// linkTarget returns the file that path names once symbolic links are
// followed, also when the last link points to a file that does not exist
// yet (filepath.EvalSymlinks fails then, and writing to path itself would
// replace the operator's link with a file).
func linkTarget(path string) (string, error) {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		return real, nil
	}
	for range 40 { // as many as Linux follows
		fi, err := os.Lstat(path)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			return path, nil // not a link (or missing): path itself
		}
		dest, err := os.Readlink(path)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(dest) {
			dest = filepath.Join(filepath.Dir(path), dest)
		}
		path = dest
	}
	return "", fmt.Errorf("%s: too many levels of symbolic links", path)
}

// fileVersion identifies the content of the properties file (a missing
// file reads as empty). The form carries the version it was filled from, so
// a Save made on a page loaded before someone else's save is noticed
// instead of silently undoing it.
func fileVersion(b []byte) string {
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:16])
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
