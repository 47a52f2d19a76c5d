package auth

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

const (
	defaultJWKSRefresh    = time.Hour
	defaultJWKSUnknownKID = 5 * time.Minute
	defaultJWKSTimeout    = 10 * time.Second
	// maxJWKSBytes bounds a JWKS response: a key set is a few KiB, and an
	// endless body must not exhaust memory.
	maxJWKSBytes = 1 << 20
	// unknownKIDWait bounds how long a request waits for a refresh caused
	// by its unknown kid (the rate limiter wait and the fetch together).
	unknownKIDWait = 10 * time.Second
)

// jwksSource is the key set fetched from Config.JWKSURL. It is built in the
// background so that an unreachable authorization server never delays or
// blocks start-up; a failed first fetch leaves an empty set that the first
// token with a kid refreshes (rate-limited).
type jwksSource struct {
	algs   []string
	ready  chan struct{}  // closed once store/err are set
	store  jwkset.Storage // refreshes on an unknown kid (rate-limited)
	remote jwkset.Storage // the fetched set itself: reads never refresh
	err    error
	// refreshMu serializes unknown-kid lookups: when a new key appears,
	// many requests carry its kid at once; one refreshes while the others
	// wait and then find the key, instead of failing on the rate limiter.
	refreshMu sync.Mutex
	cancel    context.CancelFunc
}

func newJWKSSource(cfg Config, algs []string, log *slog.Logger) (*jwksSource, error) {
	if err := checkJWKSURL(cfg.JWKSURL); err != nil {
		return nil, err
	}
	refresh := cfg.JWKSRefreshInterval
	if refresh <= 0 {
		refresh = defaultJWKSRefresh
	}
	unknownKID := cfg.JWKSUnknownKIDInterval
	if unknownKID <= 0 {
		unknownKID = defaultJWKSUnknownKID
	}
	client := limitedClient(cfg.HTTPClient)
	timeout := client.Timeout
	if timeout <= 0 {
		timeout = defaultJWKSTimeout
	}

	ctx, cancel := context.WithCancel(context.Background())
	s := &jwksSource{algs: algs, ready: make(chan struct{}), cancel: cancel}
	onError := func(ctx context.Context, err error) {
		log.WarnContext(ctx, "auth: fetching the JWKS failed", "url", cfg.JWKSURL, "error", err)
	}
	go func() {
		defer close(s.ready)
		// NewStorageFromHTTP fetches once synchronously (here, off the
		// start-up path) and then starts its refresh goroutine, which
		// ends with ctx.
		remote, err := jwkset.NewStorageFromHTTP(cfg.JWKSURL, jwkset.HTTPClientStorageOptions{
			Client:                    client,
			Ctx:                       ctx,
			HTTPTimeout:               timeout,
			NoErrorReturnFirstHTTPReq: true,
			RefreshErrorHandler:       onError,
			RefreshInterval:           refresh,
		})
		if err != nil {
			s.err = fmt.Errorf("JWKS storage: %w", err)
			return
		}
		s.remote = remote
		s.store, s.err = jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
			HTTPURLs:          map[string]jwkset.Storage{cfg.JWKSURL: remote},
			RateLimitWaitMax:  unknownKIDWait,
			RefreshUnknownKID: rate.NewLimiter(rate.Every(unknownKID), 1),
		})
	}()
	return s, nil
}

func checkJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("JWKS URL: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("JWKS URL %q: want an absolute http(s) URL", raw)
	}
	return nil
}

// close stops the refresh and waits for the first fetch to give up.
func (s *jwksSource) close() {
	s.cancel()
	<-s.ready
}

// key selects the verification key(s) for tok: by kid when the token has
// one (an unknown kid refreshes the set, rate-limited), else every usable
// key of the set. Only keys from the fetched set are ever returned: the
// token's jwk, jku and x5u headers are not looked at (TV-4).
func (s *jwksSource) key(ctx context.Context, tok *jwt.Token) (any, error) {
	select {
	case <-s.ready:
	case <-ctx.Done():
		return nil, fmt.Errorf("JWKS not loaded yet: %w", ctx.Err())
	}
	if s.err != nil {
		return nil, s.err
	}
	alg := tok.Method.Alg()
	if !slices.Contains(s.algs, alg) {
		return nil, fmt.Errorf("alg %s not in the JWKS allowlist", alg)
	}
	if rawKID, ok := tok.Header["kid"]; ok {
		kid, ok := rawKID.(string)
		if !ok {
			return nil, errors.New("kid header is not a string")
		}
		jwk, err := s.remote.KeyRead(ctx, kid)
		if err != nil {
			s.refreshMu.Lock()
			if jwk, err = s.remote.KeyRead(ctx, kid); err != nil {
				jwk, err = s.store.KeyRead(ctx, kid)
			}
			s.refreshMu.Unlock()
		}
		if err != nil {
			return nil, fmt.Errorf("JWKS key %q: %w", kid, err)
		}
		return usableKey(jwk, alg)
	}
	all, err := s.store.KeyReadAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the JWKS: %w", err)
	}
	var set jwt.VerificationKeySet
	for _, jwk := range all {
		if k, err := usableKey(jwk, alg); err == nil {
			set.Keys = append(set.Keys, k)
		}
	}
	if len(set.Keys) == 0 {
		return nil, fmt.Errorf("no JWKS key fits alg %s", alg)
	}
	return set, nil
}

// usableKey returns the public key of jwk if it may verify a signature made
// with alg: a signing key (use "sig" or unspecified), whose own alg, if
// any, is alg, and whose type fits alg (TV-3).
func usableKey(jwk jwkset.JWK, alg string) (any, error) {
	m := jwk.Marshal()
	if m.USE != "" && m.USE != jwkset.UseSig {
		return nil, fmt.Errorf("JWKS key %q is not a signing key", m.KID)
	}
	if a := m.ALG.String(); a != "" && a != alg {
		return nil, fmt.Errorf("JWKS key %q is for alg %s, the token uses %s", m.KID, a, alg)
	}
	key := jwk.Key()
	if pk, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		key = pk.Public()
	}
	if err := keyFitsAlg(alg, key); err != nil {
		return nil, fmt.Errorf("JWKS key %q: %w", m.KID, err)
	}
	return key, nil
}

// limitedClient returns a copy of c (or a default client) whose response
// bodies fail beyond maxJWKSBytes.
func limitedClient(c *http.Client) *http.Client {
	var cp http.Client
	if c != nil {
		cp = *c
	} else {
		cp.Timeout = defaultJWKSTimeout
	}
	rt := cp.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	cp.Transport = limitedTransport{next: rt}
	return &cp
}

type limitedTransport struct{ next http.RoundTripper }

func (t limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: maxJWKSBytes}
	return resp, nil
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

var errJWKSTooLarge = fmt.Errorf("JWKS response larger than %d bytes", maxJWKSBytes)

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One probe byte tells a body of exactly the limit from a longer one.
		var probe [1]byte
		n, err := b.rc.Read(probe[:])
		if n > 0 {
			return 0, errJWKSTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
