// Package acme holds black-box tests of the built hermes binary getting its
// certificate from an ACME CA: Let's Encrypt's test CA, Pebble, runs on
// loopback next to it, with Pebble's DNS stub (pebble-challtestsrv)
// resolving the hub's name to 127.0.0.1, and the hub proves that it
// controls the name by TLS-ALPN-01 on its TLS port or HTTP-01 on its
// redirect port, as it would with a public CA.
//
// Pebble is not a dependency of the module (its dependencies would enter
// the hub's module graph): the tests build it with `go install
// github.com/letsencrypt/pebble/v2/cmd/...@VERSION` into a directory under
// GOCACHE, once per machine. Without network the tests skip, unless
// HERMES_REQUIRE_ACME is set (test.sh sets it): then they fail.
//
// Run them with `go test ./spec-tests/acme/`.
package acme
