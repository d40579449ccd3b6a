#!/usr/bin/env bash
# Builds ./tabox with its version and commit stamped in.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
go build -trimpath -tags urfave_cli_no_docs -ldflags "-s -w -X main.gitCommit=$commit" -o tabox .
