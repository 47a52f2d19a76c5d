//go:build unix

package binary_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Issue 10, finding 7: a damaged history file. Before the fix a file cut to
// half its size crashed the hub at start (SIGSEGV inside bbolt, exit code 2,
// the code of usage errors), and one with zeroed pages started, said it was
// ready and panicked on every replay. Now both are refused at start with a
// message that says how to recover and exit code 3.

// exitDamaged is the documented exit code for a damaged history file.
const exitDamaged = 3

// realHistory runs the hub, publishes n updates through it and stops it
// gracefully; it returns the file.
func realHistory(t *testing.T, n int) string {
	t.Helper()
	h := startHub(t, hubOptions{})
	us := seqUpdates("https://example.com/finding7", "f7", n)
	for i := range us {
		us[i].data = strings.Repeat("payload ", 100) + fmt.Sprint(i)
	}
	h.publishAll(t, us...)
	h.stop(t)
	return h.dbPath
}

// copyFile copies src to a new file in a temp dir and returns its path.
func copyFile(t *testing.T, src string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "damaged.db")
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dst
}

// serveOn runs `hermes serve` on path and waits for it to exit (it must,
// on a damaged file), returning the exit code and standard error.
func serveOn(t *testing.T, path string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, hermesBin, "serve", "--addr", "127.0.0.1:0",
		"--transport", "bolt://"+path, "--jwt-key", jwtSecret)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	var stderr bytes.Buffer
	cmd.Stdout = io.Discard
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("hermes on a damaged file: %v (it must exit with code %d); log:\n%s", err, exitDamaged, stderr.String())
	}
	return ee.ExitCode(), stderr.String()
}

func checkRefused(t *testing.T, path, what string) {
	t.Helper()
	code, log := serveOn(t, path)
	if code != exitDamaged {
		t.Fatalf("hermes on a file %s exited with code %d, want %d; log:\n%s", what, code, exitDamaged, log)
	}
	for _, want := range []string{"damaged", "bbolt check", "bbolt compact", path} {
		if !strings.Contains(log, want) {
			t.Errorf("the refusal of a file %s does not mention %q:\n%s", what, want, log)
		}
	}
	if strings.Contains(log, "goroutine ") || strings.Contains(log, "SIGSEGV") {
		t.Errorf("hermes crashed on a file %s instead of refusing it:\n%s", what, log)
	}
}

func TestHostile_DamagedHistory_Finding7(t *testing.T) {
	t.Parallel()
	src := realHistory(t, 300)

	t.Run("truncated to half", func(t *testing.T) {
		path := copyFile(t, src)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(path, fi.Size()/2); err != nil {
			t.Fatal(err)
		}
		checkRefused(t, path, "truncated to half its size")
	})

	t.Run("three pages zeroed", func(t *testing.T) {
		path := copyFile(t, src)
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := f.Stat()
		ps := int64(os.Getpagesize())
		at := fi.Size() / ps / 3 * ps
		if _, err := f.WriteAt(make([]byte, 3*ps), at); err != nil {
			t.Fatal(err)
		}
		f.Close()
		checkRefused(t, path, "with three pages zeroed")
	})

	t.Run("intact copy still serves", func(t *testing.T) {
		// The check refuses damage, not our own files.
		h := startHub(t, hubOptions{dbPath: copyFile(t, src)})
		s := h.subscribe(t, subOptions{topics: []string{"https://example.com/finding7"}, tok: subscriberToken(t, "*"), lastEventID: "earliest"})
		if ev := s.next(t); ev.ID != "f7-0" {
			t.Fatalf("first replayed event %q, want f7-0", ev.ID)
		}
		h.stop(t)
	})
}

// TestHostile_FullDiskReadiness_Finding9: with the history on a tiny tmpfs
// that fills up, publishes answer 503 and /readyz must stop answering ok
// (before the fix it said ok while every publish failed). Needs the right
// to mount (root, as in CI's container); skipped otherwise.
func TestHostile_FullDiskReadiness_Finding9(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs to fill (%v: %s)", err, bytes.TrimSpace(out))
	}
	h := startHub(t, hubOptions{dbPath: filepath.Join(dir, "hermes.db")})
	// Registered after startHub's cleanup, so it runs before: the hub
	// must have exited (the file closed) before the unmount.
	t.Cleanup(func() {
		h.stop(t)
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	if code := h.get(t, "/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz on an empty disk: %d", code)
	}
	tok := publisherToken(t)
	data := strings.Repeat("z", 64<<10)
	full := false
	for i := range 200 {
		ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
		code, _, err := h.publish(ctx, tok, update{topics: []string{"https://example.com/full"}, id: fmt.Sprint("full-", i), data: data})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if code == http.StatusServiceUnavailable {
			full = true
			break
		}
		if code != http.StatusOK {
			t.Fatalf("publish %d: status %d", i, code)
		}
	}
	if !full {
		t.Fatal("200 updates of 64 KiB fitted on a 1 MiB tmpfs")
	}
	if code := h.get(t, "/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz while publishes fail on a full disk: %d, want 503", code)
	}
}

// get answers the status of GET path on the hub's listener.
func (h *hubProc) get(t *testing.T, path string) int {
	t.Helper()
	resp, err := h.client.Get(h.base + path)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
