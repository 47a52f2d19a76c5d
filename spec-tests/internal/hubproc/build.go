package hubproc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// BinaryEnv names a hermes binary to test instead of building one (a
// release artefact, say).
const BinaryEnv = "HERMES_BINARY"

// mainPackage is what Build compiles.
const mainPackage = "github.com/hermes-hub/hermes/cmd/hermes"

// RunTests is the body of a TestMain: it builds cmd/hermes once into a
// temporary directory, or takes the binary named by HERMES_BINARY, stores
// its path in *bin, runs the tests and removes the build. It returns the
// code for os.Exit.
func RunTests(m *testing.M, bin *string) int {
	if p := os.Getenv(BinaryEnv); p != "" {
		*bin = p
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "hermes-build-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "hubproc: temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	p, err := Build(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hubproc:", err)
		return 1
	}
	*bin = p
	return m.Run()
}

// Build compiles cmd/hermes into dir and returns the binary's path.
func Build(dir string) (string, error) {
	goTool, err := GoCommand()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "hermes")
	build := exec.Command(goTool, "build", "-o", path, mainPackage)
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building hermes: %w\n%s", err, out)
	}
	return path, nil
}

// GoCommand locates the go command, for tests that build programs: `go
// test` puts GOROOT/bin first on PATH, and GOROOT is the fallback when the
// tests run some other way.
func GoCommand() (string, error) {
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
