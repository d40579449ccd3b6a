package libtabox

import (
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Reaper is the PID 1 of a sandbox's PID namespace, so that the program
// is not.
//
// The kernel spares a namespace's PID 1 every signal it has no handler
// for, its own kernel-sent ones included: as PID 1, a program writing past
// RLIMIT_FSIZE gets EFBIG instead of dying of SIGXFSZ, one writing to a
// closed pipe EPIPE instead of SIGPIPE, and abort() ends in SIGSEGV. With
// a reaper as PID 1 the program is PID 2 and dies as it would anywhere.
//
// The reaper is tabox's C constructor, which never starts the Go runtime
// (libtabox/nsenter/reaper.c): it reaps orphans, holds nothing open, is not
// dumpable, runs as the program's user without capabilities, and is
// outside the container's cgroup, so that none of its memory, CPU time or
// tasks counts against the program. The container's init joins its PID
// namespace: the init, and then the program, stays the child of the
// caller, which sees its exact exit status.
type Reaper struct {
	cmd  *exec.Cmd
	stop chan struct{}
	done chan struct{}
}

// StartReaper starts a reaper in a new PID namespace and makes cfg join
// that namespace instead of creating one. It runs as cfg's process's user.
// Joining a PID namespace from outside needs CAP_SYS_ADMIN in tabox's own
// user namespace: an unprivileged caller gets an error.
func StartReaper(cfg *Config) (*Reaper, error) {
	if cfg.Process == nil {
		return nil, errors.New("reaper: the container has no process")
	}
	r := &Reaper{stop: make(chan struct{}), done: make(chan struct{})}
	r.cmd = &exec.Cmd{
		// Not the sealed copy the init runs from (0.4 ms more): nothing of
		// the sandbox exists before the reaper has made itself
		// non-dumpable, and then nothing in it may open /proc/1/exe.
		Path: "/proc/self/exe",
		Args: []string{"tabox-reaper"},
		Env:  []string{"_TABOX_REAPER=1"},
		Dir:  "/",
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: unix.CLONE_NEWPID,
			Credential: &syscall.Credential{Uid: cfg.Process.UID, Gid: cfg.Process.GID, Groups: []uint32{}},
			// With it goes the namespace, and all of the sandbox in it.
			Pdeathsig: unix.SIGKILL,
		},
	}
	errc := make(chan error, 1)
	go func() {
		// The parent-death signal fires when the thread that forked the
		// reaper exits, and Go ends a thread whose goroutine exits locked
		// to it (the init's fork into a joined PID namespace does): this
		// thread is the reaper's alone, and stays until Stop.
		runtime.LockOSThread()
		defer close(r.done)
		if err := r.cmd.Start(); err != nil {
			errc <- err
			return
		}
		errc <- nil
		<-r.stop
		r.cmd.Process.Kill()
		r.cmd.Wait()
	}()
	if err := <-errc; err != nil {
		return nil, fmt.Errorf("start the sandbox's reaper: %w", err)
	}
	path := "/proc/" + strconv.Itoa(r.cmd.Process.Pid) + "/ns/pid"
	joined := false
	for i, ns := range cfg.Namespaces {
		if ns.Type == NEWPID {
			cfg.Namespaces[i].Path = path
			joined = true
		}
	}
	if !joined {
		cfg.Namespaces = append(cfg.Namespaces, Namespace{Type: NEWPID, Path: path})
	}
	return r, nil
}

// Stop kills the reaper, and with it whatever is left in its namespace. A
// dying PID 1 waits until every process of its namespace has been reaped,
// the container's init too, which is the caller's child: reap it first.
// Stop gives up waiting after a while rather than hang.
func (r *Reaper) Stop() {
	if r == nil {
		return
	}
	close(r.stop)
	select {
	case <-r.done:
	case <-time.After(2 * time.Second):
	}
}
