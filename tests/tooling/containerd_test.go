package tooling

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const ctrImage = "docker.io/library/tooling:latest"

// ttyScript prints the terminal's name and size, exiting 5. The tools set
// the size after the process starts (runc alike): wait for it.
const ttyScript = `tty; i=0; while [ $i -lt 50 ]; do s=$(stty size 2>&1); case "$s" in [1-9]*" "[1-9]*) break;; esac; i=$((i+1)); sleep 0.1; done; echo "size $s"; exit 5`

// ctrd is a private containerd: own root, state, sockets and config.
type ctrd struct {
	dir, sock string
}

func (c *ctrd) ctr(ns string, o cmdOpts, args ...string) result {
	return run(o, "ctr", append([]string{"-a", c.sock, "-n", ns}, args...)...)
}

// startContainerd starts containerd under a temp dir; its cleanup stops it
// and checks that nothing of it (processes, mounts) is left.
func startContainerd(t *testing.T) *ctrd {
	return startContainerdIn(t, filepath.Join(workDir, "ctrd"))
}

// startContainerdIn is startContainerd with its root, state and sockets
// under dir.
func startContainerdIn(t *testing.T, dir string) *ctrd {
	for _, d := range []string{"root", "state"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o711); err != nil {
			t.Fatal(err)
		}
	}
	c := &ctrd{dir: dir, sock: filepath.Join(dir, "c.sock")}
	cfg := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = %q
[ttrpc]
  address = %q
[debug]
  level = "info"
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), c.sock, c.sock+".ttrpc")
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "containerd.log")
	stop, err := startBg(cmdOpts{Dir: dir}, logPath, "containerd", "--config", cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(unix.SIGTERM); err != nil {
			t.Errorf("stopping containerd: %v", err)
		}
		// The shims exit when their containers are deleted; give them a moment.
		var left []string
		poll(10*time.Second, func() bool { left = procsMatching(dir); return len(left) == 0 })
		if len(left) > 0 {
			t.Errorf("processes left after containerd stopped:\n%s", strings.Join(left, "\n"))
		}
		if m := mountsUnder(dir); len(m) > 0 {
			t.Errorf("mounts left under %s: %v", dir, m)
			for i := len(m) - 1; i >= 0; i-- {
				unix.Unmount(m[i], unix.MNT_DETACH)
			}
		}
		if t.Failed() {
			t.Logf("containerd log (tail):\n%s", lastLines(logPath, 40))
		}
	})
	if !poll(15*time.Second, func() bool { return c.ctr("default", cmdOpts{}, "version").Code == 0 }) {
		t.Fatalf("containerd did not come up:\n%s", lastLines(logPath, 30))
	}
	return c
}

// wrapRuntime writes an exec wrapper that records every invocation of the
// runtime (argv) in calls.log, for failure reports.
func wrapRuntime(t *testing.T, r rt, dir string) (wrapper, callLog string) {
	os.MkdirAll(dir, 0o755)
	callLog = filepath.Join(dir, "calls.log")
	wrapper = filepath.Join(dir, r.name)
	script := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$*\" >> %s\nexec %s \"$@\"\n", callLog, r.path)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return wrapper, callLog
}

func TestContainerd(t *testing.T) {
	need(t, "containerd", "ctr", "containerd-shim-runc-v2", "script")
	c := startContainerd(t)
	for _, r := range runtimes {
		t.Run(r.name, func(t *testing.T) { containerdScenarios(t, c, r) })
	}
}

func containerdScenarios(t *testing.T, c *ctrd, r rt) {
	ns := "tl" + runID + r.name
	rtDir := filepath.Join(c.dir, "rt-"+r.name)
	wrapper, callLog := wrapRuntime(t, r, rtDir)
	runcRoot := filepath.Join(rtDir, "root")
	ctr := func(o cmdOpts, args ...string) result { return c.ctr(ns, o, args...) }
	rtFlags := []string{"--runc-binary", wrapper, "--runc-root", runcRoot}

	if res := ctr(cmdOpts{Timeout: 120 * time.Second}, "image", "import", ociArchive); res.Code != 0 {
		t.Fatalf("ctr image import: %v", res)
	}

	// Every container this test made is removed at the end, whatever happened,
	// then nothing may be left: state, cgroups, processes.
	t.Cleanup(func() {
		ls := ctr(cmdOpts{}, "container", "ls", "-q")
		for _, id := range strings.Fields(ls.Stdout) {
			t.Errorf("container %s left in namespace %s", id, ns)
			ctr(cmdOpts{}, "task", "kill", "-a", "-s", "SIGKILL", id)
			time.Sleep(200 * time.Millisecond)
			ctr(cmdOpts{}, "task", "delete", "-f", id)
			ctr(cmdOpts{}, "container", "delete", id)
		}
		if ents, _ := os.ReadDir(filepath.Join(runcRoot, ns)); len(ents) > 0 {
			var n []string
			for _, e := range ents {
				n = append(n, e.Name())
			}
			t.Errorf("%s state left in %s: %v", r.name, filepath.Join(runcRoot, ns), n)
		}
		if p := procsMatching("/" + ns + "/"); len(p) > 0 {
			t.Errorf("processes left in the namespace's cgroups:\n%s", strings.Join(p, "\n"))
		}
		for _, top := range cgroupDirs("/" + ns) {
			ents, _ := os.ReadDir(top)
			for _, e := range ents {
				if e.IsDir() {
					t.Errorf("cgroup left: %s", filepath.Join(top, e.Name()))
				}
			}
		}
		removeCgroupTree("/" + ns)
		ctr(cmdOpts{}, "image", "rm", ctrImage)
		ctr(cmdOpts{}, "namespace", "rm", ns)
		if t.Failed() {
			t.Logf("%s invocations (tail):\n%s", r.name, lastLines(callLog, 30))
		}
	})

	runArgs := func(extra ...string) []string {
		return append(append([]string{"run"}, rtFlags...), extra...)
	}
	// check fails the scenario unless res has code and stdout.
	check := func(t *testing.T, what string, res result, code int, stdout string) {
		t.Helper()
		if res.Code != code || res.Stdout != stdout {
			t.Errorf("%s: want exit %d and stdout %q; got %v", what, code, stdout, res)
		}
	}

	t.Run("echo-exit-code", func(t *testing.T) {
		res := ctr(cmdOpts{}, runArgs("--rm", ctrImage, "echo1", "sh", "-c", "echo hello; echo oops >&2; exit 3")...)
		check(t, "ctr run", res, 3, "hello\n")
		if !strings.Contains(res.Stderr, "oops") {
			t.Errorf("stderr of the container lost: %v", res)
		}
	})

	t.Run("env-cwd", func(t *testing.T) {
		res := ctr(cmdOpts{}, runArgs("--rm", "--env", "FOO=bar baz", "--cwd", "/tmp", ctrImage, "env1", "sh", "-c", `echo "$FOO"; pwd`)...)
		check(t, "ctr run --env --cwd", res, 0, "bar baz\n/tmp\n")
	})

	t.Run("stdin", func(t *testing.T) {
		// ctr never closes the container's stdin: read just one line.
		res := ctr(cmdOpts{Stdin: strings.NewReader("from-stdin\n")}, runArgs("--rm", ctrImage, "stdin1", "head", "-n1")...)
		check(t, "ctr run < stdin", res, 0, "from-stdin\n")
	})

	t.Run("read-only", func(t *testing.T) {
		res := ctr(cmdOpts{}, runArgs("--rm", "--read-only", ctrImage, "ro1", "sh", "-c", "touch /x 2>&1; echo rc=$?")...)
		if res.Code != 0 || !strings.Contains(res.Stdout, "Read-only file system") || !strings.Contains(res.Stdout, "rc=1") {
			t.Errorf("ctr run --read-only: want touch to fail with EROFS; got %v", res)
		}
	})

	t.Run("cap-drop", func(t *testing.T) {
		res := ctr(cmdOpts{}, runArgs("--rm", "--cap-drop", "CAP_CHOWN", ctrImage, "cap1", "sh", "-c", "busybox chown 1000 /tmp 2>&1; echo rc=$?")...)
		if !strings.Contains(res.Stdout, "Operation not permitted") || !strings.Contains(res.Stdout, "rc=1") {
			t.Errorf("ctr run --cap-drop CAP_CHOWN: want chown to fail with EPERM; got %v", res)
		}
	})

	t.Run("seccomp", func(t *testing.T) {
		res := ctr(cmdOpts{}, runArgs("--rm", "--seccomp", ctrImage, "sec1", "grep", "^Seccomp:", "/proc/self/status")...)
		check(t, "ctr run --seccomp", res, 0, "Seccomp:\t2\n")
	})

	t.Run("config-user-hostname-limits", func(t *testing.T) {
		// ctr 1.6 has no --user, --hostname, --pids-limit: use --config.
		gen := ctr(cmdOpts{}, "oci", "spec")
		if gen.Code != 0 {
			t.Fatalf("ctr oci spec: %v", gen)
		}
		var spec map[string]any
		if err := json.Unmarshal([]byte(gen.Stdout), &spec); err != nil {
			t.Fatal(err)
		}
		spec["root"] = map[string]any{"path": rootfsDir, "readonly": true}
		spec["hostname"] = "tlhost"
		proc := spec["process"].(map[string]any)
		proc["user"] = map[string]any{"uid": 1000, "gid": 1000}
		proc["env"] = []string{"PATH=/bin"}
		proc["cwd"] = "/home/user"
		proc["args"] = []string{"sh", "-c", "id; hostname; pwd; cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/memory/memory.limit_in_bytes"}
		spec["mounts"] = append(spec["mounts"].([]any), map[string]any{
			"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
			"options": []string{"ro", "nosuid", "noexec", "nodev"},
		})
		linux := spec["linux"].(map[string]any)
		linux["cgroupsPath"] = "/" + ns + "/cfg1"
		linux["resources"] = map[string]any{
			"pids":   map[string]any{"limit": 32},
			"memory": map[string]any{"limit": 64 << 20},
		}
		b, _ := json.Marshal(spec)
		cfg := filepath.Join(rtDir, "cfg1.json")
		os.WriteFile(cfg, b, 0o644)
		res := ctr(cmdOpts{}, append(runArgs("--rm", "--config", cfg), "cfg1")...)
		check(t, "ctr run --config (user 1000, hostname, pids 32, memory 64M)", res, 0,
			"uid=1000(user) gid=1000(user)\ntlhost\n/home/user\n32\n67108864\n")
	})

	t.Run("tty", func(t *testing.T) {
		argv := append([]string{"ctr", "-a", c.sock, "-n", ns}, runArgs("--rm", "-t", ctrImage, "tty1", "sh", "-c", ttyScript)...)
		res := inPty(cmdOpts{}, argv...)
		out := strings.ReplaceAll(res.Stdout, "\r", "")
		if res.Code != 5 || !strings.Contains(out, "/dev/pts/0\n") || !strings.Contains(out, "size 24 80\n") {
			t.Errorf("ctr run -t: want /dev/pts/0, \"24 80\" and exit 5; got %v", res)
		}
	})

	t.Run("detached-lifecycle", func(t *testing.T) {
		id := "det1"
		res := ctr(cmdOpts{}, runArgs("-d", "--memory-limit", "67108864", ctrImage, id, "sh", "-c",
			`trap 'echo got-term; exit 7' TERM; echo started > /tmp/started; while true; do sleep 0.1; done`)...)
		if res.Code != 0 {
			t.Fatalf("ctr run -d: %v", res)
		}
		taskStatus := func() string {
			ls := ctr(cmdOpts{}, "task", "ls")
			for _, l := range strings.Split(ls.Stdout, "\n") {
				f := strings.Fields(l)
				if len(f) >= 3 && f[0] == id {
					return f[2]
				}
			}
			return "(absent) " + ls.String()
		}
		if s := taskStatus(); s != "RUNNING" {
			t.Fatalf("ctr task ls: want RUNNING, got %s", s)
		}
		// Wait for the trap to be installed.
		poll(5*time.Second, func() bool {
			return ctr(cmdOpts{}, "task", "exec", "--exec-id", "w", id, "test", "-e", "/tmp/started").Code == 0
		})
		// The limit from the host's side, in the cgroup the shim asked for.
		if b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/memory", ns, id, "memory.limit_in_bytes")); err != nil || strings.TrimSpace(string(b)) != "67108864" {
			t.Errorf("memory.limit_in_bytes of /%s/%s: %q, %v", ns, id, b, err)
		}
		res = ctr(cmdOpts{}, "task", "exec", "--exec-id", "e1", "--cwd", "/tmp", id, "sh", "-c", `echo "in-exec $(pwd)"; exit 4`)
		check(t, "ctr task exec", res, 4, "in-exec /tmp\n")

		res = ctr(cmdOpts{}, "task", "ps", id)
		if res.Code != 0 || len(strings.Fields(res.Stdout)) < 4 {
			t.Errorf("ctr task ps: want a header and the init pid; got %v", res)
		}
		res = ctr(cmdOpts{}, "task", "metrics", id)
		if res.Code != 0 || !strings.Contains(res.Stdout, "memory.usage_in_bytes") || !strings.Contains(res.Stdout, "pids.current") {
			t.Errorf("ctr task metrics: want memory.usage_in_bytes and pids.current; got %v", res)
		}

		if res = ctr(cmdOpts{}, "task", "pause", id); res.Code != 0 {
			t.Errorf("ctr task pause: %v", res)
		}
		if s := taskStatus(); s != "PAUSED" {
			t.Errorf("after pause: want PAUSED, got %s", s)
		}
		if b, _ := os.ReadFile(filepath.Join("/sys/fs/cgroup/freezer", ns, id, "freezer.state")); strings.TrimSpace(string(b)) != "FROZEN" {
			t.Errorf("freezer.state after pause: %q", b)
		}
		if res = ctr(cmdOpts{}, "task", "resume", id); res.Code != 0 {
			t.Errorf("ctr task resume: %v", res)
		}
		if s := taskStatus(); s != "RUNNING" {
			t.Errorf("after resume: want RUNNING, got %s", s)
		}

		if res = ctr(cmdOpts{}, "task", "kill", "-s", "SIGTERM", id); res.Code != 0 {
			t.Errorf("ctr task kill -s SIGTERM: %v", res)
		}
		if !poll(10*time.Second, func() bool { return taskStatus() == "STOPPED" }) {
			t.Errorf("task not STOPPED after SIGTERM: %s", taskStatus())
		}
		res = ctr(cmdOpts{}, "task", "delete", id)
		if res.Code != 0 || !strings.Contains(res.Stdout+res.Stderr, "") {
			t.Errorf("ctr task delete: %v", res)
		}
		if res = ctr(cmdOpts{}, "container", "delete", id); res.Code != 0 {
			t.Errorf("ctr container delete: %v", res)
		}
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/memory", ns, id)); err == nil {
			t.Errorf("cgroup /%s/%s left after delete", ns, id)
		}
	})

	t.Run("kill-all-sigkill", func(t *testing.T) {
		id := "kall1"
		res := ctr(cmdOpts{}, runArgs("-d", ctrImage, id, "sh", "-c", "sleep 1000 & sleep 1000")...)
		if res.Code != 0 {
			t.Fatalf("ctr run -d: %v", res)
		}
		time.Sleep(300 * time.Millisecond)
		if res = ctr(cmdOpts{}, "task", "kill", "-a", "-s", "SIGKILL", id); res.Code != 0 {
			t.Errorf("ctr task kill -a -s SIGKILL: %v", res)
		}
		var st result
		ok := poll(10*time.Second, func() bool {
			st = ctr(cmdOpts{}, "task", "ls")
			return strings.Contains(st.Stdout, "STOPPED")
		})
		if !ok {
			t.Errorf("not STOPPED after kill --all: %v", st)
		}
		if res = ctr(cmdOpts{}, "task", "delete", "-f", id); res.Code != 0 {
			t.Errorf("ctr task delete -f: %v", res)
		}
		if res = ctr(cmdOpts{}, "container", "delete", id); res.Code != 0 {
			t.Errorf("ctr container delete: %v", res)
		}
		if p := procsMatching("/" + ns + "/" + id + "\n"); len(p) > 0 {
			t.Errorf("processes left after kill --all: %v", p)
		}
	})

	t.Run("start-failure-message", func(t *testing.T) {
		// A missing executable: containerd reports the runtime's error line.
		res := ctr(cmdOpts{}, runArgs("--rm", ctrImage, "fail1", "/no/such/binary")...)
		if res.Code == 0 || !strings.Contains(res.Stderr, "no such file or directory") {
			t.Errorf("ctr run of a missing binary: want a failure naming ENOENT; got %v", res)
		}
		ctr(cmdOpts{}, "container", "delete", "fail1")
	})
}
