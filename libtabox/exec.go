package libtabox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"

	"github.com/tabox/tabox/internal/sysfile"
)

// ExecOpts are the options of one exec.
type ExecOpts struct {
	// Stdin, Stdout and Stderr become the process's stdio.
	Stdin, Stdout, Stderr *os.File
	// PreserveFds passes fds 3 … 3+PreserveFds-1 on to the process.
	PreserveFds int
	// IgnorePaused allows exec into a paused container.
	IgnorePaused bool
	// ConsoleSocket or Console receive the pty master when the process
	// has a terminal (see CreateOpts).
	ConsoleSocket string
	Console       *os.File
}

// ExecProcess is a process tabox executed in a running container.
type ExecProcess struct {
	init *initProcess
}

// Pid returns the host PID of the process.
func (p *ExecProcess) Pid() int { return p.init.pid() }

// Process returns the process, to signal it.
func (p *ExecProcess) Process() *Child { return p.init.proc }

// Wait waits for the process and returns its exit code (128+N for
// signal N).
func (p *ExecProcess) Wait() (int, error) {
	c := &Container{init: p.init}
	return c.Wait()
}

// nsFiles names the /proc/<pid>/ns entry of each namespace type.
var nsFiles = map[NamespaceType]string{
	NEWPID: "pid", NEWNET: "net", NEWNS: "mnt", NEWIPC: "ipc", NEWUTS: "uts",
	NEWUSER: "user", NEWCGROUP: "cgroup", NEWTIME: "time",
}

// Exec starts proc in the container: in each of its namespaces, its
// cgroup, under its seccomp filter, with proc's user, capabilities, cwd
// and environment. It returns once the process has been executed.
//
// Joining the container's mount and user namespaces is done by the
// re-executed tabox's C constructor (package nsenter), before the Go
// runtime starts threads; the PID namespace by the thread that forks it.
func (c *Container) Exec(proc *Process, opts ExecOpts) (_ *ExecProcess, retErr error) {
	switch st := c.Status(); {
	case st == Paused && !opts.IgnorePaused:
		return nil, &StateError{Op: "exec in", Status: st, Want: "running (or use --ignore-paused)"}
	case st != Running && st != Created && st != Paused:
		return nil, &StateError{Op: "exec in", Status: st, Want: "created or running"}
	}
	if err := checkConsole(proc.Terminal, &opts.ConsoleSocket, &opts.Console); err != nil {
		return nil, err
	}
	if opts.ConsoleSocket != "" {
		f, err := dialConsoleSocket(opts.ConsoleSocket)
		if err != nil {
			return nil, fmt.Errorf("--console-socket: %w", err)
		}
		defer f.Close()
		opts.Console = f
	}
	s := c.state
	// The pidfd pins the init while its namespaces are opened by path.
	pidfd, err := unix.PidfdOpen(s.InitPid, 0)
	if err != nil {
		return nil, fmt.Errorf("container init %d: %w", s.InitPid, err)
	}
	defer unix.Close(pidfd)
	cfg := s.Config
	cfg.Process = proc
	var joined []Namespace
	for _, ns := range s.Config.Namespaces {
		joined = append(joined, Namespace{Type: ns.Type, Path: fmt.Sprintf("/proc/%d/ns/%s", s.InitPid, nsFiles[ns.Type])})
	}
	cfg.Namespaces = joined
	if !s.initAlive() {
		return nil, ErrNotRunning
	}
	var prog *SeccompProgram
	if cfg.Seccomp != nil {
		if prog, err = compileSeccompCached(cfg.Seccomp); err != nil {
			return nil, fmt.Errorf("seccomp: %w", err)
		}
		if err := checkListener(cfg.Seccomp, prog); err != nil {
			return nil, err
		}
	}
	ic := &initConfig{Config: &cfg, Seccomp: prog, PreserveFds: opts.PreserveFds, Exec: true}
	if !s.Config.HasNamespace(NEWNS) {
		ic.ChrootPid = s.InitPid
	}
	if a := proc.ExecCPUAffinity; a != nil {
		ic.initialCPUs = a.Initial
	}
	createOpts := &CreateOpts{Stdin: opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr,
		PreserveFds: opts.PreserveFds, Console: opts.Console}
	ic.cinit = useCInit(ic, createOpts)
	// The C init joins the v1 hierarchies itself, by their tasks files,
	// opened here (it sees the container's mounts), and is born in the v2
	// one; any other join is a move by pid, whose wait this pays early
	// (see Create).
	paths := s.CgroupPaths
	cinitJoins := ic.cinit && len(paths) > 0 && (paths[""] == "" || (cfg.Cgroup != nil && canCloneIntoCgroup(cfg.Cgroup)))
	if cinitJoins {
		files, err := openFiles(tasksFiles(paths), os.O_WRONLY)
		if err != nil {
			return nil, fmt.Errorf("join cgroup: %w", err)
		}
		defer closeFileList(files)
		ic.cgroupFiles = files
		if paths[""] != "" {
			fd, err := sysfile.Open(paths[""], unix.O_PATH|unix.O_DIRECTORY, 0)
			if err != nil {
				return nil, fmt.Errorf("join cgroup: %w", err)
			}
			dir := os.NewFile(uintptr(fd), paths[""])
			defer dir.Close()
			ic.cgroupDir = dir
		}
	} else if len(paths) > 0 {
		go primeCgroupMigration()
	}
	ic.selfReady = selfReady(ic, len(paths) == 0 || cinitJoins)
	p, err := startInit(ic, createOpts)
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			p.kill()
		}
	}()
	if ic.cinit {
		var b []byte
		if b, err = encodeCInit(ic); err == nil {
			_, err = p.sync.f.Write(b)
		}
	} else {
		err = p.sync.enc.Encode(ic)
	}
	if err != nil {
		return nil, fmt.Errorf("send config to the exec process: %w", err)
	}
	// The C init may set its rlimits itself and wait for ready-done
	// without a ready (see selfReady).
	if !ic.selfReady {
		if _, err := p.sync.expect(msgReady); err != nil {
			return nil, execError(err)
		}
		// Joined once the process has started its Go runtime and read its
		// configuration, which are tabox's memory, not the container's
		// (see Create); the C init has joined already.
		if !cinitJoins {
			if err := c.joinCgroup(p.pid()); err != nil {
				return nil, err
			}
		}
		if err := applyRlimits(p.pid(), proc.Rlimits); err != nil {
			return nil, fmt.Errorf("rlimits: %w", err)
		}
	}
	if err := p.sync.send(syncMsg{Type: msgReadyDone}); err != nil {
		if rerr := p.sync.reportedError(); rerr != nil {
			return nil, execError(rerr)
		}
		return nil, err
	}
	// The sync socket is close-on-exec in the process: EOF means it has
	// been executed; anything else is its error. Before that, a filter
	// with SCMP_ACT_NOTIFY has a listener fd of its own for the agent.
	for {
		m, err := p.sync.recv()
		if err == io.EOF {
			break
		}
		if err == nil && m.Type != msgSeccomp {
			err = fmt.Errorf("unexpected sync message %q", m.Type)
		}
		if err == nil {
			err = passListener(p.sync, cfg.Seccomp, p.pid(), c.ociState(c.Status()))
		}
		if err != nil {
			return nil, execError(err)
		}
	}
	p.sync.close()
	p.done()
	return &ExecProcess{init: p}, nil
}

func execError(err error) error {
	if err == io.EOF {
		return errors.New("exec process exited during setup")
	}
	return fmt.Errorf("exec process: %w", err)
}

// joinCgroup moves pid into every directory of the container's cgroup.
func joinCgroup(m cgroups.Manager, pid int) error {
	for _, dir := range m.GetPaths() {
		if err := cgroups.WriteCgroupProc(dir, pid); err != nil {
			return fmt.Errorf("join cgroup %s: %w", dir, err)
		}
	}
	return nil
}

// runExec is the init of an exec: its namespaces are joined already (by
// the constructor and the forking thread); it sets up the process and
// execs it.
func runExec(p *syncPipe, ic *initConfig) error {
	proc := ic.Config.Process
	if err := step("close fds", unix.CloseRange(uint(3+ic.PreserveFds), ^uint(0), unix.CLOSE_RANGE_CLOEXEC)); err != nil {
		return err
	}
	if _, err := roundTrip(p, msgReady, msgReadyDone); err != nil {
		return err
	}
	if err := step("rlimits", resetNofileCache(proc)); err != nil {
		return err
	}
	// The cgroup is joined: from here the final set sticks.
	if a := proc.ExecCPUAffinity; a != nil && a.Final != nil {
		if err := step("cpu affinity", setAffinity(0, a.Final)); err != nil {
			return err
		}
	}
	if ic.ChrootPid > 0 {
		if err := step("root", chrootRoot("/proc/"+strconv.Itoa(ic.ChrootPid)+"/root")); err != nil {
			return err
		}
	}
	if err := step("cwd", enterCwd(proc.Cwd)); err != nil {
		return err
	}
	if proc.Terminal && ic.ConsoleFd > 0 {
		if err := step("terminal", setupExecTerminal(proc, ic.ConsoleFd)); err != nil {
			return err
		}
	}
	if err := setProcessAttrs(ic.Config.Personality, proc); err != nil {
		return err
	}
	if err := becomeProcess(p, proc, ic.Seccomp, nil); err != nil {
		return err
	}
	path, err := lookPath(proc)
	if err != nil {
		return step("executable", err)
	}
	// tabox exec listens until the exec, so even a filter with a listener
	// can come this late.
	if ic.Seccomp != nil && proc.NoNewPrivileges {
		if err := loadSeccompFilter(p, ic.Seccomp); err != nil {
			return err
		}
	}
	// The process outlives tabox exec (--detach): the parent-death
	// signal, kept across execve, must go.
	if err := step("parent death signal", unix.Prctl(unix.PR_SET_PDEATHSIG, 0, 0, 0, 0)); err != nil {
		return err
	}
	return step("exec", unix.Exec(path, proc.Args, proc.Env))
}
