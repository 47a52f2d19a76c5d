// Package urlparams reads the query parameters of a transport URL by the
// rules the stored transports share: each parameter at most once, errors in
// a stable order, and one meaning for the retention parameters size and
// max_age whatever the storage. Errors name the parameter; the caller
// prefixes the transport ("bolt: ").
package urlparams

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// Param is one parameter of a URL.
type Param struct{ Name, Value string }

// Parse returns the parameters of rawQuery sorted by name, so that a URL
// with several mistakes always reports the same one first. A parameter
// given more than once is an error (which value would win is a guess).
func Parse(rawQuery string) ([]Param, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fmt.Errorf("transport URL parameters: %w", err)
	}
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	slices.Sort(names)
	params := make([]Param, 0, len(names))
	for _, name := range names {
		if vals := q[name]; len(vals) > 1 {
			return nil, fmt.Errorf("transport URL parameter %q given %d times", name, len(vals))
		}
		params = append(params, Param{Name: name, Value: q.Get(name)})
	}
	return params, nil
}

// Size reads size: how many events to keep, 0 for no limit. The bound
// (2^31-1) keeps it an int everywhere.
func Size(v string) (int, error) {
	n, err := strconv.ParseUint(v, 10, 31)
	if err != nil {
		return 0, fmt.Errorf("transport URL parameter size=%q: want a number of events", v)
	}
	return int(n), nil
}

// MaxAge reads max_age: how old an event may grow, a Go duration such as
// 720h, 0 for no limit.
func MaxAge(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("transport URL parameter max_age=%q: want a duration such as 720h", v)
	}
	return d, nil
}
