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
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
out=${1:-tabox}
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
flags=(-trimpath -tags urfave_cli_no_docs,osusergo,netgo
	-ldflags "-s -w -X main.gitCommit=$commit -linkmode external -extldflags -static")
if ! command -v musl-gcc >/dev/null 2>&1; then
	echo "build: musl-gcc not found (Debian's musl-tools): linking with glibc" >&2
	exec go build "${flags[@]}" -o "$out" .
fi
# musl-gcc sees musl's headers only: the kernel's and libseccomp's come
# from links in a directory of their own, at a fixed path so that Go's
# build cache keeps the cgo packages.
arch=$(gcc -print-multiarch)
d=$PWD/.build/musl
mkdir -p "$d/kernel" "$d/include" "$d/lib/pkgconfig"
ln -sfn /usr/include/linux "$d/kernel/linux"
ln -sfn /usr/include/asm-generic "$d/kernel/asm-generic"
ln -sfn "/usr/include/$arch/asm" "$d/kernel/asm"
ln -sfn /usr/include/seccomp.h "$d/include/seccomp.h"
ln -sfn /usr/include/seccomp-syscalls.h "$d/include/seccomp-syscalls.h"
ln -sfn "/usr/lib/$arch/libseccomp.a" "$d/lib/libseccomp.a"
cat > "$d/lib/pkgconfig/libseccomp.pc.new" <<PC
Name: libseccomp
Description: Debian's libseccomp.a, for a static link with musl
Version: $(pkg-config --modversion libseccomp)
Cflags: -I$d/include
Libs: -L$d/lib -lseccomp
PC
mv "$d/lib/pkgconfig/libseccomp.pc.new" "$d/lib/pkgconfig/libseccomp.pc"
CC="musl-gcc -idirafter $d/kernel" PKG_CONFIG_LIBDIR="$d/lib/pkgconfig" \
	go build "${flags[@]}" -o "$out" .
