package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testPublisher is a publisher towards rawURL with a fixed token.
func testPublisher(t *testing.T, rawURL string) *publisher {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{o: &Options{ConnectTimeout: 5 * time.Second}, hub: u, dialer: &dialer{timeout: 5 * time.Second}, pubToken: "tok"}
	p := newPublisher(e, 4)
	t.Cleanup(p.close)
	return p
}

// The request on the wire is what net/http's server reads as the form the
// update stands for, with the token, and consecutive publishes share one
// connection.
func TestPublisherSendsTheFormOnOneKeepAliveConnection(t *testing.T) {
	var conns atomic.Int64
	// The handler's writes reach the test through the socket, which the
	// race detector does not see as synchronisation: a mutex it sees.
	var mu sync.Mutex
	var got []url.Values
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			http.Error(w, "bad headers", http.StatusBadRequest)
			return
		}
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, r.PostForm)
		n := len(got)
		mu.Unlock()
		fmt.Fprintf(w, "urn:id:%d", n)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	p := testPublisher(t, srv.URL+"/.well-known/mercure")
	updates := []update{
		{topic: "https://example.com/a b?c=d&e", data: "line 1\nline 2 +%&=é"},
		{topic: "plain", data: "", private: true},
	}
	for i, u := range updates {
		id, err := p.publish(context.Background(), u)
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		if want := fmt.Sprintf("urn:id:%d", i+1); id != want {
			t.Fatalf("publish %d: id %q, want %q", i, id, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i, u := range updates {
		f := got[i]
		if f.Get("topic") != u.topic || f.Get("data") != u.data || f.Has("private") != u.private || len(f["data"]) != 1 {
			t.Errorf("publish %d: the hub read %v, want %+v", i, f, u)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for consecutive publishes, want 1", n)
	}
}

// A refusal is a statusError with the code and the reason; a 200 without
// an id in its body is an error too.
func TestPublisherReportsStatusAndMissingID(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("case") {
		case "refused":
			http.Error(w, "no room", http.StatusServiceUnavailable)
		case "empty":
			w.WriteHeader(http.StatusOK)
		}
	}))
	t.Cleanup(srv.Close)
	_, err := testPublisher(t, srv.URL+"/?case=refused").publish(context.Background(), update{topic: "t"})
	var se *statusError
	if !errors.As(err, &se) || se.code != http.StatusServiceUnavailable || se.body != "no room" {
		t.Errorf("refused publish: %v, want status 503 with its reason", err)
	}
	if _, err := testPublisher(t, srv.URL+"/?case=empty").publish(context.Background(), update{topic: "t"}); err == nil || errors.As(err, &se) {
		t.Errorf("200 without an id: %v, want an error that is not a status", err)
	}
}

// rawHub answers each request read on a connection with answer(n), n
// counting requests over all connections, then closes the connection when
// closeAfter says so.
func rawHub(t *testing.T, answer func(n int64) string, closeAfter func(n int64) bool) (addr string, conns *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conns = new(atomic.Int64)
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					k := n.Add(1)
					if _, err := io.WriteString(c, answer(k)); err != nil || closeAfter(k) {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), conns
}

// A hub that closes a keep-alive connection without saying so (its idle
// timeout) costs no failed publish: the request goes again on a new
// connection. "Connection: close" is honoured, chunked bodies and interim
// 1xx answers are read.
func TestPublisherFramingAndClosedKeepAlive(t *testing.T) {
	answers := []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nid-1",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nid\r\n2\r\n-2\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nid-3",
		"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nid-4",
		"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nid-5",
	}
	// The server closes after the second answer silently, after the third
	// as announced.
	addr, conns := rawHub(t, func(n int64) string { return answers[n-1] }, func(n int64) bool { return n == 2 || n == 3 })
	p := testPublisher(t, "http://"+addr+"/.well-known/mercure")
	for i := range answers {
		id, err := p.publish(context.Background(), update{topic: "t", data: "d"})
		if want := fmt.Sprintf("id-%d", i+1); err != nil || id != want {
			t.Fatalf("publish %d: %q, %v; want %q", i+1, id, err, want)
		}
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("%d connections, want 3 (one closed silently, one announced)", n)
	}
}

// A publish waiting for its answer ends when its context does.
func TestPublisherStopsWithItsContext(t *testing.T) {
	received, never := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(never) })
	addr, _ := rawHub(t, func(int64) string {
		close(received)
		<-never
		return ""
	}, func(int64) bool { return false })
	p := testPublisher(t, "http://"+addr+"/")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := p.publish(ctx, update{topic: "t"})
		done <- err
	}()
	<-received
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("publish after cancel: %v, want context.Canceled", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the publish did not end with its context")
	}
}

// FuzzReadPublishResponse: never panics, and wherever net/http reads a
// final answer framed by Content-Length, the status and body agree.
func FuzzReadPublishResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"HTTP/1.0 503 Busy\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 200 OK\r\n\r\nto the end",
		"HTTP/1.1 2x0 OK\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		code, body, _, err := readPublishResponse(bufio.NewReaderSize(bytes.NewReader(in), 4096), nil)
		if err != nil {
			return
		}
		if code < 200 || code > 999 || len(body) > maxResponseBody {
			t.Fatalf("code %d, %d body bytes", code, len(body))
		}
		resp, herr := http.ReadResponse(bufio.NewReader(bytes.NewReader(in)), nil)
		if herr != nil || resp.StatusCode < 200 || resp.ContentLength < 0 || len(resp.TransferEncoding) > 0 || strings.Contains(string(in), "\n\n") {
			return
		}
		want, herr := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
		if herr != nil {
			return
		}
		if resp.StatusCode != code || !bytes.Equal(want, body) {
			t.Fatalf("read %d %q; net/http reads %d %q", code, body, resp.StatusCode, want)
		}
	})
}
