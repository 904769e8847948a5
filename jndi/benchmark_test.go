package jndi

import (
	"fmt"
	"sync"
	"testing"
)

// The baselines are what a Go program would write by hand: a map behind a
// sync.RWMutex, and a sync.Map, each keyed by the exact name (no name
// forms, no lazy objects, no watchers).

func benchNames() []string {
	names := make([]string, 32)
	for i := range names {
		names[i] = fmt.Sprintf("mail/MailSession%d", i)
	}
	return names
}

func BenchmarkLookup(b *testing.B) {
	names := benchNames()
	r := NewRegistry()
	for _, n := range names {
		if err := r.Bind(n, n); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("jndi", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := r.Lookup(names[i%len(names)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("jndi-java:comp/env", func(b *testing.B) {
		full := make([]string, len(names))
		for i, n := range names {
			full[i] = "java:comp/env/" + n
		}
		for i := 0; b.Loop(); i++ {
			if _, err := r.Lookup(full[i%len(full)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	var mu sync.RWMutex
	m := make(map[string]any)
	for _, n := range names {
		m[n] = n
	}
	b.Run("baseline-rwmutex-map", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			mu.RLock()
			_, ok := m[names[i%len(names)]]
			mu.RUnlock()
			if !ok {
				b.Fatal("missing")
			}
		}
	})
	var sm sync.Map
	for _, n := range names {
		sm.Store(n, n)
	}
	b.Run("baseline-sync.Map", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, ok := sm.Load(names[i%len(names)]); !ok {
				b.Fatal("missing")
			}
		}
	})
}

// BenchmarkLookupParallel measures look-ups from all CPUs at once, the
// shape of a server where every request finds the shared session.
func BenchmarkLookupParallel(b *testing.B) {
	names := benchNames()
	r := NewRegistry()
	for _, n := range names {
		if err := r.Bind(n, n); err != nil {
			b.Fatal(err)
		}
	}
	if err := r.BindFactory("mail/Lazy", func() (any, error) { return 1, nil }); err != nil {
		b.Fatal(err)
	}
	b.Run("jndi", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if _, err := r.Lookup(names[i%len(names)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("jndi-lazy", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := r.Lookup("mail/Lazy"); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	var mu sync.RWMutex
	m := make(map[string]any)
	for _, n := range names {
		m[n] = n
	}
	b.Run("baseline-rwmutex-map", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				mu.RLock()
				_, ok := m[names[i%len(names)]]
				mu.RUnlock()
				if !ok {
					b.Fatal("missing")
				}
			}
		})
	})
	var sm sync.Map
	for _, n := range names {
		sm.Store(n, n)
	}
	b.Run("baseline-sync.Map", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if _, ok := sm.Load(names[i%len(names)]); !ok {
					b.Fatal("missing")
				}
			}
		})
	})
}
