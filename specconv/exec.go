package specconv

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/tabox/tabox/libtabox"
	"github.com/tabox/tabox/libtabox/capability"
)

// ExecOpts describe the process of tabox exec: a whole process.json, or
// the container's own process with the command line's changes.
type ExecOpts struct {
	// Process, when set (--process), is the whole process; the other
	// fields are ignored, as with runc.
	Process *specs.Process
	// Args is the command; required without Process.
	Args []string
	// Env entries are added to (or replace those of) the container's.
	Env []string
	// Cwd, if set, replaces the container's.
	Cwd string
	// User is "UID[:GID]", numeric.
	User string
	// AdditionalGids are numeric group IDs.
	AdditionalGids []string
	// Caps are added to every capability set but the inheritable one.
	Caps []string
	// NoNewPrivs forces no_new_privs.
	NoNewPrivs bool
	// Terminal asks for a terminal.
	Terminal bool
	// Apparmor and ProcessLabel, if set, replace the container's.
	Apparmor, ProcessLabel string
}

// ExecProcess returns the process to execute in a container whose own
// process is base.
func ExecProcess(base *libtabox.Process, o ExecOpts) (*libtabox.Process, error) {
	if o.Process != nil {
		return convertProcess(o.Process)
	}
	if len(o.Args) == 0 {
		return nil, errors.New("exec: no command given (and no --process)")
	}
	p := &libtabox.Process{Cwd: "/"}
	if base != nil {
		cp := *base
		p = &cp
		p.Env = append([]string(nil), base.Env...)
		p.AdditionalGids = append([]uint32(nil), base.AdditionalGids...)
		if base.Capabilities != nil {
			c := *base.Capabilities
			p.Capabilities = &c
		}
	}
	p.Args = append([]string(nil), o.Args...)
	p.Terminal = o.Terminal
	for _, kv := range o.Env {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--env %q: not NAME=VALUE", kv)
		}
		p.Env = setEnv(p.Env, name, kv)
	}
	if o.Cwd != "" {
		if !strings.HasPrefix(o.Cwd, "/") {
			return nil, fmt.Errorf("--cwd %q: not an absolute path", o.Cwd)
		}
		p.Cwd = o.Cwd
	}
	if o.User != "" {
		uid, gid, err := parseUser(o.User)
		if err != nil {
			return nil, err
		}
		p.UID = uid
		if gid >= 0 {
			p.GID = uint32(gid)
		}
	}
	for _, g := range o.AdditionalGids {
		n, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--additional-gids %q: not a numeric group ID", g)
		}
		p.AdditionalGids = append(p.AdditionalGids, uint32(n))
	}
	if len(o.Caps) > 0 {
		if p.Capabilities == nil {
			p.Capabilities = &libtabox.Capabilities{}
		}
		c := p.Capabilities
		for _, name := range o.Caps {
			n, err := capability.Parse(name)
			if err != nil {
				return nil, fmt.Errorf("--cap: %w", err)
			}
			// Not the inheritable set: filled, it would let a program
			// with file capabilities gain them (CVE-2022-29162).
			c.Bounding = addCap(c.Bounding, n)
			c.Effective = addCap(c.Effective, n)
			c.Permitted = addCap(c.Permitted, n)
			if len(c.Ambient) > 0 || p.UID != 0 {
				c.Ambient = addCap(c.Ambient, n)
			}
		}
	}
	if o.NoNewPrivs {
		p.NoNewPrivileges = true
	}
	if o.Apparmor != "" {
		if !apparmorEnabled() {
			return nil, fmt.Errorf("--apparmor %q: AppArmor is not enabled on this host", o.Apparmor)
		}
		p.ApparmorProfile = o.Apparmor
	}
	if o.ProcessLabel != "" {
		if !selinuxEnabled() {
			return nil, fmt.Errorf("--process-label %q: SELinux is not enabled on this host", o.ProcessLabel)
		}
		p.SelinuxLabel = o.ProcessLabel
	}
	return p, nil
}

// parseUser parses "UID[:GID]"; gid is -1 when not given. Anything else
// is an error: a user that does not parse must never become root.
func parseUser(s string) (uint32, int64, error) {
	u, g, hasGID := strings.Cut(s, ":")
	uid, err := strconv.ParseUint(u, 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("--user %q: want a numeric UID[:GID]", s)
	}
	if !hasGID {
		return uint32(uid), -1, nil
	}
	gid, err := strconv.ParseUint(g, 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("--user %q: want a numeric UID[:GID]", s)
	}
	return uint32(uid), int64(gid), nil
}

func setEnv(env []string, name, kv string) []string {
	for i, e := range env {
		if strings.HasPrefix(e, name+"=") {
			env[i] = kv
			return env
		}
	}
	return append(env, kv)
}

func addCap(set []int, c int) []int {
	for _, x := range set {
		if x == c {
			return set
		}
	}
	return append(set, c)
}
