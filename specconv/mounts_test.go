package specconv

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/tabox/tabox/libtabox"
)

func TestConvertMounts(t *testing.T) {
	mounts := func(m ...specs.Mount) func(s *specs.Spec) {
		return func(s *specs.Spec) { s.Mounts = m }
	}
	one := func(want libtabox.Mount) func(t *testing.T, c *libtabox.Config) {
		return func(t *testing.T, c *libtabox.Config) {
			if len(c.Mounts) != 1 || !reflect.DeepEqual(c.Mounts[0], want) {
				t.Errorf("Mounts = %+v\nwant %+v", c.Mounts, want)
			}
		}
	}
	tmp := specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"}
	runCases(t, []convCase{
		{name: "runc defaults", mod: mounts(
			specs.Mount{Destination: "/proc", Type: "proc", Source: "proc"},
			specs.Mount{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			specs.Mount{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			specs.Mount{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		), check: func(t *testing.T, c *libtabox.Config) {
			want := []libtabox.Mount{
				{Kind: libtabox.MountFS, Source: "proc", Destination: "/proc", Type: "proc"},
				{Kind: libtabox.MountFS, Source: "tmpfs", Destination: "/dev", Type: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_STRICTATIME, Data: "mode=755,size=65536k"},
				{Kind: libtabox.MountFS, Source: "devpts", Destination: "/dev/pts", Type: "devpts", Flags: unix.MS_NOSUID | unix.MS_NOEXEC, Data: "newinstance,ptmxmode=0666,mode=0620,gid=5"},
				{Kind: libtabox.MountFS, Source: "sysfs", Destination: "/sys", Type: "sysfs", Flags: unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV | unix.MS_RDONLY},
				{Kind: libtabox.MountCgroup, Source: "cgroup", Destination: "/sys/fs/cgroup", Type: "cgroup", Flags: unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV | unix.MS_RELATIME | unix.MS_RDONLY},
			}
			if !reflect.DeepEqual(c.Mounts, want) {
				t.Errorf("Mounts = %+v\nwant %+v", c.Mounts, want)
			}
		}},
		{name: "every flag", mod: mounts(specs.Mount{Destination: "/mnt", Type: "ext4", Source: "/dev/sda1", Options: []string{
			"defaults", "ro", "nosuid", "nodev", "noexec", "sync", "dirsync", "remount", "mand", "noatime", "nodiratime",
			"relatime", "strictatime", "silent", "lazytime", "iversion", "nosymfollow"}}),
			check: one(libtabox.Mount{Kind: libtabox.MountFS, Source: "/dev/sda1", Destination: "/mnt", Type: "ext4",
				Flags: unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_SYNCHRONOUS | unix.MS_DIRSYNC |
					unix.MS_REMOUNT | unix.MS_MANDLOCK | unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME |
					unix.MS_STRICTATIME | unix.MS_SILENT | unix.MS_LAZYTIME | unix.MS_I_VERSION | unix.MS_NOSYMFOLLOW})},
		{name: "every clear flag", mod: mounts(specs.Mount{Destination: "/mnt", Type: "ext4", Source: "/dev/sda1", Options: []string{
			"rw", "suid", "dev", "exec", "async", "nomand", "atime", "diratime", "norelatime", "nostrictatime", "loud",
			"nolazytime", "noiversion", "symfollow"}}),
			check: one(libtabox.Mount{Kind: libtabox.MountFS, Source: "/dev/sda1", Destination: "/mnt", Type: "ext4",
				ClearFlags: unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_SYNCHRONOUS |
					unix.MS_MANDLOCK | unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_STRICTATIME |
					unix.MS_SILENT | unix.MS_LAZYTIME | unix.MS_I_VERSION | unix.MS_NOSYMFOLLOW})},
		{name: "last of ro rw wins", mod: mounts(specs.Mount{Destination: "/a", Type: "tmpfs", Options: []string{"rw", "ro", "nosuid", "suid"}}),
			check: one(libtabox.Mount{Kind: libtabox.MountFS, Destination: "/a", Type: "tmpfs", Flags: unix.MS_RDONLY, ClearFlags: unix.MS_NOSUID})},
		{name: "propagation", mod: mounts(specs.Mount{Destination: "/a", Type: "tmpfs", Options: []string{
			"private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable"}}),
			check: one(libtabox.Mount{Kind: libtabox.MountFS, Destination: "/a", Type: "tmpfs", PropagationFlags: []uintptr{
				unix.MS_PRIVATE, unix.MS_PRIVATE | unix.MS_REC, unix.MS_SHARED, unix.MS_SHARED | unix.MS_REC,
				unix.MS_SLAVE, unix.MS_SLAVE | unix.MS_REC, unix.MS_UNBINDABLE, unix.MS_UNBINDABLE | unix.MS_REC}})},
		{name: "clean destination", mod: mounts(specs.Mount{Destination: "/a/../b//c/", Type: "tmpfs"}),
			check: one(libtabox.Mount{Kind: libtabox.MountFS, Destination: "/b/c", Type: "tmpfs"})},
		{name: "bind relative source", mod: mounts(specs.Mount{Destination: "/data", Source: "./data/../data", Options: []string{"bind", "ro"}}),
			check: func(t *testing.T, c *libtabox.Config) {
				want := libtabox.Mount{Kind: libtabox.MountBind, Source: filepath.Join(c.Bundle, "data"), Destination: "/data", Flags: unix.MS_BIND | unix.MS_RDONLY}
				if !reflect.DeepEqual(c.Mounts[0], want) {
					t.Errorf("Mounts[0] = %+v", c.Mounts[0])
				}
			}},
		{name: "rbind", mod: mounts(specs.Mount{Destination: "/data", Source: "/srv/data/", Type: "none", Options: []string{"rbind", "rprivate"}}),
			check: one(libtabox.Mount{Kind: libtabox.MountBind, Source: "/srv/data", Destination: "/data", Type: "none",
				Flags: unix.MS_BIND | unix.MS_REC, PropagationFlags: []uintptr{unix.MS_PRIVATE | unix.MS_REC}})},
		{name: "bind type", mod: mounts(specs.Mount{Destination: "/data", Source: "/srv", Type: "bind"}),
			check: one(libtabox.Mount{Kind: libtabox.MountBind, Source: "/srv", Destination: "/data", Type: "bind", Flags: unix.MS_BIND})},
		{name: "bind over sys", mod: mounts(specs.Mount{Destination: "/sys", Source: "/sys", Type: "none", Options: []string{"rbind", "nosuid", "ro"}})},
		{name: "cgroup2", mod: mounts(specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup2", Source: "cgroup"}),
			check: one(libtabox.Mount{Kind: libtabox.MountCgroup, Source: "cgroup", Destination: "/sys/fs/cgroup", Type: "cgroup2"})},
		{name: "relative destination", mod: mounts(tmp, tmp, tmp, specs.Mount{Destination: "tmp", Type: "tmpfs"}),
			wantErr: `mounts[3]: destination "tmp" is not absolute`},
		{name: "empty destination", mod: mounts(specs.Mount{Type: "tmpfs"}), wantErr: `mounts[0]: destination "" is not absolute`},
		{name: "root destination", mod: mounts(specs.Mount{Destination: "/", Type: "tmpfs"}), wantErr: "mounts[0]: destination \"/\""},
		{name: "root destination unclean", mod: mounts(specs.Mount{Destination: "/tmp/..", Type: "tmpfs"}), wantErr: "mounts[0]: destination \"/tmp/..\""},
		{name: "tmpcopyup on a bind", mod: mounts(specs.Mount{Destination: "/a", Source: "/b", Type: "bind", Options: []string{"rbind", "tmpcopyup"}}), wantErr: `mounts[0]: option "tmpcopyup" is only for a tmpfs`},
		{name: "bind without source", mod: mounts(specs.Mount{Destination: "/a", Options: []string{"bind"}}), wantErr: "mounts[0]: a bind mount needs a source"},
		{name: "no type", mod: mounts(specs.Mount{Destination: "/a", Source: "x"}), wantErr: "mounts[0]: destination \"/a\": type is required"},
		{name: "tmpfs on proc", mod: mounts(specs.Mount{Destination: "/proc/", Type: "tmpfs"}), wantErr: "mounts[0]: only a procfs may be mounted on /proc"},
		{name: "bind on proc", mod: mounts(specs.Mount{Destination: "/proc", Source: "/proc", Type: "proc", Options: []string{"rbind"}}), wantErr: "only a procfs may be mounted on /proc"},
		{name: "tmpfs on sys", mod: mounts(specs.Mount{Destination: "/sys", Type: "tmpfs"}), wantErr: "mounts[0]: only a sysfs or a bind mount may be mounted on /sys"},
		{name: "cgroup on sys", mod: mounts(specs.Mount{Destination: "/sys", Type: "cgroup2"}), wantErr: "only a sysfs or a bind mount"},
		{name: "under proc is fine", mod: mounts(specs.Mount{Destination: "/proc/sys", Source: "/proc/sys", Options: []string{"bind", "ro"}})},
	})
}

func TestConvertRootfsPropagation(t *testing.T) {
	var cases []convCase
	for name, want := range map[string]uintptr{
		"":            0,
		"shared":      unix.MS_SHARED,
		"slave":       unix.MS_SLAVE,
		"private":     unix.MS_PRIVATE,
		"unbindable":  unix.MS_UNBINDABLE,
		"rshared":     unix.MS_SHARED | unix.MS_REC,
		"rslave":      unix.MS_SLAVE | unix.MS_REC,
		"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
		"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
	} {
		cases = append(cases, convCase{name: "ok " + name, mod: func(s *specs.Spec) { s.Linux.RootfsPropagation = name },
			check: func(t *testing.T, c *libtabox.Config) {
				if c.RootPropagation != want {
					t.Errorf("RootPropagation = %#x, want %#x", c.RootPropagation, want)
				}
			}})
	}
	cases = append(cases, convCase{name: "unknown", mod: func(s *specs.Spec) { s.Linux.RootfsPropagation = "recursive" },
		wantErr: `linux.rootfsPropagation: unknown propagation "recursive"`})
	runCases(t, cases)
}

func TestConvertDevices(t *testing.T) {
	devs := func(d ...specs.LinuxDevice) func(s *specs.Spec) {
		return func(s *specs.Spec) { s.Linux.Devices = d }
	}
	mode := os.FileMode(0o620)
	runCases(t, []convCase{
		{name: "all types", mod: devs(
			specs.LinuxDevice{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229},
			specs.LinuxDevice{Path: "/dev/./ttyX", Type: "u", Major: 4, Minor: 1, FileMode: &mode, UID: ptr(uint32(1)), GID: ptr(uint32(5))},
			specs.LinuxDevice{Path: "/dev/sda", Type: "b", Major: 8, Minor: 0},
			specs.LinuxDevice{Path: "/dev/fifo", Type: "p"},
			specs.LinuxDevice{Path: "/dev/suid", Type: "c", Major: 1, Minor: 3, FileMode: ptr(os.FileMode(0o4755) | os.ModeCharDevice)},
		), check: func(t *testing.T, c *libtabox.Config) {
			want := []libtabox.Device{
				{Path: "/dev/fuse", Type: libtabox.CharDevice, Major: 10, Minor: 229, FileMode: 0o666},
				{Path: "/dev/ttyX", Type: libtabox.CharDevice, Major: 4, Minor: 1, FileMode: 0o620, UID: 1, GID: 5},
				{Path: "/dev/sda", Type: libtabox.BlockDevice, Major: 8, Minor: 0, FileMode: 0o666},
				{Path: "/dev/fifo", Type: libtabox.FifoDevice, FileMode: 0o666},
				{Path: "/dev/suid", Type: libtabox.CharDevice, Major: 1, Minor: 3, FileMode: 0o4755},
			}
			if !reflect.DeepEqual(c.Devices, want) {
				t.Errorf("Devices = %+v\nwant %+v", c.Devices, want)
			}
		}},
		{name: "relative", mod: devs(specs.LinuxDevice{Path: "dev/fuse", Type: "c"}), wantErr: `linux.devices[0]: path "dev/fuse" is not absolute`},
		{name: "outside dev", mod: devs(specs.LinuxDevice{Path: "/tmp/fuse", Type: "c"}), wantErr: `linux.devices[0]: path "/tmp/fuse" is not under /dev`},
		{name: "escapes dev", mod: devs(specs.LinuxDevice{Path: "/dev/../etc/x", Type: "c"}), wantErr: "is not under /dev"},
		{name: "dev itself", mod: devs(specs.LinuxDevice{Path: "/dev", Type: "c"}), wantErr: "is not under /dev"},
		{name: "devices prefix", mod: devs(specs.LinuxDevice{Path: "/devices/x", Type: "c"}), wantErr: "is not under /dev"},
		{name: "duplicate", mod: devs(specs.LinuxDevice{Path: "/dev/a", Type: "c"}, specs.LinuxDevice{Path: "/dev//a", Type: "b"}),
			wantErr: `linux.devices[1]: duplicate path "/dev//a"`},
		{name: "unknown type", mod: devs(specs.LinuxDevice{Path: "/dev/a", Type: "x"}), wantErr: `linux.devices[0]: unknown device type "x"`},
		{name: "empty type", mod: devs(specs.LinuxDevice{Path: "/dev/a"}), wantErr: `unknown device type ""`},
		{name: "negative", mod: devs(specs.LinuxDevice{Path: "/dev/a", Type: "c", Major: -1}), wantErr: "linux.devices[0]: negative device number"},
	})
}

func TestConvertMaskedReadonlyPaths(t *testing.T) {
	runCases(t, []convCase{
		{name: "copied", mod: func(s *specs.Spec) {
			s.Linux.MaskedPaths = []string{"/proc/kcore", "/proc/./keys/"}
			s.Linux.ReadonlyPaths = []string{"/proc/sys", "/proc//bus"}
		}, check: func(t *testing.T, c *libtabox.Config) {
			if !reflect.DeepEqual(c.MaskedPaths, []string{"/proc/kcore", "/proc/keys"}) ||
				!reflect.DeepEqual(c.ReadonlyPaths, []string{"/proc/sys", "/proc/bus"}) {
				t.Errorf("MaskedPaths, ReadonlyPaths = %v, %v", c.MaskedPaths, c.ReadonlyPaths)
			}
		}},
		{name: "masked relative", mod: func(s *specs.Spec) { s.Linux.MaskedPaths = []string{"/a", "proc/kcore"} },
			wantErr: `linux.maskedPaths[1]: path "proc/kcore" is not absolute`},
		{name: "readonly relative", mod: func(s *specs.Spec) { s.Linux.ReadonlyPaths = []string{""} },
			wantErr: `linux.readonlyPaths[0]: path "" is not absolute`},
	})
}

func TestConvertRecursiveAttrs(t *testing.T) {
	const atime = unix.MOUNT_ATTR__ATIME
	var cases []convCase
	for _, tc := range []struct {
		name string
		opts []string
		want *libtabox.MountAttr
	}{
		{"none", []string{"ro", "nosuid"}, nil},
		{"set", []string{"rro", "rnosuid", "rnodev", "rnoexec", "rnodiratime", "rnosymfollow"}, &libtabox.MountAttr{
			Set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC |
				unix.MOUNT_ATTR_NODIRATIME | unix.MOUNT_ATTR_NOSYMFOLLOW}},
		{"clear", []string{"rrw", "rsuid", "rdev", "rexec", "rdiratime", "rsymfollow"}, &libtabox.MountAttr{
			Clear: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC |
				unix.MOUNT_ATTR_NODIRATIME | unix.MOUNT_ATTR_NOSYMFOLLOW}},
		{"last of rro rrw wins", []string{"rro", "rnosuid", "rrw"}, &libtabox.MountAttr{Set: unix.MOUNT_ATTR_NOSUID, Clear: unix.MOUNT_ATTR_RDONLY}},
		{"last of rrw rro wins", []string{"rrw", "rro"}, &libtabox.MountAttr{Set: unix.MOUNT_ATTR_RDONLY}},
		// The atime modes are an enum: a mode is set with the whole
		// MOUNT_ATTR__ATIME field cleared, and relatime is 0.
		{"rnoatime", []string{"rnoatime"}, &libtabox.MountAttr{Set: unix.MOUNT_ATTR_NOATIME, Clear: atime}},
		{"rstrictatime", []string{"rstrictatime"}, &libtabox.MountAttr{Set: unix.MOUNT_ATTR_STRICTATIME, Clear: atime}},
		{"rrelatime", []string{"rrelatime"}, &libtabox.MountAttr{Set: unix.MOUNT_ATTR_RELATIME, Clear: atime}},
		{"ratime alone is relatime", []string{"ratime"}, &libtabox.MountAttr{Clear: atime}},
		{"ratime drops noatime", []string{"rnoatime", "ratime"}, &libtabox.MountAttr{Clear: atime}},
		{"ratime keeps strictatime", []string{"rstrictatime", "ratime"}, &libtabox.MountAttr{Set: unix.MOUNT_ATTR_STRICTATIME, Clear: atime}},
		{"rnostrictatime drops strictatime", []string{"rstrictatime", "rnostrictatime"}, &libtabox.MountAttr{Clear: atime}},
		{"rnostrictatime keeps noatime", []string{"rnoatime", "rnostrictatime"}, &libtabox.MountAttr{Set: unix.MOUNT_ATTR_NOATIME, Clear: atime}},
		{"rnorelatime is strict", []string{"rrelatime", "rnorelatime"}, &libtabox.MountAttr{Set: unix.MOUNT_ATTR_STRICTATIME, Clear: atime}},
		{"rnorelatime keeps noatime", []string{"rnoatime", "rnorelatime"}, &libtabox.MountAttr{Set: unix.MOUNT_ATTR_NOATIME, Clear: atime}},
		{"atime with flags", []string{"rnoatime", "rro", "rnodiratime"}, &libtabox.MountAttr{
			Set: unix.MOUNT_ATTR_NOATIME | unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NODIRATIME, Clear: atime}},
	} {
		cases = append(cases, convCase{name: tc.name, mod: func(s *specs.Spec) {
			s.Mounts = []specs.Mount{{Destination: "/data", Source: "/srv", Options: append([]string{"rbind"}, tc.opts...)}}
		}, check: func(t *testing.T, c *libtabox.Config) {
			m := c.Mounts[0]
			if !reflect.DeepEqual(m.RecAttr, tc.want) {
				t.Errorf("RecAttr = %+v, want %+v", m.RecAttr, tc.want)
			}
			if m.Data != "" {
				t.Errorf("Data = %q: a recursive option went to the filesystem", m.Data)
			}
		}})
	}
	// Not only binds: a tmpfs takes them too (on itself).
	cases = append(cases, convCase{name: "tmpfs", mod: func(s *specs.Spec) {
		s.Mounts = []specs.Mount{{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"rro", "size=1m"}}}
	}, check: func(t *testing.T, c *libtabox.Config) {
		if m := c.Mounts[0]; !reflect.DeepEqual(m.RecAttr, &libtabox.MountAttr{Set: unix.MOUNT_ATTR_RDONLY}) || m.Data != "size=1m" {
			t.Errorf("mount = %+v", m)
		}
	}})
	runCases(t, cases)
}

func TestConvertIDMappedMounts(t *testing.T) {
	own := []specs.LinuxIDMapping{{ContainerID: 1000, HostID: 2000, Size: 10}}
	ownWant := []libtabox.IDMap{{ContainerID: 1000, HostID: 2000, Size: 10}}
	bind := func(opts []string, uids, gids []specs.LinuxIDMapping) func(s *specs.Spec) {
		return func(s *specs.Spec) {
			s.Mounts = []specs.Mount{{Destination: "/data", Source: "/srv", Type: "bind", Options: opts, UIDMappings: uids, GIDMappings: gids}}
		}
	}
	idmap := func(want *libtabox.MountIDMap) func(t *testing.T, c *libtabox.Config) {
		return func(t *testing.T, c *libtabox.Config) {
			m := c.Mounts[0]
			if !reflect.DeepEqual(m.IDMap, want) {
				t.Errorf("IDMap = %+v, want %+v", m.IDMap, want)
			}
			if m.Data != "" || m.Kind != libtabox.MountBind {
				t.Errorf("mount = %+v: want a bind without fs data", m)
			}
		}
	}
	both := func(f ...func(s *specs.Spec)) func(s *specs.Spec) {
		return func(s *specs.Spec) {
			for _, g := range f {
				g(s)
			}
		}
	}
	runCases(t, []convCase{
		{name: "own mappings", mod: bind([]string{"rbind", "idmap"}, own, own),
			check: idmap(&libtabox.MountIDMap{UIDMappings: ownWant, GIDMappings: ownWant})},
		{name: "own mappings ridmap", mod: bind([]string{"rbind", "ridmap"}, own, own),
			check: idmap(&libtabox.MountIDMap{UIDMappings: ownWant, GIDMappings: ownWant, Recursive: true})},
		{name: "mappings without option", mod: bind([]string{"bind"}, own, own),
			check: idmap(&libtabox.MountIDMap{UIDMappings: ownWant, GIDMappings: ownWant})},
		{name: "own mappings win over the container's", mod: both(userNS, bind([]string{"bind", "idmap"}, own, own)),
			check: idmap(&libtabox.MountIDMap{UIDMappings: ownWant, GIDMappings: ownWant})},
		{name: "container's mappings", mod: both(userNS, bind([]string{"bind", "ridmap"}, nil, nil)),
			check: idmap(&libtabox.MountIDMap{UIDMappings: []libtabox.IDMap{{ContainerID: 0, HostID: 1000, Size: 1}},
				GIDMappings: []libtabox.IDMap{{ContainerID: 0, HostID: 1000, Size: 1}}, Recursive: true})},
		{name: "joined user namespace", mod: both(func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: "/proc/1/ns/user"})
		}, bind([]string{"bind", "idmap"}, nil, nil)),
			check: idmap(&libtabox.MountIDMap{UserNSPath: "/proc/1/ns/user"})},
		{name: "no user namespace", mod: bind([]string{"bind", "idmap"}, nil, nil),
			wantErr: `mounts[0]: option "idmap" without uidMappings and gidMappings uses the container's user namespace, and linux.namespaces has none`},
		{name: "not a bind", mod: func(s *specs.Spec) {
			s.Mounts = []specs.Mount{{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"idmap"}, UIDMappings: own, GIDMappings: own}}
		}, wantErr: `mounts[0]: option "idmap": idmapped mounts are only supported for bind mounts`},
		{name: "mappings on a tmpfs", mod: func(s *specs.Spec) {
			s.Mounts = []specs.Mount{{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", UIDMappings: own, GIDMappings: own}}
		}, wantErr: "mounts[0]: uidMappings and gidMappings: idmapped mounts are only supported for bind mounts"},
		{name: "uid without gid", mod: bind([]string{"bind", "idmap"}, own, nil), wantErr: "mounts[0]: uidMappings and gidMappings of an idmapped mount must be given together"},
		{name: "gid without uid", mod: bind([]string{"bind"}, nil, own), wantErr: "must be given together"},
		{name: "size zero", mod: bind([]string{"bind", "idmap"}, own, []specs.LinuxIDMapping{{Size: 0}}), wantErr: "mounts[0]: gidMappings[0]: size must not be 0"},
		{name: "overlap", mod: bind([]string{"bind", "idmap"}, append(own, specs.LinuxIDMapping{ContainerID: 1005, HostID: 0, Size: 1}), own),
			wantErr: "mounts[0]: uidMappings[1]: container ids 1005-1005 overlap those of uidMappings[0]"},
		{name: "rootless", mod: both(userNS, bind([]string{"bind", "idmap"}, own, own)), opts: func(o *Opts) { o.Rootless = true },
			wantErr: "mounts[0]: idmapped mounts need tabox to run as root"},
	})
}
