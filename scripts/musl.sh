# Sourced by build.sh and test.sh: sets CC and PKG_CONFIG_LIBDIR for a
# static link with musl (Debian's musl-tools) and Debian's libseccomp.a.
# Returns non-zero, changing nothing, when musl-gcc is not installed.
#
# musl-gcc sees musl's headers only: the kernel's and libseccomp's come
# from links in a directory of their own, at a fixed path so that Go's
# build cache keeps the cgo packages.
musl_env() {
	command -v musl-gcc >/dev/null 2>&1 || return 1
	local arch d
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
	export CC="musl-gcc -idirafter $d/kernel" PKG_CONFIG_LIBDIR="$d/lib/pkgconfig"
}
musl_env
