package jndi

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// TestFactoryOnceUnderConcurrency releases 100 goroutines at once on a
// lazy binding whose factory waits until they have all started looking up.
func TestFactoryOnceUnderConcurrency(t *testing.T) {
	r := NewRegistry()
	var calls atomic.Int32
	const n = 100
	var started sync.WaitGroup
	started.Add(n)
	if err := r.BindFactory("mail/MailSession", func() (any, error) {
		calls.Add(1)
		started.Wait() // every goroutine is inside Lookup (or about to be)
		return &session{host: "lazy"}, nil
	}); err != nil {
		t.Fatal(err)
	}
	start := make(chan struct{})
	results := make([]*session, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			started.Done()
			s, err := LookupAs[*session](r, "java:comp/env/mail/MailSession")
			if err != nil {
				t.Error(err)
			}
			results[i] = s
		})
	}
	close(start)
	wg.Wait()
	if got := calls.Load(); got != 1 {
		t.Fatalf("factory ran %d times, want 1", got)
	}
	for i, s := range results {
		if s == nil || s != results[0] {
			t.Fatalf("goroutine %d got %p, goroutine 0 got %p: want the same object", i, s, results[0])
		}
	}
	if s, _ := r.Lookup("mail/MailSession"); s != results[0] || calls.Load() != 1 {
		t.Fatalf("a later Lookup ran the factory again or got another object")
	}
}

func TestFactoryErrorRetries(t *testing.T) {
	r := NewRegistry()
	boom := errors.New("server unreachable")
	var calls int
	if err := r.BindFactory("mail/MailSession", func() (any, error) {
		calls++
		switch calls {
		case 1:
			return nil, boom
		case 2:
			return nil, nil // neither object nor error
		}
		return "made", nil
	}); err != nil {
		t.Fatal(err)
	}
	_, err := r.Lookup("mail/MailSession")
	var ne *NameError
	if !errors.Is(err, boom) || !errors.As(err, &ne) || ne.Name != "mail/MailSession" {
		t.Fatalf("first Lookup error = %v, want the factory's error in a *NameError", err)
	}
	if _, err := r.Lookup("mail/MailSession"); !errors.Is(err, errFactoryNil) {
		t.Fatalf("second Lookup error = %v, want nil-object error", err)
	}
	for range 3 {
		if got, err := r.Lookup("mail/MailSession"); got != "made" || err != nil {
			t.Fatalf("Lookup = %v, %v; want made", got, err)
		}
	}
	if calls != 3 {
		t.Fatalf("factory ran %d times, want 3 (two failures, one success)", calls)
	}
}

func TestFactoryRebindUnbind(t *testing.T) {
	r := NewRegistry()
	ran := 0
	factory := func() (any, error) { ran++; return "lazy", nil }
	if err := r.BindFactory("a", factory); err != nil {
		t.Fatal(err)
	}
	if err := r.BindFactory("java:a", factory); !errors.Is(err, ErrAlreadyBound) {
		t.Fatalf("BindFactory on a taken name = %v", err)
	}
	if err := r.Rebind("a", "eager"); err != nil { // replace before the factory ran
		t.Fatal(err)
	}
	if got, _ := r.Lookup("a"); got != "eager" || ran != 0 {
		t.Fatalf("after Rebind Lookup = %v (factory ran %d times)", got, ran)
	}
	if err := r.Unbind("a"); err != nil {
		t.Fatal(err)
	}
	if err := r.BindFactory("a", factory); err != nil {
		t.Fatal(err)
	}
	if err := r.Unbind("a"); err != nil { // unbind a lazy entry never looked up
		t.Fatal(err)
	}
	if _, err := r.Lookup("a"); !errors.Is(err, ErrNameNotFound) || ran != 0 {
		t.Fatalf("after Unbind Lookup = %v (factory ran %d times)", err, ran)
	}
}

// TestFactoryMayLookUpOthers: a factory runs without the registry lock.
func TestFactoryMayLookUpOthers(t *testing.T) {
	r := NewRegistry()
	if err := r.Bind("config/host", "smtp.example.com"); err != nil {
		t.Fatal(err)
	}
	if err := r.BindFactory("mail/MailSession", func() (any, error) {
		host, err := LookupAs[string](r, "config/host")
		if err != nil {
			return nil, err
		}
		if err := r.Rebind("config/seen", true); err != nil {
			return nil, err
		}
		return &session{host: host}, nil
	}); err != nil {
		t.Fatal(err)
	}
	s, err := LookupAs[*session](r, "mail/MailSession")
	if err != nil || s.host != "smtp.example.com" {
		t.Fatalf("LookupAs = %v, %v", s, err)
	}
}
