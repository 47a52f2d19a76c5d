// Package sseclient is the Mercure client of the spec-tests that run hubs
// as processes (spec-tests/binary, spec-tests/cluster, spec-tests/ops): it mints tokens,
// publishes updates with the form POST and reads subscriptions as
// server-sent event streams.
//
// It reports failures as errors instead of failing a test, so that it can
// be used from any goroutine; the packages' harnesses turn them into test
// failures with their own context (which node, which update).
package sseclient

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hermes-hub/hermes/auth"
)

// MaxLineBytes caps one line of an event stream: a longer one ends the
// stream with an error instead of growing the reader's memory.
const MaxLineBytes = 1 << 20

// itemBuffer is how many parsed events wait for the test to read them.
const itemBuffer = 64

// ErrEnded is wrapped by Next's error once the stream has ended.
var ErrEnded = errors.New("the stream ended")

// Event is one dispatched server-sent event.
type Event struct {
	ID, Type, Data string
}

// Update is one publish request.
type Update struct {
	Topics  []string
	ID      string // "" lets the hub choose
	Data    string
	Private bool
}

// Publish POSTs u to endpoint with the bearer token tok and returns the
// status and (the first 64 KiB of) the body, the event id on success. A
// non-200 status is not an error. It is safe from any goroutine.
func Publish(ctx context.Context, c *http.Client, endpoint, tok string, u Update) (int, string, error) {
	form := url.Values{}
	for _, tp := range u.Topics {
		form.Add("topic", tp)
	}
	if u.ID != "" {
		form.Set("id", u.ID)
	}
	form.Set("data", u.Data)
	if u.Private {
		form.Set("private", "on")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, "", fmt.Errorf("publish request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("publish %s: %w", u.ID, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return resp.StatusCode, "", fmt.Errorf("publish %s: reading the answer: %w", u.ID, err)
	}
	return resp.StatusCode, string(body), nil
}

// Request describes one subscription.
type Request struct {
	Topics []string
	// Token is the subscriber's bearer token; "" subscribes anonymously.
	Token string
	// Query holds extra query parameters (cursor spellings, say).
	Query url.Values
	// LastEventID is sent as the Last-Event-ID header when not empty.
	LastEventID string
}

// Stream is an open subscription. A goroutine parses the response into
// events as they arrive, so that each read has its own deadline.
type Stream struct {
	// Header holds the response headers.
	Header http.Header

	items    chan item
	cancel   context.CancelFunc
	quit     chan struct{}
	once     sync.Once
	finished chan struct{} // closed when the reading goroutine returned
}

// item is an event, or the error that ended the stream.
type item struct {
	ev  Event
	err error
}

// Subscribe sends r to endpoint and returns once the response headers
// arrived (within headerTimeout: they come at once, the bound only turns a
// hang into an error). Anything but 200 with an event stream is an error.
// The caller closes the stream.
func Subscribe(c *http.Client, endpoint string, r Request, headerTimeout time.Duration) (*Stream, error) {
	q := url.Values{}
	for _, tp := range r.Topics {
		q.Add("topic", tp)
	}
	for k, vs := range r.Query {
		for _, v := range vs {
			q.Add(k, v)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"?"+q.Encode(), nil)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("subscribe request: %w", err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.Token)
	}
	if r.LastEventID != "" {
		req.Header.Set("Last-Event-ID", r.LastEventID)
	}
	timer := time.AfterFunc(headerTimeout, cancel)
	resp, err := c.Do(req)
	timer.Stop()
	if err != nil {
		cancel()
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("subscribe %s: status %d (%s), want 200", req.URL.RawQuery, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("subscribe: Content-Type %q, want text/event-stream", ct)
	}
	s := &Stream{
		Header:   resp.Header,
		items:    make(chan item, itemBuffer),
		cancel:   cancel,
		quit:     make(chan struct{}),
		finished: make(chan struct{}),
	}
	go s.read(resp.Body)
	return s, nil
}

// Close ends the subscription and waits for the reading goroutine. It is
// idempotent.
func (s *Stream) Close() {
	s.once.Do(func() {
		close(s.quit)
		s.cancel()
	})
	<-s.finished
}

// Next returns the next event, or ok=false when none arrived within d. A
// stream that ended is an error wrapping ErrEnded.
func (s *Stream) Next(d time.Duration) (ev Event, ok bool, err error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case it := <-s.items:
		if it.err != nil {
			return Event{}, false, fmt.Errorf("%w: %w", ErrEnded, it.err)
		}
		return it.ev, true, nil
	case <-timer.C:
		return Event{}, false, nil
	}
}

// read parses the response until it ends or the stream is closed.
func (s *Stream) read(body io.ReadCloser) {
	defer close(s.finished)
	defer body.Close()
	p := NewParser(body)
	for {
		ev, err := p.Next()
		var it item
		if err != nil {
			it.err = err
		} else {
			it.ev = ev
		}
		select {
		case s.items <- it:
		case <-s.quit:
			return
		}
		if err != nil {
			return
		}
	}
}

// Parser reads events from an event stream, following the WHATWG
// event-stream rules as far as Mercure uses them: id, event and data fields
// (several data lines joined by a newline), comments ignored, an event
// dispatched at a blank line when it had any field. Lines end with LF or
// CRLF (hubs never send a lone CR).
type Parser struct {
	br *bufio.Reader
}

// NewParser returns a parser reading r.
func NewParser(r io.Reader) *Parser {
	return &Parser{br: bufio.NewReaderSize(r, 64<<10)}
}

// Next returns the next event, or the error that ended the stream (io.EOF
// when it ended cleanly between events).
func (p *Parser) Next() (Event, error) {
	var ev Event
	var data []string
	seen := false
	for {
		line, err := p.line()
		if err != nil {
			return Event{}, err
		}
		switch {
		case line == "":
			if seen {
				ev.Data = strings.Join(data, "\n")
				return ev, nil
			}
		case strings.HasPrefix(line, ":"):
			// a comment: the stream's opener, heartbeats
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "id":
				ev.ID, seen = value, true
			case "event":
				ev.Type, seen = value, true
			case "data":
				data, seen = append(data, value), true
			}
		}
	}
}

// line reads one line without its terminator, refusing lines longer than
// MaxLineBytes.
func (p *Parser) line() (string, error) {
	var sb strings.Builder
	for {
		frag, err := p.br.ReadSlice('\n')
		sb.Write(frag)
		if sb.Len() > MaxLineBytes {
			return "", fmt.Errorf("an event stream line is longer than %d bytes", MaxLineBytes)
		}
		switch {
		case err == nil:
			return strings.TrimSuffix(strings.TrimSuffix(sb.String(), "\n"), "\r"), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return "", err
		}
	}
}

// Until reads events until the one with id and returns those before it.
// Each event must arrive within d; a stream that ends first or a wait
// longer than d is an error.
func (s *Stream) Until(id string, d time.Duration) ([]Event, error) {
	var got []Event
	for {
		ev, ok, err := s.Next(d)
		if err != nil {
			return got, err
		}
		if !ok {
			return got, fmt.Errorf("no event within %v while waiting for %q", d, id)
		}
		if ev.ID == id {
			return got, nil
		}
		got = append(got, ev)
	}
}

// NewHTTPClient returns a client for tests that publish concurrently:
// publishers reuse their connections instead of opening one per request
// (and running out of ports). The caller closes its idle connections.
func NewHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConns:        128,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     time.Minute,
	}}
}

// Tokens mints legacy-dialect tokens signed with Key, once per set of
// grants: minting is the slow part of a publish in a test that publishes
// thousands of updates. Tokens never expire. It is safe for concurrent use.
type Tokens struct {
	Key []byte

	mu    sync.Mutex
	cache map[string]string
}

// Token returns a token granting publish and subscribe; a nil slice leaves
// the claim out.
func (k *Tokens) Token(publish, subscribe []string) (string, error) {
	key := fmt.Sprintf("%q|%q|%v|%v", publish, subscribe, publish == nil, subscribe == nil)
	k.mu.Lock()
	defer k.mu.Unlock()
	if tok, ok := k.cache[key]; ok {
		return tok, nil
	}
	tok, err := auth.Mint(auth.MintOptions{Key: k.Key, Publish: publish, Subscribe: subscribe})
	if err != nil {
		return "", fmt.Errorf("minting a token: %w", err)
	}
	if k.cache == nil {
		k.cache = map[string]string{}
	}
	k.cache[key] = tok
	return tok, nil
}

// IDs lists the ids of evs.
func IDs(evs []Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}
