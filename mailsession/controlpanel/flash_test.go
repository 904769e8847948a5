package controlpanel

import "testing"

func TestFlashesBoundedAndOwned(t *testing.T) {
	var fs flashes
	first := fs.put("a", &notice{Title: "first"}, nil)
	for range flashLimit {
		fs.put("a", &notice{}, nil)
	}
	if _, ok := fs.get("a", first); ok {
		t.Error("the oldest outcome was kept past the limit")
	}
	if len(fs.items) != flashLimit {
		t.Errorf("%d outcomes kept, want %d", len(fs.items), flashLimit)
	}
	id := fs.put("a", &notice{Title: "mine"}, nil)
	if f, ok := fs.get("a", id); !ok || f.notice.Title != "mine" {
		t.Error("the owner cannot read its outcome")
	}
	if _, ok := fs.get("b", id); ok {
		t.Error("another owner reads the outcome")
	}
}
