package libtabox

import (
	"fmt"
	"io"
	"os"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// mountTmpCopyUp mounts a tmpfs at m.Destination that starts with a copy
// of what the directory held ("tmpcopyup", which podman asks for on /tmp,
// /var/tmp and /run of a --read-only container). The tmpfs is made
// detached, filled from the directory, and only then moved onto it: every
// step goes through fds, so nothing in the image can redirect the copy.
func (r *rootfs) mountTmpCopyUp(m *Mount, dst *os.File) error {
	fs, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("fsopen tmpfs: %w", err)
	}
	defer unix.Close(fs)
	for _, o := range strings.Split(m.Data, ",") {
		if o == "" {
			continue
		}
		k, v, hasValue := strings.Cut(o, "=")
		if hasValue {
			err = unix.FsconfigSetString(fs, k, v)
		} else {
			err = unix.FsconfigSetFlag(fs, k)
		}
		if err != nil {
			return fmt.Errorf("tmpfs option %q: %w", o, err)
		}
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return fmt.Errorf("create tmpfs: %w", err)
	}
	var attr uint32
	for _, f := range []struct {
		ms   uintptr
		attr uint32
	}{
		{unix.MS_NOSUID, unix.MOUNT_ATTR_NOSUID}, {unix.MS_NODEV, unix.MOUNT_ATTR_NODEV},
		{unix.MS_NOEXEC, unix.MOUNT_ATTR_NOEXEC},
	} {
		if m.Flags&f.ms != 0 {
			attr |= f.attr
		}
	}
	mnt, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, int(attr))
	if err != nil {
		return fmt.Errorf("fsmount tmpfs: %w", err)
	}
	defer unix.Close(mnt)
	src, err := pathrs.Reopen(dst, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("open %s to copy it: %w", m.Destination, err)
	}
	defer src.Close()
	// The tmpfs root takes the directory's owner and mode.
	var st unix.Stat_t
	if err := unix.Fstat(int(src.Fd()), &st); err == nil {
		unix.Fchownat(mnt, "", int(st.Uid), int(st.Gid), unix.AT_EMPTY_PATH)
		unix.Fchmodat(mnt, ".", st.Mode&0o7777, 0)
	}
	if err := copyTree(int(src.Fd()), mnt); err != nil {
		return fmt.Errorf("copy %s into its tmpfs: %w", m.Destination, err)
	}
	if err := unix.MoveMount(mnt, "", int(dst.Fd()), "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("move tmpfs onto %s: %w", m.Destination, err)
	}
	if m.Flags&unix.MS_RDONLY != 0 {
		if err := r.remount(m.Destination, unix.MS_RDONLY, 0); err != nil {
			return err
		}
	}
	return r.propagate(m)
}

// copyTree copies the contents of directory src into directory dst, both
// fds, with owners and modes, never following a symlink.
func copyTree(src, dst int) error {
	dir, err := unix.Openat(src, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	d := os.NewFile(uintptr(dir), "copy-src")
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := copyEntry(src, dst, name); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func copyEntry(src, dst int, name string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(src, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	mode := st.Mode & 0o7777
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if err := unix.Mkdirat(dst, name, 0o700); err != nil {
			return err
		}
		s, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(s)
		t, err := unix.Openat(dst, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(t)
		if err := copyTree(s, t); err != nil {
			return err
		}
	case unix.S_IFREG:
		in, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		fin := os.NewFile(uintptr(in), name)
		defer fin.Close()
		out, err := unix.Openat(dst, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return err
		}
		fout := os.NewFile(uintptr(out), name)
		_, err = io.Copy(fout, fin)
		fout.Close()
		if err != nil {
			return err
		}
	case unix.S_IFLNK:
		target := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(src, name, target)
		if err != nil {
			return err
		}
		if err := unix.Symlinkat(string(target[:n]), dst, name); err != nil {
			return err
		}
	default:
		if err := unix.Mknodat(dst, name, st.Mode, int(st.Rdev)); err != nil {
			return err
		}
	}
	if err := unix.Fchownat(dst, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		// After the chown, which clears set-id bits.
		return unix.Fchmodat(dst, name, mode, 0)
	}
	return nil
}
