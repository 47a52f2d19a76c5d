package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/hermes-hub/hermes/hub/topic"
)

// defaultModernTTL is the lifetime of a minted draft-08 token without TTL:
// draft-08 requires exp and wants tokens short-lived (AUTH-4).
const defaultModernTTL = time.Hour

// MintOptions describes a token for Mint (`hermes token`, tests, dev mode).
type MintOptions struct {
	// Key is an HMAC secret or a PEM private key (PKCS#8, PKCS#1 or SEC 1).
	Key []byte
	// Alg defaults to HS256 for a secret and to the key's natural alg for a
	// PEM key (RS256, ES256/384/512 by curve, EdDSA).
	Alg string
	// Publish and Subscribe are the topics granted. Legacy: a nil slice
	// leaves the key out of the claim, an empty one writes [].
	Publish, Subscribe []string
	// Modern mints a draft-08 token (typ at+jwt, authorization_details)
	// instead of a legacy `mercure` claim token.
	Modern bool
	// MatchType is the match_type of modern topics: exact (default) or
	// urlpattern. "*" is the wildcard either way.
	MatchType string
	// Issuer and Audience are required for modern tokens; legacy tokens
	// carry them only when given.
	Issuer   string
	Audience []string
	// TTL sets exp = now + TTL. Zero: no exp for legacy, one hour for
	// modern. Negative values mint an already expired token (for tests).
	TTL time.Duration
	// Payload is any JSON-marshalable value: mercure.payload for legacy,
	// the payload of the subscribe detail for modern.
	Payload any
	// Subject and ClientID fill sub and client_id of modern tokens. Empty:
	// a random urn:uuid subject, and the issuer as client id.
	Subject  string
	ClientID string
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Mint signs a token. Legacy: header typ JWT and the claim
// {"mercure":{"publish":[…],"subscribe":[…],"payload":…}}. Modern: typ
// at+jwt with iss, aud, exp, iat, jti, sub, client_id and one Mercure
// authorization detail per action.
func Mint(o MintOptions) (string, error) {
	if len(o.Key) == 0 {
		return "", errors.New("mint: no key")
	}
	key, alg, err := mintKey(o.Key, o.Alg)
	if err != nil {
		return "", fmt.Errorf("mint: %w", err)
	}
	method, err := signingMethod(alg)
	if err != nil {
		return "", fmt.Errorf("mint: %w", err)
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	t := now()

	var payload json.RawMessage
	if o.Payload != nil {
		if payload, err = json.Marshal(o.Payload); err != nil {
			return "", fmt.Errorf("mint: payload: %w", err)
		}
	}

	claims := jwt.MapClaims{}
	typ := "JWT"
	if o.Modern {
		typ = "at+jwt"
		if err := fillModernClaims(claims, o, t, payload); err != nil {
			return "", fmt.Errorf("mint: %w", err)
		}
	} else {
		fillLegacyClaims(claims, o, t, payload)
	}
	tok := jwt.NewWithClaims(method, claims)
	tok.Header["typ"] = typ
	s, err := tok.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("mint: signing: %w", err)
	}
	return s, nil
}

// mintKey parses the signing key and settles its alg, refusing an alg that
// does not fit the key (the same rule as verification, TV-3).
func mintKey(raw []byte, alg string) (any, string, error) {
	if !IsPEM(raw) {
		if alg == "" {
			alg = "HS256"
		}
		if !slices.Contains(hmacAlgs, alg) {
			return nil, "", fmt.Errorf("alg %s needs a PEM private key, got a raw secret", alg)
		}
		return raw, alg, nil
	}
	signer, err := parsePrivatePEM(raw)
	if err != nil {
		return nil, "", err
	}
	if alg == "" {
		if alg, err = defaultAlgFor(signer.Public()); err != nil {
			return nil, "", err
		}
	}
	if err := keyFitsAlg(alg, signer.Public()); err != nil {
		return nil, "", err
	}
	return signer, alg, nil
}

func fillLegacyClaims(c jwt.MapClaims, o MintOptions, t time.Time, payload json.RawMessage) {
	m := map[string]any{}
	if o.Publish != nil {
		m["publish"] = o.Publish
	}
	if o.Subscribe != nil {
		m["subscribe"] = o.Subscribe
	}
	if payload != nil {
		m["payload"] = payload
	}
	c[legacyClaim] = m
	if o.TTL != 0 {
		c["exp"] = t.Add(o.TTL).Unix()
	}
	if o.Issuer != "" {
		c["iss"] = o.Issuer
	}
	if len(o.Audience) > 0 {
		c["aud"] = o.Audience
	}
}

// mintDetail is the JSON shape of a Mercure authorization detail.
type mintDetail struct {
	Type    string          `json:"type"`
	Actions []string        `json:"actions"`
	Topics  []mintMatcher   `json:"topics"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

type mintMatcher struct {
	Match     string `json:"match"`
	MatchType string `json:"match_type"`
}

func fillModernClaims(c jwt.MapClaims, o MintOptions, t time.Time, payload json.RawMessage) error {
	if o.Issuer == "" {
		return errors.New("a draft-08 token needs an issuer")
	}
	if len(o.Audience) == 0 {
		return errors.New("a draft-08 token needs an audience")
	}
	matchType := o.MatchType
	if matchType == "" {
		matchType = topic.TypeExact
	}
	if matchType != topic.TypeExact && matchType != topic.TypeURLPattern {
		return fmt.Errorf("unsupported match type %q", matchType)
	}
	if n := len(o.Publish) + len(o.Subscribe); n > MaxMatchers {
		return fmt.Errorf("%d topics: hubs accept at most %d per token", n, MaxMatchers)
	}
	if payload != nil && len(o.Subscribe) == 0 {
		return errors.New("a payload needs subscribe topics")
	}
	matchers := func(topics []string) ([]mintMatcher, error) {
		out := make([]mintMatcher, 0, len(topics))
		for _, tp := range topics {
			if tp == "" || len(tp) > MaxPatternBytes {
				return nil, fmt.Errorf("topic of %d bytes: want 1 to %d", len(tp), MaxPatternBytes)
			}
			out = append(out, mintMatcher{Match: tp, MatchType: matchType})
		}
		return out, nil
	}
	details := []mintDetail{}
	if len(o.Publish) > 0 {
		ms, err := matchers(o.Publish)
		if err != nil {
			return err
		}
		details = append(details, mintDetail{Type: DetailType, Actions: []string{actionPublish}, Topics: ms})
	}
	if len(o.Subscribe) > 0 {
		ms, err := matchers(o.Subscribe)
		if err != nil {
			return err
		}
		details = append(details, mintDetail{Type: DetailType, Actions: []string{actionSubscribe}, Topics: ms, Payload: payload})
	}
	ttl := o.TTL
	if ttl == 0 {
		ttl = defaultModernTTL
	}
	sub := o.Subject
	if sub == "" {
		sub = "urn:uuid:" + uuid.NewString()
	}
	clientID := o.ClientID
	if clientID == "" {
		clientID = o.Issuer
	}
	c["iss"] = o.Issuer
	if len(o.Audience) == 1 {
		c["aud"] = o.Audience[0]
	} else {
		c["aud"] = o.Audience
	}
	c["exp"] = t.Add(ttl).Unix()
	c["iat"] = t.Unix()
	c["jti"] = "urn:uuid:" + uuid.NewString()
	c["sub"] = sub
	c["client_id"] = clientID
	c[claimDetails] = details
	return nil
}
