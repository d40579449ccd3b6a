package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestPidNamespace: the container's process is PID 1 of a new PID namespace.
func TestPidNamespace(t *testing.T) {
	t.Parallel()
	out := runArgs(t, nil, "testinit", "pid", "--", "ppid")
	if got := lines(out); len(got) != 2 || got[0] != "1" || got[1] != "0" {
		t.Errorf("pid/ppid inside: %q, want [1 0]", got)
	}
}

// TestHostname: the UTS namespace gets the configured hostname.
func TestHostname(t *testing.T) {
	t.Parallel()
	out := runArgs(t, func(s *specs.Spec) { s.Hostname = "box-42.example" }, "testinit", "hostname")
	if got := strings.TrimSpace(out); got != "box-42.example" {
		t.Errorf("hostname inside %q, want %q", got, "box-42.example")
	}
	host, _ := os.Hostname()
	if host == "box-42.example" {
		t.Errorf("the host's hostname was changed")
	}
}

// TestSysctl: linux.sysctl is applied in the container's namespaces, and
// not on the host.
func TestSysctl(t *testing.T) {
	t.Parallel()
	hostForward, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if err != nil {
		t.Fatal(err)
	}
	hostShmmax, err := os.ReadFile("/proc/sys/kernel/shmmax")
	if err != nil {
		t.Fatal(err)
	}
	want := "1"
	if strings.TrimSpace(string(hostForward)) == "1" {
		want = "0"
	}
	out := runArgs(t, func(s *specs.Spec) {
		s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": want, "kernel.shmmax": "123456789"}
	}, "testinit", "cat", "/proc/sys/net/ipv4/ip_forward", "--", "cat", "/proc/sys/kernel/shmmax")
	if got := lines(out); len(got) != 2 || got[0] != want || got[1] != "123456789" {
		t.Errorf("sysctls inside: %q, want [%s 123456789]", got, want)
	}
	if after, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); string(after) != string(hostForward) {
		t.Errorf("host net.ipv4.ip_forward changed from %q to %q", hostForward, after)
	}
	if after, _ := os.ReadFile("/proc/sys/kernel/shmmax"); string(after) != string(hostShmmax) {
		t.Errorf("host kernel.shmmax changed from %q to %q", hostShmmax, after)
	}
}

var netnsNames struct {
	sync.Mutex
	names []string
}

// addNetns makes a named network namespace with `ip netns add` and returns
// its path; it is deleted when the test ends.
func addNetns(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip(8) from iproute2 to make a named network namespace")
	}
	name := "tabox-test-" + newID(t)
	if len(name) > 60 {
		name = name[:60]
	}
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	netnsNames.Lock()
	netnsNames.names = append(netnsNames.names, name)
	netnsNames.Unlock()
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	return filepath.Join("/run/netns", name)
}

// cleanupNetns deletes the named namespaces a crashed test left.
func cleanupNetns() {
	netnsNames.Lock()
	defer netnsNames.Unlock()
	for _, n := range netnsNames.names {
		if _, err := os.Stat(filepath.Join("/run/netns", n)); err == nil {
			exec.Command("ip", "netns", "del", n).Run()
		}
	}
}

// TestJoinNetworkNamespace: a network namespace given by path is joined,
// not created.
func TestJoinNetworkNamespace(t *testing.T) {
	t.Parallel()
	path := addNetns(t)
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	out := runArgs(t, func(s *specs.Spec) {
		removeNamespace(s, specs.NetworkNamespace)
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: path})
	}, "testinit", "readlink", "/proc/self/ns/net")
	want := fmt.Sprintf("net:[%d]", st.Ino)
	if got := strings.TrimSpace(out); got != want {
		t.Errorf("container's network namespace %q, want %q (the one at %s)", got, want, path)
	}
	self, _ := os.Readlink("/proc/self/ns/net")
	if self == want {
		t.Fatalf("test setup: %s is the host's namespace", path)
	}
}

// TestNewNetworkNamespace: without a path, the container gets a network
// namespace of its own, with only a loopback interface.
func TestNewNetworkNamespace(t *testing.T) {
	t.Parallel()
	out := runArgs(t, nil, "testinit", "readlink", "/proc/self/ns/net", "--", "cat", "/proc/net/dev")
	host, _ := os.Readlink("/proc/self/ns/net")
	l := lines(out)
	if len(l) == 0 || !strings.HasPrefix(l[0], "net:[") || l[0] == host {
		t.Fatalf("container's network namespace %q, want a new one (host: %s)\n%s", l, host, out)
	}
	var ifaces []string
	for _, line := range l[1:] {
		if name, _, ok := strings.Cut(line, ":"); ok && !strings.Contains(name, "|") {
			ifaces = append(ifaces, strings.TrimSpace(name))
		}
	}
	if len(ifaces) != 1 || ifaces[0] != "lo" {
		t.Errorf("interfaces inside %q, want [lo]", ifaces)
	}
}

// TestUserNamespace: with a user namespace and id mappings, root inside is
// uid/gid 100000 outside.
func TestUserNamespace(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/ns/user"); err != nil {
		t.Skip("kernel without user namespaces")
	}
	bundle := newBundle(t, func(s *specs.Spec) {
		s.Process.Args = []string{"testinit", "cat", "/proc/self/uid_map", "--", "cat", "/proc/self/gid_map", "--", "id", "--", "sleep", "120"}
		withMappedRoot(s)
	})
	// Root inside is uid 100000 on the host, and must be able to reach
	// the rootfs.
	openUpBundle(t, bundle)
	id, create := createContainer(t, bundle)
	mustTabox(t, "start", id)
	st := state(t, id)
	poll(t, "the container's output", func() bool {
		out, _ := create.output()
		return len(lines(out)) >= 3
	})
	out, _ := create.output()
	l := lines(out)
	for i, what := range []string{"uid_map", "gid_map"} {
		if f := strings.Fields(l[i]); len(f) != 3 || f[0] != "0" || f[1] != "100000" || f[2] != "65536" {
			t.Errorf("%s inside %q, want \"0 100000 65536\"", what, l[i])
		}
	}
	if l[2] != "uid=0 gid=0 groups=" {
		t.Errorf("id inside %q, want uid=0 gid=0 groups=", l[2])
	}
	if uid := strings.Fields(procStatusField(st.Pid, "Uid")); len(uid) != 4 || uid[0] != "100000" || uid[1] != "100000" {
		t.Errorf("host view of the container's uids: %q, want 100000", uid)
	}
	if gid := strings.Fields(procStatusField(st.Pid, "Gid")); len(gid) != 4 || gid[0] != "100000" {
		t.Errorf("host view of the container's gids: %q, want 100000", gid)
	}
	self, _ := os.Readlink("/proc/self/ns/user")
	if ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/user", st.Pid)); ns == self || ns == "" {
		t.Errorf("container's user namespace %q, want a new one (host: %s)", ns, self)
	}
	mustTabox(t, "kill", id, "KILL")
	waitForStatus(t, id, "stopped")
	deleteContainer(t, id, false)
}

// TestRootfsPropagation: with the default (rslave) or rshared root
// propagation, a mount made on the host under a shared mount of the rootfs
// after the container started appears inside; with rprivate it does not.
func TestRootfsPropagation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		prop string
		want bool
	}{{"", true}, {"rslave", true}, {"rshared", true}, {"rprivate", false}} {
		name := tc.prop
		if name == "" {
			name = "default"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			bundle := newBundle(t, func(s *specs.Spec) {
				s.Linux.RootfsPropagation = tc.prop
				s.Process.Args = []string{"testinit", "pause", "--", "cat", "/mnt/shared/sub/marker", "--", "echo", "", "--", "mountinfo"}
			})
			shared := filepath.Join(bundle, "rootfs/mnt/shared")
			sub := filepath.Join(shared, "sub")
			if err := os.Mkdir(shared, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := unix.Mount("tmpfs", shared, "tmpfs", 0, "size=1m"); err != nil {
				t.Fatalf("mount tmpfs on %s: %v", shared, err)
			}
			unmount := func() {
				unix.Unmount(sub, unix.MNT_DETACH)
				unix.Unmount(shared, unix.MNT_DETACH)
			}
			t.Cleanup(unmount)
			if err := unix.Mount("", shared, "", unix.MS_SHARED, ""); err != nil {
				t.Fatalf("make %s shared: %v", shared, err)
			}
			if err := os.Mkdir(sub, 0o755); err != nil {
				t.Fatal(err)
			}
			id, create := createContainer(t, bundle)
			mustTabox(t, "start", id)
			poll(t, "the container to pause", func() bool { out, _ := create.output(); return strings.Contains(out, "paused") })

			// A mount made on the host now, under the shared mount.
			if err := unix.Mount("tmpfs", sub, "tmpfs", 0, "size=1m"); err != nil {
				t.Fatalf("mount tmpfs on %s: %v", sub, err)
			}
			if err := os.WriteFile(filepath.Join(sub, "marker"), []byte("propagated"), 0o644); err != nil {
				t.Fatal(err)
			}
			mustTabox(t, "kill", id, "USR1")
			waitForStatus(t, id, "stopped")
			out, _ := create.output()
			seen := strings.Contains(out, "propagated")
			if seen != tc.want {
				t.Errorf("host mount seen inside: %v, want %v\n%s", seen, tc.want, out)
			}
			unmount()
			deleteContainer(t, id, false)
		})
	}
}

// TestTimeNamespace: a time namespace with timeOffsets shifts the clocks
// the container sees (boottime in /proc/uptime), and exec joins it.
func TestTimeNamespace(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/ns/time"); err != nil {
		t.Skip("kernel without time namespaces")
	}
	id, pid := runningContainer(t, func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
		s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: 1000000}}
	})
	hostNS, _ := os.Readlink("/proc/self/ns/time")
	ctrNS, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/time", pid))
	if err != nil || ctrNS == hostNS {
		t.Fatalf("container time namespace %q (%v), host %q: want its own", ctrNS, err, hostNS)
	}
	out := mustTabox(t, "exec", id, "testinit", "cat", "/proc/uptime", "--", "readlink", "/proc/self/ns/time")
	l := lines(out)
	up, _ := strconv.ParseFloat(strings.Fields(l[0])[0], 64)
	hostUp, _ := os.ReadFile("/proc/uptime")
	hup, _ := strconv.ParseFloat(strings.Fields(string(hostUp))[0], 64)
	if d := up - hup; d < 1000000-5 || d > 1000000+5 {
		t.Errorf("uptime inside %.0f, host %.0f: want the 1000000 s boottime offset", up, hup)
	}
	if len(l) < 2 || l[1] != ctrNS {
		t.Errorf("exec'd process time namespace %q, want the container's %q", l[min(1, len(l)-1)], ctrNS)
	}
}

// TestNoMountNamespace: a container without a mount namespace of its own
// shares the runtime's; it still sees its rootfs as /, exec'd processes
// too, and delete unmounts what was mounted for it on the host.
func TestNoMountNamespace(t *testing.T) {
	t.Parallel()
	bundle := newBundle(t, func(s *specs.Spec) {
		var ns []specs.LinuxNamespace
		for _, n := range s.Linux.Namespaces {
			if n.Type != specs.MountNamespace {
				ns = append(ns, n)
			}
		}
		s.Linux.Namespaces = ns
		s.Root.Readonly = false
		s.Process.Args = []string{"testinit", "sleep", "120"}
	})
	id, pid := func() (string, int) {
		id, _ := createContainer(t, bundle)
		mustTabox(t, "start", id)
		return id, state(t, id).Pid
	}()
	host, _ := os.Readlink("/proc/self/ns/mnt")
	if ctr, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid)); ctr != host {
		t.Errorf("container mount namespace %q, want the runtime's %q", ctr, host)
	}
	if !mountedUnder(bundle) {
		t.Errorf("no mount of the container under %s on the host while it runs", bundle)
	}
	out := mustTabox(t, "exec", id, "testinit", "ls", "/bin")
	if !strings.Contains(out, "testinit") {
		t.Errorf("exec'd process does not see the container's rootfs as /: %q", out)
	}
	deleteContainer(t, id, true)
	if mountedUnder(bundle) {
		t.Errorf("mounts under %s left on the host after delete", bundle)
	}
}

// mountedUnder reports whether the host has a mount below dir.
func mountedUnder(dir string) bool {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			return true
		}
	}
	return false
}

// TestUserNamespaceUnmappedRootNoCaps: a user namespace that does not map
// 0 starts the init as its first mapped ids, with every capability kept
// through exec as an ambient one; a process whose config gives it no
// capabilities must get none of them.
func TestUserNamespaceUnmappedRootNoCaps(t *testing.T) {
	t.Parallel()
	bundle := newBundle(t, func(s *specs.Spec) {
		addUserNS(s, 100000, 65536)
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 1000, HostID: 100000, Size: 1000}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 1000, HostID: 100000, Size: 1000}}
		s.Process.Capabilities = nil
		s.Process.User.UID, s.Process.User.GID = 1000, 1000
		s.Process.Args = []string{"grep", "^Cap[IPEA]", "/proc/self/status"}
		// gid 5 (tty) is not mapped.
		for i := range s.Mounts {
			s.Mounts[i].Options = slices.DeleteFunc(s.Mounts[i].Options, func(o string) bool { return o == "gid=5" })
		}
	})
	openUpBundle(t, bundle)
	want := []string{"CapInh:\t0000000000000000", "CapPrm:\t0000000000000000", "CapEff:\t0000000000000000", "CapAmb:\t0000000000000000"}
	if l := lines(mustRun(t, bundle)); !slices.Equal(l, want) {
		t.Errorf("capabilities of a process without any: %q, want %q", l, want)
	}
}
