package jndi

import (
	"errors"
	"strconv"
	"sync"
)

// EventKind tells what happened to a watched name.
type EventKind int

// The kinds of [Event].
const (
	Bound   EventKind = iota + 1 // bound where nothing was bound
	Rebound                      // replaced by Rebind
	Unbound                      // removed by Unbind
)

// String returns "bound", "rebound" or "unbound".
func (k EventKind) String() string {
	switch k {
	case Bound:
		return "bound"
	case Rebound:
		return "rebound"
	case Unbound:
		return "unbound"
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Event tells a watcher that the binding of Name changed.
type Event struct {
	Name string    // canonical name (see Normalize)
	Kind EventKind // Bound, Rebound or Unbound
	Old  any       // the object replaced or removed; nil for Bound
	New  any       // the object now bound; nil for Unbound
	// For a lazy binding Old and New are nil until its factory has
	// succeeded: an object never created needs no clean-up.
}

// Watch calls fn each time name (in any of its forms) is bound, rebound or
// unbound, until stop is called. It is how holders of a shared object learn
// that it was replaced at run time, for example to drop a mail session the
// control panel has rebound, or to close the Old one.
//
// fn runs in the goroutine that changed the binding, after the registry's
// lock is released, so fn may call any method of the registry (Lookup,
// Rebind, even stop). The events of one watcher are delivered one at a
// time, in the order the changes happened; if a change happens while fn is
// running for an earlier one, the goroutine already delivering hands it
// over, so Bind, Rebind or Unbind may return before every watcher has seen
// their event. A slow fn delays the goroutine that made the change.
//
// stop is idempotent and safe to call from fn. After stop returns, fn is
// not called for later changes (a delivery already under way may finish). Watch starts no
// goroutine, so a forgotten stop leaks nothing but the watcher itself. It
// fails only for an invalid name or a nil fn.
func (r *Registry) Watch(name string, fn func(Event)) (stop func(), err error) {
	key, err := r.key("watch", name)
	if err != nil {
		return nil, err
	}
	if fn == nil {
		return nil, &NameError{Op: "watch", Name: name, Err: errors.New("nil callback")}
	}
	w := &watcher{fn: fn}
	r.mu.Lock()
	if r.watchers == nil {
		r.watchers = make(map[string]map[*watcher]struct{})
	}
	set := r.watchers[key]
	if set == nil {
		set = make(map[*watcher]struct{})
		r.watchers[key] = set
	}
	set[w] = struct{}{}
	r.mu.Unlock()

	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			delete(r.watchers[key], w)
			if len(r.watchers[key]) == 0 {
				delete(r.watchers, key)
			}
			r.mu.Unlock()
			w.stop()
		})
	}, nil
}

// enqueueLocked queues ev for the watchers of ev.Name and returns them, to
// be handed to deliver once r.mu is released. The caller holds r.mu, which
// fixes the order of events.
func (r *Registry) enqueueLocked(ev Event) []*watcher {
	set := r.watchers[ev.Name]
	if len(set) == 0 {
		return nil
	}
	ws := make([]*watcher, 0, len(set))
	for w := range set {
		w.enqueue(ev)
		ws = append(ws, w)
	}
	return ws
}

// deliver runs the queued events of ws. The caller must not hold r.mu. If
// a callback panics, the other watchers still get their events before the
// panic goes on to the caller.
func deliver(ws []*watcher) {
	for i, w := range ws {
		ok := false
		func() {
			defer func() {
				if !ok {
					deliver(ws[i+1:])
				}
			}()
			w.drain()
			ok = true
		}()
	}
}

// watcher is one Watch registration with its queue of undelivered events.
type watcher struct {
	fn       func(Event)
	mu       sync.Mutex
	queue    []Event
	draining bool // a goroutine is delivering this watcher's queue
	stopped  bool
}

func (w *watcher) enqueue(ev Event) {
	w.mu.Lock()
	if !w.stopped {
		w.queue = append(w.queue, ev)
	}
	w.mu.Unlock()
}

func (w *watcher) stop() {
	w.mu.Lock()
	w.stopped = true
	w.queue = nil
	w.mu.Unlock()
}

// drain delivers queued events until the queue is empty, unless another
// goroutine is already doing so. If fn panics the panic propagates to the
// caller and the watcher stays usable.
func (w *watcher) drain() {
	w.mu.Lock()
	if w.draining {
		w.mu.Unlock()
		return
	}
	w.draining = true
	w.mu.Unlock()
	finished := false
	defer func() {
		if !finished { // fn panicked
			w.mu.Lock()
			w.draining = false
			w.mu.Unlock()
		}
	}()
	for {
		ev, ok := w.next()
		if !ok {
			finished = true
			return
		}
		w.fn(ev)
	}
}

// next pops the oldest queued event. When there is none it ends the drain
// in the same critical section, so an event queued concurrently is never
// left behind.
func (w *watcher) next() (Event, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped || len(w.queue) == 0 {
		w.draining = false
		return Event{}, false
	}
	ev := w.queue[0]
	w.queue[0] = Event{}
	w.queue = w.queue[1:]
	return ev, true
}
