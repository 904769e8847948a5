package mailsession

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmailgo/jmail/mailsession/mailtest"
)

// accountingRcpts are the envelope of every accounting case: three
// recipients at a domain mailtest accepts without a mailbox.
var accountingRcpts = []string{"a@elsewhere.example", "b@elsewhere.example", "c@elsewhere.example"}

// outcome is a SendError's four lists as addresses.
type outcome struct{ sent, rejected, unsent, uncertain []string }

func outcomeOf(t *testing.T, err error) outcome {
	t.Helper()
	if err == nil {
		return outcome{sent: accountingRcpts}
	}
	var se *SendError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T), want a *SendError", err, err)
	}
	o := outcome{sent: se.Sent, unsent: se.Unsent, uncertain: se.Uncertain}
	for _, r := range se.Rejected {
		o.rejected = append(o.rejected, r.Address)
	}
	return o
}

func (o outcome) String() string {
	return fmt.Sprintf("sent=%v rejected=%v unsent=%v uncertain=%v", o.sent, o.rejected, o.unsent, o.uncertain)
}

// short is the outcome as counts "S R U ?" for the table.
func (o outcome) short() string {
	return fmt.Sprintf("%d %d %d %d", len(o.sent), len(o.rejected), len(o.unsent), len(o.uncertain))
}

// TestRecipientAccounting is the table over every failure point of a
// transaction, in every transaction style, against mailtest: each envelope
// recipient ends in exactly one of the four outcomes; what the server
// delivered was reported Sent or Uncertain, never Unsent or Rejected; what
// was reported Sent was delivered; and the error's class matches the
// outcome.
func TestRecipientAccounting(t *testing.T) {
	type errClass int
	const (
		none errClass = iota
		temporary
		permanent
		uncertain
	)
	cases := []struct {
		name   string
		faults mailtest.Faults
		opts   []Option
		ctx    func(t *testing.T) context.Context  // nil: ctxT
		body   func(ctx context.Context) io.Reader // an attachment; nil: none
		// want is the outcome as "sent rejected unsent uncertain" counts
		// and the class; wantAlt, if set, is the other outcome a race
		// of the failure with the client's writes may give (the server
		// cut before or after the client's last write completed).
		want, wantAlt string
		class, altCls errClass
		ctxErr        error // errors.Is(err, ctxErr) must hold
		warm          bool  // send once before the faults: they hit a pooled connection
	}{
		{name: "all accepted", want: "3 0 0 0", class: none},
		{name: "RCPT 550 sendpartial off", faults: mailtest.Faults{RejectRecipients: map[string]int{"b@elsewhere.example": 550}},
			want: "0 1 2 0", class: permanent},
		{name: "RCPT 550 sendpartial on", faults: mailtest.Faults{RejectRecipients: map[string]int{"b@elsewhere.example": 550}},
			opts: []Option{WithSendPartial(true)}, want: "2 1 0 0", class: permanent},
		{name: "RCPT 450 only", faults: mailtest.Faults{RejectRecipients: map[string]int{"b@elsewhere.example": 450}},
			want: "0 1 2 0", class: temporary},
		{name: "every RCPT refused", faults: mailtest.Faults{RejectRecipients: map[string]int{
			"a@elsewhere.example": 550, "b@elsewhere.example": 550, "c@elsewhere.example": 551}},
			opts: []Option{WithSendPartial(true)}, want: "0 3 0 0", class: permanent},
		{name: "cut at RCPT 2", faults: mailtest.Faults{CutAtRcpt: 2}, want: "0 0 3 0", class: temporary},
		{name: "cut at RCPT 2 sendpartial on", faults: mailtest.Faults{CutAtRcpt: 2}, opts: []Option{WithSendPartial(true)},
			want: "0 0 3 0", class: temporary, wantAlt: "0 0 0 3", altCls: uncertain},
		{name: "421 at RCPT 2", faults: mailtest.Faults{Reply421AtRcpt: 2}, want: "0 0 3 0", class: temporary},
		{name: "421 at RCPT 2 sendpartial on", faults: mailtest.Faults{Reply421AtRcpt: 2}, opts: []Option{WithSendPartial(true)},
			want: "0 0 3 0", class: temporary},
		{name: "message refused 554", faults: mailtest.Faults{FailData: 554}, want: "0 0 3 0", class: permanent},
		{name: "message refused 451", faults: mailtest.Faults{FailData: 451}, want: "0 0 3 0", class: temporary},
		{name: "cut mid-message", faults: mailtest.Faults{CutDataAfter: 2000},
			body: func(context.Context) io.Reader {
				return strings.NewReader(strings.Repeat("0123456789abcdef\r\n", 200000))
			},
			want: "0 0 3 0", class: temporary},
		{name: "closed after the end of the message", faults: mailtest.Faults{CloseAfterDot: true}, want: "0 0 0 3", class: uncertain},
		{name: "read timeout", faults: mailtest.Faults{ReplyDelay: 400 * time.Millisecond},
			opts: []Option{WithTimeouts(time.Second, 100*time.Millisecond, time.Second)}, warm: true, want: "0 0 3 0", class: temporary},
		{name: "ctx deadline during the envelope", faults: mailtest.Faults{ReplyDelay: 400 * time.Millisecond},
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
				t.Cleanup(cancel)
				return ctx
			},
			warm: true, want: "0 0 3 0", class: temporary, ctxErr: context.DeadlineExceeded},
		{name: "ctx canceled during the body",
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithCancel(context.Background())
				t.Cleanup(cancel)
				return context.WithValue(ctx, cancelKey{}, cancel)
			},
			body: func(ctx context.Context) io.Reader { return &cancelingReader{ctx: ctx} },
			want: "0 0 3 0", class: temporary, ctxErr: context.Canceled},
	}
	for _, st := range txStyles {
		t.Run(st.String(), func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					srv := mailtest.NewServer(t)
					opts := append([]Option{WithPipelining(st.pipelining), WithChunking(st.chunking)}, c.opts...)
					s := newTestSession(t, srv, mailtest.Plain, opts...)
					if c.warm {
						sendOK(t, s, "warm@elsewhere.example")
					}
					srv.SetFaults(c.faults)
					ctx := ctxT(t)
					if c.ctx != nil {
						ctx = c.ctx(t)
					}
					m := &Message{From: "sender@example.com", To: accountingRcpts, Subject: "accounting", Text: "x"}
					if c.body != nil {
						m.Attachments = []Attachment{{Filename: "big.txt", ContentType: "text/plain", Data: c.body(ctx)}}
					}
					err := s.Send(ctx, m)
					o := outcomeOf(t, err)

					// Exactly one outcome per envelope recipient.
					all := slices.Concat(o.sent, o.rejected, o.unsent, o.uncertain)
					slices.Sort(all)
					if !slices.Equal(all, accountingRcpts) {
						t.Fatalf("recipients not accounted for exactly once: %v", o)
					}
					got, class := o.short(), c.class
					switch got {
					case c.want:
					case c.wantAlt:
						class = c.altCls
					default:
						t.Fatalf("outcome %s (%v), want %s; err %v", got, o, c.want, err)
					}
					checkClass := func(name string, is bool, want bool) {
						t.Helper()
						if is != want {
							t.Errorf("errors.Is(err, %s) = %v, want %v: %v", name, is, want, err)
						}
					}
					if class != none {
						checkClass("ErrTemporary", errors.Is(err, ErrTemporary), class == temporary)
						checkClass("ErrPermanent", errors.Is(err, ErrPermanent), class == permanent)
						checkClass("ErrUncertain", errors.Is(err, ErrUncertain), class == uncertain)
						if IsTemporary(err) != (class == temporary) {
							t.Errorf("IsTemporary = %v: %v", IsTemporary(err), err)
						}
					}
					if c.ctxErr != nil && !errors.Is(err, c.ctxErr) {
						t.Errorf("err %v, want it to match %v", err, c.ctxErr)
					}
					if err != nil && strings.Count(err.Error(), "mailsession:") != 1 {
						t.Errorf("error text repeats its prefix: %v", err)
					}

					// The server's view, once every connection has ended.
					s.Close()
					srv.Close()
					delivered := map[string]int{}
					for _, msg := range srv.Received() {
						if !slices.Contains(msg.To, accountingRcpts[0]) && !slices.Contains(msg.To, accountingRcpts[2]) {
							continue // the warm-up
						}
						for _, r := range msg.To {
							delivered[r]++
						}
					}
					for r, n := range delivered {
						if n > 1 {
							t.Errorf("%s got the message %d times", r, n)
						}
						if !slices.Contains(o.sent, r) && !slices.Contains(o.uncertain, r) {
							t.Errorf("%s got the message but was reported %v", r, o)
						}
					}
					for _, r := range o.sent {
						if delivered[r] == 0 {
							t.Errorf("%s reported sent but not delivered", r)
						}
					}
				})
			}
		})
	}
}

type cancelKey struct{}

// cancelingReader cancels its context on the first read (the body is being
// sent), then gives data until the send notices.
type cancelingReader struct {
	ctx  context.Context
	done bool
}

func (r *cancelingReader) Read(p []byte) (int, error) {
	if !r.done {
		r.done = true
		r.ctx.Value(cancelKey{}).(context.CancelFunc)()
	}
	if r.ctx.Err() != nil {
		// Keep going a little: the watchdog closes the connection and the
		// write fails.
		time.Sleep(time.Millisecond)
	}
	for i := range p {
		p[i] = 'x'
		if i%76 == 75 {
			p[i] = '\n'
		}
	}
	return len(p), nil
}
