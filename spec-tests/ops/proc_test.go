//go:build unix

package ops_test

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/spec-tests/internal/hubproc"
)

// hermesBin is the binary under test, built by TestMain.
var hermesBin string

// jwtSecret verifies every token (--jwt-key).
const jwtSecret = "ops-tests secret, 0123456789abcdef0123456789abcdef"

func TestMain(m *testing.M) {
	os.Exit(hubproc.RunTests(m, &hermesBin))
}

// proc is one running `hermes serve`.
type proc struct {
	*hubproc.Proc
	base  string // http://127.0.0.1:PORT
	admin string // the admin listener's base URL, "" without --admin-addr
}

// start runs hermes serve with args after the common ones and waits until
// it listens (and, with --admin-addr, until its admin listener does). A
// cleanup stops it if the test did not.
func start(t *testing.T, args ...string) *proc {
	t.Helper()
	all := append([]string{"serve", "--addr", "127.0.0.1:0", "--jwt-key", jwtSecret}, args...)
	// 45 s: room for the --shutdown-drain some tests set.
	p := hubproc.Start(t, hermesBin, hubproc.Options{StopTimeout: 45 * time.Second}, all...)
	return &proc{Proc: p, base: p.URL(), admin: p.AdminURL()}
}

func (p *proc) hubURL() string { return p.base + "/.well-known/mercure" }

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
