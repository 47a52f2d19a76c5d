package spectests_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hermes-hub/hermes/auth"
	"github.com/hermes-hub/hermes/hub"
	"github.com/hermes-hub/hermes/hub/topic"
	"github.com/hermes-hub/hermes/transport"
	"github.com/hermes-hub/hermes/transport/memory"
)

var transportName = flag.String("transport", "memory", "history transport the hub under test runs on (memory or bolt)")

// transportFactories builds the transport named by -transport. Durable
// transports register themselves from their own file, so that this harness
// compiles while they do not exist.
var transportFactories = map[string]func(t testing.TB, size int) (transport.Transport, error){
	"memory": func(_ testing.TB, size int) (transport.Transport, error) {
		return memory.New(memory.Options{Size: size}), nil
	},
}

// TestMain fails the package when a test leaves goroutines behind: a stream
// the hub forgets to end, a dispatcher that outlives Close. Nothing is
// ignored: every server, client and hub is closed by the tests' cleanups.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Secrets are distinct per role so that a hub verifying a token with the
// wrong role's key is caught.
var (
	pubSecret = []byte("spec-tests publisher secret, 0123456789abcdef")
	subSecret = []byte("spec-tests subscriber secret, fedcba9876543210")
)

const (
	testIssuer = "https://issuer.spec.test"
	// arrive bounds every wait for something that must happen.
	arrive = 5 * time.Second
	// defaultHistory is the memory transport's history size in tests: more
	// than any test publishes.
	defaultHistory = 10000
)

// Options configure one hub under test. The zero value is a hub that
// requires tokens from everyone, has no CORS, no cookie publishing and no
// heartbeat (so that byte-exact reads are not interleaved with comments).
type Options struct {
	Anonymous      bool
	CORSOrigins    []string
	PublishOrigins []string
	// Issuer is the modern tokens' trusted issuer; empty means testIssuer,
	// NoIssuer configures none (modern tokens are then refused).
	Issuer   string
	NoIssuer bool
	// ResourceID is the aud of modern tokens; empty: the hub URL (h.URL).
	// NoResourceID configures none (draft-08 tokens are then refused).
	ResourceID   string
	NoResourceID bool
	// Heartbeat zero disables heartbeats in tests.
	Heartbeat    time.Duration
	WriteTimeout time.Duration
	CookieNames  []string
	// PublisherKey and SubscriberKey default to pubSecret and subSecret.
	PublisherKey  []byte
	SubscriberKey []byte
	Alg           string
	// MaxTokenBytes is auth.Config.MaxTokenBytes (zero: the default).
	MaxTokenBytes int
	// HistorySize is the transport's history size; zero means defaultHistory.
	HistorySize int
	// Transport overrides the -transport flag.
	Transport string

	// Operations (hub.Config fields of the same names; zero: the default).
	MaxSubscribers          int
	MaxSubscribersPerClient int
	QueueBytes              int
	Metrics                 hub.Metrics

	// Subscriptions turns on subscription events and the API.
	Subscriptions bool
	// BodyTimeout and BodyBytesInFlight are the hub.Config fields (zero:
	// the default).
	BodyTimeout       time.Duration
	BodyBytesInFlight int64
	// MaxSubscriptionCost and MaxMatcherCost are the hub.Config fields
	// (zero: the default).
	MaxSubscriptionCost int
	MaxMatcherCost      int
}

// Harness is one hub served by an httptest server and a client that speaks
// one protocol version to it.
type Harness struct {
	Proto  string // "h1" or "h2c"
	Origin string // scheme://host:port of the server
	URL    string // Origin + hub.Path: the hub URL and the default resource id
	Hub    *hub.Hub

	opts   Options
	client *http.Client
	issuer string
	pubKey []byte
	subKey []byte
	// pubAll is a legacy token allowed to publish on every topic.
	pubAll string
}

// each runs fn once over HTTP/1.1 and once over cleartext HTTP/2, each on a
// fresh hub, in parallel.
func each(t *testing.T, opts Options, fn func(t *testing.T, h *Harness)) {
	t.Helper()
	for _, proto := range []string{"h1", "h2c"} {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			fn(t, newHarness(t, proto, opts))
		})
	}
}

func newHarness(t *testing.T, proto string, opts Options) *Harness {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	origin := "http://" + srv.Listener.Addr().String()
	h := &Harness{
		Proto:  proto,
		Origin: origin,
		URL:    origin + hub.Path,
		opts:   opts,
		issuer: opts.Issuer,
		pubKey: opts.PublisherKey,
		subKey: opts.SubscriberKey,
	}
	if h.issuer == "" && !opts.NoIssuer {
		h.issuer = testIssuer
	}
	if opts.NoIssuer {
		h.issuer = ""
	}
	if h.pubKey == nil {
		h.pubKey = pubSecret
	}
	if h.subKey == nil {
		h.subKey = subSecret
	}

	name := opts.Transport
	if name == "" {
		name = *transportName
	}
	factory, ok := transportFactories[name]
	if !ok {
		srv.Close()
		t.Fatalf("unknown transport %q", name)
	}
	size := opts.HistorySize
	if size == 0 {
		size = defaultHistory
	}
	tr, err := factory(t, size)
	if err != nil {
		srv.Close()
		t.Fatalf("creating the %s transport: %v", name, err)
	}
	topts := topic.Options{Base: h.URL}
	resourceID := opts.ResourceID
	if resourceID == "" && !opts.NoResourceID {
		resourceID = h.URL
	}
	az, err := auth.New(auth.Config{
		PublisherKey:   h.pubKey,
		SubscriberKey:  h.subKey,
		Alg:            opts.Alg,
		Issuer:         h.issuer,
		ResourceID:     resourceID,
		CookieNames:    opts.CookieNames,
		PublishOrigins: opts.PublishOrigins,
		MaxTokenBytes:  opts.MaxTokenBytes,
		TopicOptions:   topts,
	})
	if err != nil {
		_ = tr.Close()
		srv.Close()
		t.Fatalf("auth.New: %v", err)
	}
	heartbeat := opts.Heartbeat
	if heartbeat == 0 {
		heartbeat = -1
	}
	hb, err := hub.New(hub.Config{
		Transport:    tr,
		Auth:         az,
		Anonymous:    opts.Anonymous,
		CORSOrigins:  opts.CORSOrigins,
		TopicOptions: topts,
		Heartbeat:    heartbeat,
		WriteTimeout: opts.WriteTimeout,
		Logger:       testLogger(),

		MaxSubscribers:          opts.MaxSubscribers,
		MaxSubscribersPerClient: opts.MaxSubscribersPerClient,
		QueueBytes:              opts.QueueBytes,
		Metrics:                 opts.Metrics,

		Subscriptions:     opts.Subscriptions,
		BodyTimeout:       opts.BodyTimeout,
		BodyBytesInFlight: opts.BodyBytesInFlight,

		MaxSubscriptionCost: opts.MaxSubscriptionCost,
		MaxMatcherCost:      opts.MaxMatcherCost,
	})
	if err != nil {
		az.Close()
		_ = tr.Close()
		srv.Close()
		t.Fatalf("hub.New: %v", err)
	}
	h.Hub = hb

	var sp http.Protocols
	sp.SetHTTP1(true)
	sp.SetUnencryptedHTTP2(true)
	srv.Config.Protocols = &sp
	srv.Config.Handler = hb
	srv.Start()

	var cp http.Protocols
	switch proto {
	case "h1":
		cp.SetHTTP1(true)
	case "h2c":
		cp.SetUnencryptedHTTP2(true)
	default:
		t.Fatalf("unknown protocol %q", proto)
	}
	ctr := &http.Transport{Protocols: &cp}
	h.client = &http.Client{
		Transport: ctr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}

	// Cleanups run last-registered first: the streams a test opens are
	// closed before this one ends the hub, the server and the client.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := hb.Close(ctx); err != nil {
			t.Errorf("closing the hub: %v", err)
		}
		az.Close()
		ctr.CloseIdleConnections()
		srv.Close()
		ctr.CloseIdleConnections()
	})
	h.pubAll = h.legacyPub("*")
	return h
}

// testLogger discards the hub's logs unless SPEC_LOG is set: logging to t.Log
// from stream goroutines could outlive the test.
func testLogger() *slog.Logger {
	if os.Getenv("SPEC_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// aud is the resource identifier modern tokens must name.
func (h *Harness) aud() string {
	if h.opts.ResourceID != "" {
		return h.opts.ResourceID
	}
	return h.URL
}

// ---------------------------------------------------------------------------
// Requests

// Req describes one request to the hub. Zero fields are left out.
type Req struct {
	Method string // default GET
	Path   string // default hub.Path
	Query  string // raw query, without '?'
	// Token is sent as "Authorization: Bearer <Token>".
	Token string
	// Header is added verbatim (several values of a name are sent as
	// several fields).
	Header      http.Header
	Cookies     []*http.Cookie
	Body        string
	ContentType string
	Host        string
}

// Result is a response whose body was read (or, for an event stream,
// discarded).
type Result struct {
	Status int
	Header http.Header
	Body   string
}

func (h *Harness) newRequest(ctx context.Context, r Req) (*http.Request, error) {
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	path := r.Path
	if path == "" {
		path = hub.Path
	}
	u := h.Origin + path
	if r.Query != "" {
		u += "?" + r.Query
	}
	var body io.Reader
	if r.Body != "" {
		body = strings.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("building %s %s: %w", method, u, err)
	}
	if r.ContentType != "" {
		req.Header.Set("Content-Type", r.ContentType)
	}
	if r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.Token)
	}
	for name, vs := range r.Header {
		req.Header.Del(name)
		for _, v := range vs {
			req.Header.Add(name, v)
		}
	}
	for _, c := range r.Cookies {
		req.AddCookie(c)
	}
	if r.Host != "" {
		req.Host = r.Host
	}
	return req, nil
}

// do sends r and checks that the response came over the protocol the
// harness speaks; the caller closes the body.
func (h *Harness) do(ctx context.Context, r Req) (*http.Response, error) {
	req, err := h.newRequest(ctx, r)
	if err != nil {
		return nil, err
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL, err)
	}
	want := 1
	if h.Proto == "h2c" {
		want = 2
	}
	if resp.ProtoMajor != want {
		resp.Body.Close()
		return nil, fmt.Errorf("%s %s: answered over HTTP/%d, the %s harness expects HTTP/%d", req.Method, req.URL, resp.ProtoMajor, h.Proto, want)
	}
	return resp, nil
}

// try sends r and reads the whole response, except an event stream's body,
// which it does not wait for.
func (h *Harness) try(ctx context.Context, r Req) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*arrive)
	defer cancel()
	resp, err := h.do(ctx, r)
	if err != nil {
		return Result{}, err
	}
	defer resp.Body.Close()
	res := Result{Status: resp.StatusCode, Header: resp.Header}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return res, nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return res, fmt.Errorf("reading the body: %w", err)
	}
	res.Body = string(b)
	return res, nil
}

// call is try for the test goroutine.
func (h *Harness) call(t testing.TB, r Req) Result {
	t.Helper()
	res, err := h.try(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// ---------------------------------------------------------------------------
// Publishing

// form encodes name/value pairs in the order given (url.Values would sort
// the names), escaping both like a browser form does.
func form(kv ...string) string {
	if len(kv)%2 != 0 {
		panic("form: odd number of arguments")
	}
	var b strings.Builder
	for i := 0; i < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(kv[i]))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(kv[i+1]))
	}
	return b.String()
}

const formType = "application/x-www-form-urlencoded"

// tryPublish posts a form body with token; safe from any goroutine.
func (h *Harness) tryPublish(ctx context.Context, token, body string) (Result, error) {
	return h.try(ctx, Req{Method: http.MethodPost, Token: token, Body: body, ContentType: formType})
}

// publishAs posts the form kv with token and returns the response.
func (h *Harness) publishAs(t testing.TB, token string, kv ...string) Result {
	t.Helper()
	res, err := h.tryPublish(context.Background(), token, form(kv...))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// publish posts the form kv with a token allowed to publish everywhere and
// requires success; it returns the update id.
func (h *Harness) publish(t testing.TB, kv ...string) string {
	t.Helper()
	res := h.publishAs(t, h.pubAll, kv...)
	if res.Status != http.StatusOK {
		t.Fatalf("publishing %q: status %d, body %q", form(kv...), res.Status, res.Body)
	}
	return res.Body
}

// wantStatus fails unless res has the status.
func wantStatus(t testing.TB, res Result, want int, what string) {
	t.Helper()
	if res.Status != want {
		t.Errorf("%s: status %d, want %d (body %q, WWW-Authenticate %q)", what, res.Status, want, res.Body, res.Header.Get("WWW-Authenticate"))
	}
}

// ---------------------------------------------------------------------------
// Subscribing

// open starts a subscription request and returns as soon as the response
// headers arrived, whatever the status. The stream is closed when the test
// ends.
func (h *Harness) open(t testing.TB, r Req) *Stream {
	t.Helper()
	if r.Header == nil {
		r.Header = http.Header{}
	}
	if r.Header.Get("Accept") == "" {
		r.Header.Set("Accept", "text/event-stream")
	}
	ctx, cancel := context.WithCancel(context.Background())
	resp, err := h.do(ctx, r)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s := newStream(resp, cancel)
	t.Cleanup(s.Close)
	return s
}

// subscribe opens a subscription that must succeed and reads its first
// bytes, the `:\n` comment every stream starts with (SSE-5). The hub sends
// the headers only once the subscriber is registered, so anything published
// after subscribe returns must be delivered.
func (h *Harness) subscribe(t testing.TB, r Req) *Stream {
	t.Helper()
	s := h.open(t, r)
	if s.Resp.StatusCode != http.StatusOK {
		b, _ := s.ReadAll(arrive)
		t.Fatalf("subscribing with %q: status %d, body %q", r.Query, s.Resp.StatusCode, b)
	}
	if ct := s.Resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("subscribing with %q: Content-Type %q", r.Query, ct)
	}
	s.expectRaw(t, ":\n")
	return s
}

// sub subscribes anonymously (or with token) to a raw query.
func (h *Harness) sub(t testing.TB, query string, token ...string) *Stream {
	t.Helper()
	r := Req{Query: query}
	if len(token) > 0 {
		r.Token = token[0]
	}
	return h.subscribe(t, r)
}

// q builds a query string from name/value pairs (like form).
func q(kv ...string) string { return form(kv...) }

// ---------------------------------------------------------------------------
// Tokens, built by hand like any client would: base64url JSON and an HMAC
// (or RSA) signature, so that odd tokens are as easy to make as good ones.

type claims = map[string]any

var (
	legacyHeader = map[string]any{"alg": "HS256", "typ": "JWT"}
	modernHeader = map[string]any{"alg": "HS256", "typ": "at+jwt"}
)

func b64json(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("b64json: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// signHMAC signs header.payload with key; the header's alg picks the hash
// (HS256/384/512), "none" leaves the signature empty.
func signHMAC(key []byte, header, payload any) string {
	in := b64json(header) + "." + b64json(payload)
	alg, _ := header.(map[string]any)["alg"].(string)
	var hf func() hash.Hash
	switch alg {
	case "HS384":
		hf = sha512.New384
	case "HS512":
		hf = sha512.New
	case "none":
		return in + "."
	default:
		hf = sha256.New
	}
	mac := hmac.New(hf, key)
	mac.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// legacy builds a legacy token carrying the mercure claim.
func (h *Harness) legacy(key []byte, mercure map[string]any) string {
	return signHMAC(key, legacyHeader, claims{"mercure": mercure})
}

func strs(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// legacyPub is a legacy publisher token for topics (selectors).
func (h *Harness) legacyPub(topics ...string) string {
	return h.legacy(h.pubKey, map[string]any{"publish": strs(topics)})
}

// legacySub is a legacy subscriber token for topics (selectors).
func (h *Harness) legacySub(topics ...string) string {
	return h.legacy(h.subKey, map[string]any{"subscribe": strs(topics)})
}

const detailType = "https://mercure.rocks/authorization-detail"

// tm is a topic matcher object of a modern token; typ "" omits match_type.
func tm(match, typ string) map[string]any {
	m := map[string]any{"match": match}
	if typ != "" {
		m["match_type"] = typ
	}
	return m
}

// matchers turns strings (exact matchers) and ready objects into a topics
// array.
func matchers(topics []any) []any {
	out := make([]any, len(topics))
	for i, v := range topics {
		if s, ok := v.(string); ok {
			out[i] = tm(s, "")
			continue
		}
		out[i] = v
	}
	return out
}

// detail is a Mercure authorization detail.
func detail(actions []string, topics ...any) map[string]any {
	return map[string]any{"type": detailType, "actions": strs(actions), "topics": matchers(topics)}
}

// modernClaims are the claims of a valid draft-08 access token carrying the
// given authorization details.
func (h *Harness) modernClaims(details ...any) claims {
	now := time.Now()
	if details == nil {
		details = []any{}
	}
	return claims{
		"iss":                   h.issuer,
		"aud":                   h.aud(),
		"sub":                   "urn:uuid:6a9e7d3c-5b1f-4c1e-9f7a-0b2c3d4e5f60",
		"client_id":             "spec-tests",
		"iat":                   now.Unix(),
		"exp":                   now.Add(time.Hour).Unix(),
		"jti":                   fmt.Sprintf("urn:uuid:%d", now.UnixNano()),
		"authorization_details": details,
	}
}

// modernPub is a draft-08 publisher token granting publish on topics
// (strings are exact matchers).
func (h *Harness) modernPub(topics ...any) string {
	return signHMAC(h.pubKey, modernHeader, h.modernClaims(detail([]string{"publish"}, topics...)))
}

// modernSub is a draft-08 subscriber token granting subscribe on topics.
func (h *Harness) modernSub(topics ...any) string {
	return signHMAC(h.subKey, modernHeader, h.modernClaims(detail([]string{"subscribe"}, topics...)))
}

// signPub and signSub sign arbitrary header and claims with a role's key.
func (h *Harness) signPub(header map[string]any, c claims) string {
	return signHMAC(h.pubKey, header, c)
}
func (h *Harness) signSub(header map[string]any, c claims) string {
	return signHMAC(h.subKey, header, c)
}

// ---------------------------------------------------------------------------
// Challenges

// challenge returns the WWW-Authenticate value and fails unless it is a
// Bearer challenge (ERR-1).
func challenge(t testing.TB, res Result) string {
	t.Helper()
	c := res.Header.Get("WWW-Authenticate")
	if len(c) < 6 || !strings.EqualFold(c[:6], "Bearer") {
		t.Errorf("status %d: WWW-Authenticate %q, want a Bearer challenge", res.Status, c)
	}
	return c
}

// wantAuthError checks status and the RFC 6750 error code of the challenge;
// code "" means a bare challenge without any error attribute (ERR-2).
func wantAuthError(t testing.TB, res Result, status int, code, what string) {
	t.Helper()
	if res.Status != status {
		t.Errorf("%s: status %d, want %d (body %q, WWW-Authenticate %q)", what, res.Status, status, res.Body, res.Header.Get("WWW-Authenticate"))
		return
	}
	c := challenge(t, res)
	if code == "" {
		if strings.Contains(c, "error=") {
			t.Errorf("%s: challenge %q carries an error code, want a bare challenge", what, c)
		}
		return
	}
	if !strings.Contains(c, `error="`+code+`"`) {
		t.Errorf("%s: challenge %q, want error=%q", what, c, code)
	}
}
