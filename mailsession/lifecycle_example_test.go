package mailsession_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/mailsession/mailtest"
)

// A service polls its inbox until it is told to stop; Shutdown then lets
// the message being handled finish (and its deletion be committed) before
// everything is closed, waiting at most ten seconds.
func ExampleSession_Shutdown() {
	srv, err := mailtest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	srv.Deliver(mailtest.DefaultUser, []byte("From: Ann <ann@example.com>\r\nSubject: order 42\r\n\r\nHello.\r\n"))

	s, err := mailsession.FromProperties(srv.Properties(mailtest.StartTLS, "pop3"), mailsession.WithRootCAs(srv.CertPool()), quiet)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	handling := make(chan struct{})
	received := make(chan error, 1)
	go func() {
		opts := mailsession.ReceiveOptions{
			Delete:       true,
			PollInterval: time.Minute,
			OnError:      func(err error) { log.Print(err) }, // polling goes on
		}
		received <- s.Receive(context.Background(), opts, func(ctx context.Context, m *mailsession.Received) error {
			close(handling) // the stop signal arrives now, while this message is handled
			time.Sleep(100 * time.Millisecond)
			fmt.Println("handled:", m.Subject())
			return nil
		})
	}()

	<-handling
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		log.Print("shutdown: ", err) // ctx ended: what was still running was stopped
	}
	fmt.Println("Receive returned ErrClosed:", errors.Is(<-received, mailsession.ErrClosed))
	fmt.Println("left on the server:", len(srv.Messages(mailtest.DefaultUser)))
	err = s.Send(context.Background(), &mailsession.Message{To: []string{"bob@example.net"}, Text: "too late"})
	fmt.Println("Send after Shutdown returned ErrClosed:", errors.Is(err, mailsession.ErrClosed))
	// Output:
	// handled: order 42
	// Receive returned ErrClosed: true
	// left on the server: 0
	// Send after Shutdown returned ErrClosed: true
}
