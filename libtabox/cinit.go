package libtabox

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/opencontainers/cgroups"
	"github.com/tabox/tabox/libtabox/capability"
	"golang.org/x/sys/unix"

	"github.com/tabox/tabox/internal/sysfile"
)

// The C init (nsenter/cinit.c) sets up containers whose config needs only
// what it implements, which is what most containers need; every other
// config goes to the Go init. It never starts the Go runtime, and on
// cgroup v1 it joins the container's cgroup by itself, single-threaded,
// without the RCU grace period a move by pid waits for.

// cinitMagic opens and closes the C init's configuration.
const cinitMagic = 0x74626331

// Where the C init is used is a property of the config alone; TABOX_INIT=go
// forces the Go init, for comparing the two.
func useCInit(ic *initConfig, opts *CreateOpts) bool {
	cfg := ic.Config
	proc := cfg.Process
	if proc == nil || os.Getenv("TABOX_INIT") == "go" || !haveOpenat2() {
		return false
	}
	if proc.Terminal || opts.Console != nil || proc.ApparmorProfile != "" || proc.SelinuxLabel != "" ||
		proc.Scheduler != nil || proc.IOPriority != nil || proc.ExecCPUAffinity != nil || cfg.Personality != nil {
		return false
	}
	if ic.Seccomp != nil && ic.Seccomp.Notify {
		return false
	}
	if caps := proc.Capabilities; caps != nil {
		// The Go init names a capability tabox lacks.
		if checkBounding(caps) != nil {
			return false
		}
		for _, set := range [][]int{caps.Bounding, caps.Effective, caps.Inheritable, caps.Permitted, caps.Ambient} {
			for _, c := range set {
				if c < 0 || c >= 64 {
					return false
				}
			}
		}
	}
	if ic.Exec {
		return ic.ChrootPid == 0
	}
	if !cfg.HasNamespace(NEWNS) || cfg.NoPivot || cfg.HasNamespace(NEWTIME) || len(cfg.TimeOffsets) > 0 {
		return false
	}
	// A cgroup namespace, new or joined, changes the cgroup mount (new
	// hierarchies rather than the container's directories bound).
	if cfg.HasNamespace(NEWCGROUP) {
		return false
	}
	if path, ok := cfg.NamespacePath(NEWUSER); ok {
		if path != "" || needsIDMapHelpers(cfg) {
			return false
		}
	}
	h := &cfg.Hooks
	if len(h.CreateRuntime)+len(h.CreateContainer)+len(h.StartContainer) > 0 {
		return false
	}
	if len(cfg.Sysctl) > 0 || (ic.SelfOOMScoreAdj && cfg.OOMScoreAdj != nil) {
		return false
	}
	for i := range cfg.Mounts {
		m := &cfg.Mounts[i]
		if m.CopyUp || m.RecAttr != nil || m.IDMap != nil {
			return false
		}
	}
	for _, d := range cfg.Devices {
		if _, err := d.mknodMode(); err != nil {
			return false
		}
	}
	return true
}

// haveOpenat2 reports whether the kernel has openat2(2) (Linux 5.6), which
// the C init resolves every path inside the rootfs with.
var haveOpenat2 = sync.OnceValue(func() bool {
	fd, err := unix.Openat2(unix.AT_FDCWD, "/", &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT})
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
})

// cinitEnc builds the C init's configuration: little-endian integers, and
// strings as a length, the bytes and a NUL. A string with a NUL of its own
// is an error (err): C would see less of it than tabox checked.
type cinitEnc struct {
	b   []byte
	err error
}

func (e *cinitEnc) u8(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}
func (e *cinitEnc) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *cinitEnc) u64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *cinitEnc) str(s string) {
	if strings.IndexByte(s, 0) >= 0 && e.err == nil {
		e.err = fmt.Errorf("%q: a NUL byte in a string of the config", s)
	}
	e.u32(uint32(len(s)))
	e.b = append(e.b, s...)
	e.b = append(e.b, 0)
}
func (e *cinitEnc) strs(v []string) {
	e.u32(uint32(len(v)))
	for _, s := range v {
		e.str(s)
	}
}

func capMask(caps []int) uint64 {
	var m uint64
	for _, c := range caps {
		m |= 1 << uint(c)
	}
	return m
}

// canCloneIntoCgroup reports whether tabox starts the C init in the
// container's v2 cgroup (clone3 CLONE_INTO_CGROUP, Linux 5.7): as root of
// the host, to which every cgroup is open, and unless that cgroup has a
// pids limit (a fork into it counts against the limit, where a move does
// not: an exec into a container at its limit must still work).
func canCloneIntoCgroup(c *Cgroup) bool {
	if os.Geteuid() != 0 || InUserNS() {
		return false
	}
	r := c.Resources
	return !(cgroups.IsCgroup2UnifiedMode() && r != nil && r.PidsLimit != nil && *r.PidsLimit > 0)
}

// encodeCInit encodes ic for the C init; useCInit(ic) holds.
func encodeCInit(ic *initConfig) ([]byte, error) {
	cfg := ic.Config
	proc := cfg.Process
	e := &cinitEnc{b: make([]byte, 8, 4096)}
	e.u8(ic.Exec)
	e.u32(uint32(len(ic.cgroupFds)))
	for _, fd := range ic.cgroupFds {
		e.u32(uint32(fd))
	}
	if ic.Exec {
		// Only the process: the container is set up.
		c := *cfg
		c.Mounts, c.Devices, c.MaskedPaths, c.ReadonlyPaths = nil, nil, nil, nil
		c.Hostname, c.Domainname, c.Cgroup, c.Readonly = "", "", nil, false
		c.Namespaces = nil
		cfg = &c
		ic = &initConfig{Config: cfg, Seccomp: ic.Seccomp, PreserveFds: ic.PreserveFds, NoNewKeyring: true, Exec: true, selfReady: ic.selfReady}
	}
	e.str(cfg.ID)
	e.u8(!ic.NoNewKeyring)
	e.u32(uint32(3 + ic.PreserveFds))
	e.str(ic.FifoPath)
	e.str(cfg.Rootfs)
	e.u64(uint64(cfg.RootPropagation))
	e.u8(cfg.Readonly)
	_, userns := cfg.NamespacePath(NEWUSER)
	e.u8(userns || InUserNS())
	// An init started with every capability ambient (setInitCredential)
	// clears them, as the Go init does.
	path, ok := cfg.NamespacePath(NEWUSER)
	e.u8(ok && path == "")

	hasCgroupMount := false
	e.u32(uint32(len(cfg.Mounts)))
	for i := range cfg.Mounts {
		m := &cfg.Mounts[i]
		hasCgroupMount = hasCgroupMount || m.Kind == MountCgroup
		e.b = append(e.b, byte(m.Kind))
		e.str(m.Source)
		e.str(m.Destination)
		e.str(m.Type)
		e.str(m.Data)
		e.u64(uint64(m.Flags))
		e.u64(uint64(m.ClearFlags))
		e.u32(uint32(len(m.PropagationFlags)))
		for _, p := range m.PropagationFlags {
			e.u64(uint64(p))
		}
	}
	if err := encodeCgroupMount(e, hasCgroupMount, ic.CgroupPaths); err != nil {
		return nil, err
	}

	e.u8(ic.Exec || devBoundFromHost(cfg))
	var devs []Device
	if !ic.Exec {
		devs = containerDevices(cfg)
	}
	e.u32(uint32(len(devs)))
	for _, d := range devs {
		mode, err := d.mknodMode()
		if err != nil {
			return nil, err
		}
		e.str(d.Path)
		e.u32(mode)
		e.u32(uint32(d.Major))
		e.u32(uint32(d.Minor))
		e.u32(d.UID)
		e.u32(d.GID)
	}
	e.str(cfg.Hostname)
	e.str(cfg.Domainname)
	e.strs(cfg.MaskedPaths)
	e.strs(cfg.ReadonlyPaths)

	e.strs(tasksFiles(ic.CgroupPaths))
	// tabox create makes the cgroup while the init mounts, and says when
	// it is there.
	e.u8(cfg.Cgroup != nil)
	cpu := cgroupCPUFile(ic.CgroupPaths)
	e.str(cpu)
	e.u8(filepath.Base(cpu) == "cpu.stat")

	e.str(proc.Cwd)
	e.strs(proc.Args)
	e.strs(proc.Env)
	e.u32(proc.UID)
	e.u32(proc.GID)
	e.u32(uint32(len(proc.AdditionalGids)))
	for _, g := range proc.AdditionalGids {
		e.u32(g)
	}
	e.u8(proc.Umask != nil)
	if proc.Umask != nil {
		e.u32(*proc.Umask)
	} else {
		e.u32(0)
	}
	e.u8(proc.NoNewPrivileges)
	caps := proc.Capabilities
	e.u8(caps != nil)
	if caps == nil {
		caps = &Capabilities{}
	}
	e.u64(capMask(caps.Effective))
	e.u64(capMask(caps.Permitted))
	e.u64(capMask(caps.Inheritable))
	e.u64(capMask(caps.Ambient))
	e.u64(capMask(caps.Bounding))
	e.u32(uint32(capability.Last()))
	e.u8(ic.selfReady)
	e.u32(uint32(len(proc.Rlimits)))
	for _, rl := range proc.Rlimits {
		e.u32(uint32(rl.Type))
		e.u64(rl.Soft)
		e.u64(rl.Hard)
		e.str(rl.Name)
	}
	if p := ic.Seccomp; p != nil {
		n := len(p.BPF) / sockFilterSize
		if n == 0 || len(p.BPF)%sockFilterSize != 0 || n > unix.BPF_MAXINSNS {
			return nil, fmt.Errorf("seccomp: load: invalid program of %d bytes", len(p.BPF))
		}
		e.u32(uint32(p.loadFlags()))
		e.u32(uint32(len(p.BPF)))
		e.b = append(e.b, p.BPF...)
	} else {
		e.u32(0)
		e.u32(0)
	}
	e.u32(cinitMagic)
	if e.err != nil {
		return nil, e.err
	}
	binary.LittleEndian.PutUint32(e.b[0:], cinitMagic)
	binary.LittleEndian.PutUint32(e.b[4:], uint32(len(e.b)-8))
	return e.b, nil
}

// encodeCgroupMount says how the C init makes a cgroup mount: a bind of
// the container's cgroup2 directory (or a new cgroup2), or on v1 a tmpfs
// with the container's directory of each hierarchy bound in, named as on
// the host (see rootfs.go, mountCgroup).
func encodeCgroupMount(e *cinitEnc, has bool, paths map[string]string) error {
	var st unix.Statfs_t
	v2 := has && unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
	e.u8(v2)
	e.str(paths[""])
	if !has || v2 {
		e.u32(0)
		return nil
	}
	mounts, err := cgroupMounts()
	if err != nil {
		return err
	}
	var binds [][2]string
	for _, h := range mounts {
		if filepath.Dir(h.Mountpoint) != "/sys/fs/cgroup" {
			continue
		}
		if p := paths[cgroupKey(h)]; p != "" {
			binds = append(binds, [2]string{filepath.Base(h.Mountpoint), p})
		}
	}
	e.u32(uint32(len(binds)))
	for _, b := range binds {
		e.str(b[0])
		e.str(b[1])
	}
	return nil
}

// selfReady reports whether the C init can set its rlimits itself and
// skip the ready round trip: when it has tabox's user namespace, and so
// tabox's power to raise a hard limit, and is in its cgroup by itself
// (joins), and there is no oom_score_adj for tabox to write. Each round
// trip is a wake-up of tabox on the init's way.
func selfReady(ic *initConfig, joins bool) bool {
	cfg := ic.Config
	if _, userns := cfg.NamespacePath(NEWUSER); !ic.cinit || userns || !joins {
		return false
	}
	return cfg.OOMScoreAdj == nil || ic.Exec
}

// tasksFiles lists the tasks file of each v1 hierarchy of the cgroup at
// paths (the v2 one, "", has none).
func tasksFiles(paths map[string]string) []string {
	var files []string
	for _, key := range sortedCgroupKeys(paths) {
		if key != "" {
			files = append(files, filepath.Join(paths[key], "tasks"))
		}
	}
	return files
}

// openFiles opens names with flag, all or none.
func openFiles(names []string, flag int) ([]*os.File, error) {
	var files []*os.File
	for _, name := range names {
		fd, err := sysfile.Open(name, flag, 0)
		if err != nil {
			closeFileList(files)
			return nil, err
		}
		files = append(files, os.NewFile(uintptr(fd), name))
	}
	return files, nil
}

// sendCgroupFiles tells the C init of a container that its cgroup is made,
// with the files it needs of it, opened here: in a user namespace it could
// not open them (see wait_cgroup in cinit.c). They are the tasks files it
// joins by, and the file of the cgroup's CPU usage.
func sendCgroupFiles(p *initProcess, ic *initConfig) error {
	files, err := openFiles(tasksFiles(ic.CgroupPaths), os.O_WRONLY)
	if err != nil {
		return fmt.Errorf("join cgroup: %w", err)
	}
	defer closeFileList(files)
	if cpu := cgroupCPUFile(ic.CgroupPaths); cpu != "" {
		f, err := openFiles([]string{cpu}, os.O_RDONLY)
		if err != nil {
			return err
		}
		files = append(files, f...)
	}
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = int(f.Fd())
	}
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	return unix.Sendmsg(p.sync.fd, []byte{'G'}, oob, nil, 0)
}

func sortedCgroupKeys(paths map[string]string) []string {
	keys := make([]string, 0, len(paths))
	for k := range paths {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func closeFileList(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}
