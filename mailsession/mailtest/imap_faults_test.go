package mailtest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// rawFetch logs in on a raw connection, selects INBOX and returns the
// untagged FETCH response to "UID FETCH uid (UID BODY.PEEK[])": the line
// up to the literal, the literal and what follows it up to the CRLF.
func rawFetch(t *testing.T, s *Server, uid imap.UID) (head string, lit []byte, tail string) {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr(s.Ports().IMAP))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	untilTagged := func(tag string) []string {
		var lines []string
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("reading the answer to %s: %v", tag, err)
			}
			lines = append(lines, line)
			if len(line) > len(tag) && line[:len(tag)+1] == tag+" " {
				if !regexp.MustCompile(`^` + tag + ` OK`).MatchString(line) {
					t.Fatalf("%s: %q", tag, line)
				}
				return lines
			}
		}
	}
	if _, err := br.ReadString('\n'); err != nil { // greeting
		t.Fatal(err)
	}
	fmt.Fprintf(c, "a LOGIN %s %s\r\n", DefaultUser, DefaultPassword)
	untilTagged("a")
	fmt.Fprintf(c, "b SELECT INBOX\r\n")
	untilTagged("b")
	fmt.Fprintf(c, "c UID FETCH %d (UID BODY.PEEK[])\r\n", uid)
	head, err = br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`\{(\d+)\}\r\n$`).FindStringSubmatch(head)
	if m == nil {
		t.Fatalf("FETCH response without a literal: %q", head)
	}
	n, _ := strconv.Atoi(m[1])
	lit = make([]byte, n)
	if _, err := io.ReadFull(br, lit); err != nil {
		t.Fatal(err)
	}
	if tail, err = br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	untilTagged("c")
	return head, lit, tail
}

func TestFaultFetchUIDLast(t *testing.T) {
	s := NewServer(t)
	msg := hardMessage("uid last")
	s.Deliver(DefaultUser, []byte("Subject: first\r\n\r\nfirst\r\n"))
	s.Deliver(DefaultUser, msg)
	tests := []struct {
		name       string
		faults     Faults
		head, tail string
	}{
		{"default", Faults{}, `^\* 2 FETCH \(UID 2 BODY\[\] \{\d+\}\r\n$`, `^\)\r\n$`},
		{"FetchUIDLast", Faults{FetchUIDLast: true}, `^\* 2 FETCH \(BODY\[\] \{\d+\}\r\n$`, `^ UID 2\)\r\n$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.SetFaults(tt.faults)
			head, lit, tail := rawFetch(t, s, 2)
			if !regexp.MustCompile(tt.head).MatchString(head) || !regexp.MustCompile(tt.tail).MatchString(tail) {
				t.Errorf("response %q ... %q", head, tail)
			}
			if !bytes.Equal(lit, msg) {
				t.Errorf("literal of %d bytes differs from the message (%d)", len(lit), len(msg))
			}
		})
	}
}

func TestResetUIDValidity(t *testing.T) {
	s := NewServer(t)
	sendSMTP(t, s, Plain, "a@remote.test", []string{DefaultUser}, hardMessage("one"))
	sendSMTP(t, s, Plain, "a@remote.test", []string{DefaultUser}, hardMessage("two"))
	sendSMTP(t, s, Plain, "a@remote.test", []string{DefaultUser}, hardMessage("three"))
	// Leave a gap in the UIDs: the renumbering closes it.
	old := loginIMAP(t, s, Plain)
	if err := old.Store(imap.UIDSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := old.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	before := s.Messages(DefaultUser)
	if len(before) != 2 || before[0].UID != 2 || before[1].UID != 3 {
		t.Fatalf("before: %d messages", len(before))
	}
	oldValidity := uidValidity(t, old)

	if err := s.ResetUIDValidity(DefaultUser, ""); err != nil {
		t.Fatal(err)
	}
	select {
	case <-old.Closed():
	case <-time.After(10 * time.Second):
		t.Fatal("the connection that had INBOX selected stays open")
	}

	after := s.Messages(DefaultUser)
	for i, m := range after {
		if m.UID != uint32(i+1) || !bytes.Equal(m.Data, before[i].Data) || m.From != "a@remote.test" {
			t.Errorf("message %d after the reset: UID %d, from %q", i, m.UID, m.From)
		}
	}
	c := loginIMAP(t, s, Plain)
	if v := uidValidity(t, c); v <= oldValidity {
		t.Errorf("UIDVALIDITY %d, was %d", v, oldValidity)
	}
	if got := fetchBody(t, c, 1); !bytes.Equal(got, before[0].Data) {
		t.Error("UID 1 is not the first message")
	}
	// New messages go on from the renumbered UIDs.
	s.Deliver(DefaultUser, []byte("Subject: next\r\n\r\nnext\r\n"))
	if msgs := s.Messages(DefaultUser); msgs[len(msgs)-1].UID != 3 {
		t.Errorf("next UID %d, want 3", msgs[len(msgs)-1].UID)
	}

	for _, tt := range []struct{ mailbox, folder string }{
		{"nobody@example.com", ""},
		{DefaultUser, "Archive"},
	} {
		if err := s.ResetUIDValidity(tt.mailbox, tt.folder); err == nil {
			t.Errorf("ResetUIDValidity(%q, %q) succeeded", tt.mailbox, tt.folder)
		} else if tt.folder == "" && !errors.Is(err, ErrNoMailbox) {
			t.Errorf("unknown mailbox: %v, want ErrNoMailbox", err)
		}
	}
}

func uidValidity(t *testing.T, c *imapclient.Client) uint32 {
	t.Helper()
	data, err := c.Status("INBOX", &imap.StatusOptions{UIDValidity: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	return data.UIDValidity
}
