package spectests_test

import (
	"path/filepath"
	"testing"

	"github.com/hermes-hub/hermes/transport"
	"github.com/hermes-hub/hermes/transport/bolt"
)

// The bolt transport: the reconnection tests run on it too, and
// -transport=bolt runs every test on it. NoSync because durability across
// crashes is the transport's own tests' business, not the protocol's.
func init() {
	transportFactories["bolt"] = func(t testing.TB, size int) (transport.Transport, error) {
		return bolt.Open(filepath.Join(t.TempDir(), "hermes.db"), bolt.Options{Size: size, NoSync: true, Logger: testLogger()})
	}
}
