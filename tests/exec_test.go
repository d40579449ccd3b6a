package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runningContainer creates and starts a container that sleeps, and
// returns its ID and its init's host PID.
func runningContainer(t *testing.T, mutate func(*specs.Spec)) (string, int) {
	t.Helper()
	bundle := newBundle(t, func(s *specs.Spec) {
		s.Process.Args = []string{"testinit", "sleep", "120"}
		if mutate != nil {
			mutate(s)
		}
	})
	id, _ := createContainer(t, bundle)
	mustTabox(t, "start", id)
	return id, state(t, id).Pid
}

// TestExecJoinsContainer: an exec'd process is in every namespace and
// the cgroup of the container, and sees its rootfs.
func TestExecJoinsContainer(t *testing.T) {
	t.Parallel()
	id, pid := runningContainer(t, func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	})
	var args []string
	for _, ns := range []string{"pid", "net", "mnt", "ipc", "uts", "cgroup"} {
		args = append(args, "readlink", "/proc/self/ns/"+ns, "--")
	}
	args = append(args, "pid", "--", "ls", "/bin")
	out := mustTabox(t, append([]string{"exec", id, "testinit"}, args...)...)
	l := lines(out)
	for i, ns := range []string{"pid", "net", "mnt", "ipc", "uts", "cgroup"} {
		want, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
		if err != nil {
			t.Fatal(err)
		}
		if i >= len(l) || l[i] != want {
			t.Errorf("exec'd process %s namespace %q, want the container's %q", ns, l[min(i, len(l)-1)], want)
		}
	}
	// PID 1 is the container's process: the exec'd one has another PID
	// in the container's namespace.
	if n, err := strconv.Atoi(l[6]); err != nil || n <= 1 {
		t.Errorf("exec'd process PID inside %q, want > 1", l[6])
	}
	if !strings.Contains(out, "testinit") || !strings.Contains(out, "busybox") {
		t.Errorf("exec'd process does not see the container's rootfs: %q", out)
	}
}

// TestExecCgroup: the exec'd process is in the container's cgroup (the
// host sees it in cgroup.procs), and exec passes the exit status through.
func TestExecCgroup(t *testing.T) {
	t.Parallel()
	id, pid := runningContainer(t, nil)
	own, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	out := mustTabox(t, "exec", id, "testinit", "cat", "/proc/self/cgroup")
	if strings.TrimSpace(out) != strings.TrimSpace(string(own)) {
		t.Errorf("exec'd process cgroups:\n%s\nwant the container's:\n%s", out, own)
	}
	if _, _, code := tabox(t, "exec", id, "testinit", "exit", "7"); code != 7 {
		t.Errorf("exec of exit 7: exit %d", code)
	}
	if _, _, code := tabox(t, "exec", id, "testinit", "kill-self", "TERM"); code != 128+15 {
		t.Errorf("exec of a process killed by SIGTERM: exit %d, want 143", code)
	}
}

// TestExecProcessSettings: --user, --env, --cwd, --cap, --no-new-privs
// and the container's own capabilities, rlimits and seccomp filter.
func TestExecProcessSettings(t *testing.T) {
	t.Parallel()
	id, _ := runningContainer(t, func(s *specs.Spec) {
		s.Process.Env = append(s.Process.Env, "FROM_CONTAINER=1")
		s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 321, Hard: 654}}
		s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdirat", "mkdir"}, Action: specs.ActErrno, ErrnoRet: ptrUint(38)}}}
	})
	// A value with a comma is one variable, as with runc.
	out := mustTabox(t, "exec", "--user", "1000:1000", "--env", "EXTRA=2,3", "--cwd", "/tmp", "--no-new-privs",
		id, "testinit", "id", "--", "env", "--", "cwd", "--", "nnp", "--", "limits", "NOFILE", "--", "syscall", "mkdir", "--", "caps")
	for _, want := range []string{"uid=1000 gid=1000", "\nEXTRA=2,3\n", "FROM_CONTAINER=1", "/tmp", "321 654", "errno=ENOSYS"} {
		if !strings.Contains(out, want) {
			t.Errorf("exec output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "NoNewPrivs:\t1") && !strings.Contains(out, "\n1\n") {
		t.Errorf("--no-new-privs not in force:\n%s", out)
	}
	// --cap adds to the effective set; never to the inheritable one
	// (CVE-2022-29162).
	out = mustTabox(t, "exec", "--cap", "CAP_SYS_ADMIN", id, "testinit", "caps")
	if capField(out, "CapInh") != 0 {
		t.Errorf("inheritable capabilities after exec --cap:\n%s", out)
	}
	if eff := capField(out, "CapEff"); eff&(1<<21) == 0 {
		t.Errorf("CAP_SYS_ADMIN not effective after exec --cap:\n%s", out)
	}
}

// TestExecBadInput: errors are one line and change nothing.
func TestExecBadInput(t *testing.T) {
	t.Parallel()
	id, _ := runningContainer(t, nil)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"exec", "--user", "root", id, "true"}, "--user"},
		{[]string{"exec", "--user", "1000:x", id, "true"}, "--user"},
		{[]string{"exec", id}, "no command"},
		{[]string{"exec", id, "no-such-program"}, "no-such-program"},
		{[]string{"exec", "--cap", "CAP_NOPE", id, "true"}, "CAP_NOPE"},
		{[]string{"exec", "no-such-container", "true"}, "container does not exist"},
		{[]string{"exec", "--cwd", "relative", id, "true"}, "relative"},
		{[]string{"exec", "--cgroup", "sub", id, "true"}, "--cgroup"},
	} {
		_, stderr, code := tabox(t, tc.args...)
		assertOneLineError(t, stderr, code, tc.want)
	}
	// Asked for a confinement the host cannot give, exec refuses.
	if !hostHasLSM("apparmor") {
		_, stderr, code := tabox(t, "exec", "--apparmor", "docker-default", id, "true")
		assertOneLineError(t, stderr, code, "AppArmor is not enabled")
	}
	if !hostHasLSM("selinux") {
		_, stderr, code := tabox(t, "exec", "--process-label", "system_u:system_r:container_t:s0", id, "true")
		assertOneLineError(t, stderr, code, "SELinux is not enabled")
	}
	if st := state(t, id); st.Status != "running" {
		t.Errorf("container %s after failed execs, want running", st.Status)
	}
	mustTabox(t, "kill", id, "KILL")
	waitForStatus(t, id, "stopped")
	_, stderr, code := tabox(t, "exec", id, "testinit", "echo", "x")
	assertOneLineError(t, stderr, code, "stopped")
}

// TestExecDetach: --detach returns at once and --pid-file names the
// running exec'd process, which is the container's.
func TestExecDetach(t *testing.T) {
	t.Parallel()
	id, _ := runningContainer(t, nil)
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	mustTabox(t, "exec", "--detach", "--pid-file", pidFile, id, "testinit", "sleep", "60")
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(string(data))
	if err != nil {
		t.Fatalf("pid file %q", data)
	}
	out := mustTabox(t, "ps", "--format", "json", id)
	if !strings.Contains(out, strconv.Itoa(pid)) {
		t.Errorf("ps of the container %s lacks the exec'd process %d", out, pid)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
		t.Errorf("detached exec'd process %d is gone: %v", pid, err)
	}
}

// TestExecUserNamespace: exec joins the container's user namespace: root
// inside, mapped as the container's root is.
func TestExecUserNamespace(t *testing.T) {
	t.Parallel()
	bundle := newBundle(t, func(s *specs.Spec) {
		s.Process.Args = []string{"testinit", "sleep", "120"}
		withMappedRoot(s)
	})
	openUpBundle(t, bundle)
	id, _ := createContainer(t, bundle)
	mustTabox(t, "start", id)
	out := mustTabox(t, "exec", id, "testinit", "cat", "/proc/self/uid_map", "--", "id")
	l := lines(out)
	if f := strings.Fields(l[0]); len(f) != 3 || f[0] != "0" || f[1] != "100000" {
		t.Errorf("exec'd uid_map %q, want 0 100000 …", l[0])
	}
	if !strings.HasPrefix(l[1], "uid=0 gid=0") {
		t.Errorf("exec'd id %q, want root of the user namespace", l[1])
	}
}

func ptrUint(v uint) *uint { return &v }

// capField parses a capability mask line of /proc/self/status.
func capField(status, name string) uint64 {
	for _, l := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return n
		}
	}
	return 0
}

// hostHasLSM reports whether the kernel runs the named LSM ("apparmor" or
// "selinux"), probed where tabox probes it.
func hostHasLSM(name string) bool {
	if name == "apparmor" {
		b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
		return err == nil && strings.TrimSpace(string(b)) == "Y"
	}
	_, err := os.Stat("/sys/fs/selinux/enforce")
	return err == nil
}
