// Package hubproc runs the hermes binary as a child process for the
// black-box test packages under spec-tests: it builds the binary once,
// starts `hermes serve` on a free port, waits for its "listening on" line,
// and ends it with SIGTERM (checking for a clean exit) or SIGKILL. On Linux
// the kernel kills the child when the test binary dies, so that a test
// timeout or a panic leaves no hub behind holding a port and a bolt lock.
//
// It is test support, imported only from _test.go files.
package hubproc

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// DefaultStartTimeout bounds the wait for the listening lines.
	DefaultStartTimeout = 30 * time.Second
	// DefaultStopTimeout bounds a graceful shutdown. The hub's own grace
	// period is 30 s; with every stream closed first it takes well under a
	// second.
	DefaultStopTimeout = 40 * time.Second
)

// Options are what a test package varies about the process handling; the
// zero value takes the defaults.
type Options struct {
	// StartTimeout bounds the wait for the listening lines.
	StartTimeout time.Duration
	// StopTimeout bounds the exit after SIGTERM (Stop) or SIGKILL
	// (WaitKilled).
	StopTimeout time.Duration
	// LogOnFailure has the cleanup print the hub's log when the test
	// failed.
	LogOnFailure bool
}

// Proc is one running hermes process.
type Proc struct {
	bin  string
	opts Options
	cmd  *exec.Cmd
	logs *startupLog

	done    chan struct{} // closed once the process has exited
	waitErr error         // set before done is closed

	mu      sync.Mutex
	claimed bool // a Stop, Kill or WaitExit took charge of the exit
}

// Start runs bin with args (typically "serve" and its flags) in a clean
// environment and returns once the hub logged that it listens; when args
// has --admin-addr it also waits for the admin listener's line. A cleanup
// stops the process gracefully (see Stop) unless the test ended it.
func Start(t testing.TB, bin string, o Options, args ...string) *Proc {
	t.Helper()
	if o.StartTimeout <= 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = DefaultStopTimeout
	}
	p := &Proc{
		bin:  bin,
		opts: o,
		logs: newStartupLog(hasAdminAddr(args)),
		done: make(chan struct{}),
	}
	p.cmd = exec.Command(bin, args...)
	// A clean environment: HERMES_* variables of the developer's shell must
	// not change what the flags say.
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	p.cmd.Stdout = io.Discard
	p.cmd.Stderr = p.logs
	dieWithTest(p.cmd)
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Stop(t) // only waits when the test already ended the process
		if o.LogOnFailure && t.Failed() {
			t.Logf("hermes %s log:\n%s", p.URL(), p.Logs())
		}
	})

	timer := time.NewTimer(o.StartTimeout)
	defer timer.Stop()
	select {
	case <-p.logs.ready:
	case <-p.done:
		t.Fatalf("hermes exited before listening (%v); log:\n%s", p.waitErr, p.Logs())
	case <-timer.C:
		t.Fatalf("hermes did not log its listening lines within %v; log:\n%s", o.StartTimeout, p.Logs())
	}
	return p
}

// DieWithTest gives another child process of a test (an ACME test
// server, a DNS stub) the protection the hub has: on Linux the kernel
// kills it when the test binary dies. Call it before cmd.Start.
func DieWithTest(cmd *exec.Cmd) { dieWithTest(cmd) }

// hasAdminAddr tells whether the serve flags ask for an admin listener.
func hasAdminAddr(args []string) bool {
	for _, a := range args {
		if a == "--admin-addr" || strings.HasPrefix(a, "--admin-addr=") {
			return true
		}
	}
	return false
}

// URL is the hub's base URL, http://127.0.0.1:PORT (https:// with TLS).
func (p *Proc) URL() string {
	p.logs.mu.Lock()
	defer p.logs.mu.Unlock()
	return p.logs.base
}

// AdminURL is the admin listener's base URL, "" without --admin-addr.
func (p *Proc) AdminURL() string {
	p.logs.mu.Lock()
	defer p.logs.mu.Unlock()
	return p.logs.admin
}

// Logs is the process's stderr so far, for failure messages.
func (p *Proc) Logs() string { return p.logs.String() }

// Done is closed once the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// claim records that the caller takes charge of the exit and tells
// whether nobody had before.
func (p *Proc) claim() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	first := !p.claimed
	p.claimed = true
	return first
}

// Stop sends SIGTERM and waits for the process to exit; a graceful stop
// must exit 0. A process still running after StopTimeout is killed. When
// the process was already stopped, killed or waited for, Stop only waits
// for its exit.
func (p *Proc) Stop(t testing.TB) {
	t.Helper()
	if !p.claim() {
		<-p.done
		return
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("SIGTERM: %v", err)
	}
	timer := time.NewTimer(p.opts.StopTimeout)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("hermes did not exit within %v of SIGTERM; log:\n%s", p.opts.StopTimeout, p.Logs())
		return
	}
	if p.waitErr != nil {
		t.Errorf("hermes exited with %v after SIGTERM, want exit 0; log:\n%s", p.waitErr, p.Logs())
	}
}

// Kill sends SIGKILL without waiting. It is safe from any goroutine,
// which is why it reports instead of failing the test.
func (p *Proc) Kill() error {
	p.claim()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("SIGKILL: %w", err)
	}
	return nil
}

// WaitKilled waits for the exit that a SIGKILL caused and checks that it
// was the signal, not a graceful exit, that ended the process.
func (p *Proc) WaitKilled(t testing.TB) {
	t.Helper()
	timer := time.NewTimer(p.opts.StopTimeout)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		t.Fatalf("hermes still running %v after SIGKILL", p.opts.StopTimeout)
	}
	var ee *exec.ExitError
	if !errors.As(p.waitErr, &ee) {
		t.Fatalf("hermes exit after SIGKILL: %v, want a signal exit", p.waitErr)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && (!ws.Signaled() || ws.Signal() != syscall.SIGKILL) {
		t.Fatalf("hermes exit status %v after SIGKILL, want killed by SIGKILL", ee)
	}
}

// Signal sends sig to the process, for a test that ends it its own way
// and then calls WaitExit.
func (p *Proc) Signal(sig os.Signal) error {
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %v to %s: %w", sig, p.bin, err)
	}
	return nil
}

// WaitExit waits up to within for the process to exit and returns how it
// exited (nil for status 0); it fails the test when the process is still
// running then.
func (p *Proc) WaitExit(t testing.TB, within time.Duration) error {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	select {
	case <-p.done:
		p.claim()
		return p.waitErr
	case <-timer.C:
		t.Fatalf("hermes still running %v later; log:\n%s", within, p.Logs())
		return nil
	}
}
