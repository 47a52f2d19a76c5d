package clients_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/auth"
	"github.com/hermes-hub/hermes/spec-tests/internal/hubproc"
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
	// stopTimeout bounds the exit of a node process once its input is
	// closed.
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
	return hubproc.RunTests(m, &hermesBin)
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
	// extra are more serve flags (--ui, --subscriptions, --admin-addr …).
	extra []string
}

// hubProc is one running `hermes serve`.
type hubProc struct {
	proc *hubproc.Proc
	opts hubOptions
	base string // http://127.0.0.1:PORT (https:// with TLS)
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
	args = append(args, o.extra...)
	p := hubproc.Start(t, hermesBin, hubproc.Options{LogOnFailure: true}, args...)
	return &hubProc{proc: p, opts: o, base: p.URL()}
}

// endpoint is the hub URL.
func (h *hubProc) endpoint() string { return h.base + "/.well-known/mercure" }

// hostPort is the address the hub listens on, for a restart on the same
// port (see publishWhileAway).
func (h *hubProc) hostPort() string {
	_, hostPort, _ := strings.Cut(h.base, "://") // http:// or https://
	return hostPort
}

// stop sends SIGTERM and waits for exit 0. The second time it only
// waits for the exit.
func (h *hubProc) stop(t *testing.T) {
	t.Helper()
	h.proc.Stop(t)
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
