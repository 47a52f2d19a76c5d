// Package binary holds black-box tests of the built hermes binary with its
// durable bolt history: replay after a cursor, restarts between a
// disconnect and a reconnect, and a SIGKILL in the middle of a publish
// burst.
//
// The tests build cmd/hermes once (or use the binary named by the
// HERMES_BINARY environment variable), start it as a child process on a
// free port with a bolt file in a temporary directory, and talk to it over
// HTTP like any client. Test names carry the checklist IDs they prove
// (/work/shared/protocol-checklist.md §1.7 and LEG-14..16).
//
// Run them with `go test ./spec-tests/binary/`.
package binary
