package mailsession

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
)

// childSMTPEnv makes TestChildSMTPServer serve instead of testing.
const childSMTPEnv = "JMAIL_CHILD_SMTP_SERVER"

// childSMTPServer runs a discarding go-smtp server (PIPELINING and
// CHUNKING offered) in a child process, this test binary run again, so
// that a benchmark's B/op and allocs/op count the client alone. It returns
// the server's address.
func childSMTPServer(b *testing.B) string {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildSMTPServer$")
	cmd.Env = append(os.Environ(), childSMTPEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatalf("child SMTP server: %v", err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if !ok {
		b.Fatalf("child SMTP server said %q", line)
	}
	return addr
}

// TestChildSMTPServer is the child process of childSMTPServer; run
// otherwise, it does nothing.
func TestChildSMTPServer(t *testing.T) {
	if os.Getenv(childSMTPEnv) != "1" {
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(discardBackend{})
	srv.Domain = "localhost"
	srv.MaxMessageBytes = 1 << 30
	os.Stdout.WriteString("listening " + ln.Addr().String() + "\n")
	srv.Serve(ln) // until the parent kills the process
}

// BenchmarkSequentialClient is BenchmarkSequential against a go-smtp
// server in a child process (offering PIPELINING and CHUNKING): ns/op,
// B/op and allocs/op are the client's alone. The session sends with BDAT
// and, for comparison, with DATA.
//
//	go test -run '^$' -bench SequentialClient -benchmem ./mailsession/
func BenchmarkSequentialClient(b *testing.B) {
	addr := childSMTPServer(b)
	benchSequential(b, addr, nil)
	b.Run("session-pooled-data", func(b *testing.B) {
		benchSession(b, addr, nil, WithChunking(false))
	})
	for _, chunking := range []bool{true, false} {
		name := "session-compose-data"
		if chunking {
			name = "session-compose-chunking"
		}
		b.Run(name, func(b *testing.B) {
			benchCompose(b, addr, WithChunking(chunking))
		})
	}
}

// benchCompose sends a composed 1 KB text message one after another.
func benchCompose(b *testing.B, addr string, opts ...Option) {
	host, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	s, err := New(append([]Option{WithHost(host, port), WithLogger(quietLogger())}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	text := strings.Repeat(strings.Repeat("x", 70)+"\n", 13)
	m := &Message{From: benchFrom, To: []string{benchTo}, Subject: "bench", Text: text}
	if err := s.Send(ctx, m); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Send(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
}
