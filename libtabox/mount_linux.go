package libtabox

import (
	"errors"
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

// openTree clones the mount at path (and the mounts under it if rec) into
// a detached tree, attached nowhere until moveMount.
func openTree(path string, rec bool) (*os.File, error) {
	flags := unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC
	if rec {
		flags |= unix.AT_RECURSIVE
	}
	for {
		fd, err := unix.OpenTree(unix.AT_FDCWD, path, uint(flags))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open_tree", Path: path, Err: err}
		}
		return os.NewFile(uintptr(fd), path), nil
	}
}

// moveMount attaches the detached tree onto the file or directory dst
// refers to (resolved safely inside the rootfs, as for mountFd).
func moveMount(tree, dst *os.File) error {
	for {
		err := unix.MoveMount(int(tree.Fd()), "", int(dst.Fd()), "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("move_mount %s onto %s: %w", tree.Name(), dst.Name(), err)
		}
		return nil
	}
}

// mountSetattr changes the attributes of the mount f is on, and of every
// mount under it if recursive. name is f's path, for the error.
func mountSetattr(f *os.File, name string, recursive bool, attr *unix.MountAttr) error {
	flags := unix.AT_EMPTY_PATH
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	for {
		err := unix.MountSetattr(int(f.Fd()), "", uint(flags), attr)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &mountSetattrError{path: name, recursive: recursive, attr: *attr, err: err}
		}
		return nil
	}
}

type mountSetattrError struct {
	path      string
	recursive bool
	attr      unix.MountAttr
	err       error
}

func (e *mountSetattrError) Error() string {
	var b strings.Builder
	b.WriteString("mount_setattr ")
	b.WriteString(e.path)
	if e.recursive {
		b.WriteString(" recursively")
	}
	// An atime mode is set with MOUNT_ATTR__ATIME cleared, and relatime's
	// value is 0.
	relatime := e.attr.Attr_clr&unix.MOUNT_ATTR__ATIME == unix.MOUNT_ATTR__ATIME && e.attr.Attr_set&unix.MOUNT_ATTR__ATIME == 0
	if e.attr.Attr_set != 0 || relatime {
		set := mountAttrString(e.attr.Attr_set)
		if relatime {
			set = strings.TrimPrefix(set+"|MOUNT_ATTR_RELATIME", "|")
		}
		fmt.Fprintf(&b, " set %s", set)
	}
	if e.attr.Attr_clr != 0 {
		fmt.Fprintf(&b, " clear %s", mountAttrString(e.attr.Attr_clr))
	}
	msg := b.String() + ": " + e.err.Error()
	if errors.Is(e.err, unix.ENOSYS) {
		msg += " (mount_setattr needs Linux 5.12 or later)"
	}
	return msg
}

func (e *mountSetattrError) Unwrap() error { return e.err }

var mountAttrNames = []struct {
	attr uint64
	name string
}{
	{unix.MOUNT_ATTR_RDONLY, "MOUNT_ATTR_RDONLY"}, {unix.MOUNT_ATTR_NOSUID, "MOUNT_ATTR_NOSUID"},
	{unix.MOUNT_ATTR_NODEV, "MOUNT_ATTR_NODEV"}, {unix.MOUNT_ATTR_NOEXEC, "MOUNT_ATTR_NOEXEC"},
	{unix.MOUNT_ATTR__ATIME, "MOUNT_ATTR__ATIME"}, {unix.MOUNT_ATTR_NOATIME, "MOUNT_ATTR_NOATIME"},
	{unix.MOUNT_ATTR_STRICTATIME, "MOUNT_ATTR_STRICTATIME"}, {unix.MOUNT_ATTR_NODIRATIME, "MOUNT_ATTR_NODIRATIME"},
	{unix.MOUNT_ATTR_IDMAP, "MOUNT_ATTR_IDMAP"}, {unix.MOUNT_ATTR_NOSYMFOLLOW, "MOUNT_ATTR_NOSYMFOLLOW"},
}

// mountAttrString names MOUNT_ATTR_* bits.
func mountAttrString(attr uint64) string {
	var names []string
	for _, a := range mountAttrNames {
		if attr&a.attr == a.attr {
			names = append(names, a.name)
			attr &^= a.attr
		}
	}
	if attr != 0 {
		names = append(names, fmt.Sprintf("%#x", attr))
	}
	return strings.Join(names, "|")
}

// msAttrs turns the per-mount MS_* flags into MOUNT_ATTR_* ones.
func msAttrs(f uintptr) uint64 {
	var a uint64
	for _, m := range []struct {
		ms   uintptr
		attr uint64
	}{
		{unix.MS_RDONLY, unix.MOUNT_ATTR_RDONLY}, {unix.MS_NOSUID, unix.MOUNT_ATTR_NOSUID},
		{unix.MS_NODEV, unix.MOUNT_ATTR_NODEV}, {unix.MS_NOEXEC, unix.MOUNT_ATTR_NOEXEC},
		{unix.MS_NODIRATIME, unix.MOUNT_ATTR_NODIRATIME},
	} {
		if f&m.ms != 0 {
			a |= m.attr
		}
	}
	return a
}

// setTreeAttrs sets the flags set and clears clear on the mount tree (its
// top, or every mount of it when recursive): what a bind remount does, but
// on the tree's fd rather than on a path looked up again.
func setTreeAttrs(tree *os.File, name string, set, clear uintptr, recursive bool) error {
	attr := unix.MountAttr{Attr_set: msAttrs(set), Attr_clr: msAttrs(clear) &^ msAttrs(set)}
	if set&(unix.MS_NOATIME|unix.MS_RELATIME|unix.MS_STRICTATIME) != 0 {
		attr.Attr_clr |= unix.MOUNT_ATTR__ATIME
		switch {
		case set&unix.MS_NOATIME != 0:
			attr.Attr_set |= unix.MOUNT_ATTR_NOATIME
		case set&unix.MS_STRICTATIME != 0:
			attr.Attr_set |= unix.MOUNT_ATTR_STRICTATIME
		default:
			attr.Attr_set |= unix.MOUNT_ATTR_RELATIME
		}
	}
	if attr.Attr_set == 0 && attr.Attr_clr == 0 {
		return nil
	}
	return mountSetattr(tree, name, recursive, &attr)
}
