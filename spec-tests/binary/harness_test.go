//go:build unix

package binary_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/spec-tests/internal/hubproc"
	"github.com/hermes-hub/hermes/spec-tests/internal/sseclient"
)

// The package is Unix-only: it stops and kills the hub with signals.

// hermesBin is the binary under test, built by TestMain.
var hermesBin string

const (
	// jwtSecret verifies both roles' tokens (--jwt-key).
	jwtSecret = "binary-tests secret, 0123456789abcdef0123456789abcdef"
	// publishTimeout bounds one publish, fsync included, on a loaded machine.
	publishTimeout = 30 * time.Second
)

// TestMain builds cmd/hermes once for the whole package. HERMES_BINARY
// skips the build and tests that binary instead (a release artefact, say).
func TestMain(m *testing.M) {
	os.Exit(hubproc.RunTests(m, &hermesBin))
}

// hubOptions are the serve flags a test varies.
type hubOptions struct {
	// dbPath is the bolt file; empty: a new file in t.TempDir().
	dbPath    string
	anonymous bool
}

// hubProc is one running hermes process.
type hubProc struct {
	proc   *hubproc.Proc
	dbPath string
	base   string // http://127.0.0.1:PORT
	client *http.Client
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
	p := hubproc.Start(t, hermesBin, hubproc.Options{}, args...)
	h := &hubProc{
		proc:   p,
		dbPath: o.dbPath,
		base:   p.URL(),
		client: sseclient.NewHTTPClient(),
	}
	// Runs before hubproc's cleanup, which stops the hub.
	t.Cleanup(h.client.CloseIdleConnections)
	return h
}

// endpoint is the hub URL.
func (h *hubProc) endpoint() string { return h.base + "/.well-known/mercure" }

// stop sends SIGTERM and waits for the process to exit; a graceful stop
// must exit 0.
func (h *hubProc) stop(t *testing.T) {
	t.Helper()
	h.client.CloseIdleConnections()
	h.proc.Stop(t)
}

// sigkill sends SIGKILL without waiting. It is safe from any goroutine,
// which is why it reports instead of failing the test.
func (h *hubProc) sigkill() error { return h.proc.Kill() }

// waitKilled waits for the exit that a SIGKILL caused and checks that it
// was the signal, not a graceful exit, that ended the process.
func (h *hubProc) waitKilled(t *testing.T) {
	t.Helper()
	defer h.client.CloseIdleConnections()
	h.proc.WaitKilled(t)
}

// tokens are minted once per package run; they never expire.
var tokens = sseclient.Tokens{Key: []byte(jwtSecret)}

// token mints a legacy-dialect token with the given grants. A nil slice
// leaves the claim out.
func token(t *testing.T, publish, subscribe []string) string {
	t.Helper()
	tok, err := tokens.Token(publish, subscribe)
	if err != nil {
		t.Fatal(err)
	}
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
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	return sseclient.Publish(ctx, h.client, h.endpoint(), tok, sseclient.Update{Topics: u.topics, ID: u.id, Data: u.data, Private: u.private})
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
