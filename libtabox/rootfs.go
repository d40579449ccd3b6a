package libtabox

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/tabox/tabox/internal/sysfile"
)

// Everything in this file runs in the init, in the container's mount
// namespace, before pivot_root: paths inside the rootfs are resolved with
// RESOLVE_IN_ROOT semantics relative to an fd of the rootfs (symlinks in
// the image cannot lead out of it), and mounts are made onto the verified
// fd, never onto a re-walked path string.

// rootfs is the container's root filesystem during setup.
type rootfs struct {
	path string
	fd   *os.File
	// devNull is the host's /dev/null, verified to be the real device: it
	// is what masks files, never a /dev/null of the image (CVE-2025-31133).
	devNull *os.File
	userns  bool
	// cgroupns says the container has its own cgroup namespace; without
	// one, cgroupPaths are bound in place of the hierarchies.
	cgroupns    bool
	cgroupPaths map[string]string
	// trees are the idmapped copies of bind sources the parent made, by
	// the index of their mount (see idmap.go).
	trees map[int]*os.File
}

// prepareRootfs isolates the mount namespace from the host's and binds the
// rootfs onto itself, so that it is a mount point pivot_root accepts.
func prepareRootfs(cfg *Config, ic *initConfig) (*rootfs, error) {
	// Without a mount namespace of its own the container shares the
	// runtime's: the host's root must not be touched, only mounts under
	// the rootfs made (and delete unmounts them).
	if cfg.HasNamespace(NEWNS) {
		prop := cfg.RootPropagation
		if prop == 0 {
			prop = unix.MS_SLAVE | unix.MS_REC
		}
		if err := mount("", "/", "", prop, ""); err != nil {
			return nil, fmt.Errorf("set rootfs propagation: %w", err)
		}
		// After a recursive change to slave, private or unbindable no
		// mount is shared, and mountinfo need not be read (as in cinit.c).
		noneShared := prop&unix.MS_REC != 0 && prop&(unix.MS_SLAVE|unix.MS_PRIVATE|unix.MS_UNBINDABLE) != 0 && prop&unix.MS_SHARED == 0
		if !noneShared {
			if err := makeParentPrivate(cfg.Rootfs); err != nil {
				return nil, err
			}
		}
		if err := mount(cfg.Rootfs, cfg.Rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return nil, fmt.Errorf("bind rootfs: %w", err)
		}
	}
	fd, err := os.OpenFile(cfg.Rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open rootfs: %w", err)
	}
	null, err := openDevNull()
	if err != nil {
		fd.Close()
		return nil, err
	}
	_, userns := cfg.NamespacePath(NEWUSER)
	trees := make(map[int]*os.File, len(ic.IDMapFds))
	for i, tfd := range ic.IDMapFds {
		if i < 0 || i >= len(cfg.Mounts) {
			fd.Close()
			null.Close()
			return nil, fmt.Errorf("idmapped tree for mount %d, of %d mounts", i, len(cfg.Mounts))
		}
		trees[i] = os.NewFile(uintptr(tfd), "idmapped "+cfg.Mounts[i].Source)
	}
	return &rootfs{path: cfg.Rootfs, fd: fd, devNull: null, userns: userns || InUserNS(),
		cgroupns: cfg.HasNamespace(NEWCGROUP), cgroupPaths: ic.CgroupPaths, trees: trees}, nil
}

func (r *rootfs) close() {
	r.fd.Close()
	r.devNull.Close()
	closeFiles(r.trees)
}

// makeParentPrivate makes the mount holding the rootfs private when it is
// shared: pivot_root refuses a new root whose parent mount is shared.
func makeParentPrivate(path string) error {
	mounts, err := getMounts(mountinfo.ParentsFilter(path))
	if err != nil {
		return fmt.Errorf("read mountinfo: %w", err)
	}
	// The longest mount point; of mounts stacked on it, the last listed,
	// the one on top, which is the one the rootfs is on.
	var parent *mountinfo.Info
	for _, m := range mounts {
		// The filter compares strings: /tmp/a is no parent of /tmp/ab.
		under := m.Mountpoint == "/" || path == m.Mountpoint || strings.HasPrefix(path, m.Mountpoint+"/")
		if under && (parent == nil || len(m.Mountpoint) >= len(parent.Mountpoint)) {
			parent = m
		}
	}
	if parent == nil || !strings.Contains(parent.Optional, "shared:") {
		return nil
	}
	if err := mount("", parent.Mountpoint, "", unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make rootfs parent mount private: %w", err)
	}
	return nil
}

func openDevNull() (*os.File, error) {
	f, err := os.OpenFile("/dev/null", unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/null: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		f.Close()
		return nil, errors.New("/dev/null is not the null device")
	}
	return f, nil
}

// getMounts is mountinfo.GetMounts, reading /proc/thread-self/mountinfo
// without an os.File (see internal/sysfile).
func getMounts(f mountinfo.FilterFunc) ([]*mountinfo.Info, error) {
	data, err := sysfile.ReadFile("/proc/thread-self/mountinfo")
	if err != nil {
		return nil, err
	}
	return mountinfo.GetMountsFromReader(bytes.NewReader(data), f)
}

// InUserNS reports whether tabox itself runs in a non-initial user
// namespace (rootless, even as its root), where mknod is not allowed and
// the host's cgroups and /run are not its own.
func InUserNS() bool {
	inUserNSOnce.Do(func() {
		data, err := sysfile.ReadFile("/proc/self/uid_map")
		if err != nil {
			return
		}
		f := strings.Fields(string(data))
		inUserNSValue = !(len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295")
	})
	return inUserNSValue
}

var (
	inUserNSOnce  sync.Once
	inUserNSValue bool
)

// UseXDGRuntimeDir reports whether tabox's state and caches belong under
// $XDG_RUNTIME_DIR rather than /run: for a user other than root, and for
// root of a user namespace that a user made (rootless podman calls the
// runtime so), unless that user calls itself root.
func UseXDGRuntimeDir() bool {
	if os.Getenv("XDG_RUNTIME_DIR") == "" {
		return false
	}
	if os.Geteuid() != 0 {
		return true
	}
	u, ok := os.LookupEnv("USER")
	return InUserNS() && (!ok || u != "root")
}

// mkdirIn creates the directory path (and its parents) inside the rootfs
// and returns a handle on it.
func (r *rootfs) mkdirIn(path string) (*os.File, error) {
	return pathrs.MkdirAllHandle(r.fd, path, 0o755)
}

// createFileIn creates an empty file at path inside the rootfs, unless
// something exists there, and returns a handle on what is there.
func (r *rootfs) createFileIn(path string) (*os.File, error) {
	if f, err := pathrs.OpenatInRoot(r.fd, path); err == nil {
		return f, nil
	}
	dir, err := r.mkdirIn(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	base := filepath.Base(path)
	fd, err := unix.Openat(int(dir.Fd()), base, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	if err == nil {
		unix.Close(fd)
	}
	return pathrs.OpenatInRoot(r.fd, path)
}

// mountAll makes every mount of the config, in order.
func (r *rootfs) mountAll(cfg *Config) error {
	for i := range cfg.Mounts {
		m := &cfg.Mounts[i]
		var err error
		if tree := r.trees[i]; tree != nil {
			err = r.bindFrom(m, tree)
		} else {
			err = r.mountOne(m)
		}
		if err == nil {
			err = r.setRecAttr(m)
		}
		if err != nil {
			return fmt.Errorf("mount %s: %w", m.Destination, err)
		}
	}
	return nil
}

// setRecAttr applies the recursive attributes ("rro", …) to the mount
// just made at m.Destination and to every mount under it, last, so that
// they hold over whatever the flags of the mount itself said.
func (r *rootfs) setRecAttr(m *Mount) error {
	if m.RecAttr == nil {
		return nil
	}
	top, err := pathrs.OpenatInRoot(r.fd, m.Destination)
	if err != nil {
		return err
	}
	defer top.Close()
	err = mountSetattr(top, m.Destination, true, &unix.MountAttr{Attr_set: m.RecAttr.Set, Attr_clr: m.RecAttr.Clear})
	if errors.Is(err, unix.EPERM) && r.userns {
		return fmt.Errorf("%w (in a user namespace the kernel keeps ro, nosuid, nodev, noexec and the atime mode of the mounts that came from the host)", err)
	}
	return err
}

func (r *rootfs) mountOne(m *Mount) error {
	switch m.Kind {
	case MountBind:
		return r.bind(m)
	case MountCgroup:
		return r.mountCgroup(m)
	}
	dst, err := r.mkdirIn(m.Destination)
	if err != nil {
		return err
	}
	defer dst.Close()
	if m.CopyUp {
		return r.mountTmpCopyUp(m, dst)
	}
	flags := m.Flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT)
	if err := mountFd(m.Source, dst, m.Type, flags, m.Data); err != nil {
		// A sysfs cannot be mounted by a user namespace that does not own
		// the network namespace: bind the host's instead, as runc does.
		if m.Type == "sysfs" && errors.Is(err, unix.EPERM) && r.userns {
			return r.bind(&Mount{Kind: MountBind, Source: "/sys", Destination: m.Destination,
				Flags: m.Flags | unix.MS_BIND | unix.MS_REC, ClearFlags: m.ClearFlags})
		}
		return err
	}
	return r.propagate(m)
}

// bind binds the host path m.Source, then remounts with the mount's flags:
// a bind ignores every flag but MS_REC on its first mount.
func (r *rootfs) bind(m *Mount) error { return r.bindFrom(m, nil) }

// bindFrom is bind, attaching tree instead when it is set: a detached
// copy of m.Source (idmapped) that the parent made.
func (r *rootfs) bindFrom(m *Mount, tree *os.File) error {
	isDir, err := bindSourceIsDir(m.Source, tree)
	if err != nil {
		return fmt.Errorf("bind source: %w", err)
	}
	var dst *os.File
	if isDir {
		dst, err = r.mkdirIn(m.Destination)
	} else {
		dst, err = r.createFileIn(m.Destination)
	}
	if err != nil {
		return err
	}
	defer dst.Close()
	// A detached copy of the source, its flags set on it (and ro, nosuid,
	// nodev, noexec on every submount of a recursive bind: a writable
	// submount of a read-only tree is a hole, CVE-2023-25809), attached
	// onto the resolved destination: nothing is looked up again by path,
	// so a rename raced in cannot make the flags land on another mount.
	if tree == nil {
		if tree, err = openTree(m.Source, m.Flags&unix.MS_REC != 0); err != nil {
			return err
		}
		defer tree.Close()
	}
	extra := m.Flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT)
	if err := setTreeAttrs(tree, m.Destination, extra, m.ClearFlags, false); err != nil {
		return err
	}
	if m.Flags&unix.MS_REC != 0 {
		restrict := extra & (unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
		if err := setTreeAttrs(tree, m.Destination, restrict, 0, true); err != nil {
			return err
		}
	}
	if err := moveMount(tree, dst); err != nil {
		return err
	}
	// Attached, the tree's fd is the new mount: propagation goes there.
	for _, p := range m.PropagationFlags {
		if err := mountFd("", tree, "", p, ""); err != nil {
			return err
		}
	}
	return nil
}

func bindSourceIsDir(src string, tree *os.File) (bool, error) {
	if tree == nil {
		fi, err := os.Stat(src)
		if err != nil {
			return false, err
		}
		return fi.IsDir(), nil
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(tree.Fd()), &st); err != nil {
		return false, fmt.Errorf("stat %s: %w", tree.Name(), err)
	}
	return st.Mode&unix.S_IFMT == unix.S_IFDIR, nil
}

// remount changes the flags of the mount now at path (the top one). Flags
// the kernel locks in a user namespace are kept unless asked to clear.
func (r *rootfs) remount(path string, flags, clear uintptr) error {
	top, err := pathrs.OpenatInRoot(r.fd, path)
	if err != nil {
		return err
	}
	defer top.Close()
	flags |= lockedFlags(top) &^ clear
	return mountFd("", top, "", unix.MS_BIND|unix.MS_REMOUNT|flags, "")
}

func (r *rootfs) propagate(m *Mount) error {
	if len(m.PropagationFlags) == 0 {
		return nil
	}
	top, err := pathrs.OpenatInRoot(r.fd, m.Destination)
	if err != nil {
		return err
	}
	defer top.Close()
	for _, p := range m.PropagationFlags {
		if err := mountFd("", top, "", p, ""); err != nil {
			return err
		}
	}
	return nil
}

// mountCgroup gives the container the cgroup filesystem. Where the host
// is unified, cgroup2. On a v1 host, a tmpfs with one mount per hierarchy:
// in a cgroup namespace a new mount of the hierarchy, whose root is the
// container's cgroup; without one, the container's own cgroup directory
// bound there, so that it never sees the host's tree.
func (r *rootfs) mountCgroup(m *Mount) error {
	dst, err := r.mkdirIn(m.Destination)
	if err != nil {
		return err
	}
	defer dst.Close()
	flags := m.Flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT)
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		if !r.cgroupns {
			if p := r.cgroupPaths[""]; p != "" {
				return r.bindCgroup(p, m.Destination, flags)
			}
		}
		return mountFd("cgroup", dst, "cgroup2", flags, "")
	}
	if err := mountFd("tmpfs", dst, "tmpfs", flags&^unix.MS_RDONLY, "mode=755"); err != nil {
		return err
	}
	hier, err := getMounts(func(i *mountinfo.Info) (skip, stop bool) {
		return (i.FSType != "cgroup" && i.FSType != "cgroup2") || filepath.Dir(i.Mountpoint) != "/sys/fs/cgroup", false
	})
	if err != nil {
		return fmt.Errorf("read mountinfo: %w", err)
	}
	for _, h := range hier {
		name := filepath.Base(h.Mountpoint)
		target := filepath.Join(m.Destination, name)
		if !r.cgroupns {
			p := r.cgroupPaths[cgroupKey(h)]
			if p == "" {
				continue
			}
			if err := r.bindCgroup(p, target, flags); err != nil {
				return err
			}
			continue
		}
		sub, err := r.mkdirIn(target)
		if err != nil {
			return err
		}
		fstype, data := "cgroup2", ""
		if h.FSType == "cgroup" {
			var opts []string
			for _, o := range strings.Split(h.VFSOptions, ",") {
				if o != "rw" && o != "ro" {
					opts = append(opts, o)
				}
			}
			fstype, data = "cgroup", strings.Join(opts, ",")
		}
		err = mountFd("cgroup", sub, fstype, flags, data)
		sub.Close()
		if err != nil {
			return err
		}
	}
	if flags&unix.MS_RDONLY != 0 {
		return r.remount(m.Destination, flags, 0)
	}
	return nil
}

// cgroupKey names a host hierarchy the way the cgroup library keys the
// container's paths: the first controller of a v1 mount ("cpu" for
// cpu,cpuacct), "name=systemd" for a named one, "" for cgroup2.
func cgroupKey(h *mountinfo.Info) string {
	if h.FSType == "cgroup2" {
		return ""
	}
	for _, o := range strings.Split(h.VFSOptions, ",") {
		switch o {
		case "rw", "ro", "xattr", "clone_children", "noprefix", "nsdelegate", "memory_recursiveprot", "cpuset_v2_mode":
			continue
		}
		if strings.HasPrefix(o, "release_agent=") {
			continue
		}
		return o
	}
	return ""
}

// bindCgroup binds the container's cgroup directory src (a host path) at
// dst inside the container, with flags.
func (r *rootfs) bindCgroup(src, dst string, flags uintptr) error {
	return r.bind(&Mount{Kind: MountBind, Source: src, Destination: dst, Flags: unix.MS_BIND | flags})
}

// defaultDevices are created in every container's /dev.
var defaultDevices = []Device{
	{Path: "/dev/null", Type: CharDevice, Major: 1, Minor: 3, FileMode: 0o666},
	{Path: "/dev/zero", Type: CharDevice, Major: 1, Minor: 5, FileMode: 0o666},
	{Path: "/dev/full", Type: CharDevice, Major: 1, Minor: 7, FileMode: 0o666},
	{Path: "/dev/random", Type: CharDevice, Major: 1, Minor: 8, FileMode: 0o666},
	{Path: "/dev/urandom", Type: CharDevice, Major: 1, Minor: 9, FileMode: 0o666},
	{Path: "/dev/tty", Type: CharDevice, Major: 5, Minor: 0, FileMode: 0o666},
}

// devBoundFromHost reports whether the config binds /dev from the host,
// which then gets no devices or links of tabox's.
func devBoundFromHost(cfg *Config) bool {
	for _, m := range cfg.Mounts {
		if m.Destination == "/dev" && m.Kind == MountBind {
			return true
		}
	}
	return false
}

// containerDevices are the devices made in a container's /dev: the
// default ones, then the config's.
func containerDevices(cfg *Config) []Device {
	return append(append([]Device{}, defaultDevices...), cfg.Devices...)
}

// mknodMode is the mode mknod(2) takes for d: its permissions and type.
func (d *Device) mknodMode() (uint32, error) {
	mode := d.FileMode & 0o7777
	switch d.Type {
	case CharDevice:
		return mode | unix.S_IFCHR, nil
	case BlockDevice:
		return mode | unix.S_IFBLK, nil
	case FifoDevice:
		return mode | unix.S_IFIFO, nil
	}
	return 0, fmt.Errorf("unknown device type %q", d.Type)
}

// setupDev creates the default devices, the config's devices and the
// usual links, unless /dev is bound from the host.
func (r *rootfs) setupDev(cfg *Config) error {
	if devBoundFromHost(cfg) {
		return nil
	}
	devs := containerDevices(cfg)
	for i := range devs {
		if err := r.createDevice(&devs[i]); err != nil {
			return fmt.Errorf("device %s: %w", devs[i].Path, err)
		}
	}
	links := [][2]string{
		{"/proc/self/fd", "/dev/fd"}, {"/proc/self/fd/0", "/dev/stdin"},
		{"/proc/self/fd/1", "/dev/stdout"}, {"/proc/self/fd/2", "/dev/stderr"},
		{"pts/ptmx", "/dev/ptmx"},
	}
	if _, err := os.Stat("/proc/kcore"); err == nil {
		links = append(links, [2]string{"/proc/kcore", "/dev/core"})
	}
	dev, err := r.mkdirIn("/dev")
	if err != nil {
		return err
	}
	defer dev.Close()
	for _, l := range links {
		name := filepath.Base(l[1])
		if name == "ptmx" {
			// A ptmx node of the image gives way to the link to the
			// container's own devpts instance.
			unix.Unlinkat(int(dev.Fd()), name, 0)
		}
		if err := unix.Symlinkat(l[0], int(dev.Fd()), name); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("link %s: %w", l[1], err)
		}
	}
	return nil
}

// createDevice makes a device node, or in a user namespace (where mknod is
// refused) binds the host's node onto an empty file.
func (r *rootfs) createDevice(d *Device) error {
	dir, err := r.mkdirIn(filepath.Dir(d.Path))
	if err != nil {
		return err
	}
	defer dir.Close()
	name := filepath.Base(d.Path)
	if r.userns {
		f, err := r.createFileIn(d.Path)
		if err != nil {
			return err
		}
		defer f.Close()
		return mountFd(d.Path, f, "", unix.MS_BIND, "")
	}
	mode, err := d.mknodMode()
	if err != nil {
		return err
	}
	err = unix.Mknodat(int(dir.Fd()), name, mode, int(unix.Mkdev(uint32(d.Major), uint32(d.Minor))))
	if errors.Is(err, unix.EEXIST) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mknod: %w", err)
	}
	// mknod applies the umask: set the mode the config asks for.
	if err := chmodNoFollow(int(dir.Fd()), name, d.FileMode&0o7777); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	if err := unix.Fchownat(int(dir.Fd()), name, int(d.UID), int(d.GID), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	return nil
}

// chmodNoFollow changes the mode of name in dir, never through a symlink
// raced in its place (before pivot_root, one would lead to the host):
// fchmodat2 with AT_SYMLINK_NOFOLLOW (Linux 6.6), else through an O_PATH
// fd of the node itself, refusing a symlink.
func chmodNoFollow(dir int, name string, mode uint32) error {
	err := unix.Fchmodat(dir, name, mode, unix.AT_SYMLINK_NOFOLLOW)
	if !errors.Is(err, unix.EOPNOTSUPP) {
		return err
	}
	fd, err := unix.Openat(dir, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return unix.ELOOP
	}
	return unix.Chmod("/proc/self/fd/"+strconv.Itoa(fd), mode)
}

// maskPaths hides each masked path: a read-only tmpfs over a directory,
// the verified /dev/null over anything else.
func (r *rootfs) maskPaths(paths []string) error {
	for _, p := range paths {
		f, err := pathrs.OpenatInRoot(r.fd, p)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return fmt.Errorf("mask %s: %w", p, err)
		}
		var st unix.Stat_t
		err = unix.Fstat(int(f.Fd()), &st)
		if err == nil {
			if st.Mode&unix.S_IFMT == unix.S_IFDIR {
				err = mountFd("tmpfs", f, "tmpfs", unix.MS_RDONLY, "")
			} else {
				err = mountFd(fdPath(r.devNull), f, "", unix.MS_BIND, "")
			}
		}
		f.Close()
		if err != nil {
			return fmt.Errorf("mask %s: %w", p, err)
		}
	}
	return nil
}

// readonlyPaths binds each path over itself read-only.
func (r *rootfs) readonlyPaths(paths []string) error {
	for _, p := range paths {
		f, err := pathrs.OpenatInRoot(r.fd, p)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return fmt.Errorf("make %s read-only: %w", p, err)
		}
		// A detached copy of what is there, made read-only, attached over
		// it: the same file is never looked up again by path.
		err = bindReadonly(f, p)
		f.Close()
		if err != nil {
			return fmt.Errorf("make %s read-only: %w", p, err)
		}
	}
	return nil
}

func bindReadonly(f *os.File, name string) error {
	fd, err := unix.OpenTree(int(f.Fd()), "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE|unix.AT_EMPTY_PATH)
	if err != nil {
		return &os.PathError{Op: "open_tree", Path: name, Err: err}
	}
	tree := os.NewFile(uintptr(fd), name)
	defer tree.Close()
	if err := setTreeAttrs(tree, name, unix.MS_RDONLY, 0, false); err != nil {
		return err
	}
	return moveMount(tree, f)
}

// pivotRoot makes the rootfs the root and detaches the old one, with the
// fd trick of runc: pivot_root(".", ".") stacks the old root on the new,
// and an unmount of "." then removes it without a directory for it.
func pivotRoot(rootfs string) error {
	oldroot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open old root: %w", err)
	}
	defer unix.Close(oldroot)
	newroot, err := unix.Open(rootfs, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open new root: %w", err)
	}
	defer unix.Close(newroot)
	if err := unix.Fchdir(newroot); err != nil {
		return fmt.Errorf("chdir to new root: %w", err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Fchdir(oldroot); err != nil {
		return fmt.Errorf("chdir to old root: %w", err)
	}
	// The old root may be shared with the host: make sure the unmount
	// below does not propagate there.
	if err := mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return err
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir /: %w", err)
	}
	return nil
}

// moveRoot is the --no-pivot variant, for a rootfs on ramfs where
// pivot_root is refused.
func moveRoot(rootfs string) error {
	if err := unix.Chdir(rootfs); err != nil {
		return fmt.Errorf("chdir to rootfs: %w", err)
	}
	if err := mount(rootfs, "/", "", unix.MS_MOVE, ""); err != nil {
		return err
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir /: %w", err)
	}
	return nil
}

// chrootRoot enters the rootfs of a container without a mount namespace of
// its own: pivot_root and MS_MOVE would change the host's root.
func chrootRoot(rootfs string) error {
	if err := unix.Chdir(rootfs); err != nil {
		return fmt.Errorf("chdir to rootfs: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	return unix.Chdir("/")
}

// unmountUnder unmounts every mount below dir (a container's rootfs when
// it had no mount namespace of its own), deepest first.
func unmountUnder(dir string) error {
	dir = filepath.Clean(dir)
	if dir == "/" || !filepath.IsAbs(dir) {
		return fmt.Errorf("refusing to unmount under %q", dir)
	}
	mounts, err := getMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return fmt.Errorf("read mountinfo: %w", err)
	}
	var under []string
	for _, m := range mounts {
		if strings.HasPrefix(m.Mountpoint, dir+"/") {
			under = append(under, m.Mountpoint)
		}
	}
	sort.Slice(under, func(i, j int) bool { return len(under[i]) > len(under[j]) })
	for _, mp := range under {
		if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("unmount %s: %w", mp, err)
		}
	}
	return nil
}

// remountRootReadonly makes the root read-only, after pivot_root.
func remountRootReadonly() error {
	f, err := os.OpenFile("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return mount("", "/", "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|lockedFlags(f), "")
}
