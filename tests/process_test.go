package tests

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestEnv: the process gets exactly process.env (plus HOME, which runtimes
// add when it is missing), none of the runtime's environment.
func TestEnv(t *testing.T) {
	t.Parallel()
	out := runArgs(t, func(s *specs.Spec) {
		s.Process.Env = append(s.Process.Env, "FOO=bar baz", "EMPTY=", "HOME=/home/x")
	}, "testinit", "env")
	got := map[string]string{}
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		k, v, _ := strings.Cut(l, "=")
		got[k] = v
	}
	for k, v := range map[string]string{"FOO": "bar baz", "EMPTY": "", "HOME": "/home/x", "TERM": "xterm"} {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("env %s=%q (set: %v), want %q", k, g, ok, v)
		}
	}
	if _, ok := got[runMarkerEnv]; ok {
		t.Errorf("the runtime's environment leaked into the container: %s", out)
	}
	if len(got) != len(templateSpec("").Process.Env)+3 {
		t.Errorf("env has %d variables, want %d:\n%s", len(got), len(templateSpec("").Process.Env)+3, out)
	}
}

// TestCwd: the process starts in process.cwd.
func TestCwd(t *testing.T) {
	t.Parallel()
	out := runArgs(t, func(s *specs.Spec) { s.Process.Cwd = "/home/user" }, "testinit", "cwd")
	if got := strings.TrimSpace(out); got != "/home/user" {
		t.Errorf("cwd %q, want /home/user", got)
	}
}

// TestUser: uid, gid and additionalGids are set as configured.
func TestUser(t *testing.T) {
	t.Parallel()
	t.Run("unprivileged", func(t *testing.T) {
		t.Parallel()
		out := runArgs(t, func(s *specs.Spec) {
			s.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{5, 100}}
		}, "testinit", "id")
		if got, want := strings.TrimSpace(out), "uid=1000 gid=1000 groups=5,100"; got != want {
			t.Errorf("id %q, want %q", got, want)
		}
	})
	t.Run("root", func(t *testing.T) {
		t.Parallel()
		out := runArgs(t, nil, "testinit", "id")
		if got, want := strings.TrimSpace(out), "uid=0 gid=0 groups="; got != want {
			t.Errorf("id %q, want %q (no supplementary groups of the runtime)", got, want)
		}
	})
}

// TestUmask: process.user.umask is applied; 0022 is the default.
func TestUmask(t *testing.T) {
	t.Parallel()
	t.Run("set", func(t *testing.T) {
		t.Parallel()
		mask := uint32(0o027)
		out := runArgs(t, func(s *specs.Spec) { s.Process.User.Umask = &mask }, "testinit", "umask")
		if got := strings.TrimSpace(out); got != "0027" {
			t.Errorf("umask %q, want 0027", got)
		}
	})
	t.Run("default", func(t *testing.T) {
		t.Parallel()
		out := runArgs(t, nil, "testinit", "umask")
		if got := strings.TrimSpace(out); got != "0022" {
			t.Errorf("umask %q, want 0022", got)
		}
	})
}

// TestRlimits: process.rlimits are observed by getrlimit inside.
func TestRlimits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		limits []specs.POSIXRlimit
		want   []string
	}{
		{"nofile-512", []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 512, Hard: 512}}, []string{"512 512"}},
		{"soft-below-hard", []specs.POSIXRlimit{
			{Type: "RLIMIT_NOFILE", Soft: 256, Hard: 512},
			{Type: "RLIMIT_CORE", Soft: 0, Hard: 4096},
		}, []string{"256 512", "0 4096"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var cmds [][]string
			for _, l := range tc.limits {
				cmds = append(cmds, []string{"limits", l.Type})
			}
			out := runArgs(t, func(s *specs.Spec) { s.Process.Rlimits = tc.limits }, testinitArgs(cmds...)...)
			if got := lines(out); strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("limits inside %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRlimitAboveHard: a hard limit above tabox's own needs
// CAP_SYS_RESOURCE; without it, run fails with one line that names the
// limit and the capability, and leaves nothing behind. In a user namespace
// tabox sets the limit from outside; otherwise the init sets it.
func TestRlimitAboveHard(t *testing.T) {
	t.Parallel()
	skipWithCapSysResource(t, "raising a hard limit works")
	var cur unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &cur); err != nil {
		t.Fatal(err)
	}
	for _, userns := range []bool{false, true} {
		t.Run(fmt.Sprintf("userns=%v", userns), func(t *testing.T) {
			t.Parallel()
			bundle := newBundle(t, func(s *specs.Spec) {
				s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: cur.Cur, Hard: cur.Max + 1}}
				if userns {
					withMappedRoot(s)
				}
			})
			openUpBundle(t, bundle)
			id := newID(t)
			_, stderr, code := tabox(t, "run", "--bundle", bundle, id)
			assertOneLineError(t, stderr, code, "CAP_SYS_RESOURCE")
			if !strings.Contains(stderr, "RLIMIT_NOFILE") {
				t.Errorf("error %q does not name RLIMIT_NOFILE", stderr)
			}
			assertNoLeftovers(t, rootDir(t), id)
		})
	}
}

// capsOf parses the output of `testinit caps` into a map CapXxx -> hex.
func capsOf(out string) map[string]string {
	caps := map[string]string{}
	for _, l := range lines(out) {
		if f := strings.Fields(l); len(f) == 2 && strings.HasPrefix(f[0], "Cap") {
			caps[strings.TrimSuffix(f[0], ":")] = f[1]
		}
	}
	return caps
}

// TestCapabilities: the capability sets are exactly the configured ones.
func TestCapabilities(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		caps *specs.LinuxCapabilities
		want map[string]string
	}{
		{"default", nil, map[string]string{
			"CapInh": "0000000000000000", "CapPrm": defaultCapsMask, "CapEff": defaultCapsMask,
			"CapBnd": defaultCapsMask, "CapAmb": "0000000000000000",
		}},
		{"custom", &specs.LinuxCapabilities{
			// The bounding set drops CAP_SETUID's neighbours; for root,
			// execve(2) makes the effective set the permitted one.
			Bounding:  []string{"CAP_CHOWN", "CAP_KILL", "CAP_SETUID"},
			Permitted: []string{"CAP_CHOWN", "CAP_KILL"},
			Effective: []string{"CAP_CHOWN", "CAP_KILL"},
		}, map[string]string{
			// CHOWN=0, KILL=5, SETUID=7.
			"CapInh": "0000000000000000", "CapPrm": "0000000000000021", "CapEff": "0000000000000021",
			"CapBnd": "00000000000000a1", "CapAmb": "0000000000000000",
		}},
		{"none", &specs.LinuxCapabilities{}, map[string]string{
			"CapInh": "0000000000000000", "CapPrm": "0000000000000000", "CapEff": "0000000000000000",
			"CapBnd": "0000000000000000", "CapAmb": "0000000000000000",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := runArgs(t, func(s *specs.Spec) {
				if tc.caps != nil {
					s.Process.Capabilities = tc.caps
				}
			}, "testinit", "caps")
			got := capsOf(out)
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s %s, want %s", k, got[k], v)
				}
			}
		})
	}
}

// TestCapabilitiesNonRoot: a non-root process keeps only its ambient
// capabilities across execve(2): none without them, all the configured ones
// with them (ambient needs inheritable and permitted).
func TestCapabilitiesNonRoot(t *testing.T) {
	t.Parallel()
	zero := "0000000000000000"
	for _, tc := range []struct {
		name    string
		ambient bool
		want    map[string]string
	}{
		{"no-ambient", false, map[string]string{"CapInh": zero, "CapPrm": zero, "CapEff": zero, "CapBnd": defaultCapsMask, "CapAmb": zero}},
		{"ambient", true, map[string]string{"CapInh": defaultCapsMask, "CapPrm": defaultCapsMask, "CapEff": defaultCapsMask, "CapBnd": defaultCapsMask, "CapAmb": defaultCapsMask}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := runArgs(t, func(s *specs.Spec) {
				s.Process.User = specs.User{UID: 1000, GID: 1000}
				if tc.ambient {
					s.Process.Capabilities.Inheritable = append([]string(nil), defaultCaps...)
					s.Process.Capabilities.Ambient = append([]string(nil), defaultCaps...)
				}
			}, "testinit", "caps")
			got := capsOf(out)
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s %s, want %s", k, got[k], v)
				}
			}
		})
	}
}

// TestNoNewPrivileges: process.noNewPrivileges sets NoNewPrivs.
func TestNoNewPrivileges(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		nnp  bool
		want string
	}{{true, "1"}, {false, "0"}} {
		name := map[bool]string{true: "on", false: "off"}[tc.nnp]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out := runArgs(t, func(s *specs.Spec) { s.Process.NoNewPrivileges = tc.nnp }, "testinit", "nnp")
			if got := strings.TrimSpace(out); got != tc.want {
				t.Errorf("NoNewPrivs %q, want %q", got, tc.want)
			}
		})
	}
}

// TestSeccomp: a profile allowing everything but mkdir, which fails with
// errnoRet 38 (ENOSYS); the process runs in filter mode (Seccomp: 2).
func TestSeccomp(t *testing.T) {
	t.Parallel()
	for _, nnp := range []bool{true, false} {
		name := map[bool]string{true: "nnp", false: "no-nnp"}[nnp]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			errno := uint(38)
			out := runArgs(t, func(s *specs.Spec) {
				s.Process.NoNewPrivileges = nnp
				s.Linux.Seccomp = &specs.LinuxSeccomp{
					DefaultAction: specs.ActAllow,
					Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
					Syscalls: []specs.LinuxSyscall{{
						Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &errno,
					}},
				}
			}, "testinit", "syscall", "mkdir", "--", "syscall", "getcwd", "--", "seccomp")
			want := []string{"errno=ENOSYS", "ok", "2"}
			if got := lines(out); strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("mkdir, getcwd, Seccomp: %q, want %q", got, want)
			}
		})
	}
	t.Run("none", func(t *testing.T) {
		t.Parallel()
		out := runArgs(t, nil, "testinit", "syscall", "mkdir", "--", "seccomp")
		want := []string{"ok", "0"}
		if got := lines(out); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("without a profile: mkdir, Seccomp: %q, want %q", got, want)
		}
	})
}

// TestTimerSlack: the container's processes, from run and from exec,
// keep the timer slack the runtime was started with. Inside tabox, one
// thread, the Go runtime's monitor (never the main thread), naps with a
// 10 ms slack, and every other thread keeps the given one.
func TestTimerSlack(t *testing.T) {
	t.Parallel()
	const given, coarse = "123457", "10000000"
	script := []string{"sh", "-c", "cat /proc/self/timerslack_ns; sleep 1"}
	bundle := newBundle(t, func(s *specs.Spec) { s.Process.Args = script })
	run := startWithSlack(t, 123457, "run", "--bundle", bundle, newID(t))
	checkSlack(t, run, given, coarse)

	id, _ := runningContainer(t, nil)
	exec := startWithSlack(t, 123457, append([]string{"exec", id}, script...)...)
	checkSlack(t, exec, given, coarse)
}

// startWithSlack starts the runtime with the given timer slack: a thread's
// slack goes to the processes it forks, and this goroutine's thread starts
// the runtime.
func startWithSlack(t *testing.T, slack int, args ...string) *proc {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	old, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(slack), 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(old), 0, 0, 0)
	return startTabox(t, cmdOpts{}, args...)
}

// checkSlack checks the threads of p, a runtime whose container prints its
// timer slack and sleeps, once the container has printed; then the slack it
// printed.
func checkSlack(t *testing.T, p *proc, given, coarse string) {
	t.Helper()
	poll(t, "the container's first line", func() bool {
		out, _ := p.output()
		return strings.Contains(out, "\n") || p.exited()
	})
	if isTabox() {
		pid := p.cmd.Process.Pid
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			t.Fatal(err)
		}
		nCoarse := 0
		for _, task := range tasks {
			data, err := os.ReadFile("/proc/" + task.Name() + "/timerslack_ns")
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ESRCH) {
				continue // the thread has exited
			} else if err != nil {
				t.Fatal(err)
			}
			switch v := strings.TrimSpace(string(data)); {
			case v == coarse && task.Name() != strconv.Itoa(pid):
				nCoarse++
			case v != given:
				t.Errorf("%v: thread %s (main thread %d): timer slack %s, want %s", p.args, task.Name(), pid, v, given)
			}
		}
		if nCoarse != 1 {
			t.Errorf("%v: %d of its %d threads have a %s ns timer slack, want 1", p.args, nCoarse, len(tasks), coarse)
		}
	}
	stdout, stderr, code := p.wait()
	if code != 0 || strings.TrimSpace(stdout) != given {
		t.Errorf("%v: the container's timer slack: %q (exit %d, %s), want %s", p.args, stdout, code, stderr, given)
	}
}
