package mailsession_test

import (
	"context"
	"fmt"
	"log"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/mailsession/mailtest"
)

// A session with OpenTelemetry metrics and traces: give it the providers
// of your SDK set-up (here an in-memory reader and span recorder; in a
// service, an OTLP or Prometheus exporter). Without them nothing is
// recorded.
func ExampleWithMeterProvider() {
	srv, err := mailtest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))

	s, err := mailsession.FromProperties(srv.Properties(mailtest.StartTLS, ""),
		mailsession.WithRootCAs(srv.CertPool()), quiet,
		mailsession.WithMeterProvider(mp), mailsession.WithTracerProvider(tp))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Send(ctx, &mailsession.Message{To: []string{"ann@example.org"}, Subject: "Hello", Text: "Hi!\n"}); err != nil {
		log.Fatal(err)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		log.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if sum, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "smtp.client.sends" {
				for _, dp := range sum.DataPoints {
					outcome, _ := dp.Attributes.Value("mail.send.outcome")
					fmt.Println(m.Name, m.Unit, outcome.AsString(), dp.Value)
				}
			}
		}
	}
	for _, sp := range spans.Ended() {
		for _, kv := range sp.Attributes() {
			if kv.Key == "smtp.reply.code" || kv.Key == "tls.protocol.version" {
				fmt.Println(sp.Name(), kv.Key, kv.Value.Emit())
			}
		}
	}
	// Output:
	// smtp.client.sends {message} sent 1
	// smtp send tls.protocol.version 1.3
	// smtp send smtp.reply.code 250
}
