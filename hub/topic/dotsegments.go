package topic

import "strings"

// HasDotSegment reports whether the path of topic has a dot segment: a
// segment that is `.` or `..`, each dot possibly written `%2e` or `%2E`.
// The path is everything before the first `?` or `#`, and segments are
// separated by `/` or `\` (the WHATWG parser reads `\` as `/` in http and
// https URLs).
//
// The hub refuses such topics at publish (issue 10, finding 6). Legacy
// selectors match the raw topic string while URL patterns match the URL the
// WHATWG parser makes of it, which removes dot segments: a topic with them
// would mean one path to a legacy grant and another to a URL pattern. A
// topic without any means the same path to both, so one rule holds for
// every matcher and grant of either dialect.
func HasDotSegment(topic string) bool {
	if i := strings.IndexAny(topic, "?#"); i >= 0 {
		topic = topic[:i]
	}
	for len(topic) > 0 {
		seg := topic
		if i := strings.IndexAny(topic, `/\`); i >= 0 {
			seg, topic = topic[:i], topic[i+1:]
		} else {
			topic = ""
		}
		if isDotSegment(seg) {
			return true
		}
	}
	return false
}

// isDotSegment reports whether seg is `.` or `..` with each dot possibly
// percent-encoded.
func isDotSegment(seg string) bool {
	dots := 0
	for len(seg) > 0 {
		switch {
		case seg[0] == '.':
			seg = seg[1:]
		case len(seg) >= 3 && seg[0] == '%' && seg[1] == '2' && (seg[2] == 'e' || seg[2] == 'E'):
			seg = seg[3:]
		default:
			return false
		}
		dots++
	}
	return dots == 1 || dots == 2
}
