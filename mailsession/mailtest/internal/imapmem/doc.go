// Package imapmem is the in-memory mailbox store behind mailtest's IMAP, POP3
// and SMTP servers.
//
// It is go-imap v2.0.0-beta.8's imapserver/imapmemserver (MIT licence, see
// LICENSE in this directory), copied so that the other protocols can read and
// expunge the same mailboxes: shared.go adds that access and two faults (a
// new UIDVALIDITY, FETCH responses with the UID last); the other files are
// unchanged apart from the package name, the UIDVALIDITY kept under the
// mailbox's mutex, the UID-last option of FETCH and, in message.go, a FETCH
// of the whole message (BODY[]) written from the stored bytes instead of a
// copy, and a keyed struct literal that go vet asks for.
package imapmem
