package specconv

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/tabox/tabox/libtabox"
)

// SandboxOpts describe a program run by `tabox sandbox`: a container made
// from flags, without a bundle.
type SandboxOpts struct {
	// ID names the container; Rootfs is an empty directory tabox owns.
	ID, Rootfs string
	// Args is the program and its arguments.
	Args []string
	// Workdir is bound read-write at the same path and is the cwd.
	Workdir string
	// Mounts are "SRC[:DST[:rw]]" host paths to bind, read-only unless rw;
	// none means the host's /usr, /lib*, /bin, /sbin and /etc.
	Mounts []string
	Env    []string
	// UID and GID inside.
	UID, GID uint32
	// Proc mounts /proc.
	Proc bool
	// TmpSize is the size of /tmp's tmpfs in bytes.
	TmpSize int64
	// Memory (bytes, swap included), Pids (processes), FSize, Stack and
	// NoFile limits; 0 leaves a limit out.
	Memory, Pids         int64
	FSize, Stack, NoFile uint64
	CPUs                 string
	Limits               libtabox.Limits
	Seccomp              *libtabox.Seccomp
	Rootless             bool
	HostUID, HostGID     uint32
}

// defaultSandboxMounts are the host's system directories a program needs.
var defaultSandboxMounts = []string{"/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin", "/etc"}

// graderDenied are the syscalls graders deny: no network, no ptrace, no
// mounts or namespaces, no keyrings, no io_uring, no kernel modules.
var graderDenied = []string{
	"socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
	"ptrace", "process_vm_readv", "process_vm_writev",
	"mount", "umount", "umount2", "pivot_root", "chroot", "unshare", "setns",
	"fsopen", "fsmount", "fsconfig", "move_mount", "open_tree", "mount_setattr",
	"keyctl", "add_key", "request_key",
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	"init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
	"bpf", "perf_event_open", "userfaultfd", "reboot", "swapon", "swapoff",
	"acct", "settimeofday", "clock_settime", "adjtimex", "clock_adjtime",
}

// GraderSeccomp is the default filter of tabox sandbox.
func GraderSeccomp() *libtabox.Seccomp {
	return &libtabox.Seccomp{DefaultAction: libtabox.ActAllow,
		Syscalls: []libtabox.SyscallRule{{Names: graderDenied, Action: libtabox.ActErrno, Errno: uint(unix.EPERM)}}}
}

// Sandbox builds the configuration of a tabox sandbox run.
func Sandbox(o SandboxOpts) (*libtabox.Config, error) {
	if len(o.Args) == 0 {
		return nil, errors.New("sandbox: no program given (tabox sandbox [flags] -- PROGRAM ARGS…)")
	}
	cfg := &libtabox.Config{
		ID: o.ID, Bundle: o.Rootfs, OCIVersion: "1.3.0", Rootfs: o.Rootfs, Readonly: true,
		Hostname: "sandbox", Limits: o.Limits, Seccomp: o.Seccomp,
	}
	for _, t := range []libtabox.NamespaceType{libtabox.NEWPID, libtabox.NEWIPC, libtabox.NEWUTS, libtabox.NEWNS, libtabox.NEWNET} {
		cfg.Namespaces = append(cfg.Namespaces, libtabox.Namespace{Type: t})
	}
	if o.Rootless {
		cfg.Namespaces = append(cfg.Namespaces, libtabox.Namespace{Type: libtabox.NEWUSER})
		cfg.UIDMappings = []libtabox.IDMap{{ContainerID: o.UID, HostID: o.HostUID, Size: 1}}
		cfg.GIDMappings = []libtabox.IDMap{{ContainerID: o.GID, HostID: o.HostGID, Size: 1}}
	}
	// The tmpfs first: a --workdir or --mount under /tmp lands on it.
	tmp := "mode=1777"
	if o.TmpSize > 0 {
		tmp += fmt.Sprintf(",size=%d", o.TmpSize)
	}
	cfg.Mounts = append(cfg.Mounts,
		libtabox.Mount{Kind: libtabox.MountFS, Source: "tmpfs", Destination: "/tmp", Type: "tmpfs",
			Flags: unix.MS_NOSUID | unix.MS_NODEV, Data: tmp},
		libtabox.Mount{Kind: libtabox.MountFS, Source: "tmpfs", Destination: "/dev", Type: "tmpfs",
			Flags: unix.MS_NOSUID, Data: "mode=755,size=64k"})
	mounts := o.Mounts
	if len(mounts) == 0 {
		for _, m := range defaultSandboxMounts {
			if fi, err := os.Lstat(m); err == nil && (fi.IsDir() || fi.Mode()&os.ModeSymlink != 0) {
				mounts = append(mounts, m)
			}
		}
	}
	for _, spec := range mounts {
		m, err := sandboxBind(spec)
		if err != nil {
			return nil, err
		}
		cfg.Mounts = append(cfg.Mounts, m)
	}
	cwd := "/"
	if o.Workdir != "" {
		abs, err := filepath.Abs(o.Workdir)
		if err != nil {
			return nil, fmt.Errorf("--workdir: %w", err)
		}
		if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("--workdir %s: not a directory", abs)
		}
		cfg.Mounts = append(cfg.Mounts, libtabox.Mount{Kind: libtabox.MountBind, Source: abs, Destination: abs,
			Flags: unix.MS_BIND | unix.MS_REC | unix.MS_NOSUID | unix.MS_NODEV})
		cwd = abs
	}
	if o.Proc {
		cfg.Mounts = append(cfg.Mounts, libtabox.Mount{Kind: libtabox.MountFS, Source: "proc", Destination: "/proc",
			Type: "proc", Flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC})
		cfg.MaskedPaths = []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug"}
		cfg.ReadonlyPaths = []string{"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus"}
	}
	env := o.Env
	if !hasEnv(env, "PATH") {
		env = append([]string{"PATH=/usr/local/bin:/usr/bin:/bin"}, env...)
	}
	proc := &libtabox.Process{Args: o.Args, Env: env, Cwd: cwd, UID: o.UID, GID: o.GID,
		Capabilities: &libtabox.Capabilities{}, NoNewPrivileges: true}
	for _, rl := range []struct {
		name  string
		typ   int
		value uint64
	}{{"RLIMIT_FSIZE", unix.RLIMIT_FSIZE, o.FSize}, {"RLIMIT_STACK", unix.RLIMIT_STACK, o.Stack}, {"RLIMIT_NOFILE", unix.RLIMIT_NOFILE, o.NoFile}} {
		if rl.value > 0 {
			proc.Rlimits = append(proc.Rlimits, libtabox.Rlimit{Type: rl.typ, Name: rl.name, Soft: rl.value, Hard: rl.value})
		}
	}
	proc.Rlimits = append(proc.Rlimits, libtabox.Rlimit{Type: unix.RLIMIT_CORE, Name: "RLIMIT_CORE"})
	cfg.Process = proc
	// The default devices only: null, zero, full, random, urandom, tty.
	rules, err := deviceRules(nil, nil)
	if err != nil {
		return nil, err
	}
	res := &cgroups.Resources{Devices: rules}
	limited := false
	if o.Memory > 0 {
		// Swap counts as memory: the peak is then real memory.
		res.Memory, res.MemorySwap = o.Memory, o.Memory
		limited = true
	}
	if o.Pids > 0 {
		n := o.Pids
		res.PidsLimit = &n
		limited = true
	}
	if o.CPUs != "" {
		res.CpusetCpus = o.CPUs
		limited = true
	}
	if !o.Rootless || limited || o.Limits.CPUTime > 0 {
		cfg.Cgroup = &libtabox.Cgroup{Path: o.ID, Resources: res}
	}
	return cfg, nil
}

// sandboxBind parses "SRC[:DST[:rw]]" into a read-only (or rw) bind.
func sandboxBind(spec string) (libtabox.Mount, error) {
	parts := strings.Split(spec, ":")
	src := parts[0]
	dst := src
	rw := false
	switch len(parts) {
	case 1:
	case 2:
		if parts[1] == "rw" {
			rw = true
		} else {
			dst = parts[1]
		}
	case 3:
		dst = parts[1]
		if parts[2] != "rw" && parts[2] != "ro" {
			return libtabox.Mount{}, fmt.Errorf("--mount %q: the third field is rw or ro", spec)
		}
		rw = parts[2] == "rw"
	default:
		return libtabox.Mount{}, fmt.Errorf("--mount %q: want SRC[:DST[:rw]]", spec)
	}
	if !filepath.IsAbs(src) || !filepath.IsAbs(dst) {
		return libtabox.Mount{}, fmt.Errorf("--mount %q: paths must be absolute", spec)
	}
	if _, err := os.Stat(src); err != nil {
		return libtabox.Mount{}, fmt.Errorf("--mount %q: %w", spec, err)
	}
	flags := uintptr(unix.MS_BIND | unix.MS_REC | unix.MS_NOSUID | unix.MS_NODEV)
	if !rw {
		flags |= unix.MS_RDONLY
	}
	return libtabox.Mount{Kind: libtabox.MountBind, Source: filepath.Clean(src), Destination: filepath.Clean(dst), Flags: flags}, nil
}

func hasEnv(env []string, name string) bool {
	for _, e := range env {
		if strings.HasPrefix(e, name+"=") {
			return true
		}
	}
	return false
}

// SeccompFile reads a linux.seccomp section from a JSON file and converts
// it, for tabox sandbox --seccomp.
func SeccompFile(path string) (*libtabox.Seccomp, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--seccomp: %w", err)
	}
	var s specs.LinuxSeccomp
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("--seccomp %s: parse: %w", path, err)
	}
	out, err := convertSeccomp(&s)
	if err != nil {
		return nil, fmt.Errorf("--seccomp %s: %w", path, err)
	}
	return out, nil
}
