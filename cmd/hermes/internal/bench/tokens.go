package bench

import (
	"fmt"

	"github.com/hermes-hub/hermes/auth"
)

// The tool mints its tokens with the hub's own minting code, in the dialect
// chosen, so that it needs nothing but the key.

func (e *env) publisherToken() (string, error) {
	o := e.baseMint(e.o.PublisherKey)
	o.Publish = []string{"*"}
	tok, err := auth.Mint(o)
	if err != nil {
		return "", fmt.Errorf("minting the publisher token: %w", err)
	}
	return tok, nil
}

// subscriberToken grants subscribe on topics: URI templates (legacy) or
// URL patterns (draft-08) when patterns is set, exact topics otherwise.
func (e *env) subscriberToken(topics []string, patterns bool) (string, error) {
	o := e.baseMint(e.o.SubscriberKey)
	o.Subscribe = topics
	if patterns && o.Modern {
		o.MatchType = "urlpattern"
	}
	tok, err := auth.Mint(o)
	if err != nil {
		return "", fmt.Errorf("minting a subscriber token: %w", err)
	}
	return tok, nil
}

func (e *env) baseMint(key []byte) auth.MintOptions {
	o := auth.MintOptions{Key: key, Alg: e.o.Alg}
	if e.o.Dialect == DialectDraft08 {
		o.Modern = true
		o.Issuer = e.o.Issuer
		o.Audience = e.o.Audience
	}
	return o
}

// matchParam is the subscribe parameter for an exact topic.
func (e *env) matchParam() string {
	if e.o.Dialect == DialectDraft08 {
		return "match"
	}
	return "topic"
}
