package imapstore

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/jmailgo/jmail/mailsession/mailtest"
)

const bigSize = 50 << 20

func bigMessage(size int) []byte {
	var b bytes.Buffer
	b.Grow(size + 100)
	b.WriteString("Subject: big\r\n\r\n")
	line := strings.Repeat("x", 76) + "\r\n"
	for b.Len() < size {
		b.WriteString(line)
	}
	return b.Bytes()
}

// The 50 MB tests and benchmark run the embedded server in a child
// process (this test binary, re-executed), so that the bytes allocated in
// this process are the client's alone: mailtest's IMAP server allocates the
// whole literal per FETCH.
const helperEnv = "IMAPSTORE_TEST_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		serveBig()
		return
	}
	os.Exit(m.Run())
}

// serveBig runs mailtest with one 50 MB message, prints its IMAP port and
// the message size, and serves until stdin closes.
func serveBig() {
	srv, err := mailtest.Start()
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	defer srv.Close()
	msg := bigMessage(bigSize)
	if err := srv.Deliver(mailtest.DefaultUser, msg); err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	fmt.Println(srv.Ports().IMAP, len(msg))
	io.Copy(io.Discard, os.Stdin)
}

// bigServer starts the child server and returns a client logged in to it
// with INBOX selected, and the message size.
func bigServer(tb testing.TB) (*Client, int) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { stdin.Close(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != 2 {
		tb.Fatalf("child server: %q %v", line, err)
	}
	port, _ := strconv.Atoi(f[0])
	size, _ := strconv.Atoi(f[1])
	ctx := testContext(tb)
	c, err := Dial(ctx, func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	}, Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	if err := c.Login(ctx, mailtest.DefaultUser, mailtest.DefaultPassword); err != nil {
		tb.Fatal(err)
	}
	if _, _, err := c.Select(ctx, ""); err != nil {
		tb.Fatal(err)
	}
	return c, size
}

// A 50 MB message is streamed: the bytes the client allocates while
// fetching it are a small fraction of its size.
func TestFetch50MBStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("50 MB")
	}
	c, size := bigServer(t)
	list, err := c.List(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r, _, err := c.Fetch(testContext(t), list[0].UID)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, r)
	if err != nil || n != int64(size) {
		t.Fatalf("read %d bytes, %v; want %d", n, err, size)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(size)/8 {
		t.Errorf("fetching %d bytes allocated %d bytes", size, alloc)
	} else {
		t.Logf("fetching %d bytes allocated %d bytes", size, alloc)
	}
}

// BenchmarkFetch50MB compares our streamed fetch with imapclient's
// Collect (the library's documented way to read a body) side by side.
func BenchmarkFetch50MB(b *testing.B) {
	b.Run("stream", func(b *testing.B) {
		c, size := bigServer(b)
		list, err := c.List(testContext(b))
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(size))
		b.ReportAllocs()
		for b.Loop() {
			r, _, err := c.Fetch(testContext(b), list[0].UID)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, r); err != nil {
				b.Fatal(err)
			}
			r.Close()
		}
	})
	b.Run("imapclient-collect", func(b *testing.B) {
		c, size := bigServer(b)
		list, err := c.List(testContext(b))
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(size))
		b.ReportAllocs()
		for b.Loop() {
			bufs, err := c.c.Fetch(imap.UIDSetNum(list[0].UID), &imap.FetchOptions{
				BodySection: []*imap.FetchItemBodySection{{Peek: true}},
			}).Collect()
			if err != nil || len(bufs) != 1 {
				b.Fatal(err)
			}
		}
	})
}
