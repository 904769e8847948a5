package jndi

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// errFactoryNil is returned when a factory returns neither an object nor an
// error.
var errFactoryNil = errors.New("factory returned a nil object")

// BindFactory binds a lazy object under name: f runs on the first look-up
// and its object is returned by that and every later look-up. f runs at
// most once at a time; when many goroutines look the name up together, one
// runs f and the others wait for its object. If f fails, that look-up gets
// its error (wrapped) and the next look-up, including one that was waiting,
// runs f again.
//
// f must not look up its own name (that would wait for itself); it may look
// up others. Like [Registry.Bind], BindFactory fails if the name is taken;
// [Registry.Rebind] and [Registry.Unbind] replace or remove a lazy binding
// like any other. The Event of a lazy binding carries the object only once
// f has succeeded (nil before). If the binding is replaced or removed while
// f runs, the look-ups waiting for that run still get its object, but the
// Event of that change does not carry it.
func (r *Registry) BindFactory(name string, f func() (any, error)) error {
	if f == nil {
		return &NameError{Op: "bind", Name: name, Err: ErrNilObject}
	}
	_, err := r.bind("bind", name, &entry{lazy: &lazyObject{f: f}}, false)
	return err
}

// lazyObject runs its factory until it succeeds once.
type lazyObject struct {
	f   func() (any, error)
	run sync.Mutex          // held while f runs
	obj atomic.Pointer[any] // set once f succeeded
}

// get returns the object, running the factory if it has not succeeded yet.
func (l *lazyObject) get() (any, error) {
	if p := l.obj.Load(); p != nil {
		return *p, nil
	}
	l.run.Lock()
	defer l.run.Unlock()
	if p := l.obj.Load(); p != nil { // made while we waited
		return *p, nil
	}
	obj, err := l.f()
	if err != nil {
		return nil, fmt.Errorf("factory: %w", err)
	}
	if obj == nil {
		return nil, errFactoryNil
	}
	l.obj.Store(&obj)
	return obj, nil
}

// created returns the object if the factory has succeeded, else nil. It
// never waits for a running factory.
func (l *lazyObject) created() any {
	if p := l.obj.Load(); p != nil {
		return *p
	}
	return nil
}
