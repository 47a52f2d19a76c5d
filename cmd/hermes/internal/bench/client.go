package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hermes-hub/hermes/cmd/hermes/internal/bench/sse"
	"github.com/hermes-hub/hermes/hub/rawnet"
)

// maxEventBytes bounds one event read from the hub (data and any line).
const maxEventBytes = 1 << 20

// dialer opens TCP connections to the hub, spreading them over several
// local addresses: one source address has about 28,000 ephemeral ports
// towards one hub address, fewer than an idle test may need on loopback.
type dialer struct {
	locals  []net.IP
	next    atomic.Uint64
	timeout time.Duration
}

func (d *dialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	nd := net.Dialer{Timeout: d.timeout, KeepAlive: -1}
	if len(d.locals) > 0 {
		nd.LocalAddr = &net.TCPAddr{IP: d.locals[d.next.Add(1)%uint64(len(d.locals))]}
		nd.Control = bindWithoutPort
	}
	c, err := nd.DialContext(ctx, network, addr)
	if tc, ok := c.(*net.TCPConn); ok && err == nil {
		// Raw reads and writes (package rawnet): the tool reads thousands
		// of streams on one core, and reads bracketed as blocking system
		// calls kept the runtime handing its processor between threads.
		return rawnet.NewConn(tc), nil
	}
	return c, err
}

// defaultLocalAddrs picks the source addresses: on loopback, several
// 127.0.0.x addresses (all of 127/8 is local on Linux); elsewhere the
// kernel's choice.
func defaultLocalAddrs(hub *url.URL, subscribers int) []net.IP {
	ip := net.ParseIP(hub.Hostname())
	if hub.Hostname() == "localhost" {
		ip = net.IPv4(127, 0, 0, 1)
	}
	if ip == nil || ip.To4() == nil || !ip.IsLoopback() {
		return nil
	}
	// One address per 10,000 subscribers, at least 2, leaving ports to
	// other programs on the same machine.
	n := max(2, subscribers/10000+1)
	out := make([]net.IP, 0, n)
	for i := range n {
		out = append(out, net.IPv4(127, 0, 0, byte(1+i)))
	}
	return out
}

// statusError is a refused subscription or publish.
type statusError struct {
	code int
	body string
}

func (e *statusError) Error() string {
	if e.body == "" {
		return fmt.Sprintf("status %d", e.code)
	}
	return fmt.Sprintf("status %d: %s", e.code, e.body)
}

// errorKey names an error for counting: the status code, or its kind.
func errorKey(err error) string {
	var se *statusError
	var ne net.Error
	switch {
	case errors.As(err, &se):
		return strconv.Itoa(se.code)
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "closed"
	case strings.Contains(err.Error(), "connection refused"):
		return "refused"
	case strings.Contains(err.Error(), "connection reset"):
		return "reset"
	case strings.Contains(err.Error(), "cannot assign requested address"):
		return "no local port"
	case strings.Contains(err.Error(), "too many open files"):
		return "no file descriptor"
	default:
		return "error"
	}
}

// stream is one open HTTP/1.1 subscription. The tool speaks HTTP itself
// (net/http only parses the response) so that an idle subscriber costs a
// connection, two small buffers and one goroutine: the tool must hold more
// connections than the hub it measures.
type stream struct {
	conn net.Conn
	body io.ReadCloser
	sse  *sse.Reader
	// For a poller (pollread_linux.go), which reads conn itself: whether
	// the body is chunked, and the bytes of it read with the headers.
	chunked  bool
	buffered []byte
	// connected is how long the request took until the response headers.
	connected time.Duration
}

func (s *stream) Close() error { return s.conn.Close() }

// streamRequest is what a subscriber asks for.
type streamRequest struct {
	query       string // encoded query string (matchers)
	token       string
	lastEventID string // sent as the Last-Event-ID header when hasCursor
	hasCursor   bool
	bufSize     int
}

// openStream connects, sends the subscribe request and reads the response
// headers. A status other than 200 is a *statusError.
func (e *env) openStream(ctx context.Context, req streamRequest) (*stream, error) {
	start := time.Now()
	conn, err := e.dialer.dial(ctx, "tcp", e.hubAddr)
	if err != nil {
		return nil, fmt.Errorf("connecting: %w", err)
	}
	if e.hub.Scheme == "https" {
		tc := tls.Client(conn, &tls.Config{ServerName: e.hub.Hostname(), NextProtos: []string{"http/1.1"}})
		conn = tc
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	_ = conn.SetDeadline(time.Now().Add(e.o.ConnectTimeout))

	path := e.hub.EscapedPath()
	if path == "" {
		path = "/"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s?%s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n", path, req.query, e.hub.Host)
	if req.token != "" {
		fmt.Fprintf(&b, "Authorization: Bearer %s\r\n", req.token)
	}
	if req.hasCursor {
		fmt.Fprintf(&b, "Last-Event-ID: %s\r\n", req.lastEventID)
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		conn.Close()
		return nil, fmt.Errorf("sending the request: %w", err)
	}
	bufSize := req.bufSize
	if bufSize == 0 {
		bufSize = 4096
	}
	br := bufio.NewReaderSize(conn, bufSize)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("reading the response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		conn.Close()
		return nil, &statusError{code: resp.StatusCode, body: strings.TrimSpace(string(msg))}
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		conn.Close()
		return nil, fmt.Errorf("content type %q, not text/event-stream", ct)
	}
	_ = conn.SetDeadline(time.Time{})
	buffered, _ := br.Peek(br.Buffered())
	return &stream{
		conn:      conn,
		body:      resp.Body,
		sse:       sse.NewReader(resp.Body, bufSize, maxEventBytes),
		chunked:   slices.Equal(resp.TransferEncoding, []string{"chunked"}),
		buffered:  bytes.Clone(buffered),
		connected: time.Since(start),
	}, nil
}
