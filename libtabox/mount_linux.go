package libtabox

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// mount wraps mount(2), retrying on EINTR, with an error that names the
// source, target and flags.
func mount(src, dst, fstype string, flags uintptr, data string) error {
	for {
		err := unix.Mount(src, dst, fstype, flags, data)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &mountError{src: src, dst: dst, fstype: fstype, flags: flags, data: data, err: err}
		}
		return nil
	}
}

// mountFd mounts onto the file or directory f refers to. The target is the
// magic link of an fd that was resolved safely inside the rootfs, so a
// symlink swapped in later cannot redirect the mount (CVE-2021-30465).
func mountFd(src string, f *os.File, fstype string, flags uintptr, data string) error {
	return mount(src, fdPath(f), fstype, flags, data)
}

func fdPath(f *os.File) string { return "/proc/self/fd/" + strconv.Itoa(int(f.Fd())) }

type mountError struct {
	src, dst, fstype, data string
	flags                  uintptr
	err                    error
}

func (e *mountError) Error() string {
	var b strings.Builder
	b.WriteString("mount")
	if e.src != "" {
		fmt.Fprintf(&b, " %s", e.src)
	}
	fmt.Fprintf(&b, " on %s", e.dst)
	if e.fstype != "" {
		fmt.Fprintf(&b, " type %s", e.fstype)
	}
	if e.flags != 0 {
		fmt.Fprintf(&b, " flags %s", mountFlagString(e.flags))
	}
	if e.data != "" {
		fmt.Fprintf(&b, " data %q", e.data)
	}
	return b.String() + ": " + e.err.Error()
}

func (e *mountError) Unwrap() error { return e.err }

var mountFlagNames = []struct {
	flag uintptr
	name string
}{
	{unix.MS_RDONLY, "MS_RDONLY"}, {unix.MS_NOSUID, "MS_NOSUID"}, {unix.MS_NODEV, "MS_NODEV"},
	{unix.MS_NOEXEC, "MS_NOEXEC"}, {unix.MS_SYNCHRONOUS, "MS_SYNCHRONOUS"}, {unix.MS_REMOUNT, "MS_REMOUNT"},
	{unix.MS_MANDLOCK, "MS_MANDLOCK"}, {unix.MS_DIRSYNC, "MS_DIRSYNC"}, {unix.MS_NOATIME, "MS_NOATIME"},
	{unix.MS_NODIRATIME, "MS_NODIRATIME"}, {unix.MS_BIND, "MS_BIND"}, {unix.MS_MOVE, "MS_MOVE"},
	{unix.MS_REC, "MS_REC"}, {unix.MS_SILENT, "MS_SILENT"}, {unix.MS_UNBINDABLE, "MS_UNBINDABLE"},
	{unix.MS_PRIVATE, "MS_PRIVATE"}, {unix.MS_SLAVE, "MS_SLAVE"}, {unix.MS_SHARED, "MS_SHARED"},
	{unix.MS_RELATIME, "MS_RELATIME"}, {unix.MS_STRICTATIME, "MS_STRICTATIME"}, {unix.MS_LAZYTIME, "MS_LAZYTIME"},
}

func mountFlagString(flags uintptr) string {
	var names []string
	for _, f := range mountFlagNames {
		if flags&f.flag != 0 {
			names = append(names, f.name)
			flags &^= f.flag
		}
	}
	if flags != 0 {
		names = append(names, fmt.Sprintf("%#x", flags))
	}
	return strings.Join(names, "|")
}

// lockedFlags returns the flags of the mount f is on that a remount in a
// user namespace must keep: the kernel refuses to clear them there.
func lockedFlags(f *os.File) uintptr {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return 0
	}
	var flags uintptr
	for _, m := range []struct {
		st int64
		ms uintptr
	}{
		{unix.ST_RDONLY, unix.MS_RDONLY}, {unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV},
		{unix.ST_NOEXEC, unix.MS_NOEXEC}, {unix.ST_NOATIME, unix.MS_NOATIME},
		{unix.ST_NODIRATIME, unix.MS_NODIRATIME}, {unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if st.Flags&m.st != 0 {
			flags |= m.ms
		}
	}
	return flags
}
