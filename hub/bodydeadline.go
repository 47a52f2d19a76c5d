package hub

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"
)

// Request bodies are read under a deadline of their own.
//
// The server's ReadHeaderTimeout ends with the headers, and the server has
// no ReadTimeout on purpose (it would cut streams), so nothing else bounds
// the time a client takes to send a body: a client writing one byte every
// few seconds held a connection, a handler goroutine and the body read so
// far for as long as it liked, and a shutdown waited for it. Every request
// that announces a body therefore gets a read deadline of BodyTimeout from
// the moment the hub sees it; a shutdown moves it to now. A subscribe
// request that turns into a stream lifts it (keepBody) once its body (QUERY)
// has been read: a stream is long-lived by design and bounded otherwise.
//
// When the handler did not read the whole body (a refusal before reading
// it: 401, 429...), the deadline is moved to now before the response goes
// out, so that net/http does not wait for the rest of a slow body to keep
// the connection alive; the connection is closed instead.

// bodyGuard is the deadline of one request's body.
type bodyGuard struct {
	rc     *http.ResponseController
	stop   func() bool // unregisters the shutdown hook
	mu     sync.Mutex
	eof    bool // the handler read the body to its end
	lifted bool // keepBody was called
}

type bodyGuardKey struct{}

// withBodyDeadline sets the body deadline of every request that has a body.
func (h *Hub) withBodyDeadline(next http.Handler) http.Handler {
	if h.cfg.BodyTimeout < 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			next.ServeHTTP(w, r)
			return
		}
		g := &bodyGuard{rc: http.NewResponseController(w)}
		// Not every ResponseWriter supports deadlines (test recorders);
		// the request is still served without one.
		_ = g.rc.SetReadDeadline(time.Now().Add(h.cfg.BodyTimeout))
		g.stop = context.AfterFunc(h.stopping, func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			if !g.lifted && !g.eof {
				_ = g.rc.SetReadDeadline(time.Now())
			}
		})
		r.Body = &guardedBody{ReadCloser: r.Body, g: g}
		r = r.WithContext(context.WithValue(r.Context(), bodyGuardKey{}, g))
		next.ServeHTTP(w, r)
		g.stop()
		g.mu.Lock()
		defer g.mu.Unlock()
		if !g.eof && !g.lifted {
			_ = g.rc.SetReadDeadline(time.Now())
		}
	})
}

// keepBody lifts the body deadline of r, whose handler becomes a stream.
func keepBody(r *http.Request) {
	g, _ := r.Context().Value(bodyGuardKey{}).(*bodyGuard)
	if g == nil {
		return
	}
	g.stop()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.lifted = true
	_ = g.rc.SetReadDeadline(time.Time{})
}

// guardedBody notes when the body was read to its end and lifts the
// deadline then.
type guardedBody struct {
	io.ReadCloser
	g *bodyGuard
}

func (b *guardedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.g.mu.Lock()
		defer b.g.mu.Unlock()
		if !b.g.eof && !b.g.lifted {
			b.g.eof = true
			// Lifted at once: net/http now reads the connection in the
			// background to notice the client going away, and a deadline
			// passing there would cancel the request's context (a publish
			// waiting for its commit, say).
			_ = b.g.rc.SetReadDeadline(time.Time{})
		}
	}
	return n, err
}

// bodyBudget bounds the bytes of request bodies being read at once, hub-wide
// (Config.BodyBytesInFlight): the deadline bounds how long one body may
// take, this how much memory slow bodies may hold together. Each body is
// charged what it may grow to (its Content-Length, or MaxBodyBytes when
// unknown) before its first byte is read.
type bodyBudget struct {
	mu   sync.Mutex
	used int64
	max  int64 // negative: unlimited
}

func (b *bodyBudget) acquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.max >= 0 && b.used+n > b.max && b.used > 0 {
		return false
	}
	b.used += n
	return true
}

func (b *bodyBudget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}
