#!/usr/bin/env bash
# Builds the release binaries of hermes, reproducibly: the same source,
# Go version and VERSION give byte-identical files on any machine.
#
#   docker/release.sh VERSION [OUTDIR]      all targets, then SHA256SUMS
#   docker/release.sh --check               cross-compile every target, no output
#   docker/release.sh --build GOOS GOARCH VERSION OUT
#                                           one binary (the Dockerfile uses this)
#
# Reproducible because: -trimpath drops local paths, CGO_ENABLED=0 drops
# the host's C toolchain, -buildid= drops the build id derived from file
# times and paths, -buildvcs=false keeps the checkout's state (dirty or
# not) out, and the version is given rather than guessed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

targets=(
	linux/amd64 linux/arm64
	darwin/amd64 darwin/arm64
	windows/amd64 windows/arm64
)

# build GOOS GOARCH VERSION OUT: one reproducible binary.
build() {
	local goos=$1 goarch=$2 version=$3 out=$4
	CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch GOFLAGS= \
		go build -trimpath -buildvcs=false \
		-ldflags "-s -w -buildid= -X main.version=$version" \
		-o "$out" ./cmd/hermes
}

case "${1:-}" in
--check)
	# CI: every target compiles and links, with the release flags (the
	# output is thrown away).
	for target in "${targets[@]}"; do
		echo "build ${target}"
		build "${target%/*}" "${target#*/}" check /dev/null
	done
	;;
--build)
	[[ $# -eq 5 ]] || { echo "usage: $0 --build GOOS GOARCH VERSION OUT" >&2; exit 2; }
	build "$2" "$3" "$4" "$5"
	;;
"" | -h | --help)
	sed -n '2,13p' "$0" >&2
	exit 2
	;;
*)
	version=$1
	if [[ ! $version =~ ^[A-Za-z0-9][A-Za-z0-9.+_-]*$ ]]; then
		echo "release: invalid version ${version@Q}" >&2
		exit 2
	fi
	outdir=${2:-dist}
	mkdir -p "$outdir"
	names=()
	for target in "${targets[@]}"; do
		goos=${target%/*} goarch=${target#*/}
		name="hermes-${version}-${goos}-${goarch}"
		[[ $goos == windows ]] && name+=".exe"
		echo "build ${name}"
		build "$goos" "$goarch" "$version" "$outdir/$name"
		names+=("$name")
	done
	(cd "$outdir" && sha256sum "${names[@]}" >SHA256SUMS)
	echo "wrote $outdir/SHA256SUMS"
	;;
esac
