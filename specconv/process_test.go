package specconv

import (
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/tabox/tabox/libtabox"
)

func TestConvertProcess(t *testing.T) {
	proc := func(f func(p *specs.Process)) func(s *specs.Spec) {
		return func(s *specs.Spec) { f(s.Process) }
	}
	runCases(t, []convCase{
		{name: "nil process", mod: func(s *specs.Spec) { s.Process = nil }, check: func(t *testing.T, c *libtabox.Config) {
			if c.Process != nil {
				t.Errorf("Process = %+v", c.Process)
			}
		}},
		{name: "full", mod: proc(func(p *specs.Process) {
			p.Terminal = true
			p.Args = []string{"/bin/sh", "-c", "true"}
			p.Env = []string{"PATH=/bin", "EMPTY="}
			p.Cwd = "/home/./user/"
			p.User = specs.User{UID: 1000, GID: 100, AdditionalGids: []uint32{5, 6}, Umask: ptr(uint32(0o027))}
			p.NoNewPrivileges = true
			p.ConsoleSize = &specs.Box{Height: 10, Width: 20}
		}), check: func(t *testing.T, c *libtabox.Config) {
			want := &libtabox.Process{
				Terminal:        true,
				ConsoleHeight:   10,
				ConsoleWidth:    20,
				Args:            []string{"/bin/sh", "-c", "true"},
				Env:             []string{"PATH=/bin", "EMPTY="},
				Cwd:             "/home/user",
				UID:             1000,
				GID:             100,
				AdditionalGids:  []uint32{5, 6},
				Umask:           ptr(uint32(0o027)),
				NoNewPrivileges: true,
			}
			if !reflect.DeepEqual(c.Process, want) {
				t.Errorf("Process = %+v\nwant %+v", c.Process, want)
			}
		}},
		{name: "no args", mod: proc(func(p *specs.Process) { p.Args = nil }), wantErr: "process.args must not be empty"},
		{name: "nul arg", mod: proc(func(p *specs.Process) { p.Args = []string{"a\x00b"} }), wantErr: "process.args[0]: "},
		{name: "env without =", mod: proc(func(p *specs.Process) { p.Env = []string{"A=1", "FOO"} }), wantErr: `process.env[1]: "FOO" is not NAME=VALUE`},
		{name: "env without name", mod: proc(func(p *specs.Process) { p.Env = []string{"=x"} }), wantErr: "process.env[0]: "},
		{name: "env nul", mod: proc(func(p *specs.Process) { p.Env = []string{"A=\x00"} }), wantErr: "process.env[0]: "},
		{name: "no cwd", mod: proc(func(p *specs.Process) { p.Cwd = "" }), wantErr: "process.cwd is required"},
		{name: "relative cwd", mod: proc(func(p *specs.Process) { p.Cwd = "home" }), wantErr: `process.cwd "home" is not absolute`},
		{name: "umask too big", mod: proc(func(p *specs.Process) { p.User.Umask = ptr(uint32(0o1777)) }), wantErr: "process.user.umask"},
		{name: "username", mod: proc(func(p *specs.Process) { p.User.Username = "root" }), wantErr: "process.user.username is not supported on Linux"},
		{name: "commandLine", mod: proc(func(p *specs.Process) { p.CommandLine = "cmd" }), wantErr: "process.commandLine is not supported on Linux"},
		{name: "oomScoreAdj", mod: proc(func(p *specs.Process) { p.OOMScoreAdj = ptr(-1000) }), check: func(t *testing.T, c *libtabox.Config) {
			if c.OOMScoreAdj == nil || *c.OOMScoreAdj != -1000 {
				t.Errorf("OOMScoreAdj = %v", c.OOMScoreAdj)
			}
		}},
		{name: "oomScoreAdj high", mod: proc(func(p *specs.Process) { p.OOMScoreAdj = ptr(1001) }), wantErr: "process.oomScoreAdj: 1001 is out of range"},
		{name: "oomScoreAdj low", mod: proc(func(p *specs.Process) { p.OOMScoreAdj = ptr(-1001) }), wantErr: "process.oomScoreAdj: -1001 is out of range"},
	})
}

func TestConvertLSM(t *testing.T) {
	for _, enabled := range []bool{false, true} {
		oldA, oldS := apparmorEnabled, selinuxEnabled
		apparmorEnabled = func() bool { return enabled }
		selinuxEnabled = func() bool { return enabled }
		wantA, wantS := "AppArmor is not enabled on this host", "SELinux is not enabled on this host"
		if enabled {
			runCases(t, []convCase{
				{name: "apparmor", mod: func(s *specs.Spec) { s.Process.ApparmorProfile = "docker-default" }, check: func(t *testing.T, c *libtabox.Config) {
					if c.Process.ApparmorProfile != "docker-default" {
						t.Errorf("ApparmorProfile = %q", c.Process.ApparmorProfile)
					}
				}},
				{name: "selinux", mod: func(s *specs.Spec) { s.Process.SelinuxLabel = "system_u:system_r:container_t:s0" }, check: func(t *testing.T, c *libtabox.Config) {
					if c.Process.SelinuxLabel != "system_u:system_r:container_t:s0" {
						t.Errorf("SelinuxLabel = %q", c.Process.SelinuxLabel)
					}
				}},
				{name: "mountLabel", mod: func(s *specs.Spec) {
					s.Linux.MountLabel = "system_u:object_r:container_file_t:s0"
					s.Mounts = []specs.Mount{
						{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=755"}},
						{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue"},
						{Destination: "/proc", Type: "proc", Source: "proc"},
						{Destination: "/data", Type: "bind", Source: "/tmp", Options: []string{"rbind"}},
					}
				}, check: func(t *testing.T, c *libtabox.Config) {
					const ctx = `context="system_u:object_r:container_file_t:s0"`
					want := []string{"mode=755," + ctx, ctx, "", ""}
					for i, m := range c.Mounts {
						if m.Data != want[i] {
							t.Errorf("mount %s data %q, want %q", m.Destination, m.Data, want[i])
						}
					}
				}},
			})
		} else {
			runCases(t, []convCase{
				{name: "apparmor", mod: func(s *specs.Spec) { s.Process.ApparmorProfile = "docker-default" }, wantErr: "process.apparmorProfile: " + wantA},
				{name: "selinux", mod: func(s *specs.Spec) { s.Process.SelinuxLabel = "system_u:system_r:container_t:s0" }, wantErr: "process.selinuxLabel: " + wantS},
				{name: "mountLabel", mod: func(s *specs.Spec) { s.Linux.MountLabel = "x" }, wantErr: "linux.mountLabel: " + wantS},
			})
		}
		apparmorEnabled, selinuxEnabled = oldA, oldS
	}
	// The real probes must not fail on this host, whatever it runs.
	_ = apparmorEnabled()
	_ = selinuxEnabled()
}

func TestConvertRlimits(t *testing.T) {
	rl := func(r ...specs.POSIXRlimit) func(s *specs.Spec) {
		return func(s *specs.Spec) { s.Process.Rlimits = r }
	}
	all := []string{"RLIMIT_AS", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_FSIZE", "RLIMIT_LOCKS",
		"RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_RSS",
		"RLIMIT_RTPRIO", "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK"}
	var allLimits []specs.POSIXRlimit
	for i, n := range all {
		allLimits = append(allLimits, specs.POSIXRlimit{Type: n, Hard: uint64(i + 10), Soft: uint64(i)})
	}
	runCases(t, []convCase{
		{name: "nofile", mod: rl(specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 512}), check: func(t *testing.T, c *libtabox.Config) {
			want := []libtabox.Rlimit{{Type: unix.RLIMIT_NOFILE, Name: "RLIMIT_NOFILE", Hard: 1024, Soft: 512}}
			if !reflect.DeepEqual(c.Process.Rlimits, want) {
				t.Errorf("Rlimits = %+v", c.Process.Rlimits)
			}
		}},
		{name: "all", mod: rl(allLimits...), check: func(t *testing.T, c *libtabox.Config) {
			seen := map[int]bool{}
			for i, r := range c.Process.Rlimits {
				if r.Name != all[i] || r.Soft != uint64(i) || r.Hard != uint64(i+10) {
					t.Errorf("Rlimits[%d] = %+v", i, r)
				}
				seen[r.Type] = true
			}
			if len(seen) != len(all) {
				t.Errorf("rlimit numbers not distinct: %v", seen)
			}
		}},
		{name: "equal soft and hard", mod: rl(specs.POSIXRlimit{Type: "RLIMIT_CORE", Hard: 0, Soft: 0})},
		{name: "unknown", mod: rl(specs.POSIXRlimit{Type: "RLIMIT_CORE"}, specs.POSIXRlimit{Type: "RLIMIT_CPU"}, specs.POSIXRlimit{Type: "RLIMIT_FOO"}),
			wantErr: `process.rlimits[2]: unknown rlimit type "RLIMIT_FOO"`},
		{name: "lowercase", mod: rl(specs.POSIXRlimit{Type: "rlimit_nofile"}), wantErr: `process.rlimits[0]: unknown rlimit type "rlimit_nofile"`},
		{name: "duplicate", mod: rl(specs.POSIXRlimit{Type: "RLIMIT_CORE"}, specs.POSIXRlimit{Type: "RLIMIT_CORE"}),
			wantErr: `process.rlimits[1]: duplicate rlimit type "RLIMIT_CORE"`},
		{name: "soft above hard", mod: rl(specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Hard: 10, Soft: 11}),
			wantErr: "process.rlimits[0]: RLIMIT_NOFILE soft limit 11 is above hard limit 10"},
	})
}

func TestConvertCapabilities(t *testing.T) {
	caps := func(c *specs.LinuxCapabilities) func(s *specs.Spec) {
		return func(s *specs.Spec) { s.Process.Capabilities = c }
	}
	bad := []string{"CAP_CHOWN", "CAP_FOO"}
	runCases(t, []convCase{
		{name: "all sets", mod: caps(&specs.LinuxCapabilities{
			Bounding:    []string{"CAP_CHOWN", "CAP_SYS_ADMIN"},
			Effective:   []string{"CAP_KILL"},
			Inheritable: []string{"CAP_NET_RAW"},
			Permitted:   []string{"CAP_KILL", "CAP_CHECKPOINT_RESTORE"},
			Ambient:     []string{"CAP_AUDIT_WRITE"},
		}), check: func(t *testing.T, c *libtabox.Config) {
			want := &libtabox.Capabilities{
				Bounding:    []int{0, 21},
				Effective:   []int{5},
				Inheritable: []int{13},
				Permitted:   []int{5, 40},
				Ambient:     []int{29},
			}
			if !reflect.DeepEqual(c.Process.Capabilities, want) {
				t.Errorf("Capabilities = %+v", c.Process.Capabilities)
			}
		}},
		{name: "empty sets", mod: caps(&specs.LinuxCapabilities{}), check: func(t *testing.T, c *libtabox.Config) {
			if c.Process.Capabilities == nil || !reflect.DeepEqual(*c.Process.Capabilities, libtabox.Capabilities{}) {
				t.Errorf("Capabilities = %+v", c.Process.Capabilities)
			}
		}},
		{name: "bounding", mod: caps(&specs.LinuxCapabilities{Bounding: bad}), wantErr: `process.capabilities.bounding[1]: unknown capability "CAP_FOO"`},
		{name: "effective", mod: caps(&specs.LinuxCapabilities{Effective: bad}), wantErr: `process.capabilities.effective[1]: unknown capability "CAP_FOO"`},
		{name: "inheritable", mod: caps(&specs.LinuxCapabilities{Inheritable: bad}), wantErr: `process.capabilities.inheritable[1]: unknown capability "CAP_FOO"`},
		{name: "permitted", mod: caps(&specs.LinuxCapabilities{Permitted: bad}), wantErr: `process.capabilities.permitted[1]: unknown capability "CAP_FOO"`},
		{name: "ambient", mod: caps(&specs.LinuxCapabilities{Ambient: bad}), wantErr: `process.capabilities.ambient[1]: unknown capability "CAP_FOO"`},
	})
}
