package capability

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// DropBounding removes from the bounding set every capability the kernel
// knows that is not in keep. It changes the whole process, but only the
// calling thread's children inherit the result, so call it from the thread
// that will exec.
func DropBounding(keep []int) error {
	kept := make(map[int]bool, len(keep))
	for _, c := range keep {
		kept[c] = true
	}
	for c := 0; c <= Last(); c++ {
		if kept[c] {
			continue
		}
		err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0)
		// EINVAL means the kernel does not know c after all (cap_last_cap
		// unreadable): there is nothing to drop.
		if err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("drop bounding capability %s: %w", Name(c), err)
		}
	}
	return nil
}

// SetKeepCaps sets PR_SET_KEEPCAPS, so that the permitted set survives a
// change of uid away from 0.
func SetKeepCaps(on bool) error {
	var v uintptr
	if on {
		v = 1
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, v, 0, 0, 0); err != nil {
		return fmt.Errorf("set keepcaps: %w", err)
	}
	return nil
}

// Set replaces the effective, permitted and inheritable sets of the calling
// thread. Capabilities are per thread, so the caller must have locked its
// goroutine to the thread (runtime.LockOSThread) and exec from it.
func Set(effective, permitted, inheritable []int) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	// Version 3 takes two 32-bit words per set.
	var data [2]unix.CapUserData
	for _, c := range effective {
		if in(c) {
			data[c/32].Effective |= 1 << (uint(c) % 32)
		}
	}
	for _, c := range permitted {
		if in(c) {
			data[c/32].Permitted |= 1 << (uint(c) % 32)
		}
	}
	for _, c := range inheritable {
		if in(c) {
			data[c/32].Inheritable |= 1 << (uint(c) % 32)
		}
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("set capabilities: %w", err)
	}
	return nil
}

// RaiseAmbient makes caps the ambient set of the calling thread. Each must
// already be permitted and inheritable, so call it after Set.
func RaiseAmbient(caps []int) error {
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	for _, c := range caps {
		if !in(c) {
			continue
		}
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0); err != nil {
			return fmt.Errorf("raise ambient capability %s: %w", Name(c), err)
		}
	}
	return nil
}

// in reports whether the kernel knows capability c; the others are skipped
// because the kernel would reject the whole call for them.
func in(c int) bool {
	return c >= 0 && c <= Last() && c < 64
}
