package jndi

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Registry binds names to shared objects. It is safe for concurrent use by
// multiple goroutines. Look-ups take no lock; a change copies the table of
// bindings, which suits registries that are read far more than written
// (bind at start-up, rebind on reconfiguration). The zero Registry is empty
// and ready to use; it must not be copied after first use.
type Registry struct {
	// entries maps canonical names to bindings. The map is never modified
	// once published: writers copy it under mu and swap the pointer, so
	// look-ups take no lock.
	entries atomic.Pointer[map[string]*entry]

	mu        sync.Mutex                       // serialises changes
	watchers  map[string]map[*watcher]struct{} // by canonical name
	factories map[string]ResourceFactory       // by resource type
}

// snapshot returns the current bindings; the caller must not modify them.
func (r *Registry) snapshot() map[string]*entry {
	if m := r.entries.Load(); m != nil {
		return *m
	}
	return nil
}

// updateLocked publishes a copy of the bindings changed by edit. The
// caller holds r.mu.
func (r *Registry) updateLocked(edit func(m map[string]*entry)) {
	old := r.snapshot()
	m := make(map[string]*entry, len(old)+1)
	maps.Copy(m, old)
	edit(m)
	r.entries.Store(&m)
}

// entry is one binding: a plain object or a lazy factory.
type entry struct {
	obj  any
	lazy *lazyObject
}

// value returns the bound object, running a lazy factory if needed.
func (e *entry) value() (any, error) {
	if e.lazy != nil {
		return e.lazy.get()
	}
	return e.obj, nil
}

// current returns the object without running a factory: nil for a lazy
// entry whose factory has not succeeded yet. It never blocks.
func (e *entry) current() any {
	if e.lazy != nil {
		return e.lazy.created()
	}
	return e.obj
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{}
}

// Bind binds obj under name. It fails with an error matching
// [ErrAlreadyBound] if the name is taken (in any of its forms),
// [ErrInvalidName] for an invalid name and [ErrNilObject] for a nil obj.
func (r *Registry) Bind(name string, obj any) error {
	if obj == nil {
		return &NameError{Op: "bind", Name: name, Err: ErrNilObject}
	}
	_, err := r.bind("bind", name, &entry{obj: obj}, false)
	return err
}

// Rebind binds obj under name, replacing any object bound there. Watchers
// of the name are told (see [Registry.Watch]).
func (r *Registry) Rebind(name string, obj any) error {
	if obj == nil {
		return &NameError{Op: "rebind", Name: name, Err: ErrNilObject}
	}
	_, err := r.bind("rebind", name, &entry{obj: obj}, true)
	return err
}

// Swap binds obj under name like [Registry.Rebind] and returns the object it
// replaced: nil when the name was free or held a lazy factory that had not
// run yet. Look-up and replacement are one step, so no other Bind or Rebind
// comes between them: whoever swaps out an object it owns may close it,
// knowing it closes what it replaced and nothing bound by somebody else.
func (r *Registry) Swap(name string, obj any) (old any, err error) {
	if obj == nil {
		return nil, &NameError{Op: "swap", Name: name, Err: ErrNilObject}
	}
	return r.bind("swap", name, &entry{obj: obj}, true)
}

// bind stores e under name and returns the object it replaced; replace
// tells Rebind and Swap from Bind.
func (r *Registry) bind(op, name string, e *entry, replace bool) (any, error) {
	key, err := r.key(op, name)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	old, taken := r.snapshot()[key]
	if taken && !replace {
		r.mu.Unlock()
		return nil, &NameError{Op: op, Name: name, Err: ErrAlreadyBound}
	}
	r.updateLocked(func(m map[string]*entry) { m[key] = e })
	ev := Event{Name: key, Kind: Bound, New: e.current()}
	if taken {
		ev.Kind, ev.Old = Rebound, old.current()
	}
	ws := r.enqueueLocked(ev)
	r.mu.Unlock()
	deliver(ws)
	return ev.Old, nil
}

// Unbind removes the binding of name. It fails with an error matching
// [ErrNameNotFound] if nothing is bound there.
func (r *Registry) Unbind(name string) error {
	key, err := r.key("unbind", name)
	if err != nil {
		return err
	}
	r.mu.Lock()
	old, ok := r.snapshot()[key]
	if !ok {
		r.mu.Unlock()
		return &NameError{Op: "unbind", Name: name, Err: ErrNameNotFound}
	}
	r.updateLocked(func(m map[string]*entry) { delete(m, key) })
	ws := r.enqueueLocked(Event{Name: key, Kind: Unbound, Old: old.current()})
	r.mu.Unlock()
	deliver(ws)
	return nil
}

// Lookup returns the object bound under name, in any of its forms
// ("mail/MailSession", "java:mail/MailSession",
// "java:comp/env/mail/MailSession"). A lazy binding is created on its first
// look-up (see [Registry.BindFactory]). It fails with an error matching
// [ErrNameNotFound] if nothing is bound there.
func (r *Registry) Lookup(name string) (any, error) {
	bound := r.snapshot()
	// Fast path: every key is a valid canonical name, so a name found as
	// it is needs no normalising.
	e, ok := bound[name]
	if !ok {
		key, err := r.key("lookup", name)
		if err != nil {
			return nil, err
		}
		e, ok = bound[key]
	}
	if !ok {
		return nil, &NameError{Op: "lookup", Name: name, Err: ErrNameNotFound}
	}
	obj, err := e.value()
	if err != nil {
		return nil, &NameError{Op: "lookup", Name: name, Err: err}
	}
	return obj, nil
}

// LookupAs looks name up in r (the default registry if r is nil) and
// returns the object as a T. If the object is not a T the error is a
// *[TypeError].
func LookupAs[T any](r *Registry, name string) (T, error) {
	var zero T
	if r == nil {
		r = Default()
	}
	obj, err := r.Lookup(name)
	if err != nil {
		return zero, err
	}
	t, ok := obj.(T)
	if !ok {
		return zero, &TypeError{Name: name, Want: reflect.TypeFor[T](), Got: reflect.TypeOf(obj)}
	}
	return t, nil
}

// List returns the canonical names (see [Normalize]) bound under the
// context prefix, sorted: the names equal to prefix or starting with prefix
// followed by '/'. Components are compared whole, so "mail" does not match
// "mailer/x". An empty prefix, "/", "java:" or "java:comp/env" lists every
// name. An invalid prefix (a control character) lists nothing. Lazy
// bindings are listed without running their factories.
func (r *Registry) List(prefix string) []string {
	ctx, ok := contextKey(prefix)
	if !ok {
		return nil
	}
	var names []string
	for key := range r.snapshot() {
		if ctx == "" || key == ctx || strings.HasPrefix(key, ctx) && key[len(ctx)] == '/' {
			names = append(names, key)
		}
	}
	slices.Sort(names)
	return names
}

// contextKey normalises a List prefix; the root context is "".
func contextKey(prefix string) (string, bool) {
	key, reason := normalize(prefix)
	if reason == "" {
		return key, true
	}
	rest, _ := stripPrefix(strings.TrimLeft(prefix, "/"))
	if strings.Trim(rest, "/") == "" {
		return "", true
	}
	return "", false
}

// key normalises name for op, or returns the invalid-name error.
func (r *Registry) key(op, name string) (string, error) {
	key, err := Normalize(name)
	if err != nil {
		err.(*NameError).Op = op
		return "", err
	}
	return key, nil
}
