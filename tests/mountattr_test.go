package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// hostTreeWithSubmount makes a host directory holding a file and a tmpfs
// mounted at sub (with flags), unmounted when the test ends.
func hostTreeWithSubmount(t *testing.T, flags uintptr) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", filepath.Join(src, "sub"), "tmpfs", flags, "size=64k,mode=755"); err != nil {
		t.Fatalf("mount a tmpfs under the test's tree: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(filepath.Join(src, "sub"), unix.MNT_DETACH) })
	return src
}

// openUpBundle lets the root of a user namespace (an unprivileged id on
// the host) reach the bundle through the test's private directories, and
// makes the mount points it may not create in the root-owned rootfs.
func openUpBundle(t *testing.T, bundle string, mountpoints ...string) {
	t.Helper()
	for d := bundle; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, mp := range mountpoints {
		if err := os.MkdirAll(filepath.Join(bundle, "rootfs", mp), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func addUserNS(s *specs.Spec, hostID, size uint32) {
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: hostID, Size: size}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: hostID, Size: size}}
}

// TestRecursiveMountAttrs: "rro", "rnosuid", "rnodev", "rnoexec" and
// "rnoatime" on an rbind hold for the submount too; "rsuid", "rexec" and
// "rstrictatime" clear what the host's submount had; "rro" makes a tmpfs
// read-only.
func TestRecursiveMountAttrs(t *testing.T) {
	t.Parallel()
	plain := hostTreeWithSubmount(t, 0)
	restricted := hostTreeWithSubmount(t, unix.MS_NOSUID|unix.MS_NOEXEC|unix.MS_NOATIME)
	out := runArgs(t, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/set", Source: plain, Type: "bind", Options: []string{"rbind", "rro", "rnosuid", "rnodev", "rnoexec", "rnoatime"}},
			specs.Mount{Destination: "/clear", Source: restricted, Type: "bind", Options: []string{"rbind", "rsuid", "rexec", "rstrictatime"}},
			// Not only binds (runc 1.1.5 ignores them on a tmpfs).
			specs.Mount{Destination: "/scratch", Source: "tmpfs", Type: "tmpfs", Options: []string{"rro", "size=64k"}})
	}, "testinit", "write", "/set/sub/x", "data", "--", "write", "/scratch/x", "data", "--", "mountinfo")
	if l := lines(out); len(l) < 2 || l[0] != "errno=EROFS" || l[1] != "errno=EROFS" {
		t.Errorf("writes under an rro tree and on an rro tmpfs: %q, want errno=EROFS twice", l[:min(2, len(l))])
	}
	for _, mp := range []string{"/set", "/set/sub"} {
		m := findMount(out, mp)
		if m == nil {
			t.Errorf("no %s in mountinfo:\n%s", mp, out)
			continue
		}
		for _, o := range []string{"ro", "nosuid", "nodev", "noexec", "noatime"} {
			if !hasOption(m.options, o) {
				t.Errorf("%s: options %q lack %s", mp, m.options, o)
			}
		}
	}
	m := findMount(out, "/clear/sub")
	if m == nil {
		t.Fatalf("no /clear/sub in mountinfo:\n%s", out)
	}
	for _, o := range []string{"nosuid", "noexec", "noatime", "relatime"} {
		if hasOption(m.options, o) {
			t.Errorf("/clear/sub: options %q still have %s", m.options, o)
		}
	}
	// The host's own submount is untouched.
	var st unix.Statfs_t
	if err := unix.Statfs(filepath.Join(restricted, "sub"), &st); err != nil || st.Flags&unix.ST_NOSUID == 0 {
		t.Errorf("the host's submount lost nosuid (%v)", err)
	}
}

// TestIDMappedMount: without a user namespace, a bind with "idmap" and
// mappings 1000→2000 shows the files of host uid 1000 as owned by 2000 and
// unmapped ones as the overflow id; a file uid 2000 creates through it is
// owned by 1000 on the host.
func TestIDMappedMount(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	os.Chmod(src, 0o755)
	for name, owner := range map[string]int{"mine": 1000, "roots": 0} {
		if err := os.WriteFile(filepath.Join(src, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chown(filepath.Join(src, name), owner, owner)
	}
	if err := os.Chown(src, 1000, 1000); err != nil {
		t.Fatal(err)
	}
	m := []specs.LinuxIDMapping{{ContainerID: 1000, HostID: 2000, Size: 1}}
	out := runArgs(t, func(s *specs.Spec) {
		s.Process.User = specs.User{UID: 2000, GID: 2000}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: src, Type: "bind",
			Options: []string{"bind", "idmap"}, UIDMappings: m, GIDMappings: m})
	}, "testinit", "stat", "/data/mine", "--", "stat", "/data/roots", "--", "stat", "/data", "--", "write", "/data/new", "x")
	want := []string{"type=file mode=0644 uid=2000 gid=2000", "type=file mode=0644 uid=65534 gid=65534",
		"type=dir mode=0755 uid=2000 gid=2000", "ok"}
	if l := lines(out); !slices.Equal(l, want) {
		t.Errorf("inside: %q, want %q", l, want)
	}
	assertOwner(t, filepath.Join(src, "new"), 1000, 1000)
}

// TestIDMappedMountUserNamespace: in a container whose user namespace maps
// 0→100000, "idmap" without mappings uses the container's: the host's
// root-owned files are its root's, and what its root creates is root's on
// the host. "ridmap" with mappings of its own (1000→100000) shows uid
// 1000's files as root's, on the submount too, and "ro" holds there. A
// plain bind shows the overflow id.
func TestIDMappedMountUserNamespace(t *testing.T) {
	t.Parallel()
	src := hostTreeWithSubmount(t, 0)
	for _, f := range []struct {
		path  string
		owner int
	}{{"roots", 0}, {"users", 1000}, {"sub/users", 1000}} {
		p := filepath.Join(src, f.path)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, f.owner, f.owner); err != nil {
			t.Fatal(err)
		}
	}
	openUpBundle(t, src)
	m := []specs.LinuxIDMapping{{ContainerID: 1000, HostID: 100000, Size: 1}}
	bundle := newBundle(t, func(s *specs.Spec) {
		addUserNS(s, 100000, 65536)
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/data", Source: src, Type: "bind", Options: []string{"bind", "idmap"}},
			specs.Mount{Destination: "/users", Source: src, Type: "bind", Options: []string{"rbind", "ridmap", "ro"}, UIDMappings: m, GIDMappings: m},
			// Not "bind": in a user namespace the kernel refuses a bind that
			// would uncover what the host's submount hides.
			specs.Mount{Destination: "/plain", Source: src, Type: "bind", Options: []string{"rbind"}})
		s.Process.Args = testinitArgs(
			[]string{"stat", "/data/roots"}, []string{"stat", "/data/users"}, []string{"write", "/data/new", "x"},
			[]string{"stat", "/users/users"}, []string{"stat", "/users/sub/users"}, []string{"stat", "/users/roots"},
			[]string{"write", "/users/sub/x", "x"}, []string{"stat", "/plain/roots"})
	})
	openUpBundle(t, bundle, "data", "users", "plain")
	// Exit 10: the write that must fail did.
	out, stderr, _ := runContainer(t, bundle)
	want := []string{
		"type=file mode=0644 uid=0 gid=0", "type=file mode=0644 uid=1000 gid=1000", "ok",
		"type=file mode=0644 uid=0 gid=0", "type=file mode=0644 uid=0 gid=0", "type=file mode=0644 uid=65534 gid=65534",
		"errno=EROFS", "type=file mode=0644 uid=65534 gid=65534",
	}
	if l := lines(out); !slices.Equal(l, want) {
		t.Errorf("inside:\n%q\nwant\n%q\nstderr: %s", l, want, stderr)
	}
	assertOwner(t, filepath.Join(src, "new"), 0, 0)
}

// TestUserNamespaceRanges: root may give a user namespace several ranges;
// the container sees them all, and its root may chown to an id of the
// second range, which is that range's host id on the host.
func TestUserNamespaceRanges(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	if err := os.Chown(work, 100000, 100000); err != nil {
		t.Fatal(err)
	}
	openUpBundle(t, work)
	r := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 1000}, {ContainerID: 1000, HostID: 300000, Size: 1000}}
	bundle := newBundle(t, func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings, s.Linux.GIDMappings = r, r
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/work", Source: work, Type: "bind", Options: []string{"bind"}})
		c := s.Process.Capabilities
		c.Bounding, c.Effective, c.Permitted = append(c.Bounding, "CAP_CHOWN"), append(c.Effective, "CAP_CHOWN"), append(c.Permitted, "CAP_CHOWN")
		s.Process.Args = testinitArgs([]string{"cat", "/proc/self/uid_map"}, []string{"cat", "/proc/self/gid_map"},
			[]string{"write", "/work/f", "x"}, []string{"chown", "/work/f", "1500", "1501"}, []string{"stat", "/work/f"})
	})
	openUpBundle(t, bundle, "work")
	l := lines(mustRun(t, bundle))
	if len(l) != 7 {
		t.Fatalf("inside: %q", l)
	}
	for i, what := range []string{"uid_map", "gid_map"} {
		got := [][]string{strings.Fields(l[2*i]), strings.Fields(l[2*i+1])}
		if !slices.Equal(got[0], []string{"0", "100000", "1000"}) || !slices.Equal(got[1], []string{"1000", "300000", "1000"}) {
			t.Errorf("%s inside: %q, want both ranges", what, l[2*i:2*i+2])
		}
	}
	if l[4] != "ok" || l[5] != "ok" || l[6] != "type=file mode=0644 uid=1500 gid=1501" {
		t.Errorf("write, chown, stat inside: %q", l[4:])
	}
	assertOwner(t, filepath.Join(work, "f"), 300500, 300501)
}

// TestMountAttrBadInput: idmapped mounts and recursive attributes the
// kernel or the spec refuses fail create with a one-line error, leaving
// nothing behind.
func TestMountAttrBadInput(t *testing.T) {
	t.Parallel()
	m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	for _, tc := range []struct {
		name  string
		mount func(t *testing.T) specs.Mount
		user  bool
		want  []string
	}{
		{"idmap-on-tmpfs", func(*testing.T) specs.Mount {
			return specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"idmap"}, UIDMappings: m, GIDMappings: m}
		}, false, []string{"only supported for bind mounts"}},
		{"idmap-without-user-namespace", func(t *testing.T) specs.Mount {
			return specs.Mount{Destination: "/data", Source: t.TempDir(), Type: "bind", Options: []string{"bind", "idmap"}}
		}, false, []string{"user namespace"}},
		{"idmap-uid-without-gid", func(t *testing.T) specs.Mount {
			return specs.Mount{Destination: "/data", Source: t.TempDir(), Type: "bind", Options: []string{"bind", "idmap"}, UIDMappings: m}
		}, false, []string{"together"}},
		{"idmap-unsupported-filesystem", func(*testing.T) specs.Mount {
			return specs.Mount{Destination: "/mnt/sys", Source: "/proc/sys", Type: "bind", Options: []string{"bind", "idmap"}, UIDMappings: m, GIDMappings: m}
		}, false, []string{"(proc) does not support idmapped mounts"}},
		{"idmap-missing-source", func(t *testing.T) specs.Mount {
			return specs.Mount{Destination: "/data", Source: filepath.Join(t.TempDir(), "nope"), Type: "bind", Options: []string{"bind", "idmap"}, UIDMappings: m, GIDMappings: m}
		}, false, []string{"open_tree", "no such file"}},
		// In a user namespace the kernel locks the flags the host's
		// mounts had: clearing nosuid of the submount is refused.
		{"rsuid-on-locked-submount", func(t *testing.T) specs.Mount {
			src := hostTreeWithSubmount(t, unix.MS_NOSUID)
			openUpBundle(t, src)
			return specs.Mount{Destination: "/data", Source: src, Type: "bind", Options: []string{"rbind", "rsuid"}}
		}, true, []string{"mount_setattr", "clear MOUNT_ATTR_NOSUID", "operation not permitted"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mnt := tc.mount(t)
			bundle := newBundle(t, func(s *specs.Spec) {
				if tc.user {
					addUserNS(s, 100000, 65536)
				}
				s.Mounts = append(s.Mounts, mnt)
			})
			if tc.user {
				openUpBundle(t, bundle, mnt.Destination)
			}
			id := newID(t)
			_, stderr, code := tabox(t, "create", "--bundle", bundle, id)
			t.Logf("create: %s", strings.TrimSpace(stderr))
			assertOneLineError(t, stderr, code, tc.want...)
			if code != 0 {
				for _, w := range tc.want {
					if !strings.Contains(stderr, w) {
						t.Errorf("error %q lacks %q", strings.TrimSpace(stderr), w)
					}
				}
			}
			assertNoLeftovers(t, rootDir(t), id)
		})
	}
}

func assertOwner(t *testing.T, path string, uid, gid uint32) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Errorf("%s on the host: %v", path, err)
		return
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != uid || st.Gid != gid {
		t.Errorf("%s on the host is owned by %d:%d, want %d:%d", path, st.Uid, st.Gid, uid, gid)
	}
}

// TestIDMappedMountJoinedUserNamespace: a container that joins another's
// user namespace by path gets that namespace's mapping for an "idmap"
// without mappings: the host's root-owned file is its root's.
func TestIDMappedMountJoinedUserNamespace(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "roots"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	openUpBundle(t, src)
	owner := newBundle(t, func(s *specs.Spec) {
		addUserNS(s, 100000, 65536)
		s.Process.Args = []string{"testinit", "sleep", "120"}
	})
	openUpBundle(t, owner)
	ownerID, _ := createContainer(t, owner)
	pid := state(t, ownerID).Pid
	bundle := newBundle(t, func(s *specs.Spec) {
		// No new pid namespace: one cannot be made inside a joined user
		// namespace (see specconv).
		s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.MountNamespace},
			{Type: specs.UserNamespace, Path: fmt.Sprintf("/proc/%d/ns/user", pid)}}
		s.Linux.UIDMappings, s.Linux.GIDMappings = nil, nil
		s.Hostname = ""
		// Without namespaces of its own, the container may not mount the
		// host's proc, sysfs or mqueue from inside the joined one.
		var keep []specs.Mount
		for _, m := range s.Mounts {
			if m.Type != "proc" && m.Type != "sysfs" && m.Type != "mqueue" {
				keep = append(keep, m)
			}
		}
		s.Mounts = append(keep, specs.Mount{Destination: "/data", Source: src, Type: "bind", Options: []string{"bind", "idmap"}})
		s.Process.Args = []string{"testinit", "stat", "/data/roots"}
	})
	openUpBundle(t, bundle, "data")
	if l := lines(mustRun(t, bundle)); !slices.Equal(l, []string{"type=file mode=0644 uid=0 gid=0"}) {
		t.Errorf("inside: %q, want the file as root's", l)
	}
	deleteContainer(t, ownerID, true)
}
