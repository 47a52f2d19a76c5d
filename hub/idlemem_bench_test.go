package hub

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/hub/topic"
	"github.com/hermes-hub/hermes/transport/memory"
)

// Memory per idle subscriber (issue 9 point 2, design.md "Memory per idle
// subscriber"): the hub runs in this process, the subscribers in a child
// process (this test binary again, TestIdleSubscribersClientProcess), so
// that only the hub's side of each connection is measured.
//
//	go test ./hub -run '^$' -bench IdleSubscriberMemory -benchtime 1x
//	HERMES_IDLE_N=19000 go test ./hub -run '^$' -bench IdleSubscriberMemory -benchtime 1x
//
// HERMES_IDLE_N is the number of subscribers (default 2000);
// HERMES_IDLE_HEAPPROFILE=file writes a heap profile while they are
// connected;
// HERMES_IDLE_SUBSCRIPTIONS=0 turns subscription events off (on by
// default, as the goal asks).
func BenchmarkIdleSubscriberMemory(b *testing.B) {
	n := envInt("HERMES_IDLE_N", 2000)
	withSubscriptions := os.Getenv("HERMES_IDLE_SUBSCRIPTIONS") != "0"
	for range b.N {
		perSub, goroutines := measureIdleSubscribers(b, n, withSubscriptions)
		b.ReportMetric(perSub, "B/subscriber")
		b.ReportMetric(goroutines, "goroutines/subscriber")
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// measureIdleSubscribers opens n idle HTTP/1.1 subscribers against a hub
// served by a real http.Server and returns the hub process's heap and
// stack growth per subscriber, and the goroutines each one costs.
func measureIdleSubscribers(b *testing.B, n int, withSubscriptions bool) (bytesPerSub, goroutinesPerSub float64) {
	b.Helper()
	h, err := New(Config{
		Transport:     memory.New(memory.Options{Size: 1000}),
		Auth:          openAuth{mustMatcher(b, topic.TypeLegacy, "*")},
		Anonymous:     true,
		Subscriptions: withSubscriptions,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true) // as cmd/hermes serves
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, Protocols: &protocols}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = h.Close(ctx)
		_ = srv.Close()
	}()

	before := settledMemory()
	goroutinesBefore := runtime.NumGoroutine()

	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleSubscribersClientProcess$", "-test.v")
	cmd.Env = append(os.Environ(), "HERMES_IDLE_CLIENT_ADDR="+ln.Addr().String(), "HERMES_IDLE_N="+strconv.Itoa(n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = stdin.Close() // the client process exits when its stdin closes
		_ = cmd.Wait()
	}()
	sc := bufio.NewScanner(stdout)
	ready := false
	for sc.Scan() {
		if line := sc.Text(); line == "ready" {
			ready = true
			break
		} else if bytes.HasPrefix([]byte(line), []byte("error")) {
			b.Fatalf("client process: %s", line)
		}
	}
	if !ready {
		b.Fatalf("client process ended before its subscribers were connected: %v", sc.Err())
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	deadline := time.Now().Add(time.Minute)
	for h.Subscribers() < n {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d subscribers registered", h.Subscribers(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	connected := time.Since(start)
	after := settledMemory()
	goroutinesAfter := runtime.NumGoroutine()
	if path := os.Getenv("HERMES_IDLE_HEAPPROFILE"); path != "" {
		// What the idle subscribers hold: go tool pprof -sample_index=inuse_space
		writeHeapProfile(b, path)
	}
	delta := float64(after - before)
	b.Logf("%d idle subscribers (subscriptions %v) connected in %v: heap+stack %+.1f MiB, %.0f B each, %.2f goroutines each",
		n, withSubscriptions, connected.Round(time.Millisecond), delta/(1<<20), delta/float64(n), float64(goroutinesAfter-goroutinesBefore)/float64(n))
	return delta / float64(n), float64(goroutinesAfter-goroutinesBefore) / float64(n)
}

func writeHeapProfile(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		b.Fatal(err)
	}
}

// settledMemory is HeapInuse+StackInuse after garbage collection.
func settledMemory() uint64 {
	var ms runtime.MemStats
	for range 3 {
		runtime.GC()
	}
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}

// TestIdleSubscribersClientProcess is the subscribers' side of
// BenchmarkIdleSubscriberMemory, run in a child process; it is skipped
// otherwise. It opens HERMES_IDLE_N HTTP/1.1 streams to
// HERMES_IDLE_CLIENT_ADDR from several loopback source addresses, waits
// for each one's first bytes, prints "ready" and holds them until its
// stdin closes.
func TestIdleSubscribersClientProcess(t *testing.T) {
	addr := os.Getenv("HERMES_IDLE_CLIENT_ADDR")
	if addr == "" {
		t.Skip("run by BenchmarkIdleSubscriberMemory")
	}
	n := envInt("HERMES_IDLE_N", 2000)
	conns := make([]net.Conn, 0, n)
	buf := make([]byte, 4096)
	for i := range n {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%32))}, Timeout: 10 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			fmt.Printf("error dialing subscriber %d: %v\n", i, err)
			return
		}
		conns = append(conns, c)
		if _, err := fmt.Fprintf(c, "GET %s?topic=idle/%d HTTP/1.1\r\nHost: hub.test\r\nAccept: text/event-stream\r\n\r\n", Path, i); err != nil {
			fmt.Printf("error writing subscriber %d: %v\n", i, err)
			return
		}
		// Headers and the first heartbeat ":\n" come in one or two reads.
		var got []byte
		for !bytes.Contains(got, []byte(":\n")) {
			_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
			k, err := c.Read(buf)
			if err != nil {
				fmt.Printf("error reading subscriber %d: %v (got %q)\n", i, err, got)
				return
			}
			got = append(got, buf[:k]...)
		}
		if !bytes.HasPrefix(got, []byte("HTTP/1.1 200")) {
			fmt.Printf("error: subscriber %d answered %q\n", i, got)
			return
		}
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		_ = c.Close()
	}
}
