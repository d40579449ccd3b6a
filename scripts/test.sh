#!/usr/bin/env bash
# Runs the whole test suite as root: static checks, unit tests, the
# integration tests that drive the built binary, the security suite,
# containerd, podman and Docker driving tabox, containerd's CRI plugin
# driving it as a Kubernetes runtime handler (crictl), and the OCI
# conformance programs.
# Prints one summary line per stage and a final tally.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
bash scripts/deps.sh || exit 1
bash scripts/build.sh || exit 1

passed=0 failed=0
stage() {
	local name=$1; shift
	echo "=== $name"
	if "$@"; then
		passed=$((passed + 1)); echo "--- $name: ok"
	else
		failed=$((failed + 1)); echo "--- $name: FAILED"
	fi
}

stage gofmt bash -c 'out=$(gofmt -l $(git ls-files "*.go" 2>/dev/null || find . -name "*.go")); [ -z "$out" ] || { echo "gofmt: $out"; false; }'
stage "go vet" go vet ./...
stage "unit tests" go test -count=1 ./internal/... ./libtabox/... ./specconv/...
# The C that runs in tabox's processes (the constructor, the signal
# handler) once more, linked as build.sh links tabox.
stage "unit tests, C linked as tabox is" bash -c '. scripts/musl.sh && go test -count=1 -ldflags "-linkmode external -extldflags -static" ./libtabox/nsenter/ ./libtabox/sigfwd/'
stage "integration tests" go test -count=1 -timeout 20m ./tests/
# Most containers get the C init; the Go one, which does everything, runs
# the same tests here.
stage "integration tests, Go init" env TABOX_INIT=go go test -count=1 -timeout 20m ./tests/
stage "security suite" bash -c 'set -o pipefail; go test -count=1 -v -timeout 15m ./tests/security/ | grep -E "^(--- |security: |ok|FAIL)"'
stage "containerd, podman and Docker" bash -c 'bash tests/tooling/deps.sh && go test -count=1 -timeout 15m ./tests/tooling/'
stage "CRI (crictl)" bash -c 'bash tests/cri/deps.sh && go test -count=1 -timeout 15m ./tests/cri/'
stage "OCI conformance" bash tests/conformance/run.sh "$PWD/tabox"

echo "stages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
