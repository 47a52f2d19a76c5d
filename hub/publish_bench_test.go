//go:build unix

package hub_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/auth"
	"github.com/hermes-hub/hermes/hub"
	"github.com/hermes-hub/hermes/hub/topic"
	"github.com/hermes-hub/hermes/metrics"
	"github.com/hermes-hub/hermes/transport/memory"
)

// BenchmarkPublishHTTP is the hub's side of `hermes bench publish` (issue 9,
// point 3) in one process: the real handler chain (security headers, body
// deadline, router, JWT check through the grant cache, form parsing,
// validation, encoding, the memory transport, Prometheus metrics) behind a
// real http.Server configured as `hermes serve` configures it, driven over
// loopback by keep-alive clients that each wait for their answer before
// the next publish, as PHP workers do. The clients write a pre-built
// request and parse the answer by hand, so that B/op and allocs/op are the
// server's.
//
// path=net-http serves every publish through net/http; path=taken-over
// lets the hub take the connections over after their first publish
// (h1publish.go), as `hermes serve` does on plain text.
//
//	go test ./hub -run '^$' -bench PublishHTTP -benchmem -count 5
func BenchmarkPublishHTTP(b *testing.B) {
	for _, takeOver := range []bool{false, true} {
		path := "net-http"
		if takeOver {
			path = "taken-over"
		}
		for _, clients := range []int{1, 64} {
			b.Run(fmt.Sprintf("path=%s/clients=%d", path, clients), func(b *testing.B) {
				benchmarkPublishHTTP(b, clients, takeOver)
			})
		}
	}
}

const benchKey = "publish benchmark key 0123456789abcdef"

func benchmarkPublishHTTP(b *testing.B, clients int, takeOver bool) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hubURL := "http://" + ln.Addr().String() + hub.Path
	topts := topic.Options{Base: hubURL}
	az, err := auth.New(auth.Config{PublisherKey: []byte(benchKey), SubscriberKey: []byte(benchKey), TopicOptions: topts})
	if err != nil {
		b.Fatal(err)
	}
	defer az.Close()
	h, err := hub.New(hub.Config{
		Transport:    memory.New(memory.Options{Size: 10000}),
		Auth:         az,
		TopicOptions: topts,
		Metrics:      metrics.New(),
		Logger:       slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		b.Fatal(err)
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true) // as cmd/hermes serves
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, Protocols: &protocols}
	served := net.Listener(ln)
	if takeOver {
		served = h.PublishListener(ln, srv.ReadHeaderTimeout, srv.IdleTimeout)
	}
	go func() { _ = srv.Serve(served) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = h.Close(ctx)
	}()
	token, err := auth.Mint(auth.MintOptions{Key: []byte(benchKey), Publish: []string{"*"}})
	if err != nil {
		b.Fatal(err)
	}

	conns := make([]*benchPublisher, clients)
	for i := range conns {
		c, err := dialBenchPublisher(ln.Addr().String(), token, fmt.Sprintf("https://bench.example/publish/%d", i))
		if err != nil {
			b.Fatal(err)
		}
		defer c.conn.Close()
		// One publish each before the clock starts: connections, the
		// grant cache and the buffers are warm.
		if err := c.publish(); err != nil {
			b.Fatal(err)
		}
		conns[i] = c
	}

	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	b.ReportAllocs()
	cpu0 := processCPU(b)
	b.ResetTimer()
	for _, c := range conns {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if err := c.publish(); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	// The process's CPU time (server and clients, user and kernel) per
	// publish: on a shared machine a steadier figure than ns/op.
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// benchPublisher is one keep-alive connection sending the same publish.
type benchPublisher struct {
	conn net.Conn
	br   *bufio.Reader
	req  []byte
}

func dialBenchPublisher(addr, token, topicIRI string) (*benchPublisher, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	body := "topic=" + url.QueryEscape(topicIRI) + "&data=" + url.QueryEscape(`{"benchmark":"a hundred bytes of data, about what an application sends in one update..."}`)
	req := "POST " + hub.Path + " HTTP/1.1\r\nHost: " + addr + "\r\nAuthorization: Bearer " + token +
		"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	return &benchPublisher{conn: conn, br: bufio.NewReader(conn), req: []byte(req)}, nil
}

// publish sends the request and checks the answer: 200 and an id.
func (c *benchPublisher) publish() error {
	if _, err := c.conn.Write(c.req); err != nil {
		return err
	}
	status, err := c.br.ReadSlice('\n')
	if err != nil {
		return err
	}
	ok := bytes.HasPrefix(status, []byte("HTTP/1.1 200 "))
	length := -1
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		if v, found := bytes.CutPrefix(line, []byte("Content-Length: ")); found {
			if length, err = strconv.Atoi(string(v)); err != nil {
				return err
			}
		}
	}
	if length < 0 {
		return errors.New("the answer has no Content-Length")
	}
	body, err := c.br.Peek(length)
	if err != nil {
		return err
	}
	if !ok || len(body) == 0 {
		return fmt.Errorf("publish answered %q %q", bytes.TrimSpace(status), body)
	}
	_, err = c.br.Discard(length)
	return err
}

// processCPU is the user and system time this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
