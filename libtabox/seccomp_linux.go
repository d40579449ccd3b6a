//go:build linux && cgo

package libtabox

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"unsafe"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// SeccompProgram is a compiled seccomp filter, ready to load.
//
// It is compiled by the runtime (CompileSeccomp) and sent to the container's
// init, which loads it with loadSeccomp: the init never links against or
// calls libseccomp, so loading costs one seccomp(2) call.
type SeccompProgram struct {
	// BPF is the struct sock_filter array as exported by libseccomp, in
	// native byte order.
	BPF []byte `json:"bpf"`
	// Flags are the SECCOMP_FILTER_FLAG_* bits passed to seccomp(2).
	// SECCOMP_FILTER_FLAG_NEW_LISTENER is not among them: loadSeccomp adds
	// it when Notify is set.
	Flags uint `json:"flags"`
	// Notify is set when the filter uses SCMP_ACT_NOTIFY, so that it must be
	// loaded with SECCOMP_FILTER_FLAG_NEW_LISTENER.
	Notify bool `json:"notify,omitempty"`
	// Ignored lists the syscall names that libseccomp does not know; their
	// rules were skipped, as runc does, so that a profile written for a
	// newer kernel still loads. The caller may log them.
	Ignored []string `json:"-"`
}

// sockFilterSize is sizeof(struct sock_filter).
const sockFilterSize = int(unsafe.Sizeof(unix.SockFilter{}))

// maxSeccompErrno is libseccomp's MAX_ERRNO: SCMP_ACT_ERRNO takes a smaller
// value.
const maxSeccompErrno = 4095

// syscallMaxArgs is the number of syscall arguments seccomp can inspect.
const syscallMaxArgs = 6

// handOffSyscall is the syscall the init passes the listener fd to tabox
// with, right after loading a filter with SCMP_ACT_NOTIFY rules (see
// loadSeccompFilter).
const handOffSyscall = "sendmsg"

// seccompFlags maps the runtime-spec flag names to seccomp(2) bits.
var seccompFlags = map[string]uint{
	"SECCOMP_FILTER_FLAG_TSYNC":              unix.SECCOMP_FILTER_FLAG_TSYNC,
	"SECCOMP_FILTER_FLAG_LOG":                unix.SECCOMP_FILTER_FLAG_LOG,
	"SECCOMP_FILTER_FLAG_SPEC_ALLOW":         unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW,
	"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
}

// seccompFlagNames lists every bit loadSeccomp may pass, for error messages.
var seccompFlagNames = []struct {
	bit  uint
	name string
}{
	{unix.SECCOMP_FILTER_FLAG_TSYNC, "SECCOMP_FILTER_FLAG_TSYNC"},
	{unix.SECCOMP_FILTER_FLAG_LOG, "SECCOMP_FILTER_FLAG_LOG"},
	{unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW, "SECCOMP_FILTER_FLAG_SPEC_ALLOW"},
	{unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, "SECCOMP_FILTER_FLAG_NEW_LISTENER"},
	{unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH, "SECCOMP_FILTER_FLAG_TSYNC_ESRCH"},
	{unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"},
}

// seccompFlagString renders flags as "A|B", with unknown bits in hex.
func seccompFlagString(flags uint) string {
	if flags == 0 {
		return "0"
	}
	var names []string
	for _, f := range seccompFlagNames {
		if flags&f.bit != 0 {
			names = append(names, f.name)
			flags &^= f.bit
		}
	}
	if flags != 0 {
		names = append(names, fmt.Sprintf("%#x", flags))
	}
	return strings.Join(names, "|")
}

// scmpAction converts a resolved action to libseccomp's.
func scmpAction(a SeccompAction, errno uint) (libseccomp.ScmpAction, error) {
	switch a {
	case ActKill, ActKillThread:
		// SCMP_ACT_KILL has always meant killing the thread in libseccomp.
		return libseccomp.ActKillThread, nil
	case ActKillProcess:
		return libseccomp.ActKillProcess, nil
	case ActTrap:
		return libseccomp.ActTrap, nil
	case ActErrno:
		// libseccomp refuses errno >= MAX_ERRNO with a bare EINVAL, which
		// the binding reports as "two checks on same syscall argument".
		if errno >= maxSeccompErrno {
			return libseccomp.ActInvalid, fmt.Errorf("%s: errno %d out of range (max %d)", a, errno, maxSeccompErrno-1)
		}
		return libseccomp.ActErrno.SetReturnCode(int16(errno)), nil
	case ActTrace:
		// SetReturnCode keeps only 16 bits: a larger value would silently
		// become another one.
		if errno > 0xffff {
			return libseccomp.ActInvalid, fmt.Errorf("%s: errno %d does not fit in 16 bits", a, errno)
		}
		return libseccomp.ActTrace.SetReturnCode(int16(uint16(errno))), nil
	case ActAllow:
		return libseccomp.ActAllow, nil
	case ActLog:
		return libseccomp.ActLog, nil
	case ActNotify:
		return libseccomp.ActNotify, nil
	}
	return libseccomp.ActInvalid, fmt.Errorf("unknown seccomp action %q", a)
}

// scmpOperator converts a comparison operator to libseccomp's.
func scmpOperator(op SeccompOperator) (libseccomp.ScmpCompareOp, error) {
	switch op {
	case OpNotEqual:
		return libseccomp.CompareNotEqual, nil
	case OpLessThan:
		return libseccomp.CompareLess, nil
	case OpLessEqual:
		return libseccomp.CompareLessOrEqual, nil
	case OpEqualTo:
		return libseccomp.CompareEqual, nil
	case OpGreaterEqual:
		return libseccomp.CompareGreaterEqual, nil
	case OpGreaterThan:
		return libseccomp.CompareGreater, nil
	case OpMaskedEqual:
		return libseccomp.CompareMaskedEqual, nil
	}
	return libseccomp.CompareInvalid, fmt.Errorf("unknown seccomp operator %q", op)
}

// scmpConditions converts a rule's argument conditions.
//
// The runtime-spec and libseccomp agree on operand order: for
// SCMP_CMP_MASKED_EQ, Value is the mask (datum_a) and ValueTwo the value
// the masked argument must equal (datum_b); the other operators ignore
// ValueTwo. The second result reports whether an argument index repeats.
func scmpConditions(args []SeccompArg) ([]libseccomp.ScmpCondition, bool, error) {
	var seen [syscallMaxArgs]bool
	repeated := false
	conds := make([]libseccomp.ScmpCondition, 0, len(args))
	for j, a := range args {
		if a.Index >= syscallMaxArgs {
			return nil, false, fmt.Errorf("arg %d: index %d out of range (max %d)", j, a.Index, syscallMaxArgs-1)
		}
		op, err := scmpOperator(a.Op)
		if err != nil {
			return nil, false, fmt.Errorf("arg %d: %w", j, err)
		}
		c, err := libseccomp.MakeCondition(a.Index, op, a.Value, a.ValueTwo)
		if err != nil {
			return nil, false, fmt.Errorf("arg %d: %w", j, err)
		}
		repeated = repeated || seen[a.Index]
		seen[a.Index] = true
		conds = append(conds, c)
	}
	return conds, repeated, nil
}

// CompileSeccomp compiles s with libseccomp into a BPF program.
//
// Syscall names unknown to libseccomp are skipped and listed in Ignored.
// The flags are checked against the running kernel, so that an unsupported
// one fails the create rather than the container's init.
func CompileSeccomp(s *Seccomp) (*SeccompProgram, error) {
	if s == nil {
		return nil, errors.New("seccomp: nil config")
	}
	defAct, err := scmpAction(s.DefaultAction, s.DefaultErrno)
	if err != nil {
		return nil, fmt.Errorf("seccomp default action: %w", err)
	}
	if defAct == libseccomp.ActNotify {
		// Every syscall of the init would then wait for an agent that only
		// gets the listener fd after the init has sent it: a deadlock.
		return nil, errors.New("seccomp default action: SCMP_ACT_NOTIFY cannot be the default action")
	}

	var flags uint
	for _, name := range s.Flags {
		bit, ok := seccompFlags[name]
		if !ok {
			return nil, fmt.Errorf("seccomp flag %q: unknown flag", name)
		}
		flags |= bit
	}

	filter, err := libseccomp.NewFilter(defAct)
	if err != nil {
		return nil, fmt.Errorf("seccomp: create filter: %w", err)
	}
	defer filter.Release()
	// libseccomp applies its attributes only when it loads a filter itself,
	// which tabox never does; NNP is still cleared so that libseccomp never
	// sets it behind tabox, which manages no_new_privs itself.
	if err := filter.SetNoNewPrivsBit(false); err != nil {
		return nil, fmt.Errorf("seccomp: clear no_new_privs attribute: %w", err)
	}

	for _, name := range s.Architectures {
		arch, err := libseccomp.GetArchFromString(name)
		if err != nil {
			return nil, fmt.Errorf("seccomp architecture %q: %w", name, err)
		}
		// libseccomp-golang already hides EEXIST for the native arch; the
		// check stays in case the binding stops doing so.
		if err := filter.AddArch(arch); err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("seccomp architecture %q: add: %w", name, err)
		}
	}

	p := &SeccompProgram{}
	added := 0
	maxNr := -1
	notifyChecked := false
	for i, rule := range s.Syscalls {
		act, err := scmpAction(rule.Action, rule.Errno)
		if err != nil {
			return nil, fmt.Errorf("seccomp rule %d: %w", i, err)
		}
		if act == libseccomp.ActNotify && !notifyChecked {
			if err := checkNotifySupport(); err != nil {
				return nil, fmt.Errorf("seccomp rule %d: %w", i, err)
			}
			notifyChecked = true
		}
		conds, repeated, err := scmpConditions(rule.Args)
		if err != nil {
			return nil, fmt.Errorf("seccomp rule %d: %w", i, err)
		}
		if act == defAct {
			// libseccomp refuses such rules (EACCES); they change nothing.
			continue
		}
		for _, name := range rule.Names {
			if name == "" {
				return nil, fmt.Errorf("seccomp rule %d: empty syscall name", i)
			}
			if act == libseccomp.ActNotify && name == handOffSyscall {
				// The init hands the listener fd over with it: notified,
				// it would wait for an agent that never gets the fd.
				return nil, fmt.Errorf("seccomp rule %d: SCMP_ACT_NOTIFY cannot be used for %s, which tabox needs to pass the listener fd on", i, name)
			}
			nr, err := libseccomp.GetSyscallFromName(name)
			if err != nil {
				p.Ignored = appendUnique(p.Ignored, name)
				continue
			}
			if int(nr) > maxNr {
				maxNr = int(nr)
			}
			switch {
			case len(conds) == 0:
				err = filter.AddRule(nr, act)
			case repeated:
				// libseccomp cannot AND two comparisons of one argument
				// in a rule, so like runc, each condition becomes a rule
				// of its own: the conditions are ORed.
				for _, c := range conds {
					if err = filter.AddRuleConditional(nr, act, []libseccomp.ScmpCondition{c}); err != nil {
						break
					}
				}
			default:
				// Not "exact", so that libseccomp may rewrite the rule for
				// the other architectures (e.g. socketcall on x86).
				err = filter.AddRuleConditional(nr, act, conds)
			}
			if err != nil {
				return nil, fmt.Errorf("seccomp rule %d (syscall %q): add rule: %w", i, name, err)
			}
			added++
			if act == libseccomp.ActNotify {
				p.Notify = true
			}
		}
	}

	// The binary tree makes long filters cheaper to run: O(log n) per
	// syscall instead of a linear scan. libseccomp <= 2.5.4 mishandles it
	// on a filter with few or no rules, hence the threshold (as runc).
	if added > 32 {
		if err := filter.SetOptimize(2); err != nil && !isVersionError(err) {
			return nil, fmt.Errorf("seccomp: set binary tree optimization: %w", err)
		}
	}

	if !p.Notify {
		// The kernel refuses WAIT_KILLABLE_RECV without a listener; it has
		// no meaning without SCMP_ACT_NOTIFY rules.
		flags &^= unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
	} else if flags&unix.SECCOMP_FILTER_FLAG_TSYNC != 0 {
		// With NEW_LISTENER the return value is the fd, so a TSYNC failure
		// can only be reported as ESRCH; the kernel refuses the pair
		// otherwise.
		flags |= unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH
	}
	p.Flags = flags
	if err := checkSeccompFlags(p.loadFlags()); err != nil {
		return nil, err
	}

	if p.BPF, err = exportBPF(filter); err != nil {
		return nil, fmt.Errorf("seccomp: export BPF: %w", err)
	}
	if len(p.BPF) == 0 || len(p.BPF)%sockFilterSize != 0 {
		return nil, fmt.Errorf("seccomp: export BPF: unexpected size %d", len(p.BPF))
	}
	if defAct != libseccomp.ActAllow && defAct != libseccomp.ActLog && maxNr >= 0 {
		p.BPF = append(enosysStub(uint32(maxNr)), p.BPF...)
	}
	if n := len(p.BPF) / sockFilterSize; n > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("seccomp: filter has %d instructions, the kernel accepts at most %d", n, unix.BPF_MAXINSNS)
	}
	return p, nil
}

// checkNotifySupport says in so many words what libseccomp would report
// as a bare error when it or the kernel lacks user notification.
func checkNotifySupport() error {
	if major, minor, _ := libseccomp.GetLibraryVersion(); major < 2 || major == 2 && minor < 5 {
		return fmt.Errorf("SCMP_ACT_NOTIFY needs libseccomp 2.5.0 or later, tabox runs with %s", SeccompVersion())
	}
	if !SeccompNotifySupported() {
		return errors.New("SCMP_ACT_NOTIFY: the running kernel has no seccomp user notification (Linux 5.0 or later)")
	}
	return nil
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

func isVersionError(err error) bool {
	var v *libseccomp.VersionError
	return errors.As(err, &v)
}

// exportBPF returns the filter's BPF. ExportBPFMem needs libseccomp 2.6;
// older versions only write to an fd, and a memfd is used rather than a
// pipe, which would deadlock once the program outgrows the pipe buffer.
func exportBPF(filter *libseccomp.ScmpFilter) ([]byte, error) {
	if major, minor, _ := libseccomp.GetLibraryVersion(); major > 2 || major == 2 && minor >= 6 {
		return filter.ExportBPFMem()
	}
	fd, err := unix.MemfdCreate("tabox-seccomp", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "tabox-seccomp")
	defer f.Close()
	if err := filter.ExportBPF(f); err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, st.Size())
	if _, err := f.ReadAt(buf, 0); err != nil {
		return nil, fmt.Errorf("read back: %w", err)
	}
	return buf, nil
}

// loadFlags are the flags given to seccomp(2).
func (p *SeccompProgram) loadFlags() uint {
	if p.Notify {
		return p.Flags | unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
	}
	return p.Flags
}

// checkSeccompFlags asks the kernel whether it accepts flags, the way
// libseccomp does: with a NULL program, the kernel validates the flags
// first (EINVAL) and then fails to copy the program (EFAULT), installing
// nothing.
func checkSeccompFlags(flags uint) error {
	if flags == 0 {
		return nil
	}
	probe := func(f uint) unix.Errno {
		_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(f), 0)
		return errno
	}
	if probe(flags) != unix.EINVAL {
		// EFAULT means accepted; anything else (e.g. the runtime itself
		// runs under a filter denying seccomp) tells nothing, so the load
		// will decide.
		return nil
	}
	var bad []string
	for _, f := range seccompFlagNames {
		if flags&f.bit != 0 && probe(f.bit) == unix.EINVAL {
			bad = append(bad, f.name)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("seccomp flags %s: not supported by the running kernel", strings.Join(bad, ", "))
	}
	return fmt.Errorf("seccomp flags %s: combination not supported by the running kernel", seccompFlagString(flags))
}

// loadSeccomp installs p on the calling thread's process (with TSYNC if
// requested) and returns the notify fd (-1 when none).
//
// The caller must have set no_new_privs or hold CAP_SYS_ADMIN. Without
// TSYNC only the calling thread is filtered, and the exec must happen on
// that thread for the filter to reach the container's process: loadSeccomp
// therefore locks the calling goroutine to its thread and never unlocks it.
// The notify fd is close-on-exec.
func loadSeccomp(p *SeccompProgram) (notifyFd int, err error) {
	if p == nil {
		return -1, errors.New("seccomp: load: nil program")
	}
	n := len(p.BPF) / sockFilterSize
	if n == 0 || len(p.BPF)%sockFilterSize != 0 || n > unix.BPF_MAXINSNS {
		return -1, fmt.Errorf("seccomp: load: invalid program of %d bytes", len(p.BPF))
	}
	flags := p.loadFlags()
	prog := unix.SockFprog{
		Len:    uint16(n),
		Filter: (*unix.SockFilter)(unsafe.Pointer(&p.BPF[0])),
	}

	runtime.LockOSThread()
	// Raw: seccomp(2) does not block, and on the way back from a scheduled
	// syscall the Go runtime may itself make syscalls (futex), which the
	// new filter could send to an agent that has no listener fd yet.
	r, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(flags), uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(p)
	switch {
	case errno == unix.EINVAL:
		return -1, fmt.Errorf("seccomp: load with flags %s: %w (a flag may not be supported by this kernel)", seccompFlagString(flags), errno)
	case errno == unix.EACCES:
		return -1, fmt.Errorf("seccomp: load: %w (neither no_new_privs nor CAP_SYS_ADMIN)", errno)
	case errno == unix.ESRCH && flags&unix.SECCOMP_FILTER_FLAG_TSYNC != 0:
		return -1, fmt.Errorf("seccomp: load: %w (a thread could not be synchronized)", errno)
	case errno != 0:
		return -1, fmt.Errorf("seccomp: load with flags %s: %w", seccompFlagString(flags), errno)
	}
	if p.Notify {
		return int(r), nil
	}
	if r != 0 {
		// Without NEW_LISTENER, TSYNC reports the thread it could not
		// synchronize as a positive return value.
		return -1, fmt.Errorf("seccomp: load: thread %d could not be synchronized", r)
	}
	return -1, nil
}
