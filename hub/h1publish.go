package hub

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hermes-hub/hermes/hub/rawnet"
)

// Keep-alive publishers are served without net/http after their first
// publish (issue 9, durable publishing).
//
// Why: on one core, a durable publish cost about 60 µs of the hub's CPU, of
// which net/http's own work was about 12: parsing and canonicalising every
// header, a goroutine per request that watches the connection while the
// handler runs, a cancellable context, a buffered writer and a chunk
// writer, the Date and the header block written field by field. A PHP
// worker or a Symfony messenger consumer that keeps its connection open
// sends the same request shape over and over, and the hub reads three of
// its headers.
//
// How: the first publish on a plain-text HTTP/1.1 keep-alive connection is
// served by net/http as any request; when it succeeded, the handler takes
// the connection over (hijack) and a loop of its own (publishLoop) serves
// the next requests. The loop reads a request's head, and only when it is
// exactly a POST on the hub path with a Content-Length and none of the
// headers that change how a request is framed or answered (publishHead)
// does it serve it: through the hub's whole handler chain, with a small
// http.Request and a ResponseWriter that writes the answer in one write.
// Any other request, and any head it cannot judge, goes back to net/http
// untouched: the connection, with the bytes read so far, is accepted again
// by the server from the listener the hub wraps (PublishListener). Nothing
// a client sends is ever refused by this path; at worst it is served by
// net/http one request later.
//
// The fast path is on only where the server serves a listener from
// PublishListener, and only for plain-text connections: a TLS connection
// handed back would be handshaken again.

// publishHeadSize is the buffer of a taken-over publisher connection: a
// head that does not fit is handed back (net/http allows heads of 1 MiB).
const publishHeadSize = 4096

// PublishListener wraps the plain-text listener the server serves, so that
// keep-alive publishers can be served without net/http (see above). The
// server must serve the returned listener, and only one listener of a hub
// may be wrapped. readHeader and idle are the server's ReadHeaderTimeout
// and IdleTimeout, which the taken-over connections keep.
func (h *Hub) PublishListener(ln net.Listener, readHeader, idle time.Duration) net.Listener {
	l := &handbackListener{Listener: ln, back: make(chan net.Conn), accepted: make(chan acceptResult), closed: make(chan struct{})}
	go l.pump()
	h.fastPublish.Store(&fastPublish{back: l, readHeader: readHeader, idle: idle, conns: map[*publishConn]struct{}{}})
	return l
}

// publishLoopCounts returns the publish loop's counts for the metrics:
// zeros while the hub serves no listener through PublishListener.
func (h *Hub) publishLoopCounts() (takenOver, served, handedBack uint64) {
	fp := h.fastPublish.Load()
	if fp == nil {
		return 0, 0, 0
	}
	return fp.takenOver.Load(), fp.served.Load(), fp.handedBack.Load()
}

// fastPublish is the state of the fast path of a hub.
type fastPublish struct {
	back             *handbackListener
	readHeader, idle time.Duration

	// mu guards conns, and orders add against stop. Lock order:
	// fastPublish.mu, then publishConn.mu.
	mu      sync.Mutex
	conns   map[*publishConn]struct{}
	stopped atomic.Bool // set by stop under mu; read without it
	wg      sync.WaitGroup

	// Connections taken over, requests the loops served, connections
	// handed back: the metrics read them (publishLoopCounts), and tests.
	takenOver, served, handedBack atomic.Uint64
}

// handbackListener is the server's listener with a side door: connections
// the fast path gives back are accepted again.
type handbackListener struct {
	net.Listener
	back      chan net.Conn
	accepted  chan acceptResult
	closed    chan struct{}
	closeOnce sync.Once
}

type acceptResult struct {
	c   net.Conn
	err error
}

// pump accepts from the real listener, so that Accept can wait for either
// door. Errors are passed on as they are: net/http retries the temporary
// ones after a pause, and until it calls Accept again pump waits.
func (l *handbackListener) pump() {
	for {
		c, err := l.Listener.Accept()
		select {
		case l.accepted <- acceptResult{c, err}:
		case <-l.closed:
			if c != nil {
				_ = c.Close()
			}
			return
		}
		if errors.Is(err, net.ErrClosed) {
			return
		}
	}
}

func (l *handbackListener) Accept() (net.Conn, error) {
	select {
	case r := <-l.accepted:
		return r.c, r.err
	case c := <-l.back:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *handbackListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// giveBack hands c to the server again; it reports false when the
// listener is closed (the caller closes c).
func (l *handbackListener) giveBack(c net.Conn) bool {
	select {
	case l.back <- c:
		return true
	case <-l.closed:
		return false
	}
}

// replayConn is a connection given back with bytes already read from it.
type replayConn struct {
	net.Conn
	pending []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// takeOverPublisher is called by publish after it stored an update and
// before it answers: when the connection qualifies, it answers id itself on
// the hijacked connection and starts the loop, and reports true.
func (h *Hub) takeOverPublisher(w http.ResponseWriter, r *http.Request, id string) bool {
	fp := h.fastPublish.Load()
	if fp == nil || r.TLS != nil || r.ProtoMajor != 1 || r.ProtoMinor != 1 || r.Close {
		return false
	}
	// The body was read to its end: publish reads the form to io.EOF
	// before it stores anything.
	hj, ok := hijacker(w)
	if !ok {
		return false
	}
	c, brw, err := hj.Hijack()
	if err != nil {
		return false
	}
	pc := &publishConn{h: h, fp: fp, raw: c, remote: r.RemoteAddr}
	pc.conn = c
	if tc, ok := c.(*net.TCPConn); ok {
		pc.conn = rawnet.NewConn(tc)
	}
	pc.buf = make([]byte, publishHeadSize)
	pc.rw.pc = pc
	pc.rw.header = make(http.Header, 8)
	if n := brw.Reader.Buffered(); n > 0 {
		pending, _ := brw.Reader.Peek(n)
		if n <= len(pc.buf) {
			pc.w = copy(pc.buf, pending)
		} else {
			// More pipelined bytes than the buffer holds: net/http
			// has them, after this answer.
			pc.pending = bytes.Clone(pending)
		}
	}
	fp.takenOver.Add(1) // before the answer, which tests wait for
	w.Header()["Content-Type"] = textPlainUTF8
	resp := appendResponse(nil, http.StatusOK, w.Header(), []byte(id), false)
	if err := pc.write(resp); err != nil {
		_ = c.Close()
		return true
	}
	if !fp.add(pc) {
		_ = c.Close()
		return true
	}
	if pc.pending != nil {
		pc.handBack()
		return true
	}
	go pc.loop()
	return true
}

// hijacker finds the http.Hijacker under w's wrappers, as
// http.ResponseController does.
func hijacker(w http.ResponseWriter) (http.Hijacker, bool) {
	for {
		switch t := w.(type) {
		case http.Hijacker:
			return t, true
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return nil, false
		}
	}
}

func (fp *fastPublish) add(pc *publishConn) bool {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	if fp.stopped.Load() {
		return false
	}
	fp.conns[pc] = struct{}{}
	fp.wg.Add(1)
	return true
}

func (fp *fastPublish) remove(pc *publishConn) {
	fp.mu.Lock()
	delete(fp.conns, pc)
	fp.mu.Unlock()
	fp.wg.Done()
}

// stop is the shutdown: connections waiting for a request are closed,
// those serving one close after their answer, as net/http does.
func (fp *fastPublish) stop() {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	fp.stopped.Store(true)
	for pc := range fp.conns {
		pc.mu.Lock()
		if pc.idle {
			_ = pc.raw.SetReadDeadline(time.Now())
		}
		pc.mu.Unlock()
	}
}

// publishConn is a taken-over publisher connection.
type publishConn struct {
	h      *Hub
	fp     *fastPublish
	raw    net.Conn // as hijacked: deadlines, close
	conn   net.Conn // reads and writes (raw system calls on TCP)
	remote string

	buf     []byte // buf[r:w] is read and not consumed
	r, w    int
	pending []byte // bytes to give back that buf could not hold

	rw publishWriter // reused by every request

	// writeDeadline is the write deadline set on raw, kept while it is
	// at least half of publishWriteTimeout away (one timer update fewer
	// per answer).
	writeDeadline time.Time

	mu   sync.Mutex // guards idle against fastPublish.stop
	idle bool       // waiting for the next request's first byte
}

func (pc *publishConn) write(b []byte) error {
	if now := time.Now(); pc.writeDeadline.Sub(now) < publishWriteTimeout/2 {
		pc.writeDeadline = now.Add(publishWriteTimeout)
		_ = pc.raw.SetWriteDeadline(pc.writeDeadline)
	}
	_, err := pc.conn.Write(b)
	return err
}

// publishWriteTimeout bounds the write of one answer: a client that stops
// reading loses its connection instead of a goroutine.
const publishWriteTimeout = 10 * time.Second

// setIdle marks the connection as waiting (or not) for a request; it
// reports false once the shutdown has begun. stop stores stopped before it
// looks at idle: either this sees the shutdown, or stop sees idle set and
// moves the deadline.
func (pc *publishConn) setIdle(idle bool) bool {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	pc.idle = idle
	return !pc.fp.stopped.Load()
}

// loop serves requests until the connection ends or a request is handed
// back.
func (pc *publishConn) loop() {
	var resp []byte
	for {
		head, ok := pc.readHead()
		if !ok {
			pc.close()
			return
		}
		pr := parsePublishHead(head, pc.h.cfg.MaxBodyBytes)
		if pr == nil {
			pc.handBack()
			return
		}
		pc.r += len(head)
		pr.req.RemoteAddr = pc.remote
		pr.body.pc = pc
		if pr.req.ContentLength > 0 && pc.h.cfg.BodyTimeout < 0 {
			// As net/http: no deadline for the body but the body
			// deadline, which withBodyDeadline sets when it is on.
			_ = pc.raw.SetReadDeadline(time.Time{})
		}
		rw := &pc.rw
		clear(rw.header)
		rw.code, rw.body = 0, rw.body[:0]
		rw.bodyBuffered.Store(pr.body.buffered())
		served := pc.serve(rw, &pr.req)
		rw.bodyBuffered.Store(false)
		if !served {
			pc.close()
			return
		}
		pc.fp.served.Add(1)
		consumed := pr.body.finish()
		_, closing := rw.header["Connection"] // a handler's Connection: close
		keep := consumed && !closing && !pc.fp.stopped.Load()
		resp = appendResponse(resp[:0], rw.status(), rw.header, rw.body, !keep)
		if err := pc.write(resp); err != nil {
			pc.close()
			return
		}
		if !consumed {
			pc.closeAfterAnswer()
			return
		}
		if !keep {
			pc.close()
			return
		}
		if cap(resp) > 16<<10 {
			resp = nil
		}
		if cap(rw.body) > 16<<10 {
			rw.body = nil
		}
	}
}

// serve runs the handler chain; a panic in it ends the connection without
// an answer, as net/http ends it, instead of the process.
func (pc *publishConn) serve(rw *publishWriter, req *http.Request) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			ok = false
			if v != http.ErrAbortHandler {
				pc.h.log.Error("panic serving a publish", "remote", pc.remote, "panic", v, "stack", string(debug.Stack()))
			}
		}
	}()
	pc.h.handler.ServeHTTP(rw, req)
	return true
}

// readHead waits for a whole request head (up to the blank line) in buf
// and returns it; it reports false when the connection ended, idled out or
// the shutdown closed it. A head that fills buf is returned as is: the
// parser refuses it (no blank line) and it is handed back.
func (pc *publishConn) readHead() ([]byte, bool) {
	if pc.r == pc.w {
		pc.r, pc.w = 0, 0
		// Between requests: the idle timeout, and the shutdown closes
		// the connection (stop moves the deadline to now).
		setDeadline(pc.raw, pc.fp.idle)
		if !pc.setIdle(true) {
			return nil, false
		}
		err := pc.fill()
		// A request that arrives as the shutdown begins is served, as
		// net/http serves it, and the connection closed after its answer.
		pc.setIdle(false)
		if err != nil {
			return nil, false
		}
	}
	for headerDeadline := false; ; {
		if i := bytes.Index(pc.buf[pc.r:pc.w], crlfcrlf); i >= 0 {
			return pc.buf[pc.r : pc.r+i+4], true
		}
		if !headerDeadline {
			// The head is still arriving (it usually comes whole).
			setDeadline(pc.raw, pc.fp.readHeader)
			headerDeadline = true
		}
		if pc.r > 0 {
			pc.w = copy(pc.buf, pc.buf[pc.r:pc.w])
			pc.r = 0
		}
		if pc.w == len(pc.buf) {
			return pc.buf[pc.r:pc.w], true
		}
		if err := pc.fill(); err != nil {
			return nil, false
		}
	}
}

// setDeadline sets c's read deadline d from now; none when d is not
// positive (a server without that timeout).
func setDeadline(c net.Conn, d time.Duration) {
	if d > 0 {
		_ = c.SetReadDeadline(time.Now().Add(d))
	} else {
		_ = c.SetReadDeadline(time.Time{})
	}
}

var crlfcrlf = []byte("\r\n\r\n")

// fill reads once into the free end of buf.
func (pc *publishConn) fill() error {
	n, err := pc.conn.Read(pc.buf[pc.w:])
	pc.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// handBack gives the connection, with what was read and not consumed, to
// the server.
func (pc *publishConn) handBack() {
	pending := bytes.Clone(pc.buf[pc.r:pc.w])
	pending = append(pending, pc.pending...)
	_ = pc.raw.SetDeadline(time.Time{})
	var c net.Conn = pc.raw
	if len(pending) > 0 {
		c = &replayConn{Conn: pc.raw, pending: pending}
	}
	pc.fp.remove(pc)
	pc.fp.handedBack.Add(1)
	if !pc.fp.back.giveBack(c) {
		_ = pc.raw.Close()
	}
}

// closeAfterAnswer closes a connection that may still have bytes coming
// (the rest of a body nobody read): closing it at once would answer them
// with a reset, which can destroy the answer before the client reads it.
// Like net/http, it closes its writing side first and reads what still
// comes for a moment.
func (pc *publishConn) closeAfterAnswer() {
	if tc, ok := pc.raw.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
		_ = pc.raw.SetReadDeadline(time.Now().Add(lingerAfterClose))
		_, _ = io.CopyN(io.Discard, pc.conn, 256<<10)
	}
	pc.close()
}

// lingerAfterClose is how long closeAfterAnswer reads: net/http waits
// 500 ms.
const lingerAfterClose = 500 * time.Millisecond

func (pc *publishConn) close() {
	_ = pc.raw.Close()
	pc.fp.remove(pc)
}

// publishBody is the body of a request the loop serves: the next
// ContentLength bytes of the connection.
type publishBody struct {
	pc     *publishConn
	remain int64
	err    error // a read failed: the connection cannot be reused
}

func (b *publishBody) Read(p []byte) (int, error) {
	if b.remain == 0 {
		return 0, io.EOF
	}
	if b.err != nil {
		return 0, b.err
	}
	pc := b.pc
	if pc.r == pc.w && int64(len(p)) >= min(b.remain, int64(len(pc.buf))) {
		// Nothing buffered and room for a buffer's worth: straight into p.
		n, err := pc.conn.Read(p[:min(int64(len(p)), b.remain)])
		b.remain -= int64(n)
		if n == 0 {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			b.err = err
			return 0, err
		}
		return n, nil
	}
	if pc.r == pc.w {
		pc.r, pc.w = 0, 0
		n, err := pc.conn.Read(pc.buf)
		pc.w = n
		if n == 0 {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			b.err = err
			return 0, err
		}
	}
	n := copy(p[:min(int64(len(p)), b.remain)], pc.buf[pc.r:pc.w])
	pc.r += n
	b.remain -= int64(n)
	return n, nil
}

func (b *publishBody) Close() error { return nil }

// buffered reports whether the rest of the body is in the connection's
// buffer already.
func (b *publishBody) buffered() bool {
	return b.err == nil && b.remain <= int64(b.pc.w-b.pc.r)
}

// finish drops what the handler left of the body when it has arrived
// already, and reports whether the connection can serve another request.
// A body the handler did not read and that is still arriving closes the
// connection, as it does under net/http: withBodyDeadline moves the
// deadline to now so that nobody waits for the rest of a slow body.
func (b *publishBody) finish() bool {
	if b.err != nil {
		return false
	}
	pc := b.pc
	n := min(b.remain, int64(pc.w-pc.r))
	pc.r += int(n)
	b.remain -= n
	return b.remain == 0
}

// publishWriter is the ResponseWriter of a request the loop serves: it
// keeps the answer, which the loop writes in one write. Publish answers
// are small; nothing is streamed.
type publishWriter struct {
	pc *publishConn
	// bodyBuffered is set while the request being served has its whole
	// body in the connection's buffer. Atomic: the shutdown reads it.
	bodyBuffered atomic.Bool
	header       http.Header
	code         int
	body         []byte
}

func (w *publishWriter) Header() http.Header { return w.header }

func (w *publishWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
	}
}

func (w *publishWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	w.body = append(w.body, p...)
	return len(p), nil
}

// SetReadDeadline is what the body deadline (withBodyDeadline) sets, from
// the loop's goroutine and from the shutdown's (bodyGuards.stop). A body
// that arrived whole with its head, as publishes usually do, is never read
// from the connection: its deadline would only cost two updates of the
// connection's timer per publish, which are skipped.
func (w *publishWriter) SetReadDeadline(t time.Time) error {
	if w.bodyBuffered.Load() {
		return nil
	}
	return w.pc.raw.SetReadDeadline(t)
}

func (w *publishWriter) SetWriteDeadline(t time.Time) error { return nil }

func (w *publishWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// appendResponse appends an HTTP/1.1 answer to dst: the status line, the
// header (minus the framing fields, which it writes itself), Date,
// Content-Length and body.
func appendResponse(dst []byte, code int, header http.Header, body []byte, closing bool) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, ' ')
	dst = append(dst, http.StatusText(code)...)
	dst = append(dst, "\r\n"...)
	for k, vs := range header {
		switch k {
		case "Content-Length", "Transfer-Encoding", "Connection", "Date", "Trailer":
			continue
		}
		for _, v := range vs {
			dst = append(dst, k...)
			dst = append(dst, ": "...)
			dst = appendHeaderValue(dst, v)
			dst = append(dst, "\r\n"...)
		}
	}
	dst = append(dst, "Date: "...)
	dst = append(dst, httpDate()...)
	if closing {
		dst = append(dst, "\r\nConnection: close"...)
	}
	dst = append(dst, "\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\n\r\n"...)
	return append(dst, body...)
}

// appendHeaderValue appends v with line breaks turned into spaces, as
// net/http writes values, so that no value can start a field of its own.
func appendHeaderValue(dst []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		dst = append(dst, c)
	}
	return dst
}

// httpDate is the Date field's value, formatted once a second.
func httpDate() string {
	now := time.Now()
	sec := now.Unix()
	if d := cachedDate.Load(); d != nil && d.sec == sec {
		return d.text
	}
	d := &dateText{sec: sec, text: now.UTC().Format(http.TimeFormat)}
	cachedDate.Store(d)
	return d.text
}

type dateText struct {
	sec  int64
	text string
}

var cachedDate atomic.Pointer[dateText]

// parsePublishHead parses a request head (up to and with its blank line)
// and reports whether the loop may serve it: exactly "POST <Path>
// HTTP/1.1", one Host, one Content-Length of at most maxBody, at most one
// each of the fields the publish path reads, and none of the fields that
// change the framing or the answer (Transfer-Encoding, Expect, Upgrade,
// Connection other than keep-alive, Origin, Referer...). Field names are
// compared without case; a name or value net/http would refuse, a folded
// line or a bare LF is not served here, so net/http decides. The returned
// request holds copies, never the buffer.
func parsePublishHead(head []byte, maxBody int64) *publishRequest {
	line, rest, ok := bytes.Cut(head, crlf)
	if !ok || string(line) != publishRequestLine {
		return nil
	}
	var host, clen, ctype, authz, cookie []byte
	var seenHost, seenLen bool
	for {
		line, rest, ok = bytes.Cut(rest, crlf)
		if !ok {
			return nil
		}
		if len(line) == 0 {
			if len(rest) != 0 {
				return nil
			}
			break
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok || len(name) == 0 || !validFieldName(name) {
			return nil
		}
		value = bytes.Trim(value, " \t")
		if !validFieldValue(value) {
			return nil
		}
		var slot *[]byte
		switch {
		case asciiEqualFold(name, "host"):
			if seenHost || !validHost(value) {
				return nil
			}
			seenHost, host = true, value
			continue
		case asciiEqualFold(name, "content-length"):
			if seenLen {
				return nil
			}
			seenLen, clen = true, value
			continue
		case asciiEqualFold(name, "content-type"):
			slot = &ctype
		case asciiEqualFold(name, "authorization"):
			slot = &authz
		case asciiEqualFold(name, "cookie"):
			slot = &cookie
		case asciiEqualFold(name, "connection"):
			if !asciiEqualFold(value, "keep-alive") {
				return nil
			}
			continue
		case asciiEqualFold(name, "transfer-encoding"), asciiEqualFold(name, "expect"),
			asciiEqualFold(name, "upgrade"), asciiEqualFold(name, "te"),
			asciiEqualFold(name, "trailer"), asciiEqualFold(name, "origin"),
			asciiEqualFold(name, "referer"), asciiEqualFold(name, "content-encoding"),
			asciiEqualFold(name, "http2-settings"), asciiEqualFold(name, "proxy-connection"),
			asciiEqualFold(name, "keep-alive"):
			return nil
		default:
			// Not read by the publish path (User-Agent, Accept...).
			continue
		}
		if *slot != nil {
			return nil
		}
		*slot = value
	}
	if !seenHost || !seenLen {
		return nil
	}
	n, ok := parseContentLength(clen)
	if !ok || n > maxBody {
		return nil
	}
	// One allocation holds the request, and one string every value it
	// keeps.
	pr := &publishRequest{url: url.URL{Path: Path}}
	all := make([]byte, 0, len(host)+len(ctype)+len(authz)+len(cookie))
	all = append(all, host...)
	all = append(all, ctype...)
	all = append(all, authz...)
	all = append(all, cookie...)
	s := string(all)
	take := func(b []byte) string {
		v := s[:len(b)]
		s = s[len(b):]
		return v
	}
	hostS := take(host)
	header := make(http.Header, 3)
	i := 0
	for _, f := range [...]struct {
		key string
		v   []byte
	}{{"Content-Type", ctype}, {"Authorization", authz}, {"Cookie", cookie}} {
		if f.v == nil {
			continue
		}
		pr.values[i] = take(f.v)
		header[f.key] = pr.values[i : i+1 : i+1]
		i++
	}
	pr.body.remain = n
	pr.req = http.Request{
		Method:        http.MethodPost,
		URL:           &pr.url,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        header,
		Body:          &pr.body,
		ContentLength: n,
		Host:          hostS,
		RequestURI:    Path,
	}
	if n == 0 {
		pr.req.Body = http.NoBody
	}
	return pr
}

// publishRequest is a request the loop serves, in one allocation.
type publishRequest struct {
	req    http.Request
	url    url.URL
	body   publishBody
	values [3]string
}

const publishRequestLine = "POST " + Path + " HTTP/1.1"

var crlf = []byte("\r\n")

// parseContentLength accepts what net/http accepts: decimal digits only.
func parseContentLength(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// asciiEqualFold compares b with lower, which is lower-case ASCII.
func asciiEqualFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// validFieldName: a token (RFC 9110 §5.6.2).
func validFieldName(b []byte) bool {
	for _, c := range b {
		if !isTokenByte(c) {
			return false
		}
	}
	return true
}

func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// validFieldValue: visible ASCII, spaces, tabs and obs-text; no control
// bytes (net/http refuses them).
func validFieldValue(b []byte) bool {
	for _, c := range b {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// validHost is stricter than net/http: letters, digits and the punctuation
// of host names, IPv6 literals and ports. Anything else goes to net/http.
func validHost(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_':
		default:
			return false
		}
	}
	return true
}

// stopPublishers is the shutdown of the fast path; waitPublishers waits
// for its connections to end.
func (h *Hub) stopPublishers() {
	if fp := h.fastPublish.Load(); fp != nil {
		fp.stop()
	}
}

func (h *Hub) waitPublishers(ctx context.Context) {
	fp := h.fastPublish.Load()
	if fp == nil {
		return
	}
	done := make(chan struct{})
	go func() { fp.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}
