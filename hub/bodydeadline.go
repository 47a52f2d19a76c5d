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

// The guard of a publish is on its hot path (issue 9, durable publishing):
// it costs one allocation, the guard, which is also the request's body.
// Open guards are kept on a list that the shutdown walks once, instead of a
// context.AfterFunc per request (three allocations and the stopping
// context's lock), and subscribe finds its guard as the request's body
// instead of through a context value (a copy of the request).

// guardedBody is a request body under its deadline. It notes when the
// body was read to its end and lifts the deadline then.
type guardedBody struct {
	io.ReadCloser
	dl deadliner
	// prev and next link the open guards (bodyGuards.open).
	prev, next *guardedBody
	mu         sync.Mutex
	eof        bool // the handler read the body to its end
	lifted     bool // keepBody was called
}

// deadliner sets the read deadline of a request's connection: the
// http.ResponseWriter itself when it can (net/http's can), else an
// http.ResponseController.
type deadliner interface {
	SetReadDeadline(time.Time) error
}

// bodyGuards are the guards of the bodies being read, so that a shutdown
// can move their deadlines to now.
type bodyGuards struct {
	mu      sync.Mutex
	open    *guardedBody // a list through prev and next
	stopped bool         // the shutdown has begun: new guards start expired
}

// add puts g on the list; it reports false once the shutdown has begun.
func (l *bodyGuards) add(g *guardedBody) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return false
	}
	g.next = l.open
	if l.open != nil {
		l.open.prev = g
	}
	l.open = g
	return true
}

func (l *bodyGuards) remove(g *guardedBody) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if g.prev != nil {
		g.prev.next = g.next
	} else if l.open == g {
		l.open = g.next
	}
	if g.next != nil {
		g.next.prev = g.prev
	}
	g.prev, g.next = nil, nil
}

// stop expires the deadline of every body still being read, and of every
// body whose guard comes later.
func (l *bodyGuards) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stopped = true
	for g := l.open; g != nil; g = g.next {
		g.expire()
	}
}

// expire moves the deadline to now unless the body was read or lifted.
func (g *guardedBody) expire() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.lifted && !g.eof {
		_ = g.dl.SetReadDeadline(time.Now())
	}
}

// withBodyDeadline sets the body deadline of every request that has a body.
func (h *Hub) withBodyDeadline(next http.Handler) http.Handler {
	if h.cfg.BodyTimeout < 0 {
		return next
	}
	guards := &bodyGuards{}
	context.AfterFunc(h.stopping, guards.stop)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			next.ServeHTTP(w, r)
			return
		}
		dl, ok := w.(deadliner)
		if !ok {
			dl = http.NewResponseController(w)
		}
		g := &guardedBody{ReadCloser: r.Body, dl: dl}
		// Not every ResponseWriter supports deadlines (test recorders);
		// the request is still served without one.
		_ = dl.SetReadDeadline(time.Now().Add(h.cfg.BodyTimeout))
		if !guards.add(g) {
			g.expire()
		}
		r.Body = g
		next.ServeHTTP(w, r)
		guards.remove(g)
		g.expire()
	})
}

// keepBody lifts the body deadline of r, whose handler becomes a stream.
func keepBody(r *http.Request) {
	g, _ := r.Body.(*guardedBody)
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.lifted = true
	_ = g.dl.SetReadDeadline(time.Time{})
}

func (b *guardedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.mu.Lock()
		defer b.mu.Unlock()
		if !b.eof && !b.lifted {
			b.eof = true
			// Lifted at once: net/http now reads the connection in the
			// background to notice the client going away, and a deadline
			// passing there would cancel the request's context (a publish
			// waiting for its commit, say).
			_ = b.dl.SetReadDeadline(time.Time{})
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
