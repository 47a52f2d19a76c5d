package hub

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/hermes-hub/hermes/auth"
	"github.com/hermes-hub/hermes/hub/topic"
	"github.com/hermes-hub/hermes/transport"
)

// publish handles POST: authorize, parse and validate the form, append the
// event to the transport (durable before 200), answer the id (PUB-*).
func (h *Hub) publish(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if h.publishesClosed() {
		// Refused before anything is read; one that started earlier is
		// refused by startPublish below.
		h.writeError(w, r, errShuttingDown())
		return
	}
	// Authorization comes before the body is even read (ref order, §1.13): a
	// request without a valid token learns nothing about its fields.
	grant, ok := h.authenticate(w, r, auth.Publisher, false)
	if !ok {
		return
	}
	ev, err := h.parseUpdate(w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	for _, t := range ev.Topics {
		if !grant.CanPublish(t) {
			h.writeError(w, r, auth.ErrInsufficientScope("topic not granted for publishing"))
			return
		}
	}
	if !h.startPublish() {
		h.writeError(w, r, errShuttingDown())
		return
	}
	defer h.publishes.Done()
	if err := h.cfg.Transport.Append(r.Context(), ev); err != nil {
		h.writeError(w, r, &storageError{OpAppend, "the update could not be stored", fmt.Errorf("update %s: %w", ev.ID, err)})
		return
	}
	latency := time.Since(start)
	h.metrics.Published(latency)
	if h.log.Enabled(r.Context(), slog.LevelDebug) {
		// Guarded: the arguments would be boxed on every publish even
		// with debug logging off.
		h.log.Debug("published", "id", ev.ID, "topics", len(ev.Topics), "private", ev.Private, "bytes", len(ev.Data), "latency", latency)
	}
	if h.takeOverPublisher(w, r, ev.ID) {
		return
	}
	// Assigned, not Set: the shared value saves a slice per publish
	// (net/http copies the header map before writing it).
	w.Header()["Content-Type"] = textPlainUTF8
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, ev.ID)
}

// textPlainUTF8 is the Content-Type of the publish answer. It must never be
// modified: every answer shares it.
var textPlainUTF8 = []string{"text/plain; charset=utf-8"}

// readForm reads a form-urlencoded body bounded by MaxBodyBytes.
func (h *Hub) readForm(w http.ResponseWriter, r *http.Request, required bool) ([]pair, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" && !required && r.ContentLength == 0 {
		return nil, nil
	}
	// The exact type, as every client sends it, is what ParseMediaType
	// would accept without building its map of parameters.
	if ct != formType {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != formType {
			return nil, badRequest("the body must be application/x-www-form-urlencoded")
		}
	}
	// Charged before the first byte is read, at what the body may grow to.
	charge := h.cfg.MaxBodyBytes
	if r.ContentLength >= 0 && r.ContentLength < charge {
		charge = r.ContentLength
	}
	if !h.bodies.acquire(charge) {
		return nil, &rejection{RejectBodyBudget, http.StatusServiceUnavailable, "too many request bodies are arriving at once; retry later"}
	}
	defer h.bodies.release(charge)
	// A body framed by a Content-Length within the bound cannot outgrow
	// it: net/http stops there. Only the others (chunked, or announced
	// larger) need MaxBytesReader, which answers 413 and closes the
	// connection when the bound is crossed.
	src := r.Body
	if r.ContentLength < 0 || r.ContentLength > h.cfg.MaxBodyBytes {
		src = http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes)
	}
	bp := bodyBuffers.Get().(*[]byte)
	body, err := readBody(src, (*bp)[:0], min(charge, 64<<10)+1)
	defer putBodyBuffer(bp, body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.metrics.Rejected(RejectBodyTooLarge)
			return nil, tooLarge("the body exceeds %d bytes", h.cfg.MaxBodyBytes)
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			h.metrics.Rejected(RejectBodyTimeout)
			return nil, &requestError{http.StatusRequestTimeout, "the body did not arrive in time"}
		}
		return nil, badRequest("reading the body failed")
	}
	// Every pair costs at least one byte plus a separator, so this bound only
	// stops absurd inputs; the field limits below do the real work.
	pairs, ok := parseForm(string(body), h.cfg.MaxTopics+h.cfg.MaxMatchers+64)
	if !ok {
		return nil, tooLarge("too many fields")
	}
	return pairs, nil
}

// formType is the one media type of publish (and QUERY) bodies.
const formType = "application/x-www-form-urlencoded"

// bodyBuffers holds the buffers request bodies are read into: the form is
// parsed from a string copied out of it, so a buffer is free again as soon
// as readForm returns.
var bodyBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxPooledBody is the largest buffer kept for reuse: a rare large body
// must not pin its buffer.
const maxPooledBody = 64 << 10

func putBodyBuffer(bp *[]byte, body []byte) {
	if cap(body) > maxPooledBody {
		return
	}
	*bp = body[:0]
	bodyBuffers.Put(bp)
}

// readBody reads r to its end into buf, first grown to room for size
// bytes (the announced length and one more, so that the end is seen
// without growing), and returns what it read, also on an error.
func readBody(r io.Reader, buf []byte, size int64) ([]byte, error) {
	if int64(cap(buf)) < size {
		buf = make([]byte, 0, size)
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// parseUpdate turns the publish form into an event, enforcing the field
// rules of draft-08 (PUB-2..13) for every publisher: the stricter rules cost
// legacy clients nothing they use, and they close injection holes.
func (h *Hub) parseUpdate(w http.ResponseWriter, r *http.Request) (*transport.Event, error) {
	pairs, err := h.readForm(w, r, true)
	if err != nil {
		return nil, err
	}
	ev := &transport.Event{}
	var seen struct{ data, id, typ, retry bool }
	for _, p := range pairs {
		switch p.name {
		case "topic":
			if len(ev.Topics) == h.cfg.MaxTopics {
				return nil, tooLarge("more than %d topics", h.cfg.MaxTopics)
			}
			if len(p.value) > h.cfg.MaxFieldBytes {
				return nil, tooLarge("a topic exceeds %d bytes", h.cfg.MaxFieldBytes)
			}
			if err := topic.ValidString(p.value); err != nil {
				return nil, badRequest("invalid topic: %v", err)
			}
			if p.value == topic.Wildcard {
				return nil, badRequest(`the topic "*" cannot be published`)
			}
			if topic.IsReserved(p.value, Path) {
				return nil, badRequest("the topic is in the hub's reserved namespace")
			}
			if topic.HasDotSegment(p.value) {
				// One meaning for every matcher: legacy selectors read the
				// raw string, URL patterns the normalised URL (finding 6).
				return nil, badRequest("the topic's path has a . or .. segment; publish the normalised topic")
			}
			ev.Topics = append(ev.Topics, p.value)
		case "data":
			if seen.data {
				continue
			}
			seen.data = true
			if !utf8.ValidString(p.value) {
				return nil, badRequest("data is not valid UTF-8")
			}
			ev.Data = p.value
		case "private":
			// Presence alone makes the update private; the value is never
			// read (PUB-9): "private=false" is private too.
			ev.Private = true
		case "id":
			if seen.id {
				continue
			}
			seen.id = true
			if err := h.checkField("id", p.value); err != nil {
				return nil, err
			}
			if strings.HasPrefix(p.value, "#") || p.value == "earliest" {
				return nil, badRequest(`the id must not start with "#" nor be "earliest"`)
			}
			ev.ID = p.value
		case "type":
			if seen.typ {
				continue
			}
			seen.typ = true
			if err := h.checkField("type", p.value); err != nil {
				return nil, err
			}
			if p.value == "mercure" {
				return nil, badRequest(`the type "mercure" is reserved`)
			}
			ev.Type = p.value
		case "retry":
			if seen.retry || p.value == "" {
				continue
			}
			seen.retry = true
			n, err := parseRetry(p.value)
			if err != nil {
				return nil, err
			}
			ev.Retry = n
		}
	}
	if len(ev.Topics) == 0 {
		return nil, badRequest(`missing "topic" parameter`)
	}
	if m, ok := h.cfg.Transport.(transport.IDMinter); ok && ev.ID == "" {
		// Opaque ids the transport indexes in order (bolt: encrypted counters).
		ev.ID = m.MintID()
	} else if ev.ID == "" {
		// v4, not v7: a time-ordered id would tell subscribers when
		// updates they cannot read were published (REC-12).
		ev.ID = "urn:uuid:" + uuid.NewString()
	}
	ev.Time = time.Now()
	ev.Frame = encodeEvent(ev)
	return ev, nil
}

func (h *Hub) checkField(name, v string) error {
	if len(v) > h.cfg.MaxFieldBytes {
		return tooLarge("the %s exceeds %d bytes", name, h.cfg.MaxFieldBytes)
	}
	if err := topic.ValidString(v); err != nil {
		return badRequest("invalid %s: %v", name, err)
	}
	return nil
}

// MaxRetry bounds the retry field, in milliseconds: a day. A publisher
// scoped to one topic must not be able to keep its subscribers' clients
// from ever reconnecting (issue 10, finding 9).
const MaxRetry = 24 * 60 * 60 * 1000

// parseRetry accepts ASCII digits only (PUB-12): strconv would also take a
// sign.
func parseRetry(v string) (uint64, error) {
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, badRequest("retry must be a non-negative integer")
		}
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n > MaxRetry {
		return 0, badRequest("retry exceeds %d ms (a day)", MaxRetry)
	}
	return n, nil
}
