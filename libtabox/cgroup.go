package libtabox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/sys/mountinfo"
	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/fs"
	"github.com/opencontainers/cgroups/fs2"
	"golang.org/x/sys/unix"

	"github.com/tabox/tabox/internal/sysfile"
)

// cgroupManager returns the manager of the container's cgroup. paths, when
// known (from the saved state), pins the v1 directories so that a later
// command finds the same cgroup whatever cgroup it runs in itself.
func cgroupManager(c *Cgroup, paths map[string]string) (cgroups.Manager, error) {
	res := c.Resources
	if res == nil {
		res = &cgroups.Resources{}
	}
	cg := &cgroups.Cgroup{Path: c.Path, Resources: res, Rootless: os.Geteuid() != 0}
	if cgroups.IsCgroup2UnifiedMode() {
		dir := ""
		if paths != nil {
			dir = paths[""]
		}
		return fs2.NewManager(cg, dir)
	}
	if len(res.Unified) > 0 {
		return nil, errors.New("linux.resources.unified needs cgroup v2; this host has cgroup v1")
	}
	if paths == nil {
		// Where it fails, the library works the paths out and says why.
		paths, _ = v1RelativePaths(c.Path)
	}
	return fs.NewManager(cg, paths)
}

// ownCgroups reads /proc/self/cgroup as cgroups.ParseCgroupFile does: the
// path of tabox's cgroup by controller, "name=..." for named hierarchies
// and "" for the v2 one.
func ownCgroups() (map[string]string, error) {
	data, err := sysfile.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	out := make(map[string]string)
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("/proc/self/cgroup: bad line %q", line)
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out, nil
}

// v1Controllers are the v1 hierarchies the cgroup library puts a container
// in, by the name /proc/self/cgroup gives them ("name=systemd" also
// matches "systemd").
var v1Controllers = []string{"cpuset", "devices", "memory", "cpu", "cpuacct", "pids", "blkio",
	"hugetlb", "net_cls", "net_prio", "perf_event", "freezer", "rdma", "name=systemd", "misc"}

// cgroupMounts are the process's cgroup mounts, read once: create needs
// them for the cgroup's paths and for the C init's cgroup mount. (The
// cgroup library reads them with package os, through the runtime's poller.)
var cgroupMounts = sync.OnceValues(func() ([]*mountinfo.Info, error) {
	mounts, err := getMounts(func(i *mountinfo.Info) (skip, stop bool) {
		return i.FSType != "cgroup" && i.FSType != "cgroup2", false
	})
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	return mounts, nil
})

// v1Mount finds the v1 hierarchy of subsystem among mounts, as the cgroup
// library's FindCgroupMountpointAndRoot does: its mount point and the
// root of the mount in the hierarchy.
func v1Mount(mounts []*mountinfo.Info, subsystem string) (mnt, root string, ok bool) {
	for _, m := range mounts {
		if m.FSType == "cgroup" && slices.Contains(strings.Split(m.VFSOptions, ","), subsystem) {
			return m.Mountpoint, m.Root, true
		}
	}
	return "", "", false
}

// v1RelativePaths works out the directories of a v1 cgroup whose path is
// relative to tabox's own cgroup, as the cgroup library does, but with one
// read of /proc/self/cgroup: the library reads it once per controller,
// which took 0.3 to 0.9 ms of every create. An absolute path, or anything
// unusual, is left to the library (nil, error).
func v1RelativePaths(path string) (map[string]string, error) {
	if path == "" || filepath.IsAbs(path) {
		return nil, errors.New("not a relative cgroup path")
	}
	inner := filepath.Clean("/" + path)[1:]
	own, err := ownCgroups()
	if err != nil {
		return nil, err
	}
	mounts, err := cgroupMounts()
	if err != nil {
		return nil, err
	}
	paths := make(map[string]string, len(v1Controllers)+1)
	for _, name := range v1Controllers {
		cg, ok := own[name]
		if !ok {
			cg, ok = own[cgroups.CgroupNamePrefix+name]
		}
		if !ok {
			if name == "devices" {
				// The library refuses a host without one.
				return nil, errors.New("no devices cgroup")
			}
			continue
		}
		mnt, root, ok := v1Mount(mounts, name)
		if !ok {
			if name != "devices" {
				continue
			}
			return nil, errors.New("no devices cgroup mount")
		}
		rel, err := filepath.Rel(root, cg)
		if err != nil {
			return nil, err
		}
		paths[name] = filepath.Join(mnt, rel, inner)
	}
	if _, ok := own[""]; ok && cgroups.IsCgroup2HybridMode() {
		// The library puts the v2 part of a hybrid host at the top of its
		// hierarchy, whatever tabox's own v2 cgroup.
		paths[""] = filepath.Join("/sys/fs/cgroup/unified", inner)
	}
	return paths, nil
}

// checkControllers refuses limits the host has no controller for: a limit
// that is silently not enforced is worse than an error.
func checkControllers(c *Cgroup) error {
	r := c.Resources
	if cgroups.IsCgroup2UnifiedMode() {
		if c.KernelMemory != 0 || c.KernelMemoryTCP != 0 {
			return errors.New("linux.resources.memory.kernel and kernelTCP need cgroup v1; this host has cgroup v2")
		}
		if r == nil {
			return nil
		}
		return checkControllersV2(r)
	}
	if r == nil {
		return nil
	}
	need := []struct {
		set        bool
		controller string
		field      string
	}{
		{len(r.HugetlbLimit) > 0, "hugetlb", "hugepageLimits"},
		{r.NetClsClassid != 0, "net_cls", "network.classID"},
		{len(r.NetPrioIfpriomap) > 0, "net_prio", "network.priorities"},
		{len(r.Rdma) > 0, "rdma", "rdma"},
		{r.PidsLimit != nil, "pids", "pids"},
		{r.Memory != 0 || r.MemoryReservation != 0 || r.MemorySwap != 0, "memory", "memory"},
		{r.BlkioWeight != 0 || len(r.BlkioWeightDevice) > 0 || len(r.BlkioThrottleReadBpsDevice) > 0 ||
			len(r.BlkioThrottleWriteBpsDevice) > 0 || len(r.BlkioThrottleReadIOPSDevice) > 0 ||
			len(r.BlkioThrottleWriteIOPSDevice) > 0, "blkio", "blockIO"},
	}
	for _, n := range need {
		if !n.set {
			continue
		}
		if _, err := cgroups.FindCgroupMountpoint("", n.controller); err != nil {
			return fmt.Errorf("linux.resources.%s: the %s cgroup controller is not available on this host", n.field, n.controller)
		}
	}
	if r.BlkioLeafWeight != 0 || hasLeafWeight(r) {
		if _, err := os.Stat("/sys/fs/cgroup/blkio/blkio.leaf_weight"); err != nil {
			return errors.New("linux.resources.blockIO.leafWeight: this kernel has no blkio.leaf_weight")
		}
	}
	return nil
}

func hasLeafWeight(r *cgroups.Resources) bool {
	for _, d := range r.BlkioWeightDevice {
		if d.LeafWeight != 0 {
			return true
		}
	}
	return false
}

// enterCgroup creates the container's cgroup, puts pid in it and applies
// the limits. It returns the manager, and the directories it created
// above the cgroup, so that the caller can undo it.
func enterCgroup(c *Cgroup, pid int) (cgroups.Manager, []string, error) {
	m, created, err := planCgroup(c)
	if err != nil {
		return nil, nil, err
	}
	if err := applyCgroup(m, c, created, pid, false); err != nil {
		if errors.Is(err, errCgroupNotMade) {
			return nil, nil, err
		}
		return m, created, err
	}
	return m, created, nil
}

// planCgroup checks that the host has what c needs and works out the
// cgroup's directories, creating nothing yet. It also returns the
// directories above them that creating them will make.
func planCgroup(c *Cgroup) (cgroups.Manager, []string, error) {
	if err := checkControllers(c); err != nil {
		return nil, nil, err
	}
	m, err := cgroupManager(c, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("cgroup %s: %w", c.Path, err)
	}
	return m, newParents(m.GetPaths()), nil
}

// errCgroupNotMade marks an applyCgroup error after which nothing is left
// to undo.
var errCgroupNotMade = errors.New("cgroup not made")

// applyCgroup creates the directories planCgroup worked out, puts pid in
// them (unless it is -1) and applies the limits. exactPids: the init is a
// single thread (the C one), and gets the pids limit as it is at once.
func applyCgroup(m cgroups.Manager, c *Cgroup, created []string, pid int, exactPids bool) error {
	if err := makeCgroup(m, c, created, pid); err != nil {
		return err
	}
	// pid is in the cgroup now: on failure the caller must kill it before
	// the cgroup can be removed.
	return setCgroupLimits(m, c, exactPids)
}

// makeCgroup creates the directories planCgroup worked out, ready to take
// processes (a v1 cpuset gets its parent's CPUs and nodes), and puts pid
// in them unless it is -1. On failure nothing is left.
func makeCgroup(m cgroups.Manager, c *Cgroup, created []string, pid int) error {
	if err := m.Apply(pid); err != nil {
		m.Destroy()
		removeParents(created)
		return fmt.Errorf("cgroup %s: %w: %w", c.Path, err, errCgroupNotMade)
	}
	return nil
}

// setCgroupLimits writes the limits of c into the cgroup m made.
func setCgroupLimits(m cgroups.Manager, c *Cgroup, exactPids bool) error {
	if err := setLimits(m, c, exactPids); err != nil {
		return fmt.Errorf("cgroup %s: %w", c.Path, err)
	}
	return nil
}

// newParents lists the ancestors of the cgroup directories that do not
// exist yet, deepest first: creating the cgroup makes them, and deleting
// the container removes them again.
func newParents(paths map[string]string) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range paths {
		for dir := filepath.Dir(p); dir != "/" && dir != "." && !seen[dir]; dir = filepath.Dir(dir) {
			seen[dir] = true
			if unix.Access(dir, unix.F_OK) == nil {
				break
			}
			out = append(out, dir)
		}
	}
	// Deepest first, so that each rmdir finds its directory empty.
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// removeParents removes the directories newParents found, unless another
// cgroup has appeared in them meanwhile.
func removeParents(dirs []string) {
	for _, d := range dirs {
		unix.Rmdir(d)
	}
}

// setLimits applies the limits of c. The device rules are tabox's own
// work, in the config's order (the runtime-spec: "in the listed order"):
// on v1 written one by one, on v2 an eBPF program (devfilter.go). The
// library's device code would bring eBPF and D-Bus libraries into the
// binary, which every command pays for at start-up.
func setLimits(m cgroups.Manager, c *Cgroup, exactPids bool) error {
	if c.Resources == nil {
		return nil
	}
	r := *withoutDevices(c.Resources)
	v1 := !cgroups.IsCgroup2UnifiedMode()
	// Until it executes the program the init is a Go program, whose
	// threads count as tasks: a limit below initThreads would leave it
	// unable to run. Such a limit is set to initThreads here, and to its
	// value by the init just before exec (it writes every pids limit then).
	if l := r.PidsLimit; !exactPids && l != nil && *l > 0 && *l < initThreads {
		n := int64(initThreads)
		r.PidsLimit = &n
	}
	res := &r
	if err := m.Set(res); err != nil {
		return fmt.Errorf("set limits: %w", err)
	}
	if !v1 {
		err := setDevicesV2(m.Path(""), c.Resources.Devices)
		// As the library did: a rootless container may lack the right to
		// attach a program, and its devices are the user's anyway.
		if err != nil && (os.Geteuid() != 0 || InUserNS()) {
			return nil
		}
		return err
	}
	if err := setDevicesV1(m.Path("devices"), c.Resources); err != nil {
		return err
	}
	mem := m.Path("memory")
	for _, k := range []struct {
		file  string
		value int64
	}{
		{"memory.kmem.limit_in_bytes", c.KernelMemory},
		{"memory.kmem.tcp.limit_in_bytes", c.KernelMemoryTCP},
	} {
		if k.value == 0 {
			continue
		}
		if mem == "" {
			return errors.New("linux.resources.memory: the memory cgroup controller is not available on this host")
		}
		if err := cgroups.WriteFile(mem, k.file, strconv.FormatInt(k.value, 10)); err != nil {
			return fmt.Errorf("set %s: %w", k.file, err)
		}
		// Since Linux 5.16 writes to memory.kmem.limit_in_bytes succeed and
		// do nothing: read back, so that an ignored limit is an error.
		if k.value > 0 {
			got, err := cgroups.ReadFile(mem, k.file)
			if err != nil {
				return fmt.Errorf("read %s: %w", k.file, err)
			}
			if v, err := strconv.ParseInt(strings.TrimSpace(got), 10, 64); err != nil || v != k.value {
				return fmt.Errorf("set %s to %d: this kernel does not enforce it (it reads back %s)", k.file, k.value, strings.TrimSpace(got))
			}
		}
	}
	return nil
}

// withoutDevices is r for the cgroup library: without device rules, which
// tabox applies itself.
func withoutDevices(r *cgroups.Resources) *cgroups.Resources {
	c := *r
	c.Devices, c.SkipDevices = nil, true
	return &c
}

// setDevicesV1 writes the device rules one by one into devices.allow and
// devices.deny.
func setDevicesV1(dir string, r *cgroups.Resources) error {
	if dir == "" || r.SkipDevices {
		return nil
	}
	// A new cgroup inherits its parent's allow-all: start from deny-all,
	// as the cgroup library and the v2 filter do, so that a device no rule
	// names is denied.
	if err := cgroups.WriteFile(dir, "devices.deny", "a *:* rwm"); err != nil {
		return fmt.Errorf("device rules: deny all: %w", err)
	}
	for _, rule := range r.Devices {
		file := "devices.deny"
		if rule.Allow {
			file = "devices.allow"
		}
		if err := cgroups.WriteFile(dir, file, rule.CgroupString()); err != nil {
			return fmt.Errorf("device rule %q: %w", rule.CgroupString(), err)
		}
	}
	return nil
}

// killCgroup kills every process of the container's cgroup, so that
// nothing survives it, not even a fork bomb.
func killCgroup(m cgroups.Manager) error {
	return signalCgroup(m, unix.SIGKILL)
}

// signalCgroup signals every process of the cgroup. SIGKILL goes through
// cgroup.kill on v2, and on v1 is sent with the cgroup frozen, so that no
// process can fork between the listing and the kill.
func signalCgroup(m cgroups.Manager, sig unix.Signal) error {
	if sig == unix.SIGKILL && cgroups.IsCgroup2UnifiedMode() {
		// cgroup.kill (Linux 5.14) kills every process, forking or not,
		// in one step.
		if err := os.WriteFile(filepath.Join(m.Path(""), "cgroup.kill"), []byte("1"), 0); err == nil {
			return nil
		}
	}
	frozen := false
	if sig == unix.SIGKILL {
		if err := m.Freeze(cgroups.Frozen); err == nil {
			frozen = true
		}
	}
	pids, err := m.GetAllPids()
	if err == nil {
		for _, pid := range pids {
			unix.Kill(pid, sig)
		}
	}
	if frozen {
		m.Freeze(cgroups.Thawed)
	}
	if err != nil {
		return fmt.Errorf("list cgroup processes: %w", err)
	}
	return nil
}

// killFinished kills every process of a container that is over: at a
// judge limit, or once its init has exited. It must be quick while the
// program keeps the CPUs busy. cgroup.kill does it on v2. On v1, freezing
// first needs each task to be scheduled once more, and the cgroup
// library thaws and retries meanwhile (300 ms measured on two loaded
// CPUs, the program running on all along): pids.max 0 instead stops every
// fork at once, and the processes are killed until none is left. The
// container's pids limit is lost with it, which is why only a container
// that is over gets this.
func killFinished(m cgroups.Manager) {
	dir := m.Path("pids")
	if cgroups.IsCgroup2UnifiedMode() || dir == "" || os.WriteFile(filepath.Join(dir, "pids.max"), []byte("0"), 0) != nil {
		killCgroup(m)
		return
	}
	// A fork that passed the limit just before it changed may add a
	// child after the listing: list again until the cgroup is empty.
	deadline := time.Now().Add(time.Second)
	for delay := 50 * time.Microsecond; time.Now().Before(deadline); delay = min(delay*2, 5*time.Millisecond) {
		pids, err := m.GetAllPids()
		if err != nil || len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			unix.Kill(pid, unix.SIGKILL)
		}
		time.Sleep(delay)
	}
}

// destroyCgroup removes the cgroup, retrying while the last processes of a
// killed container are still on their way out.
func destroyCgroup(m cgroups.Manager) error {
	var err error
	for delay := time.Millisecond; delay < 2*time.Second; delay *= 2 {
		if err = m.Destroy(); err == nil {
			return nil
		}
		time.Sleep(delay)
	}
	return fmt.Errorf("remove cgroup: %w", err)
}

// checkControllersV2 refuses limits whose controller the v2 hierarchy does
// not offer (a hybrid host keeps most controllers in v1 hierarchies).
func checkControllersV2(r *cgroups.Resources) error {
	data, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
	if err != nil {
		return fmt.Errorf("read cgroup.controllers: %w", err)
	}
	have := map[string]bool{}
	for _, c := range strings.Fields(string(data)) {
		have[c] = true
	}
	need := []struct {
		set        bool
		controller string
		field      string
	}{
		{r.Memory != 0 || r.MemoryReservation != 0 || r.MemorySwap != 0 || r.MemorySwappiness != nil || r.OomKillDisable, "memory", "memory"},
		{r.PidsLimit != nil, "pids", "pids"},
		{r.CpuShares != 0 || r.CpuWeight != 0 || r.CpuQuota != 0 || r.CpuPeriod != 0 || r.CpuBurst != nil || r.CPUIdle != nil, "cpu", "cpu"},
		{r.CpusetCpus != "" || r.CpusetMems != "", "cpuset", "cpu.cpus/mems"},
		{len(r.HugetlbLimit) > 0, "hugetlb", "hugepageLimits"},
		{len(r.Rdma) > 0, "rdma", "rdma"},
		{r.BlkioWeight != 0 || len(r.BlkioWeightDevice) > 0 || len(r.BlkioThrottleReadBpsDevice) > 0 ||
			len(r.BlkioThrottleWriteBpsDevice) > 0 || len(r.BlkioThrottleReadIOPSDevice) > 0 ||
			len(r.BlkioThrottleWriteIOPSDevice) > 0, "io", "blockIO"},
	}
	for _, n := range need {
		if n.set && !have[n.controller] {
			return fmt.Errorf("linux.resources.%s: the %s cgroup controller is not available on this host's cgroup v2 hierarchy", n.field, n.controller)
		}
	}
	if r.NetClsClassid != 0 || len(r.NetPrioIfpriomap) > 0 {
		return errors.New("linux.resources.network: net_cls and net_prio do not exist in cgroup v2")
	}
	return nil
}

// initThreads bounds the threads of tabox's init.
const initThreads = 64

// openPidsMax opens the container's pids.max for the init, which writes
// the limit just before it executes the program.
func openPidsMax(paths map[string]string) (*os.File, error) {
	dir := paths["pids"]
	if dir == "" {
		dir = paths[""]
	}
	if dir == "" {
		return nil, errors.New("linux.resources.pids: the pids cgroup controller is not available on this host")
	}
	return os.OpenFile(filepath.Join(dir, "pids.max"), os.O_WRONLY|unix.O_CLOEXEC, 0)
}

// pidsMaxValue is what pids.max takes for a limit: "max" for none.
func pidsMaxValue(limit int64) string {
	if limit <= 0 {
		return "max"
	}
	return strconv.FormatInt(limit, 10)
}

// primeCgroupMigration moves tabox into the cgroup it is already in, and
// waits for nothing. Every move of a process between cgroups takes the
// kernel's cgroup thread-group lock for writing, and when that lock has
// been idle, taking it waits for an RCU grace period: about 9 ms on the
// machines tabox is measured on, a third of a whole run. Run in its own
// goroutine while the init starts, this no-op move pays that wait; the
// move of the init that follows finds the lock ready. Errors do not
// matter: a refused move has waited all the same.
func primeCgroupMigration() {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		var dir string
		switch {
		case f[0] == "0" && f[1] == "":
			dir = filepath.Join("/sys/fs/cgroup", f[2])
			if cgroups.IsCgroup2HybridMode() {
				dir = filepath.Join("/sys/fs/cgroup/unified", f[2])
			}
		case f[1] != "" && !strings.Contains(f[1], "="):
			// The first v1 hierarchy: its directory is named after its
			// controllers (cpu,cpuacct may be mounted together).
			dir = filepath.Join("/sys/fs/cgroup", f[1], f[2])
		default:
			continue
		}
		os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0)
		return
	}
}
