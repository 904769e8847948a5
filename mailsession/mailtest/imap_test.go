package mailtest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
)

func dialIMAP(t testing.TB, s *Server, mode Mode) *imapclient.Client {
	t.Helper()
	opts := &imapclient.Options{TLSConfig: s.ClientTLSConfig()}
	var c *imapclient.Client
	var err error
	switch mode {
	case Plain:
		c, err = imapclient.DialInsecure(s.Addr(s.Ports().IMAP), opts)
	case StartTLS:
		c, err = imapclient.DialStartTLS(s.Addr(s.Ports().IMAP), opts)
	case ImplicitTLS:
		c, err = imapclient.DialTLS(s.Addr(s.Ports().IMAPS), opts)
	}
	if err != nil {
		t.Fatalf("dial IMAP %v: %v", mode, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func loginIMAP(t testing.TB, s *Server, mode Mode) *imapclient.Client {
	t.Helper()
	c := dialIMAP(t, s, mode)
	if err := c.Login(DefaultUser, DefaultPassword).Wait(); err != nil {
		t.Fatalf("LOGIN: %v", err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatalf("SELECT: %v", err)
	}
	return c
}

// fetchBody returns the exact bytes of BODY.PEEK[] of the message with that UID.
func fetchBody(t testing.TB, c *imapclient.Client, uid imap.UID) []byte {
	t.Helper()
	section := &imap.FetchItemBodySection{Peek: true}
	bufs, err := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		t.Fatalf("FETCH: %v", err)
	}
	if len(bufs) != 1 {
		t.Fatalf("FETCH returned %d messages", len(bufs))
	}
	return bufs[0].FindBodySection(section)
}

func TestIMAPExactBytesAllModes(t *testing.T) {
	s := NewServer(t)
	msg := hardMessage("imap")
	sendSMTP(t, s, Plain, "a@remote.test", []string{DefaultUser}, msg)
	for _, mode := range []Mode{Plain, StartTLS, ImplicitTLS} {
		t.Run(mode.String(), func(t *testing.T) {
			c := loginIMAP(t, s, mode)
			if got := fetchBody(t, c, 1); !bytes.Equal(got, msg) {
				t.Errorf("FETCH differs: %d bytes, want %d", len(got), len(msg))
			}
		})
	}
}

func TestIMAPCapabilities(t *testing.T) {
	s := NewServer(t)
	c := dialIMAP(t, s, Plain)
	if caps := c.Caps(); !caps.Has(imap.CapStartTLS) {
		t.Errorf("plain port does not offer STARTTLS: %v", caps)
	}
	c = loginIMAP(t, s, ImplicitTLS)
	caps, err := c.Capability().Wait()
	if err != nil {
		t.Fatal(err)
	}
	_ = caps
	// Read the raw list: imapclient's CapSet.Has would infer UIDPLUS from
	// IMAP4rev2, which IMAP4rev1 clients such as JavaMail do not.
	conn, err := tls.Dial("tcp", s.Addr(s.Ports().IMAPS), s.ClientTLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "a LOGIN %s %s\r\nb CAPABILITY\r\n", DefaultUser, DefaultPassword)
	r := bufio.NewReader(conn)
	var raw string
	seen := false
	for !strings.HasPrefix(raw, "b ") {
		if raw, err = r.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(raw, "* CAPABILITY ") {
			seen = true
			for _, want := range []string{" UIDPLUS", " MOVE", " IDLE", " NAMESPACE"} {
				if !strings.Contains(raw, want) {
					t.Errorf("CAPABILITY lacks%s: %q", want, raw)
				}
			}
		}
	}
	if !seen {
		t.Error("no CAPABILITY response")
	}
	if caps.Has(imap.CapStartTLS) {
		t.Error("STARTTLS offered on the implicit TLS port")
	}
}

func TestIMAPAuthenticate(t *testing.T) {
	s := NewServer(t)
	c := dialIMAP(t, s, StartTLS)
	if err := c.Authenticate(sasl.NewPlainClient("", DefaultUser, DefaultPassword)); err != nil {
		t.Fatalf("AUTHENTICATE PLAIN: %v", err)
	}
	c = dialIMAP(t, s, StartTLS)
	if err := c.Authenticate(sasl.NewPlainClient("", DefaultUser, "wrong")); err == nil {
		t.Error("bad password accepted")
	}
	c = dialIMAP(t, s, StartTLS)
	if err := c.Login(DefaultUser, "wrong").Wait(); err == nil {
		t.Error("LOGIN with a bad password accepted")
	}
}

// A deletion through IMAP is seen by POP3 and the other way round; UIDs stay
// stable and UIDVALIDITY constant.
func TestDeletionsCrossProtocols(t *testing.T) {
	s := NewServer(t)
	for i := range 4 {
		sendSMTP(t, s, Plain, "a@remote.test", []string{DefaultUser}, []byte("Subject: "+itoa(i)+"\r\n\r\nx\r\n"))
	}
	c := loginIMAP(t, s, ImplicitTLS)
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	uidValidity := sel.UIDValidity

	// IMAP: \Deleted + UID EXPUNGE of UID 2 only; UID 3 is flagged but kept.
	store := &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}, Silent: true}
	if err := c.Store(imap.UIDSetNum(2, 3), store, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UIDExpunge(imap.UIDSetNum(2)).Collect(); err != nil {
		t.Fatal(err)
	}
	p := dialPOP3(t, s, false)
	p.login()
	p.ok("UIDL")
	if got, want := string(p.multi()), "1 "+itoa(int(uidValidity))+".1\r\n2 "+itoa(int(uidValidity))+".3\r\n3 "+itoa(int(uidValidity))+".4\r\n"; got != want {
		t.Errorf("POP3 UIDL after IMAP UID EXPUNGE = %q, want %q", got, want)
	}
	// POP3: DELE of the message with UID 1, applied at QUIT.
	p.ok("DELE 1")
	p.ok("QUIT")
	waitFor(t, func() bool { return len(s.Messages(DefaultUser)) == 2 })
	if err := c.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	if n := c.Mailbox().NumMessages; n != 2 {
		t.Errorf("IMAP sees %d messages after POP3 DELE, want 2", n)
	}
	if got := string(fetchBody(t, c, 4)); got != "Subject: 3\r\n\r\nx\r\n" {
		t.Errorf("UID 4 = %q", got)
	}
	sel2, err := loginIMAP(t, s, Plain).Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if v := sel2.UIDValidity; v != uidValidity {
		t.Errorf("UIDVALIDITY changed from %d to %d", uidValidity, v)
	}
	var uids []uint32
	for _, m := range s.Messages(DefaultUser) {
		uids = append(uids, m.UID)
	}
	if len(uids) != 2 || uids[0] != 3 || uids[1] != 4 {
		t.Errorf("Messages() UIDs = %v, want [3 4]", uids)
	}
}

func TestIMAPAppendVisibleEverywhere(t *testing.T) {
	s := NewServer(t)
	c := loginIMAP(t, s, StartTLS)
	msg := hardMessage("append")
	w := c.Append("INBOX", int64(len(msg)), nil)
	w.Write(msg)
	w.Close()
	if _, err := w.Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := s.WaitMessages(testContext(t), DefaultUser, 1)
	if err != nil || !bytes.Equal(msgs[0].Data, msg) {
		t.Fatalf("WaitMessages = %v", err)
	}
	p := dialPOP3(t, s, true)
	p.login()
	p.ok("RETR 1")
	if got := p.multi(); !bytes.Equal(got, msg) {
		t.Error("POP3 RETR of an IMAP APPEND differs")
	}
}
