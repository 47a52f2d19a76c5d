package bolt

import (
	"path/filepath"
	"testing"

	"github.com/hermes-hub/hermes/transport"
	"github.com/hermes-hub/hermes/transport/transporttest"
)

// openTest opens a transport in dir and fails the test on error.
func openTest(t testing.TB, path string, opts Options) *Transport {
	t.Helper()
	tr, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

func TestConformance(t *testing.T) {
	transporttest.Run(t, transporttest.Factory{
		Open: func(t *testing.T, dir string, r transporttest.Retention) transport.Transport {
			// fsync costs a millisecond or more per commit and says
			// nothing about the contract; the crash, group commit and
			// open tests and the benchmarks keep it on.
			return openTest(t, filepath.Join(dir, "hermes.db"), Options{Size: r.Size, MaxAge: r.MaxAge, NoSync: true})
		},
		Durable: true,
		Age:     true,
	})
}
