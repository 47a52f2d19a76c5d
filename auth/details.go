package auth

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hermes-hub/hermes/hub/topic"
)

// DetailType is the authorization detail type of Mercure (AD-1), compared
// byte by byte.
const DetailType = "https://mercure.rocks/authorization-detail"

// Limits on the authorization details of one token (AD-6). Exceeding any of
// them makes the whole token invalid.
const (
	MaxDetails      = 100  // Mercure authorization details per token
	MaxMatchers     = 100  // topic matchers across all Mercure details
	MaxPatternBytes = 4096 // bytes per matcher pattern (and legacy selector)
)

// Actions defined by draft-08. Others are ignored (AD-2).
const (
	actionPublish   = "publish"
	actionSubscribe = "subscribe"
)

// detail is one parsed Mercure authorization detail.
type detail struct {
	publish   bool
	subscribe bool
	matchers  []*topic.Matcher
	payload   json.RawMessage // nil when absent or null
}

// parseAuthorizationDetails parses the authorization_details claim strictly
// (AD-1..6, TML-1..2). Any defect of a Mercure detail fails the whole claim:
// partial acceptance would silently change what the token grants. JSON
// objects are decoded into maps rather than structs because encoding/json
// matches struct fields case-insensitively, and "Topics" is not "topics".
func parseAuthorizationDetails(raw json.RawMessage, opt topic.Options) ([]detail, error) {
	var entries []json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil || entries == nil {
		return nil, fmt.Errorf("authorization_details %s is not an array", ShowJSON(raw))
	}
	var (
		details  []detail
		matchers int
	)
	for i, entry := range entries {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(entry, &obj); err != nil || obj == nil {
			return nil, fmt.Errorf("authorization_details[%d] is not an object", i)
		}
		// AD-1: entries of other types are ignored however they are shaped;
		// a missing or non-string type is another type too.
		var typ string
		if json.Unmarshal(obj["type"], &typ) != nil || typ != DetailType {
			continue
		}
		if len(details) == MaxDetails {
			return nil, fmt.Errorf("authorization_details: more than %d Mercure details (the limit per token)", MaxDetails)
		}
		d, n, err := parseDetail(obj, opt, MaxMatchers-matchers)
		if err != nil {
			// parseDetail's messages start with the field they are about,
			// so this reads as a path: authorization_details[0].topics[1]: …
			return nil, fmt.Errorf("authorization_details[%d].%w", i, err)
		}
		matchers += n
		details = append(details, d)
	}
	return details, nil
}

// parseDetail parses one Mercure detail, allowing at most budget matchers.
func parseDetail(obj map[string]json.RawMessage, opt topic.Options, budget int) (d detail, n int, err error) {
	actionsRaw, ok := obj["actions"]
	if !ok {
		return d, 0, errors.New(`actions missing: a Mercure detail needs ["publish"] and/or ["subscribe"]`)
	}
	var actions []json.RawMessage
	if err := json.Unmarshal(actionsRaw, &actions); err != nil || actions == nil {
		return d, 0, fmt.Errorf("actions %s is not an array", ShowJSON(actionsRaw))
	}
	if len(actions) == 0 {
		return d, 0, errors.New("actions is empty")
	}
	for j, a := range actions {
		var s string
		if err := json.Unmarshal(a, &s); err != nil || isNull(a) {
			return d, 0, fmt.Errorf("actions[%d] %s is not a string", j, ShowJSON(a))
		}
		switch s {
		case actionPublish:
			d.publish = true
		case actionSubscribe:
			d.subscribe = true
		}
		// AD-2: other actions grant nothing and are not an error.
	}

	topicsRaw, ok := obj["topics"]
	if !ok {
		return d, 0, errors.New("topics missing: a Mercure detail needs at least one topic matcher")
	}
	var topics []json.RawMessage
	if err := json.Unmarshal(topicsRaw, &topics); err != nil || topics == nil {
		return d, 0, fmt.Errorf("topics %s is not an array", ShowJSON(topicsRaw))
	}
	if len(topics) == 0 {
		return d, 0, errors.New("topics is empty")
	}
	if len(topics) > budget {
		return d, 0, fmt.Errorf("topics: more than %d topic matchers in the token (the limit)", MaxMatchers)
	}
	d.matchers = make([]*topic.Matcher, 0, len(topics))
	for j, t := range topics {
		m, err := parseTopicMatcher(t, opt)
		if err != nil {
			return d, 0, fmt.Errorf("topics[%d]: %w", j, err)
		}
		d.matchers = append(d.matchers, m)
	}

	if p, ok := obj["payload"]; ok && !isNull(p) {
		// AD-4: meant to be an object; like the reference hub, any JSON
		// value is kept. The bytes are copied out of the token buffer.
		d.payload = append(json.RawMessage(nil), p...)
	}
	return d, len(topics), nil
}

// topicMatcherKey is the exact bytes of one topic matcher object of a
// token and the hub URL it was compiled against.
type topicMatcherKey struct{ base, raw string }

// topicMatchers caches parsed topic matcher objects by their bytes: tokens
// of one application spell their matchers identically, and decoding the
// object is what a matcher costs once its pattern is interned. Bounded in
// bytes; only successful parses are kept.
var topicMatchers = newClockCache[topicMatcherKey, *topic.Matcher](4 << 20)

// parseTopicMatcher parses one {match, match_type} object (TML-1..2).
func parseTopicMatcher(raw json.RawMessage, opt topic.Options) (*topic.Matcher, error) {
	k := topicMatcherKey{opt.Base, string(raw)}
	if m, ok := topicMatchers.get(k); ok {
		return m, nil
	}
	m, err := decodeTopicMatcher(raw, opt)
	if err == nil {
		topicMatchers.put(k, m, len(raw)+len(opt.Base)+128)
	}
	return m, err
}

func decodeTopicMatcher(raw json.RawMessage, opt topic.Options) (*topic.Matcher, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, fmt.Errorf(`%s is not an object (want {"match": "...", "match_type": "exact"})`, ShowJSON(raw))
	}
	matchRaw, ok := obj["match"]
	if !ok {
		return nil, errors.New("match missing")
	}
	var match string
	if err := json.Unmarshal(matchRaw, &match); err != nil || isNull(matchRaw) {
		return nil, fmt.Errorf("match %s is not a string", ShowJSON(matchRaw))
	}
	if match == "" {
		return nil, errors.New("match is empty")
	}
	if len(match) > MaxPatternBytes {
		return nil, fmt.Errorf("match longer than %d bytes", MaxPatternBytes)
	}
	typ := topic.TypeExact // TML-1: the default
	if typRaw, ok := obj["match_type"]; ok {
		if err := json.Unmarshal(typRaw, &typ); err != nil || isNull(typRaw) {
			return nil, fmt.Errorf("match_type %s is not a string", ShowJSON(typRaw))
		}
		// Case-sensitive, and only the draft-08 types: the legacy selector
		// type is internal to Hermes and not a token matcher type.
		if typ != topic.TypeExact && typ != topic.TypeURLPattern {
			return nil, fmt.Errorf("match_type %q is not supported (want %q or %q, case-sensitive)", clip(typ), topic.TypeExact, topic.TypeURLPattern)
		}
	}
	m, err := topic.Compile(typ, match, opt)
	if err != nil {
		return nil, fmt.Errorf("match %q (%s): %w", clip(match), typ, err)
	}
	return m, nil
}
