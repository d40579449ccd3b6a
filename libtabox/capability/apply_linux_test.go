package capability

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

func capget(t *testing.T) [2]unix.CapUserData {
	t.Helper()
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		t.Errorf("capget: %v", err)
	}
	return data
}

func bits(words [2]uint32) []int {
	var caps []int
	for c := 0; c < 64; c++ {
		if words[c/32]&(1<<(uint(c)%32)) != 0 {
			caps = append(caps, c)
		}
	}
	return caps
}

// TestSetSameSets sets the thread's own sets back, which is always allowed,
// and checks that the words come back unchanged. The goroutine stays locked
// so that the runtime throws its thread away afterwards.
func TestSetSameSets(t *testing.T) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		before := capget(t)
		eff := bits([2]uint32{before[0].Effective, before[1].Effective})
		perm := bits([2]uint32{before[0].Permitted, before[1].Permitted})
		inh := bits([2]uint32{before[0].Inheritable, before[1].Inheritable})
		if err := Set(eff, perm, inh); err != nil {
			t.Errorf("Set: %v", err)
			return
		}
		if after := capget(t); after != before {
			t.Errorf("sets changed: %+v -> %+v", before, after)
		}
		if err := DropBounding(All()); err != nil {
			t.Errorf("DropBounding(All()): %v", err)
		}
		if err := RaiseAmbient(nil); err != nil {
			t.Errorf("RaiseAmbient(nil): %v", err)
		}
		// Capabilities above the kernel's last one are skipped, not errors.
		if err := Set(append(eff, 63), perm, inh); err != nil {
			t.Errorf("Set with cap 63: %v", err)
		}
	}()
	<-done
}

// onThrowawayThread runs f on a locked thread that the runtime discards
// afterwards, so that capability changes cannot leak into other tests.
func onThrowawayThread(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		f()
	}()
	<-done
}

func TestChangeSets(t *testing.T) {
	const chown, setpcap, kill = 0, 8, 5
	before := capget(t)
	if before[0].Effective&(1<<setpcap) == 0 || before[0].Permitted&(1<<chown) == 0 {
		t.Skip("needs CAP_SETPCAP and CAP_CHOWN")
	}
	onThrowawayThread(func() {
		if err := SetKeepCaps(true); err != nil {
			t.Errorf("SetKeepCaps(true): %v", err)
		}
		if v, _ := unix.PrctlRetInt(unix.PR_GET_KEEPCAPS, 0, 0, 0, 0); v != 1 {
			t.Errorf("keepcaps = %d", v)
		}
		if err := SetKeepCaps(false); err != nil {
			t.Errorf("SetKeepCaps(false): %v", err)
		}

		eff := bits([2]uint32{before[0].Effective, before[1].Effective})
		perm := bits([2]uint32{before[0].Permitted, before[1].Permitted})
		if err := Set(eff, perm, []int{chown}); err != nil {
			t.Errorf("Set: %v", err)
			return
		}
		if err := RaiseAmbient([]int{chown}); err != nil {
			t.Errorf("RaiseAmbient: %v", err)
		}
		if v, _ := unix.PrctlRetInt(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_IS_SET, chown, 0, 0); v != 1 {
			t.Error("CAP_CHOWN not ambient")
		}
		// An ambient capability must be inheritable.
		err := RaiseAmbient([]int{kill})
		if err == nil || err.Error() != "raise ambient capability CAP_KILL: operation not permitted" {
			t.Errorf("RaiseAmbient(CAP_KILL) = %v", err)
		}

		readBounding := func(c int) int {
			v, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0)
			if err != nil {
				t.Errorf("read bounding %s: %v", Name(c), err)
			}
			return v
		}
		keep := map[int]int{chown: readBounding(chown), setpcap: readBounding(setpcap)}
		if err := DropBounding([]int{chown, setpcap}); err != nil {
			t.Errorf("DropBounding: %v", err)
		}
		for c := 0; c <= Last(); c++ {
			if got, want := readBounding(c), keep[c]; got != want {
				t.Errorf("bounding %s = %d, want %d", Name(c), got, want)
			}
		}
	})
	if after := capget(t); after != before {
		t.Errorf("test thread's sets changed: %+v -> %+v", before, after)
	}
}
