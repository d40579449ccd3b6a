package specconv

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/tabox/tabox/libtabox"
)

// mountFlag is what a flag option does: set flag, or clear it when clear.
type mountFlag struct {
	clear bool
	flag  uintptr
}

// mountFlags are the options that are MS_* flags rather than fs data, as
// runc parses them.
var mountFlags = map[string]mountFlag{
	"defaults":      {false, 0},
	"ro":            {false, unix.MS_RDONLY},
	"rw":            {true, unix.MS_RDONLY},
	"nosuid":        {false, unix.MS_NOSUID},
	"suid":          {true, unix.MS_NOSUID},
	"nodev":         {false, unix.MS_NODEV},
	"dev":           {true, unix.MS_NODEV},
	"noexec":        {false, unix.MS_NOEXEC},
	"exec":          {true, unix.MS_NOEXEC},
	"sync":          {false, unix.MS_SYNCHRONOUS},
	"async":         {true, unix.MS_SYNCHRONOUS},
	"dirsync":       {false, unix.MS_DIRSYNC},
	"remount":       {false, unix.MS_REMOUNT},
	"mand":          {false, unix.MS_MANDLOCK},
	"nomand":        {true, unix.MS_MANDLOCK},
	"noatime":       {false, unix.MS_NOATIME},
	"atime":         {true, unix.MS_NOATIME},
	"nodiratime":    {false, unix.MS_NODIRATIME},
	"diratime":      {true, unix.MS_NODIRATIME},
	"relatime":      {false, unix.MS_RELATIME},
	"norelatime":    {true, unix.MS_RELATIME},
	"strictatime":   {false, unix.MS_STRICTATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME},
	"bind":          {false, unix.MS_BIND},
	"rbind":         {false, unix.MS_BIND | unix.MS_REC},
	"silent":        {false, unix.MS_SILENT},
	"loud":          {true, unix.MS_SILENT},
	"lazytime":      {false, unix.MS_LAZYTIME},
	"nolazytime":    {true, unix.MS_LAZYTIME},
	"iversion":      {false, unix.MS_I_VERSION},
	"noiversion":    {true, unix.MS_I_VERSION},
	"nosymfollow":   {false, unix.MS_NOSYMFOLLOW},
	"symfollow":     {true, unix.MS_NOSYMFOLLOW},
}

// propagationFlags are the propagation options, for mounts and for
// linux.rootfsPropagation.
var propagationFlags = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// recursiveAttrs are the options applied with mount_setattr(2) and
// AT_RECURSIVE to the mount and every mount under it, once it is made: a
// flag of mount(2) changes only the one mount it is given.
var recursiveAttrs = map[string]mountAttrFlag{
	"rro":          {false, unix.MOUNT_ATTR_RDONLY},
	"rrw":          {true, unix.MOUNT_ATTR_RDONLY},
	"rnosuid":      {false, unix.MOUNT_ATTR_NOSUID},
	"rsuid":        {true, unix.MOUNT_ATTR_NOSUID},
	"rnodev":       {false, unix.MOUNT_ATTR_NODEV},
	"rdev":         {true, unix.MOUNT_ATTR_NODEV},
	"rnoexec":      {false, unix.MOUNT_ATTR_NOEXEC},
	"rexec":        {true, unix.MOUNT_ATTR_NOEXEC},
	"rnodiratime":  {false, unix.MOUNT_ATTR_NODIRATIME},
	"rdiratime":    {true, unix.MOUNT_ATTR_NODIRATIME},
	"rnosymfollow": {false, unix.MOUNT_ATTR_NOSYMFOLLOW},
	"rsymfollow":   {true, unix.MOUNT_ATTR_NOSYMFOLLOW},
}

// mountAttrFlag is what a recursive option does to a MOUNT_ATTR_* bit.
type mountAttrFlag struct {
	clear bool
	attr  uint64
}

// recursiveAtime are the recursive access-time options. The kernel takes
// one atime mode (relatime, noatime or strictatime), not flags to set and
// clear one by one (a partial MOUNT_ATTR__ATIME in attr_clr is EINVAL), so
// each option picks a mode, given the one picked before it, the way
// mount(8) reads the options without the "r": "atime" drops noatime for
// the kernel's default, relatime, but keeps strictatime; "nostrictatime"
// drops strictatime, keeping noatime; "norelatime" asks for strict
// updates unless noatime was asked for.
var recursiveAtime = map[string]func(cur uint64, set bool) uint64{
	"rnoatime":     func(uint64, bool) uint64 { return unix.MOUNT_ATTR_NOATIME },
	"rrelatime":    func(uint64, bool) uint64 { return unix.MOUNT_ATTR_RELATIME },
	"rstrictatime": func(uint64, bool) uint64 { return unix.MOUNT_ATTR_STRICTATIME },
	"ratime": func(cur uint64, set bool) uint64 {
		if set && cur == unix.MOUNT_ATTR_STRICTATIME {
			return cur
		}
		return unix.MOUNT_ATTR_RELATIME
	},
	"rnostrictatime": func(cur uint64, set bool) uint64 {
		if set && cur == unix.MOUNT_ATTR_NOATIME {
			return cur
		}
		return unix.MOUNT_ATTR_RELATIME
	},
	"rnorelatime": func(cur uint64, set bool) uint64 {
		if set && cur == unix.MOUNT_ATTR_NOATIME {
			return cur
		}
		return unix.MOUNT_ATTR_STRICTATIME
	},
}

// recAttr collects the recursive options of one mount, the last one of a
// pair ("rro", "rrw") winning.
type recAttr struct {
	set, clear uint64
	atime      uint64
	atimeSet   bool
}

func (r *recAttr) add(opt string) bool {
	if f, ok := recursiveAttrs[opt]; ok {
		if f.clear {
			r.clear |= f.attr
			r.set &^= f.attr
		} else {
			r.set |= f.attr
			r.clear &^= f.attr
		}
		return true
	}
	if pick, ok := recursiveAtime[opt]; ok {
		r.atime, r.atimeSet = pick(r.atime, r.atimeSet), true
		return true
	}
	return false
}

// attr returns the change to make, or nil for none.
func (r *recAttr) attr() *libtabox.MountAttr {
	a := libtabox.MountAttr{Set: r.set, Clear: r.clear}
	if r.atimeSet {
		a.Set |= r.atime
		a.Clear |= unix.MOUNT_ATTR__ATIME
	}
	if a.Set == 0 && a.Clear == 0 {
		return nil
	}
	return &a
}

func convertPropagation(p string) (uintptr, error) {
	if p == "" {
		return 0, nil
	}
	f, ok := propagationFlags[p]
	if !ok {
		return 0, fmt.Errorf("linux.rootfsPropagation: unknown propagation %q", p)
	}
	return f, nil
}

func convertMounts(in []specs.Mount, bundle string) ([]libtabox.Mount, error) {
	var out []libtabox.Mount
	for i, m := range in {
		mnt, err := convertMount(m, bundle)
		if err != nil {
			return nil, fmt.Errorf("mounts[%d]: %w", i, err)
		}
		out = append(out, mnt)
	}
	return out, nil
}

func convertMount(m specs.Mount, bundle string) (libtabox.Mount, error) {
	if !filepath.IsAbs(m.Destination) {
		return libtabox.Mount{}, fmt.Errorf("destination %q is not absolute", m.Destination)
	}
	dest := filepath.Clean(m.Destination)
	if dest == "/" {
		return libtabox.Mount{}, fmt.Errorf("destination %q: mounting over the root is not allowed", m.Destination)
	}
	mnt := libtabox.Mount{Source: m.Source, Destination: dest, Type: m.Type}
	var data []string
	var rec recAttr
	idmapOpt := ""
	for _, o := range m.Options {
		if f, ok := mountFlags[o]; ok {
			// The last of "ro" and "rw" wins, as with mount(8).
			if f.clear {
				mnt.Flags &^= f.flag
				mnt.ClearFlags |= f.flag
			} else {
				mnt.Flags |= f.flag
				mnt.ClearFlags &^= f.flag
			}
			continue
		}
		if f, ok := propagationFlags[o]; ok {
			mnt.PropagationFlags = append(mnt.PropagationFlags, f)
			continue
		}
		switch {
		case o == "idmap" || o == "ridmap":
			// Not a flag of mount(2): the kernel would take it for fs data.
			idmapOpt = o
			continue
		case o == "tmpcopyup":
			if m.Type != "tmpfs" {
				return libtabox.Mount{}, fmt.Errorf("option %q is only for a tmpfs", o)
			}
			mnt.CopyUp = true
			continue
		case rec.add(o):
			continue
		}
		data = append(data, o)
	}
	mnt.Data = strings.Join(data, ",")
	mnt.RecAttr = rec.attr()

	switch {
	case mnt.Flags&unix.MS_BIND != 0 || m.Type == "bind":
		mnt.Kind = libtabox.MountBind
		// A "bind" type without a bind option still means a bind.
		mnt.Flags |= unix.MS_BIND
		if m.Source == "" {
			return libtabox.Mount{}, errors.New("a bind mount needs a source")
		}
		// runc resolves relative bind sources against the bundle, and
		// bundles rely on it.
		src := m.Source
		if !filepath.IsAbs(src) {
			src = filepath.Join(bundle, src)
		}
		mnt.Source = filepath.Clean(src)
	case m.Type == "cgroup" || m.Type == "cgroup2":
		mnt.Kind = libtabox.MountCgroup
	default:
		mnt.Kind = libtabox.MountFS
		if m.Type == "" {
			return libtabox.Mount{}, fmt.Errorf("destination %q: type is required for a mount that is not a bind", dest)
		}
	}

	if idmapOpt != "" || len(m.UIDMappings) > 0 || len(m.GIDMappings) > 0 {
		im, err := convertMountIDMap(m, mnt.Kind, idmapOpt)
		if err != nil {
			return libtabox.Mount{}, err
		}
		mnt.IDMap = im
	}

	// Anything else over /proc or /sys could hide the files that masked
	// and read-only paths protect, or fake them.
	switch dest {
	case "/proc":
		if mnt.Kind != libtabox.MountFS || m.Type != "proc" {
			return libtabox.Mount{}, errors.New("only a procfs may be mounted on /proc")
		}
	case "/sys":
		if mnt.Kind != libtabox.MountBind && !(mnt.Kind == libtabox.MountFS && m.Type == "sysfs") {
			return libtabox.Mount{}, errors.New("only a sysfs or a bind mount may be mounted on /sys")
		}
	}
	return mnt, nil
}

// convertMountIDMap reads the id mapping of an idmapped mount: its own
// mappings, or none yet when the container's are to be used (see
// resolveMountIDMaps). Mappings without "idmap" or "ridmap" map the top
// mount only, as runc does.
func convertMountIDMap(m specs.Mount, kind libtabox.MountKind, opt string) (*libtabox.MountIDMap, error) {
	what := "uidMappings and gidMappings"
	if opt != "" {
		what = fmt.Sprintf("option %q", opt)
	}
	// Only a bind has a detached copy (open_tree) to map before it is
	// attached; a new filesystem would need fsmount, and proc or sysfs do
	// not support idmapping at all.
	if kind != libtabox.MountBind {
		return nil, fmt.Errorf("%s: idmapped mounts are only supported for bind mounts", what)
	}
	if (len(m.UIDMappings) > 0) != (len(m.GIDMappings) > 0) {
		return nil, errors.New("uidMappings and gidMappings of an idmapped mount must be given together")
	}
	im := &libtabox.MountIDMap{Recursive: opt == "ridmap"}
	var err error
	if im.UIDMappings, err = convertIDMaps("uidMappings", m.UIDMappings); err != nil {
		return nil, err
	}
	if im.GIDMappings, err = convertIDMaps("gidMappings", m.GIDMappings); err != nil {
		return nil, err
	}
	return im, nil
}

// resolveMountIDMaps gives the idmapped mounts without mappings of their
// own the container's user namespace (runtime-spec: "the runtime MAY use
// the container's user namespace mapping, otherwise an error MUST be
// returned"), and refuses them where the kernel would.
func resolveMountIDMaps(c *libtabox.Config, opts Opts) error {
	for i := range c.Mounts {
		im := c.Mounts[i].IDMap
		if im == nil {
			continue
		}
		// mount_setattr(MOUNT_ATTR_IDMAP) needs CAP_SYS_ADMIN in the user
		// namespace that owns the source's filesystem: the host's, for
		// every filesystem a user could bind.
		if opts.Rootless {
			return fmt.Errorf("mounts[%d]: idmapped mounts need tabox to run as root (the kernel lets only a process with CAP_SYS_ADMIN over the source's filesystem make them)", i)
		}
		if len(im.UIDMappings) > 0 {
			continue
		}
		opt := "idmap"
		if im.Recursive {
			opt = "ridmap"
		}
		path, ok := c.NamespacePath(libtabox.NEWUSER)
		switch {
		case !ok:
			return fmt.Errorf("mounts[%d]: option %q without uidMappings and gidMappings uses the container's user namespace, and linux.namespaces has none", i, opt)
		case path != "":
			im.UserNSPath = path
		default:
			im.UIDMappings = append([]libtabox.IDMap(nil), c.UIDMappings...)
			im.GIDMappings = append([]libtabox.IDMap(nil), c.GIDMappings...)
		}
	}
	return nil
}

var deviceTypes = map[string]libtabox.DeviceType{
	"c": libtabox.CharDevice,
	"u": libtabox.CharDevice, // unbuffered is a character device to mknod
	"b": libtabox.BlockDevice,
	"p": libtabox.FifoDevice,
}

func convertDevices(in []specs.LinuxDevice) ([]libtabox.Device, error) {
	var out []libtabox.Device
	seen := make(map[string]bool, len(in))
	for i, d := range in {
		if !filepath.IsAbs(d.Path) {
			return nil, fmt.Errorf("linux.devices[%d]: path %q is not absolute", i, d.Path)
		}
		p := filepath.Clean(d.Path)
		if !strings.HasPrefix(p, "/dev/") {
			return nil, fmt.Errorf("linux.devices[%d]: path %q is not under /dev", i, d.Path)
		}
		if seen[p] {
			return nil, fmt.Errorf("linux.devices[%d]: duplicate path %q", i, d.Path)
		}
		seen[p] = true
		t, ok := deviceTypes[d.Type]
		if !ok {
			return nil, fmt.Errorf("linux.devices[%d]: unknown device type %q", i, d.Type)
		}
		if d.Major < 0 || d.Minor < 0 {
			return nil, fmt.Errorf("linux.devices[%d]: negative device number %d:%d", i, d.Major, d.Minor)
		}
		dev := libtabox.Device{Path: p, Type: t, Major: d.Major, Minor: d.Minor, FileMode: 0o666}
		if d.FileMode != nil {
			// Only permission bits: the type comes from Type, and
			// os.FileMode's own type bits mean nothing to mknod.
			dev.FileMode = uint32(*d.FileMode) & 0o7777
		}
		if d.UID != nil {
			dev.UID = *d.UID
		}
		if d.GID != nil {
			dev.GID = *d.GID
		}
		out = append(out, dev)
	}
	return out, nil
}

func convertPaths(field string, in []string) ([]string, error) {
	var out []string
	for i, p := range in {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("%s[%d]: path %q is not absolute", field, i, p)
		}
		out = append(out, filepath.Clean(p))
	}
	return out, nil
}
