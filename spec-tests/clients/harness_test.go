package clients_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/auth"
)

// enableVar turns the tests on; ./test.sh sets it once the clients are
// installed.
const enableVar = "HERMES_CLIENT_TESTS"

const (
	// jwtSecret verifies both roles' tokens (--jwt-key); the PHP token
	// factory signs with it too.
	jwtSecret = "client-tests secret 0123456789abcdef0123456789abcdef"
	// waitTimeout bounds every wait for something a client reports. It is
	// generous: Chromium's start and reconnection back-off on a loaded
	// two-core machine take seconds.
	waitTimeout = 45 * time.Second
	// startTimeout bounds the wait for the hub's "listening on" line.
	startTimeout = 30 * time.Second
	// stopTimeout bounds a graceful shutdown of the hub (its own grace
	// period is 30 s).
	stopTimeout = 40 * time.Second
	// commandTimeout bounds one PHP run.
	commandTimeout = 60 * time.Second
	// chromiumPath is Debian's Chromium; playwright never downloads one.
	chromiumPath = "/usr/bin/chromium"
)

var (
	enabled   bool
	hermesBin string // the binary under test, built by TestMain
	clientDir string // absolute path of this directory
)

// TestMain builds cmd/hermes once when the client tests are enabled.
// HERMES_BINARY names a binary to test instead.
func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if os.Getenv(enableVar) != "1" {
		return m.Run() // every test skips
	}
	enabled = true
	dir, err := filepath.Abs(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, "client tests:", err)
		return 1
	}
	clientDir = dir
	if p := os.Getenv("HERMES_BINARY"); p != "" {
		hermesBin = p
		return m.Run()
	}
	tmp, err := os.MkdirTemp("", "hermes-client-tests-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "client tests: temp dir:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	goTool, err := findGo()
	if err != nil {
		fmt.Fprintln(os.Stderr, "client tests:", err)
		return 1
	}
	hermesBin = filepath.Join(tmp, "hermes")
	build := exec.Command(goTool, "build", "-o", hermesBin, "github.com/hermes-hub/hermes/cmd/hermes")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "client tests: building hermes: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// findGo locates the go command: `go test` puts GOROOT/bin first on PATH,
// GOROOT is the fallback.
func findGo() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no go command on PATH or in $GOROOT/bin")
}

// needClients skips the test unless the client tests are enabled, and
// fails it when they are enabled but a client is missing: in CI a missing
// client is a broken install step, not a reason to pass.
func needClients(t *testing.T, tools ...string) {
	t.Helper()
	if !enabled {
		t.Skipf("client tests are off: ./test.sh installs PHP, Chromium and the npm packages and runs them with %s=1", enableVar)
	}
	for _, tool := range tools {
		switch tool {
		case "php":
			if _, err := exec.LookPath("php"); err != nil {
				t.Fatal("php is not installed (apt-get install php-cli php-curl php-symfony-mercure)")
			}
			if _, err := os.Stat("/usr/share/php/Symfony/Component/Mercure/Hub.php"); err != nil {
				t.Fatal("Symfony's Mercure component is not installed (apt-get install php-symfony-mercure)")
			}
		case "node":
			if _, err := exec.LookPath("node"); err != nil {
				t.Fatal("node is not installed")
			}
			if _, err := os.Stat(filepath.Join(clientDir, "node_modules", "playwright-core")); err != nil {
				t.Fatal("the npm packages are not installed (npm ci in spec-tests/clients)")
			}
		case "chromium":
			if _, err := os.Stat(chromiumPath); err != nil {
				t.Fatalf("%s is missing (apt-get install chromium)", chromiumPath)
			}
		default:
			t.Fatalf("unknown tool %q", tool)
		}
	}
}

// hubOptions are the serve flags a test varies.
type hubOptions struct {
	// dbPath is the bolt file; empty: a new one in t.TempDir().
	dbPath string
	// addr is the listen address; empty: a free port on 127.0.0.1.
	addr string
	// corsOrigins are the origins allowed to subscribe with credentials.
	corsOrigins []string
}

// hubProc is one running `hermes serve`.
type hubProc struct {
	opts hubOptions
	base string // http://127.0.0.1:PORT
	cmd  *exec.Cmd
	logs *logWriter

	done    chan struct{} // closed when the process has exited
	waitErr error         // set before done is closed

	mu      sync.Mutex
	stopped bool
}

// startHub runs hermes with bolt history, anonymous subscribers allowed
// (so that token-less clients show what public delivery looks like) and a
// debug log that a failing test prints. A cleanup stops it.
func startHub(t *testing.T, o hubOptions) *hubProc {
	t.Helper()
	if o.dbPath == "" {
		o.dbPath = filepath.Join(t.TempDir(), "hermes.db")
	}
	if o.addr == "" {
		o.addr = "127.0.0.1:0"
	}
	args := []string{"serve",
		"--addr", o.addr,
		"--transport", "bolt://" + o.dbPath,
		"--jwt-key", jwtSecret,
		"--anonymous",
		"--log-level", "debug",
	}
	if len(o.corsOrigins) > 0 {
		args = append(args, "--cors-origins", strings.Join(o.corsOrigins, ","))
	}
	h := &hubProc{opts: o, logs: newLogWriter(), done: make(chan struct{})}
	h.cmd = exec.Command(hermesBin, args...)
	// A clean environment: HERMES_* variables of the developer's shell
	// must not change what the flags say.
	h.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	h.cmd.Stdout = io.Discard
	h.cmd.Stderr = h.logs
	if err := h.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", hermesBin, err)
	}
	go func() {
		h.waitErr = h.cmd.Wait()
		close(h.done)
	}()
	t.Cleanup(func() {
		h.stop(t)
		if t.Failed() {
			t.Logf("hub %s log:\n%s", h.base, h.logs.String())
		}
	})

	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case h.base = <-h.logs.listening:
	case <-h.done:
		t.Fatalf("hermes exited before listening (%v); log:\n%s", h.waitErr, h.logs.String())
	case <-timer.C:
		t.Fatalf("hermes did not log %q within %v; log:\n%s", "listening on", startTimeout, h.logs.String())
	}
	return h
}

// endpoint is the hub URL.
func (h *hubProc) endpoint() string { return h.base + "/.well-known/mercure" }

// hostPort is the address the hub listens on, for a restart on the same
// port (see publishWhileAway).
func (h *hubProc) hostPort() string { return strings.TrimPrefix(h.base, "http://") }

// stop sends SIGTERM and waits for exit 0. It does nothing the second
// time.
func (h *hubProc) stop(t *testing.T) {
	t.Helper()
	h.mu.Lock()
	stopped := h.stopped
	h.stopped = true
	h.mu.Unlock()
	if stopped {
		return
	}
	if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("SIGTERM: %v", err)
	}
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-h.done:
	case <-timer.C:
		_ = h.cmd.Process.Kill()
		<-h.done
		t.Errorf("hermes did not exit within %v of SIGTERM; log:\n%s", stopTimeout, h.logs.String())
		return
	}
	if h.waitErr != nil {
		t.Errorf("hermes exited with %v after SIGTERM, want 0; log:\n%s", h.waitErr, h.logs.String())
	}
}

// listeningRE finds the start-up line in the text log.
var listeningRE = regexp.MustCompile(`listening on (http://[^\s"\\]+)`)

// maxLogBytes caps what a child's log keeps for failure messages.
const maxLogBytes = 1 << 20

// logWriter keeps a child's output for failure messages and announces the
// hub's base URL once the "listening on" line appears.
type logWriter struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	found     bool
	listening chan string
}

func newLogWriter() *logWriter { return &logWriter{listening: make(chan string, 1)} }

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.Len() < maxLogBytes {
		w.buf.Write(p)
	}
	if !w.found {
		if m := listeningRE.FindSubmatch(w.buf.Bytes()); m != nil {
			w.found = true
			w.listening <- string(m[1])
		}
	}
	return len(p), nil
}

func (w *logWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// mint signs a legacy token with the hub's secret. A nil slice leaves
// the claim out.
func mint(t *testing.T, publish, subscribe []string) string {
	t.Helper()
	return mintWith(t, jwtSecret, publish, subscribe)
}

func mintWith(t *testing.T, secret string, publish, subscribe []string) string {
	t.Helper()
	tok, err := auth.Mint(auth.MintOptions{Key: []byte(secret), Publish: publish, Subscribe: subscribe})
	if err != nil {
		t.Fatalf("minting a token: %v", err)
	}
	return tok
}

// cliToken mints a token with `hermes token`, the way the README tells
// users to.
func cliToken(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(hermesBin, append([]string{"token", "--key", jwtSecret}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hermes token %v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}
