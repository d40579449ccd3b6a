package libtabox

import (
	"errors"
	"fmt"

	"github.com/tabox/tabox/libtabox/capability"
	"golang.org/x/sys/unix"
)

// setupUser switches to the process's user and groups and sets its
// capabilities. The order matters: the bounding set can only be reduced
// while we hold CAP_SETPCAP, and the uid change would clear the permitted
// set without PR_SET_KEEPCAPS.
func setupUser(proc *Process) error {
	if proc.Umask != nil {
		unix.Umask(int(*proc.Umask))
	} else {
		unix.Umask(0o022)
	}
	caps := proc.Capabilities
	if caps != nil {
		if err := checkBounding(caps); err != nil {
			return err
		}
		if err := capability.DropBounding(caps.Bounding); err != nil {
			return err
		}
		if err := capability.SetKeepCaps(true); err != nil {
			return err
		}
	}
	if err := setGroups(proc.AdditionalGids); err != nil {
		return err
	}
	if err := unix.Setresgid(int(proc.GID), int(proc.GID), int(proc.GID)); err != nil {
		return fmt.Errorf("setresgid %d: %w", proc.GID, err)
	}
	if err := unix.Setresuid(int(proc.UID), int(proc.UID), int(proc.UID)); err != nil {
		return fmt.Errorf("setresuid %d: %w", proc.UID, err)
	}
	if caps == nil {
		return nil
	}
	if err := capability.SetKeepCaps(false); err != nil {
		return err
	}
	if err := capability.Set(caps.Effective, caps.Permitted, caps.Inheritable); err != nil {
		return err
	}
	return capability.RaiseAmbient(caps.Ambient)
}

// setGroups sets the supplementary groups; where setgroups(2) is denied (a
// user namespace made by an unprivileged user), an empty list is fine.
func setGroups(gids []uint32) error {
	list := make([]int, len(gids))
	for i, g := range gids {
		list[i] = int(g)
	}
	err := unix.Setgroups(list)
	if err != nil && len(gids) == 0 && errors.Is(err, unix.EPERM) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("setgroups %v: %w", gids, err)
	}
	return nil
}

// checkBounding names a requested capability that tabox itself lacks:
// capset would only say EPERM.
func checkBounding(caps *Capabilities) error {
	for _, set := range [][]int{caps.Permitted, caps.Effective, caps.Inheritable, caps.Ambient, caps.Bounding} {
		for _, c := range set {
			if c > capability.Last() {
				continue
			}
			if in, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0); err == nil && in == 0 {
				return fmt.Errorf("capability %s is not in the bounding set tabox runs with, so no container it starts can have it", capability.Name(c))
			}
		}
	}
	return nil
}
