package redis

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/hermes-hub/hermes/transport"
	"github.com/hermes-hub/hermes/transport/redis/redistest"
	"github.com/hermes-hub/hermes/transport/transporttest"
)

// openTest opens a transport on srv's stream and closes it when the test
// ends.
func openTest(t testing.TB, srv *redistest.Server, opts Options) *Transport {
	t.Helper()
	opts.Addrs = []string{srv.Addr}
	tr, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

// streamFor names a stream after a directory, so that the suite's reopen
// cases (same dir) find the same stream and every other case a new one.
func streamFor(dir string) string {
	h := sha256.Sum256([]byte(dir))
	return "t" + hex.EncodeToString(h[:8])
}

func TestConformance(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	transporttest.Run(t, transporttest.Factory{
		Open: func(t *testing.T, dir string, r transporttest.Retention) transport.Transport {
			return openTest(t, srv, Options{Stream: streamFor(dir), Size: r.Size, MaxAge: r.MaxAge})
		},
		Durable:    true,
		Age:        true,
		RemoteFeed: true,
	})
}
