package testenv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The suites that drive daemons (containerd, podman, dockerd) are the
// subreaper of the shims and monitors those daemonize: a reaper reaps the
// zombies that no exec.Cmd of ours waits for, and commands are tracked so
// that it never steals their exit status.
var (
	procMu  sync.Mutex
	tracked = map[int]bool{}
)

// StartReaper reaps, every 100 ms, the zombie children of this process
// that no exec.Cmd of ours waits for. The function it returns stops it,
// after one last pass.
func StartReaper() func() {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			reapOrphans()
		}
	}()
	return func() { close(stop); <-done; reapOrphans() }
}

func reapOrphans() {
	procMu.Lock()
	defer procMu.Unlock()
	self := os.Getpid()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || tracked[pid] {
			continue
		}
		if ppid, state := ProcStat(pid); ppid == self && state == "Z" {
			var ws unix.WaitStatus
			unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		}
	}
}

// ProcStat returns pid's parent and state letter from /proc/<pid>/stat,
// or -1 and "" when it is gone.
func ProcStat(pid int) (ppid int, state string) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1, ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return -1, ""
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return -1, ""
	}
	ppid, _ = strconv.Atoi(f[1])
	return ppid, f[0]
}

// Result is what a command printed and how it ended.
type Result struct {
	Stdout, Stderr string
	Code           int
	Err            error
}

func (r Result) String() string {
	return fmt.Sprintf("exit %d (err %v)\nstdout: %q\nstderr: %q", r.Code, r.Err, r.Stdout, r.Stderr)
}

// CmdOpts tweak one command: Env is added to ours, Timeout defaults to a
// minute.
type CmdOpts struct {
	Env     []string
	Stdin   io.Reader
	Timeout time.Duration
	Dir     string
}

// Run runs name args, its pid kept from the reaper until it is waited for.
func Run(o CmdOpts, name string, args ...string) Result {
	if o.Timeout == 0 {
		o.Timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), o.Env...)
	cmd.Dir = o.Dir
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	cmd.Stdin = o.Stdin
	cmd.WaitDelay = 5 * time.Second
	procMu.Lock()
	err := cmd.Start()
	if err == nil {
		tracked[cmd.Process.Pid] = true
	}
	procMu.Unlock()
	if err != nil {
		return Result{Code: -1, Err: err}
	}
	err = cmd.Wait()
	procMu.Lock()
	delete(tracked, cmd.Process.Pid)
	procMu.Unlock()
	r := Result{Stdout: so.String(), Stderr: se.String(), Err: err, Code: cmd.ProcessState.ExitCode()}
	if ctx.Err() != nil {
		r.Err = fmt.Errorf("timed out after %v: %w", o.Timeout, err)
	}
	return r
}

// StartBg starts a daemon with its output in logFile; stop signals it and
// waits for it to exit (killing it after 15 s).
func StartBg(o CmdOpts, logFile string, name string, args ...string) (stop func(sig unix.Signal) error, err error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), o.Env...)
	cmd.Dir = o.Dir
	lf, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = lf, lf
	procMu.Lock()
	err = cmd.Start()
	if err == nil {
		tracked[cmd.Process.Pid] = true
	}
	procMu.Unlock()
	if err != nil {
		lf.Close()
		return nil, err
	}
	waited := make(chan error, 1)
	go func() {
		waited <- cmd.Wait()
		procMu.Lock()
		delete(tracked, cmd.Process.Pid)
		procMu.Unlock()
		lf.Close()
	}()
	return func(sig unix.Signal) error {
		cmd.Process.Signal(sig)
		select {
		case err := <-waited:
			return err
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-waited
			return fmt.Errorf("%s did not exit on %v: killed", name, sig)
		}
	}, nil
}

// InPty runs argv under script(1), so that it has a terminal of its own
// (24 rows, 80 columns).
func InPty(o CmdOpts, argv ...string) Result {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	cmdline := "stty rows 24 cols 80 2>/dev/null; exec " + strings.Join(q, " ")
	if o.Stdin == nil {
		// Not a pipe: with a pipe at EOF, script(1) feeds the session an EOF
		// and the container's terminal calls fail (stty: ECHILD).
		if f, err := os.Open("/dev/null"); err == nil {
			defer f.Close()
			o.Stdin = f
		}
	}
	return Run(o, "script", "-qefc", cmdline, "/dev/null")
}

// Poll calls f until it returns true or timeout passes.
func Poll(timeout time.Duration, f func() bool) bool {
	end := time.Now().Add(timeout)
	for time.Now().Before(end) {
		if f() {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return f()
}

// ProcsMatching lists live (non-zombie) processes whose command line or
// cgroup mentions one of needles.
func ProcsMatching(needles ...string) []string {
	var out []string
	self := os.Getpid()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		if _, st := ProcStat(pid); st == "Z" || st == "" {
			continue
		}
		cl, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		hay := strings.ReplaceAll(string(cl), "\x00", " ") + "\n" + string(cg)
		for _, n := range needles {
			if n != "" && strings.Contains(hay, n) {
				out = append(out, fmt.Sprintf("pid %d: %s", pid, strings.ReplaceAll(string(cl), "\x00", " ")))
				break
			}
		}
	}
	return out
}

// MountsUnder lists the mount points of this mount namespace at or under
// dir.
func MountsUnder(dir string) []string {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			out = append(out, f[4])
		}
	}
	return out
}

// LastLines returns the last n lines of a file, for failure messages.
func LastLines(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	l := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
