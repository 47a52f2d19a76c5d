#!/usr/bin/env bash
# Runs every check CI runs: formatting, vet, staticcheck, the Go tests (with
# the race detector; fuzz targets run on their seed corpus as plain tests).
#
#   ./test.sh                       everything
#   HERMES_FUZZTIME=30s ./test.sh   everything, then each fuzz target for 30s
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

if ! command -v go >/dev/null 2>&1; then
	export PATH="$PATH:/usr/local/go/bin"
fi
PATH="$PATH:$(go env GOPATH)/bin"
export PATH

STATICCHECK_VERSION=v0.8.2

step() { printf '\n==> %s\n' "$*"; }

if ! command -v staticcheck >/dev/null 2>&1; then
	step "installing staticcheck $STATICCHECK_VERSION"
	go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
fi

step "gofmt"
# Every Go file of the project, but not those of npm packages (client
# tests) or test fixtures.
unformatted=$(find . -type d \( -name .git -o -name node_modules -o -name testdata \) -prune \
	-o -type f -name '*.go' -print0 | xargs -0 -r gofmt -l)
if [[ -n "$unformatted" ]]; then
	echo "these files need gofmt -w:" >&2
	echo "$unformatted" >&2
	exit 1
fi

step "go vet"
go vet ./...

step "staticcheck"
staticcheck ./...

# The Redis transport's tests start their own redis-server (Debian's);
# HERMES_REQUIRE_REDIS makes them fail, not skip, when it is missing.
if ! command -v redis-server >/dev/null 2>&1; then
	step "installing Debian's redis-server for the Redis transport tests"
	as_root=()
	if [[ $(id -u) -ne 0 ]]; then
		as_root=(sudo)
	fi
	"${as_root[@]}" apt-get update
	"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server
fi
export HERMES_REQUIRE_REDIS=1
# The ACME tests (spec-tests/acme) build Pebble, Let's Encrypt's test CA,
# with go install (once; kept under GOCACHE); HERMES_REQUIRE_ACME makes
# them fail, not skip, when it cannot be fetched.
export HERMES_REQUIRE_ACME=1
step "cross-compile the release targets (docker/release.sh --check)"
docker/release.sh --check

step "go test -race"
go test -race -count=1 ./...

# --- client tests -----------------------------------------------------------
# End-to-end tests with the real clients (spec-tests/clients): Symfony's
# Mercure component in PHP, Chromium's EventSource, event-source-polyfill and
# @microsoft/fetch-event-source in a page, the eventsource npm package in
# Node.js. What is missing is installed first: Debian's packages with
# apt-get, the npm packages of package-lock.json with npm ci. Chromium is
# Debian's; playwright-core never downloads a browser.
# HERMES_CLIENT_TESTS=0 skips this section (a quick local run).
if [[ "${HERMES_CLIENT_TESTS:-1}" == "0" ]]; then
	step "client tests skipped (HERMES_CLIENT_TESTS=0)"
else
	client_start=$SECONDS
	client_debs=(php-cli php-curl php-symfony-mercure chromium)
	missing_debs=()
	for deb in "${client_debs[@]}"; do
		if ! dpkg -s "$deb" >/dev/null 2>&1; then
			missing_debs+=("$deb")
		fi
	done
	if ((${#missing_debs[@]} > 0)); then
		step "installing Debian packages for the client tests: ${missing_debs[*]}"
		as_root=()
		if [[ $(id -u) -ne 0 ]]; then
			as_root=(sudo)
		fi
		"${as_root[@]}" apt-get update
		"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y --no-install-recommends "${client_debs[@]}"
	fi
	if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
		echo "the client tests need Node.js 20 or later with npm" >&2
		exit 1
	fi
	client_dir=spec-tests/clients
	# npm ci again when the lockfile changed since the last install
	# (npm ci writes node_modules/.package-lock.json).
	if [[ ! -f "$client_dir/node_modules/.package-lock.json" ||
		"$client_dir/package-lock.json" -nt "$client_dir/node_modules/.package-lock.json" ]]; then
		step "npm ci (spec-tests/clients)"
		(cd "$client_dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
	fi

	step "client tests (PHP $(php -r 'echo PHP_VERSION;'), $(/usr/bin/chromium --version 2>/dev/null | head -n1), Node.js $(node --version))"
	HERMES_CLIENT_TESTS=1 go test -count=1 ./spec-tests/clients/
	echo "client tests took $((SECONDS - client_start))s, installs included"
fi
# --- end of client tests ----------------------------------------------------

if [[ -n "${HERMES_FUZZTIME:-}" ]]; then
	step "fuzzing, ${HERMES_FUZZTIME} per target"
	for pkg in $(go list ./...); do
		for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
			echo "--- $pkg $target"
			go test -run '^$' -fuzz "^${target}\$" -fuzztime "$HERMES_FUZZTIME" "$pkg"
		done
	done
fi

step "all checks passed"
