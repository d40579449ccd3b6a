package libtabox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The detached monitor: what start leaves behind to enforce a container's
// judge limits when no tabox process waits for it (containerd's shim,
// conmon, or a grader driving create and start).
//
//	tabox start                          tabox monitor <state dir>, fd 3
//	  spawn it: own session, no stdio ─▶
//	                                       pidfd and /proc dir of the init,
//	                                       its cgroup, process events
//	                             ◀──────  "R" (or "E<error>", and exit)
//	  release the exec fifo
//	  "S <mono> <wall> <initCPU>\n" ──▶
//	  save the state, exit                 watch until the init exits, then
//	                                       write report.json (or report.err)
//	                                       under the state lock, and exit
//
// A start that fails sends "A" instead, which ends the monitor; one that
// dies without a word leaves it to find out whether the process was
// released (the exec fifo is gone), and to watch it from then if so.
// The monitor is start's child only while start runs, and never the
// init's parent: containerd's shim and conmon reap the init as its
// subreaper, and reap the monitor the same way once start has exited. It
// holds none of start's stdio, which they read until its end.

const (
	reportFile    = "report.json"
	reportErrFile = "report.err"
	// monitorTimeout bounds start's wait for the monitor to be ready.
	monitorTimeout = 10 * time.Second
)

// monitorConn is start's end of a detached monitor.
type monitorConn struct {
	fd        int
	pid       int
	startTime uint64
}

// spawnMonitor starts the detached monitor of the container whose state
// directory is dir, and returns once it watches the init.
func spawnMonitor(dir string) (_ *monitorConn, retErr error) {
	// It runs in /: a relative --root would lead it astray.
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	theirs := os.NewFile(uintptr(fds[1]), "monitor")
	defer theirs.Close()
	mc := &monitorConn{fd: fds[0]}
	defer func() {
		if retErr != nil {
			mc.abort()
		}
	}()
	// From the sealed copy, as the init: a container without a PID
	// namespace of its own sees the monitor.
	exe, err := sealedSelf()
	if err != nil {
		return nil, err
	}
	defer exe.Close()
	exeHigh, exePath, err := execPathAbove(exe, 4)
	if err != nil {
		return nil, err
	}
	defer exeHigh.Close()
	cmd := &exec.Cmd{
		Path: exePath,
		Args: []string{"tabox", "monitor", dir},
		// One P is all it needs: less memory for as long as it runs.
		Env:         []string{"GOMAXPROCS=1"},
		Dir:         "/",
		ExtraFiles:  []*os.File{theirs},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the monitor: %w", err)
	}
	mc.pid = cmd.Process.Pid
	mc.startTime, _, _ = procStat(mc.pid)
	// Not waited for: whoever reaps start's orphans reaps it.
	cmd.Process.Release()
	theirs.Close()

	fdsPoll := []unix.PollFd{{Fd: int32(mc.fd), Events: unix.POLLIN}}
	deadline := time.Now().Add(monitorTimeout)
	for {
		n, err := unix.Poll(fdsPoll, int(time.Until(deadline).Milliseconds())+1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("wait for the monitor: %w", err)
		}
		if n == 0 {
			unix.Kill(mc.pid, unix.SIGKILL)
			return nil, fmt.Errorf("the monitor was not ready after %v", monitorTimeout)
		}
		break
	}
	buf := make([]byte, 4096)
	n, _ := unix.Read(mc.fd, buf)
	switch {
	case n >= 1 && buf[0] == 'R':
		return mc, nil
	case n >= 1 && buf[0] == 'E':
		return nil, fmt.Errorf("monitor: %s", buf[1:n])
	}
	return nil, errors.New("the monitor exited before it was ready")
}

// started tells the monitor that the process was released, and lets it go.
func (mc *monitorConn) started(s Started) {
	if mc == nil {
		return
	}
	unix.Write(mc.fd, []byte(fmt.Sprintf("S %d %d %d\n", s.Mono, s.Wall.UnixNano(), s.InitCPU)))
	mc.close()
}

// abort tells the monitor that nothing was released: it exits.
func (mc *monitorConn) abort() {
	if mc != nil && mc.fd >= 0 {
		unix.Write(mc.fd, []byte("A"))
		mc.close()
	}
}

func (mc *monitorConn) close() {
	unix.Close(mc.fd)
	mc.fd = -1
}

// RunMonitor is the detached monitor: tabox re-executed by start as
// "tabox monitor <state dir>", with its socket as fd 3. It never returns.
func RunMonitor(args []string) {
	runtime.GOMAXPROCS(1)
	// Nothing may ptrace it or open its /proc files: a container without a
	// PID namespace sees it, as the same user.
	unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	var st unix.Stat_t
	if len(args) != 1 || unix.Fstat(3, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		fmt.Fprintln(os.Stderr, "tabox monitor: not started by tabox start")
		os.Exit(2)
	}
	// Go's fork passes on every fd start inherited without close-on-exec
	// (a caller's pipe, a shim's log): the monitor outlives start, and
	// would hold them until the container ends. Nothing of its own is
	// open yet past its socket: the Go runtime opens its poller with the
	// first file, below.
	if err := unix.CloseRange(4, ^uint(0), 0); err != nil {
		fmt.Fprintf(os.Stderr, "tabox monitor: close inherited fds: %v\n", err)
		os.Exit(2)
	}
	if err := runMonitor(args[0], 3); err != nil {
		os.Exit(1)
	}
	os.Exit(0)
}

func runMonitor(dir string, sock int) error {
	defer unix.Close(sock)
	root, id := filepath.Split(filepath.Clean(dir))
	fail := func(err error) error {
		unix.Write(sock, []byte("E"+err.Error()))
		return err
	}
	c, err := Load(root, id)
	if err != nil {
		return fail(err)
	}
	m, err := c.NewMonitor(c.state.Config.Limits)
	if err != nil {
		return fail(err)
	}
	defer m.Close()
	if _, err := unix.Write(sock, []byte("R")); err != nil {
		return err
	}
	s, msg := readStarted(sock)
	switch {
	case msg == "A":
		return nil
	case msg != "S":
		// start died. Past the release, the fifo is gone and the
		// program runs: it is watched from now, the CPU time of tabox's
		// init in the container counted as the program's.
		if _, err := os.Lstat(filepath.Join(dir, fifoName)); !errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		s = Started{Wall: time.Now(), Mono: monotonicNow()}
	}
	r, err := m.Run(s)
	return saveReport(root, id, r, err)
}

// readStarted reads start's last word until it closes the socket: "S"
// with what it tells, "A", or nothing.
func readStarted(sock int) (Started, string) {
	var got []byte
	buf := make([]byte, 128)
	for {
		n, err := unix.Read(sock, buf)
		if err == unix.EINTR {
			continue
		}
		if n <= 0 {
			break
		}
		got = append(got, buf[:n]...)
	}
	var s Started
	var wall int64
	line, _, _ := strings.Cut(string(got), "\n")
	if line == "A" {
		return s, "A"
	}
	if _, err := fmt.Sscanf(line, "S %d %d %d", &s.Mono, &wall, &s.InitCPU); err != nil {
		return s, ""
	}
	s.Wall = time.Unix(0, wall)
	return s, "S"
}

// SaveReport keeps a report with the container's state, for tabox report.
func (c *Container) SaveReport(r *Report) error {
	return saveReport(c.root, c.id, r, nil)
}

// saveReport writes report.json (or, on a failure, report.err) into the
// container's state directory, under its lock: a delete that holds the
// lock first removes the directory, and nothing is written.
func saveReport(root, id string, r *Report, failure error) error {
	dir, err := lockStateDir(root, id)
	if err != nil {
		return err
	}
	defer dir.unlock()
	name, data := reportFile, []byte(nil)
	if failure != nil {
		name, data = reportErrFile, []byte(failure.Error())
	} else if data, err = json.MarshalIndent(r, "", "  "); err != nil {
		return err
	}
	tmp := filepath.Join(dir.path, "."+name+".tmp")
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir.path, name)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// ReadReport returns the report of a container (the JSON of tabox run
// --report): the one its detached monitor wrote when it exited, or one
// kept by SaveReport. It is there until delete.
func ReadReport(root, id string) ([]byte, error) {
	c, err := Load(root, id)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(root, id)
	deadline := time.Now().Add(5 * time.Second)
	for delay := time.Millisecond; ; delay = min(delay*2, 50*time.Millisecond) {
		data, err := os.ReadFile(filepath.Join(dir, reportFile))
		if err == nil {
			return data, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read report: %w", err)
		}
		if msg, err := os.ReadFile(filepath.Join(dir, reportErrFile)); err == nil {
			return nil, fmt.Errorf("the container's monitor failed: %s", strings.TrimSpace(string(msg)))
		}
		switch st := c.Status(); st {
		case Creating, Created:
			return nil, errors.New("the container has not been started: its report is written when it exits")
		case Running, Paused:
			return nil, errors.New("the container is still running: its report is written when it exits")
		}
		s := c.state
		switch {
		case !s.Started:
			return nil, errors.New("the container's process was never started (its start failed): there is no report")
		case s.MonitorPid == 0 && s.Config.Limits == (Limits{}):
			return nil, errors.New("the container has no report: it has no judge limits, so start left no monitor to write one")
		case s.MonitorPid == 0:
			return nil, errors.New("the container has no report: tabox run, which watched it, writes the report to --report (and keeps it here with --keep)")
		case !alive(s.MonitorPid, s.MonitorStartTime):
			// It may have written it just now.
			if data, err := os.ReadFile(filepath.Join(dir, reportFile)); err == nil {
				return data, nil
			}
			return nil, errors.New("the container's monitor exited without writing the report")
		case time.Now().After(deadline):
			return nil, errors.New("the container's monitor has not written the report yet")
		}
		// The init has just exited: the monitor is finishing.
		time.Sleep(delay)
	}
}

// stopMonitor kills the detached monitor if it still runs: its report
// goes with the state.
func stopMonitor(s *savedState) {
	if s.MonitorPid <= 0 {
		return
	}
	fd, err := unix.PidfdOpen(s.MonitorPid, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	// The pidfd holds the process: is it still the monitor?
	if !alive(s.MonitorPid, s.MonitorStartTime) {
		return
	}
	unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
	for {
		_, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 2000)
		if err != unix.EINTR {
			return
		}
	}
}
