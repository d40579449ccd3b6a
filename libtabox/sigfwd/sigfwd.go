// Package sigfwd forwards the signals sent to tabox to the process it runs
// in the foreground, from a signal handler written in C.
//
// os/signal would do the same from a goroutine, but its first Notify has
// the Go runtime start two threads (one locked to the goroutine that
// updates the signal mask, one that waits for signals), which a
// short-lived `run` or `exec` would pay for on every container. The
// handler here sends the signal itself, from whichever thread it
// interrupts, with pidfd_send_signal(2).
//
// The Go runtime installs its own handler for every signal at start-up;
// Catch replaces it for the signals it is given, which the runtime does
// not use itself. The handler runs on the signal stack that the runtime
// gives each of its threads (SA_ONSTACK).
package sigfwd

/*
#cgo CFLAGS: -Wall -Werror
extern int tabox_sigfwd_catch(const int *sigs, int n);
extern void tabox_sigfwd_target(int pidfd, int pid);
extern void tabox_sigfwd_stop(void);
extern unsigned long tabox_sigfwd_held(void);
*/
import "C"

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Catch installs the handler for sigs. A signal that comes before To has
// named the process is held, once per signal number as the kernel holds
// a blocked one, and sent when To is called.
func Catch(sigs ...unix.Signal) error {
	if len(sigs) == 0 {
		return nil
	}
	cs := make([]C.int, len(sigs))
	for i, s := range sigs {
		if s <= 0 || s >= 64 {
			return fmt.Errorf("forward signal %d: out of range", int(s))
		}
		cs[i] = C.int(s)
	}
	if rc, err := C.tabox_sigfwd_catch(&cs[0], C.int(len(cs))); rc != 0 {
		return fmt.Errorf("forward signals: sigaction: %w", err)
	}
	return nil
}

// To sends the caught signals, the held ones first, to the process that
// pidfd refers to. The handler keeps its own duplicate of pidfd open for
// the rest of tabox's life: it may be running on another thread at any
// time, and a closed fd number could name another process's pidfd.
// Without a pidfd (pidfd < 0) the signals go to pid, until Stop.
func To(pidfd, pid int) error {
	if pidfd >= 0 {
		fd, err := unix.FcntlInt(uintptr(pidfd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("forward signals: dup pidfd: %w", err)
		}
		pidfd = fd
	}
	C.tabox_sigfwd_target(C.int(pidfd), C.int(pid))
	return nil
}

// Stop drops the signals caught from now on: the process has been
// reaped, and its pid may belong to another. (With a pidfd, the kernel
// itself refuses a signal to a process that has exited.)
func Stop() {
	C.tabox_sigfwd_stop()
}

// held reports the signals caught and not yet sent, a bit per number.
func held() uint64 {
	return uint64(C.tabox_sigfwd_held())
}
