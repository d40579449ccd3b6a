package libtabox

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// sealedSelf returns the running tabox binary in a form no process can
// write to.
//
// The init is executed from it, never from the file on the host: a
// container process can reach its init's executable through
// /proc/<pid>/exe, and if that were the host's tabox it could overwrite it
// and so run code as root on the host the next time tabox runs
// (CVE-2019-5736).
//
// The cheap way, for root: the binary opened through a read-only overlayfs
// mount that is never attached anywhere (fsopen/fsmount), so writing
// through /proc/<pid>/exe fails with EROFS, at no copy. Otherwise a sealed
// memfd copy (a 7 MB copy per container).
func sealedSelf() (*os.File, error) {
	if f, err := roOverlaySelf(); err == nil {
		return f, nil
	}
	return memfdSelf()
}

// roOverlaySelf opens the binary through a detached, read-only overlayfs
// of its directory. overlayfs wants two lower layers without an upper one:
// the second is an empty detached tmpfs.
func roOverlaySelf() (*os.File, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return nil, err
	}
	dir, base := filepath.Split(exe)
	empty, err := detachedMount("tmpfs", map[string]string{"size": "4k", "mode": "0500"})
	if err != nil {
		return nil, err
	}
	defer unix.Close(empty)
	fs, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fs)
	for _, lower := range []string{dir, "/proc/self/fd/" + strconv.Itoa(empty)} {
		if err := unix.FsconfigSetString(fs, "lowerdir+", lower); err != nil {
			return nil, err
		}
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return nil, err
	}
	mnt, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
	if err != nil {
		return nil, err
	}
	defer unix.Close(mnt)
	fd, err := unix.Openat(mnt, base, unix.O_PATH|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "tabox"), nil
}

// detachedMount makes a filesystem mount that is attached nowhere and
// returns its fd.
func detachedMount(fstype string, opts map[string]string) (int, error) {
	fs, err := unix.Fsopen(fstype, unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, err
	}
	defer unix.Close(fs)
	for k, v := range opts {
		if err := unix.FsconfigSetString(fs, k, v); err != nil {
			return -1, err
		}
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return -1, err
	}
	return unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY)
}

// memfdSelf returns a sealed in-memory copy of the binary: the seals make
// it immutable, so writing through /proc/<pid>/exe fails with EPERM.
func memfdSelf() (*os.File, error) {
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

// execPathAbove returns exe duplicated to an fd above any a child with
// nfds fds (stdio and ExtraFiles) can be given, and the path to execute
// it by. Go's fork first moves the child's fds to free slots from nfds up,
// over whatever is there (a close-on-exec fd too), then into place: an
// exe fd in that range could be replaced before the exec, which would then
// fail or run something else. The caller closes the returned file.
func execPathAbove(exe *os.File, nfds int) (*os.File, string, error) {
	fd, err := unix.FcntlInt(exe.Fd(), unix.F_DUPFD_CLOEXEC, 2*nfds+1)
	if err != nil {
		return nil, "", fmt.Errorf("dup own binary: %w", err)
	}
	return os.NewFile(uintptr(fd), exe.Name()), "/proc/self/fd/" + strconv.Itoa(fd), nil
}
