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
	flashLimit = 64 // outcomes kept at most; the oldest goes first
	flashParam = "saved"
)

type flash struct {
	owner   string // MAC of the CSRF cookie of the browser that saved
	notice  *notice
	report  *reportView
	expires time.Time
}

type flashes struct {
	mu    sync.Mutex
	items map[string]flash
}

// put stores an outcome for the browser of r and returns its id.
func (fs *flashes) put(owner string, n *notice, rep *reportView) string {
	id := rand.Text()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.items == nil {
		fs.items = map[string]flash{}
	}
	now := time.Now()
	var oldestID string
	var oldest time.Time
	for k, f := range fs.items {
		if now.After(f.expires) {
			delete(fs.items, k)
		} else if oldestID == "" || f.expires.Before(oldest) {
			oldestID, oldest = k, f.expires
		}
	}
	if len(fs.items) >= flashLimit {
		delete(fs.items, oldestID)
	}
	fs.items[id] = flash{owner: owner, notice: n, report: rep, expires: now.Add(flashTTL)}
	return id
}

// get returns the outcome id for owner, if it is still there. It stays
// until it expires, so a reload shows it again.
func (fs *flashes) get(owner, id string) (flash, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f, ok := fs.items[id]
	if !ok || f.owner != owner || time.Now().After(f.expires) {
		return flash{}, false
	}
	return f, true
}

// seeOther sends the browser to the page's own URL with the outcome id.
// The Location is relative (query and fragment only), so it is right
// wherever the host mounted the handler, http.StripPrefix included.
func seeOther(w http.ResponseWriter, id string) {
	w.Header().Set("Location", "?"+flashParam+"="+id+"#report")
	w.WriteHeader(http.StatusSeeOther)
}
