#!/usr/bin/env bash
# Builds tabox (./tabox, or the path given) with its version and commit
# stamped in. The tests and the benchmark build it here too, so that they
# run what users run.
#
# Linked statically (glibc's and libseccomp's archives, from libc6-dev and
# libseccomp-dev): every container starts tabox twice, and a static binary
# skips the dynamic loader and its relocations each time. osusergo and
# netgo keep the glibc functions that need shared objects at run time out.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
out=${1:-tabox}
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
go build -trimpath -tags urfave_cli_no_docs,osusergo,netgo \
	-ldflags "-s -w -X main.gitCommit=$commit -linkmode external -extldflags -static" -o "$out" .
