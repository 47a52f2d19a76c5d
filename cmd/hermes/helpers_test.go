package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine to write while
// the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// mapEnv is a lookupEnv over a map.
func mapEnv(m map[string]string) lookupEnv {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// runApp runs a command with its own environment and returns the exit code
// and both outputs.
func runApp(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut syncBuffer
	a := &app{stdout: &out, stderr: &errOut, env: mapEnv(env)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code = a.run(ctx, args)
	return code, out.String(), errOut.String()
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}

var listeningRE = regexp.MustCompile(`listening on (https?://[^\s"\\]+)`)

// server is a `hermes serve` running in-process through run().
type server struct {
	URL    string // http://HOST:PORT
	Stdout *syncBuffer
	Stderr *syncBuffer
	cancel context.CancelFunc
	done   chan int
}

// startServe calls run() with serve and args in a goroutine and waits for
// the "listening on" line. The server is stopped at the end of the test if
// the test did not stop it.
func startServe(t *testing.T, env map[string]string, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	a := &app{stdout: s.Stdout, stderr: s.Stderr, env: mapEnv(env)}
	go func() { s.done <- a.run(ctx, append([]string{"serve"}, args...)) }()

	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := listeningRE.FindStringSubmatch(s.Stderr.String()); m != nil {
			s.URL = m[1]
			break
		}
		select {
		case code := <-s.done:
			cancel()
			t.Fatalf("serve exited with %d before listening; stderr:\n%s", code, s.Stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no %q line within 20s; stderr:\n%s", "listening on http://", s.Stderr.String())
		}
		time.Sleep(5 * time.Millisecond) // polling interval
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(45 * time.Second):
			t.Errorf("serve did not stop within 45s")
		}
	})
	return s
}

// stop cancels the server's context and returns its exit code.
func (s *server) stop(t *testing.T) int {
	t.Helper()
	s.cancel()
	select {
	case code := <-s.done:
		s.done <- code // for the cleanup
		return code
	case <-time.After(45 * time.Second):
		t.Fatalf("serve did not stop within 45s; stderr:\n%s", s.Stderr.String())
		return -1
	}
}

// stdoutField returns the value printed after "label: " on stdout.
func stdoutField(t *testing.T, s *server, label string) string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(label) + `: (\S+)$`)
	var v string
	waitFor(t, 10*time.Second, label+" on stdout", func() bool {
		m := re.FindStringSubmatch(s.Stdout.String())
		if m != nil {
			v = m[1]
		}
		return m != nil
	})
	return v
}

func lines(s string) []string {
	return strings.Split(strings.TrimRight(s, "\n"), "\n")
}

func netResolve(s string) (*net.TCPAddr, error) { return net.ResolveTCPAddr("tcp", s) }

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
