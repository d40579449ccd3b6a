package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestCreateBadInput: each bad bundle makes create fail with a one-line
// error naming the problem, and leaves nothing behind.
func TestCreateBadInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// bundle returns the bundle to create from, and the substrings
		// of which the error must contain one.
		bundle func(t *testing.T) (string, []string)
		extra  []string
	}{
		{"missing-bundle", func(t *testing.T) (string, []string) {
			b := filepath.Join(t.TempDir(), "no-such-bundle")
			return b, []string{b}
		}, nil},
		{"missing-config", func(t *testing.T) (string, []string) {
			b := newBundle(t, nil)
			os.Remove(filepath.Join(b, "config.json"))
			return b, []string{"config.json"}
		}, nil},
		{"config-is-a-directory", func(t *testing.T) (string, []string) {
			b := newBundle(t, nil)
			os.Remove(filepath.Join(b, "config.json"))
			os.Mkdir(filepath.Join(b, "config.json"), 0o755)
			return b, []string{"config.json"}
		}, nil},
		{"invalid-json", func(t *testing.T) (string, []string) {
			b := newBundle(t, nil)
			os.WriteFile(filepath.Join(b, "config.json"), []byte(`{"ociVersion": "1.0.2", "process": {`), 0o644)
			return b, []string{"json", "config.json"}
		}, nil},
		{"oci-version-2", func(t *testing.T) (string, []string) {
			return newBundle(t, func(s *specs.Spec) { s.Version = "2.0.0" }), []string{"2.0.0"}
		}, nil},
		{"no-root", func(t *testing.T) (string, []string) {
			return newBundle(t, func(s *specs.Spec) { s.Root = nil }), rootWords
		}, nil},
		{"empty-root-path", func(t *testing.T) (string, []string) {
			return newBundle(t, func(s *specs.Spec) { s.Root.Path = "" }), rootWords
		}, nil},
		{"missing-rootfs", func(t *testing.T) (string, []string) {
			return newBundle(t, func(s *specs.Spec) { s.Root.Path = "no-such-rootfs" }), []string{"no-such-rootfs"}
		}, nil},
		{"relative-cwd", func(t *testing.T) (string, []string) {
			return newBundle(t, func(s *specs.Spec) { s.Process.Cwd = "tmp" }), []string{"cwd"}
		}, nil},
		{"relative-mount-destination", func(t *testing.T) (string, []string) {
			return newBundle(t, func(s *specs.Spec) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "mnt", Type: "tmpfs", Source: "tmpfs"})
			}), []string{`"mnt"`, " mnt", "mnt:"}
		}, nil},
		{"missing-executable", func(t *testing.T) (string, []string) {
			return newBundle(t, withArgs("/bin/no-such-exe", "x")), []string{"no-such-exe"}
		}, nil},
		{"missing-executable-in-path", func(t *testing.T) (string, []string) {
			return newBundle(t, withArgs("no-such-exe", "x")), []string{"no-such-exe"}
		}, nil},
		{"empty-args", func(t *testing.T) (string, []string) {
			return newBundle(t, withArgs()), []string{"args"}
		}, nil},
		{"unknown-capability", func(t *testing.T) (string, []string) {
			return newBundle(t, func(s *specs.Spec) {
				s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_NO_SUCH_THING")
			}), []string{"CAP_NO_SUCH_THING"}
		}, nil},
		{"apparmor-without-apparmor", func(t *testing.T) (string, []string) {
			if hostHasLSM("apparmor") {
				t.Skip("this host runs AppArmor")
			}
			return newBundle(t, func(s *specs.Spec) { s.Process.ApparmorProfile = "docker-default" }), []string{"AppArmor is not enabled"}
		}, nil},
		{"selinux-label-without-selinux", func(t *testing.T) (string, []string) {
			if hostHasLSM("selinux") {
				t.Skip("this host runs SELinux")
			}
			return newBundle(t, func(s *specs.Spec) { s.Linux.MountLabel = "system_u:object_r:container_file_t:s0" }), []string{"SELinux is not enabled"}
		}, nil},
		{"host-sysctl", func(t *testing.T) (string, []string) {
			return newBundle(t, func(s *specs.Spec) {
				s.Linux.Sysctl = map[string]string{"kernel.core_pattern": "|/tmp/x"}
			}), []string{"kernel.core_pattern"}
		}, nil},
		{"unknown-rlimit", func(t *testing.T) (string, []string) {
			return newBundle(t, func(s *specs.Spec) {
				s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_NO_SUCH", Soft: 1, Hard: 1})
			}), []string{"RLIMIT_NO_SUCH"}
		}, nil},
		{"terminal-without-console-socket", func(t *testing.T) (string, []string) {
			return newBundle(t, func(s *specs.Spec) { s.Process.Terminal = true }), []string{"console", "terminal", "tty"}
		}, nil},
		{"cpuset-outside-host", func(t *testing.T) (string, []string) {
			return newBundle(t, func(s *specs.Spec) {
				s.Linux.Resources = &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "1000-1001"}}
			}), []string{"cpuset.cpus"}
		}, nil},
		{"pids-limit-below-minus-one", func(t *testing.T) (string, []string) {
			return newBundle(t, func(s *specs.Spec) {
				s.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptrInt64(-5)}}
			}), []string{"pids"}
		}, nil},
		{"console-socket-missing", func(t *testing.T) (string, []string) {
			return newBundle(t, func(s *specs.Spec) { s.Process.Terminal = true }), []string{"no-such-socket"}
		}, []string{"--console-socket", "/nonexistent/no-such-socket"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bundle, want := tc.bundle(t)
			id := newID(t)
			args := append(append([]string{"create", "--bundle", bundle}, tc.extra...), id)
			_, stderr, code := tabox(t, args...)
			assertOneLineError(t, stderr, code, want...)
			assertNoLeftovers(t, rootDir(t), id)
		})
	}
}

// rootWords are ways an error may name a missing root.path.
var rootWords = []string{"root.path", "root path", "root must", "root is", "missing root", "no root", "root: "}

// TestExecFails: a program that passes every check but that the kernel
// will not execute (executable, but neither ELF nor script) fails at the
// very end, after the process was released: run, which starts the
// container as it creates it, and start both report the exec's error on
// one line, exit non-zero and leave nothing behind.
func TestExecFails(t *testing.T) {
	t.Parallel()
	// A bundle each: the harness tells containers' processes apart by
	// their bundle.
	bundle := func(t *testing.T) string {
		b := newBundle(t, withArgs("/bin/not-a-program"))
		if err := os.WriteFile(filepath.Join(b, "rootfs/bin/not-a-program"), []byte("neither ELF nor script\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return b
	}
	t.Run("run", func(t *testing.T) {
		t.Parallel()
		bundle := bundle(t)
		id := newID(t)
		_, stderr, code := tabox(t, "run", "--bundle", bundle, id)
		assertOneLineError(t, stderr, code, "exec format error")
		assertNoLeftovers(t, rootDir(t), id)
	})
	t.Run("start", func(t *testing.T) {
		t.Parallel()
		bundle := bundle(t)
		id := newID(t)
		if _, stderr, code := tabox(t, "create", "--bundle", bundle, id); code != 0 {
			t.Fatalf("create: exit %d: %s", code, stderr)
		}
		_, stderr, code := tabox(t, "start", id)
		assertOneLineError(t, stderr, code, "exec format error")
		tabox(t, "delete", "--force", id)
		assertNoLeftovers(t, rootDir(t), id)
	})
}

// TestNoProcess: a config without process can be created (for hooks-only
// uses) but not started, and is then deleted cleanly.
func TestNoProcess(t *testing.T) {
	t.Parallel()
	bundle := newBundle(t, func(s *specs.Spec) { s.Process = nil })
	id, _ := createContainer(t, bundle)
	_, stderr, code := tabox(t, "start", id)
	assertOneLineError(t, stderr, code, "process")
	deleteContainer(t, id, true)
}

// TestUnknownContainer: state, start, kill and delete of an unknown ID
// fail with "container does not exist".
func TestUnknownContainer(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"state"}, {"start"}, {"kill"}, {"kill", "--all"}, {"delete"}} {
		t.Run(strings.Join(args, "-"), func(t *testing.T) {
			t.Parallel()
			id := newID(t)
			_, stderr, code := tabox(t, append(args, id)...)
			assertOneLineError(t, stderr, code, "container does not exist")
			assertNoLeftovers(t, rootDir(t), id)
		})
	}
}

// TestInvalidID: IDs that are not plain names are refused by every
// command, and nothing is made or removed outside the root.
func TestInvalidID(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"../x", "a/b", "", "..", ".", "x y", "/abs"} {
		name := strings.NewReplacer("/", "slash", ".", "dot", " ", "space").Replace(id)
		if name == "" {
			name = "empty"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			root := rootDir(t)
			// A sibling of the root named like the ID's target, which
			// must survive.
			sibling := filepath.Join(filepath.Dir(root), "x")
			if err := os.MkdirAll(filepath.Join(sibling, "keep"), 0o755); err != nil {
				t.Fatal(err)
			}
			bundle := sleepBundle(t)
			_, stderr, code := tabox(t, "create", "--bundle", bundle, id)
			assertOneLineError(t, stderr, code, "id")
			for _, cmd := range [][]string{{"state"}, {"start"}, {"kill"}, {"delete", "--force"}} {
				_, stderr, code := tabox(t, append(cmd, id)...)
				if code == 0 {
					t.Errorf("%s %q succeeded", cmd[0], id)
				}
				if strings.TrimSpace(stderr) == "" {
					t.Errorf("%s %q: no error message", cmd[0], id)
				}
			}
			if _, err := os.Stat(filepath.Join(sibling, "keep")); err != nil {
				t.Errorf("%s was removed: %v", sibling, err)
			}
			if ents, _ := os.ReadDir(root); len(ents) != 0 {
				t.Errorf("the root holds %d entries after refusing %q", len(ents), id)
			}
			if procs := findContainerProcs("", "", bundle); len(procs) != 0 {
				t.Errorf("processes left: %v", procs)
			}
		})
	}
}

// TestDuplicateID: creating an existing ID fails and leaves the existing
// container untouched and working.
func TestDuplicateID(t *testing.T) {
	t.Parallel()
	bundle := sleepBundle(t)
	id, _ := createContainer(t, bundle)
	before := state(t, id)
	other := sleepBundle(t)
	_, stderr, code := tabox(t, "create", "--bundle", other, id)
	assertOneLineError(t, stderr, code, "exist")
	after := state(t, id)
	if after.Pid != before.Pid || after.Bundle != before.Bundle || after.Status != before.Status || after.Created != before.Created {
		t.Errorf("existing container changed: %+v, was %+v", after, before)
	}
	if procs := findContainerProcs("", "", other); len(procs) != 0 {
		t.Errorf("processes of the refused create left: %v", procs)
	}
	mustTabox(t, "start", id)
	waitForStatus(t, id, "running")
	mustTabox(t, "kill", id, "KILL")
	waitForStatus(t, id, "stopped")
	deleteContainer(t, id, false)
}

// TestInvalidSignal: kill with an unknown signal fails and does not touch
// the container.
func TestInvalidSignal(t *testing.T) {
	t.Parallel()
	id, _ := createContainer(t, sleepBundle(t))
	mustTabox(t, "start", id)
	for _, sig := range []string{"FOO", "SIGFOO", "0x9", "-1", "65"} {
		_, stderr, code := tabox(t, "kill", id, sig)
		assertOneLineError(t, stderr, code, sig, "signal")
	}
	if st := state(t, id); st.Status != "running" {
		t.Errorf("after invalid kills: status %q, want running", st.Status)
	}
	deleteContainer(t, id, true)
}

// TestStartTwice: starting a running container fails and leaves it running.
func TestStartTwice(t *testing.T) {
	t.Parallel()
	id, _ := createContainer(t, sleepBundle(t))
	mustTabox(t, "start", id)
	_, stderr, code := tabox(t, "start", id)
	assertOneLineError(t, stderr, code, "running", "not created", "status")
	if st := state(t, id); st.Status != "running" {
		t.Errorf("after a second start: status %q, want running", st.Status)
	}
	deleteContainer(t, id, true)
}

// TestStartStopped: starting a stopped container fails.
func TestStartStopped(t *testing.T) {
	t.Parallel()
	id := newID(t)
	mustTabox(t, "run", "--keep", "--bundle", newBundle(t, withArgs("testinit", "exit", "0")), id)
	_, stderr, code := tabox(t, "start", id)
	assertOneLineError(t, stderr, code, "stopped", "not created", "status")
	deleteContainer(t, id, false)
}

// TestDeleteRunning: delete of a running container fails without --force
// and leaves it running; --force kills and deletes it.
func TestDeleteRunning(t *testing.T) {
	t.Parallel()
	id, _ := createContainer(t, sleepBundle(t))
	mustTabox(t, "start", id)
	_, stderr, code := tabox(t, "delete", id)
	assertOneLineError(t, stderr, code, "running")
	if st := state(t, id); st.Status != "running" {
		t.Errorf("after a refused delete: status %q, want running", st.Status)
	}
	deleteContainer(t, id, true)
}

func ptrInt64(v int64) *int64 { return &v }

// TestUsageErrors: an unknown flag, a flag without its value or with a bad
// one is a one-line error naming the flag and where to look, on stderr and
// in --log, not the help; nothing is created.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	taboxOnly(t)
	bundle := newBundle(t, nil)
	const idArg = "<id>"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--no-such-flag", "list"}, "no-such-flag"},
		{[]string{"list", "--format"}, "--format"},
		{[]string{"run", "--no-such-flag", "--bundle", bundle, idArg}, "run --help"},
		{[]string{"run", "--bundle", bundle, "--preserve-fds", "three", idArg}, "preserve-fds"},
		{[]string{"create", "--bundle", bundle, "--no-pivot=maybe", idArg}, "no-pivot"},
		{[]string{"exec", "--no-such-flag", idArg, "true"}, "exec --help"},
	} {
		id := newID(t)
		logFile := filepath.Join(t.TempDir(), "log")
		args := []string{"--log", logFile, "--log-format", "json"}
		for _, a := range tc.args {
			if a == idArg {
				a = id
			}
			args = append(args, a)
		}
		stdout, stderr, code := tabox(t, args...)
		assertOneLineError(t, stderr, code, tc.want)
		if stdout != "" {
			t.Errorf("%q: stdout %q, want nothing", tc.args, stdout)
		}
		if data, _ := os.ReadFile(logFile); !strings.Contains(string(data), `"level":"error"`) ||
			!strings.Contains(string(data), strings.TrimPrefix(tc.want, "--")) {
			t.Errorf("%q: --log has %q, want an error line naming %q", tc.args, data, tc.want)
		}
		assertNoLeftovers(t, rootDir(t), id)
	}
}
