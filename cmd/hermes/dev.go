package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/hermes-hub/hermes/auth"
	"github.com/hermes-hub/hermes/hub"
)

// devOrigins are the browser origins --dev trusts: any port on the
// loopback names a developer's front-end server runs on.
var devOrigins = []string{
	"http://localhost", "http://localhost:*",
	"http://127.0.0.1", "http://127.0.0.1:*",
	"http://[::1]", "http://[::1]:*",
}

// devTopic is the topic of the printed curl examples.
const devTopic = "https://example.com/books/1"

// newDevSecret returns a random HMAC secret. It is the hex text that is the
// secret (its bytes are used as is), so the printed value can be pasted
// into --jwt-key, MERCURE_JWT_SECRET or MERCURE_SECRET unchanged.
func newDevSecret() ([]byte, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("generating a dev secret: %w", err)
	}
	return []byte(hex.EncodeToString(b[:])), nil
}

// applyDevDefaults fills what --dev implies into every setting the user did
// not give explicitly.
func applyDevDefaults(cfg *serveConfig) {
	if !cfg.explicit["subscriptions"] {
		cfg.Subscriptions = true
	}
	if !cfg.explicit["ui"] {
		cfg.UI = true
	}
	if !cfg.explicit["anonymous"] {
		cfg.Anonymous = true
	}
	if !cfg.explicit["cors-origins"] {
		cfg.CORSOrigins = append([]string(nil), devOrigins...)
	}
	if !cfg.explicit["publish-origins"] {
		cfg.PublishOrigins = append([]string(nil), devOrigins...)
	}
}

// writeDevBanner prints what a developer needs to try the hub: the secret
// (when generated), a publisher and a subscriber token, and curl commands
// for the address actually listened on. Tokens go to stdout, never to the
// log.
func writeDevBanner(w io.Writer, cfg *serveConfig, k keys, baseURL string) {
	hubURL := baseURL + hub.Path
	fmt.Fprintln(w, "Hermes is running in development mode (--dev). Do not use it in production.")
	fmt.Fprintln(w)
	if k.devSecret != nil {
		fmt.Fprintf(w, "JWT secret (HS256): %s\n", k.devSecret)
		fmt.Fprintln(w, "  pass it as --jwt-key (HERMES_JWT_KEY), MERCURE_JWT_SECRET (Symfony) or MERCURE_SECRET (Laravel)")
	}
	fmt.Fprintf(w, "Resource id (aud of draft-08 tokens): %s\n", cfg.ResourceID)
	pub, pubErr := mintDevToken(k.publisher, cfg.PublisherAlg, true)
	sub, subErr := mintDevToken(k.subscriber, cfg.SubscriberAlg, false)
	if pubErr == nil {
		fmt.Fprintf(w, "Publisher token: %s\n", pub)
	} else {
		fmt.Fprintf(w, "No publisher token: %v\n", pubErr)
		pub = "<publisher token>"
	}
	if subErr == nil {
		fmt.Fprintf(w, "Subscriber token: %s\n", sub)
	} else {
		fmt.Fprintf(w, "No subscriber token: %v\n", subErr)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Subscribe:")
	fmt.Fprintf(w, "  curl -N '%s?topic=%s'\n", hubURL, devTopic)
	fmt.Fprintln(w, "Publish:")
	fmt.Fprintf(w, "  curl -d 'topic=%s' -d 'data={\"hello\":\"world\"}' -H 'Authorization: Bearer %s' %s\n", devTopic, pub, hubURL)
	if cfg.UI {
		fmt.Fprintf(w, "Debug UI: %s%s\n", baseURL, hub.UIPath)
	}
	fmt.Fprintln(w)
}

// mintDevToken signs a legacy-dialect token granting every topic for one
// role. It fails when the key cannot sign (a public key, or none).
func mintDevToken(key []byte, alg string, publisher bool) (string, error) {
	if key == nil {
		return "", fmt.Errorf("no key configured for this role")
	}
	o := auth.MintOptions{Key: key, Alg: alg}
	if publisher {
		o.Publish = []string{"*"}
	} else {
		o.Subscribe = []string{"*"}
	}
	tok, err := auth.Mint(o)
	if err != nil {
		return "", fmt.Errorf("cannot sign with the configured key: %w", err)
	}
	return tok, nil
}
