package mailtest

import (
	"io"
	"net"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
)

const benchMessage = "From: a@remote.test\r\nTo: user@example.com\r\nSubject: bench\r\n\r\nhello\r\n"

// BenchmarkStartDeliverClose is the life of a test server: start (six
// listeners and a fresh certificate), deliver one message over SMTP, close.
func BenchmarkStartDeliverClose(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		s, err := Start()
		if err != nil {
			b.Fatal(err)
		}
		if err := sendPlain(s.Addr(s.Ports().SMTP)); err != nil {
			b.Fatal(err)
		}
		if len(s.Messages(DefaultUser)) != 1 {
			b.Fatal("message not delivered")
		}
		s.Close()
	}
}

// BenchmarkBaselineBareGoSMTP is the baseline: a bare go-smtp server on one
// port with a discarding backend, no TLS, started, sent one message, closed.
func BenchmarkBaselineBareGoSMTP(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return discardSession{}, nil }))
		srv.Domain = "localhost"
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan struct{})
		go func() { srv.Serve(ln); close(done) }()
		if err := sendPlain(ln.Addr().String()); err != nil {
			b.Fatal(err)
		}
		srv.Close()
		<-done
	}
}

// BenchmarkDeliver measures one message on a running server over a kept
// connection (what a pooled session does).
func BenchmarkDeliver(b *testing.B) {
	s := NewServer(b)
	c, err := smtp.Dial(s.Addr(s.Ports().SMTP))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.SendMail("a@remote.test", []string{DefaultUser}, strings.NewReader(benchMessage)); err != nil {
			b.Fatal(err)
		}
	}
}

type discardSession struct{}

func (discardSession) Reset()                               {}
func (discardSession) Logout() error                        { return nil }
func (discardSession) Mail(string, *smtp.MailOptions) error { return nil }
func (discardSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (discardSession) Data(r io.Reader) error               { _, err := io.Copy(io.Discard, r); return err }

// sendPlain sends benchMessage over a new plain connection and quits.
func sendPlain(addr string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SendMail("a@remote.test", []string{DefaultUser}, strings.NewReader(benchMessage)); err != nil {
		return err
	}
	return c.Quit()
}
