package libtabox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/cgroups"
	// Device rules are only enforced with the devices package linked in.
	_ "github.com/opencontainers/cgroups/devices"
	"github.com/opencontainers/cgroups/fs"
	"github.com/opencontainers/cgroups/fs2"
	"golang.org/x/sys/unix"
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
	return fs.NewManager(cg, paths)
}

// checkControllers refuses limits the host has no controller for: a limit
// that is silently not enforced is worse than an error.
func checkControllers(c *Cgroup) error {
	r := c.Resources
	if r == nil || cgroups.IsCgroup2UnifiedMode() {
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
// the limits. It returns the manager so that the caller can undo it.
func enterCgroup(c *Cgroup, pid int) (cgroups.Manager, error) {
	if err := checkControllers(c); err != nil {
		return nil, err
	}
	m, err := cgroupManager(c, nil)
	if err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", c.Path, err)
	}
	if err := m.Apply(pid); err != nil {
		m.Destroy()
		return nil, fmt.Errorf("cgroup %s: %w", c.Path, err)
	}
	if c.Resources != nil {
		if err := m.Set(c.Resources); err != nil {
			m.Destroy()
			return nil, fmt.Errorf("cgroup %s: set limits: %w", c.Path, err)
		}
	}
	return m, nil
}

// killCgroup kills every process of the container's cgroup, so that
// nothing survives it, not even a fork bomb: freeze, kill, thaw (v1), or
// cgroup.kill (v2).
func killCgroup(m cgroups.Manager) error {
	if cgroups.IsCgroup2UnifiedMode() {
		if err := os.WriteFile(filepath.Join(m.Path(""), "cgroup.kill"), []byte("1"), 0); err == nil {
			return nil
		}
	}
	return signalCgroup(m, unix.SIGKILL)
}

// signalCgroup signals every process of the cgroup. SIGKILL is sent with
// the cgroup frozen, so that no process can fork between the listing and
// the kill.
func signalCgroup(m cgroups.Manager, sig unix.Signal) error {
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
