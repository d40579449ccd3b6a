package libtabox

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/tabox/tabox/internal/sysfile"
	"github.com/tabox/tabox/libtabox/capability"
)

// CreateOpts are the options of one create, apart from the container's
// definition.
type CreateOpts struct {
	// Stdin, Stdout and Stderr become the container's stdio.
	Stdin, Stdout, Stderr *os.File
	// ConsoleSocket is the AF_UNIX socket to send a pty master to.
	ConsoleSocket string
	// Console, instead of ConsoleSocket, is a connected socket to send the
	// pty master to (tabox run in the foreground keeps the other end).
	Console *os.File
	// PreserveFds passes fds 3 … 3+PreserveFds-1 on to the container.
	PreserveFds int
	// NoNewKeyring keeps the caller's session keyring.
	NoNewKeyring bool
	// Debugf, if set, receives debug messages.
	Debugf func(format string, args ...any)
	// Start, if set, makes Create start the container too, as Start(root,
	// id, *Start) would once Create returned, when it can: when the C init
	// sets the container up and there is no prestart hook or detached
	// monitor to run at start. There is then no exec fifo: the init
	// executes the process right after the state is saved, and Create
	// returns once it has. Run sets it, and starts the container otherwise.
	Start *StartOpts
	// BeforeStart, with Start, runs once the container is created and just
	// before its process is released (a Monitor to make).
	BeforeStart func(*Container) error
}

// initConfig is what the init receives before it does anything.
type initConfig struct {
	// The container's definition, as converted from the bundle.
	Config *Config `json:"config"`
	// Seccomp is the filter compiled by the parent; the init only loads it.
	Seccomp *SeccompProgram `json:"seccomp,omitempty"`
	// initialCPUs is the CPU set the init starts on (exec only); the
	// forking thread applies it, so it is never sent.
	initialCPUs []int

	// Runtime options of this create.
	FifoPath     string `json:"fifoPath"`
	PreserveFds  int    `json:"preserveFds,omitempty"`
	NoNewKeyring bool   `json:"noNewKeyring,omitempty"`
	// NewTimeNS asks the init to create the time namespace itself: clone(2)
	// cannot (CLONE_NEWTIME collides with the exit-signal bits).
	NewTimeNS bool `json:"newTimeNS,omitempty"`
	// NewCgroupNS asks the init to create the cgroup namespace itself,
	// once it is in its cgroup, so that the namespace's root is that
	// cgroup and not tabox's.
	NewCgroupNS bool `json:"newCgroupNS,omitempty"`
	// CgroupPaths are the container's cgroup directories, bound into a
	// container without a cgroup namespace.
	CgroupPaths map[string]string `json:"cgroupPaths,omitempty"`
	// Exec says this is the init of tabox exec, not of a container.
	Exec bool `json:"exec,omitempty"`
	// ChrootPid, for an exec into a container without a mount namespace
	// of its own, is its init, whose root the process takes.
	ChrootPid int `json:"chrootPid,omitempty"`
	// ConsoleFd is the init's fd of the console socket, or 0.
	ConsoleFd int `json:"consoleFd,omitempty"`
	// SelfOOMScoreAdj has the init set its own oom_score_adj: an
	// unprivileged tabox may not write the file of its non-dumpable init.
	SelfOOMScoreAdj bool `json:"selfOOMScoreAdj,omitempty"`
	// IDMapFds are the init's fds of the idmapped trees the parent made,
	// by the index of their mount in Config.Mounts.
	IDMapFds map[int]int `json:"idmapFds,omitempty"`
	// cinit: the init is the C one (cinit.go), which gets another encoding.
	cinit bool
	// selfReady: the C init sets its rlimits itself, and tabox has
	// nothing else to do at its ready (see selfReady).
	selfReady bool
	// cgroupDir, if set, is the container's v2 cgroup, which the init is
	// started in (CLONE_INTO_CGROUP).
	cgroupDir *os.File
	// pidsMax is the container's pids.max, which tabox opened and sent
	// the Go init ahead of the config (see sendPidsMax).
	pidsMax *os.File
	// cgroupFiles are the cgroup's tasks files, opened for the C init of
	// an exec to join by (it cannot reach the host's); cgroupFds are its
	// fd numbers of them.
	cgroupFiles []*os.File
	cgroupFds   []int
}

var nsFlags = map[NamespaceType]int{
	NEWPID:    unix.CLONE_NEWPID,
	NEWNET:    unix.CLONE_NEWNET,
	NEWNS:     unix.CLONE_NEWNS,
	NEWIPC:    unix.CLONE_NEWIPC,
	NEWUTS:    unix.CLONE_NEWUTS,
	NEWUSER:   unix.CLONE_NEWUSER,
	NEWCGROUP: unix.CLONE_NEWCGROUP,
	NEWTIME:   unix.CLONE_NEWTIME,
}

// initProcess is the parent's handle on a container init it started.
type initProcess struct {
	// What start runs: the binary, its arguments and environment, its
	// fds from 0 on, and how it is cloned.
	path  string
	args  []string
	env   []string
	files []*os.File
	sys   *syscall.SysProcAttr
	proc  *Child
	sync  *syncPipe
	// release lets the thread that started the init exit (see startInit).
	release chan struct{}
}

// nsPlan is how the parent gets the init into its namespaces.
type nsPlan struct {
	cloneFlags   uintptr
	unshareFlags int
	newTime      bool
	newCgroup    bool
	// joins are opened namespace files the init's constructor setns into,
	// the user namespace first.
	joins     []*os.File
	joinTypes []int
	// pidNS, if set, is joined by the thread that forks the init: a PID
	// namespace is entered by the children of the caller, not by it.
	pidNS *os.File
	// forkInNS: the PID namespace is among joins, and the constructor
	// forks the init after joining it. An unprivileged parent cannot join
	// a PID namespace its user namespace does not own; the init, once in
	// the container's user namespace, can.
	forkInNS bool
}

func (p *nsPlan) close() {
	for _, f := range p.joins {
		f.Close()
	}
	if p.pidNS != nil {
		p.pidNS.Close()
	}
}

// planNamespaces opens the namespaces to join and works out the flags of
// the ones to create.
func planNamespaces(cfg *Config) (*nsPlan, error) {
	p := &nsPlan{}
	_, userJoined := cfg.NamespacePath(NEWUSER)
	if path, _ := cfg.NamespacePath(NEWUSER); path == "" {
		userJoined = false
	}
	// The user namespace goes first so that the others are joined with
	// the capabilities it grants.
	ordered := make([]Namespace, 0, len(cfg.Namespaces))
	for _, ns := range cfg.Namespaces {
		if ns.Type == NEWUSER {
			ordered = append([]Namespace{ns}, ordered...)
		} else {
			ordered = append(ordered, ns)
		}
	}
	for _, ns := range ordered {
		flag, ok := nsFlags[ns.Type]
		if !ok {
			p.close()
			return nil, fmt.Errorf("unknown namespace type %q", ns.Type)
		}
		if ns.Path == "" {
			switch {
			case ns.Type == NEWTIME:
				p.newTime = true
			case ns.Type == NEWCGROUP:
				p.newCgroup = true
			case userJoined:
				// Created inside the joined user namespace, so that it
				// owns them.
				p.unshareFlags |= flag
			default:
				p.cloneFlags |= uintptr(flag)
			}
			continue
		}
		f, err := openNamespace(ns.Path, flag)
		if err != nil {
			p.close()
			return nil, fmt.Errorf("join %s namespace: %w", ns.Type, err)
		}
		if ns.Type == NEWPID && !(userJoined && os.Geteuid() != 0) {
			p.pidNS = f
			continue
		}
		p.forkInNS = p.forkInNS || ns.Type == NEWPID
		p.joins = append(p.joins, f)
		p.joinTypes = append(p.joinTypes, flag)
	}
	return p, nil
}

// openNamespace opens a namespace file and checks that it is one, of the
// expected type: a bind-mounted ordinary file must not be taken for one.
func openNamespace(path string, flag int) (*os.File, error) {
	fd, err := sysfile.Open(path, unix.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), path)
	const nsGetNstype = 0xb703 // _IO(0xb7, 0x3)
	t, err := unix.IoctlRetInt(int(f.Fd()), nsGetNstype)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s is not a namespace: %w", path, err)
	}
	if t != flag {
		f.Close()
		return nil, fmt.Errorf("%s is a namespace of another type", path)
	}
	return f, nil
}

// startInit starts the container's init from a sealed copy of tabox, in
// the namespaces of cfg. The init waits for its configuration.
func startInit(ic *initConfig, opts *CreateOpts) (_ *initProcess, retErr error) {
	cfg := ic.Config
	plan, err := planNamespaces(cfg)
	if err != nil {
		return nil, err
	}
	defer plan.close()
	ic.NewTimeNS = plan.newTime
	ic.NewCgroupNS = plan.newCgroup

	// Before the init exists: a bad mapping or source fails create with
	// nothing to undo but these fds.
	var trees map[int]*os.File
	if !ic.Exec {
		if trees, err = openIDMappedMounts(cfg); err != nil {
			return nil, err
		}
		// The init gets its own copies; the trees live as long as one is open.
		defer closeFiles(trees)
	}

	exe, err := sealedSelf()
	if err != nil {
		return nil, err
	}
	defer exe.Close()

	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	parentSock := os.NewFile(uintptr(fds[0]), "sync-parent")
	childSock := os.NewFile(uintptr(fds[1]), "sync-child")
	defer childSock.Close()
	defer func() {
		if retErr != nil {
			parentSock.Close()
		}
	}()

	// The init's fds: stdio, then the preserved fds at 3… (where the
	// container expects them), then the sync socket, then the namespaces
	// to join.
	var extra []*os.File
	for i := 0; i < opts.PreserveFds; i++ {
		extra = append(extra, os.NewFile(uintptr(3+i), "preserved"))
	}
	syncFd := 3 + len(extra)
	extra = append(extra, childSock)
	extra = append(extra, plan.joins...)
	if opts.Console != nil {
		ic.ConsoleFd = 3 + len(extra)
		extra = append(extra, opts.Console)
	}
	for _, f := range ic.cgroupFiles {
		ic.cgroupFds = append(ic.cgroupFds, 3+len(extra))
		extra = append(extra, f)
	}
	for _, i := range sortedIndexes(trees) {
		if ic.IDMapFds == nil {
			ic.IDMapFds = map[int]int{}
		}
		ic.IDMapFds[i] = 3 + len(extra)
		extra = append(extra, trees[i])
	}
	exeHigh, exePath, err := execPathAbove(exe, 3+len(extra))
	if err != nil {
		return nil, err
	}
	defer exeHigh.Close()
	p := &initProcess{
		path: exePath,
		args: []string{"tabox", "init"},
		// GOMAXPROCS=1: the init runs one thread's worth of steps, and a
		// runtime sized for every CPU of a big host costs start-up time.
		env:   []string{"_TABOX_SYNCFD=" + strconv.Itoa(syncFd), "GOMAXPROCS=1"},
		files: append([]*os.File{opts.Stdin, opts.Stdout, opts.Stderr}, extra...),
		sys: &syscall.SysProcAttr{
			Cloneflags: plan.cloneFlags,
			// Until the state is saved, a dying tabox create takes its
			// half-made container with it.
			Pdeathsig: unix.SIGKILL,
		},
	}
	if len(plan.joins) > 0 {
		var parts []string
		for i, t := range plan.joinTypes {
			parts = append(parts, fmt.Sprintf("%d:%d", syncFd+1+i, t))
		}
		p.env = append(p.env, "_TABOX_SETNS="+strings.Join(parts, ","))
	}
	if ic.cinit {
		p.env = append(p.env, "_TABOX_CINIT=1")
	} else if goInitGetsPidsMax(ic) {
		p.env = append(p.env, "_TABOX_PIDSFD=1")
	}
	if plan.unshareFlags != 0 {
		p.env = append(p.env, "_TABOX_UNSHARE="+strconv.Itoa(plan.unshareFlags))
	}
	if plan.forkInNS {
		p.env = append(p.env, "_TABOX_FORK=1")
		// The forked init is orphaned at once; as a subreaper, this
		// process gets it as a child, to wait for it like any other.
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return nil, fmt.Errorf("become a subreaper: %w", err)
		}
	}
	helperMaps := plan.cloneFlags&unix.CLONE_NEWUSER != 0 && needsIDMapHelpers(cfg)
	switch {
	case helperMaps:
		// The maps are written by newuidmap and newgidmap once the init
		// exists, and the init runs unmapped until then: as an unmapped
		// id, its exec would drop every capability but ambient ones.
		uid, gid, _ := initIDs(cfg)
		p.env = append(p.env, fmt.Sprintf("_TABOX_MAPWAIT=%d:%d", uid, gid))
		p.sys.AmbientCaps = boundingCaps()
	case plan.cloneFlags&unix.CLONE_NEWUSER != 0:
		for _, m := range cfg.UIDMappings {
			p.sys.UidMappings = append(p.sys.UidMappings,
				syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
		}
		for _, m := range cfg.GIDMappings {
			p.sys.GidMappings = append(p.sys.GidMappings,
				syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
		}
		// An unprivileged user may only map its own gid after denying
		// setgroups(2); root keeps setgroups for additionalGids.
		p.sys.GidMappingsEnableSetgroups = os.Geteuid() == 0
		setInitCredential(p.sys, cfg)
	}

	if ic.cgroupDir != nil {
		p.sys.UseCgroupFD = true
		p.sys.CgroupFD = int(ic.cgroupDir.Fd())
	}
	if plan.pidNS != nil || plan.forkInNS {
		// Go's fork checks the parent-death signal against getppid(),
		// which is 0 in a joined PID namespace (the parent is outside it):
		// the init sets the signal itself instead.
		p.sys.Pdeathsig = 0
	}
	p.sync, p.release = newParentSyncPipe(parentSock), make(chan struct{})
	if err := p.start(plan.pidNS, ic.initialCPUs); err != nil {
		return nil, fmt.Errorf("start container init: %w", err)
	}
	if plan.forkInNS {
		if err := p.adoptForked(); err != nil {
			p.kill()
			return nil, fmt.Errorf("start container init: %w", err)
		}
	}
	if helperMaps {
		err := writeIDMapsWithHelpers(p.pid(), cfg)
		if err == nil {
			// One byte, read by the init before it decodes anything (see
			// waitIDMaps).
			_, err = parentSock.Write([]byte{0})
		}
		if err != nil {
			p.kill()
			return nil, err
		}
	}
	return p, nil
}

// setInitCredential makes the init an id of the new user namespace before
// it execs: as an unmapped id, execve would drop all its capabilities.
// Root of the container when it is mapped; otherwise the first mapped ids,
// with every capability kept through exec as an ambient one.
func setInitCredential(attr *syscall.SysProcAttr, cfg *Config) {
	uid, gid, root := initIDs(cfg)
	if !root && (len(cfg.UIDMappings) == 0 || len(cfg.GIDMappings) == 0) {
		return
	}
	attr.Credential = &syscall.Credential{Uid: uid, Gid: gid, NoSetGroups: !attr.GidMappingsEnableSetgroups}
	if !root {
		attr.AmbientCaps = boundingCaps()
	}
}

// boundingCaps lists the capabilities of tabox's bounding set, all of
// which the init has in a user namespace it creates: raising one outside
// the set as ambient would fail the fork.
func boundingCaps() []uintptr {
	var caps []uintptr
	for c := 0; c <= capability.Last(); c++ {
		if in, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0); err == nil && in == 1 {
			caps = append(caps, uintptr(c))
		}
	}
	return caps
}

// initIDs are the ids the init runs as in a new user namespace: root when
// the mappings map it, otherwise the first mapped uid and gid.
func initIDs(cfg *Config) (uid, gid uint32, root bool) {
	if hostID(cfg.UIDMappings, 0) >= 0 && hostID(cfg.GIDMappings, 0) >= 0 {
		return 0, 0, true
	}
	if len(cfg.UIDMappings) > 0 {
		uid = cfg.UIDMappings[0].ContainerID
	}
	if len(cfg.GIDMappings) > 0 {
		gid = cfg.GIDMappings[0].ContainerID
	}
	return uid, gid, false
}

// start forks the init. The init's parent-death signal fires when the
// thread that forked it exits, so that thread stays until release. A
// joined PID namespace or an initial CPU set is a property of the forking
// thread, which the init inherits: that thread is then one of its own.
func (p *initProcess) start(pidNS *os.File, cpus []int) error {
	if pidNS == nil && cpus == nil {
		return p.startProcess()
	}
	errc := make(chan error, 1)
	go func() {
		// This thread must never run other goroutines again: it stays
		// locked, and exits with this goroutine.
		runtime.LockOSThread()
		if pidNS != nil {
			if err := unix.Setns(int(pidNS.Fd()), unix.CLONE_NEWPID); err != nil {
				errc <- fmt.Errorf("join pid namespace: %w", err)
				return
			}
		}
		if cpus != nil {
			if err := setAffinity(0, cpus); err != nil {
				errc <- fmt.Errorf("initial cpu affinity: %w", err)
				return
			}
		}
		errc <- p.startProcess()
		<-p.release
	}()
	return <-errc
}

func (p *initProcess) startProcess() error {
	proc, err := startProcess(p.path, p.args, p.env, p.files, p.sys)
	if err != nil {
		return err
	}
	p.proc = proc
	return nil
}

func (p *initProcess) pid() int { return p.proc.pid }

// adoptForked takes the init the constructor forked in the PID namespace
// in place of the process tabox started, which reports the init's PID and
// exits. Once that one is reaped, the init is this process's child (see
// the subreaper in startInit), and p.proc stands for it.
func (p *initProcess) adoptForked() error {
	m, err := p.sync.recv()
	if err == nil && (m.Type != msgPid || m.Pid <= 0) {
		err = fmt.Errorf("sync: got %q, want the forked init's pid", m.Type)
	}
	if ws, _, werr := p.proc.wait(); err == nil && werr != nil {
		err = fmt.Errorf("fork in the pid namespace: %w", werr)
	} else if err == nil && !(ws.Exited() && ws.ExitStatus() == 0) {
		err = fmt.Errorf("fork in the pid namespace: exit code %d", waitStatus(ws))
	}
	if err != nil {
		return err
	}
	proc, err := adoptProcess(m.Pid)
	if err != nil {
		return fmt.Errorf("forked init: %w", err)
	}
	p.proc = proc
	return nil
}

// kill stops a half-made init and reaps it.
func (p *initProcess) kill() {
	if p.proc != nil {
		p.proc.Kill()
		p.proc.wait()
	}
	p.sync.close()
	p.done()
}

// done lets the forking thread go; the init no longer depends on it.
func (p *initProcess) done() {
	select {
	case <-p.release:
	default:
		close(p.release)
	}
}

// applyRlimits sets the container's rlimits on the init from the parent:
// prlimit(2) from outside any user namespace is the only way to raise a
// hard limit for a container that has one.
func applyRlimits(pid int, rlimits []Rlimit) error {
	for _, rl := range rlimits {
		want := unix.Rlimit{Cur: rl.Soft, Max: rl.Hard}
		if err := unix.Prlimit(pid, rl.Type, &want, nil); err != nil {
			var cur unix.Rlimit
			if errors.Is(err, unix.EPERM) && unix.Prlimit(pid, rl.Type, nil, &cur) == nil && rl.Hard > cur.Max {
				return fmt.Errorf("set %s to soft %d hard %d: raising the hard limit above %d needs CAP_SYS_RESOURCE, which tabox does not have here", rl.Name, rl.Soft, rl.Hard, cur.Max)
			}
			return fmt.Errorf("set %s to soft %d hard %d: %w", rl.Name, rl.Soft, rl.Hard, err)
		}
	}
	return nil
}

func applyOOMScoreAdj(pid int, adj *int) error {
	if adj == nil {
		return nil
	}
	path := "/proc/" + strconv.Itoa(pid) + "/oom_score_adj"
	if err := os.WriteFile(path, []byte(strconv.Itoa(*adj)), 0); err != nil {
		// An unprivileged tabox cannot write the file of its non-dumpable
		// init: fine if the value is already what the config asks.
		if cur, rerr := os.ReadFile(path); rerr == nil && strings.TrimSpace(string(cur)) == strconv.Itoa(*adj) {
			return nil
		}
		if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
			return fmt.Errorf("set oom_score_adj to %d: lowering it needs CAP_SYS_RESOURCE, which tabox does not have here", *adj)
		}
		return fmt.Errorf("set oom_score_adj to %d: %w", *adj, err)
	}
	return nil
}

// ownerName is the user running tabox, for the state's owner field.
func ownerName() string {
	u, err := user.LookupId(strconv.Itoa(os.Geteuid()))
	if err != nil {
		return strconv.Itoa(os.Geteuid())
	}
	return u.Username
}

// waitStatus turns a wait status into the exit code a shell would report:
// the process's code, or 128+N when killed by signal N.
func waitStatus(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// goInitGetsPidsMax reports whether the Go init of a container gets its
// pids.max from tabox: with a pids limit, which it writes last.
func goInitGetsPidsMax(ic *initConfig) bool {
	cg := ic.Config.Cgroup
	return !ic.cinit && !ic.Exec && cg != nil && cg.Resources != nil && cg.Resources.PidsLimit != nil
}

// sendPidsMax opens the container's pids.max and sends it to the Go init,
// ahead of the config, with one byte.
func sendPidsMax(p *initProcess, paths map[string]string) error {
	f, err := openPidsMax(paths)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Sendmsg(p.sync.fd, []byte{'P'}, unix.UnixRights(int(f.Fd())), nil, 0); err != nil {
		return fmt.Errorf("send pids.max to the container init: %w", err)
	}
	return nil
}
