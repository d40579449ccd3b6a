package specconv

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/opencontainers/cgroups"
	devices "github.com/opencontainers/cgroups/devices/config"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/tabox/tabox/libtabox"
)

// withRes gives the spec a linux.resources section changed by f.
func withRes(f func(r *specs.LinuxResources)) func(s *specs.Spec) {
	return func(s *specs.Spec) {
		s.Linux.Resources = &specs.LinuxResources{}
		f(s.Linux.Resources)
	}
}

func rootless(o *Opts) { o.Rootless = true }

// inUserNS gives the spec the user namespace a rootless runtime needs, then
// applies mod.
func inUserNS(mod func(s *specs.Spec)) func(s *specs.Spec) {
	return func(s *specs.Spec) {
		userNS(s)
		if mod != nil {
			mod(s)
		}
	}
}

// checkRes checks that the config has a cgroup whose resources, devices
// aside, equal want.
func checkKmem(kernel, tcp int64) func(t *testing.T, c *libtabox.Config) {
	return func(t *testing.T, c *libtabox.Config) {
		t.Helper()
		if c.Cgroup == nil {
			t.Fatal("no cgroup")
		}
		if c.Cgroup.KernelMemory != kernel || c.Cgroup.KernelMemoryTCP != tcp {
			t.Errorf("kernel memory = %d, tcp %d; want %d, %d", c.Cgroup.KernelMemory, c.Cgroup.KernelMemoryTCP, kernel, tcp)
		}
	}
}

func checkRes(want cgroups.Resources) func(t *testing.T, c *libtabox.Config) {
	return func(t *testing.T, c *libtabox.Config) {
		t.Helper()
		if c.Cgroup == nil || c.Cgroup.Resources == nil {
			t.Fatalf("Cgroup = %+v, want resources", c.Cgroup)
		}
		got := *c.Cgroup.Resources
		got.Devices = nil
		if !reflect.DeepEqual(got, want) {
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(want)
			t.Errorf("Resources =\n%s\nwant\n%s", gj, wj)
		}
	}
}

func checkPath(want string) func(t *testing.T, c *libtabox.Config) {
	return func(t *testing.T, c *libtabox.Config) {
		t.Helper()
		if c.Cgroup == nil {
			t.Fatal("Cgroup is nil")
		}
		if c.Cgroup.Path != want {
			t.Errorf("Cgroup.Path = %q, want %q", c.Cgroup.Path, want)
		}
	}
}

func checkNoCgroup(t *testing.T, c *libtabox.Config) {
	t.Helper()
	if c.Cgroup != nil {
		t.Errorf("Cgroup = %+v, want nil", c.Cgroup)
	}
}

func TestConvertCgroupPath(t *testing.T) {
	path := func(p string) func(s *specs.Spec) { return func(s *specs.Spec) { s.Linux.CgroupsPath = p } }
	runCases(t, []convCase{
		{name: "default is the ID", check: checkPath("test")},
		{name: "absolute", mod: path("/tabox/x"), check: checkPath("/tabox/x")},
		{name: "absolute cleaned", mod: path("//tabox/./a/../x/"), check: checkPath("/tabox/x")},
		{name: "relative", mod: path("tabox/x"), check: checkPath("tabox/x")},
		{name: "relative cleaned", mod: path("./tabox//y/../x"), check: checkPath("tabox/x")},
		{name: "dotdot inside", mod: path("a/../b"), check: checkPath("b")},
		{name: "relative escapes", mod: path("../x"), wantErr: `linux.cgroupsPath "../x": ".." escapes the runtime's cgroup`},
		{name: "relative escapes late", mod: path("a/../../x"), wantErr: `".." escapes the runtime's cgroup`},
		{name: "absolute escapes", mod: path("/../x"), wantErr: `linux.cgroupsPath "/../x": ".." escapes the cgroup root`},
		{name: "absolute escapes late", mod: path("/a/../../x"), wantErr: `".." escapes the cgroup root`},
		{name: "root", mod: path("/"), wantErr: `linux.cgroupsPath "/" names the cgroup root itself`},
		{name: "root cleaned", mod: path("/a/.."), wantErr: `names the cgroup root itself`},
		{name: "dot", mod: path("."), wantErr: `linux.cgroupsPath "." names the runtime's cgroup itself`},
		{name: "dot cleaned", mod: path("a/.."), wantErr: `names the runtime's cgroup itself`},
		{name: "nul", mod: path("a\x00b"), wantErr: "contains a NUL byte"},
		{name: "no ID", opts: func(o *Opts) { o.ID = "" }, wantErr: "linux.cgroupsPath is empty and no container ID was given"},
		{name: "no ID with path", mod: path("x"), opts: func(o *Opts) { o.ID = "" }, check: checkPath("x")},
		{name: "ID with slash", opts: func(o *Opts) { o.ID = "a/b" }, wantErr: `container ID "a/b" cannot name a cgroup`},
		{name: "ID dotdot", opts: func(o *Opts) { o.ID = ".." }, wantErr: `container ID ".." cannot name a cgroup`},
		{name: "bad path even rootless", mod: inUserNS(path("../x")), opts: rootless, wantErr: "escapes"},
	})
}

func TestConvertCgroupRootless(t *testing.T) {
	runCases(t, []convCase{
		{name: "root without resources", check: func(t *testing.T, c *libtabox.Config) {
			checkPath("test")(t, c)
			checkRes(cgroups.Resources{})(t, c)
			if len(c.Cgroup.Resources.Devices) != len(defaultDeviceRules) {
				t.Errorf("Devices = %d rules, want the %d defaults", len(c.Cgroup.Resources.Devices), len(defaultDeviceRules))
			}
		}},
		{name: "rootless without resources", opts: rootless, mod: inUserNS(nil), check: checkNoCgroup},
		{name: "rootless without resources or ID", opts: func(o *Opts) { o.Rootless, o.ID = true, "" }, mod: inUserNS(nil), check: checkNoCgroup},
		{name: "rootless empty resources", opts: rootless, mod: inUserNS(withRes(func(r *specs.LinuxResources) {})), check: checkNoCgroup},
		{name: "rootless devices only", opts: rootless, mod: inUserNS(withRes(func(r *specs.LinuxResources) {
			r.Devices = []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}
		})), check: checkNoCgroup},
		{name: "rootless empty sections", opts: rootless, mod: inUserNS(withRes(func(r *specs.LinuxResources) {
			r.Memory, r.CPU, r.Pids, r.BlockIO, r.Network = &specs.LinuxMemory{}, &specs.LinuxCPU{}, &specs.LinuxPids{}, &specs.LinuxBlockIO{}, &specs.LinuxNetwork{}
		})), check: checkNoCgroup},
		{name: "rootless kernel memory only", opts: rootless, mod: inUserNS(withRes(func(r *specs.LinuxResources) {
			r.Memory = &specs.LinuxMemory{Kernel: ptr(int64(1 << 20))} //nolint:staticcheck // deprecated field under test
		})), check: checkNoCgroup},
		{name: "rootless bad device rule", opts: rootless, mod: inUserNS(withRes(func(r *specs.LinuxResources) {
			r.Devices = []specs.LinuxDeviceCgroup{{Type: "x", Access: "rwm"}}
		})), wantErr: "linux.resources.devices[0]: invalid type"},
		{name: "rootless with limits", opts: rootless, mod: inUserNS(withRes(func(r *specs.LinuxResources) {
			r.Pids = &specs.LinuxPids{Limit: ptr(int64(10))}
		})), check: func(t *testing.T, c *libtabox.Config) {
			checkPath("test")(t, c)
			checkRes(cgroups.Resources{PidsLimit: ptr(int64(10))})(t, c)
			if len(c.Cgroup.Resources.Devices) == 0 {
				t.Error("no device rules")
			}
		}},
		{name: "rootless with limits and no ID", opts: func(o *Opts) { o.Rootless, o.ID = true, "" }, mod: inUserNS(withRes(func(r *specs.LinuxResources) {
			r.Pids = &specs.LinuxPids{Limit: ptr(int64(10))}
		})), wantErr: "no container ID"},
	})
}

func TestConvertCgroupMemory(t *testing.T) {
	mem := func(m specs.LinuxMemory) func(s *specs.Spec) {
		return withRes(func(r *specs.LinuxResources) { r.Memory = &m })
	}
	runCases(t, []convCase{
		{name: "empty", mod: mem(specs.LinuxMemory{}), check: checkRes(cgroups.Resources{})},
		{name: "limit", mod: mem(specs.LinuxMemory{Limit: ptr(int64(1 << 20))}), check: checkRes(cgroups.Resources{Memory: 1 << 20})},
		{name: "limit unlimited", mod: mem(specs.LinuxMemory{Limit: ptr(int64(-1))}), check: checkRes(cgroups.Resources{Memory: -1})},
		{name: "limit invalid", mod: mem(specs.LinuxMemory{Limit: ptr(int64(-2))}), wantErr: "linux.resources.memory.limit: -2 is invalid"},
		{name: "reservation", mod: mem(specs.LinuxMemory{Reservation: ptr(int64(4096))}), check: checkRes(cgroups.Resources{MemoryReservation: 4096})},
		{name: "reservation invalid", mod: mem(specs.LinuxMemory{Reservation: ptr(int64(-5))}), wantErr: "linux.resources.memory.reservation: -5 is invalid"},
		{name: "swap", mod: mem(specs.LinuxMemory{Limit: ptr(int64(100)), Swap: ptr(int64(200))}),
			check: checkRes(cgroups.Resources{Memory: 100, MemorySwap: 200})},
		{name: "swap equal", mod: mem(specs.LinuxMemory{Limit: ptr(int64(100)), Swap: ptr(int64(100))}),
			check: checkRes(cgroups.Resources{Memory: 100, MemorySwap: 100})},
		{name: "swap unlimited", mod: mem(specs.LinuxMemory{Limit: ptr(int64(100)), Swap: ptr(int64(-1))}),
			check: checkRes(cgroups.Resources{Memory: 100, MemorySwap: -1})},
		{name: "swap with unlimited memory", mod: mem(specs.LinuxMemory{Limit: ptr(int64(-1)), Swap: ptr(int64(100))}),
			check: checkRes(cgroups.Resources{Memory: -1, MemorySwap: 100})},
		{name: "swap below limit", mod: mem(specs.LinuxMemory{Limit: ptr(int64(200)), Swap: ptr(int64(100))}),
			wantErr: "linux.resources.memory.swap must be >= memory.limit: swap 100 < limit 200"},
		{name: "swap without limit", mod: mem(specs.LinuxMemory{Swap: ptr(int64(100))}), wantErr: "linux.resources.memory.swap: 100 needs a memory.limit"},
		{name: "swap invalid", mod: mem(specs.LinuxMemory{Swap: ptr(int64(-3))}), wantErr: "linux.resources.memory.swap: -3 is invalid"},
		{name: "kernel", mod: mem(specs.LinuxMemory{Kernel: ptr(int64(1 << 20))}), //nolint:staticcheck // deprecated field under test
			check: checkKmem(1<<20, 0)},
		{name: "kernel invalid", mod: mem(specs.LinuxMemory{Kernel: ptr(int64(-2))}), //nolint:staticcheck // deprecated field under test
			wantErr: "linux.resources.memory.kernel: -2 is below -1"},
		{name: "kernelTCP", mod: mem(specs.LinuxMemory{KernelTCP: ptr(int64(1 << 20))}), check: checkKmem(0, 1<<20)},
		{name: "kernelTCP unlimited", mod: mem(specs.LinuxMemory{KernelTCP: ptr(int64(-1))}), check: checkKmem(0, -1)},
		{name: "kernelTCP invalid", mod: mem(specs.LinuxMemory{KernelTCP: ptr(int64(-5))}), wantErr: "linux.resources.memory.kernelTCP: -5 is below -1"},
		{name: "swappiness", mod: mem(specs.LinuxMemory{Swappiness: ptr(uint64(60))}), check: checkRes(cgroups.Resources{MemorySwappiness: ptr(uint64(60))})},
		{name: "swappiness zero", mod: mem(specs.LinuxMemory{Swappiness: ptr(uint64(0))}), check: checkRes(cgroups.Resources{MemorySwappiness: ptr(uint64(0))})},
		{name: "swappiness 100", mod: mem(specs.LinuxMemory{Swappiness: ptr(uint64(100))}), check: checkRes(cgroups.Resources{MemorySwappiness: ptr(uint64(100))})},
		{name: "swappiness too big", mod: mem(specs.LinuxMemory{Swappiness: ptr(uint64(101))}), wantErr: "linux.resources.memory.swappiness: 101 is out of range [0, 100]"},
		{name: "disableOOMKiller", mod: mem(specs.LinuxMemory{DisableOOMKiller: ptr(true)}), check: checkRes(cgroups.Resources{OomKillDisable: true})},
		{name: "disableOOMKiller false", mod: mem(specs.LinuxMemory{DisableOOMKiller: ptr(false)}), check: checkRes(cgroups.Resources{})},
		{name: "useHierarchy true", mod: mem(specs.LinuxMemory{UseHierarchy: ptr(true)}), check: checkRes(cgroups.Resources{})},
		{name: "useHierarchy false", mod: mem(specs.LinuxMemory{UseHierarchy: ptr(false)}), wantErr: "linux.resources.memory.useHierarchy: false is not supported"},
		{name: "checkBeforeUpdate", mod: mem(specs.LinuxMemory{CheckBeforeUpdate: ptr(true)}), check: checkRes(cgroups.Resources{MemoryCheckBeforeUpdate: true})},
	})
}

func TestConvertCgroupCPU(t *testing.T) {
	cpu := func(c specs.LinuxCPU) func(s *specs.Spec) {
		return withRes(func(r *specs.LinuxResources) { r.CPU = &c })
	}
	runCases(t, []convCase{
		{name: "empty", mod: cpu(specs.LinuxCPU{}), check: checkRes(cgroups.Resources{})},
		{name: "shares", mod: cpu(specs.LinuxCPU{Shares: ptr(uint64(1024))}),
			check: checkRes(cgroups.Resources{CpuShares: 1024, CpuWeight: cgroups.ConvertCPUSharesToCgroupV2Value(1024)})},
		{name: "shares 1", mod: cpu(specs.LinuxCPU{Shares: ptr(uint64(1))}), wantErr: "linux.resources.cpu.shares: 1 is below the kernel's minimum of 2"},
		{name: "shares 2", mod: cpu(specs.LinuxCPU{Shares: ptr(uint64(2))}), check: checkRes(cgroups.Resources{CpuShares: 2, CpuWeight: 1})},
		{name: "quota too small", mod: cpu(specs.LinuxCPU{Quota: ptr(int64(999))}), wantErr: "linux.resources.cpu.quota: 999 is below the kernel's minimum of 1000 µs"},
		// 0 is unset, as for runc: docker update sends it for what it leaves alone.
		{name: "quota and period zero", mod: cpu(specs.LinuxCPU{Shares: ptr(uint64(0)), Quota: ptr(int64(0)), Period: ptr(uint64(0))}), check: checkRes(cgroups.Resources{})},
		{name: "period too small", mod: cpu(specs.LinuxCPU{Period: ptr(uint64(1))}), wantErr: "linux.resources.cpu.period: 1 is outside the kernel's range 1000–1000000 µs"},
		{name: "period too large", mod: cpu(specs.LinuxCPU{Period: ptr(uint64(1000001))}), wantErr: "linux.resources.cpu.period: 1000001 is outside"},
		{name: "quota", mod: cpu(specs.LinuxCPU{Quota: ptr(int64(50000))}), check: checkRes(cgroups.Resources{CpuQuota: 50000})},
		{name: "quota unlimited", mod: cpu(specs.LinuxCPU{Quota: ptr(int64(-1))}), check: checkRes(cgroups.Resources{CpuQuota: -1})},
		{name: "quota invalid", mod: cpu(specs.LinuxCPU{Quota: ptr(int64(-2))}), wantErr: "linux.resources.cpu.quota: -2 is invalid"},
		{name: "burst", mod: cpu(specs.LinuxCPU{Burst: ptr(uint64(1000))}), check: checkRes(cgroups.Resources{CpuBurst: ptr(uint64(1000))})},
		{name: "period", mod: cpu(specs.LinuxCPU{Period: ptr(uint64(100000))}), check: checkRes(cgroups.Resources{CpuPeriod: 100000})},
		{name: "realtime", mod: cpu(specs.LinuxCPU{RealtimeRuntime: ptr(int64(950000)), RealtimePeriod: ptr(uint64(1000000))}),
			check: checkRes(cgroups.Resources{CpuRtRuntime: 950000, CpuRtPeriod: 1000000})},
		{name: "realtimeRuntime invalid", mod: cpu(specs.LinuxCPU{RealtimeRuntime: ptr(int64(-7))}), wantErr: "linux.resources.cpu.realtimeRuntime: -7 is invalid"},
		{name: "cpus and mems", mod: cpu(specs.LinuxCPU{Cpus: "0-3,7", Mems: "0"}), check: checkRes(cgroups.Resources{CpusetCpus: "0-3,7", CpusetMems: "0"})},
		{name: "idle", mod: cpu(specs.LinuxCPU{Idle: ptr(int64(1))}), check: checkRes(cgroups.Resources{CPUIdle: ptr(int64(1))})},
		{name: "idle zero", mod: cpu(specs.LinuxCPU{Idle: ptr(int64(0))}), check: checkRes(cgroups.Resources{CPUIdle: ptr(int64(0))})},
		{name: "idle invalid", mod: cpu(specs.LinuxCPU{Idle: ptr(int64(2))}), wantErr: "linux.resources.cpu.idle: 2 is invalid (want 0 or 1)"},
	})
}

func TestConvertCgroupPids(t *testing.T) {
	pids := func(l *int64) func(s *specs.Spec) {
		return withRes(func(r *specs.LinuxResources) { r.Pids = &specs.LinuxPids{Limit: l} })
	}
	runCases(t, []convCase{
		{name: "unset", mod: pids(nil), check: checkRes(cgroups.Resources{})},
		{name: "limit", mod: pids(ptr(int64(100))), check: checkRes(cgroups.Resources{PidsLimit: ptr(int64(100))})},
		{name: "zero", mod: pids(ptr(int64(0))), check: checkRes(cgroups.Resources{PidsLimit: ptr(int64(0))})},
		{name: "unlimited", mod: pids(ptr(int64(-1))), check: checkRes(cgroups.Resources{PidsLimit: ptr(int64(-1))})},
		{name: "invalid", mod: pids(ptr(int64(-2))), wantErr: "linux.resources.pids.limit: -2 is invalid"},
	})
}

func TestConvertCgroupBlockIO(t *testing.T) {
	bio := func(b specs.LinuxBlockIO) func(s *specs.Spec) {
		return withRes(func(r *specs.LinuxResources) { r.BlockIO = &b })
	}
	dev := func(major, minor int64) specs.LinuxBlockIODevice {
		return specs.LinuxBlockIODevice{Major: major, Minor: minor}
	}
	throttle := func(major, minor int64, rate uint64) []specs.LinuxThrottleDevice {
		return []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev(major, minor), Rate: rate}}
	}
	runCases(t, []convCase{
		{name: "weights", mod: bio(specs.LinuxBlockIO{Weight: ptr(uint16(500)), LeafWeight: ptr(uint16(300))}),
			check: checkRes(cgroups.Resources{BlkioWeight: 500, BlkioLeafWeight: 300})},
		{name: "weightDevice", mod: bio(specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{
			{LinuxBlockIODevice: dev(8, 0), Weight: ptr(uint16(400)), LeafWeight: ptr(uint16(200))},
			{LinuxBlockIODevice: dev(8, 16), Weight: ptr(uint16(100))},
		}}), check: checkRes(cgroups.Resources{BlkioWeightDevice: []*cgroups.WeightDevice{
			cgroups.NewWeightDevice(8, 0, 400, 200), cgroups.NewWeightDevice(8, 16, 100, 0),
		}})},
		{name: "weightDevice negative", mod: bio(specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{
			{LinuxBlockIODevice: dev(8, 0)}, {LinuxBlockIODevice: dev(-1, 0)},
		}}), wantErr: "linux.resources.blockIO.weightDevice[1]: negative device number -1:0"},
		{name: "throttleReadBps", mod: bio(specs.LinuxBlockIO{ThrottleReadBpsDevice: throttle(8, 0, 1000)}),
			check: checkRes(cgroups.Resources{BlkioThrottleReadBpsDevice: []*cgroups.ThrottleDevice{cgroups.NewThrottleDevice(8, 0, 1000)}})},
		{name: "throttleWriteBps", mod: bio(specs.LinuxBlockIO{ThrottleWriteBpsDevice: throttle(8, 1, 2000)}),
			check: checkRes(cgroups.Resources{BlkioThrottleWriteBpsDevice: []*cgroups.ThrottleDevice{cgroups.NewThrottleDevice(8, 1, 2000)}})},
		{name: "throttleReadIOPS", mod: bio(specs.LinuxBlockIO{ThrottleReadIOPSDevice: throttle(8, 2, 30)}),
			check: checkRes(cgroups.Resources{BlkioThrottleReadIOPSDevice: []*cgroups.ThrottleDevice{cgroups.NewThrottleDevice(8, 2, 30)}})},
		{name: "throttleWriteIOPS", mod: bio(specs.LinuxBlockIO{ThrottleWriteIOPSDevice: throttle(8, 3, 40)}),
			check: checkRes(cgroups.Resources{BlkioThrottleWriteIOPSDevice: []*cgroups.ThrottleDevice{cgroups.NewThrottleDevice(8, 3, 40)}})},
		{name: "throttle negative", mod: bio(specs.LinuxBlockIO{ThrottleWriteIOPSDevice: throttle(8, -3, 40)}),
			wantErr: "linux.resources.blockIO.throttleWriteIOPSDevice[0]: negative device number 8:-3"},
	})
}

func TestConvertCgroupHugepages(t *testing.T) {
	huge := func(l ...specs.LinuxHugepageLimit) func(s *specs.Spec) {
		return withRes(func(r *specs.LinuxResources) { r.HugepageLimits = l })
	}
	runCases(t, []convCase{
		{name: "limits", mod: huge(specs.LinuxHugepageLimit{Pagesize: "2MB", Limit: 1 << 21}, specs.LinuxHugepageLimit{Pagesize: "1GB", Limit: 0}),
			check: checkRes(cgroups.Resources{HugetlbLimit: []*cgroups.HugepageLimit{{Pagesize: "2MB", Limit: 1 << 21}, {Pagesize: "1GB"}}})},
		{name: "64KB", mod: huge(specs.LinuxHugepageLimit{Pagesize: "64KB", Limit: 1}),
			check: checkRes(cgroups.Resources{HugetlbLimit: []*cgroups.HugepageLimit{{Pagesize: "64KB", Limit: 1}}})},
		{name: "empty pageSize", mod: huge(specs.LinuxHugepageLimit{Limit: 1}), wantErr: `linux.resources.hugepageLimits[0]: invalid pageSize ""`},
		{name: "path pageSize", mod: huge(specs.LinuxHugepageLimit{Pagesize: "../2MB", Limit: 1}), wantErr: `invalid pageSize "../2MB"`},
		{name: "bad unit", mod: huge(specs.LinuxHugepageLimit{Pagesize: "2M", Limit: 1}), wantErr: `invalid pageSize "2M"`},
		{name: "duplicate", mod: huge(specs.LinuxHugepageLimit{Pagesize: "2MB"}, specs.LinuxHugepageLimit{Pagesize: "2MB"}),
			wantErr: `linux.resources.hugepageLimits[1]: duplicate pageSize "2MB"`},
	})
}

func TestConvertCgroupNetwork(t *testing.T) {
	net := func(n specs.LinuxNetwork) func(s *specs.Spec) {
		return withRes(func(r *specs.LinuxResources) { r.Network = &n })
	}
	runCases(t, []convCase{
		{name: "classID", mod: net(specs.LinuxNetwork{ClassID: ptr(uint32(0x100001))}), check: checkRes(cgroups.Resources{NetClsClassid: 0x100001})},
		{name: "priorities", mod: net(specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Name: "eth0", Priority: 5}, {Name: "lo", Priority: 2}}}),
			check: checkRes(cgroups.Resources{NetPrioIfpriomap: []*cgroups.IfPrioMap{{Interface: "eth0", Priority: 5}, {Interface: "lo", Priority: 2}}})},
		{name: "empty name", mod: net(specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Priority: 5}}}),
			wantErr: `linux.resources.network.priorities[0]: invalid interface name ""`},
		{name: "name with space", mod: net(specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Name: "lo", Priority: 1}, {Name: "eth0 9", Priority: 5}}}),
			wantErr: `linux.resources.network.priorities[1]: invalid interface name "eth0 9"`},
		{name: "name too long", mod: net(specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Name: "abcdefghijklmnop", Priority: 5}}}),
			wantErr: "invalid interface name"},
	})
}

func TestConvertCgroupRdmaUnified(t *testing.T) {
	runCases(t, []convCase{
		{name: "rdma", mod: withRes(func(r *specs.LinuxResources) {
			r.Rdma = map[string]specs.LinuxRdma{"mlx4_0": {HcaHandles: ptr(uint32(2)), HcaObjects: ptr(uint32(2000))}, "mlx5_1": {HcaObjects: ptr(uint32(5))}}
		}), check: checkRes(cgroups.Resources{Rdma: map[string]cgroups.LinuxRdma{
			"mlx4_0": {HcaHandles: ptr(uint32(2)), HcaObjects: ptr(uint32(2000))}, "mlx5_1": {HcaObjects: ptr(uint32(5))},
		}})},
		{name: "rdma empty entry", mod: withRes(func(r *specs.LinuxResources) { r.Rdma = map[string]specs.LinuxRdma{"mlx": {}} }),
			wantErr: `linux.resources.rdma["mlx"]: sets neither hcaHandles nor hcaObjects`},
		{name: "rdma bad name", mod: withRes(func(r *specs.LinuxResources) {
			r.Rdma = map[string]specs.LinuxRdma{"mlx hca_handle=9": {HcaHandles: ptr(uint32(1))}}
		}), wantErr: `linux.resources.rdma: invalid device name "mlx hca_handle=9"`},
		{name: "unified", mod: withRes(func(r *specs.LinuxResources) {
			r.Unified = map[string]string{"memory.high": "1G", "io.weight": "default 100"}
		}),
			check: checkRes(cgroups.Resources{Unified: map[string]string{"memory.high": "1G", "io.weight": "default 100"}})},
		{name: "unified slash", mod: withRes(func(r *specs.LinuxResources) { r.Unified = map[string]string{"../memory.max": "1"} }),
			wantErr: `linux.resources.unified: invalid key "../memory.max"`},
		{name: "unified no dot", mod: withRes(func(r *specs.LinuxResources) { r.Unified = map[string]string{"memory": "1"} }),
			wantErr: `linux.resources.unified: invalid key "memory"`},
		{name: "unified empty controller", mod: withRes(func(r *specs.LinuxResources) { r.Unified = map[string]string{".max": "1"} }),
			wantErr: `invalid key ".max"`},
	})
}

func rule(t devices.Type, major, minor int64, perms string, allow bool) devices.Rule {
	return devices.Rule{Type: t, Major: major, Minor: minor, Permissions: devices.Permissions(perms), Allow: allow}
}

func TestConvertCgroupDevices(t *testing.T) {
	rules := func(want ...devices.Rule) func(t *testing.T, c *libtabox.Config) {
		return func(t *testing.T, c *libtabox.Config) {
			t.Helper()
			if c.Cgroup == nil || c.Cgroup.Resources == nil {
				t.Fatalf("Cgroup = %+v", c.Cgroup)
			}
			var got []devices.Rule
			for _, r := range c.Cgroup.Resources.Devices {
				got = append(got, *r)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Devices =\n%v\nwant\n%v", got, want)
			}
		}
	}
	devs := func(d ...specs.LinuxDeviceCgroup) func(s *specs.Spec) {
		return withRes(func(r *specs.LinuxResources) { r.Devices = d })
	}
	defaults := append([]devices.Rule{}, defaultDeviceRules...)
	with := func(first []devices.Rule, last ...devices.Rule) []devices.Rule {
		out := append(append([]devices.Rule{}, first...), defaults...)
		return append(out, last...)
	}
	const w = devices.Wildcard
	runCases(t, []convCase{
		{name: "defaults", check: rules(defaults...)},
		{name: "deny all", mod: devs(specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"}),
			check: rules(with([]devices.Rule{rule('a', w, w, "rwm", false)})...)},
		{name: "typed rules", mod: devs(
			specs.LinuxDeviceCgroup{Allow: false, Type: "a", Access: "rwm"},
			specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptr(int64(10)), Minor: ptr(int64(229)), Access: "rw"},
			specs.LinuxDeviceCgroup{Allow: true, Type: "b", Major: ptr(int64(8)), Access: "r"},
			specs.LinuxDeviceCgroup{Allow: true, Type: "c", Minor: ptr(int64(-1)), Access: "mwr"},
		), check: rules(with([]devices.Rule{
			rule('a', w, w, "rwm", false),
			rule('c', 10, 229, "rw", true),
			rule('b', 8, w, "r", true),
			rule('c', w, w, "rwm", true),
		})...)},
		{name: "a ignores numbers", mod: devs(specs.LinuxDeviceCgroup{Type: "a", Major: ptr(int64(1)), Minor: ptr(int64(3)), Access: "r"}),
			check: rules(with([]devices.Rule{rule('a', w, w, "r", false)})...)},
		{name: "linux.devices allowed last", mod: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{
				{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229},
				{Path: "/dev/sda", Type: "b", Major: 8, Minor: 0},
				{Path: "/dev/fifo", Type: "p"},
				{Path: "/dev/ub", Type: "u", Major: 4, Minor: 64},
			}
			s.Linux.Resources = &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Access: "rwm"}}}
		}, check: rules(with([]devices.Rule{rule('a', w, w, "rwm", false)},
			rule('c', 10, 229, "rwm", true), rule('b', 8, 0, "rwm", true), rule('c', 4, 64, "rwm", true))...)},
		{name: "invalid type", mod: devs(specs.LinuxDeviceCgroup{Access: "r"}, specs.LinuxDeviceCgroup{Type: "p", Access: "r"}),
			wantErr: `linux.resources.devices[1]: invalid type "p" (want a, b or c)`},
		{name: "invalid type u", mod: devs(specs.LinuxDeviceCgroup{Type: "u", Access: "r"}), wantErr: `linux.resources.devices[0]: invalid type "u"`},
		{name: "empty access", mod: devs(specs.LinuxDeviceCgroup{Type: "c"}), wantErr: "linux.resources.devices[0]: access is required"},
		{name: "invalid access", mod: devs(specs.LinuxDeviceCgroup{Access: "r"}, specs.LinuxDeviceCgroup{Type: "c", Access: "rwx"}),
			wantErr: `linux.resources.devices[1]: invalid access "rwx"`},
		{name: "invalid major", mod: devs(specs.LinuxDeviceCgroup{Type: "c", Major: ptr(int64(-2)), Access: "r"}),
			wantErr: "linux.resources.devices[0]: invalid device number -2:-1"},
	})
}

func TestDefaultDeviceRules(t *testing.T) {
	want := []string{
		"c *:* m", "b *:* m",
		"c 1:3 rwm", "c 1:8 rwm", "c 1:7 rwm", "c 5:0 rwm", "c 1:5 rwm", "c 1:9 rwm",
		"c 136:* rwm", "c 5:2 rwm", "c 10:200 rwm",
	}
	var got []string
	for _, r := range defaultDeviceRules {
		if !r.Allow || !r.Permissions.IsValid() {
			t.Errorf("rule %s: allow %v, valid %v", r.CgroupString(), r.Allow, r.Permissions.IsValid())
		}
		got = append(got, r.CgroupString())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaultDeviceRules = %q, want %q", got, want)
	}
}

// TestConvertCgroupNoAliasing checks that converted rules do not share
// memory with defaultDeviceRules or with the spec.
func TestConvertCgroupNoAliasing(t *testing.T) {
	s := baseSpec()
	s.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr(int64(5))}}
	c, err := Convert(s, Opts{Bundle: newBundle(t), ID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range c.Cgroup.Resources.Devices {
		r.Allow = false
	}
	*c.Cgroup.Resources.PidsLimit = 7
	if !defaultDeviceRules[2].Allow {
		t.Error("changing a converted rule changed defaultDeviceRules")
	}
	if *s.Linux.Resources.Pids.Limit != 5 {
		t.Error("changing the converted pids limit changed the spec")
	}
}

// TestConvertCgroupJSON checks that the cgroup survives the trip to the
// container's init.
func TestConvertCgroupJSON(t *testing.T) {
	s := baseSpec()
	s.Linux.CgroupsPath = "/tabox/j"
	s.Linux.Resources = &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{{Access: "rwm"}},
		Memory:  &specs.LinuxMemory{Limit: ptr(int64(1 << 30)), Swappiness: ptr(uint64(0))},
		CPU:     &specs.LinuxCPU{Shares: ptr(uint64(512)), Idle: ptr(int64(0))},
		Pids:    &specs.LinuxPids{Limit: ptr(int64(64))},
	}
	c, err := Convert(s, Opts{Bundle: newBundle(t), ID: "j"})
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back libtabox.Config
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Cgroup, c.Cgroup) {
		t.Errorf("after JSON: %+v\nwant %+v", back.Cgroup, c.Cgroup)
	}
}

// TestResourcesDeviceRules: update takes the device rules a container was
// created with (containerd sends them with every update), and refuses
// others.
func TestResourcesDeviceRules(t *testing.T) {
	created := []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: ptr(int64(1)), Minor: ptr(int64(3)), Access: "rwm"},
	}
	s := baseSpec()
	s.Linux.Resources = &specs.LinuxResources{Devices: created}
	s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229}}
	cur, err := Convert(s, Opts{Bundle: newBundle(t), ID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	limit := int64(64 << 20)
	for _, tc := range []struct {
		name    string
		devices []specs.LinuxDeviceCgroup
		wantErr string
	}{
		{name: "none"},
		{name: "the container's", devices: created},
		{name: "one fewer", devices: created[:1], wantErr: "linux.resources.devices cannot be changed by update"},
		{name: "allow all", devices: []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}},
			wantErr: "linux.resources.devices cannot be changed by update"},
		{name: "other access", devices: []specs.LinuxDeviceCgroup{created[0], {Allow: true, Type: "c", Major: ptr(int64(1)), Minor: ptr(int64(3)), Access: "rw"}},
			wantErr: "linux.resources.devices cannot be changed by update"},
		{name: "invalid", devices: []specs.LinuxDeviceCgroup{{Type: "x", Access: "r"}},
			wantErr: `linux.resources.devices[0]: invalid type "x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Resources(&specs.LinuxResources{Devices: tc.devices, Memory: &specs.LinuxMemory{Limit: &limit}}, cur)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Resources error = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resources: %v", err)
			}
			if res.Memory != limit || len(res.Devices) != 0 {
				t.Errorf("Resources = memory %d, %d device rules; want %d and none (update leaves them)", res.Memory, len(res.Devices), limit)
			}
		})
	}
}

// TestValidPageSize: the hugepage size check takes what the pattern
// ^[1-9][0-9]*[KMGTP]?B$ takes, and nothing else.
func TestValidPageSize(t *testing.T) {
	re := regexp.MustCompile(`^[1-9][0-9]*[KMGTP]?B$`)
	for _, s := range []string{"", "B", "KB", "1B", "2MB", "1GB", "64KB", "10TB", "1PB", "0MB", "01MB", "1.5MB",
		"1KKB", "1Kb", "1kB", "2M", "MB", "1 MB", "1MBB", "99999999999999999999KB", "1\xffB", "2MB/../x"} {
		if got, want := validPageSize(s), re.MatchString(s); got != want {
			t.Errorf("validPageSize(%q) = %v, want %v", s, got, want)
		}
	}
}
