//go:build unix

package controlpanel

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// A save by a service running as root keeps the file's owner and group, so
// the portal's own user can still read its portal-ext.properties.
func TestWriteFileAtomicKeepsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving a file to another user needs root")
	}
	path := filepath.Join(t.TempDir(), "portal-ext.properties")
	if err := os.WriteFile(path, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, 4321, 4322); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(path, []byte("new\n")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 4321 || st.Gid != 4322 {
		t.Errorf("owner %d:%d after the save, want 4321:4322", st.Uid, st.Gid)
	}
}

// A save keeps the permission bits of the file it replaces (a root:liferay
// 0640 portal-ext.properties stays readable by the portal's group), also
// through a symbolic link; a file the save creates gets 0600.
func TestSaveKeepsFileMode(t *testing.T) {
	for _, tc := range []struct {
		name     string
		existing os.FileMode // 0: no file before the save
		link     bool
		want     os.FileMode
	}{
		{"new file", 0, false, 0o600},
		{"0640 kept", 0o640, false, 0o640},
		{"0644 kept", 0o644, false, 0o644},
		{"0600 kept", 0o600, false, 0o600},
		{"0640 through a link", 0o640, true, 0o640},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "", WithoutAuthorization())
			target := f.path
			if tc.link {
				target = filepath.Join(t.TempDir(), "real.properties")
				if err := os.Remove(f.path); err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
				if err := os.Symlink(target, f.path); err != nil {
					t.Fatal(err)
				}
			}
			if tc.existing != 0 {
				if err := os.WriteFile(target, []byte("# kept\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				// Chmod, not WriteFile's mode: the umask must not decide.
				if err := os.Chmod(target, tc.existing); err != nil {
					t.Fatal(err)
				}
				if os.Geteuid() == 0 {
					if err := os.Chown(target, 4321, 4322); err != nil {
						t.Fatal(err)
					}
				}
			}
			if status, body := f.post(f.form("save")); status != 200 {
				t.Fatalf("save: %d\n%s", status, body)
			}
			fi, err := os.Stat(target)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != tc.want {
				t.Errorf("mode after the save %#o, want %#o", got, tc.want)
			}
			if st := fi.Sys().(*syscall.Stat_t); tc.existing != 0 && os.Geteuid() == 0 && (st.Uid != 4321 || st.Gid != 4322) {
				t.Errorf("owner %d:%d after the save, want 4321:4322", st.Uid, st.Gid)
			}
			if tc.link {
				if fi, err := os.Lstat(f.path); err != nil || fi.Mode()&os.ModeSymlink == 0 {
					t.Errorf("the link was replaced by a file")
				}
			}
		})
	}
}
