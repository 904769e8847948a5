package outbox_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/mailsession/mailtest"
	"github.com/jmailgo/jmail/mailsession/outbox"
)

// The outbox's benchmarks, to compare side by side in one run:
//
//	JMAIL_TEST_POSTGRES=postgres://... go test -run '^$' -bench . -benchmem ./mailsession/outbox/
//
// BenchmarkEnqueue: durable enqueues per second, on SQLite and (when
// JMAIL_TEST_POSTGRES is set) PostgreSQL. BenchmarkDrain: messages per
// second to the embedded server, sent by the outbox's workers against the
// same messages given to Session.Send by as many goroutines.

const benchWorkers = 4

func benchSession(b *testing.B, srv *mailtest.Server) *mailsession.Session {
	b.Helper()
	p := srv.Properties(mailtest.Plain, "")
	p.Set("mail.smtp.connectionpoolsize", fmt.Sprint(benchWorkers))
	s, err := mailsession.FromProperties(p)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// benchDatabases are the databases this run can measure.
func benchDatabases() []string {
	dbs := []string{"sqlite"}
	if os.Getenv(postgresEnv) != "" {
		dbs = append(dbs, "postgres")
	}
	return dbs
}

func benchDB(b *testing.B, kind string) testDB {
	if kind == "postgres" {
		return testDBAt(b, os.Getenv(postgresEnv))
	}
	return testDBAt(b, "")
}

func BenchmarkEnqueue(b *testing.B) {
	for _, kind := range benchDatabases() {
		b.Run(kind, func(b *testing.B) {
			srv := mailtest.NewServer(b)
			ob, err := outbox.Open(context.Background(), benchSession(b, srv), benchDB(b, kind), fast()...)
			if err != nil {
				b.Fatal(err)
			}
			defer ob.Close()
			ctx := context.Background()
			m := msg("rcpt@example.org")
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := ob.Enqueue(ctx, m); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

func BenchmarkDrain(b *testing.B) {
	b.Run("direct-Send", func(b *testing.B) {
		srv := mailtest.NewServer(b)
		s := benchSession(b, srv)
		ctx := context.Background()
		m := msg("rcpt@example.org")
		var next atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		var wg sync.WaitGroup
		for range benchWorkers {
			wg.Go(func() {
				for next.Add(1) <= int64(b.N) {
					if err := s.Send(ctx, m); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		if got := len(srv.Received()); got != b.N {
			b.Fatalf("server received %d, want %d", got, b.N)
		}
	})
	for _, kind := range benchDatabases() {
		b.Run("outbox-"+kind, func(b *testing.B) {
			srv := mailtest.NewServer(b)
			var sent atomic.Int64
			done := make(chan struct{})
			ob, err := outbox.Open(context.Background(), benchSession(b, srv), benchDB(b, kind), fast(
				outbox.WithWorkers(benchWorkers),
				outbox.WithPollInterval(100*time.Millisecond),
				outbox.WithEvents(func(ev outbox.Event) {
					if ev.Kind == outbox.EventSent && sent.Add(1) == int64(b.N) {
						close(done)
					}
				}))...)
			if err != nil {
				b.Fatal(err)
			}
			defer ob.Close()
			ctx := context.Background()
			m := msg("rcpt@example.org")
			// Enqueued first, untimed: the drain alone is measured.
			for range b.N {
				if _, err := ob.Enqueue(ctx, m); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			if err := ob.Start(ctx); err != nil {
				b.Fatal(err)
			}
			select {
			case <-done:
			case <-time.After(10 * time.Minute):
				b.Fatalf("%d of %d sent after 10 minutes", sent.Load(), b.N)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if err := ob.Stop(sctx); err != nil {
				b.Fatal(err)
			}
			if got := len(srv.Received()); got != b.N {
				b.Fatalf("server received %d, want %d", got, b.N)
			}
		})
	}
}
