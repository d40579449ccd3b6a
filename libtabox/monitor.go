package libtabox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"
)

// Report is the account of a run that a grader needs: how the program
// ended, why it was killed if it was, and what it used.
type Report struct {
	// Status is "exited", "signaled" (by its own doing or the kernel's),
	// "killed" (by tabox, at a limit), or "unknown" (ExitCode -1) when a
	// detached monitor could not learn the status (see exitStatus).
	Status   string `json:"status"`
	ExitCode int    `json:"exitCode"`
	Signal   int    `json:"signal,omitempty"`
	// Reason says why tabox or the kernel killed the program:
	// "wall-time-limit", "cpu-time-limit" or "memory-limit".
	Reason string `json:"reason,omitempty"`
	// PidsLimitHit says a fork failed at the pids limit.
	PidsLimitHit bool `json:"pidsLimitHit,omitempty"`
	// Processes is how many processes the program was, itself included:
	// every fork (not thread) of it and its descendants from its exec on.
	// Absent when tabox could not follow the process events.
	Processes *int `json:"processes,omitempty"`
	// Times in seconds; CPU times are of every process of the container.
	WallTime   float64 `json:"wallTime"`
	CPUTime    float64 `json:"cpuTime"`
	UserTime   float64 `json:"userTime"`
	SystemTime float64 `json:"systemTime"`
	// PeakMemory is the cgroup's peak (bytes) since the program started,
	// or wait4's maxrss of the init where there is no memory cgroup (which
	// then counts tabox's own init before exec too).
	PeakMemory uint64 `json:"peakMemory"`
}

// Code is the code tabox run exits with for this report: the program's,
// or 128+N for signal N.
func (r *Report) Code() int {
	if r.Signal != 0 {
		return 128 + r.Signal
	}
	return r.ExitCode
}

// cgroupUsage reads what a container's cgroup accounts.
type cgroupUsage struct {
	m  cgroups.Manager
	v2 bool
	// peak is memory.peak opened and reset (v2): the reset holds for reads
	// through this fd only.
	peak *os.File
}

// resetPeak starts the memory peak afresh: the container's init charged
// its own memory (a Go runtime) to the cgroup while it set the container
// up, and that is not the program's. What the init holds from the reset
// to its exec (its resident set, a couple of MiB) still counts.
func (u *cgroupUsage) resetPeak() {
	if u.v2 {
		f, err := os.OpenFile(filepath.Join(u.m.Path(""), "memory.peak"), os.O_RDWR|unix.O_CLOEXEC, 0)
		if err == nil {
			if _, err := f.WriteString("reset"); err == nil {
				u.peak = f
				return
			}
			f.Close()
		}
		return
	}
	if dir := u.m.Path("memory"); dir != "" {
		os.WriteFile(filepath.Join(dir, "memory.max_usage_in_bytes"), []byte("0"), 0)
	}
}

func (u *cgroupUsage) file(ctrl, name string) (string, error) {
	dir := u.m.Path(ctrl)
	if u.v2 {
		dir = u.m.Path("")
	}
	if dir == "" {
		return "", fmt.Errorf("no %s cgroup", ctrl)
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	return strings.TrimSpace(string(b)), err
}

// cpu returns the CPU time of the whole cgroup: total, user and system.
func (u *cgroupUsage) cpu() (total, user, sys time.Duration, err error) {
	if u.v2 {
		s, err := u.file("", "cpu.stat")
		if err != nil {
			return 0, 0, 0, err
		}
		kv := keyValues(s)
		us := func(k string) time.Duration { return time.Duration(kv[k]) * time.Microsecond }
		return us("usage_usec"), us("user_usec"), us("system_usec"), nil
	}
	read := func(name string) time.Duration {
		s, _ := u.file("cpuacct", name)
		n, _ := strconv.ParseUint(s, 10, 64)
		return time.Duration(n)
	}
	s, err := u.file("cpuacct", "cpuacct.usage")
	if err != nil {
		return 0, 0, 0, err
	}
	n, _ := strconv.ParseUint(s, 10, 64)
	return time.Duration(n), read("cpuacct.usage_user"), read("cpuacct.usage_sys"), nil
}

// total returns only the total CPU time, cheaply: it is polled.
func (u *cgroupUsage) total() (time.Duration, error) {
	if u.v2 {
		t, _, _, err := u.cpu()
		return t, err
	}
	s, err := u.file("cpuacct", "cpuacct.usage")
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return time.Duration(n), err
}

func (u *cgroupUsage) peakMemory() uint64 {
	if u.peak != nil {
		defer u.peak.Close()
		b := make([]byte, 64)
		n, _ := u.peak.ReadAt(b, 0)
		v, _ := strconv.ParseUint(strings.TrimSpace(string(b[:n])), 10, 64)
		return v
	}
	name := "memory.max_usage_in_bytes"
	if u.v2 {
		name = "memory.peak"
	}
	s, err := u.file("memory", name)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseUint(s, 10, 64)
	return n
}

func (u *cgroupUsage) oomKills() uint64 {
	name := "memory.oom_control"
	if u.v2 {
		name = "memory.events"
	}
	s, err := u.file("memory", name)
	if err != nil {
		return 0
	}
	return keyValues(s)["oom_kill"]
}

func (u *cgroupUsage) pidsLimitHit() bool {
	s, err := u.file("pids", "pids.events")
	return err == nil && keyValues(s)["max"] > 0
}

func keyValues(s string) map[string]uint64 {
	out := map[string]uint64{}
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 {
			n, _ := strconv.ParseUint(f[1], 10, 64)
			out[f[0]] = n
		}
	}
	return out
}

// Started is what start tells a monitor about the release of the
// container's process.
type Started struct {
	// Wall and Mono (CLOCK_MONOTONIC, ns) are when start released it: the
	// wall clock of the limit starts there.
	Wall time.Time
	Mono int64
	// InitCPU is the CPU time (ns) the container's cgroup had accounted
	// when tabox's init executed the process: tabox's, not the program's.
	InitCPU int64
}

// Started returns what start recorded when it released the container.
func (c *Container) Started() Started {
	return Started{Wall: c.state.StartedAt, Mono: c.state.StartedMono, InitCPU: c.state.InitCPU}
}

// Monitor watches a container's init for a grader: it enforces the judge
// limits from start and makes the report. It holds a pidfd of the init,
// so it need not be its parent: tabox run and sandbox, which created the
// init and wait for it, run one in-process; start leaves a detached one
// (monitor_detached.go) for containers driven through create and start.
type Monitor struct {
	c      *Container
	limits Limits
	pidfd  int
	// proc is /proc/<init>, opened while the init lived: its zombie's
	// exit status is read there, and never that of a process that reused
	// its PID.
	proc   *os.File
	cg     cgroups.Manager
	usage  *cgroupUsage
	events *procEvents
}

// NewMonitor prepares a monitor of a created container, before start, so
// that it counts every process the program starts.
func (c *Container) NewMonitor(limits Limits) (_ *Monitor, retErr error) {
	m := &Monitor{c: c, limits: limits, pidfd: -1}
	defer func() {
		if retErr != nil {
			m.Close()
		}
	}()
	pid := c.state.InitPid
	var err error
	if m.pidfd, err = unix.PidfdOpen(pid, 0); err != nil {
		return nil, fmt.Errorf("pidfd of the container's init %d: %w", pid, err)
	}
	if m.proc, err = os.Open("/proc/" + strconv.Itoa(pid)); err != nil {
		return nil, fmt.Errorf("container init %d: %w", pid, err)
	}
	// Both hold the init from here: is it still the container's?
	if !c.state.initAlive() {
		return nil, fmt.Errorf("container init %d: %w", pid, ErrNoSuchProcess)
	}
	if m.cg, err = c.cgroup(); err != nil {
		return nil, err
	}
	if m.cg == nil && limits.CPUTime > 0 {
		return nil, errors.New("a CPU time limit needs the container's cgroup (a rootless container has none unless it asks for limits)")
	}
	if m.cg != nil {
		m.usage = &cgroupUsage{m: m.cg, v2: cgroups.IsCgroup2UnifiedMode()}
		// Before start releases the program, never after: a program that
		// peaks in its first milliseconds would otherwise be under-reported.
		m.usage.resetPeak()
	}
	// Without them (tabox rootless, or in a PID namespace of its own) the
	// report has no process count; nothing else depends on them.
	m.events, _ = openProcEvents(pid)
	return m, nil
}

// Close releases what the monitor holds.
func (m *Monitor) Close() {
	if m.pidfd >= 0 {
		unix.Close(m.pidfd)
		m.pidfd = -1
	}
	if m.proc != nil {
		m.proc.Close()
	}
	if m.events != nil {
		m.events.close()
	}
}

func monotonicNow() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// onlineCPUs bounds how fast a cgroup can use CPU time: how many CPUs the
// host has online, whatever this process's affinity.
func onlineCPUs() int {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return runtime.NumCPU()
	}
	n := 0
	for _, r := range strings.Split(strings.TrimSpace(string(b)), ",") {
		lo, hi, found := strings.Cut(r, "-")
		a, err1 := strconv.Atoi(lo)
		z := a
		var err2 error
		if found {
			z, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || z < a {
			return runtime.NumCPU()
		}
		n += z - a + 1
	}
	return max(n, 1)
}

// Run watches the container from its release by start until its init
// exits, and returns the report. At a limit every process of the
// container is killed; when the init exits, so is whatever it left in its
// cgroup (without a PID namespace of its own, its children outlive it),
// so that the times and the count are final.
func (m *Monitor) Run(s Started) (*Report, error) {
	base := time.Duration(s.InitCPU)
	reason := ""
	// Read before the kill, which may make forks fail (see killFinished).
	pidsHit, pidsRead := false, false
	readPids := func() {
		if m.usage != nil && !pidsRead {
			pidsHit, pidsRead = m.usage.pidsLimitHit(), true
		}
	}
	kill := func(why string) {
		reason = why
		readPids()
		unix.PidfdSendSignal(m.pidfd, unix.SIGKILL, nil, 0)
		if m.cg != nil {
			killFinished(m.cg)
		}
	}
	wall, cpu := m.limits.WallTime, m.limits.CPUTime
	deadline := s.Mono + int64(wall)
	ncpu := time.Duration(onlineCPUs())
	nextCPU := int64(0)
	fds := []unix.PollFd{{Fd: int32(m.pidfd), Events: unix.POLLIN}}
	if m.events != nil {
		fds = append(fds, unix.PollFd{Fd: int32(m.events.fd), Events: unix.POLLIN})
	}
	for {
		now := monotonicNow()
		var timeout *unix.Timespec
		wake := func(at int64) {
			d := max(at-now, 0)
			if timeout == nil || d < timeout.Nano() {
				t := unix.NsecToTimespec(d)
				timeout = &t
			}
		}
		if reason == "" && wall > 0 {
			if now >= deadline {
				kill("wall-time-limit")
			} else {
				wake(deadline)
			}
		}
		if reason == "" && cpu > 0 {
			if now >= nextCPU {
				t, err := m.usage.total()
				if err == nil && t-base > cpu {
					kill("cpu-time-limit")
				}
				// The container cannot use more than all the CPUs: no
				// need to look before it could have reached the limit,
				// and at most a millisecond late near it.
				next := min(max((cpu-(t-base))/ncpu, time.Millisecond), 50*time.Millisecond)
				nextCPU = now + int64(next)
			}
			if reason == "" {
				wake(nextCPU)
			}
		}
		for i := range fds {
			fds[i].Revents = 0
		}
		if _, err := unix.Ppoll(fds, timeout, nil); err != nil && err != unix.EINTR {
			return nil, fmt.Errorf("watch the container: %w", err)
		}
		if len(fds) > 1 && fds[1].Revents != 0 {
			m.events.drain()
		}
		if fds[0].Revents != 0 {
			break
		}
	}
	end := monotonicNow()
	status, rusage, known := m.exitStatus()
	readPids()
	if m.cg != nil {
		killFinished(m.cg)
		waitEmpty(m.cg, time.Second)
	}
	r := &Report{WallTime: time.Duration(end - s.Mono).Seconds()}
	switch {
	case !known:
		r.Status, r.ExitCode = "unknown", -1
	case status.Signaled():
		r.Status, r.Signal = "signaled", int(status.Signal())
	default:
		r.Status, r.ExitCode = "exited", status.ExitStatus()
	}
	if rusage != nil {
		r.PeakMemory = uint64(rusage.Maxrss) * 1024
	}
	if m.usage != nil {
		if total, user, sys, err := m.usage.cpu(); err == nil {
			// The init's share is taken from user and system time in
			// proportion: the kernel splits them by sampling anyway.
			prog := max(total-base, 0)
			r.CPUTime = prog.Seconds()
			if user+sys > 0 {
				r.UserTime = (time.Duration(float64(prog) * float64(user) / float64(user+sys))).Seconds()
				r.SystemTime = r.CPUTime - r.UserTime
			}
		}
		if p := m.usage.peakMemory(); p > 0 {
			r.PeakMemory = p
		}
		r.PidsLimitHit = pidsHit
		if reason == "" && r.Signal == int(unix.SIGKILL) && m.usage.oomKills() > 0 {
			reason = "memory-limit"
		}
	}
	if m.events != nil {
		m.events.drain()
		if n, exact := m.events.processes(); exact {
			r.Processes = &n
		}
	}
	if reason != "" {
		r.Reason = reason
		if reason != "memory-limit" {
			r.Status = "killed"
		}
	}
	return r, nil
}

// exitStatus returns how the init ended, once its pidfd said it did. The
// caller that created it waits for it (and gets its rusage). Any other
// monitor is not its parent, and races with the parent that reaps it:
// the zombie's status is in /proc/<pid>/stat until it is reaped, and from
// Linux 6.15 the pidfd keeps it after (PIDFD_INFO_EXIT). On older kernels
// a parent that reaps first leaves the status unknown.
func (m *Monitor) exitStatus() (unix.WaitStatus, *syscall.Rusage, bool) {
	if p := m.c.init; p != nil {
		if ws, ru, err := p.proc.wait(); err == nil {
			return unix.WaitStatus(ws), ru, true
		}
		return 0, nil, false
	}
	for delay := 100 * time.Microsecond; delay < 100*time.Millisecond; delay *= 2 {
		info := unix.PidfdInfo{Mask: unix.PIDFD_INFO_EXIT}
		err := unix.IoctlPidfdInfo(m.pidfd, &info)
		if err == nil && info.Mask&unix.PIDFD_INFO_EXIT != 0 {
			return unix.WaitStatus(info.Exit_code), nil, true
		}
		if code, ok := zombieExitCode(m.proc); ok {
			return unix.WaitStatus(code), nil, true
		}
		// Reaped between the two, with the pidfd's copy on its way; or a
		// kernel without it.
		if err != nil {
			break
		}
		time.Sleep(delay)
	}
	return 0, nil, false
}

// zombieExitCode reads the exit_code field (52) of a zombie's
// /proc/<pid>/stat, through the /proc/<pid> directory opened while it
// lived.
func zombieExitCode(dir *os.File) (int, bool) {
	fd, err := unix.Openat(int(dir.Fd()), "stat", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, false
	}
	defer unix.Close(fd)
	buf := make([]byte, 2048)
	n, err := unix.Read(fd, buf)
	if err != nil || n <= 0 {
		return 0, false
	}
	data := buf[:n]
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 || i+2 >= len(data) {
		return 0, false
	}
	f := splitFields(data[i+2:])
	// f[0] is field 3, the state; exit_code is field 52.
	if len(f) < 50 || f[0][0] != 'Z' {
		return 0, false
	}
	code, err := strconv.Atoi(string(f[49]))
	return code, err == nil
}

// waitEmpty waits (bounded) until the killed processes of the cgroup are
// gone: their last CPU time and forks are then accounted.
func waitEmpty(m cgroups.Manager, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for delay := 100 * time.Microsecond; hasProcesses(m) && time.Now().Before(deadline); delay = min(delay*2, 10*time.Millisecond) {
		time.Sleep(delay)
	}
}

// Meta renders the report as isolate's meta file, for graders written for
// isolate.
func (r *Report) Meta() string {
	var b strings.Builder
	fmt.Fprintf(&b, "time:%.3f\n", r.CPUTime)
	fmt.Fprintf(&b, "time-wall:%.3f\n", r.WallTime)
	fmt.Fprintf(&b, "max-rss:%d\n", r.PeakMemory/1024)
	fmt.Fprintf(&b, "cg-mem:%d\n", r.PeakMemory/1024)
	if r.Signal != 0 {
		fmt.Fprintf(&b, "exitsig:%d\n", r.Signal)
	} else {
		fmt.Fprintf(&b, "exitcode:%d\n", r.ExitCode)
	}
	if r.Reason == "memory-limit" {
		b.WriteString("cg-oom-killed:1\n")
	}
	switch {
	case r.Reason == "wall-time-limit" || r.Reason == "cpu-time-limit":
		b.WriteString("killed:1\nstatus:TO\n")
		if r.Reason == "wall-time-limit" {
			b.WriteString("message:Time limit exceeded (wall clock)\n")
		} else {
			b.WriteString("message:Time limit exceeded\n")
		}
	case r.Signal != 0:
		b.WriteString("status:SG\n")
		fmt.Fprintf(&b, "message:Caught fatal signal %d\n", r.Signal)
	case r.ExitCode != 0:
		b.WriteString("status:RE\n")
		fmt.Fprintf(&b, "message:Exited with error status %d\n", r.ExitCode)
	}
	return b.String()
}
