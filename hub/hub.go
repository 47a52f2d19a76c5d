// Package hub serves the Mercure protocol over HTTP: publish, subscribe, and
// the fan-out between them. It speaks both protocol generations on one
// endpoint, decided per request and per token.
//
// # Locking
//
// Three locks meet on the subscribe and dispatch paths. They are only ever
// taken in this order, and a goroutine holding one never waits for an
// earlier one:
//
//  1. registry.mu: the dispatcher holds it for one event while it queues
//     frames; registration (registry.add) and removal take it too.
//  2. subscriber.mu: guards one subscriber's queue; taken under
//     registry.mu by enqueue, and alone by the writer draining the queue.
//     Nothing that may block (a write, a send, another lock) happens while
//     it is held: enqueue releases it before waking the writer.
//  3. Hub.mu: guards closing and the count of open streams (startStream,
//     shuttingDown); a leaf, taken alone.
//
// The other locks are leaves too, never held while taking one of the
// above: activeSubscriptions.mu (the subscription API's list), slots.mu
// (admission), openStreams.mu (the hub's open streams, copied out before
// anyone acts on them), stream.stopMu and stream.ioMu (one stream's end
// and its write in progress). A stream's teardown (stream.close) takes
// registry.mu with none of them held.
package hub

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gorilla/mux"
	"github.com/rs/cors"

	"github.com/hermes-hub/hermes/hub/ui"
	"github.com/hermes-hub/hermes/transport"
)

// Hub is the Mercure hub: an http.Handler for the hub path and the
// dispatcher that fans updates out from the transport's feed.
type Hub struct {
	cfg     Config
	log     *slog.Logger
	handler http.Handler
	reg     *registry
	pool    *matcherPool // costly matchers of open streams (matcherbudget.go)
	writers *writerPool  // writes taken-over HTTP/1.1 streams (h1conn.go)
	bodies  *bodyBudget  // request bodies being read (bodydeadline.go)

	// ctx ends every stream when the hub closes.
	ctx    context.Context
	cancel context.CancelFunc

	dispatched chan struct{} // closed when the dispatcher has stopped
	stateDone  chan struct{} // closed when the receiver of other nodes' subscription events has stopped

	// mu orders stream starts against Close, so that no stream starts once
	// Close waits for the open ones.
	mu        sync.Mutex
	closing   bool
	streams   sync.WaitGroup
	keeping   sync.WaitGroup // the subscription store's lease keeper
	closeOnce sync.Once
	closeErr  error

	overflows atomic.Uint64
	// open is the set of open streams, walked to end them on a shutdown
	// or a loss of history (openstreams.go).
	open openStreams

	// replayBudget bounds the history all replays hold at once.
	replayBudget *transport.Budget

	ops // metrics, limits, rate-limited warnings, shutdown (ops.go)
}

// New starts a hub on cfg.Transport. The caller closes it with Close.
func New(cfg Config) (*Hub, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	h := &Hub{
		cfg:        cfg,
		log:        cfg.Logger,
		reg:        newRegistry(cfg.Transport.LastSeq()),
		pool:       newMatcherPool(cfg.MaxMatcherCost),
		writers:    newWriterPool(coalesceWindow, maxCoalesceWindow),
		bodies:     &bodyBudget{max: cfg.BodyBytesInFlight},
		dispatched: make(chan struct{}),
		stateDone:  make(chan struct{}),

		replayBudget: transport.NewBudget(cfg.ReplayMemory),
	}
	h.reg.state.maxEvents, h.reg.state.maxBytes = cfg.SubscriptionEventsKept, cfg.SubscriptionEventsBytes
	h.ctx, h.cancel = context.WithCancel(context.Background())
	if n, ok := cfg.Transport.(transport.LossNotifier); ok {
		go h.watchLosses(n)
	}
	h.initOps()
	if r, ok := cfg.Metrics.(publishLoopReporter); ok {
		r.PublishLoop(h.publishLoopCounts)
	}

	r := mux.NewRouter()
	r.Path(Path).Methods(http.MethodGet, http.MethodHead, methodQuery).HandlerFunc(h.subscribe)
	r.Path(Path).Methods(http.MethodPost).HandlerFunc(h.publish)
	r.Path(MetadataPath).Methods(http.MethodGet, http.MethodHead).HandlerFunc(h.metadata)
	r.Path(ScriptPath).Methods(http.MethodGet, http.MethodHead).Handler(ui.Script())
	if h.cfg.UI != nil {
		r.Path(strings.TrimSuffix(UIPath, "/")).Methods(http.MethodGet, http.MethodHead).Handler(http.RedirectHandler(UIPath, http.StatusMovedPermanently))
		r.PathPrefix(UIPath).Handler(http.StripPrefix(strings.TrimSuffix(UIPath, "/"), h.cfg.UI))
	}
	r.Path("/healthz").Methods(http.MethodGet, http.MethodHead).HandlerFunc(healthz)
	r.Path("/readyz").Methods(http.MethodGet, http.MethodHead).HandlerFunc(h.readyz)
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	})
	h.handler = securityHeaders(h.withBodyDeadline(h.withCORS(h.withSubscriptionsAPI(h.routePublish(r)))))

	go h.run()
	if sb, ok := cfg.Transport.(transport.StateBroadcaster); ok {
		go h.receiveState(sb)
	} else {
		close(h.stateDone)
	}
	h.keepSubscriptions()
	return h, nil
}

// methodQuery is the safe method with a body (SUB-2).
const methodQuery = "QUERY"

// ServeHTTP serves the hub path.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.handler.ServeHTTP(w, r)
}

// run dispatches the transport's feed until it is closed.
func (h *Hub) run() {
	defer close(h.dispatched)
	for ev := range h.cfg.Transport.Feed() {
		if n := h.reg.dispatch(ev); n > 0 {
			h.metrics.Delivered(n)
		}
	}
}

// withCORS answers preflights and adds CORS headers for the allowed origins.
// Credentials are allowed with an allowlist and never with "*" (CORS-1/2):
// browsers refuse "*" with credentials anyway, so sending both only hides a
// misconfiguration.
func (h *Hub) withCORS(next http.Handler) http.Handler {
	if len(h.cfg.CORSOrigins) == 0 {
		return next
	}
	return cors.New(cors.Options{
		AllowedOrigins:   h.cfg.CORSOrigins,
		AllowCredentials: !slices.Contains(h.cfg.CORSOrigins, "*"),
		AllowedMethods:   []string{http.MethodGet, http.MethodHead, http.MethodPost, methodQuery},
		// last-event-id for cross-origin EventSource reconnects, authorization
		// and cache-control for header-based polyfills.
		// If-None-Match lets browser code revalidate subscription API answers.
		AllowedHeaders: []string{"Authorization", "Last-Event-ID", "Cache-Control", "If-None-Match"},
		ExposedHeaders: []string{"Link", "ETag", "Last-Event-ID", "Mercure-Last-Event-ID"},
	}).Handler(next)
}

// securityHeaders sets the headers every response of the hub carries: none of
// them is a page to frame or sniff. The values are assigned, not Set: one
// shared slice each instead of three allocations per request (a publish
// made about sixty); a handler that changes one replaces the slice
// (Header.Set), it never writes into it.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd["X-Content-Type-Options"] = nosniff
		hd["X-Frame-Options"] = frameDeny
		hd["Content-Security-Policy"] = cspSelf
		next.ServeHTTP(w, r)
	})
}

var (
	nosniff   = []string{"nosniff"}
	frameDeny = []string{"DENY"}
	cspSelf   = []string{"default-src 'self'"}
)

// routePublish hands a publish (POST on the hub path) straight to its
// handler. The router would reach the same handler, at the cost of its
// regular expressions and of two copies of the request for route
// variables the hub does not use: about a tenth of the allocations and a
// few percent of the CPU of a publish (issue 9, durable publishing).
func (h *Hub) routePublish(router http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == Path && r.URL.RawPath == "" {
			h.publish(w, r)
			return
		}
		router.ServeHTTP(w, r)
	})
}

// Subscribers is the number of connected subscribers.
func (h *Hub) Subscribers() int { return h.reg.size() }
