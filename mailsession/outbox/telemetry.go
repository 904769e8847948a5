package outbox

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// The outbox's OpenTelemetry metrics. They are recorded with the
// session's meter provider (mailsession.WithMeterProvider, read back with
// Session.MeterProvider): one option instruments the session and its
// outbox, and an outbox without it records nothing.
//
//   - mail.outbox.messages ({message}, asynchronous gauge): the messages
//     the outbox holds, by mail.outbox.state (pending, sending, sent,
//     failed, canceled), read with Counts at each collection (one query);
//   - mail.outbox.attempts ({attempt}, counter): finished attempts, by
//     mail.outbox.attempt.result: sent (final, at least one recipient has
//     the message), failed (final, nobody has it) or retry (recipients
//     left for a later attempt).
const (
	metricMessages = "mail.outbox.messages"
	metricAttempts = "mail.outbox.attempts"

	attrState         = attribute.Key("mail.outbox.state")
	attrAttemptResult = attribute.Key("mail.outbox.attempt.result")
)

const instrumentationName = "github.com/jmailgo/jmail/mailsession/outbox"

// telemetry is the outbox's instruments.
type telemetry struct {
	attempts metric.Int64Counter
	reg      metric.Registration
	byResult map[EventKind]metric.AddOption
}

var allStates = []State{Pending, Sending, Sent, Failed, Canceled}

// newTelemetry makes the outbox's instruments with mp; the gauge reads ob.
func newTelemetry(mp metric.MeterProvider, ob *Outbox) (*telemetry, error) {
	m := mp.Meter(instrumentationName)
	t := &telemetry{byResult: map[EventKind]metric.AddOption{}}
	var err error
	t.attempts, err = m.Int64Counter(metricAttempts, metric.WithUnit("{attempt}"),
		metric.WithDescription("Finished send attempts of the outbox, by result (sent, failed, retry)."))
	if err != nil {
		return nil, fmt.Errorf("outbox: metrics: %w", err)
	}
	for _, k := range []EventKind{EventSent, EventFailed, EventRetry} {
		t.byResult[k] = metric.WithAttributeSet(attribute.NewSet(attrAttemptResult.String(string(k))))
	}
	depth, err := m.Int64ObservableGauge(metricMessages, metric.WithUnit("{message}"),
		metric.WithDescription("Messages held by the outbox, by state (pending, sending, sent, failed, canceled)."))
	if err != nil {
		return nil, fmt.Errorf("outbox: metrics: %w", err)
	}
	opts := make([]metric.ObserveOption, len(allStates))
	const countsTimeout = 2 * time.Second
	for i, st := range allStates {
		opts[i] = metric.WithAttributeSet(attribute.NewSet(attrState.String(strings.ToLower(st.String()))))
	}
	t.reg, err = m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		// Bounded: a collection must not wait long for the database
		// (SQLite's one connection held by an open EnqueueTx
		// transaction); the gauge is then skipped for this collection.
		ctx, cancel := context.WithTimeout(ctx, countsTimeout)
		defer cancel()
		counts, err := ob.Counts(ctx)
		if err != nil {
			return err
		}
		for i, st := range allStates {
			o.ObserveInt64(depth, int64(counts[st]), opts[i])
		}
		return nil
	}, depth)
	if err != nil {
		return nil, fmt.Errorf("outbox: metrics: %w", err)
	}
	return t, nil
}

// attempt records a finished attempt, its outcome event kind.
func (t *telemetry) attempt(ctx context.Context, kind EventKind) {
	if opt, ok := t.byResult[kind]; ok {
		t.attempts.Add(ctx, 1, opt)
	}
}

// stop unregisters the gauge's callback.
func (t *telemetry) stop() { t.reg.Unregister() }
