package mailsession_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"

	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/mailsession/mailtest"
)

// Reading an inbox as a mailing list does: each message is handed to the
// handler, and only the ones it accepted are deleted. The one that failed
// stays on the server for the next run.
func ExampleSession_Receive() {
	srv, err := mailtest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	for _, subject := range []string{"first", "broken", "third"} {
		srv.Deliver(mailtest.DefaultUser, []byte("From: Ann <ann@example.com>\r\nSubject: "+subject+"\r\n\r\nHello.\r\n"))
	}

	// IMAP with STARTTLS; "pop3" works the same way.
	s, err := mailsession.FromProperties(srv.Properties(mailtest.StartTLS, "imap"), mailsession.WithRootCAs(srv.CertPool()), quiet)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	err = s.Receive(context.Background(), mailsession.ReceiveOptions{Delete: true}, func(ctx context.Context, m *mailsession.Received) error {
		from, _ := m.From()
		fmt.Printf("%s from %s\n", m.Subject(), from[0].Address)
		if m.Subject() == "broken" {
			return errors.New("cannot post this one")
		}
		return nil
	})
	var he *mailsession.HandlerError
	fmt.Println("handler failures:", errors.As(err, &he))
	fmt.Println("left on the server:", len(srv.Messages(mailtest.DefaultUser)))
	// Output:
	// first from ann@example.com
	// broken from ann@example.com
	// third from ann@example.com
	// handler failures: true
	// left on the server: 1
}

// Without Delete, a file-backed UID memory hands each message over once,
// across runs and restarts.
func ExampleOpenFileUIDMemory() {
	srv, err := mailtest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	srv.Deliver(mailtest.DefaultUser, []byte("Subject: kept\r\n\r\nHello.\r\n"))

	dir, err := os.MkdirTemp("", "uids")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	mem, err := mailsession.OpenFileUIDMemory(filepath.Join(dir, "handled.json"))
	if err != nil {
		log.Fatal(err)
	}

	s, err := mailsession.FromProperties(srv.Properties(mailtest.ImplicitTLS, "pop3"), mailsession.WithRootCAs(srv.CertPool()), quiet)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	for run := 1; run <= 2; run++ {
		n := 0
		err := s.Receive(context.Background(), mailsession.ReceiveOptions{Memory: mem}, func(ctx context.Context, m *mailsession.Received) error {
			n++
			return nil
		})
		fmt.Printf("run %d: %d new, err %v\n", run, n, err)
	}
	// Output:
	// run 1: 1 new, err <nil>
	// run 2: 0 new, err <nil>
}

// The Store gives direct access: list, fetch the exact bytes, delete, and
// commit with Close.
func ExampleSession_OpenStore() {
	srv, err := mailtest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	srv.Deliver(mailtest.DefaultUser, []byte("Subject: hello\r\n\r\n.a line starting with a dot\r\n"))

	s, err := mailsession.FromProperties(srv.Properties(mailtest.Plain, "pop3"), quiet)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	st, err := s.OpenStore(ctx)
	if err != nil {
		log.Fatal(err)
	}
	msgs, err := st.List(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range msgs {
		rc, err := st.Fetch(ctx, m.UID)
		if err != nil {
			log.Fatal(err)
		}
		raw, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%d bytes: %q\n", m.Size, raw)
		if err := st.Delete(ctx, m.UID); err != nil {
			log.Fatal(err)
		}
	}
	if err := st.Close(); err != nil { // commits the deletion
		log.Fatal(err)
	}
	fmt.Println("left:", len(srv.Messages(mailtest.DefaultUser)))
	// Output:
	// 47 bytes: "Subject: hello\r\n\r\n.a line starting with a dot\r\n"
	// left: 0
}
