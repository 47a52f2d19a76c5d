package main

import (
	"bytes"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// copySource copies the module's Go sources that cmd/hermes builds from
// (go.mod, go.sum, docker/release.sh and the package trees) to dst.
func copySource(t *testing.T, root, dst string) {
	t.Helper()
	for _, name := range []string{"go.mod", "go.sum", "docker/release.sh", "auth", "cmd", "hub", "metrics", "transport"} {
		src := filepath.Join(root, name)
		err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			if d.IsDir() {
				return os.MkdirAll(filepath.Join(dst, rel), 0o755)
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, rel)), 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dst, rel), data, info.Mode().Perm())
		})
		if err != nil {
			t.Fatalf("copying %s: %v", name, err)
		}
	}
}

// TestReleaseBuildIsReproducible builds cmd/hermes with docker/release.sh
// twice, from the checkout and from a copy of it at another path, and
// requires identical bytes: no local path, build id or VCS state may leak
// into a release binary. The binary then prints the stamped version.
func TestReleaseBuildIsReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary twice")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	copyDir := filepath.Join(t.TempDir(), "elsewhere", "hermes")
	copySource(t, root, copyDir)
	out := t.TempDir()
	const version = "v9.8.7-repro"
	var sums [][32]byte
	for i, dir := range []string{root, copyDir} {
		bin := filepath.Join(out, "hermes-"+string(rune('a'+i)))
		cmd := exec.Command("bash", filepath.Join(dir, "docker", "release.sh"), "--build", runtime.GOOS, runtime.GOARCH, version, bin)
		cmd.Dir = dir
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("release build in %s: %v\n%s", dir, err, b)
		}
		data, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte(root)) || bytes.Contains(data, []byte(copyDir)) {
			t.Errorf("binary %d contains the path of its source tree", i)
		}
		sums = append(sums, sha256.Sum256(data))
	}
	if sums[0] != sums[1] {
		t.Fatalf("two builds of the same source differ: %x and %x", sums[0], sums[1])
	}
	got, err := exec.Command(filepath.Join(out, "hermes-a"), "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(got), "hermes "+version+" ") {
		t.Errorf("hermes version printed %q, want it to start with %q", got, "hermes "+version+" ")
	}
}
