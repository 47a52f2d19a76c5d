// Package ops holds black-box tests of the built hermes binary's
// operations: the admin listener and its metrics, and a graceful shutdown
// on SIGTERM with many open streams (drain, clean ends of stream, no
// acknowledged publish lost).
//
// The tests build cmd/hermes once (or use the binary named by the
// HERMES_BINARY environment variable) and run it as a child process on
// free ports, with a bolt history in a temporary directory.
//
// Run them with `go test ./spec-tests/ops/`.
package ops
