package jndi

import (
	"errors"
	"sync"
	"testing"
)

func TestSwapReturnsReplacedObject(t *testing.T) {
	r := NewRegistry()
	old, err := r.Swap("mail/MailSession", "first")
	if err != nil || old != nil {
		t.Fatalf("Swap on a free name = %v, %v; want nil, nil", old, err)
	}
	old, err = r.Swap("java:comp/env/mail/MailSession", "second")
	if err != nil || old != "first" {
		t.Fatalf("Swap = %v, %v; want first, nil", old, err)
	}
	if got, _ := r.Lookup("mail/MailSession"); got != "second" {
		t.Fatalf("Lookup after Swap = %v; want second", got)
	}
	if _, err := r.Swap("mail/MailSession", nil); !errors.Is(err, ErrNilObject) {
		t.Fatalf("Swap(nil) = %v; want ErrNilObject", err)
	}
	if _, err := r.Swap("", "x"); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("Swap on an empty name = %v; want ErrInvalidName", err)
	}
}

func TestSwapLazyNeverCreated(t *testing.T) {
	r := NewRegistry()
	if err := r.BindFactory("mail/MailSession", func() (any, error) { return "made", nil }); err != nil {
		t.Fatal(err)
	}
	old, err := r.Swap("mail/MailSession", "plain")
	if err != nil || old != nil {
		t.Fatalf("Swap over an unrun factory = %v, %v; want nil, nil", old, err)
	}
}

func TestSwapEvent(t *testing.T) {
	r := NewRegistry()
	if err := r.Bind("mail/MailSession", "first"); err != nil {
		t.Fatal(err)
	}
	var got []Event
	stop, err := r.Watch("mail/MailSession", func(e Event) { got = append(got, e) })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if _, err := r.Swap("mail/MailSession", "second"); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Kind != Rebound || got[0].Old != "first" || got[0].New != "second" {
		t.Fatalf("events = %+v; want one Rebound first → second", got)
	}
}

// TestSwapConcurrentHandsEachObjectBackOnce swaps from many goroutines at
// once: every object bound is returned by exactly one Swap, or is the one
// left bound, so an owner that closes what it swapped out closes each
// object once and never one it did not replace.
func TestSwapConcurrentHandsEachObjectBackOnce(t *testing.T) {
	r := NewRegistry()
	const goroutines, perG = 8, 200
	returned := make(chan any, goroutines*perG)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perG {
				old, err := r.Swap("mail/MailSession", g*perG+i+1)
				if err != nil {
					t.Error(err)
					return
				}
				if old != nil {
					returned <- old
				}
			}
		}()
	}
	wg.Wait()
	close(returned)
	seen := make(map[any]bool)
	for o := range returned {
		if seen[o] {
			t.Fatalf("object %v returned by two swaps", o)
		}
		seen[o] = true
	}
	last, err := r.Lookup("mail/MailSession")
	if err != nil {
		t.Fatal(err)
	}
	if seen[last] {
		t.Fatalf("the bound object %v was also returned as replaced", last)
	}
	if len(seen)+1 != goroutines*perG {
		t.Fatalf("%d objects returned + 1 bound; want %d", len(seen), goroutines*perG)
	}
}
