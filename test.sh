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

step "go test -race"
go test -race -count=1 ./...

# --- client tests -----------------------------------------------------------
# Real-client tests (the PHP Symfony Mercure component, Chromium's
# EventSource) will be added here. They install what they need when it is
# missing (apt-get install php-cli ... / chromium, npm ci) and run against a
# hub started with: go run ./cmd/hermes serve --dev --addr 127.0.0.1:0
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
