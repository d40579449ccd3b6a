package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// tabox on cgroup v2, for real, on a cgroup v1 ("hybrid") host: in a
// private mount namespace whose /sys/fs/cgroup is the host's one cgroup2
// hierarchy (the one mounted at /sys/fs/cgroup/unified), every tabox
// command of a container runs through nsenter into that namespace, so that
// tabox sees a unified host. The host sees the same cgroups under
// /sys/fs/cgroup/unified.

// v2env is the private mount namespace.
type v2env struct {
	helper *exec.Cmd
	mntns  string // /proc/<helper>/ns/mnt
}

// setupV2 makes the namespace (removed when t ends) or skips t.
func setupV2(t *testing.T) *v2env {
	t.Helper()
	if hierOf(t, "") == nil || hierOf(t, "pids") == nil {
		t.Skip("the host is not a cgroup v1 host with a cgroup2 hierarchy")
	}
	for _, tool := range []string{"unshare", "nsenter", "mount", "umount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is missing: %v", tool, err)
		}
	}
	helper := exec.Command("unshare", "--mount", "--propagation", "private", "sleep", "infinity")
	helper.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := helper.Start(); err != nil {
		t.Fatalf("start the namespace helper: %v", err)
	}
	v := &v2env{helper: helper, mntns: fmt.Sprintf("/proc/%d/ns/mnt", helper.Process.Pid)}
	t.Cleanup(func() {
		helper.Process.Kill()
		helper.Wait()
	})
	self, _ := os.Readlink("/proc/self/ns/mnt")
	poll(t, "the helper's mount namespace", func() bool {
		ns, _ := os.Readlink(v.mntns)
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", helper.Process.Pid))
		return ns != "" && ns != self && strings.TrimSpace(string(comm)) == "sleep"
	})
	out, err := exec.Command("nsenter", "--mount="+v.mntns, "--", "sh", "-c",
		"umount -R /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup && stat -f -c %T /sys/fs/cgroup").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "cgroup2fs" {
		t.Fatalf("mount cgroup2 at /sys/fs/cgroup in the helper's namespace: %v\n%s", err, out)
	}
	return v
}

// start runs the runtime in the namespace, as startTabox does on the host.
func (v *v2env) start(t *testing.T, args ...string) *proc {
	t.Helper()
	e := getEnv(t)
	_, id, bundle := commandOf(args)
	env := os.Environ()
	if id != "" {
		c := e.container(id)
		if bundle != "" && c.bundle == "" {
			e.mu.Lock()
			c.bundle = bundle
			e.mu.Unlock()
		}
		env = append(env, runMarkerEnv+"="+e.root+"/"+id)
	}
	full := append([]string{"--mount=" + v.mntns, "--", runtimeBin, "--root", e.root}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	cmd := exec.CommandContext(ctx, "nsenter", full...)
	cmd.Env = env
	cmd.WaitDelay = time.Second
	outF, err := os.CreateTemp(e.io, "stdout-")
	if err != nil {
		t.Fatal(err)
	}
	errF, err := os.CreateTemp(e.io, "stderr-")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = outF, errF
	p := &proc{t: t, cmd: cmd, cancel: cancel, outPath: outF.Name(), errPath: errF.Name(), done: make(chan struct{}), args: args}
	err = cmd.Start()
	outF.Close()
	errF.Close()
	if err != nil {
		cancel()
		t.Fatalf("start nsenter: %v", err)
	}
	go func() {
		err := cmd.Wait()
		p.code = exitCode(err)
		if ctx.Err() == context.DeadlineExceeded {
			p.code = -2
		}
		cancel()
		close(p.done)
	}()
	return p
}

func (v *v2env) tabox(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return v.start(t, args...).wait()
}

func (v *v2env) must(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, code := v.tabox(t, args...)
	if code != 0 {
		t.Fatalf("%s %s (cgroup v2): exit %d\nstdout: %s\nstderr: %s", runtimeName, strings.Join(args, " "), code, stdout, stderr)
	}
	return stdout
}

// deleteAtEnd force-deletes id in the namespace when t ends (before the
// harness's cleanup, which runs on the host).
func (v *v2env) deleteAtEnd(t *testing.T, id string) {
	t.Helper()
	t.Cleanup(func() {
		cmd := exec.Command("nsenter", "--mount="+v.mntns, "--", runtimeBin, "--root", rootDir(t), "delete", "--force", id)
		cmd.Run()
	})
}

// create creates a container from bundle in the namespace.
func (v *v2env) create(t *testing.T, bundle string) (string, *proc) {
	t.Helper()
	id := newID(t)
	v.deleteAtEnd(t, id)
	removeCgroupsAtEnd(t, id)
	p := v.start(t, "create", "--bundle", bundle, id)
	if stdout, stderr, code := p.wait(); code != 0 {
		t.Fatalf("create %s (cgroup v2): exit %d\nstdout: %s\nstderr: %s", id, code, stdout, stderr)
	}
	return id, p
}

func (v *v2env) state(t *testing.T, id string) containerState {
	t.Helper()
	var st containerState
	out := v.must(t, "state", id)
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("state %s: %v\n%s", id, err, out)
	}
	getEnv(t).notePid(id, st.Pid)
	return st
}

func (v *v2env) waitForStatus(t *testing.T, id, status string) {
	t.Helper()
	poll(t, "status "+status+" of "+id, func() bool { return v.state(t, id).Status == status })
}

// runArgs is runArgs in the namespace.
func (v *v2env) runArgs(t *testing.T, mutate func(*specs.Spec), args ...string) string {
	t.Helper()
	bundle := newBundle(t, func(s *specs.Spec) {
		s.Process.Args = args
		if mutate != nil {
			mutate(s)
		}
	})
	id := newID(t)
	v.deleteAtEnd(t, id)
	removeCgroupsAtEnd(t, id)
	stdout, stderr, code := v.tabox(t, "run", "--bundle", bundle, id)
	if code != 0 && code != statusReported {
		t.Fatalf("run %q (cgroup v2): exit %d\nstdout: %s\nstderr: %s", args, code, stdout, stderr)
	}
	assertNoLeftovers(t, rootDir(t), id)
	assertCgroupsGone(t, id)
	return stdout
}

// unifiedDir is the host directory of cgroup path p of the container in
// the namespace, where tabox's own cgroup is the test's.
func unifiedDir(t *testing.T, p string) string {
	t.Helper()
	return ctrlDir(t, "", p)
}

// TestCgroupV2 runs tabox on the host's cgroup2 hierarchy.
func TestCgroupV2(t *testing.T) {
	t.Parallel()
	v := setupV2(t)
	getEnv(t)
	root := hierOf(t, "").mount
	subtree := filepath.Join(root, "cgroup.subtree_control")
	before := readTrim(t, subtree)
	// tabox (through the cgroup library) enables every available
	// controller in the parents of its cgroups: put the root back.
	t.Cleanup(func() {
		now, _ := os.ReadFile(subtree)
		for _, c := range strings.Fields(string(now)) {
			if !slices.Contains(strings.Fields(before), c) {
				if err := os.WriteFile(subtree, []byte("-"+c), 0); err != nil {
					t.Errorf("restore %s: -%s: %v", subtree, c, err)
				}
			}
		}
	})

	t.Run("lifecycle", func(t *testing.T) {
		t.Parallel()
		for _, path := range []string{"", "/" + cgroupTag(t) + "/sub/ctr"} {
			bundle := newBundle(t, func(s *specs.Spec) {
				s.Process.Args = []string{"testinit", "sleep", "120"}
				s.Linux.CgroupsPath = path
			})
			if path != "" {
				removeCgroupsAtEnd(t, path, filepath.Dir(path), filepath.Dir(filepath.Dir(path)))
			}
			id, _ := v.create(t, bundle)
			if path == "" {
				path = id
			}
			st := v.state(t, id)
			if st.Status != "created" {
				t.Errorf("status %q, want created", st.Status)
			}
			dir := unifiedDir(t, path)
			if pids, err := readPids(filepath.Join(dir, "cgroup.procs")); err != nil || !slices.Equal(pids, []int{st.Pid}) {
				t.Errorf("%s/cgroup.procs at created: %v (%v), want the init [%d]", dir, pids, err, st.Pid)
			}
			if _, err := os.Stat(ctrlDir(t, "pids", path)); err == nil {
				t.Errorf("tabox on cgroup v2 made a cgroup v1 directory %s", ctrlDir(t, "pids", path))
			}
			v.must(t, "delete", "--force", id)
			assertNoLeftovers(t, rootDir(t), id)
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("cgroup left behind: %s", dir)
			}
			if p := filepath.Dir(filepath.Dir(path)); p != "." && p != "/" {
				if _, err := os.Stat(unifiedDir(t, p)); err == nil {
					t.Errorf("parent cgroup made by create left behind: %s", unifiedDir(t, p))
				}
			}
		}
	})

	t.Run("namespace", func(t *testing.T) {
		t.Parallel()
		out := v.runArgs(t, withCgroupNS, testinitArgs(
			[]string{"echo", "==cgroup"}, []string{"cat", "/proc/self/cgroup"},
			[]string{"echo", "==procs"}, []string{"cat", "/sys/fs/cgroup/cgroup.procs"},
			[]string{"echo", "==ls"}, []string{"ls", "/sys/fs/cgroup"},
			[]string{"echo", "==write"}, []string{"write", "/sys/fs/cgroup/cgroup.procs", "1"},
			[]string{"echo", "==mountinfo"}, []string{"mountinfo"})...)
		sec := sections(out)
		if !slices.Contains(lines(sec["cgroup"]), "0::/") {
			t.Errorf("/proc/self/cgroup inside has no 0::/ line:\n%s", sec["cgroup"])
		}
		if sec["procs"] != "1" {
			t.Errorf("/sys/fs/cgroup/cgroup.procs inside: %q, want the container's init only, 1", sec["procs"])
		}
		for _, f := range []string{"cgroup.freeze", "cgroup.kill", "cgroup.events"} {
			if !slices.Contains(lines(sec["ls"]), f) {
				t.Errorf("/sys/fs/cgroup inside has no %s:\n%s", f, sec["ls"])
			}
		}
		if sec["write"] != "errno=EROFS" {
			t.Errorf("writing /sys/fs/cgroup/cgroup.procs inside: %q, want errno=EROFS", sec["write"])
		}
		found := false
		for _, l := range lines(sec["mountinfo"]) {
			if f := strings.Fields(l); len(f) > 6 && f[4] == "/sys/fs/cgroup" {
				found = true
				if !strings.Contains(l, " - cgroup2 ") || f[3] != "/" || !slices.Contains(strings.Split(f[5], ","), "ro") {
					t.Errorf("/sys/fs/cgroup inside: %s, want a read-only cgroup2 mount of root /", l)
				}
			}
		}
		if !found {
			t.Errorf("no mount at /sys/fs/cgroup inside:\n%s", sec["mountinfo"])
		}
	})

	t.Run("no-namespace", func(t *testing.T) {
		t.Parallel()
		path := "/" + cgroupTag(t)
		removeCgroupsAtEnd(t, path)
		out := v.runArgs(t, func(s *specs.Spec) {
			withCgroupMount(s)
			s.Linux.CgroupsPath = path
		}, testinitArgs(
			[]string{"echo", "==cgroup"}, []string{"cat", "/proc/self/cgroup"},
			[]string{"echo", "==procs"}, []string{"cat", "/sys/fs/cgroup/cgroup.procs"})...)
		sec := sections(out)
		if !slices.Contains(lines(sec["cgroup"]), "0::"+path) {
			t.Errorf("/proc/self/cgroup inside has no 0::%s line:\n%s", path, sec["cgroup"])
		}
		if sec["procs"] != "1" {
			t.Errorf("/sys/fs/cgroup/cgroup.procs inside: %q, want the container's own cgroup, with its init only, 1", sec["procs"])
		}
		assertCgroupsGone(t, path)
	})

	t.Run("pause", func(t *testing.T) {
		t.Parallel()
		id, p := v.create(t, newBundle(t, withArgs("testinit", "ticks")))
		v.must(t, "start", id)
		poll(t, "ticks", func() bool { return ticks(p) > 5 })
		dir := unifiedDir(t, id)
		v.must(t, "pause", id)
		if st := v.state(t, id); st.Status != "paused" {
			t.Errorf("after pause: status %q, want paused", st.Status)
		}
		if got := readTrim(t, filepath.Join(dir, "cgroup.freeze")); got != "1" {
			t.Errorf("cgroup.freeze after pause: %q, want 1", got)
		}
		if ev := readTrim(t, filepath.Join(dir, "cgroup.events")); !slices.Contains(lines(ev), "frozen 1") {
			t.Errorf("cgroup.events after pause: %q, want frozen 1", ev)
		}
		n := ticks(p)
		time.Sleep(300 * time.Millisecond)
		if m := ticks(p); m != n {
			t.Errorf("the counter advanced from %d to %d while paused", n, m)
		}
		v.must(t, "resume", id)
		if st := v.state(t, id); st.Status != "running" {
			t.Errorf("after resume: status %q, want running", st.Status)
		}
		if got := readTrim(t, filepath.Join(dir, "cgroup.freeze")); got != "0" {
			t.Errorf("cgroup.freeze after resume: %q, want 0", got)
		}
		poll(t, "ticks after resume", func() bool { return ticks(p) > n+5 })
		// A paused container can be killed and deleted.
		v.must(t, "pause", id)
		v.must(t, "kill", id, "KILL")
		v.waitForStatus(t, id, "stopped")
		v.must(t, "delete", "--force", id)
		assertNoLeftovers(t, rootDir(t), id)
		assertCgroupsGone(t, id)
	})

	// A container without a PID namespace, with children and an orphaned
	// grandchild: kill --all or delete --force must kill every process of
	// the cgroup.
	for _, how := range []string{"kill-all", "delete-force"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			bundle := newBundle(t, func(s *specs.Spec) {
				removeNamespace(s, specs.PIDNamespace)
				s.Process.Args = []string{"sh", "-c", "testinit sleep 120 & (testinit sleep 120 &); exec testinit sleep 120"}
			})
			id, p := v.create(t, bundle)
			v.must(t, "start", id)
			var pids []int
			poll(t, "the container's 3 processes", func() bool {
				pids, _ = readPids(filepath.Join(unifiedDir(t, id), "cgroup.procs"))
				out, _ := p.output()
				return len(pids) == 3 && strings.Count(out, "ready") == 3
			})
			for _, pid := range pids {
				getEnv(t).notePid(id, pid)
			}
			if how == "kill-all" {
				v.must(t, "kill", "--all", id, "KILL")
				v.waitForStatus(t, id, "stopped")
			} else {
				v.must(t, "delete", "--force", id)
			}
			for _, pid := range reapPids(pids, pollTimeout) {
				t.Errorf("process %d survived %s (%s)", pid, how, procDesc(pid))
			}
			if how == "kill-all" {
				v.must(t, "delete", id)
			}
			assertNoLeftovers(t, rootDir(t), id)
			assertCgroupsGone(t, id)
		})
	}

	// The device rules are an eBPF program: a device the rules do not
	// allow cannot be opened, the defaults can.
	t.Run("devices", func(t *testing.T) {
		t.Parallel()
		sec := deviceProbe(t, v.runArgs, func(m1, m2 int64) []specs.LinuxDeviceCgroup {
			return []specs.LinuxDeviceCgroup{deviceRule(false, "a", -1, -1, "rwm"), deviceRule(true, "c", m1, 0, "r")}
		}, "")
		checkDeviceProbe(t, sec, true)
	})
	t.Run("devices-no-rules", func(t *testing.T) {
		t.Parallel()
		sec := deviceProbe(t, v.runArgs, func(int64, int64) []specs.LinuxDeviceCgroup { return nil }, "")
		checkDeviceProbe(t, sec, false)
	})

	t.Run("hugetlb", func(t *testing.T) {
		t.Parallel()
		if !slices.Contains(strings.Fields(readTrim(t, filepath.Join(root, "cgroup.controllers"))), "hugetlb") {
			t.Skip("the cgroup2 hierarchy has no hugetlb controller")
		}
		if _, err := os.Stat("/sys/kernel/mm/hugepages/hugepages-2048kB"); err != nil {
			t.Skip("the kernel has no 2 MB huge pages")
		}
		if !slices.Contains(strings.Fields(readTrim(t, subtree)), "hugetlb") {
			if err := os.WriteFile(subtree, []byte("+hugetlb"), 0); err != nil {
				t.Skipf("cannot enable hugetlb in %s: %v", subtree, err)
			}
		}
		out := v.runArgs(t, func(s *specs.Spec) {
			withCgroupNS(s)
			res(s).HugepageLimits = []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}}
		}, catArgs("/sys/fs/cgroup/hugetlb.2MB.max", "/sys/fs/cgroup/hugetlb.2MB.rsvd.max")...)
		sec := sections(out)
		if got := sec["/sys/fs/cgroup/hugetlb.2MB.max"]; got != "4194304" {
			t.Errorf("hugetlb.2MB.max inside: %q, want 4194304", got)
		}
		if got := sec["/sys/fs/cgroup/hugetlb.2MB.rsvd.max"]; got != "4194304" && got != "errno=ENOENT" {
			t.Errorf("hugetlb.2MB.rsvd.max inside: %q, want 4194304", got)
		}
	})

	// The host's cgroup2 hierarchy has no memory, pids or cpu controller.
	for _, tc := range []struct {
		name   string
		ctrl   string
		mutate func(r *specs.LinuxResources)
	}{
		{"memory-unavailable", "memory", func(r *specs.LinuxResources) { r.Memory = &specs.LinuxMemory{Limit: ptrInt64(64 << 20)} }},
		{"pids-unavailable", "pids", func(r *specs.LinuxResources) { r.Pids = &specs.LinuxPids{Limit: ptrInt64(20)} }},
		{"cpu-unavailable", "cpu", func(r *specs.LinuxResources) {
			r.CPU = &specs.LinuxCPU{Quota: ptrInt64(50000), Period: ptrUint64(100000)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if slices.Contains(strings.Fields(readTrim(t, filepath.Join(root, "cgroup.controllers"))), tc.ctrl) {
				t.Skipf("the cgroup2 hierarchy has the %s controller", tc.ctrl)
			}
			bundle := newBundle(t, func(s *specs.Spec) { tc.mutate(res(s)) })
			id := newID(t)
			v.deleteAtEnd(t, id)
			removeCgroupsAtEnd(t, id)
			_, stderr, code := v.tabox(t, "create", "--bundle", bundle, id)
			assertOneLineError(t, stderr, code, tc.ctrl)
			t.Logf("create with a %s limit on cgroup v2: %s", tc.ctrl, strings.TrimSpace(stderr))
			assertNoLeftovers(t, rootDir(t), id)
			assertCgroupsGone(t, id)
		})
	}
}
