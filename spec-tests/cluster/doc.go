// Package cluster holds black-box tests of several hermes processes on one
// Redis: one total order across nodes, resumption on another node, a node
// or Redis killed in the middle of a publish burst, Redis restarted empty,
// private updates, and the cluster-wide subscription API (issue 8).
//
// Each test starts its own redis-server on a free port in a temporary
// directory (AOF with appendfsync always, unless the test needs a server
// without persistence) and three hermes processes on it, built once from
// cmd/hermes (or the binary named by HERMES_BINARY). Tests skip when
// redis-server is not installed, unless HERMES_REQUIRE_REDIS is set: then
// they fail. test.sh installs redis-server and sets it.
//
// Run them with `go test ./spec-tests/cluster/`.
package cluster
