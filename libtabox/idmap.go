package libtabox

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Idmapped mounts are made in two halves. The kernel lets only a process
// with CAP_SYS_ADMIN in the user namespace that owns the source's
// filesystem (the host's, for every filesystem a bundle could bind) set
// MOUNT_ATTR_IDMAP, and only on a mount that is not attached anywhere yet.
// So tabox create, root on the host, clones each source into a detached
// tree (open_tree), idmaps it, and hands the tree's fd to the init; the
// init, which may be root of the container's user namespace only, attaches
// it at its destination (move_mount) in the container's mount namespace
// and then treats it as any other bind (flags, propagation). runc 1.2
// splits the work the same way.
//
// A mount in a tree attached this way is not locked the way the submounts
// of an rbind made inside a user namespace are: a container root with
// CAP_SYS_ADMIN over its mount namespace may unmount a submount of a
// "ridmap" tree and see the directory under it.

// openIDMappedMounts makes the detached, idmapped copy of the source of
// every idmapped mount of cfg, keyed by the mount's index in cfg.Mounts.
func openIDMappedMounts(cfg *Config) (_ map[int]*os.File, retErr error) {
	trees := map[int]*os.File{}
	defer func() {
		if retErr != nil {
			closeFiles(trees)
		}
	}()
	userns := usernsCache{}
	defer userns.close()
	for i := range cfg.Mounts {
		m := &cfg.Mounts[i]
		if m.IDMap == nil {
			continue
		}
		ns, err := userns.get(m.IDMap)
		if err != nil {
			return nil, fmt.Errorf("mount %s: %w", m.Destination, err)
		}
		tree, err := idmappedTree(m.Source, m.Flags&unix.MS_REC != 0, m.IDMap.Recursive, ns)
		if err != nil {
			return nil, fmt.Errorf("mount %s: %w", m.Destination, err)
		}
		trees[i] = tree
	}
	return trees, nil
}

func closeFiles(files map[int]*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// sortedIndexes returns the keys of files in order, so that the init's fd
// numbers do not depend on map order.
func sortedIndexes(files map[int]*os.File) []int {
	idx := make([]int, 0, len(files))
	for i := range files {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	return idx
}

// idmappedTree clones src (with its submounts if rec) into a detached tree
// and idmaps it (every mount of it if recursive) with the mappings of the
// user namespace userns.
func idmappedTree(src string, rec, recursive bool, userns *os.File) (*os.File, error) {
	tree, err := openTree(src, rec)
	if err != nil {
		return nil, err
	}
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(userns.Fd())}
	if err := mountSetattr(tree, src, recursive, attr); err != nil {
		err = idmapError(tree, recursive, err)
		tree.Close()
		return nil, err
	}
	return tree, nil
}

// idmapError says why the kernel refused to idmap a tree.
func idmapError(tree *os.File, recursive bool, err error) error {
	switch {
	case errors.Is(err, unix.ENOSYS):
		return fmt.Errorf("%w: idmapped mounts need Linux 5.12 or later", err)
	case errors.Is(err, unix.EINVAL):
		what := "its filesystem"
		if recursive {
			what = "its filesystem, or one mounted under it,"
		}
		return fmt.Errorf("%w: %s (%s) does not support idmapped mounts", err, what, fsTypeName(tree))
	case errors.Is(err, unix.EPERM):
		return fmt.Errorf("%w: idmapped mounts need CAP_SYS_ADMIN over the source's filesystem", err)
	}
	return err
}

// fsMagics names the filesystems an error message is likely to meet.
var fsMagics = map[int64]string{
	unix.EXT4_SUPER_MAGIC: "ext4", unix.TMPFS_MAGIC: "tmpfs", unix.XFS_SUPER_MAGIC: "xfs",
	unix.BTRFS_SUPER_MAGIC: "btrfs", unix.OVERLAYFS_SUPER_MAGIC: "overlay", unix.PROC_SUPER_MAGIC: "proc",
	unix.SYSFS_MAGIC: "sysfs", unix.CGROUP_SUPER_MAGIC: "cgroup", unix.CGROUP2_SUPER_MAGIC: "cgroup2",
	unix.DEVPTS_SUPER_MAGIC: "devpts", unix.RAMFS_MAGIC: "ramfs", unix.NFS_SUPER_MAGIC: "nfs",
	unix.FUSE_SUPER_MAGIC: "fuse", unix.SQUASHFS_MAGIC: "squashfs", unix.F2FS_SUPER_MAGIC: "f2fs",
	unix.MSDOS_SUPER_MAGIC: "vfat",
}

func fsTypeName(f *os.File) string {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return "unknown type"
	}
	if name, ok := fsMagics[int64(st.Type)]; ok {
		return name
	}
	return fmt.Sprintf("type %#x", st.Type)
}

// usernsCache holds one user namespace per mapping, so that mounts with
// the same mapping share it.
type usernsCache map[string]*os.File

func (c usernsCache) get(im *MountIDMap) (*os.File, error) {
	key := "path:" + im.UserNSPath
	if im.UserNSPath == "" {
		key = idMapKey(im.UIDMappings) + ";" + idMapKey(im.GIDMappings)
	}
	if f, ok := c[key]; ok {
		return f, nil
	}
	var f *os.File
	var err error
	if im.UserNSPath != "" {
		f, err = openNamespace(im.UserNSPath, unix.CLONE_NEWUSER)
	} else {
		f, err = newUserNS(im.UIDMappings, im.GIDMappings)
	}
	if err != nil {
		return nil, err
	}
	c[key] = f
	return f, nil
}

func (c usernsCache) close() {
	for _, f := range c {
		f.Close()
	}
}

func idMapKey(maps []IDMap) string {
	parts := make([]string, len(maps))
	for i, m := range maps {
		parts[i] = fmt.Sprintf("%d:%d:%d", m.ContainerID, m.HostID, m.Size)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// newUserNS returns a new user namespace with the given mappings. Maps are
// written for a process, so one is started in it: traced from its execve
// on (PTRACE_TRACEME), it stops before running a single instruction of the
// program, and it is killed as soon as the namespace is open; the fd keeps
// the namespace alive without it.
func newUserNS(uids, gids []IDMap) (*os.File, error) {
	p, err := os.StartProcess("/proc/self/exe", []string{"tabox-userns"}, &os.ProcAttr{
		Sys: &syscall.SysProcAttr{
			Cloneflags:  unix.CLONE_NEWUSER,
			UidMappings: sysIDMaps(uids),
			GidMappings: sysIDMaps(gids),
			Ptrace:      true,
			Pdeathsig:   unix.SIGKILL,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("create a user namespace with the mount's mappings: %w", err)
	}
	defer func() {
		p.Kill()
		p.Wait()
	}()
	f, err := os.OpenFile("/proc/"+strconv.Itoa(p.Pid)+"/ns/user", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open the user namespace with the mount's mappings: %w", err)
	}
	return f, nil
}

func sysIDMaps(maps []IDMap) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(maps))
	for i, m := range maps {
		out[i] = syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)}
	}
	return out
}

// IDMappedMountsSupported reports whether tabox can make idmapped mounts
// here: as root (see openIDMappedMounts), on a kernel with mount_setattr
// (Linux 5.12, which brought MOUNT_ATTR_IDMAP with it). A filesystem may
// still refuse them.
func IDMappedMountsSupported() bool {
	if os.Geteuid() != 0 {
		return false
	}
	// An invalid fd tells a kernel that has the call (EBADF) from one that
	// has not (ENOSYS), without changing anything.
	err := unix.MountSetattr(-1, "", unix.AT_EMPTY_PATH, &unix.MountAttr{})
	return err != unix.ENOSYS
}
