package specconv

import (
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/tabox/tabox/libtabox"
)

func TestConvertSeccomp(t *testing.T) {
	sec := func(f func(s *specs.LinuxSeccomp)) func(s *specs.Spec) {
		return func(s *specs.Spec) {
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}
			f(s.Linux.Seccomp)
		}
	}
	rule := func(r specs.LinuxSyscall) func(s *specs.LinuxSeccomp) {
		return func(s *specs.LinuxSeccomp) {
			s.Syscalls = []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow}, r}
		}
	}
	defaults := func(act specs.LinuxSeccompAction, ret *uint, want uint) convCase {
		return convCase{name: "default " + string(act), mod: sec(func(s *specs.LinuxSeccomp) { s.DefaultAction = act; s.DefaultErrnoRet = ret }),
			check: func(t *testing.T, c *libtabox.Config) {
				if string(c.Seccomp.DefaultAction) != string(act) || c.Seccomp.DefaultErrno != want {
					t.Errorf("default = %s/%d, want %s/%d", c.Seccomp.DefaultAction, c.Seccomp.DefaultErrno, act, want)
				}
			}}
	}
	runCases(t, []convCase{
		{name: "nil", check: func(t *testing.T, c *libtabox.Config) {
			if c.Seccomp != nil {
				t.Error("Seccomp set")
			}
		}},
		{name: "full", mod: sec(func(s *specs.LinuxSeccomp) {
			s.DefaultAction = specs.ActErrno
			s.DefaultErrnoRet = ptr(uint(38))
			s.Architectures = []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
			s.Flags = []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC", specs.LinuxSeccompFlagLog,
				specs.LinuxSeccompFlagSpecAllow, specs.LinuxSeccompFlagWaitKillableRecv}
			s.ListenerPath = "/run/seccomp.sock"
			s.ListenerMetadata = "meta"
			s.Syscalls = []specs.LinuxSyscall{
				{Names: []string{"read", "write"}, Action: specs.ActAllow},
				{Names: []string{"mkdir"}, Action: specs.ActErrno},
				{Names: []string{"rmdir"}, Action: specs.ActErrno, ErrnoRet: ptr(uint(13))},
				{Names: []string{"ptrace"}, Action: specs.ActTrace},
				{Names: []string{"mount"}, Action: specs.ActLog},
				{Names: []string{"kill"}, Action: specs.ActKillProcess, ErrnoRet: ptr(uint(5))},
				{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
					{Index: 0, Value: 0, Op: specs.OpEqualTo}, {Index: 5, Value: 0xff, ValueTwo: 8, Op: specs.OpMaskedEqual}}},
			}
		}), check: func(t *testing.T, c *libtabox.Config) {
			want := &libtabox.Seccomp{
				DefaultAction:    libtabox.ActErrno,
				DefaultErrno:     38,
				Architectures:    []string{"amd64", "x86", "x32"},
				Flags:            []string{"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"},
				ListenerPath:     "/run/seccomp.sock",
				ListenerMetadata: "meta",
				Syscalls: []libtabox.SyscallRule{
					{Names: []string{"read", "write"}, Action: libtabox.ActAllow},
					{Names: []string{"mkdir"}, Action: libtabox.ActErrno, Errno: 1},
					{Names: []string{"rmdir"}, Action: libtabox.ActErrno, Errno: 13},
					{Names: []string{"ptrace"}, Action: libtabox.ActTrace, Errno: 1},
					{Names: []string{"mount"}, Action: libtabox.ActLog},
					{Names: []string{"kill"}, Action: libtabox.ActKillProcess},
					{Names: []string{"personality"}, Action: libtabox.ActAllow, Args: []libtabox.SeccompArg{
						{Index: 0, Value: 0, Op: libtabox.OpEqualTo}, {Index: 5, Value: 0xff, ValueTwo: 8, Op: libtabox.OpMaskedEqual}}},
				},
			}
			if !reflect.DeepEqual(c.Seccomp, want) {
				t.Errorf("Seccomp = %+v\nwant %+v", c.Seccomp, want)
			}
		}},
		defaults(specs.ActErrno, nil, 1),
		defaults(specs.ActTrace, nil, 1),
		defaults(specs.ActTrace, ptr(uint(0)), 0),
		defaults(specs.ActKill, nil, 0),
		defaults(specs.ActKillThread, nil, 0),
		defaults(specs.ActTrap, nil, 0),
		defaults(specs.ActLog, ptr(uint(5)), 0),
		{name: "default missing", mod: sec(func(s *specs.LinuxSeccomp) { s.DefaultAction = "" }), wantErr: "linux.seccomp.defaultAction is required"},
		{name: "default unknown", mod: sec(func(s *specs.LinuxSeccomp) { s.DefaultAction = "SCMP_ACT_FOO" }), wantErr: `linux.seccomp.defaultAction: unknown action "SCMP_ACT_FOO"`},
		{name: "default notify", mod: sec(func(s *specs.LinuxSeccomp) { s.DefaultAction = specs.ActNotify; s.ListenerPath = "/x" }), wantErr: "cannot be the default action"},
		{name: "default errno too big", mod: sec(func(s *specs.LinuxSeccomp) { s.DefaultAction = specs.ActErrno; s.DefaultErrnoRet = ptr(uint(1 << 16)) }),
			wantErr: "linux.seccomp.defaultErrnoRet: 65536 does not fit"},
		{name: "arches", mod: sec(func(s *specs.LinuxSeccomp) {
			s.Architectures = []specs.Arch{specs.ArchARM, specs.ArchAARCH64, specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32,
				specs.ArchMIPSEL, specs.ArchMIPSEL64, specs.ArchMIPSEL64N32, specs.ArchPPC, specs.ArchPPC64, specs.ArchPPC64LE,
				specs.ArchS390, specs.ArchS390X, specs.ArchPARISC, specs.ArchPARISC64, specs.ArchRISCV64, specs.ArchLOONGARCH64,
				specs.ArchM68K, specs.ArchSH, specs.ArchSHEB}
		}), check: func(t *testing.T, c *libtabox.Config) {
			want := []string{"arm", "arm64", "mips", "mips64", "mips64n32", "mipsel", "mipsel64", "mipsel64n32", "ppc", "ppc64",
				"ppc64le", "s390", "s390x", "parisc", "parisc64", "riscv64", "loong64", "m68k", "sh", "sheb"}
			if !reflect.DeepEqual(c.Seccomp.Architectures, want) {
				t.Errorf("Architectures = %v", c.Seccomp.Architectures)
			}
		}},
		{name: "arch unknown", mod: sec(func(s *specs.LinuxSeccomp) { s.Architectures = []specs.Arch{specs.ArchX86, "SCMP_ARCH_VAX"} }),
			wantErr: `linux.seccomp.architectures[1]: unknown architecture "SCMP_ARCH_VAX"`},
		{name: "flag unknown", mod: sec(func(s *specs.LinuxSeccomp) { s.Flags = []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_NEW_LISTENER"} }),
			wantErr: `linux.seccomp.flags[0]: unknown flag "SECCOMP_FILTER_FLAG_NEW_LISTENER"`},
		{name: "rule no names", mod: sec(rule(specs.LinuxSyscall{Action: specs.ActAllow})), wantErr: "linux.seccomp.syscalls[1]: names must not be empty"},
		{name: "rule empty name", mod: sec(rule(specs.LinuxSyscall{Names: []string{"read", ""}, Action: specs.ActAllow})), wantErr: "linux.seccomp.syscalls[1]: names[1] is empty"},
		{name: "rule unknown action", mod: sec(rule(specs.LinuxSyscall{Names: []string{"read"}, Action: "SCMP_ACT_BAR"})),
			wantErr: `linux.seccomp.syscalls[1]: unknown action "SCMP_ACT_BAR"`},
		{name: "rule errno too big", mod: sec(rule(specs.LinuxSyscall{Names: []string{"read"}, Action: specs.ActErrno, ErrnoRet: ptr(uint(70000))})),
			wantErr: "linux.seccomp.syscalls[1]: errnoRet: 70000 does not fit"},
		{name: "arg index", mod: sec(rule(specs.LinuxSyscall{Names: []string{"read"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}})), wantErr: "linux.seccomp.syscalls[1]: args[0]: index 6 is not below 6"},
		{name: "arg operator", mod: sec(rule(specs.LinuxSyscall{Names: []string{"read"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 1, Op: "SCMP_CMP_XX"}}})), wantErr: `linux.seccomp.syscalls[1]: args[0]: unknown operator "SCMP_CMP_XX"`},
		{name: "arg operator empty", mod: sec(rule(specs.LinuxSyscall{Names: []string{"read"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 1}}})), wantErr: `unknown operator ""`},
		{name: "all operators", mod: sec(rule(specs.LinuxSyscall{Names: []string{"read"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Op: specs.OpNotEqual}, {Op: specs.OpLessThan}, {Op: specs.OpLessEqual},
				{Op: specs.OpEqualTo}, {Op: specs.OpGreaterEqual}, {Op: specs.OpGreaterThan}, {Op: specs.OpMaskedEqual}}})),
			check: func(t *testing.T, c *libtabox.Config) {
				var got []libtabox.SeccompOperator
				for _, a := range c.Seccomp.Syscalls[1].Args {
					got = append(got, a.Op)
				}
				want := []libtabox.SeccompOperator{libtabox.OpNotEqual, libtabox.OpLessThan, libtabox.OpLessEqual,
					libtabox.OpEqualTo, libtabox.OpGreaterEqual, libtabox.OpGreaterThan, libtabox.OpMaskedEqual}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("operators = %v", got)
				}
			}},
		{name: "notify", mod: sec(func(s *specs.LinuxSeccomp) {
			rule(specs.LinuxSyscall{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActNotify})(s)
			s.ListenerPath = "/run/agent.sock"
			s.ListenerMetadata = "opaque;data"
		}), check: func(t *testing.T, c *libtabox.Config) {
			s := c.Seccomp
			if s.ListenerPath != "/run/agent.sock" || s.ListenerMetadata != "opaque;data" {
				t.Errorf("listener %q metadata %q", s.ListenerPath, s.ListenerMetadata)
			}
			want := libtabox.SyscallRule{Names: []string{"mkdir", "mkdirat"}, Action: libtabox.ActNotify}
			if len(s.Syscalls) != 2 || !reflect.DeepEqual(s.Syscalls[1], want) {
				t.Errorf("Syscalls = %+v, want the notify rule %+v second", s.Syscalls, want)
			}
		}},
		{name: "notify errnoRet ignored", mod: sec(func(s *specs.LinuxSeccomp) {
			rule(specs.LinuxSyscall{Names: []string{"mkdir"}, Action: specs.ActNotify, ErrnoRet: ptr(uint(5))})(s)
			s.ListenerPath = "/run/agent.sock"
		}), check: func(t *testing.T, c *libtabox.Config) {
			if r := c.Seccomp.Syscalls[1]; r.Action != libtabox.ActNotify || r.Errno != 0 {
				t.Errorf("rule = %+v, want NOTIFY without errno", r)
			}
		}},
		{name: "notify without listener", mod: sec(rule(specs.LinuxSyscall{Names: []string{"mount"}, Action: specs.ActNotify})),
			wantErr: "linux.seccomp.syscalls[1]: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath"},
		{name: "notify relative listener", mod: sec(func(s *specs.LinuxSeccomp) {
			rule(specs.LinuxSyscall{Names: []string{"mount"}, Action: specs.ActNotify})(s)
			s.ListenerPath = "run/agent.sock"
		}), wantErr: `linux.seccomp.listenerPath "run/agent.sock" is not absolute`},
		{name: "listener without notify", mod: sec(func(s *specs.LinuxSeccomp) { s.ListenerPath = "/run/agent.sock" }),
			check: func(t *testing.T, c *libtabox.Config) {
				// Ignored, as the runtime-spec says, but kept.
				if c.Seccomp.ListenerPath != "/run/agent.sock" {
					t.Errorf("ListenerPath = %q", c.Seccomp.ListenerPath)
				}
			}},
		{name: "listener relative", mod: sec(func(s *specs.LinuxSeccomp) { s.ListenerPath = "seccomp.sock" }),
			wantErr: `linux.seccomp.listenerPath "seccomp.sock" is not absolute`},
		{name: "metadata without listener", mod: sec(func(s *specs.LinuxSeccomp) { s.ListenerMetadata = "x" }),
			wantErr: "linux.seccomp.listenerMetadata is set without linux.seccomp.listenerPath"},
	})
}
