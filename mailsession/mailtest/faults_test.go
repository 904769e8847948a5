package mailtest

import (
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

func TestFaultRejectRecipients(t *testing.T) {
	s := NewServer(t)
	s.SetFaults(Faults{RejectRecipients: map[string]int{"Perm@remote.test": 550, "temp@remote.test": 451}})
	c := dialSMTP(t, s, Plain)
	if err := c.Mail("a@remote.test", nil); err != nil {
		t.Fatal(err)
	}
	for rcpt, code := range map[string]int{"perm@remote.test": 550, "temp@remote.test": 451} {
		var se *smtp.SMTPError
		if err := c.Rcpt(rcpt, nil); !errors.As(err, &se) || se.Code != code {
			t.Errorf("RCPT %s: %v, want %d", rcpt, err, code)
		}
	}
	if err := c.Rcpt("ok@remote.test", nil); err != nil {
		t.Errorf("RCPT ok: %v", err)
	}
	s.SetFaults(Faults{})
	if err := c.Rcpt("perm@remote.test", nil); err != nil {
		t.Errorf("RCPT after clearing faults: %v", err)
	}
}

func TestFaultFailData(t *testing.T) {
	s := NewServer(t)
	for _, code := range []int{554, 451} {
		s.SetFaults(Faults{FailData: code})
		c := dialSMTP(t, s, Plain)
		err := c.SendMail("a@remote.test", []string{DefaultUser}, strings.NewReader("Subject: x\r\n\r\nx\r\n"))
		var se *smtp.SMTPError
		if !errors.As(err, &se) || se.Code != code {
			t.Errorf("FailData %d: %v", code, err)
		}
	}
	if n := len(s.Received()) + len(s.Messages(DefaultUser)); n != 0 {
		t.Errorf("%d messages kept after failed DATA", n)
	}
}

func TestFaultCutDataAfter(t *testing.T) {
	s := NewServer(t)
	s.SetFaults(Faults{CutDataAfter: 100})
	c := dialSMTP(t, s, StartTLS)
	err := c.SendMail("a@remote.test", []string{DefaultUser}, strings.NewReader(string(hardMessage("cut"))))
	if err == nil {
		t.Fatal("send succeeded through a cut connection")
	}
	if n := len(s.Received()); n != 0 {
		t.Errorf("%d messages recorded", n)
	}
}

func TestFaultCutFetchAfter(t *testing.T) {
	s := NewServer(t)
	msg := hardMessage("cut")
	s.Deliver(DefaultUser, msg)
	s.SetFaults(Faults{CutFetchAfter: 500})

	// POP3: the RETR response stops short and the connection closes.
	p := dialPOP3(t, s, false)
	p.login()
	p.ok("RETR 1")
	p.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	rest, err := io.ReadAll(p.r)
	if err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("read: %v", err)
	}
	if len(rest) >= len(msg) {
		t.Errorf("read %d bytes of a %d-byte message through a cut", len(rest), len(msg))
	}
	// Nothing was deleted, and small responses before the fetch were whole.
	if n := len(s.Messages(DefaultUser)); n != 1 {
		t.Errorf("%d messages after the cut", n)
	}

	// IMAP: the FETCH fails.
	c := loginIMAP(t, s, ImplicitTLS)
	section := &imap.FetchItemBodySection{Peek: true}
	if _, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{section}}).Collect(); err == nil {
		t.Error("IMAP FETCH succeeded through a cut")
	}

	s.SetFaults(Faults{})
	c = loginIMAP(t, s, ImplicitTLS)
	if got := fetchBody(t, c, 1); len(got) != len(msg) {
		t.Errorf("after clearing: %d bytes", len(got))
	}
}

func TestFaultReplyDelay(t *testing.T) {
	s := NewServer(t)
	s.SetFaults(Faults{ReplyDelay: 2 * time.Second})
	// A client whose deadline is far shorter than the delay times out
	// (on the greeting) in every protocol.
	for name, port := range map[string]int{"smtp": s.Ports().SMTP, "pop3": s.Ports().POP3, "imap": s.Ports().IMAP} {
		conn, err := net.Dial("tcp", s.Addr(port))
		if err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		_, err = conn.Read(make([]byte, 1))
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s: greeting read %v, want a timeout", name, err)
		}
		conn.Close()
	}
}

func TestFaultRefuseAuth(t *testing.T) {
	s := NewServer(t)
	s.SetFaults(Faults{RefuseAuth: true})
	c := dialSMTP(t, s, StartTLS)
	var se *smtp.SMTPError
	if err := c.Auth(sasl.NewPlainClient("", DefaultUser, DefaultPassword)); !errors.As(err, &se) || se.Code != 535 {
		t.Errorf("SMTP AUTH: %v, want 535", err)
	}
	p := dialPOP3(t, s, true)
	p.ok("USER " + DefaultUser)
	if l := p.cmd("PASS " + DefaultPassword); !strings.HasPrefix(l, "-ERR") {
		t.Errorf("POP3 PASS: %q", l)
	}
	ic := dialIMAP(t, s, ImplicitTLS)
	if err := ic.Login(DefaultUser, DefaultPassword).Wait(); err == nil {
		t.Error("IMAP LOGIN accepted")
	}
}

func TestFaultNoSTARTTLS(t *testing.T) {
	s := NewServer(t)
	s.SetFaults(Faults{NoSTARTTLS: true})
	c := dialSMTP(t, s, Plain)
	if err := c.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Error("SMTP offers STARTTLS")
	}
	if _, err := smtp.DialStartTLS(s.Addr(s.Ports().SMTP), s.ClientTLSConfig()); err == nil {
		t.Error("SMTP STARTTLS worked")
	}
	p := dialPOP3(t, s, false)
	if strings.Contains(p.capa(), "STLS") {
		t.Error("POP3 CAPA lists STLS")
	}
	if l := p.cmd("STLS"); !strings.HasPrefix(l, "-ERR") {
		t.Errorf("POP3 STLS: %q", l)
	}
	ic := dialIMAP(t, s, Plain)
	if ic.Caps().Has(imap.CapStartTLS) {
		t.Error("IMAP offers STARTTLS")
	}
}

func TestFaultNoUIDPlus(t *testing.T) {
	s := NewServer(t)
	s.Deliver(DefaultUser, []byte("Subject: a\r\n\r\na\r\n"))
	s.SetFaults(Faults{NoUIDPlus: true})
	for _, mode := range []Mode{Plain, StartTLS, ImplicitTLS} {
		c := loginIMAP(t, s, mode)
		caps := c.Caps()
		if caps.Has(imap.CapUIDPlus) || caps.Has(imap.CapIMAP4rev2) || !caps.Has(imap.CapIMAP4rev1) {
			t.Errorf("%v: capabilities %v, want IMAP4rev1 without UIDPLUS", mode, caps)
		}
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.UIDExpunge(imap.UIDSetNum(1)).Collect(); err == nil {
			t.Errorf("%v: UID EXPUNGE accepted without UIDPLUS", mode)
		}
		c.Logout().Wait()
	}
	if n := len(s.Messages(DefaultUser)); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
}
