package properties

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ValueError reports a value that cannot be read as the requested type.
// It names the key and the value; Err is the underlying parse error.
type ValueError struct {
	Key   string
	Value string
	Type  string // "int", "duration in milliseconds", ...
	Err   error
}

// Error names the key, the value and the type wanted.
func (e *ValueError) Error() string {
	return fmt.Sprintf("properties: %s=%q is not a valid %s: %v", e.Key, e.Value, e.Type, e.Err)
}

// Unwrap returns the parse error.
func (e *ValueError) Unwrap() error { return e.Err }

// Bool returns the value of key read as Java's Boolean.parseBoolean does:
// true exactly when the value is "true" in any letter case, without
// trimming. An absent key gives def. It never fails, like Java; use
// StrictBool to reject anything but true or false.
func (p *Properties) Bool(key string, def bool) bool {
	v, ok := p.Get(key)
	if !ok {
		return def
	}
	return strings.EqualFold(v, "true")
}

// StrictBool returns the value of key as a boolean: "true" or "false" in
// any letter case. An absent key gives def; any other value is a
// *ValueError.
func (p *Properties) StrictBool(key string, def bool) (bool, error) {
	v, ok := p.Get(key)
	switch {
	case !ok:
		return def, nil
	case strings.EqualFold(v, "true"):
		return true, nil
	case strings.EqualFold(v, "false"):
		return false, nil
	}
	return def, &ValueError{Key: key, Value: v, Type: "boolean", Err: fmt.Errorf("want true or false")}
}

// Int returns the value of key as a decimal integer, as Java's
// Integer.parseInt reads it (optional sign, ASCII digits, no spaces, within
// the 32-bit int range). An absent key gives def; a bad value is a
// *ValueError naming the key and the value.
func (p *Properties) Int(key string, def int) (int, error) {
	v, ok := p.Get(key)
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return def, &ValueError{Key: key, Value: v, Type: "int", Err: numErr(err)}
	}
	return int(n), nil
}

// Duration returns the value of key read as a whole number of
// milliseconds, the unit of JavaMail's timeouts (mail.smtp.timeout=5000).
// The number is an optional sign and ASCII digits; a negative or zero value is returned
// as is (JavaMail treats both as "no timeout"; callers decide). An absent
// key gives def; a bad value is a *ValueError.
func (p *Properties) Duration(key string, def time.Duration) (time.Duration, error) {
	v, ok := p.Get(key)
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err == nil && (n > math.MaxInt64/int64(time.Millisecond) || n < math.MinInt64/int64(time.Millisecond)) {
		err = strconv.ErrRange
	}
	if err != nil {
		return def, &ValueError{Key: key, Value: v, Type: "duration in milliseconds", Err: numErr(err)}
	}
	return time.Duration(n) * time.Millisecond, nil
}

// numErr unwraps strconv's *NumError, whose message repeats the value.
func numErr(err error) error {
	if ne, ok := err.(*strconv.NumError); ok {
		return ne.Err
	}
	return err
}
