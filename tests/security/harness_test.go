package security

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
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
	cmdTimeout = 30 * time.Second
	// markerEnv is in every container's environment, with the bundle as
	// value: the cleanup finds the container's processes by it.
	markerEnv = "TABOX_SEC_BUNDLE"
)

// harness is one test's state: its --root, the containers it made, and
// the host state it compares at the end.
type harness struct {
	t    *testing.T
	base string
	root string
	io   string
	ndir int

	mu      sync.Mutex
	ids     []string
	bundles []string
	pids    []int
	cgroups []string
	// hostDirs are removed after the host check.
	hostDirs []string
	snap     *hostSnapshot
}

// newHarness starts a test: it registers the test in the tally, takes a
// snapshot of the host, and registers the cleanup (containers deleted,
// leftovers killed and reaped, cgroups removed) and, after it, the host
// check.
func newHarness(t *testing.T) *harness {
	if !strings.Contains(t.Name(), "/") {
		track(t)
	}
	dir := t.TempDir()
	h := &harness{t: t, base: dir, root: filepath.Join(dir, "root"), io: filepath.Join(dir, "io")}
	if err := os.Mkdir(h.io, 0o755); err != nil {
		t.Fatal(err)
	}
	h.snap = takeSnapshot(t)
	t.Cleanup(h.checkHost)
	t.Cleanup(h.cleanup)
	return h
}

// result is one finished runtime invocation. outPath and errPath keep
// receiving what a created container writes.
type result struct {
	stdout, stderr   string
	code             int
	outPath, errPath string
	args             []string
}

func (r result) String() string {
	return fmt.Sprintf("%s %s: exit %d\nstdout: %s\nstderr: %s", runtimeName, strings.Join(r.args, " "), r.code, r.stdout, strings.TrimSpace(r.stderr))
}

// output re-reads what the invocation (and a container it created) wrote.
func (r result) output() string {
	b, _ := os.ReadFile(r.outPath)
	return string(b)
}

type opts struct {
	extraFiles []*os.File
	// as runs the runtime as this user (rootless tests), with env as its
	// whole environment.
	as  *syscall.Credential
	env []string
	dir string
	// noRoot leaves out --root (rootless tests pass their own).
	noRoot bool
	// bin overrides runtimeBin (a copy the rootless user can run).
	bin string
}

// rt runs the runtime with the test's --root. Its stdout and stderr are
// files, never pipes: a created container inherits them.
func (h *harness) rt(o opts, args ...string) result {
	h.t.Helper()
	full := args
	if !o.noRoot {
		full = append([]string{"--root", h.root}, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	bin := runtimeBin
	if o.bin != "" {
		bin = o.bin
	}
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.ExtraFiles = o.extraFiles
	cmd.Dir = o.dir
	cmd.WaitDelay = time.Second
	cmd.Env = os.Environ()
	if o.as != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: o.as}
		cmd.Env = o.env
	}
	outF, err1 := os.CreateTemp(h.io, "stdout-")
	errF, err2 := os.CreateTemp(h.io, "stderr-")
	if err := errors.Join(err1, err2); err != nil {
		h.t.Fatal(err)
	}
	if o.as != nil {
		outF.Chown(int(o.as.Uid), int(o.as.Gid))
		errF.Chown(int(o.as.Uid), int(o.as.Gid))
	}
	cmd.Stdout, cmd.Stderr = outF, errF
	err := cmd.Run()
	outF.Close()
	errF.Close()
	r := result{outPath: outF.Name(), errPath: errF.Name(), args: full, code: exitCode(err)}
	if ctx.Err() != nil {
		r.code = -2
	}
	stdout, _ := os.ReadFile(r.outPath)
	stderr, _ := os.ReadFile(r.errPath)
	r.stdout, r.stderr = string(stdout), string(stderr)
	if r.code == -2 {
		h.t.Errorf("timed out: %s", r)
	}
	return r
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

// newID returns a container ID unique to the run, named after the test.
func (h *harness) newID() string {
	name := strings.ToLower(h.t.Name())
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.TrimPrefix(name, "test"))
	if len(name) > 20 {
		name = name[:20]
	}
	id := "sec-" + strings.Trim(name, "-") + "-" + randHex(4)
	h.mu.Lock()
	h.ids = append(h.ids, id)
	h.mu.Unlock()
	return id
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// create runs `create --bundle B [extra] ID` and, on success, records the
// container's init and its cgroups for the cleanup.
func (h *harness) create(bundle string, extra ...string) (string, result) {
	h.t.Helper()
	id := h.newID()
	args := append(append([]string{"create", "--bundle", bundle}, extra...), id)
	r := h.rt(opts{}, args...)
	if r.code == 0 {
		h.notePid(h.state(id).Pid)
	}
	return id, r
}

// mustCreate is create that fails the test unless it succeeds.
func (h *harness) mustCreate(bundle string, extra ...string) (string, result) {
	h.t.Helper()
	id, r := h.create(bundle, extra...)
	if r.code != 0 {
		h.t.Fatalf("create: %s", r)
	}
	return id, r
}

// runC runs `run --bundle B ID` in the foreground. What the attacker wrote
// to rootfs/tmp/attacker.out instead of its stdio is added to stdout.
func (h *harness) runC(bundle string, o opts, extra ...string) result {
	h.t.Helper()
	id := h.newID()
	r := h.rt(o, append(append([]string{"run", "--bundle", bundle}, extra...), id)...)
	r.stdout += h.hijackedOutput(bundle)
	return r
}

// hijackedOutput returns what the attacker wrote to rootfs/tmp/attacker.out
// because its stdio was a procfs file, and fails the test if it was.
func (h *harness) hijackedOutput(bundle string) string {
	h.t.Helper()
	p := filepath.Join(bundle, "rootfs/tmp/attacker.out")
	data, _ := os.ReadFile(p)
	os.Remove(p)
	out := string(data)
	for _, hit := range okSteps(out, "stdio") {
		h.t.Errorf("ATTACK WORKED: the container's stdio is a procfs file of the host: %s", hit)
	}
	return out
}

// notePid records a container init: the cleanup reaps it, and its cgroups
// are removed if the runtime leaves them.
func (h *harness) notePid(pid int) {
	if pid <= 0 {
		return
	}
	cgs := procCgroups(pid)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pids = append(h.pids, pid)
	for _, dir := range cgs {
		if dir != "" {
			h.cgroups = append(h.cgroups, dir)
		}
	}
}

// procCgroups returns pid's cgroup directories (other than a hierarchy's
// root), by controller name.
func procCgroups(pid int) map[string]string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return nil
	}
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.SplitN(l, ":", 3)
		if len(f) != 3 || f[2] == "/" {
			continue
		}
		ctrl := strings.TrimPrefix(f[1], "name=")
		if ctrl == "" {
			ctrl = "unified"
		}
		for _, c := range strings.Split(ctrl, ",") {
			m[c] = filepath.Join("/sys/fs/cgroup", ctrl, f[2])
		}
	}
	return m
}

type ociState struct {
	Status string `json:"status"`
	Pid    int    `json:"pid"`
}

func (h *harness) state(id string) ociState {
	h.t.Helper()
	r := h.rt(opts{}, "state", id)
	var st ociState
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &st) != nil {
		h.t.Fatalf("state: %s", r)
	}
	return st
}

// deleteForce runs `delete --force ID` and checks that the container is
// gone: no state, no process, no cgroup.
func (h *harness) deleteForce(id, bundle string) {
	h.t.Helper()
	if r := h.rt(opts{}, "delete", "--force", id); r.code != 0 {
		h.t.Errorf("delete --force: %s", r)
	}
	h.reapAll(5 * time.Second)
	if _, err := os.Lstat(filepath.Join(h.root, id)); err == nil {
		h.t.Errorf("container %s: state directory left after delete --force", id)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		procs := findProcs(bundle)
		if len(procs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			h.t.Errorf("container %s: processes left after delete --force: %v", id, procs)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// reapAll reaps the recorded inits that are gone (the suite is their
// subreaper), waiting up to d for them.
func (h *harness) reapAll(d time.Duration) {
	h.mu.Lock()
	pids := append([]int(nil), h.pids...)
	h.mu.Unlock()
	deadline := time.Now().Add(d)
	for _, pid := range pids {
		for !reap(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// reap reaps pid if it is our zombie child, and reports whether it is gone.
// It never waits for any other pid.
func reap(pid int) bool {
	var ws unix.WaitStatus
	wpid, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
	if wpid == pid {
		return true
	}
	if errors.Is(err, unix.ECHILD) {
		_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
		return os.IsNotExist(err)
	}
	return false
}

// findProcs lists the processes whose environment names bundle.
func findProcs(bundle string) []int {
	if bundle == "" {
		return nil
	}
	marker := []byte(markerEnv + "=" + bundle + "\x00")
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, _ := os.ReadFile("/proc/" + e.Name() + "/environ")
		if strings.Contains(string(env), string(marker)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// cleanup force-deletes the test's containers, kills what they left, reaps
// their inits and removes their cgroups. It reports nothing: the tests
// check for leftovers where that is the point.
func (h *harness) cleanup() {
	h.mu.Lock()
	ids, bundles := append([]string(nil), h.ids...), append([]string(nil), h.bundles...)
	h.mu.Unlock()
	for _, id := range ids {
		ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
		exec.CommandContext(ctx, runtimeBin, "--root", h.root, "delete", "--force", id).Run()
		cancel()
	}
	for _, b := range bundles {
		for _, pid := range findProcs(b) {
			unix.Kill(pid, unix.SIGKILL)
			h.mu.Lock()
			h.pids = append(h.pids, pid)
			h.mu.Unlock()
		}
	}
	h.reapAll(3 * time.Second)
	h.mu.Lock()
	cgs := append([]string(nil), h.cgroups...)
	h.mu.Unlock()
	for _, id := range ids {
		for _, p := range []string{"/sys/fs/cgroup/*/" + id, "/sys/fs/cgroup/*/*/" + id, "/sys/fs/cgroup/*/*/*/" + id} {
			m, _ := filepath.Glob(p)
			cgs = append(cgs, m...)
		}
	}
	sort.Slice(cgs, func(i, j int) bool { return len(cgs[i]) > len(cgs[j]) })
	for _, dir := range cgs {
		os.Remove(dir)
	}
}

// bundle makes a bundle: a private copy of the base rootfs and the config
// of templateSpec, changed by mutate.
func (h *harness) bundle(mutate func(*specs.Spec)) string {
	h.t.Helper()
	dir := h.newDir()
	if err := copyRootfs(filepath.Join(dir, "rootfs")); err != nil {
		h.t.Fatalf("copy rootfs: %v", err)
	}
	s := templateSpec(dir)
	if mutate != nil {
		mutate(s)
	}
	writeSpec(h.t, dir, s)
	h.mu.Lock()
	h.bundles = append(h.bundles, dir)
	h.mu.Unlock()
	return dir
}

// newDir makes a fresh directory in the test's temp dir, which is removed
// after the cleanup has deleted the containers (t.TempDir called later
// would be removed before).
func (h *harness) newDir() string {
	h.t.Helper()
	h.mu.Lock()
	h.ndir++
	dir := filepath.Join(h.base, fmt.Sprintf("b%d", h.ndir))
	h.mu.Unlock()
	if err := os.Mkdir(dir, 0o755); err != nil {
		h.t.Fatal(err)
	}
	return dir
}

// templateSpec is the config of `runc spec` with terminal false, a
// writable rootfs and the attacker as process.
func templateSpec(bundle string) *specs.Spec {
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	return &specs.Spec{
		Version: "1.0.2",
		Process: &specs.Process{
			User: specs.User{UID: 0, GID: 0},
			Args: []string{"attacker", "fds"},
			Env:  []string{"PATH=/bin", markerEnv + "=" + bundle},
			Cwd:  "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps,
			},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Root:     &specs.Root{Path: "rootfs"},
		Hostname: "sec",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
			},
			MaskedPaths: []string{
				"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
				"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
			},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
		},
	}
}

func writeSpec(t *testing.T, bundle string, s *specs.Spec) {
	t.Helper()
	data, err := json.MarshalIndent(s, "", "\t")
	if err == nil {
		err = os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func readSpec(t *testing.T, bundle string) *specs.Spec {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	var s specs.Spec
	if err == nil {
		err = json.Unmarshal(data, &s)
	}
	if err != nil {
		t.Fatal(err)
	}
	return &s
}

// attackerArgs joins attacker commands with "--".
func attackerArgs(cmds ...[]string) []string {
	args := []string{"attacker"}
	for i, c := range cmds {
		if i > 0 {
			args = append(args, "--")
		}
		args = append(args, c...)
	}
	return args
}

// copyRootfs copies the base rootfs; the two binaries are hard-linked.
func copyRootfs(dst string) error {
	return filepath.Walk(baseRootfs, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(baseRootfs, path)
		target := filepath.Join(dst, rel)
		switch {
		case fi.IsDir():
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			return os.Chmod(target, fi.Mode()&(os.ModePerm|os.ModeSticky))
		case fi.Mode()&os.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case fi.Size() > 64<<10:
			return os.Link(path, target)
		default:
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(target, data, fi.Mode().Perm())
		}
	})
}

// hostDir makes a host directory, outside any bundle, that an attack aims
// at; it is watched (it must not change) and removed at the end.
func (h *harness) hostDir() string {
	h.t.Helper()
	dir, err := os.MkdirTemp("", "tabox-sec-host-")
	if err != nil {
		h.t.Fatal(err)
	}
	h.mu.Lock()
	h.hostDirs = append(h.hostDirs, dir)
	h.mu.Unlock()
	h.watch(dir)
	return dir
}

// removeAll removes dir after detaching any mount under it.
func removeAll(dir string) {
	for i := 0; i < 8; i++ {
		if unix.Unmount(dir, unix.MNT_DETACH) != nil {
			break
		}
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			unix.Unmount(p, unix.MNT_DETACH)
		}
		return nil
	})
	os.RemoveAll(dir)
}

// fieldOf returns the result of attacker step key ("STEP ARG") in out.
func fieldOf(out, key string) (string, bool) {
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, key+": "); ok {
			return v, true
		}
	}
	return "", false
}

// okSteps lists the attacker lines whose step starts with one of prefixes
// and succeeded.
func okSteps(out string, prefixes ...string) []string {
	var hits []string
	for _, l := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(l, ": ")
		if !ok || !(v == "ok" || strings.HasPrefix(v, "ok ")) {
			continue
		}
		for _, p := range prefixes {
			if k == p || strings.HasPrefix(k, p+" ") {
				hits = append(hits, l)
				break
			}
		}
	}
	return hits
}

// waitFor polls cond for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

func readTrim(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}
