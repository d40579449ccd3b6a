package specconv

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/tabox/tabox/libtabox"
)

var namespaceTypes = map[specs.LinuxNamespaceType]libtabox.NamespaceType{
	specs.PIDNamespace:     libtabox.NEWPID,
	specs.NetworkNamespace: libtabox.NEWNET,
	specs.MountNamespace:   libtabox.NEWNS,
	specs.IPCNamespace:     libtabox.NEWIPC,
	specs.UTSNamespace:     libtabox.NEWUTS,
	specs.UserNamespace:    libtabox.NEWUSER,
	specs.CgroupNamespace:  libtabox.NEWCGROUP,
	specs.TimeNamespace:    libtabox.NEWTIME,
}

// timeClocks are the clocks a time namespace can offset.
var timeClocks = map[string]bool{"monotonic": true, "boottime": true}

func convertNamespaces(c *libtabox.Config, l *specs.Linux, opts Opts) error {
	seen := make(map[libtabox.NamespaceType]bool, len(l.Namespaces))
	for i, ns := range l.Namespaces {
		t, ok := namespaceTypes[ns.Type]
		if !ok {
			return fmt.Errorf("linux.namespaces[%d]: unknown namespace type %q", i, ns.Type)
		}
		if seen[t] {
			return fmt.Errorf("linux.namespaces[%d]: duplicate namespace type %q", i, ns.Type)
		}
		seen[t] = true
		if ns.Path != "" && !filepath.IsAbs(ns.Path) {
			return fmt.Errorf("linux.namespaces[%d]: path %q is not absolute", i, ns.Path)
		}
		c.Namespaces = append(c.Namespaces, libtabox.Namespace{Type: t, Path: ns.Path})
	}

	userPath, hasUser := c.NamespacePath(libtabox.NEWUSER)
	newUser := hasUser && userPath == ""
	if pidPath, ok := c.NamespacePath(libtabox.NEWPID); ok && pidPath == "" && hasUser && userPath != "" {
		// The new pid namespace would be owned by the joined user
		// namespace, which needs a setns dance tabox does not do.
		return errors.New("linux.namespaces: creating a pid namespace while joining a user namespace is not supported")
	}
	if newUser {
		// A namespace joined by path belongs to some other user
		// namespace; entering it from inside the new one would need
		// privileges over its owner that the new namespace lacks.
		for _, ns := range c.Namespaces {
			if ns.Path != "" {
				return fmt.Errorf("linux.namespaces: joining namespaces by path together with a new user namespace is not supported (%s namespace at %q)", ns.Type, ns.Path)
			}
		}
	}
	if opts.Rootless && !opts.InUserNS && !hasUser {
		return errors.New("linux.namespaces: rootless containers need a user namespace")
	}

	var err error
	if c.UIDMappings, err = convertIDMaps("linux.uidMappings", l.UIDMappings); err != nil {
		return err
	}
	if c.GIDMappings, err = convertIDMaps("linux.gidMappings", l.GIDMappings); err != nil {
		return err
	}
	hasMappings := len(c.UIDMappings) > 0 || len(c.GIDMappings) > 0
	if hasMappings && !hasUser {
		return errors.New("linux.uidMappings: id mappings need a user namespace")
	}
	if newUser && len(c.UIDMappings) == 0 {
		return errors.New("linux.uidMappings: a new user namespace needs uid mappings")
	}
	if newUser && len(c.GIDMappings) == 0 {
		return errors.New("linux.gidMappings: a new user namespace needs gid mappings")
	}

	if len(l.TimeOffsets) > 0 {
		if p, ok := c.NamespacePath(libtabox.NEWTIME); !ok || p != "" {
			// Offsets can only be written before the first process
			// enters the namespace, so a joined one cannot take them.
			return errors.New("linux.timeOffsets: time offsets need a new time namespace")
		}
		c.TimeOffsets = make(map[string]libtabox.TimeOffset, len(l.TimeOffsets))
		for _, clock := range sortedKeys(l.TimeOffsets) {
			off := l.TimeOffsets[clock]
			if !timeClocks[clock] {
				return fmt.Errorf("linux.timeOffsets: unknown clock %q (want monotonic or boottime)", clock)
			}
			if off.Nanosecs >= 1e9 {
				return fmt.Errorf("linux.timeOffsets.%s: nanosecs %d is not below one second", clock, off.Nanosecs)
			}
			c.TimeOffsets[clock] = libtabox.TimeOffset{Secs: off.Secs, Nanosecs: off.Nanosecs}
		}
	}
	return nil
}

// maxIDMapRanges is how many lines the kernel takes in a uid_map or gid_map.
const maxIDMapRanges = 340

func convertIDMaps(field string, in []specs.LinuxIDMapping) ([]libtabox.IDMap, error) {
	if len(in) > maxIDMapRanges {
		return nil, fmt.Errorf("%s: %d ranges, the kernel takes at most %d", field, len(in), maxIDMapRanges)
	}
	var out []libtabox.IDMap
	for i, m := range in {
		if m.Size == 0 {
			return nil, fmt.Errorf("%s[%d]: size must not be 0", field, i)
		}
		// The kernel rejects ranges that wrap around.
		if uint64(m.ContainerID)+uint64(m.Size) > 1<<32 || uint64(m.HostID)+uint64(m.Size) > 1<<32 {
			return nil, fmt.Errorf("%s[%d]: range of size %d overflows 32-bit ids", field, i, m.Size)
		}
		// An id may be mapped only once, either way: the kernel says
		// EINVAL to a map with overlapping ranges.
		for j, o := range out {
			if overlaps(m.ContainerID, o.ContainerID, m.Size, o.Size) {
				return nil, fmt.Errorf("%s[%d]: container ids %d-%d overlap those of %s[%d]", field, i, m.ContainerID, uint64(m.ContainerID)+uint64(m.Size)-1, field, j)
			}
			if overlaps(m.HostID, o.HostID, m.Size, o.Size) {
				return nil, fmt.Errorf("%s[%d]: host ids %d-%d overlap those of %s[%d]", field, i, m.HostID, uint64(m.HostID)+uint64(m.Size)-1, field, j)
			}
		}
		out = append(out, libtabox.IDMap{ContainerID: m.ContainerID, HostID: m.HostID, Size: m.Size})
	}
	return out, nil
}

// overlaps reports whether [a, a+an) and [b, b+bn) share an id.
func overlaps(a, b, an, bn uint32) bool {
	return uint64(a) < uint64(b)+uint64(bn) && uint64(b) < uint64(a)+uint64(an)
}

// convertSysctl rejects sysctls that would change the host's settings
// because their namespace is shared with it. Finer checks (which keys are
// namespaced at all) come later.
func convertSysctl(c *libtabox.Config, in map[string]string) (map[string]string, error) {
	if in == nil {
		return nil, nil
	}
	out := make(map[string]string, len(in))
	for _, key := range sortedKeys(in) {
		if strings.TrimSpace(key) == "" {
			return nil, errors.New("linux.sysctl: empty key")
		}
		// "net/ipv4/ip_forward" names the same file as "net.ipv4.ip_forward".
		k := strings.ReplaceAll(key, "/", ".")
		var need libtabox.NamespaceType
		switch {
		case strings.HasPrefix(k, "net."):
			need = libtabox.NEWNET
		case k == "kernel.hostname", k == "kernel.domainname":
			need = libtabox.NEWUTS
		case strings.HasPrefix(k, "kernel.msg"), k == "kernel.sem", k == "kernel.sem_next_id",
			strings.HasPrefix(k, "kernel.shm"), strings.HasPrefix(k, "fs.mqueue."):
			need = libtabox.NEWIPC
		default:
			// Any other sysctl is the host's: writing it from a container
			// would change the machine (kernel.core_pattern, vm.*).
			return nil, fmt.Errorf("linux.sysctl: %q is not in a separate kernel namespace", key)
		}
		if !c.HasNamespace(need) {
			return nil, fmt.Errorf("linux.sysctl: %q needs a private %s namespace", key, need)
		}
		out[key] = in[key]
	}
	return out, nil
}

// sortedKeys makes errors about maps deterministic.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
