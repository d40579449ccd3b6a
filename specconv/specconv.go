// Package specconv turns an OCI runtime-spec bundle configuration into a
// libtabox.Config.
//
// All validation of the user's config happens here, before anything is
// created, so that a bad config fails "tabox create" with a message naming
// the offending field instead of failing half way through container setup.
// Features tabox does not implement are rejected rather than ignored: a
// container that silently runs without the confinement its config asked for
// is worse than one that does not run.
package specconv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/tabox/tabox/internal/sysfile"
	"github.com/tabox/tabox/libtabox"
)

// Opts are the facts about the invocation that the spec does not carry.
type Opts struct {
	// Bundle is the absolute bundle directory; relative root and bind
	// source paths are resolved against it.
	Bundle string
	// NoPivot asks for MS_MOVE and chroot instead of pivot_root.
	NoPivot bool
	// Rootless says the runtime has no privileges over the host: it runs
	// as a non-root user, or in a user namespace.
	Rootless bool
	// InUserNS says the runtime already runs in a user namespace, whose
	// root may set a container up without one of its own.
	InUserNS bool
	// ID is the container's ID; it names the container's cgroup when
	// linux.cgroupsPath is empty.
	ID string
}

// LoadSpec reads and decodes bundle/config.json. Unknown fields are
// accepted: the spec allows extensions.
func LoadSpec(bundle string) (*specs.Spec, error) {
	data, err := sysfile.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("open config.json: %w", err)
	}
	if spec, ok := decodeSpecFast(data); ok {
		return spec, nil
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		var syntaxErr *json.SyntaxError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntaxErr):
			line, col := position(data, syntaxErr.Offset)
			return nil, fmt.Errorf("parse config.json: line %d, column %d: %w", line, col, err)
		case errors.As(err, &typeErr):
			line, col := position(data, typeErr.Offset)
			return nil, fmt.Errorf("parse config.json: line %d, column %d: %w", line, col, err)
		}
		return nil, fmt.Errorf("parse config.json: %w", err)
	}
	return &spec, nil
}

// position turns a byte offset of data into a 1-based line and column.
func position(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	if offset < 0 {
		offset = 0
	}
	before := data[:offset]
	line = bytes.Count(before, []byte{'\n'}) + 1
	col = int(offset) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// Convert validates spec and resolves it into a Config for the bundle
// described by opts.
func Convert(spec *specs.Spec, opts Opts) (*libtabox.Config, error) {
	if spec == nil {
		return nil, errors.New("no spec")
	}
	bundle, err := filepath.Abs(opts.Bundle)
	if err != nil {
		return nil, fmt.Errorf("bundle %q: %w", opts.Bundle, err)
	}
	c := &libtabox.Config{
		Bundle:      bundle,
		OCIVersion:  spec.Version,
		NoPivot:     opts.NoPivot,
		Annotations: copyMap(spec.Annotations),
	}
	if err := checkVersion(spec.Version); err != nil {
		return nil, err
	}
	if err := checkUnsupported(spec); err != nil {
		return nil, err
	}
	if err := convertRoot(c, spec.Root, bundle); err != nil {
		return nil, err
	}
	linux := spec.Linux
	if linux == nil {
		// Namespaces, devices and the rest all hang off linux; an absent
		// section is the same as an empty one, which convertNamespaces
		// rejects for its lack of a mount namespace.
		linux = &specs.Linux{}
	}
	if err := convertNamespaces(c, linux, opts); err != nil {
		return nil, err
	}
	if err := convertUTS(c, spec); err != nil {
		return nil, err
	}
	if err := checkLinuxUnsupported(linux); err != nil {
		return nil, err
	}
	if c.Process, err = convertProcess(spec.Process); err != nil {
		return nil, err
	}
	if spec.Process != nil && spec.Process.OOMScoreAdj != nil {
		v := *spec.Process.OOMScoreAdj
		if v < -1000 || v > 1000 {
			return nil, fmt.Errorf("process.oomScoreAdj: %d is out of range [-1000, 1000]", v)
		}
		c.OOMScoreAdj = &v
	}
	if c.Personality, err = convertPersonality(linux.Personality); err != nil {
		return nil, err
	}
	if c.RootPropagation, err = convertPropagation(linux.RootfsPropagation); err != nil {
		return nil, err
	}
	if c.Mounts, err = convertMounts(spec.Mounts, bundle); err != nil {
		return nil, err
	}
	labelMounts(c.Mounts, linux.MountLabel)
	if err := resolveMountIDMaps(c, opts); err != nil {
		return nil, err
	}
	if c.Devices, err = convertDevices(linux.Devices); err != nil {
		return nil, err
	}
	if c.MaskedPaths, err = convertPaths("linux.maskedPaths", linux.MaskedPaths); err != nil {
		return nil, err
	}
	if c.ReadonlyPaths, err = convertPaths("linux.readonlyPaths", linux.ReadonlyPaths); err != nil {
		return nil, err
	}
	if c.Sysctl, err = convertSysctl(c, linux.Sysctl); err != nil {
		return nil, err
	}
	if c.Seccomp, err = convertSeccomp(linux.Seccomp); err != nil {
		return nil, err
	}
	if c.Hooks, err = convertHooks(spec.Hooks); err != nil {
		return nil, err
	}
	if c.Cgroup, err = convertCgroup(linux, opts, c.Devices); err != nil {
		return nil, err
	}
	if c.Limits, err = convertLimits(spec.Annotations); err != nil {
		return nil, err
	}
	// Without a mount namespace the container's mounts are made in the
	// runtime's: nothing that would change the host's own root may run.
	if !c.HasNamespace(libtabox.NEWNS) {
		if c.Readonly {
			return nil, errors.New("root.readonly needs a mount namespace (linux.namespaces has none)")
		}
		if c.RootPropagation != 0 {
			return nil, errors.New("linux.rootfsPropagation needs a mount namespace (linux.namespaces has none)")
		}
	}
	return c, nil
}

// checkVersion accepts any 1.x.y, with an optional pre-release or build
// suffix: minor versions of the spec are backwards compatible, a new major
// version is not.
func checkVersion(v string) error {
	if v == "" {
		return errors.New("ociVersion is required")
	}
	core := v
	if i := strings.IndexAny(core, "-+"); i >= 0 {
		core = core[:i]
	}
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return fmt.Errorf("invalid ociVersion %q: want 1.x.y", v)
	}
	var nums [3]uint64
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return fmt.Errorf("invalid ociVersion %q: want 1.x.y", v)
		}
		nums[i] = n
	}
	if nums[0] != 1 {
		return fmt.Errorf("unsupported ociVersion %q: tabox supports 1.x", v)
	}
	return nil
}

// checkUnsupported rejects the sections of other platforms.
func checkUnsupported(spec *specs.Spec) error {
	for _, s := range []struct {
		name string
		set  bool
	}{
		{"windows", spec.Windows != nil},
		{"solaris", spec.Solaris != nil},
		{"vm", spec.VM != nil},
		{"zos", spec.ZOS != nil},
		{"freebsd", spec.FreeBSD != nil},
	} {
		if s.set {
			return fmt.Errorf("%s is not supported", s.name)
		}
	}
	return nil
}

// checkLinuxUnsupported rejects the linux features tabox does not
// implement.
func checkLinuxUnsupported(l *specs.Linux) error {
	for _, s := range []struct {
		name string
		set  bool
	}{
		{"linux.intelRdt", l.IntelRdt != nil},
		{"linux.memoryPolicy", l.MemoryPolicy != nil},
		{"linux.netDevices", len(l.NetDevices) > 0},
	} {
		if s.set {
			return fmt.Errorf("%s is not supported", s.name)
		}
	}
	if l.MountLabel != "" && !selinuxEnabled() {
		return errors.New("linux.mountLabel: SELinux is not enabled on this host")
	}
	return nil
}

// labelMounts gives the filesystems the container's mounts create the
// SELinux context of linux.mountLabel, as runc does; binds keep the labels
// of what they show.
func labelMounts(mounts []libtabox.Mount, label string) {
	if label == "" {
		return
	}
	for i := range mounts {
		switch mounts[i].Type {
		case "tmpfs", "devpts", "mqueue":
			opt := fmt.Sprintf("context=%q", label)
			if mounts[i].Data != "" {
				opt = "," + opt
			}
			mounts[i].Data += opt
		}
	}
}

func convertRoot(c *libtabox.Config, root *specs.Root, bundle string) error {
	if root == nil {
		return errors.New("root is required")
	}
	if root.Path == "" {
		return errors.New("root.path is required")
	}
	p := root.Path
	if !filepath.IsAbs(p) {
		p = filepath.Join(bundle, p)
	}
	// Resolving symlinks once here means the runtime binds the directory
	// the user saw when the container was created.
	resolved, err := filepath.EvalSymlinks(p)
	if err != nil {
		return fmt.Errorf("root.path %q: %w", p, err)
	}
	fi, err := os.Stat(resolved)
	if err != nil {
		return fmt.Errorf("root.path %q: %w", p, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("root.path %q is not a directory", p)
	}
	c.Rootfs = filepath.Clean(resolved)
	c.Readonly = root.Readonly
	return nil
}

// convertUTS checks hostname and domainname after the namespaces, because
// setting them outside a UTS namespace would rename the host.
func convertUTS(c *libtabox.Config, spec *specs.Spec) error {
	hasUTS := c.HasNamespace(libtabox.NEWUTS)
	if spec.Hostname != "" && !hasUTS {
		return errors.New("hostname: unable to set hostname without a private UTS namespace")
	}
	if spec.Domainname != "" && !hasUTS {
		return errors.New("domainname: unable to set domainname without a private UTS namespace")
	}
	// The kernel takes the bytes as they are: one name with a NUL inside
	// would read as another.
	for _, f := range []struct{ name, value string }{{"hostname", spec.Hostname}, {"domainname", spec.Domainname}} {
		if strings.IndexByte(f.value, 0) >= 0 {
			return fmt.Errorf("%s %q: contains a NUL byte", f.name, f.value)
		}
	}
	c.Hostname = spec.Hostname
	c.Domainname = spec.Domainname
	return nil
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
