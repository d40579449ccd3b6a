package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// tabox sets most containers up with an init written in C, and the rest
// (hooks, terminals, sysctls, idmapped mounts, ...) with the Go one; the
// whole integration suite runs a second time with TABOX_INIT=go, so that
// both do everything they share. These tests are about the choice and
// about what only the C init does itself.

// TestInitChoice: --debug logs which init a container got: the C one for
// a plain container, the Go one for a config with what only it does, and
// for any config with TABOX_INIT=go.
func TestInitChoice(t *testing.T) {
	t.Parallel()
	plain := newBundle(t, func(s *specs.Spec) { s.Process.Args = []string{"testinit", "exit", "0"} })
	sysctl := newBundle(t, func(s *specs.Spec) {
		s.Process.Args = []string{"testinit", "exit", "0"}
		s.Linux.Sysctl = map[string]string{"kernel.shmmax": "65536"}
	})
	plainWant := "container init: the C one"
	if os.Getenv("TABOX_INIT") == "go" {
		plainWant = "container init: the Go one"
	}
	for _, tc := range []struct {
		name, bundle, env, want string
	}{
		{"plain", plain, "", plainWant},
		{"sysctl", sysctl, "", "container init: the Go one"},
		{"forced", plain, "TABOX_INIT=go", "container init: the Go one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logFile := filepath.Join(t.TempDir(), "log")
			var env []string
			if tc.env != "" {
				env = []string{tc.env}
			}
			p := startTabox(t, cmdOpts{env: env}, "--debug", "--log", logFile, "run", "--bundle", tc.bundle, newID(t))
			if _, stderr, code := p.wait(); code != 0 {
				t.Fatalf("run: exit %d: %s", code, stderr)
			}
			data, err := os.ReadFile(logFile)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(data), tc.want) {
				t.Errorf("log has no %q:\n%s", tc.want, data)
			}
		})
	}
}

// TestUserNSCgroup: a container in a user namespace of its own, whose root
// cannot open the host's cgroup files, is still in its cgroup with its
// limits (the init joins and sets the pids limit through files tabox
// opened), and so is a process exec'd into it.
func TestUserNSCgroup(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/ns/user"); err != nil {
		t.Skip("kernel without user namespaces")
	}
	if hierOf(t, "pids") == nil || hierOf(t, "memory") == nil {
		t.Skip("no pids or memory controller")
	}
	const pidsLimit, memLimit = 37, 48 << 20
	bundle := newBundle(t, func(s *specs.Spec) {
		s.Process.Args = []string{"testinit", "cat", "/proc/self/cgroup", "--", "sleep", "120"}
		withMappedRoot(s)
		limit, pids := int64(memLimit), int64(pidsLimit)
		if s.Linux.Resources == nil {
			s.Linux.Resources = &specs.LinuxResources{}
		}
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &pids}
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit}
	})
	openUpBundle(t, bundle)
	id, create := createContainer(t, bundle)
	pid := state(t, id).Pid
	// The init is in the cgroup from create on, with the limits (the Go
	// init, a program with threads, gets the pids limit just before it
	// executes the process).
	if got := hostCgroupFile(t, pid, "memory", "memory.limit_in_bytes"); got != "50331648" {
		t.Errorf("memory.limit_in_bytes of the init's cgroup %q, want 50331648", got)
	}
	mustTabox(t, "start", id)
	poll(t, "the container's output", func() bool { out, _ := create.output(); return strings.Contains(out, "pids:") })
	if got := hostCgroupFile(t, pid, "pids", "pids.max"); got != "37" {
		t.Errorf("pids.max of the container's cgroup %q, want 37", got)
	}
	out, _ := create.output()
	var cgLines []string
	for _, l := range lines(out) {
		if strings.Count(l, ":") >= 2 {
			cgLines = append(cgLines, l)
		}
	}
	own := strings.Join(cgLines, "\n")
	for _, l := range cgLines {
		if f := strings.SplitN(l, ":", 3); len(f) == 3 && (f[1] == "pids" || f[1] == "memory") && !strings.HasSuffix(f[2], "/"+id) {
			t.Errorf("container's %s cgroup %q, want its own (…/%s)", f[1], f[2], id)
		}
	}
	out = mustTabox(t, "exec", id, "cat", "/proc/self/cgroup")
	if strings.TrimSpace(out) != own {
		t.Errorf("exec'd process cgroups:\n%s\nwant the container's:\n%s", out, own)
	}
	deleteContainer(t, id, true)
}

// TestInitBadStrings: strings the kernel cannot take (a NUL inside) or too
// long for it fail create with one line and leave nothing behind; they
// never reach a mount with less of the string than was checked (a bind
// onto "/proc\x00" is not one onto /proc).
func TestInitBadStrings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		mutate func(*specs.Spec)
		want   string
	}{
		{"nul-destination", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/proc\x00", Type: "bind", Source: "/etc", Options: []string{"rbind"}})
		}, "NUL"},
		{"nul-hostname", func(s *specs.Spec) { s.Hostname = "abc\x00def" }, "NUL"},
		{"long-mount-source", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "tmpfs",
				Source: strings.Repeat("s", 12000), Options: []string{"size=" + strings.Repeat("9", 4000)}})
		}, "mount"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bundle := newBundle(t, tc.mutate)
			id := newID(t)
			_, stderr, code := tabox(t, "create", "--bundle", bundle, id)
			assertOneLineError(t, stderr, code, tc.want)
			if strings.Contains(stderr, "exited during setup") {
				t.Errorf("the init died instead of reporting: %s", stderr)
			}
			assertNoLeftovers(t, rootDir(t), id)
		})
	}
}

// TestInitLargeState: the state tabox hands the init during create (with
// the annotations) may be of any size.
func TestInitLargeState(t *testing.T) {
	t.Parallel()
	out := runArgs(t, func(s *specs.Spec) {
		s.Annotations = map[string]string{"big": strings.Repeat("a", 70000)}
	}, "testinit", "echo", "ran")
	if strings.TrimSpace(out) != "ran" {
		t.Errorf("output %q, want ran", out)
	}
}

// TestInitSeccompDeniesFaccessat2: a profile that denies faccessat2 with
// EPERM (older Docker defaults do), loaded before the program is looked up
// (no noNewPrivileges), still lets the program run: the lookup does not
// depend on faccessat2.
func TestInitSeccompDeniesFaccessat2(t *testing.T) {
	t.Parallel()
	eperm := uint(1)
	out := runArgs(t, func(s *specs.Spec) {
		s.Process.NoNewPrivileges = false
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
			Syscalls:      []specs.LinuxSyscall{{Names: []string{"faccessat2"}, Action: specs.ActErrno, ErrnoRet: &eperm}},
		}
	}, "testinit", "echo", "ran")
	if strings.TrimSpace(out) != "ran" {
		t.Errorf("output %q, want ran", out)
	}
}
