package mailsession

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

func TestTemporaryClassification(t *testing.T) {
	temp := []error{
		&SendError{Unsent: []string{"a@b.example"}, Err: &protocolError{Op: "RCPT TO", Addr: "x:25", Err: io.EOF}},
		&SendError{Err: &protocolError{Op: "end of DATA", Addr: "x:25", Err: io.ErrUnexpectedEOF}},
		&protocolError{Op: "dial", Addr: "x:25", Err: syscall.ECONNREFUSED},
		fmt.Errorf("wrapped: %w", &protocolError{Op: "MAIL", Err: syscall.ECONNRESET}),
		&SendError{Err: &smtp.SMTPError{Code: 451}},
		&SendError{Rejected: []*RecipientError{{Code: 452}}},
		&SendError{Err: fmt.Errorf("%w (x)", context.DeadlineExceeded)},
	}
	for _, err := range temp {
		if !IsTemporary(err) || !errors.Is(err, ErrTemporary) && !isTemporary(err) {
			t.Errorf("%v: not temporary", err)
		}
	}
	perm := []error{
		&SendError{Err: &smtp.SMTPError{Code: 554}},
		&SendError{Rejected: []*RecipientError{{Code: 452}, {Code: 550}}},
		fmt.Errorf("%w: bad", ErrInvalidMessage),
		&protocolError{Op: "AUTH", Err: fmt.Errorf("%w: no", ErrAuth)},
		&SettingError{Key: "k", Err: errors.New("bad")},
	}
	for _, err := range perm {
		if IsTemporary(err) {
			t.Errorf("%v: temporary", err)
		}
	}
	if se := (&SendError{Err: &smtp.SMTPError{Code: 554}}); !errors.Is(se, ErrPermanent) {
		t.Errorf("554 not ErrPermanent")
	}
}

// TestSendErrorClasses pins the class of every kind of send failure, with
// real traffic: invalid input is ErrInvalidMessage and ErrPermanent; a 5xx
// ErrPermanent; a 4xx, a refused or broken connection and a timeout
// ErrTemporary; the caller's ctx ending before the end of the message
// ErrTemporary and ctx.Err(); never two classes at once.
func TestSendErrorClasses(t *testing.T) {
	closedPort := func(t *testing.T) int {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		return port
	}
	silentPort := func(t *testing.T) int { // accepts, never greets
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		return ln.Addr().(*net.TCPAddr).Port
	}
	cases := []struct {
		name  string
		send  func(t *testing.T) error
		class error // ErrTemporary, ErrPermanent
		also  error // another error the result must match, if any
	}{
		{"invalid address", func(t *testing.T) error {
			s := mustSession(t, nil)
			return s.Send(ctxT(t), &Message{From: "a@example.com", To: []string{"not an address"}, Text: "x"})
		}, ErrPermanent, ErrInvalidMessage},
		{"no recipient", func(t *testing.T) error {
			return mustSession(t, nil).SendRaw(ctxT(t), "a@example.com", nil, strings.NewReader("x"))
		}, ErrPermanent, ErrInvalidMessage},
		{"connection refused", func(t *testing.T) error {
			s := mustSession(t, nil, WithHost("127.0.0.1", closedPort(t)))
			return s.Send(ctxT(t), &Message{From: "a@example.com", To: []string{"b@example.com"}, Text: "x"})
		}, ErrTemporary, syscall.ECONNREFUSED},
		{"greeting timeout", func(t *testing.T) error {
			s := mustSession(t, nil, WithHost("127.0.0.1", silentPort(t)), WithTimeouts(time.Second, 100*time.Millisecond, time.Second))
			return s.Send(ctxT(t), &Message{From: "a@example.com", To: []string{"b@example.com"}, Text: "x"})
		}, ErrTemporary, os.ErrDeadlineExceeded},
		{"ctx deadline in the greeting", func(t *testing.T) error {
			s := mustSession(t, nil, WithHost("127.0.0.1", silentPort(t)))
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			return s.Send(ctx, &Message{From: "a@example.com", To: []string{"b@example.com"}, Text: "x"})
		}, ErrTemporary, context.DeadlineExceeded},
		{"ctx canceled in the greeting", func(t *testing.T) error {
			s := mustSession(t, nil, WithHost("127.0.0.1", silentPort(t)))
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			return s.Send(ctx, &Message{From: "a@example.com", To: []string{"b@example.com"}, Text: "x"})
		}, ErrTemporary, context.Canceled},
		{"ctx already ended", func(t *testing.T) error {
			s := mustSession(t, nil, WithHost("127.0.0.1", silentPort(t)))
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return s.Send(ctx, &Message{From: "a@example.com", To: []string{"b@example.com"}, Text: "x"})
		}, ErrTemporary, context.Canceled},
		{"MAIL 553", func(t *testing.T) error {
			ss := newScriptedSMTP(t, func(l string) string {
				if strings.HasPrefix(l, "MAIL") {
					return "553 5.1.8 sender refused\r\n"
				}
				return plainAnswers("250 hi\r\n", l)
			})
			return scriptedSession(t, ss).Send(ctxT(t), &Message{To: []string{"b@example.com"}, Text: "x"})
		}, ErrPermanent, nil},
		{"MAIL 451", func(t *testing.T) error {
			ss := newScriptedSMTP(t, func(l string) string {
				if strings.HasPrefix(l, "MAIL") {
					return "451 4.3.0 try later\r\n"
				}
				return plainAnswers("250 hi\r\n", l)
			})
			return scriptedSession(t, ss).Send(ctxT(t), &Message{To: []string{"b@example.com"}, Text: "x"})
		}, ErrTemporary, nil},
		{"greeting 554", func(t *testing.T) error {
			ss := newScriptedSMTPGreeting(t, "554 go away\r\n", func(string) string { return "close" })
			return scriptedSession(t, ss).Send(ctxT(t), &Message{To: []string{"b@example.com"}, Text: "x"})
		}, ErrPermanent, nil},
		{"connection closed after the greeting", func(t *testing.T) error {
			ss := newScriptedSMTP(t, func(string) string { return "close" })
			return scriptedSession(t, ss).Send(ctxT(t), &Message{To: []string{"b@example.com"}, Text: "x"})
		}, ErrTemporary, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.send(t)
			if err == nil {
				t.Fatal("no error")
			}
			other := ErrPermanent
			if c.class == ErrPermanent {
				other = ErrTemporary
			}
			if !errors.Is(err, c.class) || errors.Is(err, other) || errors.Is(err, ErrUncertain) {
				t.Errorf("%v: want %v only", err, c.class)
			}
			if IsTemporary(err) != (c.class == ErrTemporary) {
				t.Errorf("IsTemporary(%v) = %v", err, IsTemporary(err))
			}
			if c.also != nil && !errors.Is(err, c.also) {
				t.Errorf("%v: does not match %v", err, c.also)
			}
			if strings.Count(err.Error(), "mailsession:") != 1 {
				t.Errorf("prefix repeated or missing: %v", err)
			}
			var se *SendError
			if errors.As(err, &se) && len(se.Unsent)+len(se.Rejected) == 0 {
				t.Errorf("a failed send without unsent or rejected recipients: %v", err)
			}
		})
	}
}
