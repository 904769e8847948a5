package mailsession

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

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
