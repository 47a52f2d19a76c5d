package hub

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// ops is the operational side of the hub: metrics, admission limits,
// rate-limited warnings and the shutdown sequence. It is embedded in Hub.
type ops struct {
	metrics  Metrics
	slots    *slots
	warnings *rateLog

	// draining is closed when Shutdown starts; each open stream then picks
	// its own moment within drain to end, so that clients reconnect to the
	// other nodes spread over the window instead of all at once.
	draining chan struct{}
	drain    time.Duration // written before draining is closed
	// stopping is cancelled when Shutdown starts: request bodies still
	// arriving are cut then (bodydeadline.go).
	stopping     context.Context
	stopStarting context.CancelFunc
	shutdownOnce sync.Once
	shutdownErr  error

	// Publishes in flight. Close refuses new ones and waits for these
	// before it closes the transport: every publish that was answered 200
	// has reached the transport, and none is cut halfway.
	pubMu     sync.Mutex
	pubClosed bool
	publishes sync.WaitGroup

	// fastPublish is the fast path of keep-alive publishers, nil until
	// PublishListener (h1publish.go).
	fastPublish atomic.Pointer[fastPublish]
}

func (h *Hub) initOps() {
	h.metrics = h.cfg.Metrics
	if h.metrics == nil {
		h.metrics = NopMetrics{}
	}
	h.slots = newSlots(h.cfg.MaxSubscribers, h.cfg.MaxSubscribersPerClient)
	h.warnings = newRateLog(h.log, time.Second)
	h.draining = make(chan struct{})
	h.stopping, h.stopStarting = context.WithCancel(context.Background())
	h.reg.overflows = func() {
		h.overflows.Add(1)
		h.metrics.Overflow()
	}
}

// admission is a stream slot taken before the request's body is read and
// its matchers compiled, so that a client past the limits costs the hub
// neither.
type admission struct {
	h      *Hub
	r      *http.Request
	client string
	done   bool
}

// admit decides whether a new stream may start: the hub is not shutting
// down and the subscriber limits leave room. On refusal it has answered
// the request. On success the caller must either cancel the admission (the
// request was refused later) or start the stream, exactly once.
func (h *Hub) admit(w http.ResponseWriter, r *http.Request) (*admission, bool) {
	client := clientKey(r)
	if reason, ok := h.slots.acquire(client); !ok {
		h.log.Debug("subscriber refused", "reason", reason, "client", client)
		h.writeError(w, r, &rejection{reason, http.StatusTooManyRequests, "too many subscribers"})
		return nil, false
	}
	if !h.startStream() {
		h.slots.release(client)
		h.writeError(w, r, errShuttingDown())
		return nil, false
	}
	return &admission{h: h, r: r, client: client}, true
}

// cancel gives the slot back when no stream started; it is a no-op after
// start.
func (a *admission) cancel() {
	if a.done {
		return
	}
	a.done = true
	a.h.slots.release(a.client)
	a.h.streams.Done()
}

// start counts the stream as connected. The caller must call release
// exactly once, with the reason the stream ended.
func (a *admission) start(subscriptions int) (release func(reason string)) {
	a.done = true
	// The release outlives the request (a taken-over stream, h1conn.go):
	// it keeps what it logs, not the request.
	h, client, remote, start := a.h, a.client, a.r.RemoteAddr, time.Now()
	h.metrics.SubscriberConnected(subscriptions)
	h.log.Debug("subscriber connected", "remote", remote, "subscriptions", subscriptions, "proto", a.r.Proto)
	return func(reason string) {
		h.metrics.SubscriberDisconnected(subscriptions, reason)
		h.log.Debug("subscriber disconnected", "remote", remote, "reason", reason, "duration", time.Since(start).Round(time.Millisecond))
		h.slots.release(client)
		h.streams.Done()
	}
}

// startStream accounts for a new stream; false once the hub is closing.
func (h *Hub) startStream() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return false
	}
	h.streams.Add(1)
	return true
}

// startPublish accounts for a publish in flight, from when its body has
// been read to its answer: a body still arriving is not in flight (nothing
// was acknowledged, and a shutdown cuts it). It reports false once Close
// has started waiting for them. The caller calls h.publishes.Done.
func (h *Hub) startPublish() bool {
	h.pubMu.Lock()
	defer h.pubMu.Unlock()
	if h.pubClosed {
		return false
	}
	h.publishes.Add(1)
	return true
}

// publishesClosed reports whether Close has stopped taking publishes.
func (h *Hub) publishesClosed() bool {
	h.pubMu.Lock()
	defer h.pubMu.Unlock()
	return h.pubClosed
}

// shuttingDown reports whether Shutdown or Close has started.
func (h *Hub) shuttingDown() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closing
}

// drainDelay is when, after the drain started, one stream ends: a uniform
// moment within the window.
func (h *Hub) drainDelay() time.Duration {
	if h.drain <= 0 {
		return 0
	}
	return rand.N(h.drain)
}

// Shutdown stops accepting streams (new ones get 503 with Retry-After and
// /readyz answers 503), ends every open stream at a random moment within
// drain, and waits until they have all ended. Streams still open when drain
// has passed (stuck in a write, say) are cut; if ctx ends first Shutdown
// returns its error. Publishes are still served: call Close afterwards to
// finish them and close the transport. Only the first call has an effect.
func (h *Hub) Shutdown(ctx context.Context, drain time.Duration) error {
	h.shutdownOnce.Do(func() {
		h.mu.Lock()
		h.closing = true
		h.mu.Unlock()
		h.drain = max(drain, 0)
		close(h.draining)
		h.stopStarting()
		h.stopPublishers()
		h.drainTakenOver()
		h.log.Info("draining streams", "streams", h.Subscribers(), "drain", h.drain)

		done := make(chan struct{})
		go func() { h.streams.Wait(); close(done) }()
		cut := time.NewTimer(h.drain)
		defer cut.Stop()
		select {
		case <-done:
			return
		case <-cut.C:
		case <-ctx.Done():
		}
		// Past the window (or out of time): end whatever is left now.
		h.cutStreams()
		select {
		case <-done:
		case <-ctx.Done():
			h.shutdownErr = fmt.Errorf("hub: streams still open: %w", ctx.Err())
		}
	})
	return h.shutdownErr
}

// Close shuts the hub down without a drain if Shutdown was not called,
// refuses new publishes and waits for those in flight (or ctx), then closes
// the transport: last, so that every publish already answered has reached
// it.
func (h *Hub) Close(ctx context.Context) error {
	h.closeOnce.Do(func() {
		err := h.Shutdown(ctx, 0)
		h.cutStreams()
		// The lease keeper may be storing subscription events: it ends
		// with h.ctx, and the lease with it, before the transport closes.
		err = errors.Join(err, h.leaveSubscriptions(ctx))
		h.writers.watcher.stop()

		h.pubMu.Lock()
		h.pubClosed = true
		h.pubMu.Unlock()
		done := make(chan struct{})
		go func() { h.publishes.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			// ctx may have ended before Close was called (a shutdown that
			// used up its time): with nothing in flight, done is closed
			// too, and select picks either at random.
			select {
			case <-done:
			default:
				// Their Append will fail on the closed transport and
				// they answer 503: not acknowledged, so nothing is lost.
				err = errors.Join(err, fmt.Errorf("hub: publishes still in flight: %w", ctx.Err()))
			}
		}

		h.waitPublishers(ctx)
		if cerr := h.cfg.Transport.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("hub: closing transport: %w", cerr))
		}
		<-h.dispatched
		<-h.stateDone
		h.closeErr = err
	})
	return h.closeErr
}
