package libtabox

import (
	"errors"
	"fmt"

	"github.com/opencontainers/cgroups"
)

// errNoCgroup is returned by operations that need the container's cgroup
// when it has none (a rootless container that asked for no limits).
var errNoCgroup = errors.New("the container has no cgroup (a rootless container without limits)")

// frozen reports whether the container's cgroup is frozen.
func (c *Container) frozen() bool {
	m, err := c.cgroup()
	if err != nil || m == nil {
		return false
	}
	st, err := m.GetFreezerState()
	return err == nil && st == cgroups.Frozen
}

// Pause freezes every process of the container.
func Pause(root, id string) error {
	return freeze(root, id, cgroups.Frozen)
}

// Resume thaws a paused container.
func Resume(root, id string) error {
	return freeze(root, id, cgroups.Thawed)
}

func freeze(root, id string, want cgroups.FreezerState) error {
	dir, c, err := lockAndLoad(root, id)
	if err != nil {
		return err
	}
	defer dir.unlock()
	st := c.Status()
	switch {
	case want == cgroups.Frozen && st != Running && st != Created:
		return &StateError{Op: "pause", Status: st, Want: "running or created"}
	case want == cgroups.Thawed && st != Paused:
		return &StateError{Op: "resume", Status: st, Want: "paused"}
	}
	m, err := c.cgroup()
	if err != nil {
		return err
	}
	if m == nil {
		return errNoCgroup
	}
	if err := m.Freeze(want); err != nil {
		return fmt.Errorf("freezer: %w", err)
	}
	return nil
}

// Processes returns the host PIDs of every process of the container.
func (c *Container) Processes() ([]int, error) {
	if st := c.Status(); st == Stopped || st == Creating {
		return nil, ErrNotRunning
	}
	m, err := c.cgroup()
	if err != nil {
		return nil, err
	}
	if m == nil {
		return []int{c.state.InitPid}, nil
	}
	return m.GetAllPids()
}

// Stats returns the container's resource statistics.
func (c *Container) Stats() (*Stats, error) {
	if st := c.Status(); st == Stopped || st == Creating {
		return nil, ErrNotRunning
	}
	m, err := c.cgroup()
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errNoCgroup
	}
	s, err := m.GetStats()
	if err != nil {
		return nil, fmt.Errorf("read cgroup statistics: %w", err)
	}
	return convertStats(s), nil
}

// Update changes the limits of a live container: the fields set in r
// replace the current ones, the others stay.
func Update(root, id string, r *cgroups.Resources) error {
	dir, c, err := lockAndLoad(root, id)
	if err != nil {
		return err
	}
	defer dir.unlock()
	if st := c.Status(); st == Stopped || st == Creating {
		return &StateError{Op: "update", Status: st, Want: "created, running or paused"}
	}
	cg := c.state.Config.Cgroup
	m, err := c.cgroup()
	if err != nil {
		return err
	}
	if m == nil {
		return errNoCgroup
	}
	merged := mergeResources(cg.Resources, r)
	next := *cg
	next.Resources = merged
	if err := checkControllers(&next); err != nil {
		return err
	}
	// Devices are not changed by update: keep the library from rewriting
	// them.
	if err := m.Set(withoutDevices(merged)); err != nil {
		// The library writes one file after another: put back what was
		// already changed, so that the limits stay those of the state.
		if cg.Resources != nil {
			m.Set(withoutDevices(cg.Resources))
		}
		return fmt.Errorf("update limits: %w", err)
	}
	c.state.Config.Cgroup.Resources = merged
	return dir.save(c.state)
}

// mergeResources returns cur with every field set in upd replacing it.
func mergeResources(cur, upd *cgroups.Resources) *cgroups.Resources {
	out := &cgroups.Resources{}
	if cur != nil {
		*out = *cur
	}
	if upd == nil {
		return out
	}
	setI := func(dst *int64, v int64) {
		if v != 0 {
			*dst = v
		}
	}
	setU := func(dst *uint64, v uint64) {
		if v != 0 {
			*dst = v
		}
	}
	setI(&out.Memory, upd.Memory)
	setI(&out.MemoryReservation, upd.MemoryReservation)
	setI(&out.MemorySwap, upd.MemorySwap)
	setU(&out.CpuShares, upd.CpuShares)
	setU(&out.CpuWeight, upd.CpuWeight)
	setI(&out.CpuQuota, upd.CpuQuota)
	setU(&out.CpuPeriod, upd.CpuPeriod)
	setI(&out.CpuRtRuntime, upd.CpuRtRuntime)
	setU(&out.CpuRtPeriod, upd.CpuRtPeriod)
	if upd.CpuBurst != nil {
		out.CpuBurst = upd.CpuBurst
	}
	if upd.CpusetCpus != "" {
		out.CpusetCpus = upd.CpusetCpus
	}
	if upd.CpusetMems != "" {
		out.CpusetMems = upd.CpusetMems
	}
	if upd.PidsLimit != nil {
		out.PidsLimit = upd.PidsLimit
	}
	if upd.BlkioWeight != 0 {
		out.BlkioWeight = upd.BlkioWeight
	}
	if upd.BlkioWeightDevice != nil {
		out.BlkioWeightDevice = upd.BlkioWeightDevice
	}
	if upd.BlkioThrottleReadBpsDevice != nil {
		out.BlkioThrottleReadBpsDevice = upd.BlkioThrottleReadBpsDevice
	}
	if upd.BlkioThrottleWriteBpsDevice != nil {
		out.BlkioThrottleWriteBpsDevice = upd.BlkioThrottleWriteBpsDevice
	}
	if upd.BlkioThrottleReadIOPSDevice != nil {
		out.BlkioThrottleReadIOPSDevice = upd.BlkioThrottleReadIOPSDevice
	}
	if upd.BlkioThrottleWriteIOPSDevice != nil {
		out.BlkioThrottleWriteIOPSDevice = upd.BlkioThrottleWriteIOPSDevice
	}
	if upd.MemorySwappiness != nil {
		out.MemorySwappiness = upd.MemorySwappiness
	}
	if upd.HugetlbLimit != nil {
		out.HugetlbLimit = upd.HugetlbLimit
	}
	if upd.Unified != nil {
		if out.Unified == nil {
			out.Unified = map[string]string{}
		}
		for k, v := range upd.Unified {
			out.Unified[k] = v
		}
	}
	return out
}
