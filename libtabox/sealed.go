package libtabox

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// sealedSelf returns a sealed in-memory copy of the running tabox binary.
//
// The init is executed from this copy, never from the file on the host:
// a container process can reach its init's executable through
// /proc/<pid>/exe, and if that were the host's tabox it could overwrite it
// and so run code as root on the host the next time tabox runs
// (CVE-2019-5736). The seals make the copy immutable, so writing through
// /proc/<pid>/exe fails with EPERM.
func sealedSelf() (*os.File, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("open own binary: %w", err)
	}
	defer src.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(src.Fd()), &st); err != nil {
		return nil, fmt.Errorf("stat own binary: %w", err)
	}
	// MFD_EXEC is required where vm.memfd_noexec defaults memfds to
	// non-executable; older kernels reject the flag.
	fd, err := unix.MemfdCreate("tabox", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if err == unix.EINVAL {
		fd, err = unix.MemfdCreate("tabox", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	mem := os.NewFile(uintptr(fd), "memfd:tabox")
	for left := st.Size; left > 0; {
		n, err := unix.Sendfile(fd, int(src.Fd()), nil, int(left))
		if err != nil && err != unix.EINTR {
			mem.Close()
			return nil, fmt.Errorf("copy own binary: %w", err)
		}
		if n == 0 && err == nil {
			break
		}
		left -= int64(n)
	}
	const seals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		mem.Close()
		return nil, fmt.Errorf("seal binary copy: %w", err)
	}
	return mem, nil
}
