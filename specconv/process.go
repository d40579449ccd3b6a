package specconv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/tabox/tabox/libtabox"
	"github.com/tabox/tabox/libtabox/capability"
)

// rlimits maps the spec's rlimit names to this architecture's numbers.
var rlimits = map[string]int{
	"RLIMIT_AS":         unix.RLIMIT_AS,
	"RLIMIT_CORE":       unix.RLIMIT_CORE,
	"RLIMIT_CPU":        unix.RLIMIT_CPU,
	"RLIMIT_DATA":       unix.RLIMIT_DATA,
	"RLIMIT_FSIZE":      unix.RLIMIT_FSIZE,
	"RLIMIT_LOCKS":      unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK":    unix.RLIMIT_MEMLOCK,
	"RLIMIT_MSGQUEUE":   unix.RLIMIT_MSGQUEUE,
	"RLIMIT_NICE":       unix.RLIMIT_NICE,
	"RLIMIT_NOFILE":     unix.RLIMIT_NOFILE,
	"RLIMIT_NPROC":      unix.RLIMIT_NPROC,
	"RLIMIT_RSS":        unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO":     unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME":     unix.RLIMIT_RTTIME,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK":      unix.RLIMIT_STACK,
}

// The LSM probes are variables so that tests can pretend either way.
var (
	apparmorEnabled = func() bool {
		b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
		return err == nil && strings.TrimSpace(string(b)) == "Y"
	}
	selinuxEnabled = func() bool {
		_, err := os.Stat("/sys/fs/selinux/enforce")
		return err == nil
	}
)

func convertProcess(p *specs.Process) (*libtabox.Process, error) {
	if p == nil {
		return nil, nil
	}
	if err := checkProcessUnsupported(p); err != nil {
		return nil, err
	}
	if len(p.Args) == 0 {
		return nil, errors.New("process.args must not be empty")
	}
	for i, a := range p.Args {
		if strings.IndexByte(a, 0) >= 0 {
			return nil, fmt.Errorf("process.args[%d]: %q contains a NUL byte", i, a)
		}
	}
	for i, e := range p.Env {
		// execve would fail on a NUL and the process would misread an
		// entry without a name; better to say so at create.
		name, _, ok := strings.Cut(e, "=")
		if !ok || name == "" || strings.IndexByte(e, 0) >= 0 {
			return nil, fmt.Errorf("process.env[%d]: %q is not NAME=VALUE", i, e)
		}
	}
	if p.Cwd == "" {
		return nil, errors.New("process.cwd is required")
	}
	if !filepath.IsAbs(p.Cwd) {
		return nil, fmt.Errorf("process.cwd %q is not absolute", p.Cwd)
	}
	proc := &libtabox.Process{
		Terminal:        p.Terminal,
		Args:            append([]string(nil), p.Args...),
		Env:             append([]string(nil), p.Env...),
		Cwd:             filepath.Clean(p.Cwd),
		UID:             p.User.UID,
		GID:             p.User.GID,
		AdditionalGids:  append([]uint32(nil), p.User.AdditionalGids...),
		NoNewPrivileges: p.NoNewPrivileges,
		ApparmorProfile: p.ApparmorProfile,
		SelinuxLabel:    p.SelinuxLabel,
	}
	if p.ConsoleSize != nil {
		proc.ConsoleHeight, proc.ConsoleWidth = p.ConsoleSize.Height, p.ConsoleSize.Width
	}
	if p.User.Umask != nil {
		u := *p.User.Umask
		if u > 0o777 {
			return nil, fmt.Errorf("process.user.umask: %#o is not a umask", u)
		}
		proc.Umask = &u
	}
	var err error
	if proc.Rlimits, err = convertRlimits(p.Rlimits); err != nil {
		return nil, err
	}
	if proc.Capabilities, err = convertCapabilities(p.Capabilities); err != nil {
		return nil, err
	}
	if proc.Scheduler, err = convertScheduler(p.Scheduler); err != nil {
		return nil, err
	}
	if proc.IOPriority, err = convertIOPriority(p.IOPriority); err != nil {
		return nil, err
	}
	if proc.ExecCPUAffinity, err = convertCPUAffinity(p.ExecCPUAffinity); err != nil {
		return nil, err
	}
	return proc, nil
}

func checkProcessUnsupported(p *specs.Process) error {
	if p.User.Username != "" {
		return errors.New("process.user.username is not supported on Linux")
	}
	if p.CommandLine != "" {
		return errors.New("process.commandLine is not supported on Linux")
	}
	// runc refuses these too where the LSM is missing (later, from its
	// init): a profile asked for must never be silently dropped.
	if p.ApparmorProfile != "" && !apparmorEnabled() {
		return errors.New("process.apparmorProfile: AppArmor is not enabled on this host")
	}
	if p.SelinuxLabel != "" && !selinuxEnabled() {
		return errors.New("process.selinuxLabel: SELinux is not enabled on this host")
	}
	return nil
}

func convertRlimits(in []specs.POSIXRlimit) ([]libtabox.Rlimit, error) {
	var out []libtabox.Rlimit
	seen := make(map[string]bool, len(in))
	for i, r := range in {
		n, ok := rlimits[r.Type]
		if !ok {
			return nil, fmt.Errorf("process.rlimits[%d]: unknown rlimit type %q", i, r.Type)
		}
		if seen[r.Type] {
			return nil, fmt.Errorf("process.rlimits[%d]: duplicate rlimit type %q", i, r.Type)
		}
		seen[r.Type] = true
		if r.Soft > r.Hard {
			return nil, fmt.Errorf("process.rlimits[%d]: %s soft limit %d is above hard limit %d", i, r.Type, r.Soft, r.Hard)
		}
		out = append(out, libtabox.Rlimit{Type: n, Name: r.Type, Hard: r.Hard, Soft: r.Soft})
	}
	return out, nil
}

func convertCapabilities(in *specs.LinuxCapabilities) (*libtabox.Capabilities, error) {
	if in == nil {
		return nil, nil
	}
	var out libtabox.Capabilities
	for _, s := range []struct {
		name string
		in   []string
		out  *[]int
	}{
		{"bounding", in.Bounding, &out.Bounding},
		{"effective", in.Effective, &out.Effective},
		{"inheritable", in.Inheritable, &out.Inheritable},
		{"permitted", in.Permitted, &out.Permitted},
		{"ambient", in.Ambient, &out.Ambient},
	} {
		for i, name := range s.in {
			n, err := capability.Parse(name)
			if err != nil {
				return nil, fmt.Errorf("process.capabilities.%s[%d]: %w", s.name, i, err)
			}
			*s.out = append(*s.out, n)
		}
	}
	return &out, nil
}
