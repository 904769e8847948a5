package jndi

import (
	"errors"
	"fmt"
	"reflect"
)

// Sentinel errors. Errors returned by this package wrap them (use
// [errors.Is]) and their text names the name concerned.
var (
	// ErrNameNotFound: nothing is bound under the name.
	ErrNameNotFound = errors.New("name not found")
	// ErrAlreadyBound: Bind found the name taken; use Rebind to replace.
	ErrAlreadyBound = errors.New("name already bound")
	// ErrInvalidName: the name can never be bound (empty, only separators
	// or an environment prefix, a control character, invalid UTF-8).
	ErrInvalidName = errors.New("invalid name")
	// ErrNilObject: a nil object or factory was given to bind.
	ErrNilObject = errors.New("nil object")
)

// NameError reports a failed operation on a name. Err wraps one of the
// sentinel errors (or a factory's error), so errors.Is works through it.
type NameError struct {
	Op   string // "bind", "rebind", "unbind", "lookup", "watch"; may be empty
	Name string // the name as the caller gave it
	Err  error
}

// Error names the operation and the name.
func (e *NameError) Error() string {
	if e.Op == "" {
		return fmt.Sprintf("jndi: %q: %v", e.Name, e.Err)
	}
	return fmt.Sprintf("jndi: %s %q: %v", e.Op, e.Name, e.Err)
}

// Unwrap returns the underlying error.
func (e *NameError) Unwrap() error { return e.Err }

// TypeError is returned by [LookupAs] when the object bound under Name is
// not of the requested type. Use [errors.As] to get it.
type TypeError struct {
	Name string       // the name as the caller gave it
	Want reflect.Type // the requested type
	Got  reflect.Type // the dynamic type of the bound object
}

// Error names the name and both types.
func (e *TypeError) Error() string {
	return fmt.Sprintf("jndi: lookup %q: bound object is %v, not %v", e.Name, e.Got, e.Want)
}
