package specconv

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/opencontainers/cgroups"
	devices "github.com/opencontainers/cgroups/devices/config"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/tabox/tabox/libtabox"
)

// defaultDeviceRules are allowed in every container's cgroup after the
// spec's own linux.resources.devices rules, as runc does (its
// specconv.AllowedDevices): a spec cannot deny them. They cover the devices
// the runtime creates in every /dev, the terminal devices, and mknod of any
// character or block device (the node is useless without a read or write
// rule).
//
// /dev/net/tun is runc's list too: runc 1.2.0 dropped it, and 1.2.4 put it
// back because containers relied on it. /dev/console (5:1) is not listed: a
// container's console is a pseudo-terminal bound over /dev/console, which
// the 136:* rule covers.
var defaultDeviceRules = []devices.Rule{
	{Type: devices.CharDevice, Major: devices.Wildcard, Minor: devices.Wildcard, Permissions: "m", Allow: true},
	{Type: devices.BlockDevice, Major: devices.Wildcard, Minor: devices.Wildcard, Permissions: "m", Allow: true},
	{Type: devices.CharDevice, Major: 1, Minor: 3, Permissions: "rwm", Allow: true},                  // /dev/null
	{Type: devices.CharDevice, Major: 1, Minor: 8, Permissions: "rwm", Allow: true},                  // /dev/random
	{Type: devices.CharDevice, Major: 1, Minor: 7, Permissions: "rwm", Allow: true},                  // /dev/full
	{Type: devices.CharDevice, Major: 5, Minor: 0, Permissions: "rwm", Allow: true},                  // /dev/tty
	{Type: devices.CharDevice, Major: 1, Minor: 5, Permissions: "rwm", Allow: true},                  // /dev/zero
	{Type: devices.CharDevice, Major: 1, Minor: 9, Permissions: "rwm", Allow: true},                  // /dev/urandom
	{Type: devices.CharDevice, Major: 136, Minor: devices.Wildcard, Permissions: "rwm", Allow: true}, // /dev/pts/*
	{Type: devices.CharDevice, Major: 5, Minor: 2, Permissions: "rwm", Allow: true},                  // /dev/ptmx
	{Type: devices.CharDevice, Major: 10, Minor: 200, Permissions: "rwm", Allow: true},               // /dev/net/tun
}

// convertCgroup builds the container's cgroup from linux.cgroupsPath and
// linux.resources; devs are the already converted linux.devices, which are
// allowed in the device cgroup.
//
// A root runtime always gets a cgroup, so that every container is limited
// at least by the device rules and can be counted and killed as a whole. A
// rootless runtime gets none unless the spec asks for limits: an
// unprivileged user usually has no delegated cgroup to create it in, and a
// spec with limits should fail clearly rather than run unlimited.
//
// Everything is validated here, and nothing reads the host: whether a
// controller exists or is delegated is the runtime's business.
func convertCgroup(linux *specs.Linux, opts Opts, devs []libtabox.Device) (*libtabox.Cgroup, error) {
	res, err := convertResources(linux.Resources)
	if err != nil {
		return nil, err
	}
	var specRules []specs.LinuxDeviceCgroup
	if linux.Resources != nil {
		specRules = linux.Resources.Devices
	}
	rules, err := deviceRules(specRules, devs)
	if err != nil {
		return nil, err
	}
	path, err := cgroupPath(linux.CgroupsPath)
	if err != nil {
		return nil, err
	}
	if opts.Rootless && !hasLimits(res) {
		return nil, nil
	}
	if path == "" {
		// As runc does, the default is a cgroup named after the container,
		// relative to the runtime's own.
		if path, err = idCgroupPath(opts.ID); err != nil {
			return nil, err
		}
	}
	res.Devices = rules
	cg := &libtabox.Cgroup{Path: path, Resources: res}
	// Kernel memory limits exist only in cgroup v1, and the cgroup library
	// has no fields for them: the runtime writes them itself, and refuses
	// them on a v2 host.
	if m := linux.Resources; m != nil && m.Memory != nil {
		if k := m.Memory.Kernel; k != nil && *k != 0 {
			if *k < -1 {
				return nil, fmt.Errorf("linux.resources.memory.kernel: %d is below -1", *k)
			}
			cg.KernelMemory = *k
		}
		if k := m.Memory.KernelTCP; k != nil && *k != 0 {
			if *k < -1 {
				return nil, fmt.Errorf("linux.resources.memory.kernelTCP: %d is below -1", *k)
			}
			cg.KernelMemoryTCP = *k
		}
	}
	return cg, nil
}

// cgroupPath validates and cleans linux.cgroupsPath. An absolute path is
// from the root of each hierarchy, a relative one from the runtime's own
// cgroup; ".." may not climb out of either, and the path must name a
// cgroup below its base rather than the base itself.
func cgroupPath(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	if strings.IndexByte(p, 0) >= 0 {
		return "", fmt.Errorf("linux.cgroupsPath %q contains a NUL byte", p)
	}
	base := "the runtime's cgroup"
	if filepath.IsAbs(p) {
		base = "the cgroup root"
	}
	depth := 0
	for _, part := range strings.Split(p, "/") {
		switch part {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return "", fmt.Errorf("linux.cgroupsPath %q: \"..\" escapes %s", p, base)
			}
		default:
			depth++
		}
	}
	if depth == 0 {
		return "", fmt.Errorf("linux.cgroupsPath %q names %s itself, not a cgroup of the container's own", p, base)
	}
	return filepath.Clean(p), nil
}

// idCgroupPath is the default cgroup path: the container ID, relative.
func idCgroupPath(id string) (string, error) {
	switch {
	case id == "":
		return "", errors.New("linux.cgroupsPath is empty and no container ID was given to name the cgroup")
	case id == "." || id == ".." || strings.ContainsAny(id, "/\x00"):
		return "", fmt.Errorf("container ID %q cannot name a cgroup; set linux.cgroupsPath", id)
	}
	return id, nil
}

// hasLimits reports whether res asks for anything besides device rules.
func hasLimits(res *cgroups.Resources) bool {
	r := *res
	r.Devices = nil
	return !reflect.ValueOf(r).IsZero()
}

// convertResources converts everything of linux.resources but the device
// rules. Unset fields stay at the library's "unset" zero values.
func convertResources(r *specs.LinuxResources) (*cgroups.Resources, error) {
	out := &cgroups.Resources{}
	if r == nil {
		return out, nil
	}
	if err := convertMemory(out, r.Memory); err != nil {
		return nil, err
	}
	if err := convertCPU(out, r.CPU); err != nil {
		return nil, err
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		v := *r.Pids.Limit
		if v < -1 {
			return nil, fmt.Errorf("linux.resources.pids.limit: %d is invalid (want -1 for no limit, or a count)", v)
		}
		// 0 is passed on: the library writes it as the smallest limit, 1.
		out.PidsLimit = &v
	}
	if err := convertBlockIO(out, r.BlockIO); err != nil {
		return nil, err
	}
	if err := convertHugepages(out, r.HugepageLimits); err != nil {
		return nil, err
	}
	if err := convertNetwork(out, r.Network); err != nil {
		return nil, err
	}
	if err := convertRdma(out, r.Rdma); err != nil {
		return nil, err
	}
	if err := convertUnified(out, r.Unified); err != nil {
		return nil, err
	}
	return out, nil
}

func convertMemory(out *cgroups.Resources, m *specs.LinuxMemory) error {
	if m == nil {
		return nil
	}
	for _, f := range []struct {
		name string
		in   *int64
		out  *int64
	}{
		{"limit", m.Limit, &out.Memory},
		{"reservation", m.Reservation, &out.MemoryReservation},
		{"swap", m.Swap, &out.MemorySwap},
	} {
		if f.in == nil {
			continue
		}
		if *f.in < -1 {
			return fmt.Errorf("linux.resources.memory.%s: %d is invalid (want -1 for unlimited, or bytes)", f.name, *f.in)
		}
		*f.out = *f.in
	}
	// Swap is the limit of memory and swap together. 0 means unset and -1
	// unlimited; any other swap limit needs a memory limit it can contain.
	if swap, limit := out.MemorySwap, out.Memory; swap > 0 {
		if limit == 0 {
			return fmt.Errorf("linux.resources.memory.swap: %d needs a memory.limit", swap)
		}
		if limit > 0 && swap < limit {
			return fmt.Errorf("linux.resources.memory.swap must be >= memory.limit: swap %d < limit %d", swap, limit)
		}
	}
	if m.Swappiness != nil {
		v := *m.Swappiness
		if v > 100 {
			return fmt.Errorf("linux.resources.memory.swappiness: %d is out of range [0, 100]", v)
		}
		out.MemorySwappiness = &v
	}
	if m.DisableOOMKiller != nil {
		out.OomKillDisable = *m.DisableOOMKiller
	}
	// Hierarchical accounting is all cgroup v2 has, and memory.use_hierarchy
	// is always 1 on cgroup v1 since Linux 5.11, so the library has no field
	// (runc ignores it): true is what happens anyway, false cannot be
	// honoured.
	if m.UseHierarchy != nil && !*m.UseHierarchy {
		return errors.New("linux.resources.memory.useHierarchy: false is not supported (memory accounting is always hierarchical)")
	}
	if m.CheckBeforeUpdate != nil {
		out.MemoryCheckBeforeUpdate = *m.CheckBeforeUpdate
	}
	return nil
}

func convertCPU(out *cgroups.Resources, c *specs.LinuxCPU) error {
	if c == nil {
		return nil
	}
	if c.Shares != nil {
		out.CpuShares = *c.Shares
		// cgroup v2 has weights instead of shares; as runc does, convert
		// here so that either hierarchy gets the same configuration.
		out.CpuWeight = cgroups.ConvertCPUSharesToCgroupV2Value(*c.Shares)
	}
	if c.Quota != nil {
		if *c.Quota < -1 {
			return fmt.Errorf("linux.resources.cpu.quota: %d is invalid (want -1 for unlimited, or microseconds)", *c.Quota)
		}
		out.CpuQuota = *c.Quota
	}
	if c.Burst != nil {
		v := *c.Burst
		out.CpuBurst = &v
	}
	// The kernel's ranges (kernel/sched/core.c): checked here so that a bad
	// value fails before any limit is written, at create and at update.
	// A quota or period of 0 is unset, as for runc (the library writes
	// neither): engines send every field, 0 for those they leave alone
	// (docker update does).
	if c.Quota != nil && *c.Quota > 0 && *c.Quota < 1000 {
		return fmt.Errorf("linux.resources.cpu.quota: %d is below the kernel's minimum of 1000 µs", *c.Quota)
	}
	if c.Period != nil && *c.Period != 0 && (*c.Period < 1000 || *c.Period > 1000000) {
		return fmt.Errorf("linux.resources.cpu.period: %d is outside the kernel's range 1000–1000000 µs", *c.Period)
	}
	if c.Shares != nil && *c.Shares != 0 && *c.Shares < 2 {
		return fmt.Errorf("linux.resources.cpu.shares: %d is below the kernel's minimum of 2", *c.Shares)
	}
	if c.Period != nil {
		out.CpuPeriod = *c.Period
	}
	if c.RealtimeRuntime != nil {
		if *c.RealtimeRuntime < -1 {
			return fmt.Errorf("linux.resources.cpu.realtimeRuntime: %d is invalid (want -1 for unlimited, or microseconds)", *c.RealtimeRuntime)
		}
		out.CpuRtRuntime = *c.RealtimeRuntime
	}
	if c.RealtimePeriod != nil {
		out.CpuRtPeriod = *c.RealtimePeriod
	}
	out.CpusetCpus = c.Cpus
	out.CpusetMems = c.Mems
	if c.Idle != nil {
		v := *c.Idle
		if v != 0 && v != 1 {
			return fmt.Errorf("linux.resources.cpu.idle: %d is invalid (want 0 or 1)", v)
		}
		out.CPUIdle = &v
	}
	return nil
}

func convertBlockIO(out *cgroups.Resources, b *specs.LinuxBlockIO) error {
	if b == nil {
		return nil
	}
	if b.Weight != nil && *b.Weight != 0 && (*b.Weight < 10 || *b.Weight > 1000) {
		return fmt.Errorf("linux.resources.blockIO.weight: %d is outside the range 10–1000", *b.Weight)
	}
	if b.Weight != nil {
		out.BlkioWeight = *b.Weight
	}
	if b.LeafWeight != nil {
		out.BlkioLeafWeight = *b.LeafWeight
	}
	for i, wd := range b.WeightDevice {
		if wd.Major < 0 || wd.Minor < 0 {
			return fmt.Errorf("linux.resources.blockIO.weightDevice[%d]: negative device number %d:%d", i, wd.Major, wd.Minor)
		}
		var weight, leaf uint16
		if wd.Weight != nil {
			weight = *wd.Weight
		}
		if wd.LeafWeight != nil {
			leaf = *wd.LeafWeight
		}
		out.BlkioWeightDevice = append(out.BlkioWeightDevice, cgroups.NewWeightDevice(wd.Major, wd.Minor, weight, leaf))
	}
	for _, t := range []struct {
		name string
		in   []specs.LinuxThrottleDevice
		out  *[]*cgroups.ThrottleDevice
	}{
		{"throttleReadBpsDevice", b.ThrottleReadBpsDevice, &out.BlkioThrottleReadBpsDevice},
		{"throttleWriteBpsDevice", b.ThrottleWriteBpsDevice, &out.BlkioThrottleWriteBpsDevice},
		{"throttleReadIOPSDevice", b.ThrottleReadIOPSDevice, &out.BlkioThrottleReadIOPSDevice},
		{"throttleWriteIOPSDevice", b.ThrottleWriteIOPSDevice, &out.BlkioThrottleWriteIOPSDevice},
	} {
		for i, d := range t.in {
			if d.Major < 0 || d.Minor < 0 {
				return fmt.Errorf("linux.resources.blockIO.%s[%d]: negative device number %d:%d", t.name, i, d.Major, d.Minor)
			}
			*t.out = append(*t.out, cgroups.NewThrottleDevice(d.Major, d.Minor, d.Rate))
		}
	}
	return nil
}

// validPageSize checks a hugepage size as the hugetlb controller names its
// files ("2MB", "1GB", "64KB"): the size becomes part of a file name.
func validPageSize(s string) bool {
	n := len(s)
	if n < 2 || s[n-1] != 'B' || s[0] < '1' || s[0] > '9' {
		return false
	}
	s = s[:n-1]
	if i := len(s) - 1; strings.ContainsRune("KMGTP", rune(s[i])) {
		s = s[:i]
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func convertHugepages(out *cgroups.Resources, limits []specs.LinuxHugepageLimit) error {
	seen := make(map[string]bool, len(limits))
	for i, l := range limits {
		if !validPageSize(l.Pagesize) {
			return fmt.Errorf("linux.resources.hugepageLimits[%d]: invalid pageSize %q (want a size such as 2MB or 1GB)", i, l.Pagesize)
		}
		if seen[l.Pagesize] {
			return fmt.Errorf("linux.resources.hugepageLimits[%d]: duplicate pageSize %q", i, l.Pagesize)
		}
		seen[l.Pagesize] = true
		// The library also sets the reservation (rsvd) limit where the
		// kernel has it, as the runtime-spec asks.
		out.HugetlbLimit = append(out.HugetlbLimit, &cgroups.HugepageLimit{Pagesize: l.Pagesize, Limit: l.Limit})
	}
	return nil
}

func convertNetwork(out *cgroups.Resources, n *specs.LinuxNetwork) error {
	if n == nil {
		return nil
	}
	if n.ClassID != nil {
		out.NetClsClassid = *n.ClassID
	}
	for i, p := range n.Priorities {
		if !validIfName(p.Name) {
			return fmt.Errorf("linux.resources.network.priorities[%d]: invalid interface name %q", i, p.Name)
		}
		out.NetPrioIfpriomap = append(out.NetPrioIfpriomap, &cgroups.IfPrioMap{Interface: p.Name, Priority: int64(p.Priority)})
	}
	return nil
}

// validIfName is the kernel's dev_valid_name: the name is written into
// net_prio.ifpriomap followed by a space and the priority.
func validIfName(name string) bool {
	if name == "" || len(name) >= 16 || name == "." || name == ".." {
		return false
	}
	for _, r := range name {
		if r == '/' || r == ':' || r <= ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

func convertRdma(out *cgroups.Resources, in map[string]specs.LinuxRdma) error {
	if len(in) == 0 {
		return nil
	}
	out.Rdma = make(map[string]cgroups.LinuxRdma, len(in))
	for dev, l := range in {
		// The device name starts the line written to rdma.max.
		if dev == "" || strings.ContainsFunc(dev, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return fmt.Errorf("linux.resources.rdma: invalid device name %q", dev)
		}
		if l.HcaHandles == nil && l.HcaObjects == nil {
			return fmt.Errorf("linux.resources.rdma[%q]: sets neither hcaHandles nor hcaObjects", dev)
		}
		var cl cgroups.LinuxRdma
		if l.HcaHandles != nil {
			v := *l.HcaHandles
			cl.HcaHandles = &v
		}
		if l.HcaObjects != nil {
			v := *l.HcaObjects
			cl.HcaObjects = &v
		}
		out.Rdma[dev] = cl
	}
	return nil
}

// convertUnified copies linux.resources.unified, whose keys are file names
// of the container's cgroup v2 directory ("memory.high"). Whether the host
// has cgroup v2 and the controller is for the runtime to find out.
func convertUnified(out *cgroups.Resources, in map[string]string) error {
	if len(in) == 0 {
		return nil
	}
	out.Unified = make(map[string]string, len(in))
	for k, v := range in {
		ctrl, param, ok := strings.Cut(k, ".")
		if !ok || ctrl == "" || param == "" || strings.ContainsAny(k, "/\x00") {
			return fmt.Errorf("linux.resources.unified: invalid key %q (want CONTROLLER.PARAMETER, a file of the cgroup)", k)
		}
		out.Unified[k] = v
	}
	return nil
}

// deviceRules builds the device cgroup rules: the spec's
// linux.resources.devices in order, then defaultDeviceRules, then an allow
// rule for each of linux.devices (which the runtime-spec says must be
// available in the container). Rules are applied in order and the last
// matching one wins, so neither of the latter two can be denied by the spec.
func deviceRules(in []specs.LinuxDeviceCgroup, devs []libtabox.Device) ([]*devices.Rule, error) {
	out := make([]*devices.Rule, 0, len(in)+len(defaultDeviceRules)+len(devs))
	for i, d := range in {
		var t devices.Type
		switch d.Type {
		case "", "a":
			t = devices.WildcardDevice
		case "b":
			t = devices.BlockDevice
		case "c":
			t = devices.CharDevice
		default:
			return nil, fmt.Errorf("linux.resources.devices[%d]: invalid type %q (want a, b or c)", i, d.Type)
		}
		major, minor := int64(devices.Wildcard), int64(devices.Wildcard)
		if d.Major != nil {
			major = *d.Major
		}
		if d.Minor != nil {
			minor = *d.Minor
		}
		if major < devices.Wildcard || minor < devices.Wildcard {
			return nil, fmt.Errorf("linux.resources.devices[%d]: invalid device number %d:%d", i, major, minor)
		}
		if t == devices.WildcardDevice {
			// An "a" rule covers every device whatever its numbers.
			major, minor = devices.Wildcard, devices.Wildcard
		}
		perms, err := devicePermissions(d.Access)
		if err != nil {
			return nil, fmt.Errorf("linux.resources.devices[%d]: %w", i, err)
		}
		out = append(out, &devices.Rule{Type: t, Major: major, Minor: minor, Permissions: perms, Allow: d.Allow})
	}
	for i := range defaultDeviceRules {
		r := defaultDeviceRules[i]
		out = append(out, &r)
	}
	for _, d := range devs {
		var t devices.Type
		switch d.Type {
		case libtabox.CharDevice:
			t = devices.CharDevice
		case libtabox.BlockDevice:
			t = devices.BlockDevice
		default:
			// A FIFO is not governed by the device cgroup.
			continue
		}
		out = append(out, &devices.Rule{Type: t, Major: d.Major, Minor: d.Minor, Permissions: "rwm", Allow: true})
	}
	return out, nil
}

// devicePermissions checks a cgroup access string and returns it in the
// canonical "rwm" order the library expects.
func devicePermissions(access string) (devices.Permissions, error) {
	if access == "" {
		return "", errors.New("access is required (a combination of r, w and m)")
	}
	var r, w, m bool
	for _, c := range access {
		switch c {
		case 'r':
			r = true
		case 'w':
			w = true
		case 'm':
			m = true
		default:
			return "", fmt.Errorf("invalid access %q (want a combination of r, w and m)", access)
		}
	}
	var p string
	if r {
		p += "r"
	}
	if w {
		p += "w"
	}
	if m {
		p += "m"
	}
	return devices.Permissions(p), nil
}

// Resources converts a linux.resources section on its own, for tabox
// update of the container whose config is cur: the limits only. Device
// rules cannot be changed by update, but the section may carry the
// container's own: containerd's UpdateContainerResources (the kubelet's
// in-place resize) sends the container's whole linux.resources, devices
// included. Rules that differ from those cur was created with are an error.
func Resources(r *specs.LinuxResources, cur *libtabox.Config) (*cgroups.Resources, error) {
	if r != nil && len(r.Devices) > 0 {
		if err := sameDeviceRules(r.Devices, cur); err != nil {
			return nil, err
		}
	}
	return convertResources(r)
}

// sameDeviceRules checks that in, converted as convertCgroup does it, are
// the device rules of cur's cgroup.
func sameDeviceRules(in []specs.LinuxDeviceCgroup, cur *libtabox.Config) error {
	rules, err := deviceRules(in, cur.Devices)
	if err != nil {
		return err
	}
	var have []*devices.Rule
	if cur.Cgroup != nil && cur.Cgroup.Resources != nil {
		have = cur.Cgroup.Resources.Devices
	}
	same := len(rules) == len(have)
	for i := 0; same && i < len(rules); i++ {
		same = *rules[i] == *have[i]
	}
	if !same {
		return errors.New("linux.resources.devices cannot be changed by update: the rules differ from the container's")
	}
	return nil
}
