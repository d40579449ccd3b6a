package libtabox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"
	"golang.org/x/sys/unix"
)

// Init is the container's init: tabox re-executes itself as "tabox init"
// from a sealed copy, in the container's namespaces. It sets the container
// up, waits for start, and execs the user's process. It never returns.
func Init() {
	// One thread does everything: capabilities and some process
	// attributes are per-thread, and exec replaces this very thread.
	runtime.GOMAXPROCS(1)
	runtime.LockOSThread()

	fd, err := strconv.Atoi(os.Getenv("_TABOX_SYNCFD"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "tabox init: not started by tabox")
		os.Exit(255)
	}
	os.Unsetenv("_TABOX_SYNCFD")
	// Read by the runtime at start-up only: nothing the init starts gets it.
	os.Unsetenv("GOMAXPROCS")
	// Usually set at fork already; not when the init joined a PID
	// namespace (see startInit). A parent that died before this line shows
	// as EOF on the sync socket.
	//
	// An init forked by the constructor (nsenter.c) waits for the config:
	// tabox sends it once it has adopted the init, and a parent-death
	// signal set before then would fire when the forking process exits.
	forked := os.Getenv("_TABOX_FORKED") != ""
	os.Unsetenv("_TABOX_FORKED")
	if !forked {
		unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0)
	}
	// Still dumpable: newuidmap refuses a process whose /proc directory is
	// not its caller's, and a non-dumpable one's is root's. Nothing runs in
	// the new namespaces yet.
	var mapErr error
	if ids, ok := os.LookupEnv("_TABOX_MAPWAIT"); ok {
		os.Unsetenv("_TABOX_MAPWAIT")
		var uid, gid int
		if _, err := fmt.Sscanf(ids, "%d:%d", &uid, &gid); err != nil {
			mapErr = fmt.Errorf("bad _TABOX_MAPWAIT %q", ids)
		} else {
			mapErr = waitIDMaps(fd, uid, gid)
		}
	}
	// Nothing in the container may ptrace the init or open its /proc
	// files while it holds host fds (CVE-2016-9962); exec of the user's
	// program makes it dumpable again.
	unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	// pids.max comes from tabox, which can open it: a root of a user
	// namespace could not.
	var pidsMax *os.File
	if _, ok := os.LookupEnv("_TABOX_PIDSFD"); ok {
		os.Unsetenv("_TABOX_PIDSFD")
		if pidsMax, err = recvFile(fd, "pids.max"); err != nil {
			os.Exit(255)
		}
	}
	p := newSyncPipe(os.NewFile(uintptr(fd), "sync"))
	var ic initConfig
	if err := p.dec.Decode(&ic); err != nil {
		os.Exit(255)
	}
	ic.pidsMax = pidsMax
	if forked {
		unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0)
	}
	switch {
	case mapErr != nil:
		err = step("user namespace", mapErr)
	case ic.Exec:
		err = runExec(p, &ic)
	default:
		err = run(p, &ic)
	}
	if _, ok := err.(reportedError); ok {
		os.Exit(255)
	}
	var se *stepError
	ie := &InitError{Step: "init", Message: err.Error()}
	if errors.As(err, &se) {
		ie = &InitError{Step: se.step, Message: se.err.Error()}
	}
	// The parent may be gone already (after create); then stderr is all
	// there is.
	if p.send(syncMsg{Type: msgError, Error: ie}) != nil {
		fmt.Fprintf(os.Stderr, "tabox init: %s\n", ie)
	}
	os.Exit(255)
}

// recvFile receives one byte and the fd that comes with it on the sync
// socket fd.
func recvFile(fd int, name string) (*os.File, error) {
	var b [1]byte
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		_, oobn, _, _, err := unix.Recvmsg(fd, b[:], oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		fds, err := parseRights(oob[:oobn])
		if err != nil {
			return nil, err
		}
		if len(fds) != 1 {
			return nil, fmt.Errorf("got %d fds for %s, want 1", len(fds), name)
		}
		return os.NewFile(uintptr(fds[0]), name), nil
	}
}

// stepError names the init step that failed.
type stepError struct {
	step string
	err  error
}

func (e *stepError) Error() string { return e.step + ": " + e.err.Error() }

func step(name string, err error) error {
	if err == nil {
		return nil
	}
	return &stepError{step: name, err: err}
}

// run sets the container up, in the order the steps depend on each other.
// Each step is a function; an error names the step.
func run(p *syncPipe, ic *initConfig) (retErr error) {
	cfg := ic.Config
	proc := cfg.Process
	ppid := os.Getppid()
	if proc == nil {
		// A bundle without a process is created but cannot start: keep the
		// steps that need one out of the way.
		proc = &Process{Cwd: "/"}
	}
	// Nothing the init inherited may reach the container (CVE-2024-21626):
	// every fd past stdio and the preserved ones closes on exec. Done first,
	// before a seccomp profile that may not know close_range; every fd
	// opened later is close-on-exec already.
	if err := step("close fds", unix.CloseRange(uint(3+ic.PreserveFds), ^uint(0), unix.CLOSE_RANGE_CLOEXEC)); err != nil {
		return err
	}
	// In a user namespace it created, the init may have been started
	// with every capability ambient (see setInitCredential): that only
	// carried them through its own exec, and setupUser replaces them only
	// for a process that has capabilities in its config.
	if path, ok := cfg.NamespacePath(NEWUSER); ok && path == "" {
		if err := step("user namespace", clearAmbientCaps()); err != nil {
			return err
		}
	}
	fifo, err := openFifo(ic.FifoPath)
	if err := step("exec fifo", err); err != nil {
		return err
	}
	cpuFile := openCgroupCPU(ic.CgroupPaths)
	pidsMax := ic.pidsMax
	if cg := cfg.Cgroup; pidsMax == nil && cg != nil && cg.Resources != nil && cg.Resources.PidsLimit != nil {
		if pidsMax, err = openPidsMax(ic.CgroupPaths); err != nil {
			return step("pids limit", err)
		}
	}

	if err := step("time namespace", enterTimeNS(ic)); err != nil {
		return err
	}
	if ic.NewCgroupNS {
		if err := step("cgroup namespace", unix.Unshare(unix.CLONE_NEWCGROUP)); err != nil {
			return err
		}
	}
	if err := step("session keyring", joinSessionKeyring(cfg, ic.NoNewKeyring)); err != nil {
		return err
	}
	if err := step("user namespace", becomeJoinedRoot(cfg)); err != nil {
		return err
	}
	root, err := prepareRootfs(cfg, ic)
	if err := step("prepare rootfs", err); err != nil {
		return err
	}
	defer root.close()
	if err := step("mounts", root.mountAll(cfg)); err != nil {
		return err
	}
	if err := step("devices", root.setupDev(cfg)); err != nil {
		return err
	}
	if err := step("hostname", setHostname(cfg)); err != nil {
		return err
	}
	// Through the host's /proc, still ours before pivot_root; and before
	// the readonly paths, which usually include /proc/sys.
	if err := step("sysctl", writeSysctls(cfg.Sysctl)); err != nil {
		return err
	}
	// Masks come after every mount, so that no mount can uncover them.
	if err := step("masked paths", root.maskPaths(cfg.MaskedPaths)); err != nil {
		return err
	}
	if err := step("readonly paths", root.readonlyPaths(cfg.ReadonlyPaths)); err != nil {
		return err
	}
	// createRuntime hooks run in the parent, createContainer hooks here:
	// both after the mounts and before pivot_root (runtime-spec).
	state, err := hooksBarrier(p, cfg)
	if err != nil {
		return err
	}
	if err := step("createContainer hooks", runHooks("createContainer", cfg.Hooks.CreateContainer, containerPid(state))); err != nil {
		return err
	}
	switch {
	case !cfg.HasNamespace(NEWNS):
		err = chrootRoot(cfg.Rootfs)
	case cfg.NoPivot:
		err = moveRoot(cfg.Rootfs)
	default:
		err = pivotRoot(cfg.Rootfs)
	}
	if err := step("pivot_root", err); err != nil {
		return err
	}
	if cfg.Readonly {
		if err := step("readonly rootfs", remountRootReadonly()); err != nil {
			return err
		}
	}
	// In the container's own devpts, before the user loses the right to
	// set a controlling terminal.
	if proc.Terminal && ic.ConsoleFd > 0 {
		if err := step("terminal", setupTerminal(proc, ic.ConsoleFd)); err != nil {
			return err
		}
	}
	// The parent applies rlimits and oom_score_adj now, from outside the
	// user namespace (see applyRlimits).
	m, err := roundTrip(p, msgReady, msgReadyDone)
	if err != nil {
		return err
	}
	state = m.State
	if err := step("rlimits", resetNofileCache(proc)); err != nil {
		return err
	}
	if ic.SelfOOMScoreAdj && cfg.OOMScoreAdj != nil {
		if err := step("oom_score_adj", applyOOMScoreAdj(os.Getpid(), cfg.OOMScoreAdj)); err != nil {
			return err
		}
	}
	// The cwd is checked to be inside the container before a seccomp
	// profile may deny getcwd; entered again as the user below, so that a
	// directory the user cannot enter is an error.
	if err := step("cwd", enterCwd(proc.Cwd)); err != nil {
		return err
	}
	if err := setProcessAttrs(cfg.Personality, proc); err != nil {
		return err
	}
	// A change of credentials clears the parent-death signal; until the
	// state is saved, the init must still die with tabox create.
	if err := becomeProcess(p, proc, ic.Seccomp, func() error { return keepParentDeathSignal(ppid) }); err != nil {
		return err
	}
	path := ""
	if cfg.Process != nil {
		if path, err = lookPath(proc); err != nil {
			return step("executable", err)
		}
	}
	// A filter with a listener cannot wait for start like the others:
	// its fd goes to the seccomp agent through tabox create, which only
	// listens until the state is saved. So the init's remaining steps (the
	// exec fifo, the startContainer hooks) run under it, as in runc.
	lateSeccomp := ic.Seccomp != nil && proc.NoNewPrivileges
	if lateSeccomp && ic.Seccomp.Notify {
		if err := loadSeccompFilter(p, ic.Seccomp); err != nil {
			return err
		}
		lateSeccomp = false
	}
	if _, err := roundTrip(p, msgCreated, msgSaved); err != nil {
		return err
	}
	// The state is saved: from now on the container outlives tabox create.
	if err := step("parent death signal", unix.Prctl(unix.PR_SET_PDEATHSIG, 0, 0, 0, 0)); err != nil {
		return err
	}
	p.close()

	if err := step("exec fifo", fifo.wait()); err != nil {
		return err
	}
	// From here on, start waits for the exec; an error goes to it too.
	defer func() {
		if retErr != nil && fifo.fail(retErr) {
			retErr = reportedError{retErr}
		}
	}()
	if cfg.Process == nil {
		return step("start", errors.New("the container has no process"))
	}
	if err := step("startContainer hooks", runHooks("startContainer", cfg.Hooks.StartContainer, containerPid(state))); err != nil {
		return err
	}
	if lateSeccomp {
		if err := loadSeccompFilter(p, ic.Seccomp); err != nil {
			return err
		}
	}
	if pidsMax != nil {
		// Last: from here the Go runtime needs no new thread, and after
		// exec only the program's tasks count.
		if _, err := pidsMax.WriteString(pidsMaxValue(*cfg.Cgroup.Resources.PidsLimit)); err != nil {
			return step("pids limit", err)
		}
	}
	fifo.cpuBeforeExec(cpuFile)
	return step("exec", unix.Exec(path, proc.Args, proc.Env))
}

// containerPid rewrites the state's pid as the container sees it: hooks run
// in the container's namespaces get that one (runtime-spec, "State").
func containerPid(state []byte) []byte {
	var st State
	if len(state) == 0 || json.Unmarshal(state, &st) != nil {
		return state
	}
	st.Pid = os.Getpid()
	b, err := json.Marshal(st)
	if err != nil {
		return state
	}
	return b
}

// becomeProcess gives the init the privileges of proc: no_new_privs, the
// seccomp filter when it must come before the capabilities are dropped,
// user, groups and capabilities, then the cwd entered as that user.
// afterUser runs right after the credentials change. p is the sync socket,
// for a filter's listener fd.
func becomeProcess(p *syncPipe, proc *Process, prog *SeccompProgram, afterUser func() error) error {
	if proc.NoNewPrivileges {
		if err := step("no_new_privs", unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)); err != nil {
			return err
		}
	}
	// Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it
	// before dropping capabilities. With it, as late as possible (the
	// caller does, just before exec).
	if prog != nil && !proc.NoNewPrivileges {
		if err := loadSeccompFilter(p, prog); err != nil {
			return err
		}
	}
	if err := step("user", setupUser(proc)); err != nil {
		return err
	}
	if afterUser != nil {
		if err := step("parent death signal", afterUser()); err != nil {
			return err
		}
	}
	return step("cwd", unix.Chdir(proc.Cwd))
}

// roundTrip sends msg and waits for the parent's reply.
func roundTrip(p *syncPipe, msg, reply syncType) (syncMsg, error) {
	if err := p.send(syncMsg{Type: msg}); err != nil {
		return syncMsg{}, step(string(msg), err)
	}
	m, err := p.expect(reply)
	if err != nil {
		return m, step(string(msg), fmt.Errorf("waiting for tabox: %w", err))
	}
	return m, nil
}

// hooksBarrier lets the parent run the createRuntime hooks,
// and returns the state the createContainer hooks get.
func hooksBarrier(p *syncPipe, cfg *Config) ([]byte, error) {
	h := &cfg.Hooks
	if len(h.CreateRuntime)+len(h.CreateContainer)+len(h.StartContainer) == 0 {
		return nil, nil
	}
	m, err := roundTrip(p, msgHooks, msgHooksDone)
	return m.State, err
}

// execFifo is the exec fifo, held by an O_PATH fd until the init opens it
// for writing, which blocks until start opens the other end.
type execFifo struct {
	path  *os.File
	fdDir *os.File
	// w is the write end once open, or -1.
	w int
}

// openFifo takes hold of the fifo before pivot_root hides the state
// directory. The host's /proc/self/fd is kept as a directory fd to reopen
// it through later: the container's /proc may not exist, and is not ours.
func openFifo(path string) (*execFifo, error) {
	f, err := os.OpenFile(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	dir, err := os.OpenFile("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &execFifo{path: f, fdDir: dir, w: -1}, nil
}

// wait blocks until start, then tells it the init got the signal. The fd
// stays open, close-on-exec: start reads until it closes, which tells it
// that the exec happened, or reads the error that stopped it.
func (e *execFifo) wait() error {
	defer e.path.Close()
	defer e.fdDir.Close()
	fd, err := unix.Openat(int(e.fdDir.Fd()), strconv.Itoa(int(e.path.Fd())), unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	e.w = fd
	if _, err := unix.Write(fd, []byte{0}); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// fail reports an error after start to the start command, if it still
// listens, and says whether it could.
func (e *execFifo) fail(err error) bool {
	if e.w < 0 {
		return false
	}
	_, werr := unix.Write(e.w, []byte("E"+err.Error()))
	return werr == nil
}

// reportedError is an error that start has got through the exec fifo, and
// prints: the init says nothing more.
type reportedError struct{ error }

// cpuBeforeExec tells start how much CPU time the container's cgroup has
// accounted, right before the init executes the program: that is tabox's
// init, and a judge counts only the program's.
func (e *execFifo) cpuBeforeExec(cpu *os.File) {
	if e.w < 0 || cpu == nil {
		return
	}
	buf := make([]byte, 512)
	n, _ := cpu.ReadAt(buf, 0)
	var ns int64
	if filepath.Base(cpu.Name()) == "cpu.stat" {
		if us, ok := keyValues(string(buf[:n]))["usage_usec"]; ok {
			ns = int64(us) * 1000
		}
	} else {
		ns, _ = strconv.ParseInt(strings.TrimSpace(string(buf[:n])), 10, 64)
	}
	unix.Write(e.w, []byte("C"+strconv.FormatInt(ns, 10)+"\n"))
}

// cgroupCPUFile is the file of the cgroup at paths that counts its CPU
// time, or "".
func cgroupCPUFile(paths map[string]string) string {
	if paths["cpuacct"] != "" {
		return filepath.Join(paths["cpuacct"], "cpuacct.usage")
	}
	if paths[""] == "" || len(paths) > 1 {
		return ""
	}
	return filepath.Join(paths[""], "cpu.stat")
}

// openCgroupCPU opens the file of the container's cgroup that counts its
// CPU time, while the host's /sys/fs/cgroup is still in view.
func openCgroupCPU(paths map[string]string) *os.File {
	name := cgroupCPUFile(paths)
	if name == "" {
		return nil
	}
	f, err := os.OpenFile(name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	return f
}

func keepParentDeathSignal(ppid int) error {
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return err
	}
	if ppid != 0 && os.Getppid() != ppid {
		return errors.New("tabox create exited")
	}
	return nil
}

func enterTimeNS(ic *initConfig) error {
	if !ic.NewTimeNS {
		return nil
	}
	// The init itself stays in the old time namespace; its exec moves it
	// to the new one (time_for_children).
	if err := unix.Unshare(unix.CLONE_NEWTIME); err != nil {
		return fmt.Errorf("unshare: %w", err)
	}
	var b strings.Builder
	for clock, off := range ic.Config.TimeOffsets {
		fmt.Fprintf(&b, "%s %d %d\n", clock, off.Secs, off.Nanosecs)
	}
	if b.Len() > 0 {
		if err := os.WriteFile("/proc/self/timens_offsets", []byte(b.String()), 0); err != nil {
			return fmt.Errorf("write offsets: %w", err)
		}
	}
	return nil
}

// becomeJoinedRoot makes the init root of a user namespace it joined by
// path (in the C constructor): setns(2) keeps the host's ids, which that
// namespace need not map, and as an unmapped id the init could create no
// file (EOVERFLOW), a mount point in a tmpfs included. It keeps its
// capabilities there: setns gave it all of them.
func becomeJoinedRoot(cfg *Config) error {
	if path, ok := cfg.NamespacePath(NEWUSER); !ok || path == "" {
		return nil
	}
	if !mapsID("/proc/self/uid_map", 0) || !mapsID("/proc/self/gid_map", 0) {
		return nil
	}
	if err := unix.Setresgid(0, 0, 0); err != nil {
		return fmt.Errorf("setresgid 0: %w", err)
	}
	if err := unix.Setresuid(0, 0, 0); err != nil {
		return fmt.Errorf("setresuid 0: %w", err)
	}
	return nil
}

// mapsID reports whether the map file (/proc/self/uid_map or gid_map)
// maps id of the namespace.
func mapsID(file string, id uint64) bool {
	data, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		first, err1 := strconv.ParseUint(f[0], 10, 32)
		size, err2 := strconv.ParseUint(f[2], 10, 32)
		if err1 == nil && err2 == nil && id >= first && id-first < size {
			return true
		}
	}
	return false
}

func joinSessionKeyring(cfg *Config, keep bool) error {
	if keep {
		return nil
	}
	// A keyring of its own keeps the container away from the caller's
	// keys; kernels without keyrings are fine too.
	if _, err := unix.KeyctlJoinSessionKeyring("_ses." + cfg.ID); err != nil && !errors.Is(err, unix.ENOSYS) {
		return err
	}
	return nil
}

func setHostname(cfg *Config) error {
	if cfg.Hostname != "" {
		if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
			return fmt.Errorf("sethostname %q: %w", cfg.Hostname, err)
		}
	}
	if cfg.Domainname != "" {
		if err := unix.Setdomainname([]byte(cfg.Domainname)); err != nil {
			return fmt.Errorf("setdomainname %q: %w", cfg.Domainname, err)
		}
	}
	return nil
}

// writeSysctls writes through a private procfs instance, resolved without
// following symlinks or crossing mounts: nothing the container's setup
// mounted can redirect a write (CVE-2025-52881).
func writeSysctls(sysctl map[string]string) error {
	if len(sysctl) == 0 {
		return nil
	}
	proc, err := procfs.OpenProcRoot()
	if err != nil {
		return fmt.Errorf("open procfs: %w", err)
	}
	defer proc.Close()
	for key, value := range sysctl {
		if err := writeSysctl(proc, key, value); err != nil {
			return err
		}
	}
	return nil
}

func writeSysctl(proc *procfs.Handle, key, value string) error {
	h, err := proc.OpenRoot("sys/" + strings.ReplaceAll(key, ".", "/"))
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	defer h.Close()
	if err := writeHandle(h, value); err != nil {
		return fmt.Errorf("%s = %q: %w", key, value, err)
	}
	return nil
}

// resetNofileCache makes the Go runtime forget the RLIMIT_NOFILE it saw at
// start-up: it would restore that value at exec, over the one the parent
// just set (runc#4195).
func resetNofileCache(proc *Process) error {
	for _, rl := range proc.Rlimits {
		if rl.Type != unix.RLIMIT_NOFILE {
			continue
		}
		var cur syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &cur); err != nil {
			return err
		}
		return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &cur)
	}
	return nil
}

// enterCwd changes to the process's cwd inside the container and checks
// that it is reachable from the container's root: a cwd outside it (an
// inherited fd, CVE-2024-21626) makes getcwd fail or report "(unreachable)".
func enterCwd(cwd string) error {
	if err := unix.Chdir(cwd); err != nil {
		return fmt.Errorf("chdir %s: %w", cwd, err)
	}
	wd, err := unix.Getwd()
	if err != nil {
		return fmt.Errorf("cwd %s is outside the container: %w", cwd, err)
	}
	if !strings.HasPrefix(wd, "/") {
		return fmt.Errorf("cwd %s is outside the container", cwd)
	}
	return nil
}

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// lookPath resolves args[0] in the container, with its PATH, as the
// container's user (so that a file it cannot execute is not found).
func lookPath(proc *Process) (string, error) {
	name := proc.Args[0]
	if strings.Contains(name, "/") {
		if err := checkExecutable(name); err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		return name, nil
	}
	path := defaultPath
	for _, kv := range proc.Env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range strings.Split(path, ":") {
		if dir == "" {
			dir = "."
		}
		cand := dir + "/" + name
		if checkExecutable(cand) == nil {
			return cand, nil
		}
	}
	return "", fmt.Errorf("%q: executable file not found in $PATH (%s)", name, path)
}

func checkExecutable(path string) error {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return unix.EISDIR
	}
	return unix.Faccessat(unix.AT_FDCWD, path, unix.X_OK, unix.AT_EACCESS)
}
