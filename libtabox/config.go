// Package libtabox creates and runs sandboxed containers.
//
// Config is the single contract between the spec converter (package
// specconv) and the runtime: it is typed and fully resolved, so that the
// container's init never parses anything. It is saved with the container's
// state and sent to the init unchanged.
package libtabox

import (
	"time"

	"github.com/opencontainers/cgroups"
)

// NamespaceType names a Linux namespace as the runtime-spec does.
type NamespaceType string

// The namespace types tabox knows.
const (
	NEWPID    NamespaceType = "pid"
	NEWNET    NamespaceType = "network"
	NEWNS     NamespaceType = "mount"
	NEWIPC    NamespaceType = "ipc"
	NEWUTS    NamespaceType = "uts"
	NEWUSER   NamespaceType = "user"
	NEWCGROUP NamespaceType = "cgroup"
	NEWTIME   NamespaceType = "time"
)

// Config describes a container: everything the runtime needs to set it up.
type Config struct {
	// ID is the container's ID; set by Create.
	ID string `json:"id,omitempty"`
	// Bundle is the absolute path of the bundle directory.
	Bundle string `json:"bundle"`
	// OCIVersion is the ociVersion of the bundle's config, reported by state.
	OCIVersion string `json:"ociVersion"`
	// Rootfs is the absolute host path of the container's root filesystem.
	Rootfs string `json:"rootfs"`
	// Readonly makes the root filesystem read-only after setup.
	Readonly bool `json:"readonly,omitempty"`
	// RootPropagation is the propagation applied (recursively) to the
	// container's mount namespace before any mount; zero means MS_SLAVE|MS_REC,
	// so that nothing mounted in the container propagates to the host.
	RootPropagation uintptr `json:"rootPropagation,omitempty"`
	// NoPivot uses MS_MOVE and chroot instead of pivot_root (for a rootfs on
	// ramfs, where pivot_root is not allowed).
	NoPivot bool `json:"noPivot,omitempty"`

	// Namespaces lists the namespaces of the container. A namespace without
	// Path is created; one with Path is joined. A type not listed is shared
	// with the runtime.
	Namespaces []Namespace `json:"namespaces,omitempty"`
	// UIDMappings and GIDMappings map ids in a new user namespace.
	UIDMappings []IDMap `json:"uidMappings,omitempty"`
	GIDMappings []IDMap `json:"gidMappings,omitempty"`
	// TimeOffsets are applied to a new time namespace, keyed by clock name
	// ("monotonic", "boottime").
	TimeOffsets map[string]TimeOffset `json:"timeOffsets,omitempty"`

	// Mounts are made in order, after the rootfs is bound.
	Mounts []Mount `json:"mounts,omitempty"`
	// Devices are created under /dev in addition to the default devices.
	Devices []Device `json:"devices,omitempty"`
	// MaskedPaths are made unreadable (a read-only tmpfs over directories,
	// /dev/null over files); paths that do not exist are skipped.
	MaskedPaths []string `json:"maskedPaths,omitempty"`
	// ReadonlyPaths are bound read-only over themselves.
	ReadonlyPaths []string `json:"readonlyPaths,omitempty"`

	// Hostname and Domainname are set when the container has its own UTS
	// namespace; empty means unchanged.
	Hostname   string `json:"hostname,omitempty"`
	Domainname string `json:"domainname,omitempty"`
	// Sysctl values are written under /proc/sys after pivot_root.
	Sysctl map[string]string `json:"sysctl,omitempty"`
	// Personality, when set, is the execution domain of the container's
	// processes (personality(2)): PER_LINUX or PER_LINUX32.
	Personality *uint32 `json:"personality,omitempty"`
	// OOMScoreAdj, when set, is written to the init's oom_score_adj.
	OOMScoreAdj *int `json:"oomScoreAdj,omitempty"`

	// Process is the user's process. Nil means the bundle has none: create
	// succeeds and start fails.
	Process *Process `json:"process,omitempty"`
	// Seccomp is the filter loaded just before exec; nil means no filter.
	Seccomp *Seccomp `json:"seccomp,omitempty"`
	// Cgroup is the container's cgroup; nil means none (a rootless
	// container that asks for no limits).
	Cgroup *Cgroup `json:"cgroup,omitempty"`
	// Hooks run at the points of the lifecycle the runtime-spec names.
	Hooks Hooks `json:"hooks,omitempty"`
	// Annotations are the bundle's annotations, reported by state.
	Annotations map[string]string `json:"annotations,omitempty"`
	// Limits are the judge limits a monitor enforces (zero: none).
	Limits Limits `json:"limits,omitempty"`
}

// Limits are the limits of a program run for a grader, which no cgroup
// enforces: a monitor watches them and kills the whole container.
type Limits struct {
	// WallTime is the wall-clock limit, counted from start.
	WallTime time.Duration `json:"wallTime,omitempty"`
	// CPUTime is the CPU time limit of the whole container (every process
	// and thread), user and system.
	CPUTime time.Duration `json:"cpuTime,omitempty"`
}

// Cgroup is where the container's processes go and what limits them.
type Cgroup struct {
	// Path is absolute (from the root of each hierarchy) or relative to the
	// cgroup tabox itself runs in, as linux.cgroupsPath says.
	Path string `json:"path"`
	// Resources are the limits, in the terms of the cgroup library; nil
	// means no limits.
	Resources *cgroups.Resources `json:"resources,omitempty"`
	// KernelMemory and KernelMemoryTCP are the v1 kmem limits, which the
	// cgroup library does not know; 0 leaves them alone.
	KernelMemory    int64 `json:"kernelMemory,omitempty"`
	KernelMemoryTCP int64 `json:"kernelMemoryTCP,omitempty"`
}

// Namespace is one namespace of the container.
type Namespace struct {
	Type NamespaceType `json:"type"`
	// Path, if set, names an existing namespace to join.
	Path string `json:"path,omitempty"`
}

// IDMap maps Size ids starting at ContainerID to HostID.
type IDMap struct {
	ContainerID uint32 `json:"containerID"`
	HostID      uint32 `json:"hostID"`
	Size        uint32 `json:"size"`
}

// TimeOffset is a clock offset of a time namespace.
type TimeOffset struct {
	Secs     int64  `json:"secs"`
	Nanosecs uint32 `json:"nanosecs"`
}

// MountKind says how a mount is made.
type MountKind int

const (
	// MountFS mounts a new filesystem of type Type from Source.
	MountFS MountKind = iota
	// MountBind binds the host path Source (recursively if Flags has MS_REC).
	MountBind
	// MountCgroup mounts the container's view of the cgroup hierarchy.
	MountCgroup
)

// Mount is one entry of the container's mounts, already resolved.
type Mount struct {
	Kind MountKind `json:"kind"`
	// Source is an absolute host path for binds, the fs source otherwise.
	Source string `json:"source"`
	// Destination is the absolute path inside the container.
	Destination string `json:"destination"`
	// Type is the filesystem type for MountFS.
	Type string `json:"type,omitempty"`
	// Flags are the MS_* flags of the mount itself.
	Flags uintptr `json:"flags,omitempty"`
	// ClearFlags are MS_* flags explicitly negated in the options (e.g.
	// "rw", "suid"); for a bind they are cleared on the remount.
	ClearFlags uintptr `json:"clearFlags,omitempty"`
	// PropagationFlags are applied one after another once mounted.
	PropagationFlags []uintptr `json:"propagationFlags,omitempty"`
	// Data is the comma-separated fs-specific options.
	Data string `json:"data,omitempty"`
	// CopyUp fills a new tmpfs with what the directory under it held
	// (podman's "tmpcopyup").
	CopyUp bool `json:"copyUp,omitempty"`
	// RecAttr changes the attributes of the mount and of every mount under
	// it once it is made ("rro", "rnosuid", …); nil changes nothing.
	RecAttr *MountAttr `json:"recAttr,omitempty"`
	// IDMap makes a bind an idmapped mount; nil: the ids of the source
	// filesystem are shown as they are.
	IDMap *MountIDMap `json:"idMap,omitempty"`
}

// MountAttr is a change of mount attributes, as MOUNT_ATTR_* bits of
// mount_setattr(2). An atime mode in Set comes with MOUNT_ATTR__ATIME in
// Clear: the atime modes are an enum, not flags.
type MountAttr struct {
	Set   uint64 `json:"set,omitempty"`
	Clear uint64 `json:"clear,omitempty"`
}

// MountIDMap is the id mapping of an idmapped bind mount: a file owned by
// id X on the source filesystem is seen through the mount as owned by the
// id X maps to (ContainerID is the filesystem's id, HostID the mount's).
// Exactly one of the mappings and UserNSPath is set.
type MountIDMap struct {
	UIDMappings []IDMap `json:"uidMappings,omitempty"`
	GIDMappings []IDMap `json:"gidMappings,omitempty"`
	// UserNSPath is a user namespace (the container's, joined by path)
	// whose mappings are used.
	UserNSPath string `json:"userNSPath,omitempty"`
	// Recursive maps every mount of a recursive bind ("ridmap"), not only
	// its top one.
	Recursive bool `json:"recursive,omitempty"`
}

// DeviceType is the kind of a device node.
type DeviceType rune

// Device node kinds.
const (
	CharDevice  DeviceType = 'c'
	BlockDevice DeviceType = 'b'
	FifoDevice  DeviceType = 'p'
)

// Device is a device node created in the container's /dev.
type Device struct {
	// Path is the absolute path inside the container.
	Path     string     `json:"path"`
	Type     DeviceType `json:"type"`
	Major    int64      `json:"major"`
	Minor    int64      `json:"minor"`
	FileMode uint32     `json:"fileMode"`
	UID      uint32     `json:"uid"`
	GID      uint32     `json:"gid"`
}

// Process is the process started in the container.
type Process struct {
	// Terminal asks for a pseudo-terminal as the process's stdio.
	Terminal bool `json:"terminal,omitempty"`
	// ConsoleHeight and ConsoleWidth, when set, are the terminal's size.
	ConsoleHeight uint `json:"consoleHeight,omitempty"`
	ConsoleWidth  uint `json:"consoleWidth,omitempty"`
	// Args is the command; Args[0] is looked up in the container's PATH
	// when it has no slash.
	Args []string `json:"args"`
	// Env is the process's environment, KEY=VALUE.
	Env []string `json:"env,omitempty"`
	// Cwd is the absolute working directory inside the container.
	Cwd string `json:"cwd"`

	// UID, GID and AdditionalGids are the ids inside the container.
	UID            uint32   `json:"uid"`
	GID            uint32   `json:"gid"`
	AdditionalGids []uint32 `json:"additionalGids,omitempty"`
	// Umask, if set, is the process's umask; nil leaves 0022.
	Umask *uint32 `json:"umask,omitempty"`

	// Rlimits are applied by the runtime with prlimit; an rlimit not listed
	// is inherited from the runtime.
	Rlimits []Rlimit `json:"rlimits,omitempty"`
	// Capabilities are the capability sets; nil keeps the runtime's sets.
	Capabilities *Capabilities `json:"capabilities,omitempty"`
	// NoNewPrivileges sets PR_SET_NO_NEW_PRIVS before exec.
	NoNewPrivileges bool `json:"noNewPrivileges,omitempty"`
	// ApparmorProfile and SelinuxLabel, when set, are what the process is
	// confined by from its exec on.
	ApparmorProfile string `json:"apparmorProfile,omitempty"`
	SelinuxLabel    string `json:"selinuxLabel,omitempty"`
	// Scheduler, when set, is the process's scheduling policy.
	Scheduler *Scheduler `json:"scheduler,omitempty"`
	// IOPriority, when set, is the process's I/O priority.
	IOPriority *IOPriority `json:"ioPriority,omitempty"`
	// ExecCPUAffinity applies to processes of tabox exec only (not to the
	// init, as the runtime-spec says).
	ExecCPUAffinity *CPUAffinity `json:"execCPUAffinity,omitempty"`
}

// Scheduler is a sched_setattr(2) request.
type Scheduler struct {
	// Policy is a SCHED_* number.
	Policy   uint32 `json:"policy"`
	Nice     int32  `json:"nice,omitempty"`
	Priority uint32 `json:"priority,omitempty"`
	// Flags are SCHED_FLAG_* bits.
	Flags uint64 `json:"flags,omitempty"`
	// Runtime, Deadline and Period are nanoseconds, for SCHED_DEADLINE.
	Runtime  uint64 `json:"runtime,omitempty"`
	Deadline uint64 `json:"deadline,omitempty"`
	Period   uint64 `json:"period,omitempty"`
}

// IOPriority is an ioprio_set(2) class and level.
type IOPriority struct {
	// Class is IOPRIO_CLASS_RT (1), _BE (2) or _IDLE (3).
	Class int `json:"class"`
	// Priority is the level within the class, 0 (highest) to 7.
	Priority int `json:"priority"`
}

// CPUAffinity is the CPU sets of an exec'd process: Initial while tabox
// moves it into the container's cgroup, Final from then on. Nil sets are
// left to the kernel.
type CPUAffinity struct {
	Initial []int `json:"initial,omitempty"`
	Final   []int `json:"final,omitempty"`
}

// Rlimit is one resource limit.
type Rlimit struct {
	// Type is the RLIMIT_* number.
	Type int `json:"type"`
	// Name is the RLIMIT_* name, kept for error messages.
	Name string `json:"name"`
	Hard uint64 `json:"hard"`
	Soft uint64 `json:"soft"`
}

// Capabilities are the five capability sets, as capability numbers.
// A nil set is empty.
type Capabilities struct {
	Bounding    []int `json:"bounding,omitempty"`
	Effective   []int `json:"effective,omitempty"`
	Inheritable []int `json:"inheritable,omitempty"`
	Permitted   []int `json:"permitted,omitempty"`
	Ambient     []int `json:"ambient,omitempty"`
}

// Hook is one hook command.
type Hook struct {
	Path string   `json:"path"`
	Args []string `json:"args,omitempty"`
	Env  []string `json:"env,omitempty"`
	// Timeout, when non-zero, kills the hook after that long.
	Timeout time.Duration `json:"timeout,omitempty"`
}

// Hooks are the lifecycle hooks of the runtime-spec.
type Hooks struct {
	Prestart        []Hook `json:"prestart,omitempty"`
	CreateRuntime   []Hook `json:"createRuntime,omitempty"`
	CreateContainer []Hook `json:"createContainer,omitempty"`
	StartContainer  []Hook `json:"startContainer,omitempty"`
	Poststart       []Hook `json:"poststart,omitempty"`
	Poststop        []Hook `json:"poststop,omitempty"`
}

// SeccompAction is a seccomp action, with SCMP_ACT_ERRNO's and
// SCMP_ACT_TRACE's value resolved.
type SeccompAction string

// The seccomp actions of the runtime-spec.
const (
	ActKill        SeccompAction = "SCMP_ACT_KILL"
	ActKillProcess SeccompAction = "SCMP_ACT_KILL_PROCESS"
	ActKillThread  SeccompAction = "SCMP_ACT_KILL_THREAD"
	ActTrap        SeccompAction = "SCMP_ACT_TRAP"
	ActErrno       SeccompAction = "SCMP_ACT_ERRNO"
	ActTrace       SeccompAction = "SCMP_ACT_TRACE"
	ActAllow       SeccompAction = "SCMP_ACT_ALLOW"
	ActLog         SeccompAction = "SCMP_ACT_LOG"
	ActNotify      SeccompAction = "SCMP_ACT_NOTIFY"
)

// SeccompOperator compares a syscall argument.
type SeccompOperator string

// The comparison operators of the runtime-spec.
const (
	OpNotEqual     SeccompOperator = "SCMP_CMP_NE"
	OpLessThan     SeccompOperator = "SCMP_CMP_LT"
	OpLessEqual    SeccompOperator = "SCMP_CMP_LE"
	OpEqualTo      SeccompOperator = "SCMP_CMP_EQ"
	OpGreaterEqual SeccompOperator = "SCMP_CMP_GE"
	OpGreaterThan  SeccompOperator = "SCMP_CMP_GT"
	OpMaskedEqual  SeccompOperator = "SCMP_CMP_MASKED_EQ"
)

// Seccomp is a seccomp filter.
type Seccomp struct {
	DefaultAction SeccompAction `json:"defaultAction"`
	// DefaultErrno is the errno of an ERRNO or TRACE default action.
	DefaultErrno uint `json:"defaultErrno,omitempty"`
	// Architectures are libseccomp names ("amd64", "x86", …) added to the
	// filter besides the native one.
	Architectures []string `json:"architectures,omitempty"`
	// Flags are SECCOMP_FILTER_FLAG_* names.
	Flags []string `json:"flags,omitempty"`
	// ListenerPath and ListenerMetadata configure SCMP_ACT_NOTIFY.
	ListenerPath     string        `json:"listenerPath,omitempty"`
	ListenerMetadata string        `json:"listenerMetadata,omitempty"`
	Syscalls         []SyscallRule `json:"syscalls,omitempty"`
}

// SyscallRule applies Action to the named syscalls when every Args
// condition holds.
type SyscallRule struct {
	Names  []string      `json:"names"`
	Action SeccompAction `json:"action"`
	// Errno is the errno of ERRNO and TRACE actions.
	Errno uint         `json:"errno,omitempty"`
	Args  []SeccompArg `json:"args,omitempty"`
}

// SeccompArg is one argument condition of a rule.
type SeccompArg struct {
	Index    uint            `json:"index"`
	Value    uint64          `json:"value"`
	ValueTwo uint64          `json:"valueTwo,omitempty"`
	Op       SeccompOperator `json:"op"`
}

// NamespacePath returns the path of the namespace of type t, whether the
// container has one, and whether it is joined rather than created.
func (c *Config) NamespacePath(t NamespaceType) (path string, ok bool) {
	for _, ns := range c.Namespaces {
		if ns.Type == t {
			return ns.Path, true
		}
	}
	return "", false
}

// HasNamespace reports whether the container has a namespace of type t,
// created or joined.
func (c *Config) HasNamespace(t NamespaceType) bool {
	_, ok := c.NamespacePath(t)
	return ok
}
