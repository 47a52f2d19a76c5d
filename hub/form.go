package hub

import "strings"

// pair is one name/value of an application/x-www-form-urlencoded string, in
// the order it appeared.
type pair struct{ name, value string }

// parseForm decodes s with the WHATWG urlencoded parser (the algorithm of
// URLSearchParams, SUB-6): sequences split on '&', empty sequences skipped, a
// name without '=' has the empty value, '+' is a space and percent-escapes
// are decoded where valid and kept literally where not. Unlike
// net/url.ParseQuery it never drops a pair (';' is an ordinary byte) and it
// keeps the order of pairs, which the repeated topic and matcher parameters
// need.
//
// max bounds the number of pairs; parseForm returns ok=false when s holds
// more, so that a client cannot make the hub allocate without limit.
//
// A publish decodes two or three escaped fields: they share one buffer,
// and the pairs one slice sized up front, so that parsing costs two
// allocations however many fields need decoding.
func parseForm(s string, max int) (pairs []pair, ok bool) {
	if s == "" {
		return nil, true
	}
	pairs = make([]pair, 0, min(strings.Count(s, "&")+1, max))
	var dec strings.Builder
	for rest := s; rest != ""; {
		var seq string
		seq, rest, _ = strings.Cut(rest, "&")
		if seq == "" {
			continue
		}
		if len(pairs) == max {
			return pairs, false
		}
		name, value, _ := strings.Cut(seq, "=")
		pairs = append(pairs, pair{formDecode(&dec, name, len(s)), formDecode(&dec, value, len(s))})
	}
	return pairs, true
}

// formDecode replaces '+' by a space and decodes valid %XX escapes; invalid
// escapes stay as they are. The result may be invalid UTF-8: callers check.
// A string without either is returned as it is; the others are decoded
// into dec, which is grown once to room for the whole form (size): the
// strings handed out before stay valid, a strings.Builder only appends.
func formDecode(dec *strings.Builder, s string, size int) string {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s
	}
	if dec.Cap() == 0 {
		dec.Grow(size)
	}
	start := dec.Len()
	// Copied in runs between the bytes that change: most of a value is
	// copied as it is.
	run := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			dec.WriteString(s[run:i])
			dec.WriteByte(' ')
			run = i + 1
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			dec.WriteString(s[run:i])
			dec.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			run = i + 1
		}
	}
	dec.WriteString(s[run:])
	return dec.String()[start:]
}
func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
