package mailsession

import (
	"net"
	"testing"

	"github.com/emersion/go-smtp"
)

// goSMTPServer serves be with go-smtp's server on a loopback port, for the
// behaviours mailtest does not script (scripted replies, a stalled reader,
// envelope recording), and returns the port. configure, when not nil,
// adjusts the server before it starts. The server closes when the test ends.
func goSMTPServer(tb testing.TB, be smtp.Backend, configure func(*smtp.Server)) int {
	tb.Helper()
	srv := smtp.NewServer(be)
	srv.Domain = "localhost"
	if configure != nil {
		configure(srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}
