package libtabox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"

	"github.com/tabox/tabox/internal/sysfile"
)

// Container is a container known to the state store.
type Container struct {
	root  string
	id    string
	state *savedState
	// init is set in the process that created the container, which is the
	// init's parent and may wait for it (tabox run).
	init *initProcess
	// cinit: the init is the C one, which runs no hook.
	cinit bool
	// selfReady: the C init does not ask at its ready (see selfReady).
	selfReady bool
	// cinitJoins: the C init is in the container's cgroup by itself: it
	// joins the v1 hierarchies, and is born in the v2 one.
	cinitJoins bool
}

// ID returns the container's ID.
func (c *Container) ID() string { return c.id }

// Config returns the container's configuration.
func (c *Container) Config() *Config { return &c.state.Config }

// Pid returns the host PID of the container's init.
func (c *Container) Pid() int { return c.state.InitPid }

// Create creates the container id under root from cfg: on success the
// container's init has set everything up and waits for Start.
func Create(root, id string, cfg *Config, opts CreateOpts) (_ *Container, retErr error) {
	if opts.Debugf == nil {
		opts.Debugf = func(string, ...any) {}
	}
	terminal := cfg.Process != nil && cfg.Process.Terminal
	if err := checkConsole(terminal, &opts.ConsoleSocket, &opts.Console); err != nil {
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
	var prog *SeccompProgram
	if cfg.Seccomp != nil {
		var err error
		if prog, err = compileSeccompCached(cfg.Seccomp); err != nil {
			return nil, fmt.Errorf("seccomp: %w", err)
		}
		if err := checkListener(cfg.Seccomp, prog); err != nil {
			return nil, err
		}
		for _, name := range prog.Ignored {
			opts.Debugf("seccomp: syscall %q is unknown here, its rule is ignored", name)
		}
	}
	dir, err := newStateDir(root, id)
	if err != nil {
		return nil, err
	}
	defer dir.unlock()
	cfg.ID = id
	c := &Container{root: root, id: id}
	defer func() {
		if retErr != nil {
			dir.remove()
		}
	}()
	ic := &initConfig{
		Config:       cfg,
		Seccomp:      prog,
		PreserveFds:  opts.PreserveFds,
		NoNewKeyring: opts.NoNewKeyring,
		// Raising is all an unprivileged user may do, and the init can.
		SelfOOMScoreAdj: os.Geteuid() != 0,
	}
	ic.cinit = useCInit(ic, &opts)
	c.cinit = ic.cinit
	startNow := opts.Start != nil && ic.cinit && len(cfg.Hooks.Prestart) == 0 &&
		(opts.Start.Watched || cfg.Limits == (Limits{}))
	if !startNow {
		// Writable by all: the init opens it after switching to the
		// container's user. mkfifo applies the umask, hence the chmod.
		if err := unix.Mkfifo(dir.fifoPath(), 0o622); err != nil {
			return nil, fmt.Errorf("create exec fifo: %w", err)
		}
		if err := os.Chmod(dir.fifoPath(), 0o622); err != nil {
			return nil, fmt.Errorf("create exec fifo: %w", err)
		}
		if err := chownFifo(dir.fifoPath(), cfg); err != nil {
			return nil, err
		}
		ic.FifoPath = dir.fifoPath()
	}
	if ic.cinit {
		opts.Debugf("container init: the C one")
	} else {
		opts.Debugf("container init: the Go one (the config needs what only it does, or TABOX_INIT=go)")
	}
	st := &savedState{
		stateHeader: stateHeader{
			ID:       id,
			Creating: true,
			Created:  time.Now().UTC(),
			Owner:    ownerName(),
		},
		Config: *cfg,
	}
	c.state = st
	var p *initProcess
	var cg cgroups.Manager
	defer func() {
		if retErr != nil {
			if p != nil {
				p.kill()
			}
			if !cfg.HasNamespace(NEWNS) {
				unmountUnder(cfg.Rootfs)
			}
			if cg != nil {
				killCgroup(cg)
				destroyCgroup(cg)
				removeParents(st.CgroupParents)
			}
			// The runtime-spec: a failed create is destroyed, and the
			// poststop hooks still run.
			runHooksWarn("poststop", cfg.Hooks.Poststop, c.stateJSON(Stopped), opts.Debugf)
		}
	}()
	// Where does the init join the container's cgroup? Any move of a
	// process between cgroups by pid waits, when the cgroup lock has been
	// idle, for an RCU grace period (milliseconds): the C init, a single
	// thread, moves itself into each v1 hierarchy instead ("0" in tasks),
	// and is born in a v2 one (clone3 CLONE_INTO_CGROUP), which then
	// exists before it starts. The Go init is moved by pid; the wait is
	// paid early, by a no-op move of tabox.
	bornIn := ic.cinit && cfg.Cgroup != nil && canCloneIntoCgroup(cfg.Cgroup)
	if cfg.Cgroup != nil && !ic.cinit {
		go primeCgroupMigration()
	}
	var planned cgroups.Manager
	if ic.cinit && cfg.Cgroup != nil {
		if planned, st.CgroupParents, err = planCgroup(cfg.Cgroup); err != nil {
			return nil, err
		}
		st.CgroupPaths = planned.GetPaths()
		ic.CgroupPaths = st.CgroupPaths
		bornIn = bornIn && st.CgroupPaths[""] != ""
		// Without a v2 hierarchy, or born in it; otherwise tabox moves the
		// init into that one (and, again, into the others).
		c.cinitJoins = st.CgroupPaths[""] == "" || bornIn
	}
	ic.selfReady = selfReady(ic, cfg.Cgroup == nil || c.cinitJoins)
	c.selfReady = ic.selfReady
	if bornIn {
		cg = planned
		// Saved first, so that delete finds the cgroup.
		if err := dir.saveHeader(st); err != nil {
			return nil, err
		}
		if err := applyCgroup(planned, cfg.Cgroup, st.CgroupParents, -1, true); err != nil {
			return nil, err
		}
		fd, err := sysfile.Open(st.CgroupPaths[""], unix.O_PATH|unix.O_DIRECTORY, 0)
		if err != nil {
			return nil, fmt.Errorf("cgroup: %w", err)
		}
		f := os.NewFile(uintptr(fd), st.CgroupPaths[""])
		defer f.Close()
		ic.cgroupDir = f
	}
	if p, err = startInit(ic, &opts); err != nil {
		return nil, err
	}
	c.init = p
	// The C init's config depends on nothing the init's start makes: it
	// is worked out while the init starts.
	if ic.cinit {
		b, err := encodeCInit(ic)
		if err != nil {
			return nil, err
		}
		if _, err := p.sync.f.Write(b); err != nil {
			return nil, fmt.Errorf("send config to container init: %w", err)
		}
	}
	st.InitPid = p.pid()
	if startTime, _, ok := procStat(st.InitPid); ok {
		st.InitStartTime = startTime
	}
	// The cgroup is made and limited now; the Go init joins it once its
	// own Go code has done the heavy part of the setup (see joinLate), so
	// that tabox's memory is never charged to the container, whose limit
	// may be smaller than a Go runtime. A new cgroup namespace is rooted
	// where its creator is: with one, the init joins before anything else.
	//
	// The C init has its config already and mounts while the cgroup is
	// made: it needs the cgroup only for the cgroup mount and to join,
	// and waits for a byte that says it is there (see cinit.c).
	if cfg.Cgroup != nil && planned == nil {
		pid := -1
		if !c.joinLate() {
			pid = p.pid()
		}
		cg, st.CgroupParents, err = enterCgroup(cfg.Cgroup, pid)
		if err != nil {
			return nil, err
		}
		st.CgroupPaths = cg.GetPaths()
		ic.CgroupPaths = st.CgroupPaths
	}
	if planned != nil {
		cg = planned
	}
	// Saved before the init goes on: if create dies from here on, delete
	// finds the pid and the cgroup to clean up. The C init waits for its
	// cgroup, for which the header is enough; the whole state is saved
	// once it has the cgroup, while it mounts.
	save := dir.save
	if planned != nil {
		save = dir.saveHeader
	}
	if err := save(st); err != nil {
		return nil, err
	}
	if goInitGetsPidsMax(ic) {
		if err := sendPidsMax(p, ic.CgroupPaths); err != nil {
			return nil, err
		}
	}
	if !ic.cinit {
		if err := p.sync.enc.Encode(ic); err != nil {
			return nil, fmt.Errorf("send config to container init: %w", err)
		}
	}
	if planned != nil {
		// The init waits for the cgroup to exist (to mount it and to join
		// it), not for its limits: they are written while it mounts, and
		// are all there before the handshake answers its ready, that is
		// before it executes the program.
		if !bornIn {
			if err := makeCgroup(planned, cfg.Cgroup, st.CgroupParents, -1); err != nil {
				return nil, err
			}
		}
		if err := sendCgroupFiles(p, ic); err != nil {
			if rerr := p.sync.reportedError(); rerr != nil {
				return nil, fmt.Errorf("container init: %w", rerr)
			}
			return nil, fmt.Errorf("send config to container init: %w", err)
		}
		if !bornIn {
			if err := setCgroupLimits(planned, cfg.Cgroup, true); err != nil {
				return nil, err
			}
		}
		if err := dir.save(st); err != nil {
			return nil, err
		}
	}
	var release func() error
	if startNow {
		release = func() error { return c.release(dir, &opts) }
	}
	if err := c.handshake(dir, &opts, release); err != nil {
		return nil, err
	}
	p.done()
	if release != nil && len(cfg.Hooks.Poststart) > 0 {
		warnf := opts.Start.Warnf
		if warnf == nil {
			warnf = func(string, ...any) {}
		}
		// The runtime-spec: a failing poststart hook only warns.
		runHooksWarn("poststart", cfg.Hooks.Poststart, c.stateJSON(Running), warnf)
	}
	return c, nil
}

// joinLate reports whether the init joins the container's cgroup during
// the handshake rather than at once: it does unless it creates a cgroup
// namespace, which must be rooted at the container's cgroup.
func (c *Container) joinLate() bool {
	cfg := &c.state.Config
	path, ok := cfg.NamespacePath(NEWCGROUP)
	return cfg.Cgroup != nil && !(ok && path == "")
}

// joinCgroup moves pid into the container's cgroup.
func (c *Container) joinCgroup(pid int) error {
	m, err := c.cgroup()
	if err != nil || m == nil {
		return err
	}
	return joinCgroup(m, pid)
}

// checkConsole matches a terminal with a console, with runc's errors.
func checkConsole(terminal bool, socket *string, conn **os.File) error {
	has := *socket != "" || *conn != nil
	switch {
	case terminal && !has:
		return errors.New("cannot allocate tty if tabox will detach without setting console socket")
	case !terminal && has:
		return errors.New("cannot use console socket if tabox will not detach or allocate tty")
	}
	return nil
}

// handshake drives the init through create (see the diagram in sync.go),
// and through start as well with release (see Container.release).
func (c *Container) handshake(dir *stateDir, opts *CreateOpts, release func() error) error {
	cfg := &c.state.Config
	p := c.init
	if release != nil && c.selfReady {
		// The init asks nothing before it executes the process.
		c.state.Creating = false
		return release()
	}
	joined := false
	for {
		// Errors are the init's, or of the work done here on its behalf
		// (hooks, rlimits, oom_score_adj), which name themselves.
		m, err := p.sync.recv()
		if err == io.EOF {
			return errors.New("container init exited during setup")
		}
		if err != nil {
			return fmt.Errorf("container init: %w", err)
		}
		switch m.Type {
		case msgHooks, msgReady:
			// Before any hook the init runs, and before the steps it
			// still has to take (credentials, seccomp, exec): from here
			// on, what it allocates is the container's.
			if c.joinLate() && !joined && !c.cinitJoins {
				if err := c.joinCgroup(p.pid()); err != nil {
					return err
				}
				joined = true
			}
		}
		switch m.Type {
		case msgHooks:
			state := c.stateJSON(Creating)
			if err := runHooks("createRuntime", cfg.Hooks.CreateRuntime, state); err != nil {
				return err
			}
			if err := p.sync.send(syncMsg{Type: msgHooksDone, State: state}); err != nil {
				return err
			}
		case msgReady:
			if cfg.Process != nil {
				if err := applyRlimits(p.pid(), cfg.Process.Rlimits); err != nil {
					return fmt.Errorf("rlimits: %w", err)
				}
			}
			if os.Geteuid() == 0 {
				if err := applyOOMScoreAdj(p.pid(), cfg.OOMScoreAdj); err != nil {
					return err
				}
			}
			// The state is for the startContainer hooks the Go init runs.
			var state []byte
			if !c.cinit {
				state = c.stateJSON(Created)
			}
			if err := p.sync.send(syncMsg{Type: msgReadyDone, State: state}); err != nil {
				return err
			}
		case msgSeccomp:
			if err := passListener(p.sync, cfg.Seccomp, p.pid(), c.ociState(Creating)); err != nil {
				return err
			}
		case msgCreated:
			c.state.Creating = false
			if release != nil {
				return release()
			}
			if err := dir.save(c.state); err != nil {
				return err
			}
			if err := p.sync.send(syncMsg{Type: msgSaved}); err != nil {
				return err
			}
			// The init closes its end once it no longer depends on us.
			if _, err := p.sync.recv(); err != io.EOF {
				if err == nil {
					err = errors.New("unexpected message after create")
				}
				return fmt.Errorf("container init: %w", err)
			}
			p.sync.close()
			return nil
		default:
			return fmt.Errorf("container init: unexpected sync message %q", m.Type)
		}
	}
}

// release lets an init that has no exec fifo execute the process, once
// the state is saved, and waits until it has (Start, without the fifo).
func (c *Container) release(dir *stateDir, opts *CreateOpts) error {
	p := c.init
	if opts.BeforeStart != nil {
		if err := opts.BeforeStart(c); err != nil {
			return err
		}
	}
	if err := dir.save(c.state); err != nil {
		return err
	}
	if err := p.sync.send(syncMsg{Type: msgSaved}); err != nil {
		if rerr := p.sync.reportedError(); rerr != nil {
			return fmt.Errorf("container init: %w", rerr)
		}
		return err
	}
	if c.selfReady {
		// Unasked, the init says when it is set up: an error before is
		// the create's.
		if _, err := p.sync.expect(msgCreated); err != nil {
			if err == io.EOF {
				return errors.New("container init exited during setup")
			}
			return fmt.Errorf("container init: %w", err)
		}
	}
	m, err := p.sync.recv()
	if err == nil && m.Type != msgExec {
		err = fmt.Errorf("unexpected sync message %q", m.Type)
	}
	if err == nil {
		// The exec closes the init's end.
		if _, err = p.sync.recv(); err == nil {
			err = errors.New("unexpected message after exec")
		} else if err == io.EOF {
			err = nil
		}
	} else if err == io.EOF {
		err = errors.New("exited before it could start the process")
	}
	if err != nil {
		return &StartError{Err: fmt.Errorf("container init: %w", err)}
	}
	p.sync.close()
	// A judge's clock starts when the init executes the process.
	startedAt, mono := time.Now(), monotonicNow()
	if m.Mono > 0 && m.Mono <= mono {
		startedAt, mono = startedAt.Add(-time.Duration(mono-m.Mono)), m.Mono
	}
	s := c.state
	s.Started, s.StartedAt, s.StartedMono, s.InitCPU = true, startedAt, mono, m.CPU
	return dir.save(s)
}

// Run creates the container and starts it, as tabox run and tabox sandbox
// do: in one go when Create can (see CreateOpts.Start), otherwise with
// Start once created. opts.BeforeStart runs before the process is
// released either way. A container that could not be started is deleted;
// the error of its start is a *StartError.
func Run(root, id string, cfg *Config, opts CreateOpts, start StartOpts) (*Container, error) {
	if start.Warnf == nil {
		start.Warnf = func(string, ...any) {}
	}
	opts.Start = &start
	c, err := Create(root, id, cfg, opts)
	if err != nil || c.state.Started {
		return c, err
	}
	// Deleted and reaped, as a failed create's init is.
	undo := func() {
		Delete(root, id, true, start.Warnf)
		c.Wait()
	}
	if opts.BeforeStart != nil {
		if err := opts.BeforeStart(c); err != nil {
			undo()
			return nil, err
		}
	}
	if err := Start(root, id, start); err != nil {
		undo()
		return nil, &StartError{Err: err}
	}
	// Start saved the times of the start.
	l, err := Load(root, id)
	if err != nil {
		return nil, err
	}
	c.state = l.state
	return c, nil
}

// StartError is an error of the start that Create made (CreateOpts.Start).
type StartError struct{ Err error }

func (e *StartError) Error() string { return e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

// chownFifo lets a container init that runs as a mapped root open the fifo.
func chownFifo(path string, cfg *Config) error {
	if !cfg.HasNamespace(NEWUSER) {
		return nil
	}
	uid, gid := hostID(cfg.UIDMappings, 0), hostID(cfg.GIDMappings, 0)
	if uid < 0 || gid < 0 {
		return nil
	}
	if err := os.Chown(path, uid, gid); err != nil && !errors.Is(err, unix.EPERM) {
		return fmt.Errorf("chown exec fifo: %w", err)
	}
	return nil
}

// hostID maps a container id to the host, or returns -1.
func hostID(maps []IDMap, id uint32) int {
	for _, m := range maps {
		if id >= m.ContainerID && id-m.ContainerID < m.Size {
			return int(m.HostID + (id - m.ContainerID))
		}
	}
	return -1
}

// Load finds the container id under root.
func Load(root, id string) (*Container, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	// Readers do not take the lock: state.json is replaced atomically,
	// and a hook run by create may itself ask for the state.
	d := &stateDir{path: filepath.Join(root, id)}
	if fi, err := os.Lstat(d.path); err != nil || !fi.IsDir() {
		return nil, ErrNotExist
	}
	s, err := d.load()
	if err != nil {
		return nil, err
	}
	if s == nil {
		// Being created, or a create that died before saving.
		s = &savedState{stateHeader: stateHeader{ID: id}}
	}
	return &Container{root: root, id: id, state: s}, nil
}

// lockAndLoad locks the container's state directory, then loads it: a
// command that changes a container reads its state under the lock.
func lockAndLoad(root, id string) (*stateDir, *Container, error) {
	dir, err := lockStateDir(root, id)
	if err != nil {
		return nil, nil, err
	}
	c, err := Load(root, id)
	if err != nil {
		dir.unlock()
		return nil, nil, err
	}
	return dir, c, nil
}

// List returns the containers under root, by ID.
func List(root string) ([]*Container, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("read state root: %w", err)
	}
	var out []*Container
	for _, e := range entries {
		// Hidden entries (the seccomp cache) are not containers.
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") || ValidateID(e.Name()) != nil {
			continue
		}
		c, err := Load(root, e.Name())
		if err != nil {
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// Status works the status out from the real process: the stored state is
// only a hint.
func (c *Container) Status() Status {
	s := c.state
	if s.InitPid == 0 {
		return Creating
	}
	if !s.initAlive() {
		return Stopped
	}
	if s.Creating {
		return Creating
	}
	if c.frozen() {
		return Paused
	}
	if _, err := os.Lstat(filepath.Join(c.root, c.id, fifoName)); err == nil {
		return Created
	}
	return Running
}

// State returns the container's OCI state.
func (c *Container) State() *State {
	return c.ociState(c.Status())
}

func (c *Container) ociState(status Status) *State {
	cfg := &c.state.Config
	st := &State{
		OCIVersion:  cfg.OCIVersion,
		ID:          c.id,
		Status:      status.String(),
		Bundle:      cfg.Bundle,
		Annotations: cfg.Annotations,
		Rootfs:      cfg.Rootfs,
		Created:     c.state.Created,
		Owner:       c.state.Owner,
	}
	if status != Stopped {
		st.Pid = c.state.InitPid
	}
	return st
}

func (c *Container) stateJSON(status Status) []byte {
	st := c.ociState(status)
	if status == Creating || status == Stopped {
		// Hooks see the init's PID while there is one.
		st.Pid = c.state.InitPid
	}
	b, _ := json.Marshal(st)
	return b
}

// StartOpts are the options of one start.
type StartOpts struct {
	// Warnf receives warnings (a failing poststart hook); nil drops them.
	Warnf func(string, ...any)
	// Watched says the caller monitors the judge limits itself, with a
	// Monitor prepared before start: it created the init and waits for it
	// (tabox run, tabox sandbox). Otherwise start leaves a detached monitor
	// behind for a container that has limits.
	Watched bool
}

// Start releases a created container's init to exec the user's process.
func Start(root, id string, opts StartOpts) error {
	warnf := opts.Warnf
	if warnf == nil {
		warnf = func(string, ...any) {}
	}
	dir, c, err := lockAndLoad(root, id)
	if err != nil {
		return err
	}
	defer dir.unlock()
	if st := c.Status(); st != Created {
		return &StateError{Op: "start", Status: st, Want: "created"}
	}
	if c.state.Config.Process == nil {
		return errors.New("cannot start a container that has no process (config.json has no \"process\")")
	}
	// The runtime-spec (config.md): prestart hooks run "after the start
	// operation is called but before the user-specified program command is
	// executed", in the runtime namespace; a failure stops the container.
	// A failure stops and destroys the container (lifecycle, step 9 of
	// runtime-spec 1.0.2), as a failing create hook does.
	if err := runHooks("prestart", c.state.Config.Hooks.Prestart, c.stateJSON(Created)); err != nil {
		if derr := c.destroy(dir, Created, warnf); derr != nil {
			warnf("destroy container after a failed prestart hook: %v", derr)
		}
		return err
	}
	var mon *monitorConn
	if !opts.Watched && c.state.Config.Limits != (Limits{}) {
		if mon, err = spawnMonitor(dir.path); err != nil {
			return fmt.Errorf("judge limits: %w", err)
		}
		c.state.MonitorPid, c.state.MonitorStartTime = mon.pid, mon.startTime
		// Saved before the release: a start killed from here on leaves a
		// monitor that delete can find and stop, and report can read.
		if err := dir.save(c.state); err != nil {
			mon.abort()
			return err
		}
	}
	// A judge's wall clock starts here, when the process is released.
	startedAt, mono := time.Now(), monotonicNow()
	if err := releaseFifo(dir.fifoPath(), c.state); err != nil {
		mon.abort()
		return err
	}
	c.state.Started, c.state.StartedAt, c.state.StartedMono = true, startedAt, mono
	mon.started(c.Started())
	if err := dir.save(c.state); err != nil {
		return err
	}
	// The runtime-spec: a failing poststart hook only warns.
	runHooksWarn("poststart", c.state.Config.Hooks.Poststart, c.stateJSON(Running), warnf)
	return nil
}

// releaseFifo opens the exec fifo for reading, which lets the init's
// blocked open return, and waits until the init has exec'd the process:
// the init keeps its end open, close-on-exec, and writes there the error
// that stopped it, if any. It never blocks forever on a dead init.
func releaseFifo(path string, s *savedState) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", err)
	}
	defer unix.Close(fd)
	var got []byte
	released := false
	buf := make([]byte, 4096)
	for {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 100)
		if err != nil && err != unix.EINTR {
			return fmt.Errorf("wait for container init: %w", err)
		}
		if n > 0 {
			r, _ := unix.Read(fd, buf)
			if r > 0 {
				got = append(got, buf[:r]...)
				if !released {
					// The init is past the fifo: the container is no
					// longer "created", whatever happens next.
					os.Remove(path)
					released = true
				}
				continue
			}
			if r == 0 && released {
				// Every writer is gone: the init exec'd or died.
				s.InitCPU, err = parseFifoMessage(got)
				return err
			}
			if fds[0].Revents&unix.POLLHUP != 0 {
				return errors.New("container init exited before it could start the process")
			}
		}
		if !released && !s.initAlive() {
			return errors.New("container init exited before it could start the process")
		}
	}
}

// parseFifoMessage reads what the init wrote to the exec fifo: one byte
// when it opened it, then "C<ns>\n", its CPU time in nanoseconds, just
// before exec; or "E<error>" when a step after start failed.
func parseFifoMessage(got []byte) (initCPU int64, err error) {
	if len(got) == 0 {
		return 0, errors.New("container init exited before it could start the process")
	}
	msg := got[1:]
	if len(msg) > 0 && msg[0] == 'C' {
		line, rest, _ := strings.Cut(string(msg[1:]), "\n")
		initCPU, _ = strconv.ParseInt(line, 10, 64)
		msg = []byte(rest)
	}
	if len(msg) > 0 {
		return initCPU, fmt.Errorf("container init: %s", strings.TrimPrefix(string(msg), "E"))
	}
	return initCPU, nil
}

// Signal sends sig to the container's init, or with all to every process
// of the container.
func (c *Container) Signal(sig unix.Signal, all bool) error {
	st := c.Status()
	if st == Stopped || st == Creating {
		return ErrNotRunning
	}
	if all {
		return c.signalAll(sig)
	}
	if err := signalInit(c.state, sig); err != nil {
		return err
	}
	// A frozen process dies of SIGKILL only once thawed; other signals
	// wait for resume, as with runc.
	if sig == unix.SIGKILL && st == Paused {
		if m, err := c.cgroup(); err == nil && m != nil {
			m.Freeze(cgroups.Thawed)
		}
	}
	return nil
}

// cgroup returns the manager of the container's cgroup, or nil.
func (c *Container) cgroup() (cgroups.Manager, error) {
	if len(c.state.CgroupPaths) == 0 {
		return nil, nil
	}
	cfg := c.state.Config.Cgroup
	if cfg == nil {
		// The state of a create that died with only the header saved:
		// the paths alone find the cgroup, to remove it.
		cfg = &Cgroup{}
	}
	return cgroupManager(cfg, c.state.CgroupPaths)
}

// signalAll signals every process of the container: those of its cgroup,
// or without one, those of its PID namespace.
func (c *Container) signalAll(sig unix.Signal) error {
	m, err := c.cgroup()
	if err != nil {
		return err
	}
	if m == nil {
		return signalAll(c.state, sig)
	}
	if !c.state.initAlive() && !hasProcesses(m) {
		return ErrNoSuchProcess
	}
	return signalCgroup(m, sig)
}

func hasProcesses(m cgroups.Manager) bool {
	pids, err := m.GetAllPids()
	return err == nil && len(pids) > 0
}

// signalInit signals the init through a pidfd, so that a recycled PID can
// never receive it.
func signalInit(s *savedState, sig unix.Signal) error {
	if s.InitPid <= 0 {
		return ErrNoSuchProcess
	}
	pidfd, err := unix.PidfdOpen(s.InitPid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return ErrNoSuchProcess
		}
		return fmt.Errorf("pidfd_open %d: %w", s.InitPid, err)
	}
	defer unix.Close(pidfd)
	// The pidfd pins the process: if it is still the init now, the signal
	// cannot reach anybody else.
	if !s.initAlive() {
		return ErrNoSuchProcess
	}
	if err := unix.PidfdSendSignal(pidfd, sig, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return ErrNoSuchProcess
		}
		return fmt.Errorf("signal %d: %w", s.InitPid, err)
	}
	return nil
}

// signalAll signals every process in the container's PID namespace. A
// container that shares the host's PID namespace has only its init.
func signalAll(s *savedState, sig unix.Signal) error {
	if !s.Config.HasNamespace(NEWPID) {
		return signalInit(s, sig)
	}
	initNS, err := os.Readlink("/proc/" + strconv.Itoa(s.InitPid) + "/ns/pid")
	if err != nil {
		return ErrNoSuchProcess
	}
	// Stop the init first so that it cannot fork while we look.
	if sig == unix.SIGKILL {
		if err := signalInit(s, sig); err != nil {
			return err
		}
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return fmt.Errorf("read /proc: %w", err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == s.InitPid {
			continue
		}
		if ns, err := os.Readlink("/proc/" + e.Name() + "/ns/pid"); err == nil && ns == initNS {
			unix.Kill(pid, sig)
		}
	}
	if sig != unix.SIGKILL {
		return signalInit(s, sig)
	}
	return nil
}

// Delete destroys the container: kills what is left of it (only with
// force if it is not stopped), removes its state, and runs the poststop
// hooks.
func Delete(root, id string, force bool, warnf func(string, ...any)) error {
	dir, c, err := lockAndLoad(root, id)
	if err != nil {
		return err
	}
	defer dir.unlock()
	st := c.Status()
	switch st {
	case Created, Running, Paused:
		if !force {
			return &StateError{Op: "delete", Status: st, Want: "stopped, or use --force"}
		}
	}
	return c.destroy(dir, st, warnf)
}

// destroy undoes create: kills what is left of the container, removes its
// cgroup and state, and runs the poststop hooks. Preconditions: dir is
// locked.
func (c *Container) destroy(dir *stateDir, st Status, warnf func(string, ...any)) error {
	// First, so that it does not wake up to a dying container.
	stopMonitor(c.state)
	// A stopped container may still have processes (without a PID
	// namespace, children outlive the init), and a half-created one an
	// init: nothing of it may stay.
	if err := c.signalAll(unix.SIGKILL); err != nil && !errors.Is(err, ErrNoSuchProcess) {
		return fmt.Errorf("kill container: %w", err)
	}
	if err := waitGone(c.state, 10*time.Second); err != nil {
		return err
	}
	m, err := c.cgroup()
	if err != nil {
		return err
	}
	if m != nil {
		if err := destroyCgroup(m); err != nil {
			return err
		}
		removeParents(c.state.CgroupParents)
	}
	// Without a mount namespace, the container's mounts were made in the
	// runtime's: they go with it.
	if cfg := &c.state.Config; cfg.Rootfs != "" && !cfg.HasNamespace(NEWNS) {
		if err := unmountUnder(cfg.Rootfs); err != nil {
			return err
		}
	}
	if err := dir.remove(); err != nil {
		return err
	}
	// The state is made only for hooks that read it.
	if hooks := c.state.Config.Hooks.Poststop; st != Creating && len(hooks) > 0 {
		runHooksWarn("poststop", hooks, c.stateJSON(Stopped), warnf)
	}
	return nil
}

// waitGone waits until the init is dead (a zombie counts: its parent reaps
// it, not us).
func waitGone(s *savedState, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for delay := time.Millisecond; s.initAlive(); delay = min(delay*2, 50*time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("container init %d still alive after SIGKILL", s.InitPid)
		}
		time.Sleep(delay)
	}
	return nil
}

// Wait waits for the init of a container created by this process and
// returns its exit code (128+N for signal N).
func (c *Container) Wait() (int, error) {
	if c.init == nil {
		return -1, errors.New("container was not created by this process")
	}
	ws, _, err := c.init.proc.wait()
	if err != nil {
		return -1, fmt.Errorf("wait for container: %w", err)
	}
	return waitStatus(ws), nil
}

// Process returns the init when this process created it.
func (c *Container) Process() *Child {
	if c.init == nil {
		return nil
	}
	return c.init.proc
}
