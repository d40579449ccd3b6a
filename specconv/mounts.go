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

// recursiveAttrs are runc's mount_setattr options ("rro", "rnosuid", …),
// which tabox does not apply yet; passed as fs data they would make the
// mount fail with a confusing EINVAL.
var recursiveAttrs = map[string]bool{
	"rro": true, "rrw": true, "rnosuid": true, "rsuid": true,
	"rnodev": true, "rdev": true, "rnoexec": true, "rexec": true,
	"rnodiratime": true, "rdiratime": true, "rrelatime": true,
	"rnorelatime": true, "rnoatime": true, "ratime": true,
	"rstrictatime": true, "rnostrictatime": true,
	"rnosymfollow": true, "rsymfollow": true,
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
	if len(m.UIDMappings) > 0 || len(m.GIDMappings) > 0 {
		return libtabox.Mount{}, errors.New("idmapped mounts (uidMappings, gidMappings) are not supported yet")
	}
	mnt := libtabox.Mount{Source: m.Source, Destination: dest, Type: m.Type}
	var data []string
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
			return libtabox.Mount{}, fmt.Errorf("option %q: idmapped mounts are not supported yet", o)
		case o == "tmpcopyup":
			if m.Type != "tmpfs" {
				return libtabox.Mount{}, fmt.Errorf("option %q is only for a tmpfs", o)
			}
			mnt.CopyUp = true
			continue
		case recursiveAttrs[o]:
			return libtabox.Mount{}, fmt.Errorf("option %q: recursive mount attributes are not supported yet", o)
		}
		data = append(data, o)
	}
	mnt.Data = strings.Join(data, ",")

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
