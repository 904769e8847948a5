//go:build unix

package controlpanel

import (
	"os"
	"syscall"
)

// keepOwner gives the new file f the owner and group of the file it
// replaces (old), so a service running as root does not take the portal's
// own file away from the portal's user. Only root can give a file away;
// for anyone else the owner is already theirs, so a failure is ignored.
func keepOwner(f *os.File, old os.FileInfo) {
	if st, ok := old.Sys().(*syscall.Stat_t); ok {
		f.Chown(int(st.Uid), int(st.Gid))
	}
}
