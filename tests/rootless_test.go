package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// rootlessUser is the unprivileged account the rootless tests run as;
// the test setup creates it when it is missing.
const rootlessUser = "tabox-rootless"

// rootlessEnv is an unprivileged user's view: its uid/gid, a directory it
// owns holding a copy of the runtime, and its XDG_RUNTIME_DIR.
type rootlessEnv struct {
	uid, gid uint32
	home     string
	bin      string
	xdg      string
}

func setupRootless(t *testing.T) *rootlessEnv {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the rootless tests need root to create and switch to an unprivileged user")
	}
	u, err := user.Lookup(rootlessUser)
	if err != nil {
		if out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", rootlessUser).CombinedOutput(); err != nil {
			t.Fatalf("useradd %s: %v: %s", rootlessUser, err, out)
		}
		if u, err = user.Lookup(rootlessUser); err != nil {
			t.Fatal(err)
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	// t.TempDir is private to root: the user gets a directory of its own
	// in the world-traversable temp directory.
	home, err := os.MkdirTemp("", "tabox-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	env := &rootlessEnv{uid: uint32(uid), gid: uint32(gid), home: home,
		bin: filepath.Join(home, "tabox"), xdg: filepath.Join(home, "run")}
	data, err := os.ReadFile(runtimeBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(env.bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(env.xdg, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(home, "bundle"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := copyRootfs(filepath.Join(home, "bundle", "rootfs")); err != nil {
		t.Fatal(err)
	}
	if err := chownTree(home, uid, gid); err != nil {
		t.Fatal(err)
	}
	return env
}

func chownTree(dir string, uid, gid int) error {
	return filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
}

// run runs the runtime as the unprivileged user, with only the
// environment such a user has.
func (e *rootlessEnv) run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return e.runPath(t, "/usr/sbin:/usr/bin:/sbin:/bin", args...)
}

// runPath is run with another PATH.
func (e *rootlessEnv) runPath(t *testing.T, path string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin, args...)
	cmd.Dir = filepath.Join(e.home, "bundle")
	cmd.Env = []string{"PATH=" + path, "HOME=" + e.home, "XDG_RUNTIME_DIR=" + e.xdg}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: e.uid, Gid: e.gid}}
	// Files, not pipes: a created container keeps its stdio open, and a
	// pipe would make Run wait for the container.
	outf, err := os.CreateTemp(t.TempDir(), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	defer outf.Close()
	errf, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer errf.Close()
	cmd.Stdout, cmd.Stderr = outf, errf
	code := 0
	if err := cmd.Run(); err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	stdout, _ := os.ReadFile(outf.Name())
	stderr, _ := os.ReadFile(errf.Name())
	return string(stdout), string(stderr), code
}

// TestRootlessRun: an unprivileged user runs `tabox spec --rootless` and
// `tabox run`; inside, the process is root of a user namespace mapping it
// to the user, and the state lives under $XDG_RUNTIME_DIR/tabox.
func TestRootlessRun(t *testing.T) {
	e := setupRootless(t)
	if _, stderr, code := e.run(t, "spec", "--rootless"); code != 0 {
		t.Fatalf("spec --rootless: exit %d: %s", code, stderr)
	}
	bundle := filepath.Join(e.home, "bundle")
	spec := readSpec(t, bundle)
	spec.Process.Terminal = false
	spec.Process.Args = []string{"testinit", "id", "--", "cat", "/proc/self/uid_map", "--", "hostname", "--", "cat", "/proc/self/oom_score_adj"}
	adj := 300
	spec.Process.OOMScoreAdj = &adj
	if spec.Linux == nil || len(spec.Linux.UIDMappings) != 1 || spec.Linux.UIDMappings[0].HostID != e.uid {
		t.Fatalf("spec --rootless wrote uid mappings %+v, want one mapping to %d", spec.Linux.UIDMappings, e.uid)
	}
	writeSpec(t, bundle, spec)
	os.Lchown(filepath.Join(bundle, "config.json"), int(e.uid), int(e.gid))

	stdout, stderr, code := e.run(t, "run", "rl1")
	if code != 0 {
		t.Fatalf("rootless run: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) < 4 {
		t.Fatalf("rootless run printed %q, want id, uid_map, hostname and oom_score_adj", stdout)
	}
	if lines[3] != "300" {
		t.Errorf("oom_score_adj inside %q, want 300", lines[3])
	}
	if !strings.HasPrefix(lines[0], "uid=0 gid=0") {
		t.Errorf("inside: %q, want uid=0 gid=0", lines[0])
	}
	if f := strings.Fields(lines[1]); len(f) != 3 || f[0] != "0" || f[1] != strconv.Itoa(int(e.uid)) || f[2] != "1" {
		t.Errorf("inside uid_map %q, want \"0 %d 1\"", lines[1], e.uid)
	}
	if lines[2] != spec.Hostname {
		t.Errorf("hostname %q, want %q", lines[2], spec.Hostname)
	}
	// run deleted the container: its state directory is empty again.
	if entries, err := os.ReadDir(filepath.Join(e.xdg, "tabox")); err != nil || len(entries) != 0 {
		t.Errorf("state root after run: %v entries, err %v; want it empty", len(entries), err)
	}
}

// TestRootlessLifecycle: create, state, start and delete as an
// unprivileged user; the state names the user as owner.
func TestRootlessLifecycle(t *testing.T) {
	e := setupRootless(t)
	if _, stderr, code := e.run(t, "spec", "--rootless"); code != 0 {
		t.Fatalf("spec --rootless: exit %d: %s", code, stderr)
	}
	bundle := filepath.Join(e.home, "bundle")
	spec := readSpec(t, bundle)
	spec.Process.Terminal = false
	spec.Process.Args = []string{"testinit", "sleep", "60"}
	writeSpec(t, bundle, spec)

	if _, stderr, code := e.run(t, "create", "rl2"); code != 0 {
		t.Fatalf("rootless create: exit %d: %s", code, stderr)
	}
	defer e.run(t, "delete", "--force", "rl2")
	st := rootlessState(t, e, "rl2")
	if st.Status != "created" || st.Pid <= 0 {
		t.Fatalf("state after create: %+v", st)
	}
	defer reapPid(st.Pid, pollTimeout)
	if _, stderr, code := e.run(t, "start", "rl2"); code != 0 {
		t.Fatalf("rootless start: exit %d: %s", code, stderr)
	}
	if st := rootlessState(t, e, "rl2"); st.Status != "running" {
		t.Fatalf("state after start: %q, want running", st.Status)
	}
	// The container's init runs as the user on the host.
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", st.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), fmt.Sprintf("\nUid:\t%d\t", e.uid)) {
		t.Errorf("the container's process is not the user %d on the host:\n%s", e.uid, data)
	}
	// exec joins the container's user and PID namespaces: the user cannot
	// join the PID namespace itself (its user namespace does not own it),
	// so the exec'd process is forked once inside.
	stdout, stderr, code := e.run(t, "exec", "rl2", "testinit", "pid", "--", "readlink", "/proc/self/ns/pid", "--", "readlink", "/proc/self/ns/user")
	if code != 0 {
		t.Fatalf("rootless exec: exit %d: %s", code, stderr)
	}
	l := lines(stdout)
	if len(l) != 3 {
		t.Fatalf("rootless exec printed %q", stdout)
	}
	if n, err := strconv.Atoi(l[0]); err != nil || n <= 1 {
		t.Errorf("exec'd process's PID in the container %q, want > 1", l[0])
	}
	for i, ns := range []string{"pid", "user"} {
		want, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", st.Pid, ns))
		if l[1+i] != want {
			t.Errorf("exec'd process's %s namespace %q, want the container's %q", ns, l[1+i], want)
		}
	}
	if _, stderr, code := e.run(t, "exec", "rl2", "testinit", "exit", "7"); code != 7 {
		t.Errorf("rootless exec of exit 7: exit %d (%s)", code, stderr)
	}
	if _, stderr, code := e.run(t, "delete", "rl2"); code == 0 || !strings.Contains(stderr, "running") {
		t.Errorf("delete of a running container: exit %d (%s), want an error", code, stderr)
	}
	if _, stderr, code := e.run(t, "delete", "--force", "rl2"); code != 0 {
		t.Fatalf("rootless delete --force: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(e.xdg, "tabox", "rl2")); !os.IsNotExist(err) {
		t.Errorf("state directory left after delete: %v", err)
	}
}

func rootlessState(t *testing.T, e *rootlessEnv, id string) specs.State {
	t.Helper()
	stdout, stderr, code := e.run(t, "state", id)
	if code != 0 {
		t.Fatalf("state %s: exit %d: %s", id, code, stderr)
	}
	var st specs.State
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatalf("state %s: %v: %q", id, err, stdout)
	}
	return st
}
