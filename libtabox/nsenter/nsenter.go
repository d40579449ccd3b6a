// Package nsenter joins existing namespaces in the container's init before
// the Go runtime starts.
//
// setns(2) into a mount, user or time namespace is refused to a
// multithreaded process, and a Go program has threads before main runs. So
// the init is a re-executed tabox whose C constructor, below, runs first:
// it joins the namespaces the parent opened for it and, when a user
// namespace was joined, creates the container's new namespaces inside it.
// It does nothing unless the parent set _TABOX_SETNS or _TABOX_UNSHARE, so
// it costs nothing for the tabox commands themselves.
//
// With _TABOX_REAPER set, the process is instead the PID 1 of a sandbox's
// PID namespace (reaper.c), which never leaves C.
//
// Import it for its side effect only, from package main.
package nsenter

/*
#cgo CFLAGS: -Wall -Werror
extern void tabox_nsenter(void);
void __attribute__((constructor)) tabox_nsenter_init(void) { tabox_nsenter(); }
*/
import "C"
