package libtabox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// needsIDMapHelpers reports whether the maps of a new user namespace must
// be written by newuidmap and newgidmap: an unprivileged user may write
// only its own uid and gid, one id each, itself.
func needsIDMapHelpers(cfg *Config) bool {
	if os.Geteuid() == 0 {
		return false
	}
	own := func(maps []IDMap, id int) bool {
		return len(maps) == 1 && int(maps[0].HostID) == id && maps[0].Size == 1
	}
	return !own(cfg.UIDMappings, os.Geteuid()) || !own(cfg.GIDMappings, os.Getegid())
}

// writeIDMapsWithHelpers has shadow's setuid helpers newuidmap and
// newgidmap write the maps of the init's user namespace: they map the
// ranges /etc/subuid and /etc/subgid grant the user.
func writeIDMapsWithHelpers(pid int, cfg *Config) error {
	for _, h := range []struct {
		tool, field, file string
		maps              []IDMap
	}{
		{"newuidmap", "linux.uidMappings", "/etc/subuid", cfg.UIDMappings},
		{"newgidmap", "linux.gidMappings", "/etc/subgid", cfg.GIDMappings},
	} {
		path, err := exec.LookPath(h.tool)
		if err != nil {
			return fmt.Errorf("%s: mapping ids other than your own needs newuidmap and newgidmap (package uidmap): %w", h.field, err)
		}
		args := []string{strconv.Itoa(pid)}
		for _, m := range h.maps {
			args = append(args, strconv.FormatUint(uint64(m.ContainerID), 10),
				strconv.FormatUint(uint64(m.HostID), 10), strconv.FormatUint(uint64(m.Size), 10))
		}
		out, err := exec.Command(path, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %s %s: %s (are the host ids in %s for user %s?)",
				h.field, h.tool, strings.Join(args, " "), helperMessage(h.tool, out, err), h.file, ownerName())
		}
	}
	return nil
}

// helperMessage makes a helper's output one line, without the helper's
// name it starts with.
func helperMessage(tool string, out []byte, err error) string {
	var parts []string
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), tool+":")); l != "" {
			parts = append(parts, l)
		}
	}
	if len(parts) == 0 {
		return err.Error()
	}
	return strings.Join(parts, "; ")
}

// waitIDMaps is the init's half of writeIDMapsWithHelpers: it started in
// a user namespace without maps, its capabilities kept through exec as
// ambient ones, and waits for one byte on the sync socket, which the
// parent sends once the maps are written. Then it becomes uid and gid, the
// ids the init runs as, as setInitCredential makes them otherwise.
func waitIDMaps(fd int, uid, gid int) error {
	var b [1]byte
	for {
		n, err := unix.Read(fd, b[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("wait for the id maps: %w", err)
		}
		if n == 0 {
			return errors.New("wait for the id maps: tabox create exited")
		}
		break
	}
	if err := unix.Setresgid(gid, gid, gid); err != nil {
		return fmt.Errorf("setresgid %d: %w", gid, err)
	}
	if err := unix.Setresuid(uid, uid, uid); err != nil {
		return fmt.Errorf("setresuid %d: %w", uid, err)
	}
	// The ambient capabilities only carried the init through its exec;
	// left set, the container's process would inherit more of them than
	// its config gives.
	return clearAmbientCaps()
}

// clearAmbientCaps clears the ambient set the init was started with and
// the inheritable set Go's fork raised to make it possible: the config's
// sets replace them when it has any, and when it has none, ambient ones
// would reach the container's process, and a file with inheritable
// capabilities would get those at its exec.
func clearAmbientCaps() error {
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("clear inheritable capabilities: capget: %w", err)
	}
	data[0].Inheritable, data[1].Inheritable = 0, 0
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("clear inheritable capabilities: capset: %w", err)
	}
	return nil
}
