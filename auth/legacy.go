package auth

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/hermes-hub/hermes/hub/topic"
)

// Legacy claim names (LEG-8). The namespaced one replaces the short one
// when present.
const (
	legacyClaim           = "mercure"
	legacyNamespacedClaim = "https://mercure.rocks/"
	// maxLegacySelectors is the 0.x limit on each of publish and subscribe.
	maxLegacySelectors = 1000
)

// legacyGrant is the content of a legacy `mercure` claim.
type legacyGrant struct {
	publish   []*topic.Matcher
	subscribe []*topic.Matcher
	payload   json.RawMessage
}

// parseLegacyClaim reads the `mercure` claim (or `https://mercure.rocks/`,
// which replaces it). A token without either is valid and grants nothing.
func parseLegacyClaim(c rawClaims, opt topic.Options) (legacyGrant, error) {
	var g legacyGrant
	name := legacyClaim
	if c.has(legacyNamespacedClaim) {
		name = legacyNamespacedClaim
	}
	raw, ok := c[name]
	if !ok || isNull(raw) {
		return g, nil
	}
	// Reasons read as paths into the claims: mercure.publish[2] is …
	path := name
	if name != legacyClaim {
		path = strconv.Quote(name)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return g, fmt.Errorf(`%s %s is not an object (want {"publish": [...], "subscribe": [...]})`, path, ShowJSON(raw))
	}
	var err error
	if g.publish, err = legacySelectors(obj["publish"], opt); err != nil {
		return g, fmt.Errorf("%s.publish%w", path, err)
	}
	if g.subscribe, err = legacySelectors(obj["subscribe"], opt); err != nil {
		return g, fmt.Errorf("%s.subscribe%w", path, err)
	}
	if p, ok := obj["payload"]; ok && !isNull(p) {
		g.payload = append(json.RawMessage(nil), p...)
	}
	return g, nil
}

// legacySelectors compiles a publish or subscribe array of legacy selectors.
// Its errors continue the caller's path (" is not an array", "[3] is …").
// Absent or null means none. A selector that topic.Compile refuses (a
// control character, say) is skipped rather than failing the token: 0.x
// hubs accepted such tokens, and dropping a selector can only grant less.
func legacySelectors(raw json.RawMessage, opt topic.Options) ([]*topic.Matcher, error) {
	if raw == nil || isNull(raw) {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf(" %s is not an array of topic selectors", ShowJSON(raw))
	}
	if len(items) > maxLegacySelectors {
		return nil, fmt.Errorf(" holds more than %d selectors (the limit)", maxLegacySelectors)
	}
	out := make([]*topic.Matcher, 0, len(items))
	for i, it := range items {
		var s string
		if err := json.Unmarshal(it, &s); err != nil || isNull(it) {
			return nil, fmt.Errorf("[%d] %s is not a string", i, ShowJSON(it))
		}
		if len(s) > MaxPatternBytes {
			return nil, fmt.Errorf("[%d] is longer than %d bytes", i, MaxPatternBytes)
		}
		m, err := topic.Compile(topic.TypeLegacy, s, opt)
		if err != nil {
			continue
		}
		out = append(out, m)
	}
	return out, nil
}
