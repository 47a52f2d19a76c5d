//go:build unix

package hubproc

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeHub writes a shell script that logs like `hermes serve` (the admin
// line only with --admin-addr) and exits with onTERM on SIGTERM.
func fakeHub(t *testing.T, onTERM int) string {
	t.Helper()
	script := fmt.Sprintf(`#!/bin/sh
trap 'exit %d' TERM
echo 'level=INFO msg="listening on http://127.0.0.1:4321" hub=x' >&2
for a in "$@"; do
	[ "$a" = --admin-addr ] && echo 'level=INFO msg="admin listening on http://127.0.0.1:9090"' >&2
done
while :; do sleep 1 >/dev/null 2>&1 & wait $!; done
`, onTERM)
	path := filepath.Join(t.TempDir(), "fake-hermes")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// recorder stands in for the test in calls whose failures are the point.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestStartReturnsTheListeningURLs(t *testing.T) {
	p := Start(t, fakeHub(t, 0), Options{}, "serve", "--admin-addr", "127.0.0.1:0")
	if p.URL() != "http://127.0.0.1:4321" || p.AdminURL() != "http://127.0.0.1:9090" {
		t.Fatalf("URL %q, AdminURL %q", p.URL(), p.AdminURL())
	}
	q := Start(t, fakeHub(t, 0), Options{}, "serve")
	if q.AdminURL() != "" {
		t.Fatalf("AdminURL %q without --admin-addr", q.AdminURL())
	}
}

func TestStopAcceptsExitZero(t *testing.T) {
	p := Start(t, fakeHub(t, 0), Options{}, "serve")
	r := &recorder{TB: t}
	p.Stop(r)
	if len(r.errs) != 0 {
		t.Fatalf("Stop reported %q for a clean exit", r.errs)
	}
	select {
	case <-p.Done():
	default:
		t.Fatal("Stop returned with the process running")
	}
}

func TestStopReportsANonZeroExit(t *testing.T) {
	p := Start(t, fakeHub(t, 3), Options{}, "serve")
	r := &recorder{TB: t}
	p.Stop(r)
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], "want exit 0") {
		t.Fatalf("Stop reported %q, want one complaint about the exit status", r.errs)
	}
	// A second Stop (the cleanup's) only waits.
	p.Stop(r)
	if len(r.errs) != 1 {
		t.Fatalf("second Stop reported %q", r.errs[1:])
	}
}

func TestKillEndsTheProcessBySIGKILL(t *testing.T) {
	p := Start(t, fakeHub(t, 0), Options{}, "serve")
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	p.WaitKilled(t)
}

func TestWaitExitReturnsTheExitStatus(t *testing.T) {
	p := Start(t, fakeHub(t, 3), Options{}, "serve")
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := p.WaitExit(t, 30*time.Second)
	if err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("WaitExit: %v, want exit status 3", err)
	}
}
