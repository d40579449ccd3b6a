package libtabox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	// or "killed" (by tabox, at a limit).
	Status   string `json:"status"`
	ExitCode int    `json:"exitCode"`
	Signal   int    `json:"signal,omitempty"`
	// Reason says why tabox or the kernel killed the program:
	// "wall-time-limit", "cpu-time-limit" or "memory-limit".
	Reason string `json:"reason,omitempty"`
	// PidsLimitHit says a fork failed at the pids limit.
	PidsLimitHit bool `json:"pidsLimitHit,omitempty"`
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
// its own memory (a Go runtime) to the cgroup before it executed the
// program, and that is not the program's.
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

// Monitor waits for a container this process created and started,
// enforcing limits from start (the wall clock starts when start released
// the process), and returns the report. When a limit is hit, every
// process of the container is killed.
func (c *Container) Monitor(start time.Time, initCPU int64, limits Limits) (*Report, error) {
	if c.init == nil {
		return nil, errors.New("container was not created by this process")
	}
	m, err := c.cgroup()
	if err != nil {
		return nil, err
	}
	if m == nil && limits.CPUTime > 0 {
		return nil, errors.New("a CPU time limit needs the container's cgroup (a rootless container has none unless it asks for limits)")
	}
	var usage *cgroupUsage
	// The container's init, tabox's own Go code, ran in the cgroup before
	// it executed the program: its CPU time, which it reported to start,
	// is not the program's.
	base := time.Duration(initCPU)
	if m != nil {
		usage = &cgroupUsage{m: m, v2: cgroups.IsCgroup2UnifiedMode()}
		usage.resetPeak()
	}
	done := make(chan error, 1)
	go func() { done <- c.init.cmd.Wait() }()

	var wall <-chan time.Time
	if limits.WallTime > 0 {
		t := time.NewTimer(time.Until(start.Add(limits.WallTime)))
		defer t.Stop()
		wall = t.C
	}
	var poll <-chan time.Time
	if limits.CPUTime > 0 {
		// Often enough for millisecond precision on a limit of a second,
		// cheap enough not to steal the program's CPU.
		tk := time.NewTicker(2 * time.Millisecond)
		defer tk.Stop()
		poll = tk.C
	}
	reason := ""
	kill := func(why string) {
		if reason == "" {
			reason = why
			if m != nil {
				killCgroup(m)
			}
			c.init.cmd.Process.Kill()
		}
	}
	var waitErr error
loop:
	for {
		select {
		case waitErr = <-done:
			break loop
		case <-wall:
			kill("wall-time-limit")
		case <-poll:
			if t, err := usage.total(); err == nil && t-base > limits.CPUTime {
				kill("cpu-time-limit")
			}
		}
	}
	end := time.Now()
	ps := c.init.cmd.ProcessState
	if ps == nil {
		return nil, fmt.Errorf("wait for container: %w", waitErr)
	}
	// Whatever the init left behind (without a PID namespace) is done
	// with too.
	if m != nil {
		killCgroup(m)
	}
	r := &Report{WallTime: end.Sub(start).Seconds()}
	ws := ps.Sys().(syscall.WaitStatus)
	switch {
	case ws.Signaled():
		r.Status, r.Signal = "signaled", int(ws.Signal())
	default:
		r.Status, r.ExitCode = "exited", ws.ExitStatus()
	}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		r.PeakMemory = uint64(ru.Maxrss) * 1024
	}
	if usage != nil {
		if total, user, sys, err := usage.cpu(); err == nil {
			// The init's share is taken from user and system time in
			// proportion: the kernel splits them by sampling anyway.
			prog := max(total-base, 0)
			r.CPUTime = prog.Seconds()
			if user+sys > 0 {
				r.UserTime = (time.Duration(float64(prog) * float64(user) / float64(user+sys))).Seconds()
				r.SystemTime = r.CPUTime - r.UserTime
			}
		}
		if p := usage.peakMemory(); p > 0 {
			r.PeakMemory = p
		}
		r.PidsLimitHit = usage.pidsLimitHit()
		if reason == "" && r.Signal == int(unix.SIGKILL) && usage.oomKills() > 0 {
			reason = "memory-limit"
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
