//go:build linux && cgo

package libtabox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// instructions views a program as the kernel will.
func instructions(t testing.TB, p *SeccompProgram) []unix.SockFilter {
	t.Helper()
	if len(p.BPF) == 0 || len(p.BPF)%sockFilterSize != 0 {
		t.Fatalf("BPF size %d is not a multiple of %d", len(p.BPF), sockFilterSize)
	}
	return unsafe.Slice((*unix.SockFilter)(unsafe.Pointer(&p.BPF[0])), len(p.BPF)/sockFilterSize)
}

// hasRet reports whether the program can return k.
func hasRet(ins []unix.SockFilter, k uint32) bool {
	for _, in := range ins {
		if in.Code == unix.BPF_RET|unix.BPF_K && in.K == k {
			return true
		}
	}
	return false
}

// hasJump reports whether some conditional jump compares with k.
func hasJump(ins []unix.SockFilter, k uint32) bool {
	for _, in := range ins {
		if in.Code&0x07 == unix.BPF_JMP && in.Code&0xf0 != unix.BPF_JA && in.K == k {
			return true
		}
	}
	return false
}

func TestSeccompCompileActions(t *testing.T) {
	tests := []struct {
		action SeccompAction
		errno  uint
		ret    uint32
	}{
		{ActKill, 0, unix.SECCOMP_RET_KILL_THREAD},
		{ActKillThread, 0, unix.SECCOMP_RET_KILL_THREAD},
		{ActKillProcess, 0, unix.SECCOMP_RET_KILL_PROCESS},
		{ActTrap, 0, unix.SECCOMP_RET_TRAP},
		{ActErrno, 38, unix.SECCOMP_RET_ERRNO | 38},
		{ActErrno, 4094, unix.SECCOMP_RET_ERRNO | 4094},
		{ActTrace, 7, unix.SECCOMP_RET_TRACE | 7},
		{ActTrace, 0xffff, unix.SECCOMP_RET_TRACE | 0xffff},
		{ActLog, 0, unix.SECCOMP_RET_LOG},
		{ActNotify, 0, unix.SECCOMP_RET_USER_NOTIF},
		{ActAllow, 0, unix.SECCOMP_RET_ALLOW},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.action, tt.errno), func(t *testing.T) {
			// Default and rule must differ, or the rule is dropped.
			def, defRet := ActAllow, uint32(unix.SECCOMP_RET_ALLOW)
			if tt.action == ActAllow {
				def, defRet = ActErrno, unix.SECCOMP_RET_ERRNO|1
			}
			p, err := CompileSeccomp(&Seccomp{
				DefaultAction: def,
				DefaultErrno:  1,
				Syscalls:      []SyscallRule{{Names: []string{"getpid"}, Action: tt.action, Errno: tt.errno}},
			})
			if err != nil {
				t.Fatal(err)
			}
			ins := instructions(t, p)
			if !hasRet(ins, tt.ret) {
				t.Errorf("no RET %#x in program", tt.ret)
			}
			if !hasRet(ins, defRet) {
				t.Errorf("no default RET %#x in program", defRet)
			}
			if p.Notify != (tt.action == ActNotify) {
				t.Errorf("Notify = %v", p.Notify)
			}
		})
	}
}

func TestSeccompCompileDefaultAction(t *testing.T) {
	for _, tt := range []struct {
		action SeccompAction
		ret    uint32
	}{
		{ActErrno, unix.SECCOMP_RET_ERRNO | 13},
		{ActTrace, unix.SECCOMP_RET_TRACE | 13},
		{ActKillProcess, unix.SECCOMP_RET_KILL_PROCESS},
		{ActLog, unix.SECCOMP_RET_LOG},
	} {
		p, err := CompileSeccomp(&Seccomp{DefaultAction: tt.action, DefaultErrno: 13})
		if err != nil {
			t.Fatalf("%s: %v", tt.action, err)
		}
		if !hasRet(instructions(t, p), tt.ret) {
			t.Errorf("%s: no RET %#x in program", tt.action, tt.ret)
		}
	}
}

func TestSeccompCompileOperators(t *testing.T) {
	const v = 0x1234567
	for _, op := range []SeccompOperator{OpNotEqual, OpLessThan, OpLessEqual, OpEqualTo, OpGreaterEqual, OpGreaterThan} {
		t.Run(string(op), func(t *testing.T) {
			p, err := CompileSeccomp(&Seccomp{
				DefaultAction: ActAllow,
				Syscalls: []SyscallRule{{
					Names: []string{"getpid"}, Action: ActErrno, Errno: 1,
					Args: []SeccompArg{{Index: 1, Value: v, Op: op}},
				}},
			})
			if err != nil {
				t.Fatal(err)
			}
			if !hasJump(instructions(t, p), v) {
				t.Errorf("no comparison with %#x", v)
			}
		})
	}

	t.Run(string(OpMaskedEqual), func(t *testing.T) {
		// value is the mask, valueTwo the datum: expect "A &= mask; A == datum".
		const mask, datum = 0xf0f0, 0x5050
		p, err := CompileSeccomp(&Seccomp{
			DefaultAction: ActAllow,
			Syscalls: []SyscallRule{{
				Names: []string{"getpid"}, Action: ActErrno, Errno: 1,
				Args: []SeccompArg{{Index: 0, Value: mask, ValueTwo: datum, Op: OpMaskedEqual}},
			}},
		})
		if err != nil {
			t.Fatal(err)
		}
		ins := instructions(t, p)
		found := false
		for i := 0; i+1 < len(ins); i++ {
			if ins[i].Code == unix.BPF_ALU|unix.BPF_AND|unix.BPF_K && ins[i].K == mask &&
				ins[i+1].Code == unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K && ins[i+1].K == datum {
				found = true
			}
		}
		if !found {
			t.Error("no AND mask / JEQ datum sequence in program")
		}
	})
}

func TestSeccompCompileErrors(t *testing.T) {
	rule := func(r SyscallRule) *Seccomp {
		return &Seccomp{DefaultAction: ActAllow, Syscalls: []SyscallRule{{Names: []string{"getpid"}, Action: ActLog}, r}}
	}
	tests := []struct {
		name string
		s    *Seccomp
		want string
	}{
		{"nil", nil, "nil config"},
		{"default action", &Seccomp{DefaultAction: "SCMP_ACT_BOGUS"}, `default action: unknown seccomp action "SCMP_ACT_BOGUS"`},
		{"default notify", &Seccomp{DefaultAction: ActNotify}, "cannot be the default action"},
		{"default errno range", &Seccomp{DefaultAction: ActErrno, DefaultErrno: 1 << 16}, "seccomp default action: SCMP_ACT_ERRNO: errno 65536 out of range"},
		{"rule errno max", rule(SyscallRule{Names: []string{"mkdir"}, Action: ActErrno, Errno: 4095}), "seccomp rule 1: SCMP_ACT_ERRNO: errno 4095 out of range"},
		{"rule action", rule(SyscallRule{Names: []string{"mkdir"}, Action: "SCMP_ACT_BOGUS"}), `seccomp rule 1: unknown seccomp action "SCMP_ACT_BOGUS"`},
		{"rule errno range", rule(SyscallRule{Names: []string{"mkdir"}, Action: ActTrace, Errno: 70000}), "seccomp rule 1: SCMP_ACT_TRACE: errno 70000"},
		{"operator", rule(SyscallRule{Names: []string{"mkdir"}, Action: ActErrno, Args: []SeccompArg{{Index: 0, Op: "SCMP_CMP_BOGUS"}}}), `seccomp rule 1: arg 0: unknown seccomp operator "SCMP_CMP_BOGUS"`},
		{"arg index", rule(SyscallRule{Names: []string{"mkdir"}, Action: ActErrno, Args: []SeccompArg{{Index: 6, Op: OpEqualTo}}}), "seccomp rule 1: arg 0: index 6 out of range"},
		{"empty name", rule(SyscallRule{Names: []string{""}, Action: ActErrno}), "seccomp rule 1: empty syscall name"},
		{"arch", &Seccomp{DefaultAction: ActAllow, Architectures: []string{"vax"}}, `seccomp architecture "vax"`},
		{"flag", &Seccomp{DefaultAction: ActAllow, Flags: []string{"SECCOMP_FILTER_FLAG_BOGUS"}}, `seccomp flag "SECCOMP_FILTER_FLAG_BOGUS": unknown flag`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := CompileSeccomp(tt.s)
			if err == nil {
				t.Fatalf("no error, got %d bytes of BPF", len(p.BPF))
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestSeccompCompileIgnoredAndRedundant(t *testing.T) {
	p, err := CompileSeccomp(&Seccomp{
		DefaultAction: ActErrno,
		DefaultErrno:  1,
		Syscalls: []SyscallRule{
			{Names: []string{"getpid", "tabox_no_such_syscall", "tabox_no_such_syscall"}, Action: ActAllow},
			// Same action as the default: libseccomp would refuse it.
			{Names: []string{"mkdir"}, Action: ActErrno, Errno: 1},
			{Names: []string{"tabox_other_unknown"}, Action: ActKillProcess},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"tabox_no_such_syscall", "tabox_other_unknown"}; !reflect.DeepEqual(p.Ignored, want) {
		t.Errorf("Ignored = %q, want %q", p.Ignored, want)
	}
	if hasRet(instructions(t, p), unix.SECCOMP_RET_KILL_PROCESS) {
		t.Error("rule of an unknown syscall was compiled")
	}
}

func TestSeccompCompileSameIndex(t *testing.T) {
	s := &Seccomp{
		DefaultAction: ActAllow,
		Syscalls: []SyscallRule{{
			Names: []string{"mkdirat"}, Action: ActErrno, Errno: 38,
			Args: []SeccompArg{
				{Index: 2, Value: 0o555, Op: OpEqualTo},
				{Index: 2, Value: 0o511, Op: OpEqualTo},
				{Index: 0, Value: 0x7777, Op: OpNotEqual},
			},
		}},
	}
	p, err := CompileSeccomp(s)
	if err != nil {
		t.Fatal(err)
	}
	ins := instructions(t, p)
	for _, v := range []uint32{0o555, 0o511, 0x7777} {
		if !hasJump(ins, v) {
			t.Errorf("no comparison with %#o", v)
		}
	}
}

func TestSeccompCompileFlags(t *testing.T) {
	const (
		tsync   = unix.SECCOMP_FILTER_FLAG_TSYNC
		esrch   = unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH
		log     = unix.SECCOMP_FILTER_FLAG_LOG
		spec    = unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		waitKil = unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
	)
	notifyRule := []SyscallRule{{Names: []string{"mkdirat"}, Action: ActNotify}}
	tests := []struct {
		flags  []string
		rules  []SyscallRule
		want   uint
		notify bool
	}{
		{nil, nil, 0, false},
		{[]string{"SECCOMP_FILTER_FLAG_TSYNC"}, nil, tsync, false},
		{[]string{"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"}, nil, log | spec, false},
		// Meaningless without a listener, and refused by the kernel.
		{[]string{"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"}, nil, 0, false},
		{[]string{"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"}, notifyRule, waitKil, true},
		// The kernel refuses TSYNC|NEW_LISTENER without TSYNC_ESRCH.
		{[]string{"SECCOMP_FILTER_FLAG_TSYNC"}, notifyRule, tsync | esrch, true},
	}
	for _, tt := range tests {
		p, err := CompileSeccomp(&Seccomp{DefaultAction: ActAllow, Flags: tt.flags, Syscalls: tt.rules})
		if err != nil {
			t.Errorf("%q: %v", tt.flags, err)
			continue
		}
		if p.Flags != tt.want || p.Notify != tt.notify {
			t.Errorf("%q: Flags = %s, Notify = %v; want %s, %v", tt.flags,
				seccompFlagString(p.Flags), p.Notify, seccompFlagString(tt.want), tt.notify)
		}
	}
}

func TestSeccompCompileArchitectures(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("x86 family only")
	}
	native, err := CompileSeccomp(&Seccomp{DefaultAction: ActAllow, Architectures: []string{"amd64"},
		Syscalls: []SyscallRule{{Names: []string{"mkdir", "socketcall"}, Action: ActErrno, Errno: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	multi, err := CompileSeccomp(&Seccomp{DefaultAction: ActAllow, Architectures: []string{"amd64", "x86", "x32"},
		Syscalls: []SyscallRule{{Names: []string{"mkdir", "socketcall"}, Action: ActErrno, Errno: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	// socketcall only exists on x86: libseccomp resolves it to a pseudo
	// number rather than failing, so it is not ignored.
	if len(native.Ignored)+len(multi.Ignored) != 0 {
		t.Errorf("Ignored = %q, %q", native.Ignored, multi.Ignored)
	}
	if len(multi.BPF) <= len(native.BPF) {
		t.Errorf("multi-arch program (%d bytes) not larger than native (%d)", len(multi.BPF), len(native.BPF))
	}
	for _, arch := range []uint32{0xc000003e /* x86_64 */, 0x40000003 /* i386 */} {
		if !hasJump(instructions(t, multi), arch) {
			t.Errorf("no check of AUDIT_ARCH %#x", arch)
		}
	}
}

func TestSeccompProgramJSON(t *testing.T) {
	p, err := CompileSeccomp(&Seccomp{DefaultAction: ActAllow, Flags: []string{"SECCOMP_FILTER_FLAG_TSYNC"},
		Syscalls: []SyscallRule{{Names: []string{"mkdirat", "tabox_unknown"}, Action: ActNotify}}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var q SeccompProgram
	if err := json.Unmarshal(b, &q); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.BPF, q.BPF) || p.Flags != q.Flags || p.Notify != q.Notify || q.Ignored != nil {
		t.Errorf("round trip: %+v != %+v", q, p)
	}
}

func TestSeccompLoadInvalid(t *testing.T) {
	for _, p := range []*SeccompProgram{nil, {}, {BPF: make([]byte, 12)}} {
		if fd, err := loadSeccomp(p); err == nil || fd != -1 {
			t.Errorf("loadSeccomp(%v) = %d, %v", p, fd, err)
		}
	}
}

// The load tests run loadSeccomp in a child: a filter cannot be removed,
// and it would confine the test binary. The child is this binary, which
// TestMain turns into seccompHelper.
const (
	helperEnv = "TABOX_SECCOMP_HELPER"
	progEnv   = "TABOX_SECCOMP_PROG"
	dirEnv    = "TABOX_SECCOMP_DIR"
	// syncEnv has the helper load with loadSeccompFilter, fd 3 being its
	// end of a sync socket.
	syncEnv = "TABOX_SECCOMP_SYNC"
)

// seccompHelper is the child of the load tests. It sets no_new_privs,
// loads the program, runs each operation of its arguments and prints
// "result OP=ERRNO" for each.
//
// Operations: "mkdir:MODE" makes a directory with unix.Mkdir (mkdirat on
// every Linux arch); "thread-mkdir:MODE" does so from another OS thread;
// "openat2" calls a syscall newer than most profiles; "notify" reports
// whether a listener fd was returned.
func seccompHelper() {
	var p SeccompProgram
	if err := json.Unmarshal([]byte(os.Getenv(progEnv)), &p); err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	var fd int
	var err error
	if os.Getenv(syncEnv) == "1" {
		// As the init does: the listener fd goes to the parent over fd 3.
		fd = -1
		err = loadSeccompFilter(newSyncPipe(os.NewFile(3, "sync")), &p)
	} else {
		fd, err = loadSeccomp(&p)
	}
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	dir := os.Getenv(dirEnv)
	for i, op := range flagArgs() {
		name, arg, _ := strings.Cut(op, ":")
		var res error
		switch name {
		case "mkdir", "thread-mkdir":
			mode, _ := strconv.ParseUint(arg, 8, 32)
			path := filepath.Join(dir, strconv.Itoa(i))
			if name == "mkdir" {
				res = unix.Mkdir(path, uint32(mode))
			} else {
				done := make(chan error)
				go func() {
					// Locked: the loader's thread is locked to its
					// goroutine, so this runs on another thread.
					runtime.LockOSThread()
					done <- unix.Mkdir(path, uint32(mode))
				}()
				res = <-done
			}
		case "openat2":
			// Arguments do not matter: the filter answers first.
			_, _, e := unix.Syscall6(unix.SYS_OPENAT2, ^uintptr(0), 0, 0, 0, 0, 0)
			if e != 0 {
				res = e
			}
		case "notify":
			if fd < 0 {
				res = unix.EBADF
			} else {
				_, res = unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
			}
		}
		errno := 0
		if res != nil {
			errno = int(res.(unix.Errno))
		}
		fmt.Printf("result %s=%d\n", op, errno)
	}
	os.Exit(0)
}

// flagArgs are the operations of the helper, after "--".
func flagArgs() []string {
	for i, a := range os.Args {
		if a == "--" {
			return os.Args[i+1:]
		}
	}
	return nil
}

// runSeccompChild compiles s, runs the helper with ops and returns its
// results by operation, and how it ended.
func runSeccompChild(t *testing.T, s *Seccomp, ops ...string) (map[string]int, *os.ProcessState) {
	t.Helper()
	p, err := CompileSeccomp(s)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--"}, ops...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), helperEnv+"=1", progEnv+"="+string(b), dirEnv+"="+t.TempDir())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	res := map[string]int{}
	for _, line := range strings.Split(out.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, "result "); ok {
			op, v, _ := strings.Cut(rest, "=")
			res[op], _ = strconv.Atoi(v)
		} else if strings.HasPrefix(line, "error ") {
			t.Fatalf("child: %s", line)
		}
	}
	if cmd.ProcessState.Success() && len(res) != len(ops) {
		t.Fatalf("child printed %d results for %d operations:\n%s", len(res), len(ops), out.String())
	}
	return res, cmd.ProcessState
}

func TestSeccompLoadErrno(t *testing.T) {
	res, _ := runSeccompChild(t, &Seccomp{
		DefaultAction: ActAllow,
		// unix.Mkdir is mkdirat on Linux: both must be covered.
		Syscalls: []SyscallRule{{Names: []string{"mkdir", "mkdirat"}, Action: ActErrno, Errno: uint(unix.ENOSYS)}},
	}, "mkdir:0755", "thread-mkdir:0755")
	if got := res["mkdir:0755"]; got != int(unix.ENOSYS) {
		t.Errorf("mkdir: errno %d, want ENOSYS (%d)", got, unix.ENOSYS)
	}
	// Without TSYNC only the loading thread is filtered; exec from it is
	// what carries the filter into the container.
	if got := res["thread-mkdir:0755"]; got != 0 {
		t.Errorf("mkdir on another thread without TSYNC: errno %d, want 0", got)
	}
}

func TestSeccompLoadTsync(t *testing.T) {
	res, _ := runSeccompChild(t, &Seccomp{
		DefaultAction: ActAllow,
		Flags:         []string{"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"},
		Syscalls:      []SyscallRule{{Names: []string{"mkdirat"}, Action: ActErrno, Errno: uint(unix.ENOSYS)}},
	}, "thread-mkdir:0755")
	if got := res["thread-mkdir:0755"]; got != int(unix.ENOSYS) {
		t.Errorf("mkdir on another thread with TSYNC: errno %d, want ENOSYS", got)
	}
}

func TestSeccompLoadKillProcess(t *testing.T) {
	res, st := runSeccompChild(t, &Seccomp{
		DefaultAction: ActAllow,
		Syscalls:      []SyscallRule{{Names: []string{"mkdirat"}, Action: ActKillProcess}},
	}, "mkdir:0755")
	ws, ok := st.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != unix.SIGSYS {
		t.Errorf("child ended with %v (results %v), want killed by SIGSYS", st, res)
	}
}

func TestSeccompLoadMaskedEqual(t *testing.T) {
	res, _ := runSeccompChild(t, &Seccomp{
		DefaultAction: ActAllow,
		Syscalls: []SyscallRule{{
			Names: []string{"mkdirat"}, Action: ActErrno, Errno: uint(unix.ENOSYS),
			// (mode & 0700) == 0500
			Args: []SeccompArg{{Index: 2, Value: 0o700, ValueTwo: 0o500, Op: OpMaskedEqual}},
		}},
	}, "mkdir:0555", "mkdir:0500", "mkdir:0755")
	want := map[string]int{"mkdir:0555": int(unix.ENOSYS), "mkdir:0500": int(unix.ENOSYS), "mkdir:0755": 0}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("results %v, want %v", res, want)
	}
}

func TestSeccompLoadSameIndex(t *testing.T) {
	// Two conditions on one argument become one rule each, as in runc:
	// they are ORed.
	res, _ := runSeccompChild(t, &Seccomp{
		DefaultAction: ActAllow,
		Syscalls: []SyscallRule{{
			Names: []string{"mkdirat"}, Action: ActErrno, Errno: uint(unix.ENOSYS),
			Args: []SeccompArg{
				{Index: 2, Value: 0o555, Op: OpEqualTo},
				{Index: 2, Value: 0o511, Op: OpEqualTo},
			},
		}},
	}, "mkdir:0555", "mkdir:0511", "mkdir:0755")
	want := map[string]int{"mkdir:0555": int(unix.ENOSYS), "mkdir:0511": int(unix.ENOSYS), "mkdir:0755": 0}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("results %v, want %v", res, want)
	}
}

func TestSeccompLoadNotify(t *testing.T) {
	// TSYNC with a listener needs TSYNC_ESRCH, which CompileSeccomp adds.
	res, st := runSeccompChild(t, &Seccomp{
		DefaultAction: ActAllow,
		Flags:         []string{"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"},
		Syscalls:      []SyscallRule{{Names: []string{"mkdirat"}, Action: ActNotify}},
	}, "notify")
	if got, ok := res["notify"]; !ok || got != 0 {
		t.Errorf("listener fd: errno %d (child %v)", got, st)
	}
}

// seccompBenchNames returns the first n syscall names of the native arch.
func seccompBenchNames(b *testing.B, n int) []string {
	var names []string
	for nr := 0; len(names) < n && nr < 2048; nr++ {
		if name, err := libseccomp.ScmpSyscall(nr).GetName(); err == nil {
			names = append(names, name)
		}
	}
	if len(names) < n {
		b.Fatalf("only %d syscalls known", len(names))
	}
	return names
}

func BenchmarkCompileSeccomp300(b *testing.B) {
	s := &Seccomp{
		DefaultAction: ActErrno,
		DefaultErrno:  uint(unix.EPERM),
		Syscalls:      []SyscallRule{{Names: seccompBenchNames(b, 300), Action: ActAllow}},
	}
	b.ReportAllocs()
	var p *SeccompProgram
	for b.Loop() {
		var err error
		if p, err = CompileSeccomp(s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(p.BPF)/sockFilterSize), "insns")
}

// TestSeccompLoadNewSyscallENOSYS: a syscall newer than every syscall the
// profile names answers ENOSYS (glibc then falls back), while an older one
// the profile does not allow gets the default action.
func TestSeccompLoadNewSyscallENOSYS(t *testing.T) {
	allow := []string{"read", "write", "close", "mmap", "munmap", "madvise", "mprotect", "brk",
		"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "sched_yield", "nanosleep",
		"clock_nanosleep", "futex", "getpid", "gettid", "tgkill", "tkill", "exit", "exit_group", "clone",
		"epoll_pwait", "epoll_ctl", "epoll_create1", "pipe2", "fcntl", "getrlimit", "prlimit64",
		"openat", "newfstatat", "fstat", "getrandom"}
	s := &Seccomp{DefaultAction: ActErrno, DefaultErrno: uint(unix.EPERM),
		Syscalls: []SyscallRule{{Names: allow, Action: ActAllow}}}
	res, ps := runSeccompChild(t, s, "mkdir:755", "openat2")
	if !ps.Success() {
		t.Fatalf("helper failed: %v", ps)
	}
	if got := res["mkdir:755"]; got != int(unix.EPERM) {
		t.Errorf("mkdirat (not allowed, older than getrandom): errno %d, want EPERM", got)
	}
	if got := res["openat2"]; got != int(unix.ENOSYS) {
		t.Errorf("openat2 (newer than every syscall of the profile): errno %d, want ENOSYS", got)
	}
}
