package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Resource control on the host's cgroup v1 hierarchies: every test reads
// what the container sees (its cgroup files, through a cgroup namespace and
// the spec's cgroup mount) and what the host sees (the cgroup directories
// under /sys/fs/cgroup and the processes in them). The cgroup v2 tests are
// in cgroupv2_test.go.

// cgHier is one cgroup hierarchy of the host.
type cgHier struct {
	name  string // the base name of its mount point: "pids", "systemd", "unified"
	ctrls string // its controllers as /proc/self/cgroup names them ("" for cgroup2)
	v2    bool
	mount string // its mount point
	own   string // this process's cgroup in it, where tabox (our child) starts
}

var (
	hierOnce sync.Once
	hiers    []cgHier
	hierErr  error
)

// cgroupHierarchies lists the host's hierarchies mounted under
// /sys/fs/cgroup.
func cgroupHierarchies(t *testing.T) []cgHier {
	t.Helper()
	hierOnce.Do(func() { hiers, hierErr = loadHierarchies() })
	if hierErr != nil {
		t.Fatal(hierErr)
	}
	return hiers
}

func loadHierarchies() ([]cgHier, error) {
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	type mnt struct {
		point, fstype string
		super         []string
	}
	var mounts []mnt
	for _, l := range lines(string(mi)) {
		pre, post, ok := strings.Cut(l, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 3 || (g[0] != "cgroup" && g[0] != "cgroup2") || filepath.Dir(f[4]) != "/sys/fs/cgroup" {
			continue
		}
		mounts = append(mounts, mnt{f[4], g[0], strings.Split(g[2], ",")})
	}
	var out []cgHier
	for _, l := range lines(string(self)) {
		parts := strings.SplitN(l, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, m := range mounts {
			match := false
			if parts[1] == "" {
				match = m.fstype == "cgroup2"
			} else if m.fstype == "cgroup" {
				match = true
				for _, c := range strings.Split(parts[1], ",") {
					if !slices.Contains(m.super, c) {
						match = false
					}
				}
			}
			if match {
				out = append(out, cgHier{name: filepath.Base(m.point), ctrls: parts[1], v2: parts[1] == "", mount: m.point, own: parts[2]})
				break
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no cgroup hierarchy mounted under /sys/fs/cgroup")
	}
	return out, nil
}

// requireCgroupV1 skips the test unless the host has the cgroup v1
// hierarchies these tests read.
func requireCgroupV1(t *testing.T) {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil || st.Type == unix.CGROUP2_SUPER_MAGIC {
		t.Skip("the host has no cgroup v1 hierarchies (/sys/fs/cgroup is cgroup2)")
	}
	for _, c := range []string{"cpu", "cpuset", "memory", "devices", "freezer", "pids", "blkio"} {
		if hierOf(t, c) == nil {
			t.Skipf("the host has no cgroup v1 %s hierarchy", c)
		}
	}
}

// hierOf returns the hierarchy of controller ctrl ("" for cgroup2), or nil.
func hierOf(t *testing.T, ctrl string) *cgHier {
	t.Helper()
	for _, h := range cgroupHierarchies(t) {
		if (ctrl == "" && h.v2) || (ctrl != "" && slices.Contains(strings.Split(h.ctrls, ","), ctrl)) {
			return &h
		}
	}
	return nil
}

// inside is the path of controller ctrl's file in the container's
// /sys/fs/cgroup (a mount per host hierarchy, named as on the host).
func inside(t *testing.T, ctrl, file string) string {
	t.Helper()
	h := hierOf(t, ctrl)
	if h == nil {
		t.Fatalf("no %s hierarchy", ctrl)
	}
	return "/sys/fs/cgroup/" + h.name + "/" + file
}

// cgroupDirs returns the host directories of the cgroup path p, as
// linux.cgroupsPath means it (absolute, or relative to tabox's own
// cgroup), by hierarchy name.
func cgroupDirs(t *testing.T, p string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, h := range cgroupHierarchies(t) {
		base := h.own
		if filepath.IsAbs(p) {
			base = "/"
		}
		out[h.name] = filepath.Join(h.mount, base, p)
	}
	return out
}

// ctrlDir is the host directory of cgroup path p in controller ctrl's
// hierarchy.
func ctrlDir(t *testing.T, ctrl, p string) string {
	t.Helper()
	h := hierOf(t, ctrl)
	if h == nil {
		t.Fatalf("no %s hierarchy", ctrl)
	}
	return cgroupDirs(t, p)[h.name]
}

// assertCgroupsGone checks that none of the cgroup directories of paths
// exists, in any hierarchy.
func assertCgroupsGone(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		for _, dir := range cgroupDirs(t, p) {
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("cgroup left behind: %s", dir)
			}
		}
	}
}

// removeCgroupsAtEnd removes, when the test ends, the cgroup directories
// of paths (deepest first) that are still there, killing what is in them.
// It covers paths the harness's cleanup does not know.
func removeCgroupsAtEnd(t *testing.T, paths ...string) {
	t.Helper()
	t.Cleanup(func() {
		var dirs []string
		for _, p := range paths {
			for _, d := range cgroupDirs(t, p) {
				dirs = append(dirs, d)
			}
		}
		sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
		for _, d := range dirs {
			if _, err := os.Stat(d); err != nil {
				continue
			}
			pids, _ := readPids(filepath.Join(d, "cgroup.procs"))
			for _, pid := range pids {
				unix.Kill(pid, unix.SIGKILL)
			}
			reapPids(pids, 2*time.Second)
			for i := 0; i < 100 && unix.Rmdir(d) == unix.EBUSY; i++ {
				time.Sleep(pollEvery)
			}
		}
	})
}

// readPids reads a cgroup.procs (or tasks) file.
func readPids(path string) ([]int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, l := range lines(string(data)) {
		pid, err := strconv.Atoi(l)
		if err != nil {
			return nil, fmt.Errorf("%s: bad line %q", path, l)
		}
		pids = append(pids, pid)
	}
	sort.Ints(pids)
	return pids, nil
}

// readTrim reads a file and trims the white space around its content.
func readTrim(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return strings.TrimSpace(string(data))
}

// withCgroupMount adds the spec's usual read-only cgroup mount.
func withCgroupMount(s *specs.Spec) {
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup",
		Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}})
}

// withCgroupNS adds a cgroup namespace and the cgroup mount.
func withCgroupNS(s *specs.Spec) {
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	withCgroupMount(s)
}

// res returns the spec's linux.resources, made if missing.
func res(s *specs.Spec) *specs.LinuxResources {
	if s.Linux.Resources == nil {
		s.Linux.Resources = &specs.LinuxResources{}
	}
	return s.Linux.Resources
}

func ptrUint64(v uint64) *uint64 { return &v }
func ptrBool(v bool) *bool       { return &v }

// catArgs is a testinit invocation printing "==FILE" and then FILE, for
// each file; sections parses its output.
func catArgs(files ...string) []string {
	var cmds [][]string
	for _, f := range files {
		cmds = append(cmds, []string{"echo", "==" + f}, []string{"cat", f})
	}
	return testinitArgs(cmds...)
}

// sections parses the output of catArgs: the trimmed content (or errno
// line) of each file.
func sections(out string) map[string]string {
	m := map[string]string{}
	cur := ""
	for _, l := range strings.Split(out, "\n") {
		if f, ok := strings.CutPrefix(l, "=="); ok {
			cur = f
			m[cur] = ""
			continue
		}
		if cur != "" {
			m[cur] = strings.TrimSpace(m[cur] + "\n" + l)
		}
	}
	return m
}

// cgroupTag is a name unique to this run for the cgroups a test makes.
func cgroupTag(t *testing.T) string {
	t.Helper()
	return "tabox-test-" + newID(t)
}

// TestCgroupPaths: the container's cgroup is linux.cgroupsPath (absolute,
// or relative to tabox's own cgroup), or the container ID; the init is in
// it from create on, in every hierarchy; delete removes it and the parents
// create made, but not a parent that was there before.
func TestCgroupPaths(t *testing.T) {
	t.Parallel()
	requireCgroupV1(t)
	tag := cgroupTag(t)
	for _, tc := range []struct {
		name string
		path string // "" for the default
		// keep is a parent the test makes beforehand, in the pids
		// hierarchy only: delete must leave it.
		keep string
	}{
		{"absolute", "/" + tag + "/abs/ctr", ""},
		{"relative", tag + "-rel/sub/ctr", tag + "-rel"},
		{"default", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var parents []string
			if tc.path != "" {
				for p := filepath.Dir(tc.path); p != "." && p != "/"; p = filepath.Dir(p) {
					parents = append(parents, p)
				}
				removeCgroupsAtEnd(t, append([]string{tc.path}, parents...)...)
			}
			if tc.keep != "" {
				dir := ctrlDir(t, "pids", tc.keep)
				if err := os.Mkdir(dir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			bundle := newBundle(t, func(s *specs.Spec) {
				s.Process.Args = []string{"testinit", "sleep", "120"}
				s.Linux.CgroupsPath = tc.path
			})
			id, _ := createContainer(t, bundle)
			path := tc.path
			if path == "" {
				path = id
				removeCgroupsAtEnd(t, path)
			}
			st := state(t, id)
			if st.Status != "created" {
				t.Errorf("status %q, want created", st.Status)
			}
			for name, dir := range cgroupDirs(t, path) {
				pids, err := readPids(filepath.Join(dir, "cgroup.procs"))
				if err != nil {
					t.Errorf("%s hierarchy: %v", name, err)
					continue
				}
				if !slices.Equal(pids, []int{st.Pid}) {
					t.Errorf("%s/cgroup.procs at created: %v, want the init [%d]", dir, pids, st.Pid)
				}
			}
			// The host's view of the init's cgroups agrees.
			cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", st.Pid))
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range cgroupHierarchies(t) {
				want := filepath.Join(h.own, path)
				if filepath.IsAbs(path) {
					want = path
				}
				if !slices.ContainsFunc(lines(string(cg)), func(l string) bool { return strings.HasSuffix(l, ":"+h.ctrls+":"+want) }) {
					t.Errorf("/proc/%d/cgroup has no %q line for %s:\n%s", st.Pid, want, h.name, cg)
				}
			}
			deleteContainer(t, id, true)
			assertCgroupsGone(t, path)
			for _, p := range parents {
				for name, dir := range cgroupDirs(t, p) {
					_, err := os.Stat(dir)
					switch {
					case p == tc.keep && name == hierOf(t, "pids").name:
						if err != nil {
							t.Errorf("delete removed %s, which create did not make: %v", dir, err)
						}
					case err == nil:
						t.Errorf("parent cgroup made by create left behind: %s", dir)
					}
				}
			}
		})
	}
}

// TestCgroupNamespace: with a cgroup namespace the container sees itself
// at the root of every hierarchy, and the cgroup mount is read-only;
// without one it sees its own cgroup directories at /sys/fs/cgroup, never
// the host's tree.
func TestCgroupNamespace(t *testing.T) {
	t.Parallel()
	requireCgroupV1(t)
	pidsMax := inside(t, "pids", "pids.max")
	t.Run("namespace", func(t *testing.T) {
		t.Parallel()
		path := "/" + cgroupTag(t)
		removeCgroupsAtEnd(t, path)
		out := runArgs(t, func(s *specs.Spec) {
			withCgroupNS(s)
			s.Linux.CgroupsPath = path
			res(s).Pids = &specs.LinuxPids{Limit: ptrInt64(77)}
		}, testinitArgs(
			[]string{"echo", "==cgroup"}, []string{"cat", "/proc/self/cgroup"},
			[]string{"echo", "==pids.max"}, []string{"cat", pidsMax},
			[]string{"echo", "==write"}, []string{"write", pidsMax, "5"},
			[]string{"echo", "==mkdir"}, []string{"write", "/sys/fs/cgroup/newfile", "x"},
			[]string{"echo", "==mountinfo"}, []string{"mountinfo"})...)
		sec := sections(out)
		cg := lines(sec["cgroup"])
		if len(cg) != len(cgroupHierarchies(t)) {
			t.Errorf("/proc/self/cgroup inside has %d lines, want one per hierarchy (%d):\n%s", len(cg), len(cgroupHierarchies(t)), sec["cgroup"])
		}
		for _, l := range cg {
			if parts := strings.SplitN(l, ":", 3); len(parts) != 3 || parts[2] != "/" {
				t.Errorf("/proc/self/cgroup inside: %q, want the path /", l)
			}
		}
		if sec["pids.max"] != "77" {
			t.Errorf("%s inside: %q, want the container's limit 77", pidsMax, sec["pids.max"])
		}
		if sec["write"] != "errno=EROFS" {
			t.Errorf("writing %s inside: %q, want errno=EROFS", pidsMax, sec["write"])
		}
		if sec["mkdir"] != "errno=EROFS" {
			t.Errorf("creating a file in /sys/fs/cgroup inside: %q, want errno=EROFS", sec["mkdir"])
		}
		n := 0
		for _, l := range lines(sec["mountinfo"]) {
			f := strings.Fields(l)
			if len(f) < 6 || (f[4] != "/sys/fs/cgroup" && filepath.Dir(f[4]) != "/sys/fs/cgroup") {
				continue
			}
			n++
			if !slices.Contains(strings.Split(f[5], ","), "ro") {
				t.Errorf("mount at %s is not read-only: %s", f[4], l)
			}
			if f[4] != "/sys/fs/cgroup" && f[3] != "/" {
				t.Errorf("mount at %s has root %q, want the namespace's root /: %s", f[4], f[3], l)
			}
		}
		if n != len(cgroupHierarchies(t))+1 {
			t.Errorf("%d mounts at and under /sys/fs/cgroup inside, want %d (one per hierarchy and the directory)\n%s", n, len(cgroupHierarchies(t))+1, sec["mountinfo"])
		}
	})
	t.Run("no-namespace", func(t *testing.T) {
		t.Parallel()
		path := "/" + cgroupTag(t)
		removeCgroupsAtEnd(t, path)
		pidsDir := filepath.Dir(pidsMax)
		out := runArgs(t, func(s *specs.Spec) {
			withCgroupMount(s)
			s.Linux.CgroupsPath = path
			res(s).Pids = &specs.LinuxPids{Limit: ptrInt64(77)}
		}, testinitArgs(
			[]string{"echo", "==cgroup"}, []string{"cat", "/proc/self/cgroup"},
			[]string{"echo", "==pids.max"}, []string{"cat", pidsMax},
			[]string{"echo", "==procs"}, []string{"cat", pidsDir + "/cgroup.procs"},
			[]string{"echo", "==ls"}, []string{"ls", pidsDir},
			[]string{"echo", "==write"}, []string{"write", pidsMax, "5"})...)
		sec := sections(out)
		pidsLine := ":" + hierOf(t, "pids").ctrls + ":" + path
		if !slices.ContainsFunc(lines(sec["cgroup"]), func(l string) bool { return strings.HasSuffix(l, pidsLine) }) {
			t.Errorf("/proc/self/cgroup inside has no %q line (the container's own cgroup):\n%s", pidsLine, sec["cgroup"])
		}
		// The host's root pids cgroup has no pids.max at all.
		if sec["pids.max"] != "77" {
			t.Errorf("%s inside: %q, want the container's own limit 77", pidsMax, sec["pids.max"])
		}
		if sec["procs"] != "1" {
			t.Errorf("%s/cgroup.procs inside: %q, want only the container's init, 1", pidsDir, sec["procs"])
		}
		hostRoot, _ := os.ReadDir(hierOf(t, "pids").mount)
		for _, e := range hostRoot {
			if e.IsDir() && slices.Contains(lines(sec["ls"]), e.Name()) {
				t.Errorf("%s inside shows the host's cgroup %q", pidsDir, e.Name())
			}
		}
		if sec["write"] != "errno=EROFS" {
			t.Errorf("writing %s inside: %q, want errno=EROFS", pidsMax, sec["write"])
		}
	})
}

// rootBlockDevice returns "MAJ:MIN" of the whole disk holding the host's
// root filesystem, or "" if it is not on a block device.
func rootBlockDevice() string {
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	for _, l := range lines(string(mi)) {
		f := strings.Fields(l)
		if len(f) < 5 || f[4] != "/" {
			continue
		}
		dev := "/sys/dev/block/" + f[2]
		if _, err := os.Stat(dev); err != nil {
			return ""
		}
		// Throttling applies to whole disks: a partition's parent is
		// the directory above it.
		if _, err := os.Stat(dev + "/partition"); err == nil {
			parent, err := os.ReadFile(dev + "/../dev")
			if err != nil {
				return ""
			}
			return strings.TrimSpace(string(parent))
		}
		return f[2]
	}
	return ""
}

// lastCPU returns the highest CPU of the host's root cpuset.
func lastCPU(t *testing.T) string {
	t.Helper()
	cpus := readTrim(t, filepath.Join(hierOf(t, "cpuset").mount, "cpuset.cpus"))
	i := strings.LastIndexAny(cpus, ",-")
	return cpus[i+1:]
}

// TestCgroupLimits: each limit of linux.resources is what the container
// reads in its own cgroup files.
func TestCgroupLimits(t *testing.T) {
	t.Parallel()
	requireCgroupV1(t)
	cpu := lastCPU(t)
	files := map[string]string{
		inside(t, "memory", "memory.limit_in_bytes"):      "67108864",
		inside(t, "memory", "memory.soft_limit_in_bytes"): "33554432",
		inside(t, "memory", "memory.swappiness"):          "30",
		inside(t, "cpu", "cpu.shares"):                    "512",
		inside(t, "cpu", "cpu.cfs_quota_us"):              "25000",
		inside(t, "cpu", "cpu.cfs_period_us"):             "50000",
		inside(t, "cpuset", "cpuset.cpus"):                cpu,
		inside(t, "cpuset", "cpuset.mems"):                "0",
		inside(t, "pids", "pids.max"):                     "64",
	}
	oom := inside(t, "memory", "memory.oom_control")
	var names []string
	for f := range files {
		names = append(names, f)
	}
	sort.Strings(names)
	out := runArgs(t, func(s *specs.Spec) {
		withCgroupNS(s)
		r := res(s)
		r.Memory = &specs.LinuxMemory{Limit: ptrInt64(64 << 20), Reservation: ptrInt64(32 << 20),
			Swappiness: ptrUint64(30), DisableOOMKiller: ptrBool(true)}
		r.CPU = &specs.LinuxCPU{Shares: ptrUint64(512), Quota: ptrInt64(25000), Period: ptrUint64(50000), Cpus: cpu, Mems: "0"}
		r.Pids = &specs.LinuxPids{Limit: ptrInt64(64)}
	}, catArgs(append(names, oom)...)...)
	sec := sections(out)
	for _, f := range names {
		if sec[f] != files[f] {
			t.Errorf("%s inside: %q, want %q", f, sec[f], files[f])
		}
	}
	if !slices.Contains(lines(sec[oom]), "oom_kill_disable 1") {
		t.Errorf("%s inside: %q, want oom_kill_disable 1", oom, sec[oom])
	}
}

// TestCgroupBlkioThrottle: a read bandwidth limit on the host's root disk
// shows in the container's blkio.throttle.read_bps_device.
func TestCgroupBlkioThrottle(t *testing.T) {
	t.Parallel()
	requireCgroupV1(t)
	dev := rootBlockDevice()
	if dev == "" {
		t.Skip("the root filesystem is not on a block device")
	}
	var major, minor int64
	if _, err := fmt.Sscanf(dev, "%d:%d", &major, &minor); err != nil {
		t.Fatalf("device %q: %v", dev, err)
	}
	file := inside(t, "blkio", "blkio.throttle.read_bps_device")
	out := runArgs(t, func(s *specs.Spec) {
		withCgroupNS(s)
		res(s).BlockIO = &specs.LinuxBlockIO{ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{
			{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: major, Minor: minor}, Rate: 1 << 20}}}
	}, catArgs(file)...)
	if got, want := sections(out)[file], dev+" 1048576"; got != want {
		t.Errorf("%s inside: %q, want %q", file, got, want)
	}
}

// freeCharMajors returns n character device majors of the ranges reserved
// for local use that no driver of the host has: opening such a node gives
// ENXIO when the device cgroup allows it and EPERM when it does not.
func freeCharMajors(t *testing.T, n int) []int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/devices")
	if err != nil {
		t.Fatal(err)
	}
	used := map[int64]bool{}
	for _, l := range lines(string(data)) {
		if strings.HasPrefix(l, "Block devices") {
			break
		}
		if f := strings.Fields(l); len(f) == 2 {
			if m, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				used[m] = true
			}
		}
	}
	var out []int64
	for _, m := range []int64{60, 61, 62, 63, 120, 121, 122, 123, 124, 125, 126, 127} {
		if !used[m] && len(out) < n {
			out = append(out, m)
		}
	}
	if len(out) < n {
		t.Skip("no free experimental character device majors")
	}
	return out
}

// deviceProbe runs a container with the device rules of rules (after
// which tabox adds its defaults) that makes nodes of the two free majors
// and opens them and /dev/null; it returns what each open gave, and the
// container's devices.list (v1) if list is set.
func deviceProbe(t *testing.T, run func(*testing.T, func(*specs.Spec), ...string) string, rules func(m1, m2 int64) []specs.LinuxDeviceCgroup, list string) map[string]string {
	t.Helper()
	m := freeCharMajors(t, 2)
	m1, m2 := strconv.FormatInt(m[0], 10), strconv.FormatInt(m[1], 10)
	cmds := [][]string{
		{"mknod", "/tmp/dev1", "c", m1, "0"}, {"mknod", "/tmp/dev2", "c", m2, "0"},
		{"echo", "==dev1-r"}, {"open", "/tmp/dev1", "r"},
		{"echo", "==dev1-w"}, {"open", "/tmp/dev1", "w"},
		{"echo", "==dev2-r"}, {"open", "/tmp/dev2", "r"},
		{"echo", "==null-rw"}, {"open", "/dev/null", "rw"},
		{"echo", "==zero-r"}, {"open", "/dev/zero", "r"},
	}
	if list != "" {
		cmds = append(cmds, []string{"echo", "==list"}, []string{"cat", list})
	}
	out := run(t, func(s *specs.Spec) {
		withCgroupNS(s)
		c := s.Process.Capabilities
		c.Bounding = append(c.Bounding, "CAP_MKNOD")
		c.Effective = append(c.Effective, "CAP_MKNOD")
		c.Permitted = append(c.Permitted, "CAP_MKNOD")
		if r := rules(m[0], m[1]); r != nil {
			res(s).Devices = r
		}
	}, testinitArgs(cmds...)...)
	if !strings.HasPrefix(out, "ok\nok\n") {
		t.Fatalf("mknod inside failed:\n%s", out)
	}
	return sections(out)
}

// deviceRule is a linux.resources.devices entry; major or minor -1 is *.
func deviceRule(allow bool, typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
	r := specs.LinuxDeviceCgroup{Allow: allow, Type: typ, Access: access}
	if major >= 0 {
		r.Major = ptrInt64(major)
	}
	if minor >= 0 {
		r.Minor = ptrInt64(minor)
	}
	return r
}

// checkDeviceProbe checks deviceProbe's results: dev1 readable only, as
// the rule allowing "c M1:0 r" says, dev2 denied, and the default devices
// usable.
func checkDeviceProbe(t *testing.T, sec map[string]string, dev1Allowed bool) {
	t.Helper()
	want := map[string]string{"dev1-w": "errno=EPERM", "dev2-r": "errno=EPERM", "null-rw": "ok", "zero-r": "ok"}
	if dev1Allowed {
		// Allowed by the cgroup, the open reaches the kernel, which has
		// no driver for the major.
		want["dev1-r"] = "errno=ENXIO"
	} else {
		want["dev1-r"] = "errno=EPERM"
	}
	for k, w := range want {
		if sec[k] != w {
			t.Errorf("open %s inside: %q, want %q", k, sec[k], w)
		}
	}
}

// TestCgroupDevices: the device rules of linux.resources.devices are
// enforced and written in the config's order (devices.list keeps the order
// of the allow rules), followed by the default devices; a config without
// rules gets only the defaults.
func TestCgroupDevices(t *testing.T) {
	t.Parallel()
	requireCgroupV1(t)
	list := inside(t, "devices", "devices.list")
	for _, tc := range []struct {
		name  string
		order []int // of the three allow rules
	}{
		{"order-1", []int{0, 1, 2}},
		{"order-2", []int{2, 0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var wantList []string
			sec := deviceProbe(t, runArgs, func(m1, m2 int64) []specs.LinuxDeviceCgroup {
				allow := []specs.LinuxDeviceCgroup{
					deviceRule(true, "c", m1, 0, "r"),
					deviceRule(true, "b", 7, -1, "r"),
					deviceRule(true, "c", 4, 64, "rw"),
				}
				text := []string{fmt.Sprintf("c %d:0 r", m1), "b 7:* r", "c 4:64 rw"}
				rules := []specs.LinuxDeviceCgroup{deviceRule(false, "a", -1, -1, "rwm")}
				for _, i := range tc.order {
					rules = append(rules, allow[i])
					wantList = append(wantList, text[i])
				}
				return rules
			}, list)
			checkDeviceProbe(t, sec, true)
			got := lines(sec["list"])
			if len(got) < len(wantList) || !slices.Equal(got[:len(wantList)], wantList) {
				t.Errorf("devices.list inside does not start with the config's allow rules in order %q:\n%s", wantList, sec["list"])
			}
			for _, def := range []string{"c 1:3 rwm", "c 1:5 rwm", "c 136:* rwm"} {
				if !slices.Contains(got, def) {
					t.Errorf("devices.list inside lacks the default rule %q:\n%s", def, sec["list"])
				}
			}
			if slices.Contains(got, "a *:* rwm") {
				t.Errorf("devices.list inside allows every device:\n%s", sec["list"])
			}
		})
	}
	// No rule in the config: the defaults only, as with runc (and as
	// tabox's cgroup v2 device filter does), not every device.
	t.Run("no-rules", func(t *testing.T) {
		t.Parallel()
		sec := deviceProbe(t, runArgs, func(int64, int64) []specs.LinuxDeviceCgroup { return nil }, list)
		checkDeviceProbe(t, sec, false)
		if slices.Contains(lines(sec["list"]), "a *:* rwm") {
			t.Errorf("without device rules in the config, devices.list inside allows every device:\n%s", sec["list"])
		}
	})
}

// TestCgroupKernelMemoryRefused: a kernel memory limit, which this kernel
// accepts and ignores, fails create clearly and leaves no cgroup.
func TestCgroupKernelMemoryRefused(t *testing.T) {
	t.Parallel()
	requireCgroupV1(t)
	path := "/" + cgroupTag(t)
	removeCgroupsAtEnd(t, path)
	probe := filepath.Join(hierOf(t, "memory").mount, path)
	// Find out what this kernel does with the limit.
	if err := os.Mkdir(probe, 0o755); err != nil {
		t.Fatal(err)
	}
	werr := os.WriteFile(filepath.Join(probe, "memory.kmem.limit_in_bytes"), []byte("33554432"), 0)
	got, rerr := os.ReadFile(filepath.Join(probe, "memory.kmem.limit_in_bytes"))
	unix.Rmdir(probe)
	if werr != nil || rerr != nil || strings.TrimSpace(string(got)) == "33554432" {
		t.Skipf("this kernel enforces or refuses kernel memory limits (write: %v, read back %q)", werr, got)
	}
	bundle := newBundle(t, func(s *specs.Spec) {
		s.Linux.CgroupsPath = path
		res(s).Memory = &specs.LinuxMemory{Limit: ptrInt64(64 << 20), Kernel: ptrInt64(32 << 20)}
	})
	id := newID(t)
	_, stderr, code := tabox(t, "create", "--bundle", bundle, id)
	assertOneLineError(t, stderr, code, "does not enforce")
	if !strings.Contains(stderr, "kmem") && !strings.Contains(stderr, "kernel") {
		t.Errorf("error %q does not name the kernel memory limit", strings.TrimSpace(stderr))
	}
	assertNoLeftovers(t, rootDir(t), id)
	assertCgroupsGone(t, path)
}

// ooms counts the oom events of id in the output of events, and fails
// the test on a line that is not an event of id.
func ooms(t *testing.T, id, out string) (ooms, stats int) {
	t.Helper()
	for _, l := range lines(out) {
		var ev struct {
			Type string `json:"type"`
			ID   string `json:"id"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Errorf("events printed a line that is not JSON: %q", l)
			continue
		}
		if ev.ID != id {
			t.Errorf("event %q has id %q, want %q", l, ev.ID, id)
		}
		switch ev.Type {
		case "oom":
			ooms++
		case "stats":
			stats++
		}
	}
	return ooms, stats
}

// startEvents starts `events ID` and waits for its first statistics,
// which it prints once it knows the container's OOM kill count.
func startEvents(t *testing.T, id string) *proc {
	t.Helper()
	events := startTabox(t, cmdOpts{}, "events", "--interval", "1h", id)
	poll(t, "the first statistics of events", func() bool {
		o, _ := events.output()
		return strings.Contains(o, "\n") || events.exited()
	})
	return events
}

// TestCgroupOOM: a memory hog under a 32 MiB limit is killed by the OOM
// killer, and events, started before, reports it: when the hog is the
// init (run exits 137), and when it is a child and the container goes on.
func TestCgroupOOM(t *testing.T) {
	t.Parallel()
	requireCgroupV1(t)
	t.Run("init", func(t *testing.T) {
		t.Parallel()
		bundle := newBundle(t, func(s *specs.Spec) {
			s.Process.Args = testinitArgs([]string{"pause"}, []string{"hog", "256"})
			res(s).Memory = &specs.LinuxMemory{Limit: ptrInt64(32 << 20)}
		})
		id := newID(t)
		run := startTabox(t, cmdOpts{}, "run", "--bundle", bundle, id)
		waitForStatus(t, id, "running")
		poll(t, "testinit's pause", func() bool { o, _ := run.output(); return strings.Contains(o, "paused") })
		events := startEvents(t, id)
		mustTabox(t, "kill", id, "USR1")
		stdout, stderr, code := run.wait()
		if code != 137 {
			t.Errorf("run of a memory hog under 32 MiB: exit %d, want 137 (SIGKILL)\nstdout: %s\nstderr: %s", code, stdout, stderr)
		}
		if strings.Contains(stdout, "survived") {
			t.Errorf("the hog got its 256 MiB under a 32 MiB limit")
		}
		evOut, evErr, evCode := events.wait()
		if evCode != 0 {
			t.Errorf("events: exit %d once the container stopped (stderr: %s)", evCode, evErr)
		}
		if o, s := ooms(t, id, evOut); o != 1 || s < 1 {
			t.Errorf("events printed %d oom and %d stats events, want 1 oom and at least 1 stats:\n%s", o, s, evOut)
		}
		assertNoLeftovers(t, rootDir(t), id)
		assertCgroupsGone(t, id)
	})
	t.Run("child", func(t *testing.T) {
		t.Parallel()
		bundle := newBundle(t, func(s *specs.Spec) {
			s.Process.Args = []string{"sh", "-c", "testinit hog 256; echo hog-exit=$?; exec testinit sleep 120"}
			res(s).Memory = &specs.LinuxMemory{Limit: ptrInt64(32 << 20)}
		})
		id, p := createContainer(t, bundle)
		events := startEvents(t, id)
		mustTabox(t, "start", id)
		poll(t, "the hog's end", func() bool { o, _ := p.output(); return strings.Contains(o, "ready") })
		if out, _ := p.output(); !strings.Contains(out, "hog-exit=137") {
			t.Errorf("the hog under 32 MiB: %q, want hog-exit=137", out)
		}
		var evOut string
		deadline := time.Now().Add(2 * time.Second)
		for n := 0; n == 0 && time.Now().Before(deadline); time.Sleep(pollEvery) {
			evOut, _ = events.output()
			n, _ = ooms(t, id, evOut)
		}
		if o, _ := ooms(t, id, evOut); o != 1 {
			t.Errorf("events printed %d oom events in 2 s after the OOM kill, want 1:\n%s", o, evOut)
		}
		if st := state(t, id); st.Status != "running" {
			t.Errorf("status %q after the OOM kill of a child, want running", st.Status)
		}
		mustTabox(t, "kill", id, "KILL")
		if _, stderr, code := events.wait(); code != 0 {
			t.Errorf("events: exit %d once the container stopped (stderr: %s)", code, stderr)
		}
		waitForStatus(t, id, "stopped")
		deleteContainer(t, id, false)
		assertCgroupsGone(t, id)
	})
}

// TestCgroupForkBomb: a fork bomb under pids.limit 20 stops at the limit
// (forks fail with EAGAIN inside), and delete --force kills every process
// of it, though it runs without a PID namespace, and removes the cgroup.
func TestCgroupForkBomb(t *testing.T) {
	t.Parallel()
	requireCgroupV1(t)
	current := inside(t, "pids", "pids.current")
	bundle := newBundle(t, func(s *specs.Spec) {
		removeNamespace(s, specs.PIDNamespace)
		withCgroupNS(s)
		s.Process.Args = []string{"testinit", "forkbomb", current}
		res(s).Pids = &specs.LinuxPids{Limit: ptrInt64(20)}
	})
	id, p := createContainer(t, bundle)
	removeCgroupsAtEnd(t, id)
	mustTabox(t, "start", id)
	var out string
	poll(t, "the fork bomb to hit the limit", func() bool {
		out, _ = p.output()
		return strings.Contains(out, current+"=")
	})
	sec := map[string]string{}
	for _, l := range lines(out) {
		if n, ok := strings.CutPrefix(l, "forked "); ok {
			sec["forked"], sec["errno"], _ = strings.Cut(n, " errno=")
		} else if k, v, ok := strings.Cut(l, "="); ok {
			sec[k] = v
		}
	}
	if sec["errno"] != "EAGAIN" {
		t.Errorf("fork under the pids limit failed with %q, want EAGAIN (output %q)", sec["errno"], out)
	}
	if n, err := strconv.Atoi(sec["forked"]); err != nil || n < 1 {
		t.Errorf("the fork bomb forked %q processes before failing (output %q)", sec["forked"], out)
	}
	if n, err := strconv.Atoi(sec[current]); err != nil || n > 20 || n < 2 {
		t.Errorf("pids.current inside when fork failed: %q, want 2..20", sec[current])
	}
	dir := ctrlDir(t, "pids", id)
	if got := readTrim(t, filepath.Join(dir, "pids.max")); got != "20" {
		t.Errorf("%s/pids.max: %q, want 20", dir, got)
	}
	if n, err := strconv.Atoi(readTrim(t, filepath.Join(dir, "pids.current"))); err != nil || n > 20 {
		t.Errorf("%s/pids.current: %d (%v), want at most 20", dir, n, err)
	}
	seen := map[int]bool{}
	for _, f := range []string{"cgroup.procs", "tasks"} {
		pids, err := readPids(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, pid := range pids {
			seen[pid] = true
			getEnv(t).notePid(id, pid)
		}
	}
	if len(seen) < 2 {
		t.Errorf("the cgroup holds %d tasks, want the bomb and its children", len(seen))
	}
	mustTabox(t, "delete", "--force", id)
	var all []int
	for pid := range seen {
		all = append(all, pid)
	}
	for _, pid := range reapPids(all, pollTimeout) {
		t.Errorf("task %d of the fork bomb survived delete --force (%s)", pid, procDesc(pid))
	}
	assertNoLeftovers(t, rootDir(t), id)
	assertCgroupsGone(t, id)
}

// taboxStdin runs the runtime with stdin (for commands that create no
// container).
func taboxStdin(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, runtimeBin, append([]string{"--root", rootDir(t)}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	return o.String(), e.String(), exitCode(err)
}

// TestCgroupUpdate: update changes the live limits, from flags and from a
// linux.resources JSON on stdin, as the container reads them; bad input is
// a clear error and changes nothing.
func TestCgroupUpdate(t *testing.T) {
	t.Parallel()
	requireCgroupV1(t)
	pidsMax := inside(t, "pids", "pids.max")
	memMax := inside(t, "memory", "memory.limit_in_bytes")
	read := []string{"cat", pidsMax, "--", "cat", memMax}
	// The container prints its limits, then waits for SIGUSR1 and prints
	// them again, four times.
	var cmds [][]string
	for i := 0; i < 4; i++ {
		if i > 0 {
			cmds = append(cmds, []string{"pause"})
		}
		cmds = append(cmds, []string{"echo", fmt.Sprintf("==%d", i)}, read)
	}
	bundle := newBundle(t, func(s *specs.Spec) {
		withCgroupNS(s)
		s.Process.Args = testinitArgs(cmds...)
		res(s).Pids = &specs.LinuxPids{Limit: ptrInt64(100)}
		res(s).Memory = &specs.LinuxMemory{Limit: ptrInt64(64 << 20)}
	})
	id, p := createContainer(t, bundle)
	mustTabox(t, "start", id)
	// step waits for the container's i-th report (and for it to wait for
	// SIGUSR1 again), and returns the two values.
	step := func(i int) []string {
		t.Helper()
		var sec []string
		poll(t, fmt.Sprintf("report %d", i), func() bool {
			out, _ := p.output()
			sec = lines(sections(out)[strconv.Itoa(i)])
			return len(sec) >= 2 && (i == 3 || strings.Count(out, "paused") > i)
		})
		return sec[:2]
	}
	check := func(i int, pids, mem string) {
		t.Helper()
		if got := step(i); !slices.Equal(got, []string{pids, mem}) {
			t.Errorf("report %d: pids.max and memory.limit_in_bytes inside are %q, want [%s %s]", i, got, pids, mem)
		}
	}
	check(0, "100", "67108864")

	mustTabox(t, "update", "--pids-limit", "50", "--memory", "100m", id)
	mustTabox(t, "kill", id, "USR1")
	check(1, "50", "104857600")

	if _, stderr, code := taboxStdin(t, `{"pids": {"limit": 42}, "memory": {"limit": 50331648}}`, "update", "--resources", "-", id); code != 0 {
		t.Fatalf("update --resources -: exit %d: %s", code, stderr)
	}
	mustTabox(t, "kill", id, "USR1")
	check(2, "42", "50331648")

	pidsHost := filepath.Join(ctrlDir(t, "pids", id), "pids.max")
	memHost := filepath.Join(ctrlDir(t, "memory", id), "memory.limit_in_bytes")
	badJSON := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(badJSON, []byte(`{"pids": {"limit": "many"}}`), 0o644)
	for _, bad := range []struct {
		args  []string
		stdin string
		want  []string
	}{
		{[]string{"--memory", "lots"}, "", []string{"--memory", "lots"}},
		{[]string{"--pids-limit", "x"}, "", []string{"--pids-limit"}},
		{[]string{"--pids-limit", "-7"}, "", []string{"pids"}},
		{[]string{"--resources", badJSON}, "", []string{"--resources", "pids"}},
		{[]string{"--resources", "-"}, `{"pids": `, []string{"--resources", "json", "EOF"}},
		{[]string{"--resources", "-"}, `{"devices": [{"allow": true, "access": "rwm"}]}`, []string{"devices"}},
		{[]string{"--cpuset-cpus", "1000-1001"}, "", []string{"cpuset"}},
		// Valid, then invalid: nothing may be applied.
		{[]string{"--pids-limit", "7", "--cpuset-cpus", "1000-1001"}, "", []string{"cpuset"}},
		{[]string{"--memory", "40m", "--cpu-period", "1"}, "", []string{"cpu"}},
	} {
		_, stderr, code := taboxStdin(t, bad.stdin, append(append([]string{"update"}, bad.args...), id)...)
		name := strings.ReplaceAll(strings.Join(bad.args, " "), badJSON, "bad.json")
		t.Run(name, func(t *testing.T) {
			assertOneLineError(t, stderr, code, bad.want...)
			// The host sees the limits unchanged.
			p, m := readTrim(t, pidsHost), readTrim(t, memHost)
			if p != "42" || m != "50331648" {
				t.Errorf("the failed update changed the live limits: pids.max %s, memory.limit_in_bytes %s, want 42 and 50331648", p, m)
				mustTabox(t, "update", "--pids-limit", "42", "--memory", "50331648", id)
			}
		})
	}
	_, stderr, code := tabox(t, "update", "--pids-limit", "5", newID(t))
	assertOneLineError(t, stderr, code, "does not exist")
	mustTabox(t, "kill", id, "USR1")
	check(3, "42", "50331648")
	waitForStatus(t, id, "stopped")
	deleteContainer(t, id, false)
	assertCgroupsGone(t, id)
}

// TestCgroupUpdateZeroesUnset: update takes a 0 in --resources as "leave
// it", as runc does. docker update sends every field it knows, 0 for those
// the user did not give; this is its JSON for "docker update --memory 96m
// --memory-swap 192m --pids-limit 20".
func TestCgroupUpdateZeroesUnset(t *testing.T) {
	t.Parallel()
	requireCgroupV1(t)
	bundle := newBundle(t, func(s *specs.Spec) {
		s.Process.Args = []string{"testinit", "sleep", "120"}
		r := res(s)
		r.Memory = &specs.LinuxMemory{Limit: ptrInt64(64 << 20)}
		r.CPU = &specs.LinuxCPU{Shares: ptrUint64(512), Quota: ptrInt64(25000), Period: ptrUint64(50000)}
		r.Pids = &specs.LinuxPids{Limit: ptrInt64(100)}
	})
	id, _ := createContainer(t, bundle)
	mustTabox(t, "start", id)
	const dockerUpdate = `{"memory":{"limit":100663296,"reservation":0,"swap":201326592,"kernel":0},` +
		`"cpu":{"shares":0,"quota":0,"period":0},"pids":{"limit":20},"blockIO":{"weight":0}}`
	if _, stderr, code := taboxStdin(t, dockerUpdate, "update", "--resources", "-", id); code != 0 {
		t.Fatalf("update --resources - (docker's JSON): exit %d: %s", code, stderr)
	}
	for _, f := range []struct{ ctrl, file, want string }{
		{"memory", "memory.limit_in_bytes", "100663296"},
		{"memory", "memory.memsw.limit_in_bytes", "201326592"},
		{"pids", "pids.max", "20"},
		// Unchanged.
		{"cpu", "cpu.shares", "512"},
		{"cpu", "cpu.cfs_quota_us", "25000"},
		{"cpu", "cpu.cfs_period_us", "50000"},
	} {
		p := filepath.Join(ctrlDir(t, f.ctrl, id), f.file)
		if f.file == "memory.memsw.limit_in_bytes" {
			if _, err := os.Stat(p); err != nil {
				continue // no swap accounting on this kernel
			}
		}
		if got := readTrim(t, p); got != f.want {
			t.Errorf("%s after update: %s, want %s", f.file, got, f.want)
		}
	}
	deleteContainer(t, id, true)
	assertCgroupsGone(t, id)
}

// ticks counts the lines testinit's ticks printed so far.
func ticks(p *proc) int {
	out, _ := p.output()
	return strings.Count(out, "\n")
}

// TestCgroupPause: pause freezes every process of the container (a counter
// stops), resume thaws it; a paused container can be killed and deleted.
func TestCgroupPause(t *testing.T) {
	t.Parallel()
	requireCgroupV1(t)
	t.Run("freeze", func(t *testing.T) {
		t.Parallel()
		bundle := newBundle(t, withArgs("testinit", "ticks"))
		id, p := createContainer(t, bundle)
		mustTabox(t, "start", id)
		poll(t, "ticks", func() bool { return ticks(p) > 5 })
		mustTabox(t, "pause", id)
		if st := state(t, id); st.Status != "paused" {
			t.Errorf("after pause: status %q, want paused", st.Status)
		}
		freezer := filepath.Join(ctrlDir(t, "freezer", id), "freezer.state")
		if got := readTrim(t, freezer); got != "FROZEN" {
			t.Errorf("%s: %q, want FROZEN", freezer, got)
		}
		// A running counter ticks every 2 ms: 300 ms without one is a
		// freeze.
		n := ticks(p)
		time.Sleep(300 * time.Millisecond)
		if m := ticks(p); m != n {
			t.Errorf("the counter advanced from %d to %d while paused", n, m)
		}
		_, stderr, code := tabox(t, "pause", id)
		assertOneLineError(t, stderr, code, "paused")
		mustTabox(t, "resume", id)
		if st := state(t, id); st.Status != "running" {
			t.Errorf("after resume: status %q, want running", st.Status)
		}
		poll(t, "ticks after resume", func() bool { return ticks(p) > n+5 })
		_, stderr, code = tabox(t, "resume", id)
		assertOneLineError(t, stderr, code, "running", "not paused")
		deleteContainer(t, id, true)
		assertCgroupsGone(t, id)
	})
	t.Run("kill-paused", func(t *testing.T) {
		t.Parallel()
		id, _ := createContainer(t, newBundle(t, withArgs("testinit", "ticks")))
		mustTabox(t, "start", id)
		mustTabox(t, "pause", id)
		mustTabox(t, "kill", id, "9")
		waitForStatus(t, id, "stopped")
		deleteContainer(t, id, true)
		assertCgroupsGone(t, id)
	})
	t.Run("delete-paused", func(t *testing.T) {
		t.Parallel()
		bundle := newBundle(t, func(s *specs.Spec) {
			removeNamespace(s, specs.PIDNamespace)
			s.Process.Args = []string{"sh", "-c", "testinit ticks & testinit ticks & exec testinit ticks"}
		})
		id, _ := createContainer(t, bundle)
		mustTabox(t, "start", id)
		dir := ctrlDir(t, "freezer", id)
		var pids []int
		poll(t, "the container's 3 processes", func() bool {
			pids, _ = readPids(filepath.Join(dir, "cgroup.procs"))
			return len(pids) == 3
		})
		for _, pid := range pids {
			getEnv(t).notePid(id, pid)
		}
		mustTabox(t, "pause", id)
		deleteContainer(t, id, true)
		assertCgroupsGone(t, id)
	})
}

// TestCgroupPs: ps lists exactly the host PIDs of the container's
// processes, as JSON or as ps(1)'s table.
func TestCgroupPs(t *testing.T) {
	t.Parallel()
	requireCgroupV1(t)
	bundle := newBundle(t, withArgs("sh", "-c", "sleep 100 & sleep 100 & wait"))
	id, _ := createContainer(t, bundle)
	mustTabox(t, "start", id)
	var procs []int
	poll(t, "the container's 3 processes", func() bool {
		procs = findContainerProcs(rootDir(t), id, bundle)
		return len(procs) == 3
	})
	sort.Ints(procs)
	for _, pid := range procs {
		getEnv(t).notePid(id, pid)
	}
	cgProcs, err := readPids(filepath.Join(ctrlDir(t, "pids", id), "cgroup.procs"))
	if err != nil || !slices.Equal(cgProcs, procs) {
		t.Errorf("cgroup.procs %v (%v), want the container's processes %v", cgProcs, err, procs)
	}
	var got []int
	out := mustTabox(t, "ps", "--format", "json", id)
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("ps --format json: %v\n%s", err, out)
	}
	sort.Ints(got)
	if !slices.Equal(got, procs) {
		t.Errorf("ps --format json: %v, want %v", got, procs)
	}
	for _, tc := range []struct {
		args []string
		col  int
		cmd  string
	}{
		{nil, 1, ""},
		{[]string{"-o", "pid,comm"}, 0, "sleep"},
	} {
		out := mustTabox(t, append([]string{"ps", id}, tc.args...)...)
		ls := lines(out)
		if len(ls) != len(procs)+1 || !strings.Contains(ls[0], "PID") {
			t.Errorf("ps %v: want a header and %d lines, got:\n%s", tc.args, len(procs), out)
			continue
		}
		var pids []int
		for _, l := range ls[1:] {
			f := strings.Fields(l)
			pid, _ := strconv.Atoi(f[tc.col])
			pids = append(pids, pid)
		}
		sort.Ints(pids)
		if !slices.Equal(pids, procs) {
			t.Errorf("ps %v lists PIDs %v, want %v:\n%s", tc.args, pids, procs, out)
		}
		if tc.cmd != "" && strings.Count(out, tc.cmd) != 2 {
			t.Errorf("ps %v: want two %s processes:\n%s", tc.args, tc.cmd, out)
		}
	}
	deleteContainer(t, id, true)
	_, stderr, code := tabox(t, "ps", id)
	assertOneLineError(t, stderr, code, "does not exist")
}

// TestCgroupEvents: events --stats prints one stats object in runc's
// schema; events streams them every interval and ends with the container.
func TestCgroupEvents(t *testing.T) {
	t.Parallel()
	requireCgroupV1(t)
	bundle := newBundle(t, func(s *specs.Spec) {
		s.Process.Args = []string{"testinit", "sleep", "120"}
		res(s).Pids = &specs.LinuxPids{Limit: ptrInt64(50)}
	})
	id, _ := createContainer(t, bundle)
	mustTabox(t, "start", id)
	out := mustTabox(t, "events", "--stats", id)
	if n := len(lines(out)); n != 1 {
		t.Errorf("events --stats printed %d lines, want 1:\n%s", n, out)
	}
	var ev struct {
		Type string `json:"type"`
		ID   string `json:"id"`
		Data struct {
			CPU struct {
				Usage struct {
					Total uint64 `json:"total"`
				} `json:"usage"`
			} `json:"cpu"`
			Memory struct {
				Usage struct {
					Usage uint64 `json:"usage"`
				} `json:"usage"`
			} `json:"memory"`
			Pids struct {
				Current uint64 `json:"current"`
				Limit   uint64 `json:"limit"`
			} `json:"pids"`
			Blkio   *json.RawMessage `json:"blkio"`
			Hugetlb *json.RawMessage `json:"hugetlb"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(out), &ev); err != nil {
		t.Fatalf("events --stats: %v\n%s", err, out)
	}
	d := ev.Data
	if ev.Type != "stats" || ev.ID != id || d.Pids.Current < 1 || d.Pids.Limit != 50 || d.Memory.Usage.Usage == 0 ||
		d.CPU.Usage.Total == 0 || d.Blkio == nil || d.Hugetlb == nil {
		t.Errorf("events --stats: want type stats, id %s, pids.current >= 1, pids.limit 50, memory and CPU usage > 0, blkio and hugetlb; got:\n%s", id, out)
	}

	ev2 := startTabox(t, cmdOpts{}, "events", "--interval", "50ms", id)
	poll(t, "three stats events", func() bool {
		o, _ := ev2.output()
		return strings.Count(o, `"type":"stats"`) >= 3
	})
	mustTabox(t, "kill", id, "KILL")
	stdout, stderr, code := ev2.wait()
	if code != 0 {
		t.Errorf("events: exit %d after the container stopped: %s", code, stderr)
	}
	for _, l := range lines(stdout) {
		if !json.Valid([]byte(l)) {
			t.Errorf("events printed a line that is not JSON: %q", l)
		}
	}
	waitForStatus(t, id, "stopped")
	deleteContainer(t, id, false)
	_, stderr, code = tabox(t, "events", "--stats", id)
	assertOneLineError(t, stderr, code, "does not exist")
}

// TestCgroupKillAll: kill --all reaches every process of the cgroup,
// children and an orphaned grandchild included, without a PID namespace.
func TestCgroupKillAll(t *testing.T) {
	t.Parallel()
	requireCgroupV1(t)
	bundle := newBundle(t, func(s *specs.Spec) {
		removeNamespace(s, specs.PIDNamespace)
		s.Process.Args = []string{"sh", "-c", "testinit sleep 120 & (testinit sleep 120 &); exec testinit sleep 120"}
	})
	id, p := createContainer(t, bundle)
	mustTabox(t, "start", id)
	dir := ctrlDir(t, "pids", id)
	var pids []int
	poll(t, "the container's 3 processes, ready for signals", func() bool {
		pids, _ = readPids(filepath.Join(dir, "cgroup.procs"))
		out, _ := p.output()
		return len(pids) == 3 && strings.Count(out, "ready") == 3
	})
	for _, pid := range pids {
		getEnv(t).notePid(id, pid)
	}
	mustTabox(t, "kill", "--all", id, "TERM")
	waitForStatus(t, id, "stopped")
	for _, pid := range reapPids(pids, pollTimeout) {
		t.Errorf("process %d survived kill --all TERM (%s)", pid, procDesc(pid))
	}
	if out, _ := p.output(); strings.Count(out, "signal TERM") != 3 {
		t.Errorf("want 3 processes reporting SIGTERM, got:\n%s", out)
	}
	deleteContainer(t, id, false)
	assertCgroupsGone(t, id)
}

// TestCgroupBadValues: limits the host cannot honour or that are invalid
// fail create with a clear one-line error, and leave no cgroup.
func TestCgroupBadValues(t *testing.T) {
	t.Parallel()
	requireCgroupV1(t)
	for _, tc := range []struct {
		name   string
		mutate func(s *specs.Spec)
		raw    func(cfg map[string]any) // edits config.json as JSON
		want   []string
	}{
		{"cpuset-outside-host", func(s *specs.Spec) { res(s).CPU = &specs.LinuxCPU{Cpus: "1000-1001"} }, nil, []string{"cpuset.cpus"}},
		{"unified-on-v1", func(s *specs.Spec) { res(s).Unified = map[string]string{"memory.high": "1000000"} }, nil, []string{"v2"}},
		{"negative-cpu-shares", nil, func(cfg map[string]any) {
			cfg["linux"].(map[string]any)["resources"] = map[string]any{"cpu": map[string]any{"shares": -512}}
		}, []string{"shares"}},
		{"swap-below-limit", func(s *specs.Spec) {
			res(s).Memory = &specs.LinuxMemory{Limit: ptrInt64(64 << 20), Swap: ptrInt64(32 << 20)}
		}, nil, []string{"swap"}},
		{"hugepages", func(s *specs.Spec) {
			res(s).HugepageLimits = []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}}
		}, nil, []string{"hugetlb cgroup controller is not available"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.name == "hugepages" && hierOf(t, "hugetlb") != nil {
				t.Skip("the host has a hugetlb hierarchy")
			}
			path := "/" + cgroupTag(t)
			removeCgroupsAtEnd(t, path)
			bundle := newBundle(t, func(s *specs.Spec) {
				s.Linux.CgroupsPath = path
				if tc.mutate != nil {
					tc.mutate(s)
				}
			})
			if tc.raw != nil {
				file := filepath.Join(bundle, "config.json")
				data, _ := os.ReadFile(file)
				var cfg map[string]any
				if err := json.Unmarshal(data, &cfg); err != nil {
					t.Fatal(err)
				}
				tc.raw(cfg)
				data, _ = json.Marshal(cfg)
				os.WriteFile(file, data, 0o644)
			}
			id := newID(t)
			_, stderr, code := tabox(t, "create", "--bundle", bundle, id)
			assertOneLineError(t, stderr, code, tc.want...)
			if tc.raw != nil && !strings.Contains(stderr, "config.json") {
				t.Errorf("error %q does not name config.json", strings.TrimSpace(stderr))
			}
			assertNoLeftovers(t, rootDir(t), id)
			assertCgroupsGone(t, path)
		})
	}
}

// TestCgroupSmallMemoryLimit: tabox's own Go code (the container's init
// until it is nearly done, and the process tabox exec starts) is not
// charged to the container: a container with a memory limit far below a
// Go runtime's needs runs, and tabox exec works in it. (Not with a cgroup
// namespace of the container's own: the init must join the cgroup before
// it creates one, see README.)
func TestCgroupSmallMemoryLimit(t *testing.T) {
	t.Parallel()
	requireCgroupV1(t)
	const limit = 512 << 10
	// busybox, not testinit: a Go program would not fit either.
	bundle := newBundle(t, func(s *specs.Spec) {
		s.Process.Args = []string{"sleep", "120"}
		res(s).Memory = &specs.LinuxMemory{Limit: ptrInt64(limit)}
	})
	id, _ := createContainer(t, bundle)
	mustTabox(t, "start", id)
	st := state(t, id)
	if st.Status != "running" {
		t.Fatalf("a container with a %d-byte memory limit is %q after start, want running", limit, st.Status)
	}
	pid := st.Pid
	if got := hostCgroupFile(t, pid, "memory", "memory.limit_in_bytes"); got != strconv.Itoa(limit) {
		t.Fatalf("the container's memory.limit_in_bytes %q, want %d", got, limit)
	}
	own, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The exec'd process ends in the container's cgroup, like the rest.
	out := mustTabox(t, "exec", id, "cat", "/proc/self/cgroup")
	if strings.TrimSpace(out) != strings.TrimSpace(string(own)) {
		t.Errorf("exec'd process cgroups:\n%s\nwant the container's:\n%s", out, own)
	}
	deleteContainer(t, id, true)
}

// hostCgroupFile reads a file of pid's cgroup of a v1 controller, from
// the host.
func hostCgroupFile(t *testing.T, pid int, ctrl, name string) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines(string(data)) {
		f := strings.SplitN(l, ":", 3)
		if len(f) == 3 && slices.Contains(strings.Split(f[1], ","), ctrl) {
			b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", ctrl, f[2], name))
			if err != nil {
				t.Fatal(err)
			}
			return strings.TrimSpace(string(b))
		}
	}
	t.Fatalf("pid %d has no %s cgroup", pid, ctrl)
	return ""
}
