package specconv

import (
	"errors"
	"fmt"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/tabox/tabox/libtabox"
)

var seccompActions = map[specs.LinuxSeccompAction]libtabox.SeccompAction{
	specs.ActKill:        libtabox.ActKill,
	specs.ActKillProcess: libtabox.ActKillProcess,
	specs.ActKillThread:  libtabox.ActKillThread,
	specs.ActTrap:        libtabox.ActTrap,
	specs.ActErrno:       libtabox.ActErrno,
	specs.ActTrace:       libtabox.ActTrace,
	specs.ActAllow:       libtabox.ActAllow,
	specs.ActLog:         libtabox.ActLog,
	specs.ActNotify:      libtabox.ActNotify,
}

var seccompOperators = map[specs.LinuxSeccompOperator]libtabox.SeccompOperator{
	specs.OpNotEqual:     libtabox.OpNotEqual,
	specs.OpLessThan:     libtabox.OpLessThan,
	specs.OpLessEqual:    libtabox.OpLessEqual,
	specs.OpEqualTo:      libtabox.OpEqualTo,
	specs.OpGreaterEqual: libtabox.OpGreaterEqual,
	specs.OpGreaterThan:  libtabox.OpGreaterThan,
	specs.OpMaskedEqual:  libtabox.OpMaskedEqual,
}

// seccompArches maps the spec's architectures to libseccomp's names.
var seccompArches = map[specs.Arch]string{
	specs.ArchX86:         "x86",
	specs.ArchX86_64:      "amd64",
	specs.ArchX32:         "x32",
	specs.ArchARM:         "arm",
	specs.ArchAARCH64:     "arm64",
	specs.ArchMIPS:        "mips",
	specs.ArchMIPS64:      "mips64",
	specs.ArchMIPS64N32:   "mips64n32",
	specs.ArchMIPSEL:      "mipsel",
	specs.ArchMIPSEL64:    "mipsel64",
	specs.ArchMIPSEL64N32: "mipsel64n32",
	specs.ArchPPC:         "ppc",
	specs.ArchPPC64:       "ppc64",
	specs.ArchPPC64LE:     "ppc64le",
	specs.ArchS390:        "s390",
	specs.ArchS390X:       "s390x",
	specs.ArchPARISC:      "parisc",
	specs.ArchPARISC64:    "parisc64",
	specs.ArchRISCV64:     "riscv64",
	specs.ArchLOONGARCH64: "loong64",
	specs.ArchM68K:        "m68k",
	specs.ArchSH:          "sh",
	specs.ArchSHEB:        "sheb",
}

var seccompFlags = map[specs.LinuxSeccompFlag]bool{
	"SECCOMP_FILTER_FLAG_TSYNC":            true,
	specs.LinuxSeccompFlagLog:              true,
	specs.LinuxSeccompFlagSpecAllow:        true,
	specs.LinuxSeccompFlagWaitKillableRecv: true,
}

// seccompArgs is the number of syscall arguments a filter can look at.
const seccompArgs = 6

// defaultErrno is what ERRNO and TRACE return when the config names no
// errno, as with runc.
const defaultErrno = 1 // EPERM

// maxErrno is the largest value the 16-bit SECCOMP_RET_DATA can carry.
const maxErrno = 1<<16 - 1

func convertSeccomp(in *specs.LinuxSeccomp) (*libtabox.Seccomp, error) {
	if in == nil {
		return nil, nil
	}
	if in.DefaultAction == "" {
		return nil, errors.New("linux.seccomp.defaultAction is required")
	}
	def, ok := seccompActions[in.DefaultAction]
	if !ok {
		return nil, fmt.Errorf("linux.seccomp.defaultAction: unknown action %q", in.DefaultAction)
	}
	if def == libtabox.ActNotify {
		// Every syscall of the init would wait for the agent, including
		// the sendmsg that hands the agent its listener fd: a deadlock.
		return nil, errors.New("linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action")
	}
	out := &libtabox.Seccomp{
		DefaultAction:    def,
		ListenerPath:     in.ListenerPath,
		ListenerMetadata: in.ListenerMetadata,
	}
	var err error
	if out.DefaultErrno, err = errnoFor(def, in.DefaultErrnoRet); err != nil {
		return nil, fmt.Errorf("linux.seccomp.defaultErrnoRet: %w", err)
	}
	for i, a := range in.Architectures {
		name, ok := seccompArches[a]
		if !ok {
			return nil, fmt.Errorf("linux.seccomp.architectures[%d]: unknown architecture %q", i, a)
		}
		out.Architectures = append(out.Architectures, name)
	}
	for i, f := range in.Flags {
		if !seccompFlags[f] {
			return nil, fmt.Errorf("linux.seccomp.flags[%d]: unknown flag %q", i, f)
		}
		out.Flags = append(out.Flags, string(f))
	}
	notify := -1
	for i, s := range in.Syscalls {
		rule, err := convertSyscall(s)
		if err != nil {
			return nil, fmt.Errorf("linux.seccomp.syscalls[%d]: %w", i, err)
		}
		if notify < 0 && rule.Action == libtabox.ActNotify {
			notify = i
		}
		out.Syscalls = append(out.Syscalls, rule)
	}
	if err := checkListener(in, notify); err != nil {
		return nil, err
	}
	return out, nil
}

// checkListener validates listenerPath and listenerMetadata; notify is the
// index of the first SCMP_ACT_NOTIFY rule, or -1.
func checkListener(in *specs.LinuxSeccomp, notify int) error {
	if in.ListenerPath != "" && !filepath.IsAbs(in.ListenerPath) {
		return fmt.Errorf("linux.seccomp.listenerPath %q is not absolute", in.ListenerPath)
	}
	// The runtime-spec: listenerMetadata "MUST NOT be set if listenerPath
	// is not set".
	if in.ListenerMetadata != "" && in.ListenerPath == "" {
		return errors.New("linux.seccomp.listenerMetadata is set without linux.seccomp.listenerPath")
	}
	// Without an agent to hand the listener fd to, every notified syscall
	// would fail with ENOSYS once tabox closes it: a profile that silently
	// does something else than it says.
	if notify >= 0 && in.ListenerPath == "" {
		return fmt.Errorf("linux.seccomp.syscalls[%d]: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath (the seccomp agent's socket)", notify)
	}
	return nil
}

func convertSyscall(s specs.LinuxSyscall) (libtabox.SyscallRule, error) {
	if len(s.Names) == 0 {
		return libtabox.SyscallRule{}, errors.New("names must not be empty")
	}
	for i, n := range s.Names {
		if n == "" {
			return libtabox.SyscallRule{}, fmt.Errorf("names[%d] is empty", i)
		}
	}
	act, ok := seccompActions[s.Action]
	if !ok {
		return libtabox.SyscallRule{}, fmt.Errorf("unknown action %q", s.Action)
	}
	rule := libtabox.SyscallRule{Names: append([]string(nil), s.Names...), Action: act}
	var err error
	if rule.Errno, err = errnoFor(act, s.ErrnoRet); err != nil {
		return libtabox.SyscallRule{}, fmt.Errorf("errnoRet: %w", err)
	}
	for i, a := range s.Args {
		if a.Index >= seccompArgs {
			return libtabox.SyscallRule{}, fmt.Errorf("args[%d]: index %d is not below %d", i, a.Index, seccompArgs)
		}
		op, ok := seccompOperators[a.Op]
		if !ok {
			return libtabox.SyscallRule{}, fmt.Errorf("args[%d]: unknown operator %q", i, a.Op)
		}
		rule.Args = append(rule.Args, libtabox.SeccompArg{Index: a.Index, Value: a.Value, ValueTwo: a.ValueTwo, Op: op})
	}
	return rule, nil
}

// errnoFor resolves the errno of an action; only ERRNO and TRACE carry
// one, and a value given for another action is ignored as runc does.
func errnoFor(act libtabox.SeccompAction, ret *uint) (uint, error) {
	if act != libtabox.ActErrno && act != libtabox.ActTrace {
		return 0, nil
	}
	if ret == nil {
		return defaultErrno, nil
	}
	if *ret > maxErrno {
		return 0, fmt.Errorf("%d does not fit in 16 bits", *ret)
	}
	return *ret, nil
}
