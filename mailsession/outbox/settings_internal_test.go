package outbox

import (
	"context"
	"slices"
	"testing"
	"time"
)

// The limiter hands out one slot per interval, in order, never two at once.
func TestLimiterSlots(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newLimiter(4) // every 250 ms
	l.now = func() time.Time { return now }
	var got []time.Duration
	for range 3 {
		got = append(got, l.reserve().Sub(now))
	}
	if want := []time.Duration{0, 250 * time.Millisecond, 500 * time.Millisecond}; !slices.Equal(got, want) {
		t.Fatalf("slots %v, want %v", got, want)
	}
	// Idle time does not accumulate into a burst.
	now = now.Add(time.Hour)
	if a, b := l.reserve(), l.reserve(); !a.Equal(now) || b.Sub(a) != 250*time.Millisecond {
		t.Fatalf("after idling: %v, %v", a.Sub(now), b.Sub(now))
	}
}

// wait returns ctx's error when ctx ends before its slot.
func TestLimiterWaitCanceled(t *testing.T) {
	l := newLimiter(0.001) // every 1000 s
	if err := l.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.wait(ctx) }()
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("wait: %v, want context.Canceled", err)
	}
	var none *limiter
	if err := none.wait(context.Background()); err != nil {
		t.Fatalf("nil limiter: %v", err)
	}
}

func TestBatches(t *testing.T) {
	r := []string{"a", "b", "c", "d", "e"}
	for _, tc := range []struct {
		n    int
		want [][]string
	}{
		{0, [][]string{r}},
		{5, [][]string{r}},
		{2, [][]string{{"a", "b"}, {"c", "d"}, {"e"}}},
		{1, [][]string{{"a"}, {"b"}, {"c"}, {"d"}, {"e"}}},
	} {
		got := (&settings{batchSize: tc.n}).batches(r)
		if !slices.EqualFunc(got, tc.want, slices.Equal) {
			t.Errorf("batch size %d: %v, want %v", tc.n, got, tc.want)
		}
	}
}
