// Package clients holds end-to-end tests of the built hermes binary with
// the clients Hermes users run: Symfony's Mercure component publishing
// from PHP (Debian's php-symfony-mercure), Chromium's EventSource, the
// event-source-polyfill and @microsoft/fetch-event-source libraries in a
// page on another origin (Debian's chromium driven by playwright-core),
// and the eventsource npm package in Node.js.
//
// The tests start hermes on a free loopback port with a bolt history file,
// run the clients as child processes (php/, js/) and a page (web/) served
// by a second loopback server, and read what each client received as JSON
// lines. They need PHP, Node.js, Chromium and the npm packages of
// package-lock.json, so they only run with HERMES_CLIENT_TESTS=1; ./test.sh
// installs what is missing and sets it:
//
//	HERMES_CLIENT_TESTS=1 go test -count=1 ./spec-tests/clients/
//
// Without the variable every test skips, which keeps `go test ./...`
// self-contained.
package clients
