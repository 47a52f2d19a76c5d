package spectests_test

import (
	"testing"
	"time"

	"github.com/hermes-hub/hermes/transport"
	"github.com/hermes-hub/hermes/transport/redis"
	"github.com/hermes-hub/hermes/transport/redis/redistest"
)

// The redis transport, on a redis-server of the test's own (without
// persistence: durability is the transport's own tests' business). It is
// not among the transports every test runs on (a server per test would
// make the suite slow); -transport=redis runs them all on it, and tests
// of the history name it. Without redis-server they skip, unless
// HERMES_REQUIRE_REDIS is set.
func init() {
	transportFactories["redis"] = func(t testing.TB, size int) (transport.Transport, error) {
		srv := redistest.Start(t, redistest.Options{NoPersistence: true})
		// A generous IOTimeout: a script storing a large update under
		// -race on a loaded machine may take seconds, and a timeout fails
		// the publish (503), which is not what these tests look at.
		return redis.Open(redis.Options{Addrs: []string{srv.Addr}, Size: size, IOTimeout: 30 * time.Second, Logger: testLogger()})
	}
}
