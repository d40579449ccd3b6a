package tooling

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// rootlessUser is the unprivileged account rootless podman runs as; the
// test creates it, and its subordinate id ranges, when they are missing.
const rootlessUser = "tabox-rootless"

// The subordinate ids given to rootlessUser when it has none.
const subIDStart, subIDCount = 200000, 65536

// rootlessPodman is podman run by an unprivileged user: its own storage
// (vfs), runroot, XDG_RUNTIME_DIR and containers.conf. podman calls the
// runtime as root of a user namespace it made from the user's ids, with
// XDG_RUNTIME_DIR set and without --root.
type rootlessPodman struct {
	dir      string
	uid, gid int
	xdg      string
	conf     string
}

func (p *rootlessPodman) argv(args ...string) []string {
	return append([]string{"runuser", "-u", rootlessUser, "--", "env",
		"HOME=" + p.dir, "XDG_RUNTIME_DIR=" + p.xdg, "CONTAINERS_CONF=" + p.conf,
		"podman", "--root", filepath.Join(p.dir, "root"), "--runroot", filepath.Join(p.dir, "run"),
		"--tmpdir", filepath.Join(p.dir, "tmp"), "--storage-driver", "vfs",
		"--cgroup-manager", "cgroupfs", "--events-backend", "file"}, args...)
}

func (p *rootlessPodman) podman(o cmdOpts, args ...string) result {
	a := p.argv(args...)
	return run(o, a[0], a[1:]...)
}

// ensureSubIDs gives the user a range in /etc/subuid and /etc/subgid when
// it has none, and takes it away again at cleanup.
func ensureSubIDs(t *testing.T) {
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		data, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if strings.Contains("\n"+string(data), "\n"+rootlessUser+":") {
			continue
		}
		line := fmt.Sprintf("%s:%d:%d\n", rootlessUser, subIDStart, subIDCount)
		if len(data) > 0 && !strings.HasSuffix(string(data), "\n") {
			line = "\n" + line
		}
		if err := os.WriteFile(f, append(data, line...), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			now, err := os.ReadFile(f)
			if err == nil {
				os.WriteFile(f, []byte(strings.Replace(string(now), strings.TrimPrefix(line, "\n"), "", 1)), 0o644)
			}
		})
	}
}

func TestPodmanRootless(t *testing.T) {
	need(t, "podman", "conmon", "script", "runuser", "newuidmap", "newgidmap")
	u, err := user.Lookup(rootlessUser)
	if err != nil {
		if out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", rootlessUser).CombinedOutput(); err != nil {
			t.Fatalf("useradd %s: %v: %s", rootlessUser, err, out)
		}
		if u, err = user.Lookup(rootlessUser); err != nil {
			t.Fatal(err)
		}
	}
	ensureSubIDs(t)
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir := filepath.Join(workDir, "podman-rootless")
	p := &rootlessPodman{dir: dir, uid: uid, gid: gid, xdg: filepath.Join(dir, "xdg"), conf: filepath.Join(dir, "containers.conf")}
	for _, d := range []string{dir, p.xdg, filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	wrappers := writePodmanConf(t, dir, p.conf)
	// The user owns its tree; the image tar and the wrappers are readable.
	filepath.Walk(dir, func(path string, _ os.FileInfo, _ error) error { return os.Lchown(path, uid, gid) })
	os.Chmod(p.xdg, 0o700)
	t.Cleanup(func() {
		p.podman(cmdOpts{Timeout: 120 * time.Second}, "rm", "-af", "-t", "0")
		p.podman(cmdOpts{Timeout: 120 * time.Second}, "system", "reset", "-f")
		// podman keeps a pause process holding its user namespace.
		if b, err := os.ReadFile(filepath.Join(p.xdg, "libpod", "tmp", "pause.pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				unix.Kill(pid, unix.SIGKILL)
			}
		}
		var left []string
		poll(10*time.Second, func() bool { left = procsMatching(dir); return len(left) == 0 })
		if len(left) > 0 {
			t.Errorf("processes left after rootless podman:\n%s", strings.Join(left, "\n"))
		}
		if m := mountsUnder(dir); len(m) > 0 {
			t.Errorf("mounts left under %s: %v", dir, m)
		}
	})
	layer := filepath.Join(dir, "layer.tar")
	data, err := os.ReadFile(layerTar)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(layer, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if res := p.podman(cmdOpts{Timeout: 120 * time.Second}, "import", layer, podmanImage); res.Code != 0 {
		t.Fatalf("rootless podman import: %v", res)
	}
	for _, r := range runtimes {
		t.Run(r.name, func(t *testing.T) { rootlessPodmanScenarios(t, p, r, wrappers[r.name]) })
	}
}

func rootlessPodmanScenarios(t *testing.T, p *rootlessPodman, r rt, wrapper string) {
	callLog := filepath.Join(filepath.Dir(wrapper), "calls.log")
	pm := func(o cmdOpts, args ...string) result { return p.podman(o, args...) }
	runArgs := func(extra ...string) []string {
		return append([]string{"run", "--runtime", wrapper, "--network", "none"}, extra...)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s invocations (tail):\n%s", r.name, lastLines(callLog, 30))
		}
	})
	check := func(t *testing.T, what string, res result, code int, stdout string) {
		t.Helper()
		if res.Code != code || res.Stdout != stdout {
			t.Errorf("%s: want exit %d and stdout %q; got %v", what, code, stdout, res)
		}
	}
	name := func(n string) string { return "tlr" + runID + "-" + r.name + "-" + n }

	t.Run("run-user-env-exit-code", func(t *testing.T) {
		res := pm(cmdOpts{}, runArgs("--rm", "--name", name("env"), "-e", "FOO=bar baz", "-w", "/tmp", "--user", "1000:1000",
			podmanImage, "sh", "-c", `echo "$FOO"; pwd; id -u; id -g; exit 3`)...)
		check(t, "rootless podman run -e -w --user", res, 3, "bar baz\n/tmp\n1000\n1000\n")
	})

	t.Run("user-namespace", func(t *testing.T) {
		// The container runs in podman's namespace: root is the user, and
		// the other ids are its subordinate range, as newuidmap set them.
		res := pm(cmdOpts{}, runArgs("--rm", "--name", name("map"), podmanImage, "cat", "/proc/self/uid_map")...)
		f := strings.Fields(res.Stdout)
		if res.Code != 0 || len(f) != 6 || f[0] != "0" || f[1] != strconv.Itoa(p.uid) || f[2] != "1" || f[3] != "1" || f[5] != strconv.Itoa(subIDCount) {
			t.Errorf("uid_map inside: want 0 %d 1 and 1 <subuid> %d; got %v", p.uid, subIDCount, res)
		}
	})

	t.Run("not-found-read-only-caps-seccomp", func(t *testing.T) {
		res := pm(cmdOpts{}, runArgs("--rm", "--name", name("nf"), podmanImage, "no-such-program")...)
		if res.Code != 127 {
			t.Errorf("a command that does not exist: want podman's exit 127; got %v", res)
		}
		res = pm(cmdOpts{}, runArgs("--rm", "--read-only", "--name", name("ro"), podmanImage, "sh", "-c", "touch /x 2>&1; echo rc=$?")...)
		if res.Code != 0 || !strings.Contains(res.Stdout, "Read-only file system") {
			t.Errorf("rootless podman run --read-only: %v", res)
		}
		res = pm(cmdOpts{}, runArgs("--rm", "--cap-drop", "ALL", "--name", name("cap"), podmanImage, "grep", "-E", "^(Cap(Eff|Bnd)|Seccomp):", "/proc/self/status")...)
		check(t, "rootless podman run --cap-drop ALL", res, 0, "CapEff:\t0000000000000000\nCapBnd:\t0000000000000000\nSeccomp:\t2\n")
	})

	t.Run("stdin-volume", func(t *testing.T) {
		res := pm(cmdOpts{Stdin: strings.NewReader("abc\n")}, runArgs("--rm", "-i", "--name", name("in"), podmanImage, "cat")...)
		check(t, "rootless podman run -i", res, 0, "abc\n")
		host := filepath.Join(p.dir, "vol-"+r.name)
		os.MkdirAll(host, 0o755)
		os.Lchown(host, p.uid, p.gid)
		res = pm(cmdOpts{}, runArgs("--rm", "-v", host+":/data", "--name", name("vol"), podmanImage, "sh", "-c", "echo from-ctr > /data/out")...)
		var st unix.Stat_t
		if b, err := os.ReadFile(filepath.Join(host, "out")); res.Code != 0 || err != nil || string(b) != "from-ctr\n" {
			t.Errorf("file written through a bind mount: %q, %v; %v", b, err, res)
		} else if unix.Stat(filepath.Join(host, "out"), &st) == nil && int(st.Uid) != p.uid {
			t.Errorf("file written by the container's root is owned by host uid %d, want the user's %d", st.Uid, p.uid)
		}
	})

	t.Run("tty", func(t *testing.T) {
		res := inPty(cmdOpts{}, p.argv(runArgs("--rm", "-t", "--name", name("tty"), podmanImage, "sh", "-c", ttyScript)...)...)
		out := strings.ReplaceAll(res.Stdout, "\r", "")
		if res.Code != 5 || !strings.Contains(out, "/dev/pts/0\n") || !strings.Contains(out, "size 24 80\n") {
			t.Errorf("rootless podman run -t: want /dev/pts/0, \"size 24 80\" and exit 5; got %v", res)
		}
	})

	t.Run("detached-exec-top-stop-rm", func(t *testing.T) {
		n := name("det")
		res := pm(cmdOpts{}, runArgs("-d", "--name", n, podmanImage, "sh", "-c",
			`trap 'echo got-term; exit 7' TERM; echo started; while true; do sleep 0.1; done`)...)
		if res.Code != 0 {
			t.Fatalf("rootless podman run -d: %v", res)
		}
		id := strings.TrimSpace(res.Stdout)
		defer pm(cmdOpts{}, "rm", "-f", "-t", "0", n)
		// podman passes no --root: the runtime keeps its state under the
		// XDG_RUNTIME_DIR podman gave it, never in the host's /run.
		if _, err := os.Stat(filepath.Join(p.xdg, r.name, id)); err != nil {
			t.Errorf("state of the running container not under $XDG_RUNTIME_DIR/%s: %v", r.name, err)
		}
		if _, err := os.Stat(filepath.Join("/run", r.name, id)); err == nil {
			t.Errorf("state of a rootless container in /run/%s", r.name)
		}
		poll(5*time.Second, func() bool { return strings.Contains(pm(cmdOpts{}, "logs", n).Stdout, "started") })
		res = pm(cmdOpts{}, "exec", "-e", "E=1", "-w", "/tmp", n, "sh", "-c", `echo "in-exec $E $(pwd)"; exit 4`)
		check(t, "rootless podman exec", res, 4, "in-exec 1 /tmp\n")
		res = pm(cmdOpts{}, "exec", "--user", "1000", n, "id", "-u")
		check(t, "rootless podman exec --user 1000", res, 0, "1000\n")
		res = pm(cmdOpts{}, "top", n, "pid", "args")
		if res.Code != 0 || !strings.Contains(res.Stdout, "while true") {
			t.Errorf("rootless podman top: want the init's command line; got %v", res)
		}
		start := time.Now()
		if res = pm(cmdOpts{}, "stop", "-t", "10", n); res.Code != 0 {
			t.Errorf("rootless podman stop: %v", res)
		}
		if d := time.Since(start); d > 8*time.Second {
			t.Errorf("rootless podman stop took %v: SIGTERM not delivered to the trapping init", d)
		}
		if code := strings.TrimSpace(pm(cmdOpts{}, "inspect", "-f", "{{.State.ExitCode}}", n).Stdout); code != "7" {
			t.Errorf("exit code after stop: %q, want 7 (the TERM trap)", code)
		}
		if res = pm(cmdOpts{}, "rm", n); res.Code != 0 {
			t.Errorf("rootless podman rm: %v", res)
		}
		if _, err := os.Stat(filepath.Join(p.xdg, r.name, id)); !os.IsNotExist(err) {
			t.Errorf("state left after rm: %v", err)
		}
	})
}
