#!/usr/bin/env bash
# Builds tabox (./tabox, or the path given) with its version and commit
# stamped in. The tests and the benchmark build it here too, so that they
# run what users run.
#
# Linked statically: every container starts tabox twice (the command and
# the init), and a static binary skips the dynamic loader and its
# relocations each time. With musl (Debian's musl-tools, which
# scripts/deps.sh installs) rather than glibc: glibc's start-up asks the
# CPU about its caches some forty times with cpuid, which traps to the
# hypervisor on a VM (about 4 us each here), in both processes; musl's
# asks nothing, and the binary is 0.8 MB smaller. libseccomp is Debian's
# libseccomp.a either way. osusergo and netgo keep out the glibc functions
# that need shared objects at run time.
#
# urfave_cli_no_template has urfave/cli print help without text/template:
# a template calls methods by name at run time, so the linker keeps every
# exported method of every type in the binary. Built this way the binary is
# 1.4 MB smaller, and a run's peak RSS 1 MiB lower.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
out=${1:-tabox}
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
flags=(-trimpath -tags urfave_cli_no_template,osusergo,netgo
	-ldflags "-s -w -X main.gitCommit=$commit -linkmode external -extldflags -static")
if ! . scripts/musl.sh; then
	echo "build: musl-gcc not found (Debian's musl-tools): linking with glibc" >&2
fi
go build "${flags[@]}" -o "$out" .
