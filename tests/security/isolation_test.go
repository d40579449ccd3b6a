package security

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Test08SysctlOverProcSys (CVE-2025-52881): a config whose mounts put a
// tmpfs or a host directory over /proc/sys (or /proc/self/attr) and that
// sets sysctls: the sysctl must never be written into the mounted
// directory or the host's settings; create refuses, or the container's own
// namespaced sysctl has the value.
func Test08SysctlOverProcSys(t *testing.T) {
	track(t)
	const keepalive = "7211"
	for _, v := range []struct {
		name, dest string
		hostDir    bool
		key, value string
		ns, file   string
	}{
		{"tmpfs-over-proc-sys", "/proc/sys", false, "net.ipv4.tcp_keepalive_time", keepalive, "-n", "net/ipv4/tcp_keepalive_time"},
		{"host-dir-over-proc-sys", "/proc/sys", true, "net.ipv4.tcp_keepalive_time", keepalive, "-n", "net/ipv4/tcp_keepalive_time"},
		{"host-dir-over-proc-sys-kernel", "/proc/sys/kernel", true, "kernel.domainname", "sec-domain", "-u", "domainname"},
		{"tmpfs-over-proc-self-attr", "/proc/self/attr", false, "net.ipv4.tcp_keepalive_time", keepalive, "-n", "net/ipv4/tcp_keepalive_time"},
	} {
		t.Run(v.name, func(t *testing.T) {
			h := newHarness(t)
			m := specs.Mount{Destination: v.dest, Type: "tmpfs", Source: "tmpfs"}
			if v.hostDir {
				dir := h.hostDir()
				rel := v.file
				if v.dest == "/proc/sys/kernel" {
					rel = strings.TrimPrefix(v.file, "kernel/")
				}
				os.MkdirAll(filepath.Join(dir, filepath.Dir(rel)), 0o755)
				os.WriteFile(filepath.Join(dir, rel), []byte("orig\n"), 0o644)
				h.watch(dir)
				m = specs.Mount{Destination: v.dest, Type: "bind", Source: dir, Options: []string{"rbind"}}
			}
			b := h.bundle(func(s *specs.Spec) {
				s.Mounts = append(s.Mounts, m)
				s.Linux.Sysctl = map[string]string{v.key: v.value}
				s.Process.Args = attackerArgs([]string{"sleep", "60"})
			})
			id, r := h.create(b)
			if r.code != 0 {
				t.Logf("create refused: %s", strings.TrimSpace(r.stderr))
				return
			}
			pid := h.state(id).Pid
			path := "/proc/sys/" + strings.ReplaceAll(v.key, ".", "/")
			out, err := exec.Command("nsenter", "-t", strconv.Itoa(pid), v.ns, "cat", path).CombinedOutput()
			if err != nil {
				t.Errorf("nsenter %s into the container to read %s: %v: %s", v.ns, path, err, out)
			} else if got := strings.TrimSpace(string(out)); got != v.value {
				t.Errorf("ATTACK WORKED: create succeeded but the container's %s is %q, not %q: the write went elsewhere", v.key, got, v.value)
			} else {
				t.Logf("create accepted; the container's own %s is %s", v.key, got)
			}
			h.deleteForce(id, b)
		})
	}
}

// Test09DevSymlink (runc CVE-2026-41579 class): the image's /dev is a
// symlink to a host directory: no device node or link may be created
// there, whether /dev gets a tmpfs or not.
func Test09DevSymlink(t *testing.T) {
	track(t)
	for _, v := range []struct {
		kind  string
		tmpfs bool
	}{{"absolute", true}, {"mirrored", true}, {"absolute", false}, {"relative", false}, {"mirrored", false}} {
		name := v.kind + map[bool]string{true: "-tmpfs", false: "-no-tmpfs"}[v.tmpfs]
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			host := h.hostDir()
			b := h.bundle(func(s *specs.Spec) {
				s.Process.Args = attackerArgs([]string{"stat", "/dev/null"}, []string{"ls", "/dev"})
				if !v.tmpfs {
					var mounts []specs.Mount
					for _, m := range s.Mounts {
						if m.Destination != "/dev" {
							mounts = append(mounts, m)
						}
					}
					s.Mounts = mounts
				}
			})
			symlinkIn(t, b, "dev", linkTarget(t, b, host, v.kind))
			r := h.runC(b, opts{})
			t.Logf("%s", r)
			if r.code == 0 {
				if st, _ := fieldOf(r.stdout, "stat /dev/null"); st != "ok type=char rdev=1:3" {
					t.Errorf("/dev/null inside is not the null device: %s", st)
				}
			}
		})
	}
}

// Test10PreserveFdsMissing: --preserve-fds 3 when fds 3..5 are not open
// must fail (the runtime must not hand its own fds to the container), and
// leave nothing behind.
func Test10PreserveFdsMissing(t *testing.T) {
	h := newHarness(t)
	b := h.bundle(nil)
	id := h.newID()
	r := h.rt(opts{}, "create", "--preserve-fds", "3", "--bundle", b, id)
	if r.code == 0 {
		h.notePid(h.state(id).Pid)
		start := h.rt(opts{}, "start", id)
		waitFor(5*time.Second, func() bool { return strings.Contains(r.output(), "fds: ") })
		var fds []string
		for _, l := range strings.Split(r.output(), "\n") {
			if strings.HasPrefix(l, "fd ") {
				fds = append(fds, l)
			}
		}
		t.Errorf("ATTACK WORKED: create --preserve-fds 3 without fds 3..5 succeeded (start exit %d); the container got the runtime's fds: %s", start.code, strings.Join(fds, "; "))
		h.deleteForce(id, b)
		return
	}
	if strings.TrimSpace(r.stderr) == "" {
		t.Errorf("create failed without an error message")
	}
	t.Logf("create refused: %s", strings.TrimSpace(r.stderr))
	if _, err := os.Lstat(filepath.Join(h.root, id)); err == nil {
		t.Errorf("state directory left after the failed create")
	}
	if p := findProcs(b); len(p) > 0 {
		t.Errorf("processes left after the failed create: %v", p)
	}
	for _, p := range []string{"/sys/fs/cgroup/*/" + id, "/sys/fs/cgroup/*/*/" + id, "/sys/fs/cgroup/*/*/*/" + id} {
		if m, _ := filepath.Glob(p); len(m) > 0 {
			t.Errorf("cgroups left after the failed create: %v", m)
		}
	}
}

// Test11InitPtrace (CVE-2016-9962): a container sharing its PID namespace
// with a created container (a pod) goes for the other container's init
// while it is still the runtime: it opens its fds (the runtime's: exec
// fifo, rootfs, host procfs), reads its environ and mem, ptraces it. The
// init must be non-dumpable until exec, so that this fails even for a
// container with every capability but CAP_SYS_PTRACE. (Listing the fd
// numbers needs no ptrace access and is not an attack; nor is reading
// environ, which this kernel allows to a process with CAP_SYS_ADMIN even
// against a target with more capabilities.)
func Test11InitPtrace(t *testing.T) {
	track(t)
	for _, v := range []struct {
		name string
		caps []string
	}{{"default-caps", nil}, {"all-caps-but-sys_ptrace", allCapsBut("CAP_SYS_PTRACE")}} {
		t.Run(v.name, func(t *testing.T) {
			h := newHarness(t)
			out := pidnsAttack(h, v.caps, nil, nil)
			for _, l := range strings.Split(out, "\n") {
				if l != "" && !strings.HasSuffix(l, "errno=ENOENT") {
					t.Logf("attacker: %s", l)
				}
			}
			for _, hit := range okSteps(out, "fd-open", "mem", "ptrace", "exe-link",
				"procfs-root", "procfs-core_pattern-open-wr") {
				t.Errorf("ATTACK WORKED: %s", hit)
			}
		})
	}
}

// Test12InheritableCaps (CVE-2022-29162): with the runtime's own default
// spec, the process has no inheritable or ambient capabilities.
func Test12InheritableCaps(t *testing.T) {
	h := newHarness(t)
	dir := h.newDir()
	if err := copyRootfs(filepath.Join(dir, "rootfs")); err != nil {
		t.Fatal(err)
	}
	if r := h.rt(opts{dir: dir, noRoot: true}, "spec"); r.code != 0 {
		t.Fatalf("spec: %s", r)
	}
	h.mu.Lock()
	h.bundles = append(h.bundles, dir)
	h.mu.Unlock()
	for _, uid := range []uint32{0, 1000} {
		s := readSpec(t, dir)
		s.Process.Terminal = false
		s.Process.Args = attackerArgs([]string{"caps"})
		s.Process.Env = append(s.Process.Env, markerEnv+"="+dir)
		s.Process.User = specs.User{UID: uid, GID: uid}
		writeSpec(t, dir, s)
		r := h.runC(dir, opts{})
		if r.code != 0 {
			t.Errorf("uid %d: %s", uid, r)
			continue
		}
		t.Logf("uid %d: %s", uid, strings.ReplaceAll(strings.TrimSpace(r.stdout), "\n", ", "))
		for _, k := range []string{"CapInh", "CapAmb"} {
			if v, _ := fieldOf(r.stdout, k); v != "0000000000000000" {
				t.Errorf("ATTACK WORKED: uid %d: %s is %q with the default spec, want 0", uid, k, v)
			}
		}
	}
}

// rootlessUser is the unprivileged account of the rootless test (the one
// tests/rootless_test.go uses); created when missing.
const rootlessUser = "tabox-rootless"

// Test13RootlessCgroupWritable (CVE-2023-25809): a rootless container
// without a cgroup namespace sees the host's /sys/fs/cgroup: it must be
// read-only inside, even where the user owns a delegated cgroup (which the
// container's root, mapped to the user, could otherwise write).
func Test13RootlessCgroupWritable(t *testing.T) {
	h := newHarness(t)
	u, err := user.Lookup(rootlessUser)
	if err != nil {
		if out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", rootlessUser).CombinedOutput(); err != nil {
			t.Skipf("useradd %s: %v: %s", rootlessUser, err, out)
		}
		if u, err = user.Lookup(rootlessUser); err != nil {
			t.Fatal(err)
		}
		// /etc changed by the setup, not by an attack.
		h.snap.etc = treeOf("/etc")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	const pids = "/sys/fs/cgroup/pids"
	if fi, err := os.Stat(pids); err != nil || !fi.IsDir() {
		t.Skipf("no cgroup v1 pids hierarchy at %s to delegate", pids)
	}
	home, err := os.MkdirTemp("", "tabox-sec-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	bin := filepath.Join(home, runtimeName)
	data, err := os.ReadFile(runtimeBin)
	if err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(home, "bundle")
	if err := errors2(os.WriteFile(bin, data, 0o755), os.Mkdir(filepath.Join(home, "run"), 0o700),
		os.Mkdir(bundle, 0o755), copyRootfs(filepath.Join(bundle, "rootfs"))); err != nil {
		t.Fatal(err)
	}
	filepath.Walk(home, func(p string, _ os.FileInfo, err error) error {
		if err == nil {
			os.Lchown(p, uid, gid)
		}
		return nil
	})
	h.mu.Lock()
	h.bundles = append(h.bundles, bundle)
	h.mu.Unlock()

	// A cgroup delegated to the user, as systemd does for a user session.
	deleg := filepath.Join(pids, "tabox-sec-deleg-"+randHex(4))
	stray := filepath.Join(pids, "tabox-sec-stray-"+randHex(4))
	if err := os.Mkdir(deleg, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, d := range []string{filepath.Join(deleg, "sub"), deleg, stray} {
			os.Remove(d)
		}
	})
	os.Chown(deleg, uid, gid)
	for _, f := range []string{"cgroup.procs", "tasks", "pids.max"} {
		os.Chown(filepath.Join(deleg, f), uid, gid)
	}

	as := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + home, "XDG_RUNTIME_DIR=" + filepath.Join(home, "run")}
	o := opts{as: as, env: env, dir: bundle, noRoot: true, bin: bin}
	state := filepath.Join(home, "state")
	runAs := func(args ...string) result {
		return h.rt(o, append([]string{"--root", state}, args...)...)
	}
	if r := runAs("spec", "--rootless"); r.code != 0 {
		t.Fatalf("spec --rootless: %s", r)
	}
	s := readSpec(t, bundle)
	s.Process.Terminal = false
	s.Process.Env = append(s.Process.Env, markerEnv+"="+bundle)
	s.Process.Args = attackerArgs([]string{"mkdir", stray}, []string{"write", deleg + "/pids.max", "5"},
		[]string{"mkdir", deleg + "/sub"}, []string{"write", deleg + "/cgroup.procs", "0"}, []string{"mountinfo"})
	var ns []specs.LinuxNamespace
	for _, n := range s.Linux.Namespaces {
		if n.Type != specs.CgroupNamespace {
			ns = append(ns, n)
		}
	}
	s.Linux.Namespaces = ns
	s.Root.Readonly = false
	writeSpec(t, bundle, s)
	os.Lchown(filepath.Join(bundle, "config.json"), uid, gid)

	id := "sec-rootless-" + randHex(4)
	t.Cleanup(func() { runAs("delete", "--force", id) })
	r := runAs("run", id)
	if r.code != 0 {
		t.Fatalf("rootless run: %s", r)
	}
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.Contains(l, "/sys/fs/cgroup") || strings.HasPrefix(l, "mkdir") || strings.HasPrefix(l, "write") {
			t.Logf("inside: %s", l)
		}
	}
	for _, k := range []string{"mkdir " + stray, "write " + deleg + "/pids.max", "mkdir " + deleg + "/sub", "write " + deleg + "/cgroup.procs"} {
		v, ok := fieldOf(r.stdout, k)
		switch {
		case !ok:
			t.Errorf("no result for %q:\n%s", k, r.stdout)
		case v == "ok":
			t.Errorf("ATTACK WORKED: rootless container could %s (the host's cgroupfs is writable inside)", k)
		case v != "errno=EROFS" && v != "errno=EACCES" && v != "errno=EPERM":
			t.Errorf("%s: %s, want EROFS or EACCES", k, v)
		}
	}
	if got := readTrim(deleg + "/pids.max"); got != "max" {
		t.Errorf("HOST CHANGED: %s/pids.max is %q", deleg, got)
	}
	if got := readTrim(deleg + "/cgroup.procs"); got != "" {
		t.Errorf("HOST CHANGED: processes in the delegated cgroup: %s", got)
	}
	for _, d := range []string{filepath.Join(deleg, "sub"), stray} {
		if exists(d) {
			t.Errorf("HOST CHANGED: cgroup %s created from inside the container", d)
		}
	}
}

func errors2(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Test14ResourceExhaustion: a fork bomb under a pids limit and a memory
// hog under a memory limit stay within the limits, the host stays
// responsive, and delete --force removes every process and the cgroup.
// Neither attack starts unless the limit is verified in place.
func Test14ResourceExhaustion(t *testing.T) {
	track(t)
	t.Run("fork-bomb", func(t *testing.T) {
		h := newHarness(t)
		limit := int64(64)
		b := h.bundle(func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &limit}}
			s.Process.Args = []string{"sh", "-c", "b(){ b|b& }; b 2>/dev/null; exec sleep 600"}
		})
		id, _ := h.mustCreate(b)
		cg := procCgroups(h.state(id).Pid)["pids"]
		if max := readTrim(filepath.Join(cg, "pids.max")); cg == "" || max != "64" {
			t.Fatalf("pids.max of the container's cgroup %q is %q, not 64: not starting a fork bomb", cg, max)
		}
		if r := h.rt(opts{}, "start", id); r.code != 0 {
			t.Fatalf("start: %s", r)
		}
		peak := 0
		for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			if n, _ := strconv.Atoi(readTrim(filepath.Join(cg, "pids.current"))); n > peak {
				peak = n
			}
		}
		t.Logf("fork bomb: peak pids.current %d, pids.events %q", peak, readTrim(filepath.Join(cg, "pids.events")))
		if peak > 64 {
			t.Errorf("ATTACK WORKED: %d processes in the container, limit 64", peak)
		}
		// The bomb's processes come and go: sampling may miss its peak, but
		// the limit refusing forks ("max N" in pids.events) shows it ran.
		refused := 0
		fmt.Sscanf(readTrim(filepath.Join(cg, "pids.events")), "max %d", &refused)
		if peak < 32 && refused == 0 {
			t.Errorf("the fork bomb did not run (peak %d processes, no fork refused): the attack was not set up", peak)
		}
		hostResponsive(t)
		h.deleteForce(id, b)
		if !waitFor(5*time.Second, func() bool { return !exists(cg) }) {
			t.Errorf("cgroup %s left after delete --force (pids.current %s)", cg, readTrim(filepath.Join(cg, "pids.current")))
		}
	})
	t.Run("memory-hog", func(t *testing.T) {
		h := newHarness(t)
		limit := int64(64 << 20)
		b := h.bundle(func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}
			s.Process.Args = []string{"sh", "-c", "while true; do attacker hog 1024; done"}
		})
		id, _ := h.mustCreate(b)
		cg := procCgroups(h.state(id).Pid)["memory"]
		if got := readTrim(filepath.Join(cg, "memory.limit_in_bytes")); cg == "" || got != strconv.FormatInt(limit, 10) {
			t.Fatalf("memory.limit_in_bytes of the container's cgroup %q is %q, not %d: not starting the hog", cg, got, limit)
		}
		before := memAvailable()
		if r := h.rt(opts{}, "start", id); r.code != 0 {
			t.Fatalf("start: %s", r)
		}
		minAvail := before
		for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			if m := memAvailable(); m < minAvail {
				minAvail = m
			}
		}
		maxUsage, _ := strconv.ParseInt(readTrim(filepath.Join(cg, "memory.max_usage_in_bytes")), 10, 64)
		failcnt := readTrim(filepath.Join(cg, "memory.failcnt"))
		oom := strings.ReplaceAll(readTrim(filepath.Join(cg, "memory.oom_control")), "\n", ", ")
		t.Logf("memory hog: max usage %d, failcnt %s, oom_control %s; host MemAvailable %d MiB -> min %d MiB", maxUsage, failcnt, oom, before>>20, minAvail>>20)
		// The kernel force-charges a few pages past the limit (an OOM
		// victim's exit, kernel allocations that cannot fail): the attack
		// is the hog getting past the limit, which is megabytes.
		if slack := int64(4 << 20); maxUsage > limit+slack {
			t.Errorf("ATTACK WORKED: the container used %d bytes, limit %d", maxUsage, limit)
		}
		if failcnt == "0" {
			t.Errorf("the hog never reached the limit: the attack was not set up")
		}
		if before-minAvail > 512<<20 {
			t.Errorf("ATTACK WORKED: the host's available memory dropped by %d MiB", (before-minAvail)>>20)
		}
		hostResponsive(t)
		h.deleteForce(id, b)
		if !waitFor(5*time.Second, func() bool { return !exists(cg) }) {
			t.Errorf("cgroup %s left after delete --force", cg)
		}
	})
}

// hostResponsive checks that the host can still start a process.
func hostResponsive(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := exec.CommandContext(ctx, "/bin/true").Run(); err != nil {
		t.Errorf("ATTACK WORKED: the host cannot start a process: %v", err)
	}
}

func memAvailable() int64 {
	data, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "MemAvailable:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
