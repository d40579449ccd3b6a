package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// statFields returns fields of a /proc/<pid>/stat line by their 1-based
// number in proc(5), after the command name (which may hold spaces).
func statFields(t *testing.T, line string, nums ...int) []string {
	t.Helper()
	i := strings.LastIndexByte(line, ')')
	if i < 0 {
		t.Fatalf("not a stat line: %q", line)
	}
	// Field 3 is the first after "pid (comm)".
	f := strings.Fields(line[i+1:])
	var out []string
	for _, n := range nums {
		if n-3 >= len(f) {
			t.Fatalf("stat line has no field %d: %q", n, line)
		}
		out = append(out, f[n-3])
	}
	return out
}

// TestPersonality: linux.personality LINUX32 makes uname report a 32-bit
// machine inside; the default leaves the host's.
func TestPersonality(t *testing.T) {
	t.Parallel()
	if runtime.GOARCH != "amd64" {
		t.Skipf("the expected uname -m is known for amd64 only, not %s", runtime.GOARCH)
	}
	out := runArgs(t, func(s *specs.Spec) {
		s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux32}
	}, "busybox", "uname", "-m")
	if got := strings.TrimSpace(out); got != "i686" {
		t.Errorf("uname -m with personality LINUX32 = %q, want i686", got)
	}
	if got := strings.TrimSpace(runArgs(t, nil, "busybox", "uname", "-m")); got != "x86_64" {
		t.Errorf("uname -m without personality = %q, want x86_64", got)
	}
}

// TestSchedulerAndIOPriority: process.scheduler and process.ioPriority
// are what the container's process has (proc(5) stat fields 19 nice,
// 40 rt_priority, 41 policy; ionice for the I/O class).
func TestSchedulerAndIOPriority(t *testing.T) {
	t.Parallel()
	// The trailing command keeps sh from exec'ing cat itself: cat is its
	// child.
	script := "ionice; cat /proc/self/stat; exit 0"
	out := runArgs(t, func(s *specs.Spec) {
		s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedBatch, Nice: 7}
		s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 6}
	}, "sh", "-c", script)
	l := lines(out)
	if len(l) < 2 {
		t.Fatalf("output %q", out)
	}
	if l[0] != "best-effort: prio 6" {
		t.Errorf("ionice inside = %q, want best-effort: prio 6", l[0])
	}
	if f := statFields(t, l[1], 19, 40, 41); f[0] != "7" || f[1] != "0" || f[2] != "3" {
		t.Errorf("nice, rt_priority, policy = %v, want [7 0 3] (SCHED_BATCH)", f)
	}

	// A real-time policy: the cgroup v1 cpu controller gives a new group
	// no real-time budget unless the bundle asks for one.
	out = runArgs(t, func(s *specs.Spec) {
		s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedFIFO, Priority: 10,
			Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork}}
		s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_IDLE}
		if cgroupV1CPU() {
			s.Linux.Resources = &specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: ptrInt64(10000), RealtimePeriod: ptrUint64(1000000)}}
		}
	}, "sh", "-c", script)
	l = lines(out)
	if len(l) < 2 {
		t.Fatalf("output %q", out)
	}
	if l[0] != "idle" {
		t.Errorf("ionice inside = %q, want idle", l[0])
	}
	// With SCHED_RESET_ON_FORK, sh's child cat is back to SCHED_OTHER:
	// proof that the flag reached the kernel.
	if f := statFields(t, l[1], 40, 41); f[0] != "0" || f[1] != "0" {
		t.Errorf("the child of a SCHED_FIFO|RESET_ON_FORK process: rt_priority, policy = %v, want [0 0]", f)
	}
	out = runArgs(t, func(s *specs.Spec) {
		s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedFIFO, Priority: 10}
		if cgroupV1CPU() {
			s.Linux.Resources = &specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: ptrInt64(10000), RealtimePeriod: ptrUint64(1000000)}}
		}
	}, "cat", "/proc/self/stat")
	if f := statFields(t, strings.TrimSpace(out), 40, 41); f[0] != "10" || f[1] != "1" {
		t.Errorf("SCHED_FIFO 10: rt_priority, policy = %v, want [10 1]", f)
	}
}

// TestSchedulerErrors: a policy the kernel refuses is a one-line error
// that names the step and leaves nothing behind.
func TestSchedulerErrors(t *testing.T) {
	t.Parallel()
	if !cgroupV1CPU() {
		t.Skip("the refusal shown here comes from the cgroup v1 cpu controller")
	}
	bundle := newBundle(t, func(s *specs.Spec) {
		s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedRR, Priority: 5}
	})
	id := newID(t)
	_, stderr, code := tabox(t, "run", "--bundle", bundle, id)
	assertOneLineError(t, stderr, code, "scheduler", "realtimeRuntime")
	assertNoLeftovers(t, rootDir(t), id)
}

// TestExecCPUAffinity: an exec'd process runs on execCPUAffinity.final
// once in the container's cgroup; the container's own process, to which
// the setting does not apply, keeps the cgroup's CPUs.
func TestExecCPUAffinity(t *testing.T) {
	t.Parallel()
	if runtime.NumCPU() < 2 {
		t.Skip("needs two CPUs")
	}
	id, pid := runningContainer(t, func(s *specs.Spec) {
		s.Process.ExecCPUAffinity = &specs.CPUAffinity{Final: "1"}
	})
	if got := procStatusField(pid, "Cpus_allowed_list"); got == "1" {
		t.Errorf("the init's CPUs = %q: execCPUAffinity must not apply to it", got)
	}
	p := specs.Process{
		Args: []string{"testinit", "cat", "/proc/self/status"}, Cwd: "/",
		Env:             []string{"PATH=/bin"},
		ExecCPUAffinity: &specs.CPUAffinity{Initial: "0", Final: "1"},
		IOPriority:      &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 2},
	}
	file := filepath.Join(t.TempDir(), "process.json")
	b, _ := json.Marshal(p)
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out := mustTabox(t, "exec", "--process", file, id)
	if !strings.Contains(out, "Cpus_allowed_list:\t1\n") {
		t.Errorf("exec'd process with execCPUAffinity.final 1:\n%s", out)
	}
	p.Args = []string{"busybox", "ionice"}
	b, _ = json.Marshal(p)
	os.WriteFile(file, b, 0o600)
	if out := strings.TrimSpace(mustTabox(t, "exec", "--process", file, id)); out != "best-effort: prio 2" {
		t.Errorf("ionice of an exec'd process = %q, want best-effort: prio 2", out)
	}
}

// cgroupV1CPU reports whether the host has a cgroup v1 cpu controller,
// whose real-time budget a new group lacks.
func cgroupV1CPU() bool {
	_, err := os.Stat("/sys/fs/cgroup/cpu/cpu.rt_runtime_us")
	return err == nil
}
