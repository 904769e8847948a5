package mailsession

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/jmailgo/jmail/mailsession/mailtest"
)

// otelEnv is a session on mailtest recording with the SDK: an in-memory
// reader for the metrics, a span recorder for the spans.
type otelEnv struct {
	srv    *mailtest.Server
	s      *Session
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
}

func newOtelEnv(t *testing.T, mode mailtest.Mode, store string, opts ...Option) *otelEnv {
	t.Helper()
	e := &otelEnv{srv: mailtest.NewServer(t), reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	e.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(e.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(e.reader))
	t.Cleanup(func() {
		mp.Shutdown(context.Background())
		e.tp.Shutdown(context.Background())
	})
	opts = append([]Option{WithRootCAs(e.srv.CertPool()), WithLogger(quietLogger()),
		WithMeterProvider(mp), WithTracerProvider(e.tp)}, opts...)
	s, err := FromProperties(e.srv.Properties(mode, store), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	e.s = s
	return e
}

// collect reads the metrics recorded so far.
func (e *otelEnv) collect(t *testing.T) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := e.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if sm.Scope.Name != instrumentationName {
				t.Errorf("metric %s in scope %q", m.Name, sm.Scope.Name)
			}
			out[m.Name] = m
		}
	}
	return out
}

// matches reports whether set holds every attribute of want.
func matches(set attribute.Set, want []attribute.KeyValue) bool {
	for _, kv := range want {
		v, ok := set.Value(kv.Key)
		if !ok || v != kv.Value {
			return false
		}
	}
	return true
}

// sum adds up the data points of the counter or up-down counter name
// (unit unit) whose attributes hold want.
func sum(t *testing.T, ms map[string]metricdata.Metrics, name, unit string, want ...attribute.KeyValue) int64 {
	t.Helper()
	m, ok := ms[name]
	if !ok {
		return 0
	}
	if m.Unit != unit {
		t.Errorf("%s: unit %q, want %q", name, m.Unit, unit)
	}
	data, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s: data %T, want an int64 sum", name, m.Data)
	}
	var n int64
	for _, dp := range data.DataPoints {
		if matches(dp.Attributes, want) {
			n += dp.Value
		}
	}
	return n
}

// hist gives the count and sum of the histogram name's data points whose
// attributes hold want.
func hist[N int64 | float64](t *testing.T, ms map[string]metricdata.Metrics, name, unit string, want ...attribute.KeyValue) (uint64, N) {
	t.Helper()
	m, ok := ms[name]
	if !ok {
		return 0, 0
	}
	if m.Unit != unit {
		t.Errorf("%s: unit %q, want %q", name, m.Unit, unit)
	}
	data, ok := m.Data.(metricdata.Histogram[N])
	if !ok {
		t.Fatalf("%s: data %T", name, m.Data)
	}
	var c uint64
	var s N
	for _, dp := range data.DataPoints {
		if matches(dp.Attributes, want) {
			c += dp.Count
			s += dp.Sum
		}
	}
	return c, s
}

// spanAttrs gives a span's attributes by key.
func spanAttrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	out := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		out[kv.Key] = kv.Value
	}
	return out
}

// endedSpans gives the spans named name.
func (e *otelEnv) endedSpans(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range e.spans.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// spanText is a span's status, attributes and events' attributes as text.
func spanText(s sdktrace.ReadOnlySpan) string {
	text := s.Status().Description
	for _, kv := range s.Attributes() {
		text += " " + kv.Value.Emit()
	}
	for _, ev := range s.Events() {
		for _, kv := range ev.Attributes {
			text += " " + kv.Value.Emit()
		}
	}
	return text
}

// noSecret fails when any attribute, status or event of the spans holds
// the password.
func noSecret(t *testing.T, spans []sdktrace.ReadOnlySpan) {
	t.Helper()
	for _, s := range spans {
		text := spanText(s)
		if strings.Contains(text, mailtest.DefaultPassword) {
			t.Errorf("span %s holds the password: %s", s.Name(), text)
		}
	}
}

func rawMessage(to ...string) []byte {
	return []byte("From: " + mailtest.DefaultUser + "\r\nTo: " + strings.Join(to, ", ") + "\r\nSubject: otel\r\n\r\nhello\r\n")
}

// A successful send over STARTTLS with AUTH: the span, a child of the
// caller's, with the server, protocol, TLS version, mechanism and reply
// codes; the counters, histograms and pool gauges.
func TestTelemetrySend(t *testing.T) {
	e := newOtelEnv(t, mailtest.StartTLS, "")
	ctx, parent := e.tp.Tracer("test").Start(ctxT(t), "caller")
	msg := rawMessage("a@elsewhere.example")
	for range 2 {
		if err := e.s.SendRaw(ctx, "", []string{"a@elsewhere.example"}, bytes.NewReader(msg)); err != nil {
			t.Fatal(err)
		}
	}
	parent.End()

	spans := e.endedSpans("smtp send")
	if len(spans) != 2 {
		t.Fatalf("%d send spans, want 2", len(spans))
	}
	noSecret(t, spans)
	for i, sp := range spans {
		if sp.Parent().SpanID() != parent.SpanContext().SpanID() || sp.Parent().TraceID() != parent.SpanContext().TraceID() {
			t.Errorf("span %d is not a child of the caller's span", i)
		}
		if sp.SpanKind().String() != "client" {
			t.Errorf("span kind %v, want client", sp.SpanKind())
		}
		if sp.Status().Code != codes.Unset {
			t.Errorf("status %v, want unset", sp.Status())
		}
		a := spanAttrs(sp)
		want := map[attribute.Key]attribute.Value{
			"server.address":         attribute.StringValue("127.0.0.1"),
			"server.port":            attribute.IntValue(e.srv.Ports().SMTP),
			"network.protocol.name":  attribute.StringValue("smtp"),
			"tls.protocol.version":   attribute.StringValue("1.3"),
			"mail.send.outcome":      attribute.StringValue("sent"),
			"smtp.reply.code":        attribute.IntValue(250),
			"smtp.rcpt.reply_codes":  attribute.Int64SliceValue([]int64{250}),
			"smtp.rcpt.count":        attribute.IntValue(1),
			"smtp.message.size":      attribute.Int64Value(int64(len(msg))),
			"smtp.connection.reused": attribute.BoolValue(i == 1),
		}
		for k, v := range want {
			if a[k] != v {
				t.Errorf("span %d: %s = %v, want %v", i, k, a[k].Emit(), v.Emit())
			}
		}
		if m := a["mail.auth.mechanism"].AsString(); m == "" {
			t.Errorf("span %d: no mail.auth.mechanism", i)
		}
		if _, ok := a["smtp.rcpt.to"]; ok {
			t.Errorf("span %d: recipient addresses without WithTelemetryRecipients", i)
		}
	}

	ms := e.collect(t)
	if n := sum(t, ms, "smtp.client.sends", "{message}", attrSendOutcome.String("sent"), attrServerAddress.String("127.0.0.1"), attrServerPort.Int(e.srv.Ports().SMTP)); n != 2 {
		t.Errorf("sends{sent} = %d, want 2", n)
	}
	if n := sum(t, ms, "smtp.client.sends", "{message}"); n != 2 {
		t.Errorf("sends = %d, want 2", n)
	}
	if n := sum(t, ms, "smtp.client.recipients", "{recipient}", attrRecipientResult.String("sent")); n != 2 {
		t.Errorf("recipients{sent} = %d, want 2", n)
	}
	if c, s := hist[float64](t, ms, "smtp.client.send.duration", "s", attrSendOutcome.String("sent")); c != 2 || s <= 0 {
		t.Errorf("send.duration: count %d sum %v, want 2 and > 0", c, s)
	}
	if c, s := hist[int64](t, ms, "smtp.client.message.size", "By", attrSendOutcome.String("sent")); c != 2 || s != 2*int64(len(msg)) {
		t.Errorf("message.size: count %d sum %d, want 2 and %d", c, s, 2*len(msg))
	}
	if n := sum(t, ms, "smtp.client.connection.dials", "{connection}"); n != 1 {
		t.Errorf("dials = %d, want 1 (the second send reuses the connection)", n)
	}
	if n := sum(t, ms, "smtp.client.tls.handshakes", "{handshake}", attrTLSMode.String("starttls"), attrTLSVersion.String("1.3")); n != 1 {
		t.Errorf("tls.handshakes{starttls,1.3} = %d, want 1", n)
	}
	if n := sum(t, ms, "smtp.client.connection.count", "{connection}", attrConnState.String("used")); n != 0 {
		t.Errorf("connections used = %d after the sends, want 0", n)
	}
	if n := sum(t, ms, "smtp.client.connection.count", "{connection}", attrConnState.String("idle")); n != 1 {
		t.Errorf("connections idle = %d, want 1", n)
	}
	if n := sum(t, ms, "smtp.client.connection.reconnects", "{connection}"); n != 0 {
		t.Errorf("reconnects = %d, want 0", n)
	}

	// Send (composed) is instrumented too; after Close the pool is gone.
	if err := e.s.Send(ctxT(t), &Message{To: []string{"b@elsewhere.example"}, Subject: "s", Text: "t"}); err != nil {
		t.Fatal(err)
	}
	ms = e.collect(t)
	if n := sum(t, ms, "smtp.client.sends", "{message}", attrSendOutcome.String("sent")); n != 3 {
		t.Errorf("sends{sent} = %d after Send, want 3", n)
	}
	e.s.Close()
	ms = e.collect(t)
	if n := sum(t, ms, "smtp.client.connection.count", "{connection}"); n != 0 {
		t.Errorf("connections = %d after Close, want none", n)
	}
}

// The failure paths, against a misbehaving mailtest: outcome, error.type,
// reply codes and the recipients' outcomes, in the metrics and the span.
func TestTelemetrySendFailures(t *testing.T) {
	const a, b = "a@elsewhere.example", "b@elsewhere.example"
	tests := []struct {
		name     string
		faults   mailtest.Faults
		opts     []Option
		to       []string
		outcome  string
		etype    string
		code     int     // smtp.reply.code; 0: absent
		rcpt     []int64 // smtp.rcpt.reply_codes; nil: absent
		rcpts    map[string]int64
		sizeRecs uint64 // messages whose end was written
	}{
		{name: "refused recipient, sendpartial", faults: mailtest.Faults{RejectRecipients: map[string]int{b: 550}},
			opts: []Option{WithSendPartial(true)}, to: []string{a, b}, outcome: "rejected", etype: "550", code: 250,
			rcpt: []int64{250, 550}, rcpts: map[string]int64{"sent": 1, "rejected": 1}, sizeRecs: 1},
		{name: "refused recipient, no sendpartial", faults: mailtest.Faults{RejectRecipients: map[string]int{b: 550}},
			to: []string{a, b}, outcome: "rejected", etype: "550",
			rcpt: []int64{250, 550}, rcpts: map[string]int64{"unsent": 1, "rejected": 1}},
		{name: "every recipient refused, 4xx", faults: mailtest.Faults{RejectRecipients: map[string]int{a: 450}},
			to: []string{a}, outcome: "rejected", etype: "450",
			// With CHUNKING the body went in the group of RCPT.
			rcpt: []int64{450}, rcpts: map[string]int64{"rejected": 1}, sizeRecs: 1},
		{name: "temporary failure of the message", faults: mailtest.Faults{FailData: 451},
			to: []string{a}, outcome: "temporary", etype: "451", code: 451,
			rcpt: []int64{250}, rcpts: map[string]int64{"unsent": 1}, sizeRecs: 1},
		{name: "permanent failure of the message", faults: mailtest.Faults{FailData: 554},
			to: []string{a}, outcome: "permanent", etype: "554", code: 554,
			rcpt: []int64{250}, rcpts: map[string]int64{"unsent": 1}, sizeRecs: 1},
		{name: "no reply to the end of the message", faults: mailtest.Faults{CloseAfterDot: true},
			to: []string{a}, outcome: "uncertain", etype: "uncertain",
			rcpt: []int64{250}, rcpts: map[string]int64{"uncertain": 1}, sizeRecs: 1},
		{name: "login refused", faults: mailtest.Faults{RefuseAuth: true},
			to: []string{a}, outcome: "permanent", etype: "auth", rcpts: map[string]int64{"unsent": 1}},
		{name: "invalid message", to: []string{"not an address"}, outcome: "permanent", etype: "invalid_message"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newOtelEnv(t, mailtest.Plain, "", tc.opts...)
			e.srv.SetFaults(tc.faults)
			err := e.s.SendRaw(ctxT(t), "", tc.to, bytes.NewReader(rawMessage(tc.to...)))
			if err == nil {
				t.Fatal("send succeeded")
			}
			spans := e.endedSpans("smtp send")
			if len(spans) != 1 {
				t.Fatalf("%d spans, want 1", len(spans))
			}
			sp := spans[0]
			noSecret(t, spans)
			a := spanAttrs(sp)
			if got := a["mail.send.outcome"].AsString(); got != tc.outcome {
				t.Errorf("outcome %q, want %q (err %v)", got, tc.outcome, err)
			}
			if got := a["error.type"].AsString(); got != tc.etype {
				t.Errorf("error.type %q, want %q", got, tc.etype)
			}
			if got, ok := a["smtp.reply.code"]; ok != (tc.code != 0) || ok && got.AsInt64() != int64(tc.code) {
				t.Errorf("smtp.reply.code %v (present %v), want %d", got.Emit(), ok, tc.code)
			}
			if got := a["smtp.rcpt.reply_codes"].AsInt64Slice(); !slices.Equal(got, tc.rcpt) {
				t.Errorf("smtp.rcpt.reply_codes %v, want %v", got, tc.rcpt)
			}
			if sp.Status().Code != codes.Error || sp.Status().Description == "" {
				t.Errorf("status %v, want Error with a description", sp.Status())
			}
			if evs := sp.Events(); len(evs) != 1 || evs[0].Name != "exception" {
				t.Errorf("events %v, want one exception", evs)
			}
			if text := spanText(sp); strings.Contains(text, "@") {
				t.Errorf("the span names an address without WithTelemetryRecipients: %s", text)
			}

			ms := e.collect(t)
			if n := sum(t, ms, "smtp.client.sends", "{message}", attrSendOutcome.String(tc.outcome)); n != 1 {
				t.Errorf("sends{%s} = %d, want 1", tc.outcome, n)
			}
			for _, o := range rcptOutcomeNames {
				if n := sum(t, ms, "smtp.client.recipients", "{recipient}", attrRecipientResult.String(o)); n != tc.rcpts[o] {
					t.Errorf("recipients{%s} = %d, want %d", o, n, tc.rcpts[o])
				}
			}
			if c, _ := hist[float64](t, ms, "smtp.client.send.duration", "s", attrSendOutcome.String(tc.outcome), attrErrorType.String(tc.etype)); c != 1 {
				t.Errorf("send.duration{%s,%s} count %d, want 1", tc.outcome, tc.etype, c)
			}
			if c, _ := hist[int64](t, ms, "smtp.client.message.size", "By"); c != tc.sizeRecs {
				t.Errorf("message.size count %d, want %d", c, tc.sizeRecs)
			}
			if n := sum(t, ms, "smtp.client.connection.count", "{connection}", attrConnState.String("used")); n != 0 {
				t.Errorf("connections used = %d after the send, want 0", n)
			}
		})
	}
}

// Recipient addresses and the error's text are in the span only with
// WithTelemetryRecipients(true).
func TestTelemetryRecipients(t *testing.T) {
	const a, b = "a@elsewhere.example", "b@elsewhere.example"
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprint(on), func(t *testing.T) {
			e := newOtelEnv(t, mailtest.Plain, "", WithSendPartial(true), WithTelemetryRecipients(on))
			e.srv.SetFaults(mailtest.Faults{RejectRecipients: map[string]int{b: 550}})
			if err := e.s.SendRaw(ctxT(t), "", []string{a, b}, bytes.NewReader(rawMessage(a, b))); err == nil {
				t.Fatal("send succeeded")
			}
			sp := e.endedSpans("smtp send")[0]
			got := spanAttrs(sp)["smtp.rcpt.to"].AsStringSlice()
			desc := sp.Status().Description
			if on {
				if !slices.Equal(got, []string{a, b}) || !strings.Contains(desc, b) || len(sp.Events()) != 1 {
					t.Errorf("smtp.rcpt.to %v, status %q, %d events: want the addresses and the error", got, desc, len(sp.Events()))
				}
			} else if text := spanText(sp); len(got) != 0 || strings.Contains(text, "@") || !strings.Contains(desc, "<redacted>: 550") || len(sp.Events()) != 1 {
				t.Errorf("smtp.rcpt.to %v, status %q, %d events: want the error without an address", got, desc, len(sp.Events()))
			}
		})
	}
}

// A reused connection the server cut before the message: the send goes
// again on a new one, counted as a reconnect.
func TestTelemetryReconnect(t *testing.T) {
	// Without CHUNKING the body waits for DATA's 354: nothing is written
	// before the cut, and the send may go again.
	e := newOtelEnv(t, mailtest.Plain, "", WithChunking(false))
	to := []string{"a@elsewhere.example"}
	if err := e.s.SendRaw(ctxT(t), "", to, bytes.NewReader(rawMessage(to...))); err != nil {
		t.Fatal(err)
	}
	e.srv.SetFaults(mailtest.Faults{CutAtRcpt: 1})
	if err := e.s.SendRaw(ctxT(t), "", to, bytes.NewReader(rawMessage(to...))); err == nil {
		t.Fatal("send succeeded with every RCPT cut")
	}
	ms := e.collect(t)
	if n := sum(t, ms, "smtp.client.connection.reconnects", "{connection}", attrReconnectReason.String("retry")); n != 1 {
		t.Errorf("reconnects{retry} = %d, want 1", n)
	}
	if n := sum(t, ms, "smtp.client.connection.dials", "{connection}"); n != 2 {
		t.Errorf("dials = %d, want 2", n)
	}
	if n := sum(t, ms, "smtp.client.sends", "{message}", attrSendOutcome.String("temporary")); n != 1 {
		t.Errorf("sends{temporary} = %d, want 1", n)
	}
}

// Implicit TLS: the handshake is counted as implicit.
func TestTelemetryImplicitTLS(t *testing.T) {
	e := newOtelEnv(t, mailtest.ImplicitTLS, "")
	to := []string{"a@elsewhere.example"}
	if err := e.s.SendRaw(ctxT(t), "", to, bytes.NewReader(rawMessage(to...))); err != nil {
		t.Fatal(err)
	}
	ms := e.collect(t)
	if n := sum(t, ms, "smtp.client.tls.handshakes", "{handshake}", attrTLSMode.String("implicit"), attrTLSVersion.String("1.3")); n != 1 {
		t.Errorf("tls.handshakes{implicit,1.3} = %d, want 1", n)
	}
	if a := spanAttrs(e.endedSpans("smtp send")[0]); a["tls.protocol.version"].AsString() != "1.3" || a["server.port"].AsInt64() != int64(e.srv.Ports().SMTPS) {
		t.Errorf("span attributes %v", a)
	}
}

// Two Receive runs over POP3 and IMAP (TLS): the first hands over three
// messages, one handler fails, two deletions are committed; the second
// hands over the one left.
func TestTelemetryReceive(t *testing.T) {
	for _, proto := range storeProtos {
		t.Run(proto, func(t *testing.T) {
			e := newOtelEnv(t, mailtest.StartTLS, proto)
			deliver(t, e.srv, subjects(3)...)
			errBoom := errors.New("boom")
			ctx, parent := e.tp.Tracer("test").Start(ctxT(t), "caller")
			var handlerSpan trace.SpanContext
			err := e.s.Receive(ctx, ReceiveOptions{Delete: true}, func(ctx context.Context, m *Received) error {
				io.Copy(io.Discard, m.Raw)
				if m.Subject() == "m2" {
					return errBoom
				}
				return nil
			})
			if !errors.Is(err, errBoom) {
				t.Fatalf("Receive = %v, want the handler's error", err)
			}
			if err := e.s.Receive(ctx, ReceiveOptions{Delete: true}, func(ctx context.Context, m *Received) error {
				handlerSpan = trace.SpanContextFromContext(ctx)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			parent.End()

			spans := e.endedSpans("receive " + proto)
			if len(spans) != 2 {
				t.Fatalf("%d receive spans, want 2", len(spans))
			}
			if handlerSpan.SpanID() != spans[1].SpanContext().SpanID() {
				t.Error("the handler's ctx does not carry the run's span")
			}
			noSecret(t, spans)
			port := e.srv.Ports().POP3
			if proto == "imap" {
				port = e.srv.Ports().IMAP
			}
			for i, sp := range spans {
				if sp.Parent().SpanID() != parent.SpanContext().SpanID() {
					t.Errorf("run %d: not a child of the caller's span", i)
				}
				a := spanAttrs(sp)
				want := map[attribute.Key]attribute.Value{
					"server.address":              attribute.StringValue("127.0.0.1"),
					"server.port":                 attribute.IntValue(port),
					"network.protocol.name":       attribute.StringValue(proto),
					"tls.protocol.version":        attribute.StringValue("1.3"),
					"mail.receive.result":         attribute.StringValue([]string{"error", "ok"}[i]),
					"mail.receive.messages":       attribute.Int64Value([]int64{3, 1}[i]),
					"mail.receive.handler_errors": attribute.Int64Value([]int64{1, 0}[i]),
					"mail.receive.deletions":      attribute.Int64Value([]int64{2, 1}[i]),
				}
				for k, v := range want {
					if a[k] != v {
						t.Errorf("run %d: %s = %v, want %v", i, k, a[k].Emit(), v.Emit())
					}
				}
				if a["mail.auth.mechanism"].AsString() == "" {
					t.Errorf("run %d: no mail.auth.mechanism", i)
				}
				if wantErr := i == 0; (sp.Status().Code == codes.Error) != wantErr {
					t.Errorf("run %d: status %v", i, sp.Status())
				}
			}
			if a := spanAttrs(spans[0]); a["error.type"].AsString() != "handler" {
				t.Errorf("error.type %q, want handler", a["error.type"].AsString())
			}

			ms := e.collect(t)
			attrs := []attribute.KeyValue{attrProtocolName.String(proto), attrServerPort.Int(port)}
			checks := []struct {
				name, unit string
				extra      []attribute.KeyValue
				want       int64
			}{
				{"mail.receive.runs", "{run}", []attribute.KeyValue{attrReceiveResult.String("error"), attrErrorType.String("handler")}, 1},
				{"mail.receive.runs", "{run}", []attribute.KeyValue{attrReceiveResult.String("ok")}, 1},
				{"mail.receive.messages", "{message}", nil, 4},
				{"mail.receive.handler.errors", "{error}", nil, 1},
				{"mail.receive.deletions", "{message}", nil, 3},
			}
			for _, c := range checks {
				if n := sum(t, ms, c.name, c.unit, append(attrs, c.extra...)...); n != c.want {
					t.Errorf("%s%v = %d, want %d", c.name, c.extra, n, c.want)
				}
			}
			if c, _ := hist[float64](t, ms, "mail.receive.duration", "s", attrs...); c != 2 {
				t.Errorf("receive.duration count %d, want 2", c)
			}
			if left := e.srv.Messages(mailtest.DefaultUser); len(left) != 0 {
				t.Errorf("%d messages left", len(left))
			}
		})
	}
}

// A failed Receive run: the login refused.
func TestTelemetryReceiveFails(t *testing.T) {
	e := newOtelEnv(t, mailtest.Plain, "imap")
	e.srv.SetFaults(mailtest.Faults{RefuseAuth: true})
	if err := e.s.Receive(ctxT(t), ReceiveOptions{}, func(context.Context, *Received) error { return nil }); !errors.Is(err, ErrAuth) {
		t.Fatalf("Receive = %v, want ErrAuth", err)
	}
	ms := e.collect(t)
	if n := sum(t, ms, "mail.receive.runs", "{run}", attrReceiveResult.String("error"), attrErrorType.String("auth")); n != 1 {
		t.Errorf("runs{error,auth} = %d, want 1", n)
	}
	sp := e.endedSpans("receive imap")
	if len(sp) != 1 || sp[0].Status().Code != codes.Error {
		t.Fatalf("spans %v", sp)
	}
	noSecret(t, sp)
}

// Without providers nothing is recorded and everything works; the
// session's MeterProvider is a usable no-op.
func TestTelemetryDefaultNoop(t *testing.T) {
	srv := mailtest.NewServer(t)
	s, err := FromProperties(srv.Properties(mailtest.Plain, "pop3"), WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.tel.metrics || s.tel.tracing {
		t.Fatal("telemetry on without a provider")
	}
	if s.MeterProvider() == nil {
		t.Fatal("MeterProvider is nil")
	}
	if _, err := s.MeterProvider().Meter("x").Int64Counter("x"); err != nil {
		t.Fatal(err)
	}
	to := []string{"a@elsewhere.example"}
	if err := s.SendRaw(ctxT(t), "", to, bytes.NewReader(rawMessage(to...))); err != nil {
		t.Fatal(err)
	}
	srv.SetFaults(mailtest.Faults{FailData: 451})
	if err := s.SendRaw(ctxT(t), "", to, bytes.NewReader(rawMessage(to...))); !errors.Is(err, ErrTemporary) {
		t.Fatalf("SendRaw = %v, want ErrTemporary", err)
	}
	deliver(t, srv, subjects(1)...)
	n := 0
	if err := s.Receive(ctxT(t), ReceiveOptions{Delete: true}, func(context.Context, *Received) error { n++; return nil }); err != nil || n != 1 {
		t.Fatalf("Receive = %v, %d messages", err, n)
	}
}

// Only a tracer: spans, and no metric machinery.
func TestTelemetryTracerOnly(t *testing.T) {
	srv := mailtest.NewServer(t)
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	s, err := FromProperties(srv.Properties(mailtest.Plain, ""), WithLogger(quietLogger()), WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	to := []string{"a@elsewhere.example"}
	if err := s.SendRaw(ctxT(t), "", to, bytes.NewReader(rawMessage(to...))); err != nil {
		t.Fatal(err)
	}
	if n := len(sr.Ended()); n != 1 || s.tel.metrics {
		t.Errorf("%d spans, metrics %v", n, s.tel.metrics)
	}
}

// BenchmarkSendTelemetry sends benchMessage one after another through a
// pooled session to a go-smtp server in a child process (so that B/op and
// allocs/op are the client's alone), without a provider (the no-op
// default) and with the SDK's (a manual reader; every span sampled and
// exported to a no-op exporter), side by side:
//
//	go test -run '^$' -bench SendTelemetry -benchmem ./mailsession/
func BenchmarkSendTelemetry(b *testing.B) {
	addr := childSMTPServer(b)
	b.Run("none", func(b *testing.B) {
		benchSession(b, addr, nil)
	})
	b.Run("sdk", func(b *testing.B) {
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithSyncer(tracetest.NewNoopExporter()))
		defer mp.Shutdown(context.Background())
		defer tp.Shutdown(context.Background())
		benchSession(b, addr, nil, WithMeterProvider(mp), WithTracerProvider(tp))
	})
	b.Run("sdk-metrics-only", func(b *testing.B) {
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		defer mp.Shutdown(context.Background())
		benchSession(b, addr, nil, WithMeterProvider(mp))
	})
}

func TestRedactAddresses(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"rejected <a@b.example>: 550 5.1.1 <a@b.example>... User unknown", "rejected <redacted>: 550 5.1.1 <redacted>... User unknown"},
		{"sent to a@b.example, c.d+e@f.example", "sent to <redacted>, <redacted>"},
		{"perhaps sent to jösé@exämple.de (no reply)", "perhaps sent to <redacted> (no reply)"},
		{"mailsession: DATA 127.0.0.1:25: 451 try later", "mailsession: DATA 127.0.0.1:25: 451 try later"},
		{`refused "john smith"@example.com and "a\"b"@c.example`, "refused <redacted> and <redacted>"},
		{"relayed to bob@[192.0.2.1], <x@[IPv6:2001:db8::1]>", "relayed to <redacted>, <redacted>"},
	} {
		if got := redactAddresses(tc.in); got != tc.want {
			t.Errorf("redactAddresses(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
