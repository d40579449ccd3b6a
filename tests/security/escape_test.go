package security

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// pidnsAttack runs the attacker of "attacker pidns-attack" in container A
// (with capabilities caps, or the default ones) and creates container B in
// A's PID namespace (a pod sharing its PID namespace): while B is created,
// its init is the runtime, visible to A. created(bpid) runs on the host
// once B is created, before A attacks; started() once B is started (the
// runtime has exec'd B's process), before A writes through the executables
// it kept and probes B's process as a control. It returns A's report.
func pidnsAttack(h *harness, caps []string, created func(bpid int), started func()) string {
	t := h.t
	a := h.bundle(func(s *specs.Spec) {
		s.Process.Args = attackerArgs([]string{"pidns-attack"})
		if caps != nil {
			s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
		}
	})
	idA, rA := h.mustCreate(a)
	if r := h.rt(opts{}, "start", idA); r.code != 0 {
		t.Fatalf("start A: %s", r)
	}
	apid := h.state(idA).Pid
	b := h.bundle(func(s *specs.Spec) {
		s.Process.Args = attackerArgs([]string{"sleep", "30"})
		for i := range s.Linux.Namespaces {
			if s.Linux.Namespaces[i].Type == specs.PIDNamespace {
				s.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/pid", apid)
			}
		}
	})
	idB, _ := h.mustCreate(b)
	bpid := h.state(idB).Pid
	t.Logf("container B's init (host pid %d) runs %s; %s", bpid, readlink(fmt.Sprintf("/proc/%d/exe", bpid)), statusOf(bpid, "Uid", "Gid", "CapPrm", "CapEff", "NoNewPrivs", "Seccomp"))
	if created != nil {
		created(bpid)
	}
	tmp := filepath.Join(a, "rootfs/tmp")
	os.WriteFile(filepath.Join(tmp, "go"), nil, 0o644)
	if !waitFor(20*time.Second, func() bool { return exists(filepath.Join(tmp, "phase1")) }) {
		t.Fatalf("the attacker did not finish its attack:\n%s", rA.output())
	}
	if r := h.rt(opts{}, "start", idB); r.code != 0 {
		t.Fatalf("start B: %s", r)
	}
	if started != nil {
		started()
	}
	os.WriteFile(filepath.Join(tmp, "go2"), nil, 0o644)
	if !waitFor(20*time.Second, func() bool { return exists(filepath.Join(tmp, "phase2")) }) {
		t.Fatalf("the attacker did not finish its second phase:\n%s", rA.output())
	}
	out := rA.output()
	h.deleteForce(idB, b)
	h.deleteForce(idA, a)
	if v, _ := fieldOf(out, "pids"); strings.TrimSpace(strings.TrimPrefix(v, "ok")) == "" {
		t.Fatalf("the attacker saw no other process in its PID namespace: the attack was not set up:\n%s", out)
	}
	if len(okSteps(out, "control-environ")) == 0 {
		t.Errorf("control: the attacker cannot read the environ of B's process after exec either (same credentials): "+
			"this machine blocks the attack by other means, it proves nothing about %s:\n%s", runtimeName, out)
	}
	return out
}

// allCapsBut returns every capability of the suite's bounding set but
// except.
func allCapsBut(except string) []string {
	names := []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
		"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
		"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
		"CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
		"CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
		"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
		"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"}
	bnd, _ := strconv.ParseUint(strings.TrimPrefix(statusOf(os.Getpid(), "CapBnd"), "CapBnd "), 16, 64)
	var caps []string
	for i, n := range names {
		if n != except && bnd&(1<<i) != 0 {
			caps = append(caps, n)
		}
	}
	return caps
}

// statusOf returns these fields of /proc/PID/status.
func statusOf(pid int, names ...string) string {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		k, v, _ := strings.Cut(l, ":")
		for _, n := range names {
			if k == n {
				out = append(out, k+" "+strings.Join(strings.Fields(v), " "))
			}
		}
	}
	return strings.Join(out, ", ")
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func readlink(p string) string {
	s, err := os.Readlink(p)
	if err != nil {
		return err.Error()
	}
	return s
}

// Test01ExeOverwrite (CVE-2019-5736): the executable of the runtime's
// process that enters a container must not be writable through
// /proc/<pid>/exe: not from the host side of a container process, and not
// from a container sharing the PID namespace of the created container,
// neither while the init runs nor once it has exited (through an O_PATH fd
// kept across its exit, as the original exploit did).
func Test01ExeOverwrite(t *testing.T) {
	h := newHarness(t)
	var held = -1
	hostWrite := func(path string) error {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		// 0x7f is what every ELF file has at offset 0.
		_, err = f.WriteAt([]byte{0x7f}, 0)
		return err
	}
	out := pidnsAttack(h, nil, func(bpid int) {
		exe := fmt.Sprintf("/proc/%d/exe", bpid)
		if err := hostWrite(exe); err == nil {
			t.Errorf("ATTACK WORKED: wrote through %s (-> %s) while the container was created", exe, readlink(exe))
		} else {
			t.Logf("write through %s: %v", exe, err)
		}
		if fd, err := unix.Open(exe, unix.O_PATH|unix.O_CLOEXEC, 0); err == nil {
			held = fd
		}
	}, func() {
		if held < 0 {
			return
		}
		defer unix.Close(held)
		if err := hostWrite(fmt.Sprintf("/proc/self/fd/%d", held)); err == nil {
			t.Errorf("ATTACK WORKED: wrote to the runtime's executable through an O_PATH fd kept until the init exec'd")
		} else {
			t.Logf("write through the kept fd after the init exec'd: %v", err)
		}
	})
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "exe-") {
			t.Logf("attacker: %s", l)
		}
	}
	for _, hit := range okSteps(out, "exe-write", "exe-reopen-write") {
		t.Errorf("ATTACK WORKED: a container process wrote to the executable of the runtime's process: %s", hit)
	}
}

// Test02CwdFdLeak (CVE-2024-21626): process.cwd = /proc/self/fd/N must not
// put the process in a host directory through an fd the runtime leaked;
// and the process must have only its stdio (and the --preserve-fds ones).
func Test02CwdFdLeak(t *testing.T) {
	track(t)
	t.Run("cwd", func(t *testing.T) {
		h := newHarness(t)
		host := h.hostDir()
		if err := os.WriteFile(filepath.Join(host, "secret"), []byte("host-secret"), 0o644); err != nil {
			t.Fatal(err)
		}
		h.watch(host)
		up := strings.Repeat("../", 32) + strings.TrimPrefix(host, "/")
		bundle := h.bundle(nil)
		refused, accepted := 0, 0
		for n := 3; n <= 64; n++ {
			s := readSpec(t, bundle)
			s.Process.Cwd = fmt.Sprintf("/proc/self/fd/%d", n)
			s.Process.Args = attackerArgs([]string{"cwd"}, []string{"read", up + "/secret"},
				[]string{"write", fmt.Sprintf("%s/pwned-%d", up, n), "x"}, []string{"fds"})
			writeSpec(t, bundle, s)
			r := h.runC(bundle, opts{})
			if r.code != 0 {
				refused++
				if strings.TrimSpace(r.stderr) == "" {
					t.Errorf("cwd %s: refused without an error message: %s", s.Process.Cwd, r)
				}
				continue
			}
			accepted++
			t.Logf("cwd %s accepted: %s", s.Process.Cwd, strings.ReplaceAll(strings.TrimSpace(r.stdout), "\n", "; "))
			if cwd, _ := fieldOf(r.stdout, "cwd"); !strings.HasPrefix(cwd, "ok /") {
				t.Errorf("ATTACK WORKED: cwd %s: the process runs outside the container (getcwd: %s)\n%s", s.Process.Cwd, cwd, r.stdout)
			}
			for _, hit := range okSteps(r.stdout, "read", "write") {
				t.Errorf("ATTACK WORKED: cwd %s: reached the host through the cwd: %s", s.Process.Cwd, hit)
			}
		}
		t.Logf("cwd /proc/self/fd/3..64: %d refused, %d accepted", refused, accepted)
	})
	t.Run("fds", func(t *testing.T) {
		h := newHarness(t)
		r := h.runC(h.bundle(nil), opts{})
		if got, _ := fieldOf(r.stdout, "fds"); r.code != 0 || got != "ok 0,1,2" {
			t.Errorf("fds inside: %q, want 0,1,2: %s", got, r)
		}
	})
	t.Run("preserve-fds", func(t *testing.T) {
		h := newHarness(t)
		var files []*os.File
		for i := 0; i < 2; i++ {
			f, err := os.CreateTemp(t.TempDir(), "preserved")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			files = append(files, f)
		}
		r := h.runC(h.bundle(nil), opts{extraFiles: files}, "--preserve-fds", "2")
		if got, _ := fieldOf(r.stdout, "fds"); r.code != 0 || got != "ok 0,1,2,3,4" {
			t.Errorf("fds inside with --preserve-fds 2: %q, want 0,1,2,3,4: %s", got, r)
		}
	})
}

// mountOf finds the mount with this source in attacker mountinfo output,
// and returns its mount point (as the container sees it).
func mountOf(out, source string) (string, bool) {
	for _, l := range strings.Split(out, "\n") {
		l, ok := strings.CutPrefix(l, "mnt: ")
		if !ok {
			continue
		}
		pre, post, _ := strings.Cut(l, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) >= 5 && len(g) >= 2 && g[1] == source {
			return f[4], true
		}
	}
	return "", false
}

// symlinkIn replaces rootfs/path with a symlink to target.
func symlinkIn(t *testing.T, bundle, path, target string) {
	t.Helper()
	p := filepath.Join(bundle, "rootfs", path)
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.RemoveAll(p)
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// relTo is target as a relative symlink that climbs out of any rootfs.
func relTo(target string) string {
	return strings.Repeat("../", 24) + strings.TrimPrefix(target, "/")
}

// linkKinds are the symlinks to a host directory the tests plant:
// absolute, relative (climbing out with ".."), and absolute with the same
// path existing in the rootfs too, so that a symlink resolved inside the
// rootfs leads somewhere and the mount can be accepted.
var linkKinds = []string{"absolute", "relative", "mirrored"}

// linkTarget returns the symlink target of this kind to host, making the
// mirror directory in the bundle's rootfs for "mirrored".
func linkTarget(t *testing.T, bundle, host, kind string) string {
	t.Helper()
	switch kind {
	case "relative":
		return relTo(host)
	case "mirrored":
		if err := os.MkdirAll(filepath.Join(bundle, "rootfs", host), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return host
}

const corePattern = "/proc/sys/kernel/core_pattern"

// coreProbe makes the attacker check that core_pattern is procfs and try
// to write to it the value it has (cp, read on the host): success proves
// the host's core_pattern could be set, without changing it.
func coreProbe(cp string) []string {
	return []string{"statfs", corePattern, "--", "writex", corePattern, cp + "\n"}
}

// corePatternWritable reports whether the attacker wrote to a procfs
// core_pattern (not to something mounted over it inside the container).
func corePatternWritable(out string) bool {
	w, _ := fieldOf(out, "write "+corePattern)
	fs, _ := fieldOf(out, "statfs "+corePattern)
	return w == "ok" && fs == "ok proc"
}

// Test03ProcAndMountSymlinks (CVE-2019-19921, CVE-2023-27561,
// CVE-2023-28642): a rootfs whose /proc is a symlink to a host directory,
// and mounts whose destination is a symlink out of the rootfs: nothing is
// mounted or created on the host; the mount lands inside or is refused,
// and /proc/sys stays read-only inside.
func Test03ProcAndMountSymlinks(t *testing.T) {
	track(t)
	cp := readTrim("/proc/sys/kernel/core_pattern")
	for _, kind := range linkKinds {
		t.Run("proc-symlink-"+kind, func(t *testing.T) {
			h := newHarness(t)
			host := h.hostDir()
			b := h.bundle(func(s *specs.Spec) {
				s.Process.Args = attackerArgs([]string{"stat", "/proc"}, []string{"mountinfo"},
					coreProbe(cp), []string{"stat", "/proc/keys"})
			})
			symlinkIn(t, b, "proc", linkTarget(t, b, host, kind))
			r := h.runC(b, opts{})
			t.Logf("%s", r)
			if r.code != 0 {
				return
			}
			if corePatternWritable(r.stdout) {
				t.Errorf("ATTACK WORKED: /proc/sys is writable inside (the host's core_pattern could be set)")
			}
			if v, _ := fieldOf(r.stdout, "stat /proc/keys"); v != "ok type=char rdev=1:3" && exists("/proc/keys") {
				t.Errorf("/proc/keys is not masked with /dev/null: %s", v)
			}
			if _, ok := mountOf(r.stdout, "proc"); !ok {
				t.Errorf("proc accepted but not mounted inside the container:\n%s", r.stdout)
			}
		})
		t.Run("mount-dest-symlink-"+kind, func(t *testing.T) {
			h := newHarness(t)
			host := h.hostDir()
			src := filepath.Join(h.newDir(), "bind-src")
			os.WriteFile(src, []byte("bind source"), 0o644)
			b := h.bundle(func(s *specs.Spec) {
				s.Mounts = append(s.Mounts,
					specs.Mount{Destination: "/mnt/esc/m", Type: "tmpfs", Source: "esc-tmpfs"},
					specs.Mount{Destination: "/mnt/escf/f", Type: "bind", Source: src, Options: []string{"bind"}})
				s.Process.Args = attackerArgs([]string{"mountinfo"}, []string{"ls", "/mnt/esc"})
			})
			target := linkTarget(t, b, host, kind)
			symlinkIn(t, b, "mnt/esc", target)
			symlinkIn(t, b, "mnt/escf", target)
			r := h.runC(b, opts{})
			t.Logf("%s", r)
			if r.code != 0 {
				return
			}
			if mp, ok := mountOf(r.stdout, "esc-tmpfs"); !ok {
				t.Errorf("ATTACK WORKED: the mount at /mnt/esc/m is not in the container: it landed outside the rootfs\n%s", r.stdout)
			} else {
				t.Logf("the tmpfs landed at %s inside the container", mp)
			}
		})
	}
}

// Test04MountRace (CVE-2021-30465): a racing process swaps the parent of
// the mount destinations between a directory and a symlink to a host
// directory while create runs, many times. No mount may land outside the
// rootfs, and nothing may be created or mounted on the host.
func Test04MountRace(t *testing.T) {
	h := newHarness(t)
	host := h.hostDir()
	b := h.bundle(func(s *specs.Spec) {
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/a/b", Type: "tmpfs", Source: "race-1"},
			specs.Mount{Destination: "/a/c/d", Type: "tmpfs", Source: "race-2"},
			specs.Mount{Destination: "/a", Type: "tmpfs", Source: "race-3"})
		s.Process.Args = attackerArgs([]string{"sleep", "60"})
	})
	rootfs := filepath.Join(b, "rootfs")
	dir, link := filepath.Join(rootfs, "a"), filepath.Join(rootfs, "a.swap")
	os.Mkdir(dir, 0o755)
	race := func(stop <-chan struct{}) (swaps int) {
		for i := 0; ; i++ {
			target := host
			if i%2 == 1 {
				target = relTo(host)
			}
			os.Remove(link)
			os.Symlink(target, link)
			for j := 0; j < 2000; j++ {
				select {
				case <-stop:
					return
				default:
				}
				if unix.Renameat2(unix.AT_FDCWD, dir, unix.AT_FDCWD, link, unix.RENAME_EXCHANGE) == nil {
					swaps++
				}
			}
			// Put the directory back at "a" before the next target.
			if fi, err := os.Lstat(dir); err == nil && fi.Mode()&os.ModeSymlink != 0 {
				unix.Renameat2(unix.AT_FDCWD, dir, unix.AT_FDCWD, link, unix.RENAME_EXCHANGE)
			}
		}
	}
	inside := func(n, pid int) {
		mi, _ := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
		for _, src := range []string{"race-1", "race-2", "race-3"} {
			if mp, ok := mountOf(prefixLines(string(mi), "mnt: "), src); !ok {
				t.Errorf("ATTACK WORKED (create %d): the %s mount is not in the container: it landed outside the rootfs", n, src)
			} else if n == 0 {
				t.Logf("%s at %s", src, mp)
			}
		}
	}
	hostIntact := func(n int) bool {
		if d := diffTrees(h.snap.watched[host], treeOf(host)); len(d) > 0 {
			t.Errorf("ATTACK WORKED (create %d): the host directory changed: %v", n, d)
			return false
		}
		if d := diffCounts(h.snap.mounts, hostMounts()); len(d) > 0 {
			t.Errorf("ATTACK WORKED (create %d): host mount table changed: %v", n, d)
			return false
		}
		return true
	}
	createUnderRace(t, h, b, race, inside, hostIntact)
}

// Test15RemountRace (CVE-2021-30465 class): a racing process exchanges
// the parent of read-only bind destinations with another directory, which
// has mount points at the same names, while create runs, many times. A
// bind's flags must be set on the bind itself: a runtime that binds onto
// the resolved destination and then looks the path up again to remount it
// read-only can remount the other mount, and leave the host directory
// bound writable.
func Test15RemountRace(t *testing.T) {
	h := newHarness(t)
	src := filepath.Join(h.newDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("rorace-src", src, "tmpfs", 0, "size=64k"); err != nil {
		t.Fatalf("mount the bind source: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(src, unix.MNT_DETACH) })
	b := h.bundle(func(s *specs.Spec) {
		// Mount points at the other directory's paths too: a remount that
		// is redirected there finds a mount, and succeeds on the wrong one.
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/data2/ro", Type: "tmpfs", Source: "decoy"},
			specs.Mount{Destination: "/data2/rro", Type: "tmpfs", Source: "decoy"},
			specs.Mount{Destination: "/data/ro", Type: "bind", Source: src, Options: []string{"bind", "ro"}},
			specs.Mount{Destination: "/data/rro", Type: "bind", Source: src, Options: []string{"rbind", "ro", "nosuid"}})
		s.Process.Args = attackerArgs([]string{"sleep", "60"})
	})
	rootfs := filepath.Join(b, "rootfs")
	dir, other := filepath.Join(rootfs, "data"), filepath.Join(rootfs, "data2")
	for _, d := range []string{"data/ro", "data/rro", "data2/ro", "data2/rro"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	race := func(stop <-chan struct{}) (swaps int) {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if unix.Renameat2(unix.AT_FDCWD, dir, unix.AT_FDCWD, other, unix.RENAME_EXCHANGE) == nil {
				swaps++
			}
		}
	}
	inside := func(n, pid int) {
		mi, _ := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
		for _, l := range strings.Split(string(mi), "\n") {
			pre, post, _ := strings.Cut(l, " - ")
			f, g := strings.Fields(pre), strings.Fields(post)
			if len(f) < 6 || len(g) < 2 || g[1] != "rorace-src" {
				continue
			}
			if opts := strings.Split(f[5], ","); opts[0] != "ro" {
				t.Errorf("ATTACK WORKED (create %d): the host directory is bound writable at %s: %s", n, f[4], l)
			}
		}
	}
	if createUnderRace(t, h, b, race, inside, nil) == 0 {
		t.Errorf("no create succeeded under the race: nothing was checked")
	}
}

// createUnderRace creates from bundle b up to 100 times (for 45 s at
// most) while race runs, and returns how many creates succeeded. inside
// checks each container created, by its init's pid, before it is deleted;
// after, if set, runs after each create and ends the loop by returning
// false. A race that never swapped anything fails the test: the attack
// was not set up.
func createUnderRace(t *testing.T, h *harness, b string, race func(stop <-chan struct{}) int, inside func(n, pid int), after func(n int) bool) int {
	t.Helper()
	stopRace := startRace(race)
	defer stopRace()
	const iterations = 100
	deadline := time.Now().Add(45 * time.Second)
	created, refused, n := 0, 0, 0
	for n = 0; n < iterations && time.Now().Before(deadline); n++ {
		id, r := h.create(b)
		if r.code != 0 {
			refused++
		} else {
			created++
			inside(n, h.state(id).Pid)
			h.deleteForce(id, b)
		}
		if after != nil && !after(n) {
			break
		}
	}
	swaps := stopRace()
	t.Logf("%d creates under the race (%d swaps): %d created, %d refused", n, swaps, created, refused)
	if swaps == 0 {
		t.Errorf("the race never swapped: the attack was not set up")
	}
	return created
}

// startRace runs race in a goroutine until stopped. The returned function
// stops it (once; later calls return 0) and returns the swaps it counted.
func startRace(race func(stop <-chan struct{}) int) func() int {
	stop := make(chan struct{})
	done := make(chan int)
	go func() { done <- race(stop) }()
	return func() int {
		select {
		case <-stop:
			return 0
		default:
		}
		close(stop)
		return <-done
	}
}

func prefixLines(s, prefix string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		b.WriteString(prefix + l + "\n")
	}
	return b.String()
}

// Test05MkdirAllSymlink (CVE-2024-45310): the directories of a mount
// destination are made inside the rootfs even when a component is a
// symlink to a host directory (existing or not): nothing is created on
// the host.
func Test05MkdirAllSymlink(t *testing.T) {
	track(t)
	for _, kind := range append(linkKinds, "missing-host-dir", "missing-host-dir-mirrored") {
		t.Run(kind, func(t *testing.T) {
			h := newHarness(t)
			host := h.hostDir()
			if strings.HasPrefix(kind, "missing-host-dir") {
				host = filepath.Join(host, "missing")
				h.watch(host)
			}
			src := filepath.Join(h.newDir(), "bind-src")
			os.WriteFile(src, []byte("bind source"), 0o644)
			b := h.bundle(func(s *specs.Spec) {
				s.Mounts = append(s.Mounts,
					specs.Mount{Destination: "/x/y/z", Type: "tmpfs", Source: "mkdir-tmpfs"},
					specs.Mount{Destination: "/x/y/f/g", Type: "bind", Source: src, Options: []string{"bind"}})
				s.Process.Args = attackerArgs([]string{"mountinfo"}, []string{"stat", "/x/y/z"})
			})
			symlinkIn(t, b, "x", linkTarget(t, b, host, strings.TrimPrefix(kind, "missing-host-dir-")))
			r := h.runC(b, opts{})
			t.Logf("%s", r)
			if r.code == 0 {
				if _, ok := mountOf(r.stdout, "mkdir-tmpfs"); !ok {
					t.Errorf("ATTACK WORKED: the mount at /x/y/z is not in the container: it landed outside the rootfs")
				}
			}
		})
	}
}

// Test06MaskedDevNull (CVE-2025-31133): the image's /dev/null is a symlink
// to /proc/sys/kernel/core_pattern (the image's own /dev, or a /dev volume
// from the host). Masked paths must be covered with the real /dev/null:
// writing a masked path must never reach core_pattern, and core_pattern
// stays read-only inside. The write proves the attack with the value
// core_pattern already has.
func Test06MaskedDevNull(t *testing.T) {
	track(t)
	cp := readTrim("/proc/sys/kernel/core_pattern")
	masked := []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/proc/latency_stats"}
	var args [][]string
	for _, p := range masked {
		args = append(args, []string{"stat", p}, []string{"writex", p, cp + "\n"}, []string{"read", p})
	}
	args = append(args, coreProbe(cp), []string{"stat", "/dev/null"})
	for _, volume := range []bool{false, true} {
		name := map[bool]string{false: "image-dev", true: "dev-volume"}[volume]
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			var devDir string
			b := h.bundle(func(s *specs.Spec) {
				s.Process.Args = attackerArgs(args...)
				var mounts []specs.Mount
				for _, m := range s.Mounts {
					if !strings.HasPrefix(m.Destination, "/dev") {
						mounts = append(mounts, m)
					}
				}
				if volume {
					devDir = filepath.Join(h.newDir(), "dev")
					os.Mkdir(devDir, 0o755)
					mounts = append(mounts, specs.Mount{Destination: "/dev", Type: "bind", Source: devDir, Options: []string{"rbind"}})
				}
				s.Mounts = mounts
			})
			if volume {
				os.Symlink("/proc/sys/kernel/core_pattern", filepath.Join(devDir, "null"))
			} else {
				symlinkIn(t, b, "dev/null", "/proc/sys/kernel/core_pattern")
			}
			r := h.runC(b, opts{})
			t.Logf("%s", r)
			if r.code != 0 {
				return
			}
			for _, p := range masked {
				st, _ := fieldOf(r.stdout, "stat "+p)
				if strings.HasPrefix(st, "errno=ENOENT") {
					continue
				}
				if st != "ok type=char rdev=1:3" {
					t.Errorf("%s is not masked with /dev/null: %s", p, st)
				}
				w, _ := fieldOf(r.stdout, "write "+p)
				rd, _ := fieldOf(r.stdout, "read "+p)
				if w == "ok" && rd != `ok ""` {
					t.Errorf("ATTACK WORKED: writing the masked %s wrote the host's core_pattern (read back: %s)", p, rd)
				}
			}
			if corePatternWritable(r.stdout) {
				t.Errorf("ATTACK WORKED: /proc/sys/kernel/core_pattern is writable inside")
			}
		})
	}
}

// Test07ConsolePtsSymlink (CVE-2025-52565): with process.terminal, an
// image whose /dev/pts/0 and /dev/console are symlinks to core_pattern:
// the console must not become core_pattern, and nothing on the host may
// change. tabox has no terminal support yet: it must refuse cleanly.
func Test07ConsolePtsSymlink(t *testing.T) {
	track(t)
	cp := readTrim("/proc/sys/kernel/core_pattern")
	for _, devpts := range []bool{false, true} {
		name := map[bool]string{false: "image-pts", true: "devpts-mounted"}[devpts]
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			host := h.hostDir()
			b := h.bundle(func(s *specs.Spec) {
				s.Process.Terminal = true
				s.Process.Args = attackerArgs([]string{"stat", "/dev/console"}, []string{"statfs", "/dev/console"},
					[]string{"statfs", "/dev/pts/0"}, coreProbe(cp))
				var mounts []specs.Mount
				for _, m := range s.Mounts {
					if m.Destination != "/dev" && (devpts || m.Destination != "/dev/pts") {
						mounts = append(mounts, m)
					}
				}
				s.Mounts = mounts
			})
			symlinkIn(t, b, "dev/pts/0", "/proc/sys/kernel/core_pattern")
			symlinkIn(t, b, "dev/console", "/proc/sys/kernel/core_pattern")
			symlinkIn(t, b, "dev/tty0", host+"/tty0")
			sock, console := consoleSocket(t)
			id, r := h.create(b, "--console-socket", sock)
			if r.code != 0 {
				console(100 * time.Millisecond)
				t.Logf("%s", r)
				if strings.Contains(r.stderr, "not supported") {
					t.Logf("%s refuses process.terminal: %s", runtimeName, strings.TrimSpace(r.stderr))
				}
				if strings.TrimSpace(r.stderr) == "" {
					t.Errorf("refused without an error message")
				}
				return
			}
			if st := h.rt(opts{}, "start", id); st.code != 0 {
				t.Errorf("start: %s", st)
			}
			out := console(10*time.Second) + h.hijackedOutput(b)
			t.Logf("created and started; console: %q", out)
			h.deleteForce(id, b)
			for _, p := range []string{"/dev/console", "/dev/pts/0"} {
				if fs, _ := fieldOf(out, "statfs "+p); fs == "ok proc" {
					t.Errorf("ATTACK WORKED: %s is a procfs file of the host (core_pattern)", p)
				}
			}
			if corePatternWritable(out) {
				t.Errorf("ATTACK WORKED: core_pattern writable inside")
			}
		})
	}
}

// consoleSocket listens on an AF_UNIX socket for the pty master a runtime
// sends (runc's --console-socket protocol) and returns its path and a
// function that waits up to d for what the container wrote to its
// terminal, then stops listening.
func consoleSocket(t *testing.T) (string, func(d time.Duration) string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "console.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan string, 1)
	go func() {
		c, err := ln.AcceptUnix()
		if err != nil {
			out <- ""
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		buf, oob := make([]byte, 4096), make([]byte, 4096)
		_, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
		if err != nil {
			out <- ""
			return
		}
		var text strings.Builder
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		for _, m := range msgs {
			fds, _ := unix.ParseUnixRights(&m)
			for _, f := range fds {
				file := os.NewFile(uintptr(f), "pty")
				b := make([]byte, 4096)
				for {
					n, err := file.Read(b)
					text.Write(b[:n])
					if err != nil {
						break
					}
				}
				file.Close()
			}
		}
		out <- strings.ReplaceAll(text.String(), "\r\n", "\n")
	}()
	return path, func(d time.Duration) string {
		defer ln.Close()
		select {
		case s := <-out:
			return s
		case <-time.After(d):
			return ""
		}
	}
}
