package imapmem

import (
	"time"

	"github.com/emersion/go-imap/v2"
)

// Stored is a copy of a message held in a mailbox.
type Stored struct {
	UID  imap.UID
	Data []byte
	Time time.Time
}

// Mailbox returns the user's mailbox with that name.
func (u *User) Mailbox(name string) (*Mailbox, error) {
	return u.mailbox(name)
}

// Username returns the login name given to NewUser.
func (u *User) Username() string {
	return u.username
}

// UIDValidity returns the mailbox's UIDVALIDITY, constant for its lifetime.
func (mbox *Mailbox) UIDValidity() uint32 {
	return mbox.uidValidity
}

// Messages returns a copy of the messages in the mailbox, in order.
func (mbox *Mailbox) Messages() []Stored {
	mbox.mutex.Lock()
	defer mbox.mutex.Unlock()
	l := make([]Stored, len(mbox.l))
	for i, msg := range mbox.l {
		l[i] = Stored{UID: msg.uid, Data: append([]byte(nil), msg.buf...), Time: msg.t}
	}
	return l
}

// Add appends a message (the slice is kept: callers must not modify it) and
// returns its UID.
func (mbox *Mailbox) Add(buf []byte, t time.Time) imap.UID {
	return mbox.appendBytes(buf, &imap.AppendOptions{Time: t}).UID
}

// Remove expunges the messages with these UIDs, notifying IMAP sessions, and
// returns how many were removed. A nil slice removes every message.
func (mbox *Mailbox) Remove(uids []imap.UID) int {
	mbox.mutex.Lock()
	defer mbox.mutex.Unlock()
	want := make(map[imap.UID]bool, len(uids))
	for _, uid := range uids {
		want[uid] = true
	}
	expunged := make(map[*message]struct{})
	for _, msg := range mbox.l {
		if uids == nil || want[msg.uid] {
			expunged[msg] = struct{}{}
		}
	}
	if len(expunged) == 0 {
		return 0
	}
	return len(mbox.expungeLocked(expunged))
}

// Len returns the number of messages in the mailbox.
func (mbox *Mailbox) Len() int {
	mbox.mutex.Lock()
	defer mbox.mutex.Unlock()
	return len(mbox.l)
}
