package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// hookEnv is the environment of the tests' hooks: it carries the bundle
// marker, so that assertNoLeftovers finds a hook process left running.
func hookEnv(bundle string) []string {
	return []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", bundleMarkerEnv + "=" + bundle}
}

// shHook is a hook running `/bin/sh -c script`: the host's /bin/sh for the
// hooks run in the runtime's namespaces, busybox's for startContainer.
func shHook(bundle, script string) specs.Hook {
	return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", script}, Env: hookEnv(bundle)}
}

// TestHooks: all six hooks run, in order, each with the container's state
// on stdin.
func TestHooks(t *testing.T) {
	t.Parallel()
	out := t.TempDir() // written by the hooks run with the host's filesystem
	bundle := newBundle(t, func(s *specs.Spec) {
		bundle := bundleOf(s)
		host := func(name string) []specs.Hook {
			return []specs.Hook{shHook(bundle, "cat > "+filepath.Join(out, name+".json"))}
		}
		s.Hooks = &specs.Hooks{
			CreateRuntime: host("createRuntime"),
			// Runs in the container's mount namespace before pivot_root:
			// the host's paths are still reachable there.
			CreateContainer: host("createContainer"),
			Prestart:        host("prestart"), //nolint:staticcheck // deprecated, still in the spec
			// Runs in the container, after pivot_root: its path and its
			// output are in the rootfs.
			StartContainer: []specs.Hook{shHook(bundle, "cat > /hookout/startContainer.json")},
			Poststart:      host("poststart"),
			Poststop:       host("poststop"),
		}
		s.Process.Args = []string{"testinit", "stat", "/hookout/startContainer.json", "--", "sleep", "120"}
	})
	if err := os.Mkdir(filepath.Join(bundle, "rootfs/hookout"), 0o777); err != nil {
		t.Fatal(err)
	}
	path := func(name string) string {
		if name == "startContainer" {
			return filepath.Join(bundle, "rootfs/hookout", name+".json")
		}
		return filepath.Join(out, name+".json")
	}
	exists := func(name string) bool { _, err := os.Stat(path(name)); return err == nil }
	check := func(after string, ran, notYet []string) {
		t.Helper()
		for _, h := range ran {
			if !exists(h) {
				t.Errorf("after %s: %s hook did not run", after, h)
			}
		}
		for _, h := range notYet {
			if exists(h) {
				t.Errorf("after %s: %s hook already ran", after, h)
			}
		}
	}

	id, create := createContainer(t, bundle)
	// prestart hooks run "after the start operation is called but before
	// the user-specified program command is executed" (config.md).
	check("create", []string{"createRuntime", "createContainer"}, []string{"prestart", "startContainer", "poststart", "poststop"})
	pid := state(t, id).Pid
	mustTabox(t, "start", id)
	check("start", []string{"prestart", "startContainer", "poststart"}, []string{"poststop"})
	poll(t, "the container's output", func() bool { o, _ := create.output(); return o != "" })
	if o, _ := create.output(); !strings.HasPrefix(o, "type=file") {
		t.Errorf("the container's process ran before the startContainer hook: %q", o)
	}
	mustTabox(t, "kill", id, "KILL")
	waitForStatus(t, id, "stopped")
	check("kill", nil, []string{"poststop"})
	deleteContainer(t, id, false)
	check("delete", []string{"poststop"}, nil)

	for _, name := range []string{"createRuntime", "createContainer", "prestart", "startContainer", "poststart", "poststop"} {
		data, err := os.ReadFile(path(name))
		if err != nil {
			continue // reported above
		}
		var st containerState
		if err := json.Unmarshal(data, &st); err != nil {
			t.Errorf("%s hook's stdin is not a state JSON: %v: %q", name, err, data)
			continue
		}
		if st.ID != id || st.Bundle != bundle || !strings.HasPrefix(st.OCIVersion, "1.") {
			t.Errorf("%s hook's state: id %q bundle %q ociVersion %q, want %q %q 1.x", name, st.ID, st.Bundle, st.OCIVersion, id, bundle)
		}
		// "For hooks executed in the container namespace, it is the pid
		// as seen by the container" (runtime-spec runtime.md): PID 1.
		wantPid := pid
		if name == "createContainer" || name == "startContainer" {
			wantPid = 1
		}
		if name != "poststop" && st.Pid != wantPid {
			t.Errorf("%s hook's state: pid %d, want %d", name, st.Pid, wantPid)
		}
		want := map[string][]string{
			"createRuntime": {"creating"}, "createContainer": {"creating"}, "prestart": {"created"},
			"startContainer": {"created", "running"}, "poststart": {"running"}, "poststop": {"stopped"},
		}[name]
		if !slices.Contains(want, st.Status) {
			t.Errorf("%s hook's state: status %q, want one of %q", name, st.Status, want)
		}
	}
}

// TestPrestartHookFails: a failing createRuntime hook fails create, and a
// failing prestart hook fails start, which destroys the container; either
// way nothing is left.
func TestPrestartHookFails(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"createRuntime", "prestart"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			bundle := newBundle(t, func(s *specs.Spec) {
				h := []specs.Hook{shHook(bundleOf(s), "echo hook-says-no >&2; exit 7")}
				s.Hooks = &specs.Hooks{}
				if kind == "prestart" {
					s.Hooks.Prestart = h //nolint:staticcheck // deprecated, still in the spec
				} else {
					s.Hooks.CreateRuntime = h
				}
				s.Process.Args = []string{"testinit", "sleep", "120"}
			})
			id := newID(t)
			op := "create"
			_, stderr, code := tabox(t, "create", "--bundle", bundle, id)
			if kind == "prestart" {
				if code != 0 {
					t.Fatalf("create ran a prestart hook: exit %d: %s", code, stderr)
				}
				op = "start"
				_, stderr, code = tabox(t, "start", id)
			}
			if code == 0 {
				t.Fatalf("%s succeeded despite a failing %s hook", op, kind)
			}
			if !strings.Contains(strings.ToLower(stderr), "hook") {
				t.Errorf("error %q does not mention the hook", stderr)
			}
			if _, stderr, code := tabox(t, "state", id); code == 0 || !strings.Contains(stderr, "does not exist") {
				t.Errorf("after a failed %s: state exit %d (%s), want \"container does not exist\"", op, code, stderr)
			}
			assertNoLeftovers(t, rootDir(t), id)
		})
	}
}

// TestPoststopHookFails: a failing poststop hook only warns; delete
// succeeds and removes the container.
func TestPoststopHookFails(t *testing.T) {
	t.Parallel()
	bundle := newBundle(t, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{Poststop: []specs.Hook{shHook(bundleOf(s), "exit 3")}}
		s.Process.Args = []string{"testinit", "exit", "0"}
	})
	id := newID(t)
	mustTabox(t, "run", "--keep", "--bundle", bundle, id)
	_, stderr, code := tabox(t, "delete", id)
	if code != 0 {
		t.Errorf("delete with a failing poststop hook: exit %d, want 0 (stderr: %s)", code, stderr)
	}
	if !strings.Contains(strings.ToLower(stderr), "hook") {
		t.Errorf("no warning about the failed poststop hook on stderr: %q", stderr)
	}
	assertNoLeftovers(t, rootDir(t), id)
}

// TestHookTimeout: a hook running past its timeout is killed and fails
// create.
func TestHookTimeout(t *testing.T) {
	t.Parallel()
	timeout := 1
	bundle := newBundle(t, func(s *specs.Spec) {
		h := shHook(bundleOf(s), "exec sleep 60")
		h.Timeout = &timeout
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{h}}
		s.Process.Args = []string{"testinit", "sleep", "120"}
	})
	id := newID(t)
	start := time.Now()
	_, stderr, code := tabox(t, "create", "--bundle", bundle, id)
	if code == 0 {
		t.Fatalf("create succeeded despite a hook timing out")
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("create took %v with a 1s hook timeout", d)
	}
	if l := strings.ToLower(stderr); !strings.Contains(l, "timeout") && !strings.Contains(l, "timed out") && !strings.Contains(l, "deadline") {
		t.Errorf("error %q does not say the hook timed out", stderr)
	}
	assertNoLeftovers(t, rootDir(t), id)
}

// TestCreateKilled kills `create` with SIGKILL while it waits for a hook
// (before, inside and after the container's namespaces are set up); then
// `delete` must clean up whatever was left.
func TestCreateKilled(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"createRuntime", "createContainer"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			marker := filepath.Join(t.TempDir(), "hook-started")
			bundle := newBundle(t, func(s *specs.Spec) {
				h := []specs.Hook{shHook(bundleOf(s), "echo started > "+marker+"; exec sleep 60")}
				s.Hooks = &specs.Hooks{}
				switch kind {
				case "createRuntime":
					s.Hooks.CreateRuntime = h
				case "createContainer":
					s.Hooks.CreateContainer = h
				}
				s.Process.Args = []string{"testinit", "sleep", "120"}
			})
			id := newID(t)
			p := startTabox(t, cmdOpts{}, "create", "--bundle", bundle, id)
			poll(t, "the hook to start", func() bool { _, err := os.Stat(marker); return err == nil || p.exited() })
			if p.exited() {
				_, stderr, code := p.wait()
				t.Fatalf("create ended (exit %d) before the hook could be waited for: %s", code, stderr)
			}
			p.signal(syscall.SIGKILL)
			if _, _, code := p.wait(); code != 128+int(syscall.SIGKILL) {
				t.Fatalf("create: exit %d, want death by SIGKILL", code)
			}
			// The hook is the user's program, orphaned by the kill: the
			// runtime cannot be asked to stop it. Kill it (it carries the
			// bundle marker in its environment).
			killHookSleepers(t, bundle)

			_, stderr, code := tabox(t, "delete", id)
			if code != 0 {
				if _, err := os.Stat(filepath.Join(rootDir(t), id)); err == nil || !strings.Contains(stderr, "does not exist") {
					t.Errorf("delete of the half-created container: exit %d: %s", code, stderr)
				}
			}
			assertNoLeftovers(t, rootDir(t), id)
		})
	}
}

// killHookSleepers kills the `sleep` processes of the bundle's hooks.
func killHookSleepers(t *testing.T, bundle string) {
	t.Helper()
	for _, pid := range findContainerProcs("", "", bundle) {
		comm, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
		if strings.TrimSpace(string(comm)) == "sleep" {
			unix.Kill(pid, unix.SIGKILL)
			if !reapPid(pid, pollTimeout) {
				t.Logf("hook process %d did not go away", pid)
			}
		}
	}
}
