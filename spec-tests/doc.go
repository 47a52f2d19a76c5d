// Package spectests holds black-box protocol tests of the Hermes hub.
//
// The tests build a hub in-process behind an httptest server and talk to it
// over HTTP like a client would, once over HTTP/1.1 and once over cleartext
// HTTP/2. Every file covers one section of the protocol checklist
// (/work/shared/protocol-checklist.md) and every test name carries the
// checklist ID it proves, e.g. TestPUB10_IDStartingWithHashIs400.
//
// Run them with `go test ./spec-tests/`; `-transport=bolt` runs them on the
// bolt transport instead of the in-memory one.
package spectests
