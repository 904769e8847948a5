package mailsession

// Benchmarks (issue point 10). Run side by side in one run:
//
//	go test -run '^$' -bench . -benchmem ./mailsession/
//
// BenchmarkSequential compares, against one in-process mailtest server, the
// pooled session with net/smtp.SendMail per message and with a bare go-smtp
// client reusing one connection without RSET. BenchmarkLatency puts a proxy
// adding 1 ms each way in front of it and compares one goroutine with 8
// goroutines sharing a session with a pool of 4. BenchmarkAttachment100MB
// streams a 100 MB attachment to a discarding go-smtp server: B/op must not
// grow with the attachment.

import (
	"bytes"
	"context"
	"io"
	"net"
	netsmtp "net/smtp"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/jmailgo/jmail/mailsession/mailtest"
)

// benchMessage is a 1 KB message.
var benchMessage = []byte("From: bench@example.com\r\nTo: sink@elsewhere.example\r\nSubject: bench\r\n\r\n" +
	strings.Repeat(strings.Repeat("x", 70)+"\r\n", 13))

const benchFrom, benchTo = "bench@example.com", "sink@elsewhere.example"

// benchServer is a mailtest server without STARTTLS (so that net/smtp,
// which upgrades whenever offered, does not need to trust its certificate)
// and without stored messages piling up between runs.
func benchServer(b *testing.B) *mailtest.Server {
	srv := mailtest.NewServer(b)
	srv.SetFaults(mailtest.Faults{NoSTARTTLS: true})
	return srv
}

func BenchmarkSequential(b *testing.B) {
	srv := benchServer(b)
	reset := func() {
		srv.Reset()
		srv.SetFaults(mailtest.Faults{NoSTARTTLS: true})
	}
	benchSequential(b, srv.Addr(srv.Ports().SMTP), reset)

	b.Run("session-pooled-compose", func(b *testing.B) {
		s, err := New(WithHost("127.0.0.1", srv.Ports().SMTP), WithLogger(quietLogger()))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		ctx := context.Background()
		text := strings.Repeat(strings.Repeat("x", 70)+"\n", 13)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := s.Send(ctx, &Message{From: benchFrom, To: []string{benchTo}, Subject: "bench", Text: text}); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		reset()
	})
}

// benchSequential sends benchMessage one after another to the SMTP server
// at addr three ways, side by side: the pooled session, net/smtp.SendMail
// (a connection per message) and a bare go-smtp client on one connection
// without RSET. reset runs after each (nil: nothing to reset).
func benchSequential(b *testing.B, addr string, reset func()) {
	after := func(b *testing.B) {
		b.StopTimer()
		if reset != nil {
			reset()
		}
	}
	b.Run("session-pooled", func(b *testing.B) {
		benchSession(b, addr, nil)
		after(b)
	})

	b.Run("net-smtp-SendMail", func(b *testing.B) {
		b.SetBytes(int64(len(benchMessage)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := netsmtp.SendMail(addr, nil, benchFrom, []string{benchTo}, benchMessage); err != nil {
				b.Fatal(err)
			}
		}
		after(b)
	})

	b.Run("go-smtp-bare-noRSET", func(b *testing.B) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		c := smtp.NewClient(conn)
		defer c.Close()
		if err := c.Hello("localhost"); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(benchMessage)))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := c.SendMail(benchFrom, []string{benchTo}, bytes.NewReader(benchMessage)); err != nil {
				b.Fatal(err)
			}
		}
		after(b)
		c.Quit()
	})
}

// benchSession sends benchMessage one after another to addr through a
// pooled session with opts. The pool dials on the first send: that is done
// before the timer, as the bare go-smtp client connects before it; started,
// if not nil, is called then.
func benchSession(b *testing.B, addr string, started func(), opts ...Option) {
	_, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	s, err := New(append([]Option{WithHost("127.0.0.1", port), WithLogger(quietLogger())}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.SendRaw(ctx, benchFrom, []string{benchTo}, bytes.NewReader(benchMessage)); err != nil {
		b.Fatal(err)
	}
	if started != nil {
		started()
	}
	b.SetBytes(int64(len(benchMessage)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.SendRaw(ctx, benchFrom, []string{benchTo}, bytes.NewReader(benchMessage)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
}

func BenchmarkLatency(b *testing.B) {
	srv := benchServer(b)
	px := newProxy(b, srv.Addr(srv.Ports().SMTP), time.Millisecond)

	b.Run("1-goroutine", func(b *testing.B) {
		s, err := New(WithHost("127.0.0.1", px.port()), WithPool(1, time.Minute), WithLogger(quietLogger()))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		ctx := context.Background()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := s.SendRaw(ctx, benchFrom, []string{benchTo}, bytes.NewReader(benchMessage)); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		srv.Reset()
		srv.SetFaults(mailtest.Faults{NoSTARTTLS: true})
	})

	b.Run("8-goroutines-pool4", func(b *testing.B) {
		s, err := New(WithHost("127.0.0.1", px.port()), WithPool(4, time.Minute), WithLogger(quietLogger()))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		ctx := context.Background()
		procs := runtime.GOMAXPROCS(0)
		b.SetParallelism((8 + procs - 1) / procs) // 8 goroutines in all (RunParallel starts parallelism×GOMAXPROCS)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := s.SendRaw(ctx, benchFrom, []string{benchTo}, bytes.NewReader(benchMessage)); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.StopTimer()
		srv.Reset()
		srv.SetFaults(mailtest.Faults{NoSTARTTLS: true})
	})
}

// smtpSink starts Postfix's smtp-sink on a free loopback port, or skips
// the benchmark when it is not installed.
func smtpSink(b *testing.B) string {
	path, err := exec.LookPath("smtp-sink")
	if err != nil {
		if _, err2 := os.Stat("/usr/sbin/smtp-sink"); err2 != nil {
			b.Skip("smtp-sink (postfix) not installed")
		}
		path = "/usr/sbin/smtp-sink"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(path, "-u", "nobody", addr, "256")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Fatalf("smtp-sink did not start on %s", addr)
	return ""
}

// BenchmarkSmtpSink is BenchmarkSequential against Postfix's smtp-sink, a
// separate process: nothing the server does is counted in B/op.
func BenchmarkSmtpSink(b *testing.B) {
	benchSequential(b, smtpSink(b), nil)
}

// patternReader yields n bytes of a repeating pattern without allocating.
type patternReader struct{ n int64 }

func (r *patternReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	for i := range p {
		p[i] = byte('a' + i%26)
	}
	r.n -= int64(len(p))
	return len(p), nil
}

// discardBackend is a go-smtp backend that reads and drops every message:
// no memory grows in the process with the message size, so B/op measures
// the client.
type discardBackend struct{}

func (discardBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return discardSession{}, nil }

type discardSession struct{}

func (discardSession) Mail(string, *smtp.MailOptions) error { return nil }
func (discardSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (discardSession) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}
func (discardSession) Reset()        {}
func (discardSession) Logout() error { return nil }

func discardServer(tb testing.TB) int {
	return goSMTPServer(tb, discardBackend{}, func(srv *smtp.Server) {
		srv.MaxMessageBytes = 1 << 30
		srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	})
}

func BenchmarkAttachment100MB(b *testing.B) {
	const size = 100 << 20
	port := discardServer(b)
	s, err := New(WithHost("127.0.0.1", port), WithLogger(quietLogger()))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		err := s.Send(ctx, &Message{
			From: benchFrom, To: []string{benchTo}, Subject: "big", Text: "see attachment",
			Attachments: []Attachment{{Filename: "big-" + strconv.Itoa(i) + ".bin", Data: &patternReader{n: size}}},
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChunkingLatency sends one message after another through a proxy
// adding 1 ms each way to a go-smtp server offering PIPELINING and
// CHUNKING, with BDAT (one round trip a message) and with DATA (two); it
// reports the round trips the server saw per message.
//
//	go test -run '^$' -bench ChunkingLatency -benchmem ./mailsession/
func BenchmarkChunkingLatency(b *testing.B) {
	port, trips := countingServer(b)
	px := newProxy(b, "127.0.0.1:"+strconv.Itoa(port), time.Millisecond)
	for _, chunking := range []bool{true, false} {
		name := "data"
		if chunking {
			name = "chunking"
		}
		b.Run(name, func(b *testing.B) {
			before := 0
			benchSession(b, "127.0.0.1:"+strconv.Itoa(px.port()), func() { before = trips() },
				WithPool(1, time.Minute), WithChunking(chunking))
			b.ReportMetric(float64(trips()-before)/float64(b.N), "roundtrips/msg")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
		})
	}
}
