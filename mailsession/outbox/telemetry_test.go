package outbox_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/mailsession/mailtest"
	"github.com/jmailgo/jmail/mailsession/outbox"
)

// The outbox records with the session's meter provider: the attempts by
// result and the queue depth by state, next to the session's sends.
func TestTelemetry(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { mp.Shutdown(context.Background()) })
	srv := mailtest.NewServer(t)
	srv.SetFaults(mailtest.Faults{RejectRecipients: map[string]int{"bad@example.org": 550}})
	e := &env{srv: srv, s: newSession(t, srv, mailsession.WithMeterProvider(mp)), db: newTestDB(t)}
	final := make(chan outbox.Event, 2)
	e.ob = e.open(t, outbox.WithEvents(func(ev outbox.Event) {
		if ev.Kind == outbox.EventSent || ev.Kind == outbox.EventFailed {
			final <- ev
		}
	}))
	ctx := testCtx(t)
	if _, err := e.ob.Enqueue(ctx, msg("a@example.org")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ob.Enqueue(ctx, msg("bad@example.org")); err != nil {
		t.Fatal(err)
	}

	collect := func() map[string]metricdata.Metrics {
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(ctx, &rm); err != nil {
			t.Fatal(err)
		}
		out := map[string]metricdata.Metrics{}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				out[sm.Scope.Name+" "+m.Name] = m
			}
		}
		return out
	}
	value := func(ms map[string]metricdata.Metrics, name, unit string, kv attribute.KeyValue) int64 {
		t.Helper()
		m, ok := ms[name]
		if !ok {
			t.Fatalf("no metric %s", name)
		}
		if m.Unit != unit {
			t.Errorf("%s: unit %q, want %q", name, m.Unit, unit)
		}
		var dps []metricdata.DataPoint[int64]
		switch d := m.Data.(type) {
		case metricdata.Sum[int64]:
			dps = d.DataPoints
		case metricdata.Gauge[int64]:
			dps = d.DataPoints
		default:
			t.Fatalf("%s: %T", name, m.Data)
		}
		var n int64
		for _, dp := range dps {
			if v, ok := dp.Attributes.Value(kv.Key); ok && v == kv.Value {
				n += dp.Value
			}
		}
		return n
	}
	const scope = "github.com/jmailgo/jmail/mailsession/outbox "
	ms := collect()
	if n := value(ms, scope+"mail.outbox.messages", "{message}", attribute.String("mail.outbox.state", "pending")); n != 2 {
		t.Errorf("messages{pending} = %d before Start, want 2", n)
	}

	start(t, e.ob)
	for range 2 {
		<-final
	}
	ms = collect()
	for state, want := range map[string]int64{"pending": 0, "sending": 0, "sent": 1, "failed": 1, "canceled": 0} {
		if n := value(ms, scope+"mail.outbox.messages", "{message}", attribute.String("mail.outbox.state", state)); n != want {
			t.Errorf("messages{%s} = %d, want %d", state, n, want)
		}
	}
	for result, want := range map[string]int64{"sent": 1, "failed": 1, "retry": 0} {
		if n := value(ms, scope+"mail.outbox.attempts", "{attempt}", attribute.String("mail.outbox.attempt.result", result)); n != want {
			t.Errorf("attempts{%s} = %d, want %d", result, n, want)
		}
	}
	if n := value(ms, "github.com/jmailgo/jmail/mailsession smtp.client.sends", "{message}", attribute.String("mail.send.outcome", "sent")); n != 1 {
		t.Errorf("the session's sends{sent} = %d, want 1", n)
	}
}

// A metrics collection while the application holds an EnqueueTx
// transaction open does not wait for it (on SQLite, the outbox's one
// connection): the queue-depth gauge is skipped for that collection and
// back at the next.
func TestTelemetryCollectDuringTransaction(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { mp.Shutdown(context.Background()) })
	srv := mailtest.NewServer(t)
	e := &env{srv: srv, s: newSession(t, srv, mailsession.WithMeterProvider(mp)), db: newTestDB(t)}
	e.ob = e.open(t)
	ctx := testCtx(t)
	tx := e.db.begin(t, ctx, e.ob)
	if _, err := e.ob.EnqueueTx(ctx, tx.native, msg("a@example.org")); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		var rm metricdata.ResourceMetrics
		done <- reader.Collect(context.Background(), &rm) // no deadline of its own
	}()
	select {
	case err := <-done:
		t.Logf("collection during the transaction: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the collection waits for the application's transaction")
	}
	if err := tx.commit(); err != nil {
		t.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatalf("collection after the commit: %v", err)
	}
	found := false
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			found = found || m.Name == "mail.outbox.messages"
		}
	}
	if !found {
		t.Error("no queue-depth gauge after the commit")
	}
}
