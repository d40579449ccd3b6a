package tests

import (
	"bytes"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The judge limits of a container driven through create and start, as
// containerd and podman drive it: start leaves a detached monitor behind,
// and `tabox report` prints what it wrote.

// withLimits sets the judge annotations (empty values are left out).
func withLimits(wall, cpu string) func(*specs.Spec) {
	return func(s *specs.Spec) {
		s.Annotations = map[string]string{}
		if wall != "" {
			s.Annotations["dev.tabox.wall-time-limit"] = wall
		}
		if cpu != "" {
			s.Annotations["dev.tabox.cpu-time-limit"] = cpu
		}
	}
}

// findMonitor returns the pid of the live detached monitor of container
// id, or 0.
func findMonitor(t *testing.T, id string) int {
	t.Helper()
	want := []byte("monitor\x00" + rootDir(t) + "/" + id + "\x00")
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if bytes.HasSuffix(cmdline, want) && !strings.HasPrefix(procStatusField(pid, "State"), "Z") {
			getEnv(t).notePid(id, pid)
			return pid
		}
	}
	return 0
}

// report runs `tabox report ID` and parses it; it fails t on an error.
func report(t *testing.T, id string) judgeReport {
	t.Helper()
	out := mustTabox(t, "report", id)
	var r judgeReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("report %s: %v\n%s", id, err, out)
	}
	return r
}

// pidfdOf opens a pidfd of pid, closed when t ends.
func pidfdOf(t *testing.T, pid int) int {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatalf("pidfd_open %d: %v", pid, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// exited reports whether the process of pidfd has exited, waiting at most
// timeout.
func exited(pidfd int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		left := time.Until(deadline)
		if left < 0 {
			left = 0
		}
		n, err := unix.Poll(fds, int(left.Milliseconds()))
		if err != unix.EINTR {
			return n > 0
		}
	}
}

// TestJudgeStartWallTime: the wall clock starts at start, not at create;
// the container is killed by a monitor that is not the init's parent, and
// `tabox report` tells why. delete takes the report and the monitor.
func TestJudgeStartWallTime(t *testing.T) {
	t.Parallel()
	bundle := newBundle(t, func(s *specs.Spec) {
		s.Process.Args = []string{"testinit", "sleep", "10"}
		withLimits("0.5s", "")(s)
	})
	id, _ := createContainer(t, bundle)
	init := state(t, id).Pid
	pidfd := pidfdOf(t, init)
	// Longer than the limit: a clock started at create would kill now.
	if exited(pidfd, 800*time.Millisecond) {
		t.Fatalf("the container died before start")
	}
	if st := state(t, id).Status; st != "created" {
		t.Fatalf("status %q before start, want created", st)
	}
	if mon := findMonitor(t, id); mon != 0 {
		t.Errorf("a monitor (%d) runs before start", mon)
	}
	t0 := time.Now()
	mustTabox(t, "start", id)
	t1 := time.Now()
	mon := findMonitor(t, id)
	if mon == 0 {
		t.Fatalf("no monitor of %s after start", id)
	}
	// The init stays the child of its subreaper (here, the test).
	if ppid := procStatusField(init, "PPid"); ppid != strconv.Itoa(os.Getpid()) {
		t.Errorf("the init's parent is %s, want the subreaper %d (the monitor is %d)", ppid, os.Getpid(), mon)
	}
	if ppid := procStatusField(mon, "PPid"); ppid == strconv.Itoa(init) {
		t.Errorf("the monitor is the init's child")
	}
	if !exited(pidfd, 5*time.Second) {
		t.Fatalf("the container outlived its 0.5 s wall limit by 5 s")
	}
	killed := time.Now()
	// Released between t0 and t1: killed 0.5 s after, within 50 ms.
	if early, late := killed.Sub(t0), killed.Sub(t1); early < 500*time.Millisecond || late > 550*time.Millisecond {
		t.Errorf("killed %v after start was called and %v after it returned; want 0.5 s after the release, within 50 ms", early, late)
	}
	waitForStatus(t, id, "stopped")
	r := report(t, id)
	if r.Status != "killed" || r.Reason != "wall-time-limit" || r.Signal != 9 {
		t.Errorf("report %+v, want killed at the wall-time-limit by SIGKILL", r)
	}
	if r.WallTime < 0.5 || r.WallTime > 0.55 {
		t.Errorf("wallTime %.3f, want within 50 ms after 0.5", r.WallTime)
	}
	if r.processes() != 1 {
		t.Errorf("processes %d, want 1", r.processes())
	}
	deleteContainer(t, id, false)
	if !reapPid(mon, pollTimeout) {
		t.Errorf("the monitor %d is left after delete (%s)", mon, procDesc(mon))
	}
	_, stderr, code := tabox(t, "report", id)
	assertOneLineError(t, stderr, code, "does not exist")
}

// TestJudgeStartCPUTime: the CPU limit counts every process of the
// container; the children of a forking burner are killed at it.
func TestJudgeStartCPUTime(t *testing.T) {
	t.Parallel()
	bundle := judgeBundle(t, withLimits("", "0.3"), "forkburn", "5")
	id, _ := createContainer(t, bundle)
	init := state(t, id).Pid
	pidfd := pidfdOf(t, init)
	mustTabox(t, "start", id)
	if !exited(pidfd, 5*time.Second) {
		t.Fatalf("the burners outlived a 0.3 s CPU limit by 5 s")
	}
	waitForStatus(t, id, "stopped")
	r := report(t, id)
	if r.Status != "killed" || r.Reason != "cpu-time-limit" {
		t.Errorf("report %+v, want killed at the cpu-time-limit", r)
	}
	if r.CPUTime < 0.3 || r.CPUTime > 0.35 {
		t.Errorf("killed at cpuTime %.3f, want just past 0.3", r.CPUTime)
	}
	// The init and its two children.
	if r.processes() != 3 {
		t.Errorf("processes %d, want 3", r.processes())
	}
	deleteContainer(t, id, false)
}

// TestJudgeStartExit: a program that ends by itself is reported with its
// exit code and the CPU time it used.
func TestJudgeStartExit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args   []string
		code   int
		cpu    float64
		procs  int
		status string
	}{
		{[]string{"burn", "0.2"}, 0, 0.2, 1, "exited"},
		{[]string{"forkburn", "0.1"}, 0, 0.2, 3, "exited"},
		{[]string{"nonsense", "0"}, 2, 0, 1, "exited"},
	} {
		bundle := judgeBundle(t, withLimits("5", "5"), tc.args...)
		id, _ := createContainer(t, bundle)
		mustTabox(t, "start", id)
		waitForStatus(t, id, "stopped")
		r := report(t, id)
		if r.Status != tc.status || r.ExitCode != tc.code || r.Reason != "" {
			t.Errorf("%v: report %+v, want %s with code %d", tc.args, r, tc.status, tc.code)
		}
		if d := r.CPUTime - tc.cpu; d < -0.02 || d > 0.02 {
			t.Errorf("%v: cpuTime %.3f, want %.1f within 20 ms", tc.args, r.CPUTime, tc.cpu)
		}
		if r.processes() != tc.procs {
			t.Errorf("%v: processes %d, want %d", tc.args, r.processes(), tc.procs)
		}
		deleteContainer(t, id, false)
	}
}

// TestReportErrors: report before the end, or of a container that had no
// monitor, is a clear one-line error.
func TestReportErrors(t *testing.T) {
	t.Parallel()
	bundle := newBundle(t, func(s *specs.Spec) {
		s.Process.Args = []string{"testinit", "sleep", "10"}
		withLimits("30s", "")(s)
	})
	id, _ := createContainer(t, bundle)
	_, stderr, code := tabox(t, "report", id)
	assertOneLineError(t, stderr, code, "not been started")
	mustTabox(t, "start", id)
	_, stderr, code = tabox(t, "report", id)
	assertOneLineError(t, stderr, code, "still running")
	// Killed from outside: the report says by what.
	mustTabox(t, "kill", id, "KILL")
	waitForStatus(t, id, "stopped")
	if r := report(t, id); r.Status != "signaled" || r.Signal != 9 || r.Reason != "" {
		t.Errorf("report of a container killed by tabox kill: %+v", r)
	}
	deleteContainer(t, id, false)

	plain := newBundle(t, withArgs("testinit", "exit", "0"))
	id, _ = createContainer(t, plain)
	mustTabox(t, "start", id)
	waitForStatus(t, id, "stopped")
	if mon := findMonitor(t, id); mon != 0 {
		t.Errorf("a container without limits has a monitor (%d)", mon)
	}
	_, stderr, code = tabox(t, "report", id)
	assertOneLineError(t, stderr, code, "no judge limits")
	deleteContainer(t, id, false)

	_, stderr, code = tabox(t, "report", newID(t))
	assertOneLineError(t, stderr, code, "does not exist")
}

// TestReportDeleteRunning: delete --force of a running container stops its
// monitor too; nothing is left.
func TestReportDeleteRunning(t *testing.T) {
	t.Parallel()
	bundle := newBundle(t, func(s *specs.Spec) {
		s.Process.Args = []string{"testinit", "sleep", "10"}
		withLimits("30s", "10s")(s)
	})
	id, _ := createContainer(t, bundle)
	mustTabox(t, "start", id)
	mon := findMonitor(t, id)
	if mon == 0 {
		t.Fatalf("no monitor")
	}
	deleteContainer(t, id, true)
	if !reapPid(mon, pollTimeout) {
		t.Errorf("the monitor %d is left after delete --force (%s)", mon, procDesc(mon))
	}
}

// TestReportRunKeep: run --keep keeps the report for tabox report, and run
// --detach leaves a monitor like start.
func TestReportRunKeep(t *testing.T) {
	t.Parallel()
	bundle := judgeBundle(t, nil, "burn", "0.1")
	id := newID(t)
	if _, stderr, code := tabox(t, "run", "--keep", "--time", "2", "--bundle", bundle, id); code != 0 {
		t.Fatalf("run --keep: exit %d: %s", code, stderr)
	}
	if r := report(t, id); r.Status != "exited" || r.CPUTime < 0.09 || r.CPUTime > 0.12 {
		t.Errorf("report after run --keep: %+v", r)
	}
	deleteContainer(t, id, false)

	id = newID(t)
	if _, stderr, code := tabox(t, "run", "--detach", "--wall-time", "0.2", "--bundle", newBundle(t, withArgs("testinit", "sleep", "10")), id); code != 0 {
		t.Fatalf("run --detach: exit %d: %s", code, stderr)
	}
	waitForStatus(t, id, "stopped")
	if r := report(t, id); r.Reason != "wall-time-limit" {
		t.Errorf("report after run --detach --wall-time 0.2: %+v", r)
	}
	deleteContainer(t, id, false)
}

// TestJudgeStartV2: the same on cgroup v2, where the kill is cgroup.kill.
func TestJudgeStartV2(t *testing.T) {
	t.Parallel()
	v := setupV2(t)
	bundle := judgeBundle(t, withLimits("", "0.3"), "forkburn", "5")
	id, _ := v.create(t, bundle)
	v.must(t, "start", id)
	v.waitForStatus(t, id, "stopped")
	var r judgeReport
	out := v.must(t, "report", id)
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	if r.Status != "killed" || r.Reason != "cpu-time-limit" || r.CPUTime < 0.3 || r.CPUTime > 0.35 || r.processes() != 3 {
		t.Errorf("cgroup v2: report %+v, want killed at cpuTime just past 0.3, 3 processes", r)
	}
	v.must(t, "delete", id)
	assertNoLeftovers(t, rootDir(t), id)
	if m := findMonitor(t, id); m != 0 {
		t.Errorf("monitor %d left: %s", m, procDesc(m))
	}
}

// TestMonitorHoldsNoInheritedFd: the detached monitor outlives start, so
// it must not keep what start inherited from its caller. A caller that
// reads a pipe it gave start until EOF would otherwise wait for the
// container's end.
func TestMonitorHoldsNoInheritedFd(t *testing.T) {
	t.Parallel()
	bundle := newBundle(t, func(s *specs.Spec) {
		s.Process.Args = []string{"testinit", "sleep", "10"}
		withLimits("30s", "")(s)
	})
	id, _ := createContainer(t, bundle)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// fd 3 of start becomes the monitor's socket; fd 4 is the caller's.
	_, stderr, code := taboxOpts(t, cmdOpts{extraFiles: []*os.File{w, w}}, "start", id)
	w.Close()
	if code != 0 {
		t.Fatalf("start: exit %d: %s", code, stderr)
	}
	if findMonitor(t, id) == 0 {
		t.Fatalf("no monitor")
	}
	eof := make(chan struct{})
	go func() {
		r.Read(make([]byte, 1))
		close(eof)
	}()
	select {
	case <-eof:
	case <-time.After(2 * time.Second):
		t.Errorf("a pipe given to start is held open after start exited (by its monitor)")
	}
	deleteContainer(t, id, true)
}
