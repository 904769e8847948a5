package mailtest

import (
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// An IMAP client idling on INBOX is told of a message delivered by
// Deliver and of one that comes by SMTP (an EXISTS during IDLE).
func TestIMAPIdleSeesDeliveries(t *testing.T) {
	s := NewServer(t)
	for _, mode := range []Mode{Plain, StartTLS, ImplicitTLS} {
		t.Run(mode.String(), func(t *testing.T) {
			exists := make(chan uint32, 4)
			opts := &imapclient.Options{TLSConfig: s.ClientTLSConfig(), UnilateralDataHandler: &imapclient.UnilateralDataHandler{
				Mailbox: func(d *imapclient.UnilateralDataMailbox) {
					if d.NumMessages != nil {
						exists <- *d.NumMessages
					}
				},
			}}
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
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Login(DefaultUser, DefaultPassword).Wait(); err != nil {
				t.Fatal(err)
			}
			data, err := c.Select("INBOX", nil).Wait()
			if err != nil {
				t.Fatal(err)
			}
			if !c.Caps().Has(imap.CapIdle) {
				t.Fatalf("IDLE not offered: %v", c.Caps())
			}
			idle, err := c.Idle()
			if err != nil {
				t.Fatal(err)
			}
			n := data.NumMessages
			if err := s.Deliver(DefaultUser, hardMessage("by Deliver")); err != nil {
				t.Fatal(err)
			}
			if got := <-exists; got != n+1 {
				t.Errorf("EXISTS %d after Deliver, want %d", got, n+1)
			}
			sendSMTP(t, s, Plain, "ann@example.com", []string{DefaultUser}, hardMessage("by SMTP"))
			if got := <-exists; got != n+2 {
				t.Errorf("EXISTS %d after SMTP, want %d", got, n+2)
			}
			if err := idle.Close(); err != nil {
				t.Fatal(err)
			}
			if err := idle.Wait(); err != nil {
				t.Fatal(err)
			}
			c.Logout().Wait()
		})
	}
}

// Faults.NoIdle: neither IDLE nor IMAP4rev2 is offered, before or after
// login, and IDLE is refused.
func TestFaultNoIdle(t *testing.T) {
	s := NewServer(t)
	s.SetFaults(Faults{NoIdle: true})
	for _, mode := range []Mode{Plain, ImplicitTLS} {
		c := loginIMAP(t, s, mode)
		caps := c.Caps()
		if caps.Has(imap.CapIdle) || caps.Has(imap.CapIMAP4rev2) || !caps.Has(imap.CapIMAP4rev1) || !caps.Has(imap.CapUIDPlus) {
			t.Errorf("%v: capabilities %v, want IMAP4rev1 and UIDPLUS without IDLE", mode, caps)
		}
		if caps.Has(imap.CapStartTLS) {
			t.Errorf("%v: STARTTLS offered under NoIdle", mode)
		}
		data, err := c.Capability().Wait()
		if err != nil {
			t.Fatal(err)
		}
		if data.Has(imap.CapIdle) {
			t.Errorf("%v: CAPABILITY lists IDLE", mode)
		}
		if idle, err := c.Idle(); err == nil {
			idle.Close()
			if err := idle.Wait(); err == nil {
				t.Errorf("%v: IDLE accepted", mode)
			}
		}
		c.Logout().Wait()
	}
	s.SetFaults(Faults{})
	if c := loginIMAP(t, s, StartTLS); !c.Caps().Has(imap.CapIdle) {
		t.Error("IDLE not offered once NoIdle is off")
	}
}
