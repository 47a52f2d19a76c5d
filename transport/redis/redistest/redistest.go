// Package redistest starts real redis-server processes for tests: each on a
// free port of 127.0.0.1 in a directory of its own, killed when the test
// ends.
//
// Tests skip when redis-server is not installed, unless HERMES_REQUIRE_REDIS
// is set (CI sets it, so that a missing server fails instead of skipping).
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RequireEnv names the variable that turns a missing redis-server into a
// failure.
const RequireEnv = "HERMES_REQUIRE_REDIS"

// startLimit bounds the wait for a server to accept connections.
const startLimit = 20 * time.Second

// Options configures a server.
type Options struct {
	// NoPersistence starts the server without AOF (and without RDB
	// snapshots): a restart comes back empty. The default is AOF with
	// appendfsync always, which loses nothing acknowledged.
	NoPersistence bool
	// Args are extra redis-server arguments, such as "--appendfsync",
	// "everysec".
	Args []string
}

// Server is a running (or killed) redis-server.
type Server struct {
	// Addr is host:port; it stays the same across Restart.
	Addr string
	// Dir is the server's working directory (its AOF files).
	Dir string

	t    testing.TB
	bin  string
	opts Options

	mu     sync.Mutex
	proc   *os.Process   // nil when not running
	exited chan struct{} // closed when proc has been reaped
	out    *os.File
}

// Binary returns the path of redis-server, skipping (or failing, with
// HERMES_REQUIRE_REDIS set) the test when it is not installed.
func Binary(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv(RequireEnv) != "" {
			t.Fatalf("redis-server is not installed and %s is set (apt-get install redis-server)", RequireEnv)
		}
		t.Skipf("redis-server is not installed (apt-get install redis-server; set %s=1 to fail instead of skipping)", RequireEnv)
	}
	return bin
}

// Start starts a server with opts and stops it when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{t: t, bin: Binary(t), opts: opts, Dir: t.TempDir()}
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if s.Addr, err = freeAddr(); err != nil {
			t.Fatalf("redistest: no free port: %v", err)
		}
		if err = s.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(s.Kill)
	return s
}

// URL is the transport URL of database 0 of the server, with params (such
// as "stream=x&size=10") appended when not empty.
func (s *Server) URL(params string) string {
	u := "redis://" + s.Addr + "/0"
	if params != "" {
		u += "?" + params
	}
	return u
}

// Kill stops the server with SIGKILL (no shutdown, no final fsync) and
// waits until it is gone. It is a no-op when the server is not running.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	_ = s.proc.Signal(syscall.SIGKILL)
	<-s.exited
	s.proc = nil
	_ = s.out.Close()
}

// Restart starts the server again on the same address and directory (so
// with what its AOF holds, unless NoPersistence). It kills it first if it
// is running.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	var err error
	deadline := time.Now().Add(startLimit)
	for {
		// The port may linger for a moment after the kill.
		if err = s.start(); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // retry interval, not synchronisation
	}
	if err != nil {
		s.t.Fatalf("redistest: restart: %v", err)
	}
}

// Log returns what the server printed so far, for failure messages.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "redis.log"))
	return string(b)
}

func (s *Server) start() error {
	host, port, _ := net.SplitHostPort(s.Addr)
	args := []string{
		"--bind", host, "--port", port, "--dir", s.Dir,
		"--save", "", "--daemonize", "no", "--protected-mode", "no",
	}
	if s.opts.NoPersistence {
		args = append(args, "--appendonly", "no")
	} else {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	}
	args = append(args, s.opts.Args...)
	out, err := os.OpenFile(filepath.Join(s.Dir, "redis.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		_ = out.Close()
		return fmt.Errorf("start redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(startLimit)
	for {
		if ping(s.Addr) == nil {
			break
		}
		select {
		case <-exited:
			_ = out.Close()
			return fmt.Errorf("redis-server exited at start: %s", lastLines(s.Log(), 5))
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			_ = out.Close()
			return fmt.Errorf("redis-server did not answer on %s within %v", s.Addr, startLimit)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}
	s.mu.Lock()
	s.proc, s.exited, s.out = cmd.Process, exited, out
	s.mu.Unlock()
	return nil
}

// ping sends PING over a fresh connection and expects PONG (not LOADING
// or an error: the server is ready once it has loaded its AOF).
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}
