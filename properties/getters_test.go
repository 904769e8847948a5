package properties

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestBool(t *testing.T) {
	p := props("t", "true", "T", "TRUE", "mixed", "tRuE", "f", "false", "yes", "yes", "sp", " true", "one", "1", "empty", "")
	for key, want := range map[string]bool{"t": true, "T": true, "mixed": true, "f": false, "yes": false, "sp": false, "one": false, "empty": false} {
		if got := p.Bool(key, !want); got != want {
			t.Errorf("Bool(%q) = %v, want %v (Boolean.parseBoolean)", key, got, want)
		}
	}
	if !p.Bool("absent", true) || p.Bool("absent", false) {
		t.Error("absent key does not give the default")
	}
}

func TestStrictBool(t *testing.T) {
	p := props("t", "True", "f", "FALSE", "bad", "yes")
	if v, err := p.StrictBool("t", false); err != nil || !v {
		t.Errorf("t: %v %v", v, err)
	}
	if v, err := p.StrictBool("f", true); err != nil || v {
		t.Errorf("f: %v %v", v, err)
	}
	if v, err := p.StrictBool("absent", true); err != nil || !v {
		t.Errorf("absent: %v %v", v, err)
	}
	_, err := p.StrictBool("bad", false)
	var ve *ValueError
	if !errors.As(err, &ve) || ve.Key != "bad" || ve.Value != "yes" {
		t.Fatalf("err = %v", err)
	}
}

func TestInt(t *testing.T) {
	p := props("port", "587", "neg", "-1", "plus", "+25", "sp", "25 ", "hex", "0x19", "big", "2147483648", "max", "2147483647", "empty", "", "under", "1_000")
	for key, want := range map[string]int{"port": 587, "neg": -1, "plus": 25, "max": 2147483647} {
		got, err := p.Int(key, 0)
		if err != nil || got != want {
			t.Errorf("Int(%q) = %d, %v; want %d", key, got, err, want)
		}
	}
	if v, err := p.Int("absent", 42); err != nil || v != 42 {
		t.Errorf("absent: %d %v", v, err)
	}
	for _, key := range []string{"sp", "hex", "big", "empty", "under"} {
		v, err := p.Int(key, 7)
		var ve *ValueError
		if !errors.As(err, &ve) {
			t.Errorf("Int(%q): err = %v, want *ValueError", key, err)
			continue
		}
		if v != 7 || ve.Key != key || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), strconv.Quote(ve.Value)) {
			t.Errorf("Int(%q) = %d, error %q does not name key and value", key, v, err)
		}
	}
	_, err := p.Int("big", 0)
	if !errors.Is(err, strconv.ErrRange) {
		t.Errorf("out of range error %v does not wrap strconv.ErrRange", err)
	}
}

func TestDuration(t *testing.T) {
	p := props("mail.smtp.timeout", "5000", "zero", "0", "neg", "-1", "unit", "5s", "huge", "99999999999999999")
	if d, err := p.Duration("mail.smtp.timeout", 0); err != nil || d != 5*time.Second {
		t.Errorf("timeout = %v, %v", d, err)
	}
	if d, err := p.Duration("zero", time.Minute); err != nil || d != 0 {
		t.Errorf("zero = %v, %v", d, err)
	}
	if d, err := p.Duration("neg", 0); err != nil || d != -time.Millisecond {
		t.Errorf("neg = %v, %v", d, err)
	}
	if d, err := p.Duration("absent", time.Minute); err != nil || d != time.Minute {
		t.Errorf("absent = %v, %v", d, err)
	}
	for _, key := range []string{"unit", "huge"} {
		_, err := p.Duration(key, 0)
		var ve *ValueError
		if !errors.As(err, &ve) || ve.Key != key || ve.Type != "duration in milliseconds" {
			t.Errorf("Duration(%q): err = %v", key, err)
		}
	}
}
