package spectests_test

import (
	"testing"

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
		return redis.Open(redis.Options{Addrs: []string{srv.Addr}, Size: size, Logger: testLogger()})
	}
}
