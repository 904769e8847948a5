package mailsession

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jmailgo/jmail/mailsession/mailtest"
)

// imapTimeout is the read timeout the tests below give the IMAP store.
const imapTimeout = 200 * time.Millisecond

// shortTimeoutIMAP is a session on srv's IMAP store in mode with a read
// timeout of imapTimeout.
func shortTimeoutIMAP(t *testing.T, srv *mailtest.Server, mode mailtest.Mode) *Session {
	proto := "imap"
	if mode == mailtest.ImplicitTLS {
		proto = "imaps"
	}
	return storeSession(t, srv, mode, "imap", WithProperty("mail."+proto+".timeout", "200"))
}

// A handler that reads Raw to the end and then works for longer than the
// read timeout succeeds: the FETCH is complete at EOF.
func TestReceiveIMAPHandlerWorksLongAfterEOF(t *testing.T) {
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			srv := mailtest.NewServer(t)
			want := [][]byte{hardMessage("one"), hardMessage("two")}
			deliver(t, srv, want...)
			s := shortTimeoutIMAP(t, srv, mode)
			var got [][]byte
			err := s.Receive(ctxT(t), ReceiveOptions{Delete: true}, func(ctx context.Context, m *Received) error {
				b, err := io.ReadAll(m.Raw)
				if err != nil {
					return err
				}
				got = append(got, b)
				time.Sleep(3 * imapTimeout)
				return nil
			})
			if err != nil {
				t.Fatalf("Receive: %v", err)
			}
			if len(got) != 2 || !bytes.Equal(got[0], want[0]) || !bytes.Equal(got[1], want[1]) {
				t.Errorf("handled %d messages, or their bytes differ", len(got))
			}
			if n := len(srv.Messages(mailtest.DefaultUser)); n != 0 {
				t.Errorf("%d messages left, want 0", n)
			}
		})
	}
}

// The same through Store.Fetch, and a reader closed early still works.
func TestStoreIMAPFetchWorkLongAfterEOF(t *testing.T) {
	srv := mailtest.NewServer(t)
	want := [][]byte{hardMessage("one"), hardMessage("two")}
	deliver(t, srv, want...)
	s := shortTimeoutIMAP(t, srv, mailtest.Plain)
	ctx := ctxT(t)
	st, err := s.OpenStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Abort()
	list, err := st.List(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("List = %v, %v", list, err)
	}
	rc, err := st.Fetch(ctx, list[0].UID)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(rc); err != nil || !bytes.Equal(b, want[0]) {
		t.Fatalf("read %d bytes, %v", len(b), err)
	}
	time.Sleep(3 * imapTimeout)
	if err := rc.Close(); err != nil {
		t.Fatalf("Close after working on the message: %v", err)
	}
	// Closed before EOF: the rest is drained, the store goes on.
	rc, err = st.Fetch(ctx, list[1].UID)
	if err != nil {
		t.Fatal(err)
	}
	io.CopyN(io.Discard, rc, 100)
	if err := rc.Close(); err != nil {
		t.Fatalf("early Close: %v", err)
	}
	if err := st.Delete(ctx, list[0].UID); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if left := srv.Messages(mailtest.DefaultUser); len(left) != 1 || !bytes.Equal(left[0].Data, want[1]) {
		t.Errorf("%d messages left, want the second", len(left))
	}
}

// A server that puts the UID after the message literal: every message is
// still fetched, by Store.Fetch and by Receive, and matched to its UID.
func TestIMAPFetchUIDLast(t *testing.T) {
	srv := mailtest.NewServer(t)
	want := [][]byte{hardMessage("one"), hardMessage("two"), hardMessage("three")}
	deliver(t, srv, want...)
	srv.SetFaults(mailtest.Faults{FetchUIDLast: true})
	s := storeSession(t, srv, mailtest.Plain, "imap")
	ctx := ctxT(t)
	st, err := s.OpenStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	list, err := st.List(ctx)
	if err != nil || len(list) != 3 {
		t.Fatalf("List = %v, %v", list, err)
	}
	for _, i := range []int{2, 0, 1} {
		rc, err := st.Fetch(ctx, list[i].UID)
		if err != nil {
			t.Fatalf("Fetch %s: %v", list[i].UID, err)
		}
		b, err := io.ReadAll(rc)
		if err != nil || !bytes.Equal(b, want[i]) {
			t.Errorf("message %d: %d bytes, %v", i, len(b), err)
		}
		if err := rc.Close(); err != nil {
			t.Fatal(err)
		}
	}
	st.Abort()

	var uids []string
	err = s.Receive(ctx, ReceiveOptions{Delete: true}, func(ctx context.Context, m *Received) error {
		b, err := io.ReadAll(m.Raw)
		if err != nil {
			return err
		}
		if i := len(uids); i >= len(want) || !bytes.Equal(b, want[i]) || m.UID != list[i].UID {
			t.Errorf("message %d (%s) differs", i, m.UID)
		}
		uids = append(uids, m.UID)
		return nil
	})
	if err != nil || len(uids) != 3 {
		t.Fatalf("Receive handled %v: %v", uids, err)
	}
	if n := len(srv.Messages(mailtest.DefaultUser)); n != 0 {
		t.Errorf("%d messages left", n)
	}
}

// UIDs of another UIDVALIDITY, and bare UIDs, name no message: Fetch and
// Delete refuse them with ErrNoMessage saying why, and nothing is deleted.
func TestIMAPStoreUIDValidityChange(t *testing.T) {
	srv := mailtest.NewServer(t)
	want := [][]byte{hardMessage("one"), hardMessage("two")}
	deliver(t, srv, want...)
	s := storeSession(t, srv, mailtest.Plain, "imap")
	ctx := ctxT(t)
	st, err := s.OpenStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	oldList, err := st.List(ctx)
	if err != nil || len(oldList) != 2 {
		t.Fatalf("List = %v, %v", oldList, err)
	}
	st.Abort()
	// Expunge the first message elsewhere, then recreate the mailbox: the
	// second message becomes UID 1, the number the first one had.
	srv.SetFaults(mailtest.Faults{})
	st, err = s.OpenStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, oldList[0].UID); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.ResetUIDValidity(mailtest.DefaultUser, ""); err != nil {
		t.Fatal(err)
	}

	st, err = s.OpenStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Abort()
	list, err := st.List(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("List after the reset = %v, %v", list, err)
	}
	oldValidity, _, _ := strings.Cut(oldList[0].UID, ".")
	newValidity, newUID, _ := strings.Cut(list[0].UID, ".")
	if newValidity == oldValidity || list[0].UID == oldList[1].UID {
		t.Fatalf("UIDs %v then %v: no new UIDVALIDITY", oldList, list)
	}
	if _, oldUID, _ := strings.Cut(oldList[0].UID, "."); oldUID != newUID {
		t.Fatalf("the test wants the surviving message renumbered to the old first UID: %v then %v", oldList, list)
	}

	tests := []struct {
		name, uid, why string
	}{
		{"old UIDVALIDITY, UID now taken", oldList[0].UID, "UIDVALIDITY " + oldValidity},
		{"old UIDVALIDITY", oldList[1].UID, "UIDVALIDITY " + oldValidity},
		{"bare UID", newUID, "not an IMAP Store UID"},
		{"bare UID of the old numbering", strings.TrimPrefix(oldList[1].UID, oldValidity+"."), "not an IMAP Store UID"},
		{"junk", "x.y", "not an IMAP Store UID"},
		{"empty", "", "not an IMAP Store UID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, err := st.Fetch(ctx, tt.uid)
			if err == nil {
				rc.Close()
			}
			check := func(op string, err error) {
				var se *StoreError
				if !errors.Is(err, ErrNoMessage) || !errors.As(err, &se) || !strings.Contains(err.Error(), tt.why) {
					t.Errorf("%s(%q) = %v, want ErrNoMessage saying %q", op, tt.uid, err, tt.why)
				}
			}
			check("Fetch", err)
			check("Delete", st.Delete(ctx, tt.uid))
		})
	}
	// The store is still usable and the current UID works.
	rc, err := st.Fetch(ctx, list[0].UID)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(rc); err != nil || !bytes.Equal(b, want[1]) {
		t.Errorf("current UID: %d bytes, %v", len(b), err)
	}
	rc.Close()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if left := srv.Messages(mailtest.DefaultUser); len(left) != 1 {
		t.Errorf("%d messages left, want 1 (nothing deleted)", len(left))
	}
}

// A ctx that ends during an IMAP operation gives an error that matches
// ctx's error and ErrTemporary.
func TestIMAPStoreContextEnds(t *testing.T) {
	type op func(ctx context.Context, st *Store, uid string) error
	list := func(ctx context.Context, st *Store, _ string) error { _, err := st.List(ctx); return err }
	fetch := func(ctx context.Context, st *Store, uid string) error {
		rc, err := st.Fetch(ctx, uid)
		if err == nil {
			_, err = io.ReadAll(rc)
			rc.Close()
		}
		return err
	}
	tests := []struct {
		name   string
		op     op
		cancel bool // cancel rather than a deadline
	}{
		{"List/deadline", list, false},
		{"List/cancel", list, true},
		{"Fetch/deadline", fetch, false},
		{"Fetch/cancel", fetch, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := mailtest.NewServer(t)
			deliver(t, srv, hardMessage("one"))
			s := storeSession(t, srv, mailtest.Plain, "imap")
			st, err := s.OpenStore(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Abort()
			infos, err := st.List(ctxT(t))
			if err != nil || len(infos) != 1 {
				t.Fatalf("List = %v, %v", infos, err)
			}
			srv.SetFaults(mailtest.Faults{ReplyDelay: time.Second})
			defer srv.SetFaults(mailtest.Faults{})
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			if tt.cancel {
				ctx, cancel = context.WithCancel(context.Background())
				defer cancel()
				time.AfterFunc(100*time.Millisecond, cancel)
			}
			err = tt.op(ctx, st, infos[0].UID)
			var se *StoreError
			if !errors.Is(err, ctx.Err()) || ctx.Err() == nil || !errors.Is(err, ErrTemporary) || !errors.As(err, &se) {
				t.Fatalf("error = %v (ctx: %v), want a temporary *StoreError matching ctx's error", err, ctx.Err())
			}
		})
	}
}
