package specconv

import (
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/tabox/tabox/libtabox"
)

func TestConvertNamespaces(t *testing.T) {
	nsList := func(ns ...specs.LinuxNamespace) func(s *specs.Spec) {
		return func(s *specs.Spec) { s.Linux.Namespaces = ns }
	}
	mnt := specs.LinuxNamespace{Type: specs.MountNamespace}
	rootless := func(o *Opts) { o.Rootless = true }
	runCases(t, []convCase{
		{name: "all types", mod: func(s *specs.Spec) {
			addNS(s, specs.PIDNamespace, specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace,
				specs.CgroupNamespace, specs.TimeNamespace)
			userNS(s)
		}, check: func(t *testing.T, c *libtabox.Config) {
			want := []libtabox.Namespace{{Type: libtabox.NEWNS}, {Type: libtabox.NEWPID}, {Type: libtabox.NEWNET},
				{Type: libtabox.NEWIPC}, {Type: libtabox.NEWUTS}, {Type: libtabox.NEWCGROUP}, {Type: libtabox.NEWTIME},
				{Type: libtabox.NEWUSER}}
			if !reflect.DeepEqual(c.Namespaces, want) {
				t.Errorf("Namespaces = %+v", c.Namespaces)
			}
			if !reflect.DeepEqual(c.UIDMappings, []libtabox.IDMap{{ContainerID: 0, HostID: 1000, Size: 1}}) ||
				!reflect.DeepEqual(c.GIDMappings, []libtabox.IDMap{{ContainerID: 0, HostID: 1000, Size: 1}}) {
				t.Errorf("mappings = %+v %+v", c.UIDMappings, c.GIDMappings)
			}
		}},
		{name: "joined by path", mod: nsList(mnt, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/run/netns/x"}),
			check: func(t *testing.T, c *libtabox.Config) {
				if p, ok := c.NamespacePath(libtabox.NEWNET); !ok || p != "/run/netns/x" {
					t.Errorf("network namespace = %q, %v", p, ok)
				}
			}},
		{name: "no linux", mod: func(s *specs.Spec) { s.Linux = nil }, check: func(t *testing.T, c *libtabox.Config) {
			if len(c.Namespaces) != 0 {
				t.Errorf("namespaces %v, want none", c.Namespaces)
			}
		}},
		{name: "no mount namespace", mod: nsList(specs.LinuxNamespace{Type: specs.PIDNamespace}), check: func(t *testing.T, c *libtabox.Config) {
			if c.HasNamespace(libtabox.NEWNS) {
				t.Errorf("namespaces %v: a mount namespace appeared", c.Namespaces)
			}
		}},
		{name: "no mount namespace, readonly root", mod: func(s *specs.Spec) {
			nsList(specs.LinuxNamespace{Type: specs.PIDNamespace})(s)
			s.Root.Readonly = true
		}, wantErr: "root.readonly needs a mount namespace"},
		{name: "unknown", mod: nsList(mnt, specs.LinuxNamespace{Type: "foo"}), wantErr: `linux.namespaces[1]: unknown namespace type "foo"`},
		{name: "duplicate", mod: nsList(mnt, specs.LinuxNamespace{Type: specs.PIDNamespace}, specs.LinuxNamespace{Type: specs.PIDNamespace, Path: "/proc/1/ns/pid"}),
			wantErr: `linux.namespaces[2]: duplicate namespace type "pid"`},
		{name: "relative path", mod: nsList(mnt, specs.LinuxNamespace{Type: specs.IPCNamespace, Path: "ns/ipc"}),
			wantErr: `linux.namespaces[1]: path "ns/ipc" is not absolute`},
		{name: "join user create pid", mod: nsList(mnt, specs.LinuxNamespace{Type: specs.UserNamespace, Path: "/proc/1/ns/user"},
			specs.LinuxNamespace{Type: specs.PIDNamespace}),
			wantErr: "creating a pid namespace while joining a user namespace is not supported"},
		{name: "join user join pid", mod: nsList(mnt, specs.LinuxNamespace{Type: specs.UserNamespace, Path: "/proc/1/ns/user"},
			specs.LinuxNamespace{Type: specs.PIDNamespace, Path: "/proc/1/ns/pid"})},
		{name: "new user join net", mod: func(s *specs.Spec) {
			userNS(s)
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/run/netns/x"})
		}, wantErr: "joining namespaces by path together with a new user namespace is not supported"},
		{name: "rootless without user", opts: rootless, wantErr: "rootless containers need a user namespace"},
		{name: "rootless with user", opts: rootless, mod: userNS},
		// Root of a user namespace (rootless podman calls the runtime so)
		// needs no user namespace of the container's own.
		{name: "rootless in a user namespace", opts: func(o *Opts) { o.Rootless, o.InUserNS = true, true }},
		{name: "rootless joined user", opts: rootless, mod: nsList(mnt, specs.LinuxNamespace{Type: specs.UserNamespace, Path: "/proc/1/ns/user"})},
	})
}

func TestConvertIDMappings(t *testing.T) {
	m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	runCases(t, []convCase{
		{name: "uid without user ns", mod: func(s *specs.Spec) { s.Linux.UIDMappings = m }, wantErr: "id mappings need a user namespace"},
		{name: "gid without user ns", mod: func(s *specs.Spec) { s.Linux.GIDMappings = m }, wantErr: "id mappings need a user namespace"},
		{name: "new user without uid", mod: func(s *specs.Spec) { userNS(s); s.Linux.UIDMappings = nil },
			wantErr: "linux.uidMappings: a new user namespace needs uid mappings"},
		{name: "new user without gid", mod: func(s *specs.Spec) { userNS(s); s.Linux.GIDMappings = nil },
			wantErr: "linux.gidMappings: a new user namespace needs gid mappings"},
		{name: "size zero", mod: func(s *specs.Spec) {
			userNS(s)
			s.Linux.UIDMappings = append(s.Linux.UIDMappings, specs.LinuxIDMapping{ContainerID: 1, HostID: 1})
		}, wantErr: "linux.uidMappings[1]: size must not be 0"},
		{name: "overflow", mod: func(s *specs.Spec) {
			userNS(s)
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1 << 31, Size: 1 << 31}, {ContainerID: 1, HostID: 0xffffffff, Size: 2}}
		}, wantErr: "linux.gidMappings[1]: range of size 2 overflows"},
		{name: "joined user keeps mappings", mod: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: "/proc/1/ns/user"})
			s.Linux.UIDMappings = m
		}, check: func(t *testing.T, c *libtabox.Config) {
			if len(c.UIDMappings) != 1 || c.UIDMappings[0].Size != 65536 {
				t.Errorf("UIDMappings = %+v", c.UIDMappings)
			}
		}},
	})
}

func TestConvertTimeOffsets(t *testing.T) {
	offs := map[string]specs.LinuxTimeOffset{"monotonic": {Secs: -5, Nanosecs: 7}, "boottime": {Secs: 100}}
	runCases(t, []convCase{
		{name: "new time ns", mod: func(s *specs.Spec) { addNS(s, specs.TimeNamespace); s.Linux.TimeOffsets = offs },
			check: func(t *testing.T, c *libtabox.Config) {
				want := map[string]libtabox.TimeOffset{"monotonic": {Secs: -5, Nanosecs: 7}, "boottime": {Secs: 100}}
				if !reflect.DeepEqual(c.TimeOffsets, want) {
					t.Errorf("TimeOffsets = %+v", c.TimeOffsets)
				}
			}},
		{name: "no time ns", mod: func(s *specs.Spec) { s.Linux.TimeOffsets = offs }, wantErr: "linux.timeOffsets: time offsets need a new time namespace"},
		{name: "joined time ns", mod: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace, Path: "/proc/1/ns/time"})
			s.Linux.TimeOffsets = offs
		}, wantErr: "time offsets need a new time namespace"},
		{name: "unknown clock", mod: func(s *specs.Spec) {
			addNS(s, specs.TimeNamespace)
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"realtime": {Secs: 1}}
		}, wantErr: `linux.timeOffsets: unknown clock "realtime"`},
		{name: "nanosecs", mod: func(s *specs.Spec) {
			addNS(s, specs.TimeNamespace)
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Nanosecs: 1e9}}
		}, wantErr: "linux.timeOffsets.boottime: nanosecs 1000000000"},
	})
}

func TestConvertSysctl(t *testing.T) {
	sysctl := func(ns []specs.LinuxNamespaceType, kv ...string) func(s *specs.Spec) {
		return func(s *specs.Spec) {
			addNS(s, ns...)
			s.Linux.Sysctl = map[string]string{}
			for i := 0; i < len(kv); i += 2 {
				s.Linux.Sysctl[kv[i]] = kv[i+1]
			}
		}
	}
	none := []specs.LinuxNamespaceType(nil)
	runCases(t, []convCase{
		{name: "copied", mod: sysctl([]specs.LinuxNamespaceType{specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace},
			"net.ipv4.ip_forward", "1", "net/core/somaxconn", "100", "kernel.shmmax", "4096", "kernel.sem", "1 2 3 4",
			"kernel.msgmax", "8192", "fs.mqueue.msg_max", "10", "kernel.hostname", "h", "kernel.domainname", "d"),
			check: func(t *testing.T, c *libtabox.Config) {
				if len(c.Sysctl) != 8 || c.Sysctl["net/core/somaxconn"] != "100" || c.Sysctl["kernel.sem"] != "1 2 3 4" {
					t.Errorf("Sysctl = %v", c.Sysctl)
				}
			}},
		{name: "empty key", mod: sysctl(none, "", "1"), wantErr: "linux.sysctl: empty key"},
		{name: "net", mod: sysctl(none, "net.ipv4.ip_forward", "1"), wantErr: `linux.sysctl: "net.ipv4.ip_forward" needs a private network namespace`},
		{name: "net slash", mod: sysctl(none, "net/ipv4/ip_forward", "1"), wantErr: `"net/ipv4/ip_forward" needs a private network namespace`},
		{name: "hostname", mod: sysctl(none, "kernel.hostname", "x"), wantErr: `"kernel.hostname" needs a private uts namespace`},
		{name: "domainname", mod: sysctl(none, "kernel.domainname", "x"), wantErr: `"kernel.domainname" needs a private uts namespace`},
		{name: "msg", mod: sysctl(none, "kernel.msgmnb", "1"), wantErr: `"kernel.msgmnb" needs a private ipc namespace`},
		{name: "sem", mod: sysctl(none, "kernel.sem", "1"), wantErr: `"kernel.sem" needs a private ipc namespace`},
		{name: "shm", mod: sysctl(none, "kernel.shm_rmid_forced", "1"), wantErr: `"kernel.shm_rmid_forced" needs a private ipc namespace`},
		{name: "mqueue", mod: sysctl(none, "fs.mqueue.queues_max", "1"), wantErr: `"fs.mqueue.queues_max" needs a private ipc namespace`},
		// The host's sysctls are not the container's to write, whatever
		// its namespaces.
		{name: "host sysctl", mod: sysctl([]specs.LinuxNamespaceType{specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace},
			"kernel.core_pattern", "|/tmp/x"), wantErr: `"kernel.core_pattern" is not in a separate kernel namespace`},
		{name: "vm", mod: sysctl(none, "vm.overcommit_memory", "1"), wantErr: "is not in a separate kernel namespace"},
		{name: "net in other ns", mod: sysctl([]specs.LinuxNamespaceType{specs.IPCNamespace}, "net.core.somaxconn", "1"), wantErr: "needs a private network namespace"},
	})
}

func TestConvertIDMapRanges(t *testing.T) {
	maps := func(m ...specs.LinuxIDMapping) func(s *specs.Spec) {
		return func(s *specs.Spec) {
			userNS(s)
			s.Linux.UIDMappings = m
		}
	}
	var many []specs.LinuxIDMapping
	for i := uint32(0); i < 341; i++ {
		many = append(many, specs.LinuxIDMapping{ContainerID: i, HostID: 100000 + i, Size: 1})
	}
	runCases(t, []convCase{
		{name: "several ranges", mod: maps(specs.LinuxIDMapping{ContainerID: 0, HostID: 1000, Size: 1},
			specs.LinuxIDMapping{ContainerID: 1, HostID: 100000, Size: 65536}),
			check: func(t *testing.T, c *libtabox.Config) {
				want := []libtabox.IDMap{{ContainerID: 0, HostID: 1000, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65536}}
				if !reflect.DeepEqual(c.UIDMappings, want) {
					t.Errorf("UIDMappings = %+v", c.UIDMappings)
				}
			}},
		{name: "adjacent", mod: maps(specs.LinuxIDMapping{ContainerID: 0, HostID: 10, Size: 10},
			specs.LinuxIDMapping{ContainerID: 10, HostID: 0, Size: 10})},
		{name: "container overlap", mod: maps(specs.LinuxIDMapping{ContainerID: 0, HostID: 1000, Size: 10},
			specs.LinuxIDMapping{ContainerID: 9, HostID: 100000, Size: 1}),
			wantErr: "linux.uidMappings[1]: container ids 9-9 overlap those of linux.uidMappings[0]"},
		{name: "host overlap", mod: maps(specs.LinuxIDMapping{ContainerID: 0, HostID: 1000, Size: 1},
			specs.LinuxIDMapping{ContainerID: 1, HostID: 999, Size: 2}),
			wantErr: "linux.uidMappings[1]: host ids 999-1000 overlap those of linux.uidMappings[0]"},
		{name: "too many", mod: maps(many...), wantErr: "linux.uidMappings: 341 ranges, the kernel takes at most 340"},
	})
}
