package tests

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const (
	// cmdTimeout bounds one runtime invocation.
	cmdTimeout = 30 * time.Second
	// pollTimeout bounds every polling loop.
	pollTimeout = 10 * time.Second
	pollEvery   = 10 * time.Millisecond
	// runMarkerEnv is set in the environment of every runtime invocation
	// that names a container, as "<root>/<id>", so that assertNoLeftovers
	// finds processes the runtime left behind.
	runMarkerEnv = "TABOX_TEST_CTR"
)

// testEnv is the per-test state of the harness: the test's private --root
// and the containers the test created, which its cleanup force-deletes.
type testEnv struct {
	t    *testing.T
	root string
	io   string

	mu         sync.Mutex
	containers map[string]*containerInfo
	order      []string
	leaked     []int // pids already reported as left behind
}

type containerInfo struct {
	bundle string
	pids   map[int]bool
}

var envs sync.Map // test name -> *testEnv

// getEnv returns t's harness state, making it (and registering its cleanup)
// on first use. A subtest shares the state of its closest ancestor that
// has one, so that a test's subtests see the containers it made.
func getEnv(t *testing.T) *testEnv {
	t.Helper()
	for name := t.Name(); ; {
		if e, ok := envs.Load(name); ok {
			return e.(*testEnv)
		}
		i := strings.LastIndex(name, "/")
		if i < 0 {
			break
		}
		name = name[:i]
	}
	dir := t.TempDir()
	e := &testEnv{t: t, root: filepath.Join(dir, "root"), io: filepath.Join(dir, "io"), containers: map[string]*containerInfo{}}
	if err := os.Mkdir(e.io, 0o755); err != nil {
		t.Fatal(err)
	}
	if prev, loaded := envs.LoadOrStore(t.Name(), e); loaded {
		return prev.(*testEnv)
	}
	t.Cleanup(func() {
		envs.Delete(t.Name())
		e.cleanup()
	})
	return e
}

// rootDir returns the test's private state root, passed as --root.
func rootDir(t *testing.T) string {
	t.Helper()
	return getEnv(t).root
}

func (e *testEnv) container(id string) *containerInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.containers[id]
	if !ok {
		c = &containerInfo{pids: map[int]bool{}}
		e.containers[id] = c
		e.order = append(e.order, id)
	}
	return c
}

// notePid remembers a pid of container id, to be reaped by the cleanup.
func (e *testEnv) notePid(id string, pid int) {
	if pid <= 0 {
		return
	}
	c := e.container(id)
	e.mu.Lock()
	c.pids[pid] = true
	e.mu.Unlock()
}

// cleanup force-deletes every container the test named, then kills and
// reaps whatever it left behind. It reports nothing: assertNoLeftovers is
// where tests check for leftovers.
func (e *testEnv) cleanup() {
	e.mu.Lock()
	ids := append([]string(nil), e.order...)
	e.mu.Unlock()
	for _, id := range ids {
		if id == "" {
			continue
		}
		if st, err := e.loadState(id); err == nil {
			e.notePid(id, st.Pid)
		}
		e.runQuiet("delete", "--force", id)
	}
	for _, id := range ids {
		c := e.container(id)
		pids := c.sortedPids()
		for _, pid := range append(findContainerProcs(e.root, id, c.bundle), e.leaked...) {
			unix.Kill(pid, unix.SIGKILL)
			pids = append(pids, pid)
		}
		reapPids(pids, 2*time.Second)
		// Empty cgroups can be removed (deepest first).
		cgs := findCgroups(id)
		sort.Slice(cgs, func(i, j int) bool { return len(cgs[i]) > len(cgs[j]) })
		for _, dir := range cgs {
			os.Remove(dir)
		}
	}
}

func (c *containerInfo) sortedPids() []int {
	var pids []int
	for p := range c.pids {
		pids = append(pids, p)
	}
	sort.Ints(pids)
	return pids
}

// runQuiet runs the runtime without touching t (for cleanups).
func (e *testEnv) runQuiet(args ...string) (string, int) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, runtimeBin, append([]string{"--root", e.root}, args...)...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	return out.String(), exitCode(err)
}

func (e *testEnv) loadState(id string) (*containerState, error) {
	out, code := e.runQuiet("state", id)
	if code != 0 {
		return nil, fmt.Errorf("state %s: exit %d", id, code)
	}
	var st containerState
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// reapPid waits (bounded) for pid, which the harness may have inherited as
// subreaper, to be gone: it reaps it if it is our zombie child. It never
// waits for any other pid, so it cannot steal an exec.Cmd's exit status.
// It reports whether pid is gone.
func reapPid(pid int, timeout time.Duration) bool {
	return len(reapPids([]int{pid}, timeout)) == 0
}

// reapPids is reapPid for several pids with one deadline; it returns those
// still there at the deadline.
func reapPids(pids []int, timeout time.Duration) []int {
	deadline := time.Now().Add(timeout)
	for {
		var left []int
		for _, pid := range pids {
			if !reapOnce(pid) {
				left = append(left, pid)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		pids = left
		time.Sleep(pollEvery)
	}
}

// reapOnce reaps pid if it is our zombie child, and reports whether it is
// gone.
func reapOnce(pid int) bool {
	if pid <= 0 || pid == os.Getpid() {
		return true
	}
	var ws unix.WaitStatus
	wpid, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
	if wpid == pid {
		return true
	}
	if errors.Is(err, unix.ECHILD) {
		// Not our child: gone, or still the child of another process.
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
			return true
		}
	}
	return false
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return -1
}

// cmdOpts tunes one runtime invocation.
type cmdOpts struct {
	// timeout overrides cmdTimeout.
	timeout time.Duration
	// noRoot omits the --root flag (only for tests of global flags).
	noRoot bool
	// extraFiles are passed as fds 3, 4, ...
	extraFiles []*os.File
	// env is added to the runtime's environment.
	env []string
	// dir is the runtime's working directory (default: the test's).
	dir string
}

// proc is a runtime invocation started in the background.
type proc struct {
	t       *testing.T
	cmd     *exec.Cmd
	cancel  context.CancelFunc
	outPath string
	errPath string
	done    chan struct{}
	code    int
	args    []string
}

var globalFlagsWithValue = map[string]bool{"--root": true, "--log": true, "--log-format": true, "--criu": true, "--rootless": true}

// commandOf finds the subcommand in args (after the global flags), and the
// container ID and bundle named by create/run/state/start/kill/delete.
func commandOf(args []string) (cmd, id, bundle string) {
	i := 0
	for i < len(args) && strings.HasPrefix(args[i], "-") {
		a := args[i]
		i++
		if globalFlagsWithValue[a] && i < len(args) {
			i++
		}
	}
	if i >= len(args) {
		return "", "", ""
	}
	cmd, rest := args[i], args[i+1:]
	var positional []string
	for j := 0; j < len(rest); j++ {
		a := rest[j]
		switch {
		case a == "--bundle" || a == "-b":
			if j+1 < len(rest) {
				bundle = rest[j+1]
				j++
			}
		case strings.HasPrefix(a, "--bundle="):
			bundle = strings.TrimPrefix(a, "--bundle=")
		case a == "--pid-file" || a == "--console-socket" || a == "--preserve-fds" || a == "--format" || a == "--signal":
			j++
		case strings.HasPrefix(a, "-"):
		default:
			positional = append(positional, a)
		}
	}
	switch cmd {
	case "create", "run", "start", "state", "delete", "kill", "pause", "resume", "ps":
		if len(positional) > 0 {
			id = positional[0]
		}
	}
	return cmd, id, bundle
}

// startTabox starts the runtime with args after the global --root flag.
// Its stdout and stderr go to files, never pipes: a container created by
// it inherits them, and must not keep the invocation from completing.
func startTabox(t *testing.T, o cmdOpts, args ...string) *proc {
	t.Helper()
	e := getEnv(t)
	full := args
	if !o.noRoot {
		full = append([]string{"--root", e.root}, args...)
	}
	_, id, bundle := commandOf(args)
	env := append(os.Environ(), o.env...)
	if id != "" {
		c := e.container(id)
		if bundle != "" && c.bundle == "" {
			if abs, err := filepath.Abs(bundle); err == nil {
				e.mu.Lock()
				c.bundle = abs
				e.mu.Unlock()
			}
		}
		env = append(env, runMarkerEnv+"="+e.root+"/"+id)
	}
	timeout := o.timeout
	if timeout == 0 {
		timeout = cmdTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	cmd := exec.CommandContext(ctx, runtimeBin, full...)
	cmd.Env = env
	cmd.Dir = o.dir
	cmd.ExtraFiles = o.extraFiles
	cmd.WaitDelay = time.Second
	outF, err := os.CreateTemp(e.io, "stdout-")
	if err != nil {
		t.Fatal(err)
	}
	errF, err := os.CreateTemp(e.io, "stderr-")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = outF, errF
	p := &proc{t: t, cmd: cmd, cancel: cancel, outPath: outF.Name(), errPath: errF.Name(), done: make(chan struct{}), args: full}
	err = cmd.Start()
	outF.Close()
	errF.Close()
	if err != nil {
		cancel()
		t.Fatalf("start %s: %v", runtimeBin, err)
	}
	go func() {
		err := cmd.Wait()
		p.code = exitCode(err)
		if ctx.Err() == context.DeadlineExceeded {
			p.code = -2
		}
		cancel()
		close(p.done)
	}()
	return p
}

// wait waits for the invocation and returns its stdout, stderr and exit
// status (128+N if killed by signal N); a timed-out invocation fails t.
func (p *proc) wait() (stdout, stderr string, code int) {
	p.t.Helper()
	<-p.done
	stdout, stderr = p.output()
	if p.code == -2 {
		p.t.Errorf("%s %s: timed out\nstdout: %s\nstderr: %s", runtimeName, strings.Join(p.args, " "), stdout, stderr)
	}
	return stdout, stderr, p.code
}

// output returns what the invocation (and anything that inherited its
// stdio, like a created container) wrote so far.
func (p *proc) output() (stdout, stderr string) {
	o, _ := os.ReadFile(p.outPath)
	e, _ := os.ReadFile(p.errPath)
	return string(o), string(e)
}

// exited reports whether the invocation has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the runtime process itself.
func (p *proc) signal(sig syscall.Signal) {
	p.cmd.Process.Signal(sig)
}

// tabox runs the runtime with the test's private --root and returns its
// stdout, stderr and exit status.
func tabox(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return startTabox(t, cmdOpts{}, args...).wait()
}

// taboxOpts is tabox with options.
func taboxOpts(t *testing.T, o cmdOpts, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return startTabox(t, o, args...).wait()
}

// mustTabox is tabox that fails the test unless the runtime exits 0.
func mustTabox(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, code := tabox(t, args...)
	if code != 0 {
		t.Fatalf("%s %s: exit %d\nstdout: %s\nstderr: %s", runtimeName, strings.Join(args, " "), code, stdout, stderr)
	}
	return stdout
}

// containerState is the output of `state`: the OCI state plus the
// runc-style extras.
type containerState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Status      string            `json:"status"`
	Pid         int               `json:"pid"`
	Bundle      string            `json:"bundle"`
	Annotations map[string]string `json:"annotations"`
	Rootfs      string            `json:"rootfs"`
	Created     string            `json:"created"`
	Owner       string            `json:"owner"`
}

// state runs `state ID` and parses it; it fails the test on error.
func state(t *testing.T, id string) containerState {
	t.Helper()
	out := mustTabox(t, "state", id)
	var st containerState
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("state %s: invalid JSON: %v\n%s", id, err, out)
	}
	getEnv(t).notePid(id, st.Pid)
	return st
}

// waitForStatus polls `state ID` until its status is status.
func waitForStatus(t *testing.T, id, status string) containerState {
	t.Helper()
	deadline := time.Now().Add(pollTimeout)
	var last string
	for {
		stdout, stderr, code := tabox(t, "state", id)
		if code == 0 {
			var st containerState
			if err := json.Unmarshal([]byte(stdout), &st); err != nil {
				t.Fatalf("state %s: invalid JSON: %v\n%s", id, err, stdout)
			}
			getEnv(t).notePid(id, st.Pid)
			if st.Status == status {
				return st
			}
			last = "status " + st.Status
		} else {
			last = fmt.Sprintf("exit %d: %s", code, strings.TrimSpace(stderr))
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s: status %q not reached in %v (last: %s)", id, status, pollTimeout, last)
		}
		time.Sleep(pollEvery)
	}
}

// poll calls cond until it returns true, failing the test after pollTimeout.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(pollTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", pollTimeout, what)
		}
		time.Sleep(pollEvery)
	}
}

var idSeq struct {
	sync.Mutex
	n int
}

var nonID = regexp.MustCompile(`[^a-z0-9]+`)

// newID returns a container ID unique to this run: the test's name and a
// random suffix (some state, like cgroups, is global whatever --root is).
func newID(t *testing.T) string {
	t.Helper()
	name := strings.Trim(nonID.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	name = strings.TrimPrefix(name, "test")
	name = strings.Trim(name, "-")
	if len(name) > 24 {
		name = name[len(name)-24:]
	}
	b := make([]byte, 4)
	rand.Read(b)
	idSeq.Lock()
	idSeq.n++
	n := idSeq.n
	idSeq.Unlock()
	return fmt.Sprintf("%s-%s%d", strings.Trim(name, "-"), hex.EncodeToString(b), n)
}

// createContainer creates a container from bundle and returns its ID and
// the invocation, whose stdout/stderr files receive the container's output.
func createContainer(t *testing.T, bundle string, extra ...string) (string, *proc) {
	t.Helper()
	id := newID(t)
	args := append([]string{"create", "--bundle", bundle}, extra...)
	p := startTabox(t, cmdOpts{}, append(args, id)...)
	stdout, stderr, code := p.wait()
	if code != 0 {
		t.Fatalf("create %s: exit %d\nstdout: %s\nstderr: %s", id, code, stdout, stderr)
	}
	return id, p
}

// runContainer runs a container from bundle in the foreground and returns
// its output and the runtime's exit status.
func runContainer(t *testing.T, bundle string, extra ...string) (stdout, stderr string, code int) {
	t.Helper()
	id := newID(t)
	args := append([]string{"run", "--bundle", bundle}, extra...)
	return tabox(t, append(args, id)...)
}

// mustRun is runContainer that fails the test unless the container exits 0;
// it returns the container's stdout.
func mustRun(t *testing.T, bundle string) string {
	t.Helper()
	stdout, stderr, code := runContainer(t, bundle)
	if code != 0 {
		t.Fatalf("run: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	return stdout
}

// statusReported is testinit's exit status when one of its commands failed
// and printed the error on stdout (e.g. "errno=EROFS").
const statusReported = 10

// runArgs makes a bundle (with the optional extra mutator), sets its
// process.args and runs it, returning the container's stdout. The container
// must exit 0, or statusReported.
func runArgs(t *testing.T, mutate func(*specs.Spec), args ...string) string {
	t.Helper()
	bundle := newBundle(t, func(s *specs.Spec) {
		s.Process.Args = args
		if mutate != nil {
			mutate(s)
		}
	})
	stdout, stderr, code := runContainer(t, bundle)
	if code != 0 && code != statusReported {
		t.Fatalf("run %q: exit %d\nstdout: %s\nstderr: %s", args, code, stdout, stderr)
	}
	return stdout
}

// deleteContainer deletes id (which must succeed), reaps its init and
// checks that nothing is left behind.
func deleteContainer(t *testing.T, id string, force bool) {
	t.Helper()
	if force {
		mustTabox(t, "delete", "--force", id)
	} else {
		mustTabox(t, "delete", id)
	}
	assertNoLeftovers(t, rootDir(t), id)
}

// assertNoLeftovers checks that container id of the state root left
// nothing behind: no state directory, no process (its known pids, or any
// process whose environment, command line, cwd or root names the
// container's bundle or invocation marker), and no mount of the bundle or
// state directory in the host's mount table. It reaps the container's
// known pids first (the harness may be their subreaper).
func assertNoLeftovers(t *testing.T, root, id string) {
	t.Helper()
	e := getEnv(t)
	c := e.container(id)
	for _, pid := range reapPids(c.sortedPids(), pollTimeout) {
		t.Errorf("container %q: its process %d is still alive after delete (%s)", id, pid, procDesc(pid))
		// Reported once: the cleanup kills it.
		e.mu.Lock()
		delete(c.pids, pid)
		e.mu.Unlock()
		e.leaked = append(e.leaked, pid)
	}
	stateDir := filepath.Join(root, id)
	if _, err := os.Lstat(stateDir); err == nil {
		t.Errorf("container %q: state directory %s still exists", id, stateDir)
	}
	// A process exiting right now may still show up for a moment.
	var procs []int
	deadline := time.Now().Add(2 * time.Second)
	for {
		procs = findContainerProcs(root, id, c.bundle)
		if len(procs) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(pollEvery)
	}
	for _, pid := range procs {
		if !slices.Contains(e.leaked, pid) {
			t.Errorf("container %q: process %d left behind (%s)", id, pid, procDesc(pid))
		}
	}
	for _, dir := range findCgroups(id) {
		t.Errorf("container %q: cgroup left behind: %s", id, dir)
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mi), "\n") {
		for _, p := range []string{c.bundle, stateDir} {
			if p != "" && (strings.Contains(line, p+"/") || strings.Contains(line, p+" ")) {
				t.Errorf("container %q: mount left behind: %s", id, line)
			}
		}
	}
}

// findCgroups lists the cgroup directories named id, two levels deep at
// most in each hierarchy (IDs are unique to a test run, so any such
// directory is the container's).
func findCgroups(id string) []string {
	if id == "" || strings.ContainsAny(id, "/*?[") || id == "." || id == ".." {
		return nil
	}
	var found []string
	for _, pattern := range []string{"/sys/fs/cgroup/" + id, "/sys/fs/cgroup/*/" + id, "/sys/fs/cgroup/*/*/" + id} {
		m, _ := filepath.Glob(pattern)
		found = append(found, m...)
	}
	// A relative cgroup path (the default) is under the test process's own
	// cgroup of each hierarchy, which need not be the root.
	for _, own := range ownCgroups() {
		if _, err := os.Stat(filepath.Join(own, id)); err == nil && !slices.Contains(found, filepath.Join(own, id)) {
			found = append(found, filepath.Join(own, id))
		}
	}
	return found
}

// ownCgroups lists the directories of this process's cgroups, from
// /proc/self/cgroup (v1 controllers and the v2 hierarchy).
func ownCgroups() []string {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil
	}
	var dirs []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 || f[2] == "/" {
			continue
		}
		ctrl := strings.Split(f[1], ",")[0]
		switch {
		case ctrl == "":
			ctrl = "unified"
		case strings.HasPrefix(ctrl, "name="):
			ctrl = strings.TrimPrefix(ctrl, "name=")
		}
		dirs = append(dirs, filepath.Join("/sys/fs/cgroup", ctrl, f[2]))
	}
	return dirs
}

// findContainerProcs lists the processes that belong to container id of
// root with bundle (either may be empty): by the markers in their
// environment, their environment or command line naming the state
// directory or the bundle, or their cwd or root being in the bundle.
func findContainerProcs(root, id, bundle string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	self := os.Getpid()
	runMarker := []byte(runMarkerEnv + "=" + root + "/" + id + "\x00")
	var bundleMarker []byte
	if bundle != "" {
		bundleMarker = []byte(bundleMarkerEnv + "=" + bundle + "\x00")
	}
	// The state directory, as runc's init has it in its environment.
	stateDir := root + "/" + id
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid == self {
			continue
		}
		dir := "/proc/" + ent.Name()
		environ, _ := os.ReadFile(dir + "/environ")
		if id != "" && bytes.Contains(environ, runMarker) {
			pids = append(pids, pid)
			continue
		}
		if id != "" && root != "" {
			cmdline, _ := os.ReadFile(dir + "/cmdline")
			if mentionsPath(environ, stateDir) || mentionsPath(cmdline, stateDir) {
				pids = append(pids, pid)
				continue
			}
		}
		if bundle == "" {
			continue
		}
		if bytes.Contains(environ, bundleMarker) {
			pids = append(pids, pid)
			continue
		}
		cmdline, _ := os.ReadFile(dir + "/cmdline")
		if bytes.Contains(cmdline, []byte(bundle+"\x00")) || bytes.Contains(cmdline, []byte(bundle+"/")) {
			pids = append(pids, pid)
			continue
		}
		for _, l := range []string{"cwd", "root"} {
			target, err := os.Readlink(dir + "/" + l)
			if err == nil && (target == bundle || strings.HasPrefix(target, bundle+"/")) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// mentionsPath reports whether the NUL-separated data holds path, or a
// path under it.
func mentionsPath(data []byte, path string) bool {
	return bytes.Contains(data, []byte(path+"\x00")) || bytes.Contains(data, []byte(path+"/"))
}

// procDesc describes pid for error messages.
func procDesc(pid int) string {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "gone"
	}
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return fmt.Sprintf("stat %q, cmdline %q", strings.TrimSpace(string(stat)), strings.ReplaceAll(string(cmdline), "\x00", " "))
}

// assertOneLineError checks a failed invocation: non-zero exit and a
// non-empty, single-line error on stderr containing one of the wanted
// substrings (case-insensitive).
func assertOneLineError(t *testing.T, stderr string, code int, want ...string) {
	t.Helper()
	if code == 0 {
		t.Errorf("exit status 0, want non-zero (stderr: %q)", stderr)
	}
	msg := strings.TrimSpace(stderr)
	if msg == "" {
		t.Errorf("no error message on stderr")
		return
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("error is not one line:\n%s", msg)
	}
	lower := strings.ToLower(msg)
	for _, w := range want {
		if strings.Contains(lower, strings.ToLower(w)) {
			return
		}
	}
	t.Errorf("error %q does not name the problem (want one of %q)", msg, want)
}

// lines splits s into its non-empty, trimmed lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// procStatusField reads a field of /proc/<pid>/status on the host.
func procStatusField(pid int, name string) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && k == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// skipWithCapSysResource skips t when the tests run with CAP_SYS_RESOURCE
// in their effective set, where what t expects to fail works.
func skipWithCapSysResource(t *testing.T, works string) {
	t.Helper()
	capEff, err := strconv.ParseUint(procStatusField(os.Getpid(), "CapEff"), 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	if capEff&(1<<unix.CAP_SYS_RESOURCE) != 0 {
		t.Skip("the tests run with CAP_SYS_RESOURCE: " + works)
	}
}

// isTabox is false when TABOX_TEST_RUNTIME selects another runtime (a
// tabox binary given there must be named tabox).
func isTabox() bool { return runtimeName == "tabox" }

// taboxOnly skips a test of tabox's own behaviour (its help, its error
// format, its threads) when another runtime is under test.
func taboxOnly(t *testing.T) {
	t.Helper()
	if !isTabox() {
		t.Skipf("tests tabox's own behaviour; the runtime under test is %s", runtimeName)
	}
}
