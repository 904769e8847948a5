package controlpanel

import "testing"

func TestOwnedStoreBoundedAndOwned(t *testing.T) {
	var s ownedStore[outcome]
	first := s.put("a", outcome{notice: &notice{Title: "first"}})
	for range flashLimit {
		s.put("a", outcome{notice: &notice{}})
	}
	if _, ok := s.get("a", first); ok {
		t.Error("the oldest outcome was kept past the limit")
	}
	if len(s.items) != flashLimit {
		t.Errorf("%d outcomes kept, want %d", len(s.items), flashLimit)
	}
	id := s.put("a", outcome{notice: &notice{Title: "mine"}})
	if o, ok := s.get("a", id); !ok || o.notice.Title != "mine" {
		t.Error("the owner cannot read its outcome")
	}
	if _, ok := s.get("b", id); ok {
		t.Error("another owner reads the outcome")
	}
	if _, ok := s.get("", id); ok {
		t.Error("a browser without a cookie reads the outcome")
	}
}
