//go:build unix

package ops_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// hermesBin is the binary under test, built by TestMain.
var hermesBin string

// jwtSecret verifies every token (--jwt-key).
const jwtSecret = "ops-tests secret, 0123456789abcdef0123456789abcdef"

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if p := os.Getenv("HERMES_BINARY"); p != "" {
		hermesBin = p
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "hermes-ops-tests-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "ops tests: temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	hermesBin = filepath.Join(dir, "hermes")
	build := exec.Command(goTool, "build", "-o", hermesBin, "github.com/hermes-hub/hermes/cmd/hermes")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "ops tests: building hermes: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// syncBuffer collects the child's stderr.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 4<<20 { // a runaway log must not eat the test's memory
		return len(p), nil
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The text log handler quotes messages with spaces: msg="listening on …".
var (
	listeningRE = regexp.MustCompile(`msg="listening on (http://[^\s"]+)"`)
	adminRE     = regexp.MustCompile(`msg="admin listening on (http://[^\s"]+)"`)
)

// proc is one running `hermes serve`.
type proc struct {
	cmd   *exec.Cmd
	logs  *syncBuffer
	base  string // http://127.0.0.1:PORT
	admin string // the admin listener's base URL, "" without --admin-addr

	done    chan struct{} // closed when the process has exited
	waitErr error         // set before done is closed
}

// start runs hermes serve with args after the common ones and waits until
// it listens (and, with --admin-addr, until its admin listener does). A
// cleanup stops it if the test did not.
func start(t *testing.T, args ...string) *proc {
	t.Helper()
	all := append([]string{"serve", "--addr", "127.0.0.1:0", "--jwt-key", jwtSecret}, args...)
	p := &proc{logs: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(hermesBin, all...)
	// A clean environment: the developer's HERMES_* variables must not
	// change what the flags say.
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	p.cmd.Stdout = io.Discard
	p.cmd.Stderr = p.logs
	detach(p.cmd)
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", hermesBin, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
			return
		default:
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(45 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
			t.Errorf("hermes ignored SIGTERM for 45s; log:\n%s", p.logs.String())
		}
	})

	wantAdmin := false
	for _, a := range args {
		wantAdmin = wantAdmin || a == "--admin-addr"
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		logs := p.logs.String()
		if m := listeningRE.FindStringSubmatch(logs); m != nil && p.base == "" {
			p.base = m[1]
		}
		if m := adminRE.FindStringSubmatch(logs); m != nil && p.admin == "" {
			p.admin = m[1]
		}
		if p.base != "" && (p.admin != "" || !wantAdmin) {
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("hermes exited before listening (%v); log:\n%s", p.waitErr, logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("hermes did not log its listening lines within 30s; log:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}
}

func (p *proc) hubURL() string { return p.base + "/.well-known/mercure" }

// waitExit waits for the process to exit and returns how it exited.
func (p *proc) waitExit(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.waitErr
	case <-time.After(within):
		t.Fatalf("hermes still running %v later; log:\n%s", within, p.logs.String())
		return nil
	}
}

// sampleRE matches one sample line of the text exposition format.
var sampleRE = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$`)

// scrape reads the admin listener's /metrics into series -> value, the
// series written as in the exposition (name{labels}).
func scrape(client *http.Client, admin string) (map[string]float64, error) {
	resp, err := client.Get(admin + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		m := sampleRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			return nil, fmt.Errorf("/metrics line %q: %w", line, err)
		}
		out[m[1]] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading /metrics: %w", err)
	}
	return out, nil
}

// waitSeries polls /metrics until cond holds for the series' value.
func waitSeries(t *testing.T, client *http.Client, admin, series string, what string, cond func(float64) bool) float64 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		m, err := scrape(client, admin)
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := m[series]; ok && cond(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s = %v after 30s", what, series, m[series])
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

// raiseNoFile raises this process's open-file soft limit to at least n
// (up to the hard limit): every stream costs the test a descriptor. The
// child hub is a Go program and raises its own limit at start-up.
func raiseNoFile(t *testing.T, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("getrlimit: %v", err)
	}
	if lim.Cur >= n {
		return
	}
	if lim.Max < n {
		t.Skipf("open-file hard limit %d is below the %d this test needs", lim.Max, n)
	}
	lim.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("setrlimit: %v", err)
	}
}
