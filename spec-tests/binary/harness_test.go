//go:build unix

package binary_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
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

// The package is Unix-only: it stops and kills the hub with signals.

// hermesBin is the binary under test, built by TestMain.
var hermesBin string

const (
	// jwtSecret verifies both roles' tokens (--jwt-key).
	jwtSecret = "binary-tests secret, 0123456789abcdef0123456789abcdef"
	// startTimeout bounds the wait for the "listening on" line.
	startTimeout = 30 * time.Second
	// stopTimeout bounds a graceful shutdown. The hub's own grace period is
	// 30 s; with every stream closed first it takes well under a second.
	stopTimeout = 40 * time.Second
	// publishTimeout bounds one publish, fsync included, on a loaded machine.
	publishTimeout = 30 * time.Second
)

// TestMain builds cmd/hermes once for the whole package. HERMES_BINARY
// skips the build and tests that binary instead (a release artefact, say).
func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if p := os.Getenv("HERMES_BINARY"); p != "" {
		hermesBin = p
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "hermes-binary-tests-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "binary tests: temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	goTool, err := findGo()
	if err != nil {
		fmt.Fprintln(os.Stderr, "binary tests:", err)
		return 1
	}
	hermesBin = filepath.Join(dir, "hermes")
	build := exec.Command(goTool, "build", "-o", hermesBin, "github.com/hermes-hub/hermes/cmd/hermes")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "binary tests: building hermes: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// findGo locates the go command: `go test` puts GOROOT/bin first on PATH,
// and GOROOT is the fallback when the tests run some other way.
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

// hubOptions are the serve flags a test varies.
type hubOptions struct {
	// dbPath is the bolt file; empty: a new file in t.TempDir().
	dbPath    string
	anonymous bool
}

// hubProc is one running hermes process.
type hubProc struct {
	dbPath string
	base   string // http://127.0.0.1:PORT
	cmd    *exec.Cmd
	logs   *logWriter
	client *http.Client

	done    chan struct{} // closed once the process has exited
	waitErr error         // set before done is closed

	mu     sync.Mutex
	ending bool // stop or kill was asked for; cleanup has nothing to do
}

// startHub runs `hermes serve` on a free port and returns once it logged
// that it listens. A cleanup stops it gracefully if the test did not.
func startHub(t *testing.T, o hubOptions) *hubProc {
	t.Helper()
	if o.dbPath == "" {
		o.dbPath = filepath.Join(t.TempDir(), "hermes.db")
	}
	args := []string{"serve",
		"--addr", "127.0.0.1:0",
		"--transport", "bolt://" + o.dbPath,
		"--jwt-key", jwtSecret,
		"--heartbeat", "15s",
	}
	if o.anonymous {
		args = append(args, "--anonymous")
	}
	h := &hubProc{
		dbPath: o.dbPath,
		logs:   newLogWriter(),
		done:   make(chan struct{}),
		client: &http.Client{Transport: &http.Transport{
			// Concurrent publishers reuse their connections instead of
			// opening one per request (and running out of ports).
			MaxIdleConns:        128,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     time.Minute,
		}},
	}
	h.cmd = exec.Command(hermesBin, args...)
	// A clean environment: HERMES_* variables of the developer's shell must
	// not change what the flags say.
	h.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	h.cmd.Stdout = io.Discard
	detachFromTest(h.cmd)
	h.cmd.Stderr = h.logs
	if err := h.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", hermesBin, err)
	}
	go func() {
		h.waitErr = h.cmd.Wait()
		close(h.done)
	}()
	t.Cleanup(func() {
		h.client.CloseIdleConnections()
		h.mu.Lock()
		ending := h.ending
		h.mu.Unlock()
		if ending {
			<-h.done // stop or kill already waited or is waiting
			return
		}
		h.stop(t)
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

// stop sends SIGTERM and waits for the process to exit; a graceful stop
// must exit 0.
func (h *hubProc) stop(t *testing.T) {
	t.Helper()
	h.mu.Lock()
	h.ending = true
	h.mu.Unlock()
	h.client.CloseIdleConnections()
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
		t.Errorf("hermes exited with %v after SIGTERM, want exit 0; log:\n%s", h.waitErr, h.logs.String())
	}
}

// sigkill sends SIGKILL without waiting. It is safe from any goroutine,
// which is why it reports instead of failing the test.
func (h *hubProc) sigkill() error {
	h.mu.Lock()
	h.ending = true
	h.mu.Unlock()
	if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("SIGKILL: %w", err)
	}
	return nil
}

// waitKilled waits for the exit that a SIGKILL caused and checks that it
// was the signal, not a graceful exit, that ended the process.
func (h *hubProc) waitKilled(t *testing.T) {
	t.Helper()
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-h.done:
	case <-timer.C:
		t.Fatalf("hermes still running %v after SIGKILL", stopTimeout)
	}
	h.client.CloseIdleConnections()
	var ee *exec.ExitError
	if !errors.As(h.waitErr, &ee) {
		t.Fatalf("hermes exit after SIGKILL: %v, want a signal exit", h.waitErr)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && (!ws.Signaled() || ws.Signal() != syscall.SIGKILL) {
		t.Fatalf("hermes exit status %v after SIGKILL, want killed by SIGKILL", ee)
	}
}

// listeningRE finds the start-up line; the text log handler quotes the
// message, the JSON one too, so the URL ends at a quote or a space.
var listeningRE = regexp.MustCompile(`listening on (http://[^\s"\\]+)`)

// maxLogBytes caps what a process's log keeps for failure messages.
const maxLogBytes = 1 << 20

// logWriter is the child's stderr: it keeps the log for failure messages
// and announces the base URL once the "listening on" line appears.
type logWriter struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	found     bool
	listening chan string // receives the base URL once
}

func newLogWriter() *logWriter {
	return &logWriter{listening: make(chan string, 1)}
}

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

// Tokens are minted once per package run; they never expire.
var (
	tokenMu    sync.Mutex
	tokenCache = map[string]string{}
)

// token mints a legacy-dialect token with the given grants. A nil slice
// leaves the claim out.
func token(t *testing.T, publish, subscribe []string) string {
	t.Helper()
	key := fmt.Sprintf("%q|%q|%v|%v", publish, subscribe, publish == nil, subscribe == nil)
	tokenMu.Lock()
	defer tokenMu.Unlock()
	if tok, ok := tokenCache[key]; ok {
		return tok
	}
	tok, err := auth.Mint(auth.MintOptions{Key: []byte(jwtSecret), Publish: publish, Subscribe: subscribe})
	if err != nil {
		t.Fatalf("minting a token: %v", err)
	}
	tokenCache[key] = tok
	return tok
}

func publisherToken(t *testing.T) string { return token(t, []string{"*"}, nil) }

func subscriberToken(t *testing.T, topics ...string) string { return token(t, nil, topics) }

// update is one publish form.
type update struct {
	topics  []string
	id      string
	data    string
	private bool
}

// publish POSTs u with the token and returns the status and the body (the
// event id on success). It is safe from any goroutine.
func (h *hubProc) publish(ctx context.Context, tok string, u update) (int, string, error) {
	form := url.Values{}
	for _, tp := range u.topics {
		form.Add("topic", tp)
	}
	if u.id != "" {
		form.Set("id", u.id)
	}
	form.Set("data", u.data)
	if u.private {
		form.Set("private", "on")
	}
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.endpoint(), strings.NewReader(form.Encode()))
	if err != nil {
		return 0, "", fmt.Errorf("publish request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("publish %s: %w", u.id, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return resp.StatusCode, "", fmt.Errorf("publish %s: reading the answer: %w", u.id, err)
	}
	return resp.StatusCode, string(body), nil
}

// mustPublish publishes u and fails the test unless the hub answers 200
// with the id that was asked for.
func (h *hubProc) mustPublish(t *testing.T, u update) {
	t.Helper()
	status, body, err := h.publish(context.Background(), publisherToken(t), u)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusOK || body != u.id {
		t.Fatalf("publish %q: status %d, body %q; want 200 and the id", u.id, status, body)
	}
}

// publishAll publishes the updates in order, one after the other, so that
// their order in history is the order given.
func (h *hubProc) publishAll(t *testing.T, us ...update) {
	t.Helper()
	for _, u := range us {
		h.mustPublish(t, u)
	}
}

// publishConcurrently publishes n updates from `workers` goroutines. Worker
// w publishes build(i) for i = w, w+workers, w+2*workers... in that order, so
// each worker's updates are stored in increasing i. It returns the indices
// each worker published, in order.
func (h *hubProc) publishConcurrently(t *testing.T, workers, n int, build func(i int) update) [][]int {
	t.Helper()
	tok := publisherToken(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	perWorker := make([][]int, workers)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				u := build(i)
				status, body, err := h.publish(ctx, tok, u)
				if err == nil && (status != http.StatusOK || body != u.id) {
					err = fmt.Errorf("publish %q: status %d, body %q; want 200 and the id", u.id, status, body)
				}
				if err != nil {
					errs <- err
					cancel() // the other workers stop too
					return
				}
				perWorker[w] = append(perWorker[w], i)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	}
	return perWorker
}

// seqUpdates builds n updates on one topic with ids prefix-0 ... prefix-(n-1)
// and the id as data.
func seqUpdates(topic, prefix string, n int) []update {
	us := make([]update, n)
	for i := range us {
		id := fmt.Sprintf("%s-%d", prefix, i)
		us[i] = update{topics: []string{topic}, id: id, data: "data of " + id}
	}
	return us
}

// ids lists the ids of us.
func idsOf(us []update) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.id
	}
	return out
}
