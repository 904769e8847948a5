package controlpanel

import (
	"crypto/rand"
	"net/http"
	"sync"
	"time"
)

// After a successful Save the handler answers 303 See Other and the
// browser loads the page again with GET (post/redirect/get), so reloading
// or going back never submits the form twice. The outcome of the save (the
// banner and the check report) waits for that GET in a short-lived,
// in-memory flash, bound to the browser's CSRF cookie so no one else can
// read it.
const (
	flashTTL   = 10 * time.Minute
	flashLimit = 64 // items kept at most per store; the oldest goes first
	flashParam = "saved"
)

// outcome is what a save's flash holds.
type outcome struct {
	notice *notice
	report *reportView
}

type ownedItem[T any] struct {
	owner   string // MAC of the CSRF cookie of the browser it belongs to
	value   T
	expires time.Time
}

// ownedStore keeps values for one browser each, for flashTTL and at most
// flashLimit of them, under random ids.
type ownedStore[T any] struct {
	mu    sync.Mutex
	items map[string]ownedItem[T]
}

// put stores v for owner and returns its id.
func (s *ownedStore[T]) put(owner string, v T) string {
	id := rand.Text()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.items == nil {
		s.items = map[string]ownedItem[T]{}
	}
	now := time.Now()
	var oldestID string
	var oldest time.Time
	for k, it := range s.items {
		if now.After(it.expires) {
			delete(s.items, k)
		} else if oldestID == "" || it.expires.Before(oldest) {
			oldestID, oldest = k, it.expires
		}
	}
	if len(s.items) >= flashLimit {
		delete(s.items, oldestID)
	}
	s.items[id] = ownedItem[T]{owner: owner, value: v, expires: now.Add(flashTTL)}
	return id
}

// get returns the value id holds for owner, if it is still there. It stays
// until it expires, so a reload finds it again.
func (s *ownedStore[T]) get(owner, id string) (T, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.items[id]
	if !ok || owner == "" || it.owner != owner || time.Now().After(it.expires) {
		var zero T
		return zero, false
	}
	return it.value, true
}

// seeOther sends the browser to the page's own URL with the outcome id.
// The Location is relative (query and fragment only), so it is right
// wherever the host mounted the handler, http.StripPrefix included.
func seeOther(w http.ResponseWriter, id string) {
	w.Header().Set("Location", "?"+flashParam+"="+id+"#report")
	w.WriteHeader(http.StatusSeeOther)
}
