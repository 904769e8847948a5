package imapmem

import (
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
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

// UIDValidity returns the mailbox's UIDVALIDITY, constant unless
// User.ResetUIDValidity changes it.
func (mbox *Mailbox) UIDValidity() uint32 {
	mbox.mutex.Lock()
	defer mbox.mutex.Unlock()
	return mbox.uidValidity
}

// ResetUIDValidity gives the user's mailbox with that name a new, higher
// UIDVALIDITY and renumbers its messages from 1 in order, as a server does
// whose mailbox was deleted and recreated with the same messages. It
// returns the new UID of each message by its old UID. Sessions that have
// the mailbox selected must not go on using it (mailtest closes them).
func (u *User) ResetUIDValidity(name string) (map[imap.UID]imap.UID, error) {
	u.mutex.Lock()
	defer u.mutex.Unlock()
	mbox, err := u.mailboxLocked(name)
	if err != nil {
		return nil, err
	}
	u.prevUidValidity++
	mbox.mutex.Lock()
	defer mbox.mutex.Unlock()
	mbox.uidValidity = u.prevUidValidity
	renumbered := make(map[imap.UID]imap.UID, len(mbox.l))
	for i, msg := range mbox.l {
		uid := imap.UID(i + 1)
		renumbered[msg.uid] = uid
		msg.uid = uid
	}
	mbox.uidNext = imap.UID(len(mbox.l) + 1)
	return renumbered, nil
}

// FetchUIDLast is Fetch with the UID item written after the other items,
// message literals included (mailtest's Faults.FetchUIDLast).
func (mbox *MailboxView) FetchUIDLast(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	return mbox.fetch(w, numSet, options, true)
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
