package jndi

import (
	"errors"
	"runtime"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
)

// recorder collects events; safe for concurrent use.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (rec *recorder) record(ev Event) {
	rec.mu.Lock()
	rec.events = append(rec.events, ev)
	rec.mu.Unlock()
}

func (rec *recorder) get() []Event {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.events)
}

func TestWatchEvents(t *testing.T) {
	r := NewRegistry()
	var rec recorder
	stop, err := r.Watch("java:comp/env/mail/MailSession", rec.record)
	if err != nil {
		t.Fatal(err)
	}
	other, err := r.Watch("mail/Other", func(ev Event) { t.Errorf("watcher of mail/Other told %+v", ev) })
	if err != nil {
		t.Fatal(err)
	}
	defer other()

	a, b := &session{host: "a"}, &session{host: "b"}
	must(t, r.Bind("mail/MailSession", a))
	must(t, r.Rebind("java:mail/MailSession", b))
	must(t, r.Unbind("mail//MailSession"))
	must(t, r.Rebind("mail/MailSession", a)) // Rebind of a free name is a Bound event
	stop()
	stop() // idempotent
	must(t, r.Rebind("mail/MailSession", b))

	want := []Event{
		{Name: "mail/MailSession", Kind: Bound, New: a},
		{Name: "mail/MailSession", Kind: Rebound, Old: a, New: b},
		{Name: "mail/MailSession", Kind: Unbound, Old: b},
		{Name: "mail/MailSession", Kind: Bound, New: a},
	}
	if got := rec.get(); !slices.Equal(got, want) {
		t.Fatalf("events = %+v\nwant %+v", got, want)
	}
}

func TestWatchInvalid(t *testing.T) {
	r := NewRegistry()
	if _, err := r.Watch("mail/x", nil); err == nil {
		t.Error("Watch with a nil callback succeeded")
	}
	if _, err := r.Watch("java:", func(Event) {}); !errors.Is(err, ErrInvalidName) {
		t.Errorf("Watch(java:) = %v, want ErrInvalidName", err)
	}
}

func TestEventKindString(t *testing.T) {
	for k, want := range map[EventKind]string{Bound: "bound", Rebound: "rebound", Unbound: "unbound", 0: "EventKind(0)"} {
		if got := k.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(k), got, want)
		}
	}
}

// TestWatchCallbackUsesRegistry: callbacks run without the registry lock,
// so they may look up, rebind and stop; nested events stay in order.
func TestWatchCallbackUsesRegistry(t *testing.T) {
	r := NewRegistry()
	var seen []string
	var stop func()
	stop, err := r.Watch("mail/MailSession", func(ev Event) {
		cur, err := r.Lookup("mail/MailSession")
		if err == nil {
			seen = append(seen, ev.Kind.String()+":"+cur.(*session).host)
		} else {
			seen = append(seen, ev.Kind.String()+":gone")
		}
		switch ev.Kind {
		case Bound: // replace what was bound: a nested change
			must(t, r.Rebind("mail/MailSession", &session{host: "second"}))
		case Rebound:
			must(t, r.Unbind("mail/MailSession"))
		case Unbound:
			stop()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	must(t, r.Bind("mail/MailSession", &session{host: "first"}))
	must(t, r.Bind("mail/MailSession", &session{host: "third"})) // after stop: not seen
	// Each callback looks up before making its nested change, and the
	// nested change's event is delivered after the callback returns.
	want := []string{"bound:first", "rebound:second", "unbound:gone"}
	if !slices.Equal(seen, want) {
		t.Fatalf("seen = %q, want %q", seen, want)
	}
}

func TestWatchLazyOld(t *testing.T) {
	r := NewRegistry()
	var rec recorder
	stop, err := r.Watch("a", rec.record)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	must(t, r.BindFactory("a", func() (any, error) { return "made", nil }))
	must(t, r.Rebind("a", "eager"))                                         // never made: Old is nil
	must(t, r.Unbind("a"))                                                  //
	must(t, r.BindFactory("a", func() (any, error) { return "made", nil })) //
	if _, err := r.Lookup("a"); err != nil {
		t.Fatal(err)
	}
	must(t, r.Rebind("a", "eager")) // made: Old is the object, for clean-up
	want := []Event{
		{Name: "a", Kind: Bound},
		{Name: "a", Kind: Rebound, New: "eager"},
		{Name: "a", Kind: Unbound, Old: "eager"},
		{Name: "a", Kind: Bound},
		{Name: "a", Kind: Rebound, Old: "made", New: "eager"},
	}
	if got := rec.get(); !slices.Equal(got, want) {
		t.Fatalf("events = %+v\nwant %+v", got, want)
	}
}

func TestWatchPanicKeepsWatcher(t *testing.T) {
	r := NewRegistry()
	calls := 0
	stop, err := r.Watch("a", func(ev Event) {
		calls++
		if calls == 1 {
			panic("callback failed")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the callback's panic did not reach Bind's caller")
			}
		}()
		_ = r.Bind("a", 1)
	}()
	if got, err := r.Lookup("a"); got != 1 || err != nil {
		t.Fatalf("binding lost after a callback panic: %v, %v", got, err)
	}
	must(t, r.Rebind("a", 2))
	if calls != 2 {
		t.Fatalf("callback ran %d times, want 2", calls)
	}
}

// A panicking callback does not keep the event from the other watchers of
// the name (whatever order they are called in).
func TestWatchPanicSparesOtherWatchers(t *testing.T) {
	r := NewRegistry()
	var got []Event
	for i := range 3 {
		stop, err := r.Watch("a", func(ev Event) {
			if i == 1 {
				panic("callback failed")
			}
			got = append(got, ev)
		})
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the callback's panic did not reach Bind's caller")
			}
		}()
		_ = r.Bind("a", 1)
	}()
	if len(got) != 2 || got[0].New != 1 || got[1].New != 1 {
		t.Fatalf("the other watchers saw %+v, want the Bound event twice", got)
	}
}

// TestWatchConcurrent: every change of many concurrent writers reaches
// every watcher exactly once, and the last event is the final state.
func TestWatchConcurrent(t *testing.T) {
	r := NewRegistry()
	const writers, rounds, watchers = 4, 200, 3
	recs := make([]*recorder, watchers)
	for i := range recs {
		recs[i] = new(recorder)
		stop, err := r.Watch("mail/MailSession", recs[i].record)
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for n := range rounds {
				must(t, r.Rebind("mail/MailSession", w*rounds+n))
			}
		})
	}
	for range 4 {
		wg.Go(func() {
			for range rounds {
				if _, err := r.Lookup("mail/MailSession"); err != nil && !errors.Is(err, ErrNameNotFound) {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	final, err := r.Lookup("mail/MailSession")
	if err != nil {
		t.Fatal(err)
	}
	for i, rec := range recs {
		evs := rec.get()
		if len(evs) != writers*rounds {
			t.Fatalf("watcher %d got %d events, want %d", i, len(evs), writers*rounds)
		}
		for j := 1; j < len(evs); j++ { // a chain: each Old is the previous New
			if evs[j].Old != evs[j-1].New || evs[j].Kind != Rebound {
				t.Fatalf("watcher %d event %d = %+v after %+v: out of order", i, j, evs[j], evs[j-1])
			}
		}
		if evs[0].Kind != Bound || evs[len(evs)-1].New != final {
			t.Fatalf("watcher %d: first %+v, last %+v, final binding %v", i, evs[0], evs[len(evs)-1], final)
		}
	}
}

// TestWatchNoGoroutineLeak: inside a synctest bubble, the test fails if a
// goroutine started by Watch or by a change outlives it.
func TestWatchNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	synctest.Test(t, func(t *testing.T) {
		r := NewRegistry()
		for i := range 10 {
			stop, err := r.Watch("mail/MailSession", func(Event) {})
			if err != nil {
				t.Fatal(err)
			}
			must(t, r.Rebind("mail/MailSession", i))
			if i%2 == 0 {
				stop()
			} // the others are forgotten: they must not hold goroutines either
		}
		synctest.Wait()
	})
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("goroutines: %d before, %d after", before, after)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Error(err)
	}
}
