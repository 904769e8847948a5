package outbox_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/mailsession/mailtest"
	"github.com/jmailgo/jmail/mailsession/outbox"
)

// TestDKIMSigned: with a signing session, a message enqueued composed is
// signed once (at Enqueue, with the Message-ID fixed there) and one
// enqueued raw is signed when sent; both verify.
func TestDKIMSigned(t *testing.T) {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	record, err := mailsession.DKIMRecord(pub)
	if err != nil {
		t.Fatal(err)
	}
	srv := mailtest.NewServer(t)
	e := &env{srv: srv, s: newSession(t, srv, mailsession.WithDKIM("example.net", "box", key)), db: newTestDB(t)}
	e.ob = e.open(t)
	ctx := testCtx(t)
	id1, err := e.ob.Enqueue(ctx, msg("a@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	raw := "From: x@example.net\r\nTo: b@example.org\r\nMessage-ID: <raw-dkim@example.net>\r\nSubject: raw\r\n\r\nbody\r\n"
	id2, err := e.ob.EnqueueRaw(ctx, "x@example.net", []string{"b@example.org"}, strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	start(t, e.ob)
	for _, id := range []outbox.ID{id1, id2} {
		if st := waitState(t, e.ob, id, outbox.Sent, outbox.Failed); st.State != outbox.Sent {
			t.Fatalf("status %+v", st)
		}
	}
	got, err := srv.WaitReceived(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range got {
		if n := bytes.Count(g.Data, []byte("DKIM-Signature:")); n != 1 {
			t.Errorf("to %v: %d signatures", g.To, n)
		}
		vs, err := dkim.VerifyWithOptions(bytes.NewReader(g.Data), &dkim.VerifyOptions{LookupTXT: func(name string) ([]string, error) {
			if name == "box._domainkey.example.net" {
				return []string{record}, nil
			}
			return nil, fmt.Errorf("no record for %s", name)
		}})
		if err != nil || len(vs) != 1 || vs[0].Err != nil {
			t.Errorf("to %v: verification %v %v", g.To, vs, err)
		}
	}
}
