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
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The publisher speaks HTTP/1.1 itself instead of going through
// net/http's client. The client costs about 70 µs of CPU per publish on
// loopback (a write goroutine and a read goroutine per connection, channel
// hand-offs between them and the caller, a Request and a Response with
// their header maps): at 20,000 publishes/s that is more than the core the
// tool runs on, so the tool, not the hub, set the figure. Here a worker
// takes a connection, writes one pre-built request with one write, and
// parses the answer on its own goroutine: no hand-off, and a few small
// allocations per publish.

// publishTimeout bounds one publish round trip, as the http.Client's
// Timeout did.
const publishTimeout = 30 * time.Second

// maxResponseHead bounds the status line and headers of a publish answer;
// maxResponseBody the part of its body that is kept (the id, or the
// reason of a refusal).
const (
	maxResponseHead = 16 << 10
	maxResponseBody = 4096
)

// publisher posts updates over a pool of keep-alive connections, one per
// concurrent publish.
type publisher struct {
	addr    string // host:port to dial
	tls     *tls.Config
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)
	timeout time.Duration // of a connection attempt
	// head is the request up to the value of Content-Length: request
	// line, Host, Authorization, Content-Type.
	head []byte

	mu      sync.Mutex
	idle    []*pubConn
	all     map[*pubConn]struct{}
	closing bool
}

// pubConn is one keep-alive connection and the buffers it reuses.
type pubConn struct {
	conn     net.Conn
	br       *bufio.Reader
	req      []byte    // the request being built
	body     []byte    // the last answer's body
	deadline time.Time // the connection's current deadline
	used     bool      // a request has been answered on it
	closed   bool      // the hub closes it after its last answer
	// ctx is the context the connection was dialed for; stop unhooks
	// the close that ctx's end triggers.
	ctx  context.Context
	stop func() bool
}

func newPublisher(e *env, conns int) *publisher {
	target := e.hub
	if e.o.PublishHub != nil {
		target = e.o.PublishHub
	}
	p := &publisher{
		addr:    hostPort(target),
		dial:    e.dialer.dial,
		timeout: e.o.ConnectTimeout,
		head:    requestHead(target, e.pubToken),
		idle:    make([]*pubConn, 0, conns),
		all:     map[*pubConn]struct{}{},
	}
	if target.Scheme == "https" {
		p.tls = &tls.Config{ServerName: target.Hostname(), NextProtos: []string{"http/1.1"}}
	}
	return p
}

// hostPort is the address to dial for u, with the scheme's default port.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	port := "80"
	if u.Scheme == "https" {
		port = "443"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// requestHead renders what every publish request to target starts with.
func requestHead(target *url.URL, token string) []byte {
	path := target.EscapedPath()
	if path == "" {
		path = "/"
	}
	if target.RawQuery != "" {
		path += "?" + target.RawQuery
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\n", path, target.Host)
	if token != "" {
		fmt.Fprintf(&b, "Authorization: Bearer %s\r\n", token)
	}
	b.WriteString("Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ")
	return b.Bytes()
}

// update is one publish.
type update struct {
	topic   string
	data    string
	private bool
}

// appendForm appends u as an application/x-www-form-urlencoded body.
func appendForm(b []byte, u update) []byte {
	b = append(b, "topic="...)
	b = appendQueryEscape(b, u.topic)
	b = append(b, "&data="...)
	b = appendQueryEscape(b, u.data)
	if u.private {
		b = append(b, "&private=on"...)
	}
	return b
}

// appendQueryEscape appends s escaped as url.QueryEscape does, without its
// intermediate string when nothing needs escaping.
func appendQueryEscape(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !isUnreservedByte(s[i]) {
			return append(b, url.QueryEscape(s)...)
		}
	}
	return append(b, s...)
}

func isUnreservedByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// publish posts u and returns the id the hub assigned.
func (p *publisher) publish(ctx context.Context, u update) (string, error) {
	c, err := p.get(ctx)
	if err != nil {
		return "", err
	}
	c.build(p.head, u)
	id, err := c.roundTrip(ctx)
	if errors.Is(err, errKeepAlive) {
		// Once, on a new connection: the hub closed an idle one (its
		// keep-alive timeout) before the request reached it.
		p.drop(c)
		if c, err = p.dialConn(ctx); err != nil {
			return "", err
		}
		c.build(p.head, u)
		id, err = c.roundTrip(ctx)
	}
	if err != nil {
		p.drop(c)
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", err
	}
	p.put(c)
	return id, nil
}

// build renders the request for u after head in the connection's buffer:
// the body is appended first, then moved behind the Content-Length value,
// so that the request goes out in one write.
func (c *pubConn) build(head []byte, u update) {
	c.req = append(c.req[:0], head...)
	mark := len(c.req)
	c.req = appendForm(c.req, u)
	bodyLen := len(c.req) - mark
	var num [24]byte
	cl := append(strconv.AppendInt(num[:0], int64(bodyLen), 10), "\r\n\r\n"...)
	c.req = append(c.req, cl...)
	copy(c.req[mark+len(cl):], c.req[mark:mark+bodyLen])
	copy(c.req[mark:], cl)
}

// errKeepAlive is a reused connection the hub closed before answering
// anything on it: the request is sent again on a new connection, as
// net/http's client does for a request it can replay.
var errKeepAlive = errors.New("keep-alive connection closed by the hub")

func (c *pubConn) roundTrip(ctx context.Context) (string, error) {
	// The deadline is pushed forward only when half of it is used, so
	// that a publish costs no timer update.
	if now := time.Now(); c.deadline.Sub(now) < publishTimeout/2 {
		c.deadline = now.Add(publishTimeout)
		if err := c.conn.SetDeadline(c.deadline); err != nil {
			return "", err
		}
	}
	if ctx != c.ctx {
		// A connection is bound to the context it was dialed for; a
		// publish under another one watches its own.
		stop := context.AfterFunc(ctx, func() { _ = c.conn.SetDeadline(time.Unix(1, 0)) })
		defer stop()
	}
	if _, err := c.conn.Write(c.req); err != nil {
		if c.used && ctx.Err() == nil {
			return "", errKeepAlive
		}
		return "", fmt.Errorf("sending the publish: %w", err)
	}
	code, body, keep, err := readPublishResponse(c.br, c.body[:0])
	if err != nil {
		if c.used && ctx.Err() == nil && (errors.Is(err, io.EOF) || isReset(err)) {
			return "", errKeepAlive
		}
		return "", fmt.Errorf("reading the publish response: %w", err)
	}
	if cap(body) > cap(c.body) {
		c.body = body[:0]
	}
	c.used = true
	c.closed = !keep
	if code != 200 {
		return "", &statusError{code: code, body: strings.TrimSpace(string(body))}
	}
	id := strings.TrimSpace(string(body))
	if id == "" {
		return "", errors.New("the publish was acknowledged without an id in the body")
	}
	return id, nil
}

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// get returns an idle connection or dials one.
func (p *publisher) get(ctx context.Context) (*pubConn, error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return c, nil
	}
	p.mu.Unlock()
	return p.dialConn(ctx)
}

// dialConn opens a connection bound to ctx: it is closed when ctx ends,
// which also ends a publish waiting on it.
func (p *publisher) dialConn(ctx context.Context) (*pubConn, error) {
	dctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	conn, err := p.dial(dctx, "tcp", p.addr)
	if err != nil {
		return nil, fmt.Errorf("connecting: %w", err)
	}
	if p.tls != nil {
		tc := tls.Client(conn, p.tls)
		if err := tc.HandshakeContext(dctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		conn = tc
	}
	c := &pubConn{conn: conn, br: bufio.NewReaderSize(conn, 4096), ctx: ctx}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		conn.Close()
		return nil, net.ErrClosed
	}
	c.stop = context.AfterFunc(ctx, func() { conn.Close() })
	p.all[c] = struct{}{}
	return c, nil
}

// put returns c to the idle pool, or closes it when the hub said it would
// not take another request on it.
func (p *publisher) put(c *pubConn) {
	p.mu.Lock()
	if !p.closing && !c.closed {
		p.idle = append(p.idle, c)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	p.drop(c)
}

// drop closes c: after an error its stream may hold half an answer.
func (p *publisher) drop(c *pubConn) {
	p.mu.Lock()
	delete(p.all, c)
	p.mu.Unlock()
	c.stop()
	c.conn.Close()
}

// close closes every connection, idle or in use.
func (p *publisher) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closing = true
	for c := range p.all {
		c.stop()
		c.conn.Close()
	}
	clear(p.all)
	p.idle = nil
}

// readPublishResponse reads one HTTP/1.1 answer: its status, up to
// maxResponseBody bytes of its body in buf (the rest is read and
// dropped), and whether the connection may carry another request.
// Interim 1xx answers are skipped. A body is framed by Content-Length or
// chunked encoding; a body without either runs to the end of the
// connection.
func readPublishResponse(br *bufio.Reader, buf []byte) (code int, body []byte, keepAlive bool, err error) {
	for {
		line, err := readLine(br)
		if err != nil {
			return 0, nil, false, err
		}
		proto, rest, ok1 := bytes.Cut(line, []byte{' '})
		status, _, _ := bytes.Cut(rest, []byte{' '})
		if !ok1 || !bytes.HasPrefix(proto, []byte("HTTP/1.")) || len(proto) != len("HTTP/1.1") || len(status) != 3 {
			return 0, nil, false, fmt.Errorf("malformed status line %q", truncate(line, 64))
		}
		code = 0
		for _, c := range status {
			if c < '0' || c > '9' {
				return 0, nil, false, fmt.Errorf("malformed status %q", status)
			}
			code = code*10 + int(c-'0')
		}
		if code < 100 {
			return 0, nil, false, fmt.Errorf("malformed status %q", status)
		}
		http10 := proto[len(proto)-1] == '0'
		keepAlive = !http10
		length, chunked := int64(-1), false
		headBytes := len(line)
		for {
			h, err := readLine(br)
			if err != nil {
				return 0, nil, false, err
			}
			if len(h) == 0 {
				break
			}
			if headBytes += len(h); headBytes > maxResponseHead {
				return 0, nil, false, errors.New("response headers too large")
			}
			name, value, ok := bytes.Cut(h, []byte{':'})
			if !ok {
				return 0, nil, false, fmt.Errorf("malformed header line %q", truncate(h, 64))
			}
			value = bytes.TrimSpace(value)
			switch {
			case bytes.EqualFold(name, []byte("Content-Length")):
				n, err := strconv.ParseInt(string(value), 10, 64)
				if err != nil || n < 0 || (length >= 0 && n != length) {
					return 0, nil, false, fmt.Errorf("bad Content-Length %q", truncate(value, 32))
				}
				length = n
			case bytes.EqualFold(name, []byte("Transfer-Encoding")):
				if !bytes.EqualFold(value, []byte("chunked")) {
					return 0, nil, false, fmt.Errorf("unsupported Transfer-Encoding %q", truncate(value, 32))
				}
				chunked = true
			case bytes.EqualFold(name, []byte("Connection")):
				for opt := range bytes.SplitSeq(value, []byte{','}) {
					switch opt = bytes.TrimSpace(opt); {
					case bytes.EqualFold(opt, []byte("close")):
						keepAlive = false
					case bytes.EqualFold(opt, []byte("keep-alive")) && http10:
						keepAlive = true
					}
				}
			}
		}
		if code < 200 {
			if code == 101 {
				return 0, nil, false, errors.New("the hub switched protocols")
			}
			continue
		}
		var r io.Reader
		switch {
		case code == 204 || code == 304:
			return code, nil, keepAlive, nil
		case chunked:
			// Content-Length is ignored next to chunked (RFC 9112 §6.3).
			r, length = httputil.NewChunkedReader(br), -1
		case length >= 0:
			r = io.LimitReader(br, length)
		default:
			r, keepAlive = br, false
		}
		body, err := readBounded(r, length, buf)
		if err != nil {
			return 0, nil, false, fmt.Errorf("reading the body: %w", err)
		}
		if chunked {
			// The trailer section ends with an empty line.
			for {
				t, err := readLine(br)
				if err != nil {
					return 0, nil, false, err
				}
				if len(t) == 0 {
					break
				}
			}
		}
		return code, body, keepAlive, nil
	}
}

// readBounded keeps the first maxResponseBody bytes of r in buf and drains
// the rest. length is what the framing announced (-1: unknown).
func readBounded(r io.Reader, length int64, buf []byte) ([]byte, error) {
	n := maxResponseBody
	if length >= 0 && length < int64(n) {
		n = int(length)
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	body := buf[:n]
	got, err := io.ReadFull(r, body)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		if length >= 0 && int64(got) < length {
			return nil, io.ErrUnexpectedEOF
		}
		return body[:got], nil
	case err != nil:
		return nil, err
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return nil, err
	}
	return body, nil
}

// readLine reads one CRLF- (or LF-) terminated line without its end,
// bounded by the reader's buffer. The line is valid until the next read.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, errors.New("response line too long")
		}
		if errors.Is(err, io.EOF) && len(line) > 0 {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return bytes.TrimSuffix(line[:len(line)-1], []byte{'\r'}), nil
}

func truncate(s []byte, n int) string {
	if len(s) > n {
		return string(s[:n]) + "…"
	}
	return string(s)
}
