package tooling

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const podmanImage = "localhost/tooling:latest"

// podmanEnv is a private podman: own storage root, runroot, tmpdir and
// containers.conf (CONTAINERS_CONF), cgroupfs, no network.
type podmanEnv struct {
	dir  string
	conf string
}

func (p *podmanEnv) podman(o cmdOpts, args ...string) result {
	o.Env = append(o.Env, "CONTAINERS_CONF="+p.conf)
	return run(o, "podman", append(p.globalArgs(), args...)...)
}

func (p *podmanEnv) globalArgs() []string {
	return []string{"--root", filepath.Join(p.dir, "root"), "--runroot", filepath.Join(p.dir, "run"),
		"--tmpdir", filepath.Join(p.dir, "tmp"), "--storage-driver", "overlay",
		"--cgroup-manager", "cgroupfs", "--events-backend", "file"}
}

func TestPodman(t *testing.T) {
	need(t, "podman", "conmon", "script")
	dir := filepath.Join(workDir, "podman")
	os.MkdirAll(dir, 0o755)
	p := &podmanEnv{dir: dir, conf: filepath.Join(dir, "containers.conf")}
	wrappers := writePodmanConf(t, dir, p.conf)
	hadParent := len(cgroupDirs("libpod_parent")) > 0
	t.Cleanup(func() {
		p.podman(cmdOpts{}, "rm", "-af", "-t", "0")
		// podman (cgroupfs) puts containers in libpod_parent/libpod-<id> and
		// conmon in libpod_parent/conmon; the containers' must be gone.
		for _, top := range cgroupDirs("libpod_parent") {
			ents, _ := os.ReadDir(top)
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), "libpod-") {
					t.Errorf("container cgroup left: %s", filepath.Join(top, e.Name()))
				}
			}
		}
		if !hadParent {
			removeCgroupTree("libpod_parent")
		}
		p.podman(cmdOpts{Timeout: 120 * time.Second}, "system", "reset", "-f")
		var left []string
		poll(10*time.Second, func() bool { left = procsMatching(dir); return len(left) == 0 })
		if len(left) > 0 {
			t.Errorf("processes left after podman:\n%s", strings.Join(left, "\n"))
		}
		if m := mountsUnder(dir); len(m) > 0 {
			t.Errorf("mounts left under %s: %v", dir, m)
			for i := len(m) - 1; i >= 0; i-- {
				unix.Unmount(m[i], unix.MNT_DETACH)
			}
		}
	})
	if res := p.podman(cmdOpts{Timeout: 120 * time.Second}, "import", layerTar, podmanImage); res.Code != 0 {
		t.Fatalf("podman import: %v", res)
	}
	for _, r := range runtimes {
		t.Run(r.name, func(t *testing.T) { podmanScenarios(t, p, r, wrappers[r.name]) })
	}
}

func podmanScenarios(t *testing.T, p *podmanEnv, r rt, wrapper string) {
	callLog := filepath.Join(filepath.Dir(wrapper), "calls.log")
	// podman never passes --root: the runtime uses its default state dir.
	stateRoot := map[string]string{"tabox": "/run/tabox", "runc": "/run/runc"}[r.name]
	pm := func(o cmdOpts, args ...string) result { return p.podman(o, args...) }
	runArgs := func(extra ...string) []string {
		return append([]string{"run", "--runtime", wrapper, "--network", "none"}, extra...)
	}
	var ids []string
	// name returns a container name of this runtime's run, remembered for
	// the leftover checks.
	name := func(n string) string {
		n = "tl" + runID + "-" + r.name + "-" + n
		ids = append(ids, n)
		return n
	}
	before := dirNames(stateRoot)
	t.Cleanup(func() {
		var full []string
		for _, n := range ids {
			if res := pm(cmdOpts{}, "inspect", "-f", "{{.Id}}", n); res.Code == 0 {
				full = append(full, strings.TrimSpace(res.Stdout))
				t.Errorf("container %s left", n)
				pm(cmdOpts{}, "rm", "-f", "-t", "0", n)
			}
		}
		_ = full
		for n := range dirNames(stateRoot) {
			if !before[n] {
				t.Errorf("%s state left: %s", r.name, filepath.Join(stateRoot, n))
			}
		}
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

	t.Run("run-rm-echo-exit-code", func(t *testing.T) {
		res := pm(cmdOpts{}, runArgs("--rm", "--name", name("echo"), podmanImage, "sh", "-c", "echo hello; echo oops >&2; exit 3")...)
		check(t, "podman run --rm", res, 3, "hello\n")
		if !strings.Contains(res.Stderr, "oops") {
			t.Errorf("container's stderr lost: %v", res)
		}
		res = pm(cmdOpts{}, runArgs("--rm", "--name", name("true"), podmanImage, "true")...)
		check(t, "podman run --rm true", res, 0, "")
	})

	t.Run("env-workdir-user", func(t *testing.T) {
		res := pm(cmdOpts{}, runArgs("--rm", "--name", name("env"), "-e", "FOO=bar baz", "-w", "/tmp", "--user", "1000:1000",
			podmanImage, "sh", "-c", `echo "$FOO"; pwd; id -u; id -g`)...)
		check(t, "podman run -e -w --user", res, 0, "bar baz\n/tmp\n1000\n1000\n")
	})

	t.Run("stdin", func(t *testing.T) {
		res := pm(cmdOpts{Stdin: strings.NewReader("abc\ndef\n")}, runArgs("--rm", "-i", "--name", name("stdin"), podmanImage, "sh", "-c", "cat; echo done")...)
		check(t, "podman run -i < stdin", res, 0, "abc\ndef\ndone\n")
	})

	t.Run("read-only", func(t *testing.T) {
		res := pm(cmdOpts{}, runArgs("--rm", "--read-only", "--name", name("ro"), podmanImage, "sh", "-c", "touch /x 2>&1; echo rc=$?; touch /tmp/y && echo tmp-ok")...)
		if res.Code != 0 || !strings.Contains(res.Stdout, "Read-only file system") || !strings.Contains(res.Stdout, "rc=1") || !strings.Contains(res.Stdout, "tmp-ok") {
			t.Errorf("podman run --read-only: want / read-only, /tmp writable; got %v", res)
		}
	})

	t.Run("memory-pids-limits", func(t *testing.T) {
		res := pm(cmdOpts{}, runArgs("--rm", "--memory", "64m", "--pids-limit", "32", "--name", name("lim"), podmanImage,
			"cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/pids/pids.max")...)
		check(t, "podman run --memory 64m --pids-limit 32", res, 0, "67108864\n32\n")
	})

	t.Run("cap-drop-all", func(t *testing.T) {
		res := pm(cmdOpts{}, runArgs("--rm", "--cap-drop", "ALL", "--name", name("cap"), podmanImage, "grep", "-E", "^Cap(Eff|Bnd):", "/proc/self/status")...)
		check(t, "podman run --cap-drop ALL", res, 0, "CapEff:\t0000000000000000\nCapBnd:\t0000000000000000\n")
	})

	t.Run("default-seccomp", func(t *testing.T) {
		res := pm(cmdOpts{}, runArgs("--rm", "--name", name("sec"), podmanImage, "grep", "^Seccomp:", "/proc/self/status")...)
		check(t, "podman run (default seccomp profile)", res, 0, "Seccomp:\t2\n")
	})

	t.Run("volume", func(t *testing.T) {
		host := filepath.Join(p.dir, "vol-"+r.name)
		os.MkdirAll(host, 0o755)
		os.WriteFile(filepath.Join(host, "in"), []byte("from-host\n"), 0o644)
		res := pm(cmdOpts{}, runArgs("--rm", "-v", host+":/data", "-v", host+":/rodata:ro", "--name", name("vol"), podmanImage,
			"sh", "-c", "cat /data/in; echo from-ctr > /data/out; touch /rodata/z 2>&1; echo rc=$?")...)
		if res.Code != 0 || !strings.HasPrefix(res.Stdout, "from-host\n") || !strings.Contains(res.Stdout, "Read-only file system") {
			t.Errorf("podman run -v: %v", res)
		}
		if b, err := os.ReadFile(filepath.Join(host, "out")); err != nil || string(b) != "from-ctr\n" {
			t.Errorf("file written through the bind mount: %q, %v", b, err)
		}
	})

	t.Run("tty", func(t *testing.T) {
		argv := append(append([]string{"podman"}, p.globalArgs()...), runArgs("--rm", "-t", "--name", name("tty"), podmanImage, "sh", "-c", ttyScript)...)
		res := inPty(cmdOpts{Env: []string{"CONTAINERS_CONF=" + p.conf}}, argv...)
		out := strings.ReplaceAll(res.Stdout, "\r", "")
		if res.Code != 5 || !strings.Contains(out, "/dev/pts/0\n") || !strings.Contains(out, "size 24 80\n") {
			t.Errorf("podman run -t: want /dev/pts/0, \"size 24 80\" and exit 5; got %v", res)
		}
	})

	t.Run("detached-exec-pause-stop-rm", func(t *testing.T) {
		n := name("det")
		res := pm(cmdOpts{}, runArgs("-d", "--name", n, podmanImage, "sh", "-c",
			`trap 'echo got-term; exit 7' TERM; echo started; while true; do sleep 0.1; done`)...)
		if res.Code != 0 {
			t.Fatalf("podman run -d: %v", res)
		}
		defer pm(cmdOpts{}, "rm", "-f", "-t", "0", n)
		status := func() string {
			return strings.TrimSpace(pm(cmdOpts{}, "inspect", "-f", "{{.State.Status}}", n).Stdout)
		}
		if s := status(); s != "running" {
			t.Fatalf("after run -d: status %q", s)
		}
		poll(5*time.Second, func() bool { return strings.Contains(pm(cmdOpts{}, "logs", n).Stdout, "started") })
		res = pm(cmdOpts{}, "exec", "-e", "E=1", "-w", "/tmp", n, "sh", "-c", `echo "in-exec $E $(pwd)"; exit 4`)
		check(t, "podman exec", res, 4, "in-exec 1 /tmp\n")
		res = pm(cmdOpts{}, "exec", "--user", "1000", n, "id", "-u")
		check(t, "podman exec --user 1000", res, 0, "1000\n")

		res = pm(cmdOpts{}, "top", n, "pid", "args")
		if res.Code != 0 || !strings.Contains(res.Stdout, "while true") {
			t.Errorf("podman top: want the init's command line; got %v", res)
		}
		res = pm(cmdOpts{}, "stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", n)
		if res.Code != 0 || !strings.HasPrefix(res.Stdout, n+" ") {
			t.Errorf("podman stats --no-stream: %v", res)
		}

		if res = pm(cmdOpts{}, "pause", n); res.Code != 0 {
			t.Errorf("podman pause: %v", res)
		}
		if s := status(); s != "paused" {
			t.Errorf("after pause: status %q", s)
		}
		if res = pm(cmdOpts{}, "unpause", n); res.Code != 0 {
			t.Errorf("podman unpause: %v", res)
		}
		if s := status(); s != "running" {
			t.Errorf("after unpause: status %q", s)
		}

		start := time.Now()
		if res = pm(cmdOpts{}, "stop", "-t", "10", n); res.Code != 0 {
			t.Errorf("podman stop: %v", res)
		}
		if d := time.Since(start); d > 8*time.Second {
			t.Errorf("podman stop took %v: SIGTERM not delivered to the trapping init", d)
		}
		if code := strings.TrimSpace(pm(cmdOpts{}, "inspect", "-f", "{{.State.ExitCode}}", n).Stdout); code != "7" {
			t.Errorf("exit code after stop: %q, want 7 (the TERM trap)", code)
		}
		if logs := pm(cmdOpts{}, "logs", n); !strings.Contains(logs.Stdout, "got-term") {
			t.Errorf("podman logs: want got-term; got %v", logs)
		}
		if res = pm(cmdOpts{}, "rm", n); res.Code != 0 {
			t.Errorf("podman rm: %v", res)
		}
	})

	t.Run("kill-and-rm-force", func(t *testing.T) {
		n := name("kill")
		if res := pm(cmdOpts{}, runArgs("-d", "--name", n, podmanImage, "sleep", "1000")...); res.Code != 0 {
			t.Fatalf("podman run -d: %v", res)
		}
		if res := pm(cmdOpts{}, "kill", "-s", "KILL", n); res.Code != 0 {
			t.Errorf("podman kill: %v", res)
		}
		if res := pm(cmdOpts{}, "wait", n); res.Code != 0 || strings.TrimSpace(res.Stdout) != "137" {
			t.Errorf("podman wait after SIGKILL: want 137; got %v", res)
		}
		n2 := name("rmf")
		if res := pm(cmdOpts{}, runArgs("-d", "--name", n2, podmanImage, "sleep", "1000")...); res.Code != 0 {
			t.Fatalf("podman run -d: %v", res)
		}
		for _, c := range []string{n, n2} {
			if res := pm(cmdOpts{}, "rm", "-f", "-t", "0", c); res.Code != 0 {
				t.Errorf("podman rm -f %s: %v", c, res)
			}
		}
	})
}

func dirNames(dir string) map[string]bool {
	m := map[string]bool{}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		m[e.Name()] = true
	}
	return m
}

// writePodmanConf writes a containers.conf at conf that names a wrapper
// of each runtime under test (made in dir), and returns the wrappers.
func writePodmanConf(t *testing.T, dir, conf string) map[string]string {
	t.Helper()
	wrappers := map[string]string{}
	var table []string
	for _, r := range runtimes {
		w, _ := wrapRuntime(t, r, filepath.Join(dir, "rt-"+r.name))
		wrappers[r.name] = w
		table = append(table, fmt.Sprintf("%s = [%q]", r.name, w))
	}
	// podman's default nofile/nproc (1048576) cannot be applied without
	// CAP_SYS_RESOURCE in this sandbox: lower them.
	text := fmt.Sprintf(`[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime_supports_json = ["tabox", "runc"]
[engine.runtimes]
%s
`, strings.Join(table, "\n"))
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return wrappers
}
