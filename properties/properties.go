// Package properties reads and writes Java .properties files exactly as
// java.util.Properties does in Java 17, for both load(Reader) (UTF-8 text)
// and load(InputStream) (ISO-8859-1 bytes with \uXXXX escapes).
//
// Around the format it offers what configuration code needs: typed getters
// with errors that name the key and the bad value, Sub for key prefixes such
// as Liferay's "mail.session.", Merge for overlays, Liferay's
// environment-variable overrides (LIFERAY_MAIL_PERIOD_SESSION_...), and Edit,
// which changes keys in an existing file while keeping every other byte.
//
// Keys keep their first-appearance order, so Store writes a file in the order
// it was read (Java writes hash order).
package properties

import (
	"iter"
	"strconv"
	"strings"
)

// Properties is an ordered set of string keys and values. The zero value is
// an empty set ready to use. A Properties is not safe for concurrent
// modification; concurrent reads are safe.
type Properties struct {
	index   map[string]int // key -> position in entries
	entries []entry
}

type entry struct {
	key, value string
}

// New returns an empty Properties.
func New() *Properties {
	return &Properties{}
}

// Get returns the value of key and whether the key is present.
func (p *Properties) Get(key string) (string, bool) {
	if p == nil {
		return "", false
	}
	i, ok := p.index[key]
	if !ok {
		return "", false
	}
	return p.entries[i].value, true
}

// Value returns the value of key, or def when the key is absent.
func (p *Properties) Value(key, def string) string {
	if v, ok := p.Get(key); ok {
		return v
	}
	return def
}

// Set sets key to value. A new key goes after all existing keys; an
// existing key keeps its position.
func (p *Properties) Set(key, value string) {
	if i, ok := p.index[key]; ok {
		p.entries[i].value = value
		return
	}
	if p.index == nil {
		p.index = make(map[string]int)
	}
	p.index[key] = len(p.entries)
	p.entries = append(p.entries, entry{key, value})
}

// Delete removes key and reports whether it was present. A nil
// *Properties has nothing to delete.
func (p *Properties) Delete(key string) bool {
	if p == nil {
		return false
	}
	i, ok := p.index[key]
	if !ok {
		return false
	}
	delete(p.index, key)
	copy(p.entries[i:], p.entries[i+1:])
	p.entries[len(p.entries)-1] = entry{}
	p.entries = p.entries[:len(p.entries)-1]
	for j := i; j < len(p.entries); j++ {
		p.index[p.entries[j].key] = j
	}
	return true
}

// Len returns the number of keys.
func (p *Properties) Len() int {
	if p == nil {
		return 0
	}
	return len(p.entries)
}

// Keys returns the keys in first-appearance order.
func (p *Properties) Keys() []string {
	if p == nil {
		return nil
	}
	keys := make([]string, len(p.entries))
	for i, e := range p.entries {
		keys[i] = e.key
	}
	return keys
}

// All returns an iterator over the keys and values in order:
//
//	for key, value := range p.All() { ... }
func (p *Properties) All() iter.Seq2[string, string] {
	return func(yield func(key, value string) bool) {
		if p == nil {
			return
		}
		for _, e := range p.entries {
			if !yield(e.key, e.value) {
				return
			}
		}
	}
}

// Map returns the keys and values as a new map.
func (p *Properties) Map() map[string]string {
	m := make(map[string]string, p.Len())
	for k, v := range p.All() {
		m[k] = v
	}
	return m
}

// Clone returns an independent copy of p.
func (p *Properties) Clone() *Properties {
	c := &Properties{}
	if p == nil || len(p.entries) == 0 {
		return c
	}
	c.entries = append([]entry(nil), p.entries...)
	c.index = make(map[string]int, len(p.index))
	for k, i := range p.index {
		c.index[k] = i
	}
	return c
}

// Merge sets every key of each of srcs in p, in order, so a later source
// wins over an earlier one and over p's own values. Keys new to p are added
// in the order of their source.
func (p *Properties) Merge(srcs ...*Properties) {
	for _, src := range srcs {
		for k, v := range src.All() {
			p.Set(k, v)
		}
	}
}

// Sub returns the keys that begin with prefix, with the prefix removed, in
// order, as Liferay turns "mail.session.mail.smtp.host" into the JavaMail key
// "mail.smtp.host" with the prefix "mail.session.". A key equal to prefix
// becomes the empty key.
func (p *Properties) Sub(prefix string) *Properties {
	s := &Properties{}
	for k, v := range p.All() {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			s.Set(k[len(prefix):], v)
		}
	}
	return s
}

// String lists the keys, never the values, so that printing a Properties
// (with %v or %+v) cannot reveal a password.
func (p *Properties) String() string {
	var b strings.Builder
	b.WriteString("properties[")
	for i, k := range p.Keys() {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Quote(k))
	}
	b.WriteString("]")
	return b.String()
}

// GoString is String, for %#v.
func (p *Properties) GoString() string { return p.String() }
