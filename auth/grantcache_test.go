package auth

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// hundredPatterns is a draft-08 subscribe detail listing one user's 100
// resources.
func hundredPatterns(user int) map[string]any {
	topics := make([]any, 100)
	for j := range topics {
		topics[j] = urlpattern(fmt.Sprintf("https://example.com/u/%d/r/%d/*", user, j))
	}
	return ad(sub, topics...)
}

// TestGrantCacheSharesIdenticalTokens (issue 9): the same token bytes give
// the same Grant, and a token with the same patterns but other bytes gets
// its own Grant made of the same interned matchers.
func TestGrantCacheSharesIdenticalTokens(t *testing.T) {
	a := newAuth(t)
	tok := modernToken(t, subSecret, modernClaims(hundredPatterns(1)))
	g1 := mustGrant(t, a, bearerRequest(http.MethodGet, tok), Subscriber)
	g2 := mustGrant(t, a, bearerRequest(http.MethodGet, tok), Subscriber)
	if g1 != g2 {
		t.Fatal("two verifications of one token built two grants")
	}
	if hits, _, _ := a.GrantCacheStats(); hits == 0 {
		t.Fatal("the second verification did not hit the cache")
	}
	c := modernClaims(hundredPatterns(1))
	c["jti"] = "urn:uuid:another"
	g3 := mustGrant(t, a, bearerRequest(http.MethodGet, modernToken(t, subSecret, c)), Subscriber)
	if g3 == g1 {
		t.Fatal("a different token shares the grant of another")
	}
	for i := range g1.Subscribe {
		if g1.Subscribe[i] != g3.Subscribe[i] {
			t.Fatalf("pattern %d compiled twice for two tokens", i)
		}
	}
	// A token cached for one role is not a grant for the other.
	if _, err := a.Authenticate(bearerRequest(http.MethodPost, tok), Publisher); err == nil {
		t.Fatal("a subscriber token verified once passed as a publisher token")
	}
}

// TestGrantCacheRechecksTime: a cached grant stops working at its exp, and
// a token not yet valid is refused even when the same bytes passed before
// (a clock set back).
func TestGrantCacheRechecksTime(t *testing.T) {
	var now atomic.Int64
	now.Store(testNow.Unix())
	a := newAuth(t, func(c *Config) { c.Now = func() time.Time { return time.Unix(now.Load(), 0) } })
	c := modernClaims(hundredPatterns(2))
	c["nbf"] = testNow.Unix() - 10
	tok := modernToken(t, subSecret, c)
	mustGrant(t, a, bearerRequest(http.MethodGet, tok), Subscriber)
	mustGrant(t, a, bearerRequest(http.MethodGet, tok), Subscriber)

	now.Store(testNow.Unix() + 3600) // exp
	_, err := a.Authenticate(bearerRequest(http.MethodGet, tok), Subscriber)
	if e := authErr(t, err, http.StatusUnauthorized, "invalid_token"); e.Rule != RuleExpired {
		t.Fatalf("expired cached token: rule %v, want %v", e.Rule, RuleExpired)
	}

	now.Store(testNow.Unix())
	mustGrant(t, a, bearerRequest(http.MethodGet, tok), Subscriber)
	now.Store(testNow.Unix() - 20) // before nbf
	_, err = a.Authenticate(bearerRequest(http.MethodGet, tok), Subscriber)
	if e := authErr(t, err, http.StatusUnauthorized, "invalid_token"); e.Rule != RuleNotYetValid {
		t.Fatalf("cached token before its nbf: rule %v, want %v", e.Rule, RuleNotYetValid)
	}
}

// TestGrantCacheNeverPassesAnotherToken: once a token is cached, the same
// claims with a broken signature, or signed with another key, are still
// refused.
func TestGrantCacheNeverPassesAnotherToken(t *testing.T) {
	a := newAuth(t)
	tok := modernToken(t, subSecret, modernClaims(hundredPatterns(3)))
	mustGrant(t, a, bearerRequest(http.MethodGet, tok), Subscriber)
	dot := strings.LastIndexByte(tok, '.')
	sig := []byte(tok[dot+1:])
	sig[3] ^= 1
	for name, bad := range map[string]string{
		"tampered signature": tok[:dot+1] + string(sig),
		"other key":          modernToken(t, []byte("another-secret-0123456789-abcdefgh"), modernClaims(hundredPatterns(3))),
		"truncated":          tok[:dot],
	} {
		if _, err := a.Authenticate(bearerRequest(http.MethodGet, bad), Subscriber); err == nil {
			t.Errorf("%s: accepted after the genuine token was cached", name)
		}
	}
	// And a refusal is not remembered as a grant either.
	mustGrant(t, a, bearerRequest(http.MethodGet, tok), Subscriber)
}

// TestGrantIndexAnswersLikeEveryPattern: CanSubscribe and CanPublish go
// through the grant's index and the decision cache; they answer what
// evaluating every matcher answers.
func TestGrantIndexAnswersLikeEveryPattern(t *testing.T) {
	a := newAuth(t)
	d := hundredPatterns(4)
	d["topics"] = append(d["topics"].([]any)[:97],
		urlpattern("https://*.example.org/books/:id"),
		urlpattern(":s://any.example/*"),
		exact("https://example.com/exact"),
	)
	g := mustGrant(t, a, bearerRequest(http.MethodGet, modernToken(t, subSecret, modernClaims(d))), Subscriber)
	topics := []string{
		"https://example.com/u/4/r/96/x", "https://example.com/u/4/r/97/x", "https://example.com/u/5/r/1/x",
		"https://www.example.org/books/1", "http://any.example/q", "https://example.com/exact",
		"https://EXAMPLE.com/u/4/r/7/", "/u/4/r/7/x", "https://example.com/u/4/r/7",
	}
	for range 2 { // the second round answers from the decision cache
		for _, tp := range topics {
			want := false
			for _, m := range g.Subscribe {
				want = want || m.Match(tp)
			}
			if got := g.CanSubscribe([]string{tp}); got != want {
				t.Errorf("CanSubscribe(%q) = %v, every pattern says %v", tp, got, want)
			}
		}
	}
	if !g.CanSubscribe([]string{"https://nope.test/", "https://example.com/u/4/r/1/y"}) {
		t.Error("an alternate topic covered by the grant is not enough (AZ-3)")
	}
}

// BenchmarkVerify100Patterns (issue 9): the CPU a connect spends on a
// draft-08 token of 100 URL patterns. "same-token": bytes verified
// before (the grant cache). "known-patterns": a new token whose patterns
// other tokens carry (signature, claims and details checked; patterns
// interned). "new-patterns": patterns never seen, compiled (what every
// connect cost before, the compiled-pattern cache being far smaller than
// the patterns of 50 users).
func BenchmarkVerify100Patterns(b *testing.B) {
	a := newAuth(b)
	ctx := b.Context()
	check := func(tok string) {
		if _, err := a.verify(ctx, Subscriber, tok, testHub); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("same-token", func(b *testing.B) {
		tok := modernToken(b, subSecret, modernClaims(hundredPatterns(1000)))
		check(tok)
		for b.Loop() {
			check(tok)
		}
	})
	b.Run("known-patterns", func(b *testing.B) {
		keep := mustGrantFor(b, a, modernToken(b, subSecret, modernClaims(hundredPatterns(1001))))
		toks := make([]string, 256)
		for i := range toks {
			c := modernClaims(hundredPatterns(1001))
			c["jti"] = fmt.Sprint("urn:uuid:", i)
			toks[i] = modernToken(b, subSecret, c)
		}
		i := 0
		for b.Loop() {
			// Each token once: a grant cache hit would not measure this.
			a.grants.remove(grantKey{Subscriber, testHub, toks[i%len(toks)]})
			check(toks[i%len(toks)])
			i++
		}
		_ = keep
	})
	b.Run("known-patterns-other-details", func(b *testing.B) {
		keep := mustGrantFor(b, a, modernToken(b, subSecret, modernClaims(hundredPatterns(1002))))
		toks := make([]string, 256)
		for i := range toks {
			d := hundredPatterns(1002)
			ts := d["topics"].([]any)
			// The same patterns in another order: other detail bytes.
			ts[0], ts[1+i%99] = ts[1+i%99], ts[0]
			c := modernClaims(d)
			c["jti"] = fmt.Sprint("urn:uuid:", i)
			toks[i] = modernToken(b, subSecret, c)
		}
		i := 0
		for b.Loop() {
			tok := toks[i%len(toks)]
			a.grants.remove(grantKey{Subscriber, testHub, tok})
			if i < len(toks) {
				// First use of these detail bytes.
			} else {
				a.details.remove(detailsKeyOf(b, tok))
			}
			check(tok)
			i++
		}
		_ = keep
	})
	b.Run("new-patterns", func(b *testing.B) {
		i := 0
		for b.Loop() {
			b.StopTimer()
			tok := modernToken(b, subSecret, modernClaims(hundredPatterns(2000+i)))
			i++
			b.StartTimer()
			check(tok)
		}
	})
}

func mustGrantFor(tb testing.TB, a *Authorizer, tok string) *Grant {
	tb.Helper()
	g, err := a.verify(tb.Context(), Subscriber, tok, testHub)
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

// detailsKeyOf is the details cache key of tok.
func detailsKeyOf(tb testing.TB, tok string) string {
	tb.Helper()
	parts := strings.Split(tok, ".")
	raw, err := b64dec(parts[1])
	if err != nil {
		tb.Fatal(err)
	}
	var c map[string]json.RawMessage
	if err := json.Unmarshal(raw, &c); err != nil {
		tb.Fatal(err)
	}
	return string(c[claimDetails])
}
