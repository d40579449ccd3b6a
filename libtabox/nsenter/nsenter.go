// Package nsenter joins existing namespaces in the container's init before
// the Go runtime starts.
//
// setns(2) into a mount, user or time namespace is refused to a
// multithreaded process, and a Go program has threads before main runs. So
// the init is a re-executed tabox whose C constructor, below, runs first:
// it joins the namespaces the parent opened for it and, when a user
// namespace was joined, creates the container's new namespaces inside it.
// It does that only when the parent set _TABOX_SETNS or _TABOX_UNSHARE.
// For the tabox commands themselves, it has the Go runtime start with one
// P (lend_gomaxprocs), which main then undoes in the environment.
//
// With _TABOX_REAPER set, the process is instead the PID 1 of a sandbox's
// PID namespace (reaper.c), which never leaves C.
//
// sysmon.c gives the runtime's monitor thread a coarse timer.
//
// Import it from package main, whose first step is RestoreEnv.
package nsenter

/*
#cgo CFLAGS: -Wall -Werror
#cgo LDFLAGS: -Wl,--wrap=pthread_create
extern char *tabox_env_taken;
extern void tabox_nsenter(void);
void __attribute__((constructor)) tabox_nsenter_init(void) { tabox_nsenter(); }
*/
import "C"

import (
	"os"
	"strings"
)

// RestoreEnv puts back the environment entry that the constructor lent
// to GOMAXPROCS=1 (see lend_gomaxprocs in nsenter.c), and reports whether
// it had: the runtime then has one P. Call it first thing in main.
func RestoreEnv() bool {
	if C.tabox_env_taken == nil {
		return false
	}
	os.Unsetenv("GOMAXPROCS")
	// An earlier entry of the same name is the one in effect.
	if k, v, ok := strings.Cut(C.GoString(C.tabox_env_taken), "="); ok {
		if _, dup := os.LookupEnv(k); !dup {
			os.Setenv(k, v)
		}
	}
	return true
}

// envTaken is for the tests, which cannot use cgo.
func envTaken() bool { return C.tabox_env_taken != nil }
