package libtabox

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"

	"github.com/tabox/tabox/libtabox/sigfwd"
	"golang.org/x/sys/unix"
)

// Child is a process this tabox started and is the parent of: a
// container's init, or a process executed in a container.
//
// tabox starts them with syscall.StartProcess rather than os/exec: the
// first os.StartProcess of a process probes the kernel's pidfd support by
// forking a child, a tenth of a millisecond on every create and exec. The
// pidfd comes from clone itself (CLONE_PIDFD), so that a signal never
// reaches another process that got the pid after this one was reaped.
type Child struct {
	pid   int
	pidfd int // -1 without one: signals then go by pid until it is reaped

	mu         sync.Mutex
	reaped     bool
	forwarding bool // the target of sigfwd

	waitOnce sync.Once
	status   syscall.WaitStatus
	rusage   syscall.Rusage
	waitErr  error
}

// startProcess starts path with files as its fds 0, 1, 2, … (nil: an fd
// on /dev/null, as os/exec gives).
func startProcess(path string, args, env []string, files []*os.File, sys *syscall.SysProcAttr) (*Child, error) {
	fds := make([]uintptr, len(files))
	var devNull *os.File
	for i, f := range files {
		if f == nil {
			if devNull == nil {
				var err error
				if devNull, err = os.OpenFile(os.DevNull, os.O_RDWR, 0); err != nil {
					return nil, err
				}
				defer devNull.Close()
			}
			f = devNull
		}
		fds[i] = f.Fd()
	}
	pidfd := -1
	attr := *sys
	attr.PidFD = &pidfd
	pid, _, err := syscall.StartProcess(path, args, &syscall.ProcAttr{Env: env, Files: fds, Sys: &attr})
	// The fds are numbers to StartProcess: the files must not be closed
	// (by a finalizer) before the fork has dup'd them.
	runtime.KeepAlive(files)
	if err != nil {
		return nil, &os.PathError{Op: "fork/exec", Path: path, Err: err}
	}
	return &Child{pid: pid, pidfd: pidfd}, nil
}

// adoptProcess takes pid, a child of this process started otherwise (see
// initProcess.adoptForked), as a Child.
func adoptProcess(pid int) (*Child, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	return &Child{pid: pid, pidfd: fd}, nil
}

// Pid returns the process's host PID.
func (p *Child) Pid() int { return p.pid }

// Signal sends sig to the process, unless it has been waited for.
func (p *Child) Signal(sig os.Signal) error {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return errors.New("unsupported signal type")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reaped {
		return os.ErrProcessDone
	}
	var err error
	if p.pidfd >= 0 {
		err = unix.PidfdSendSignal(p.pidfd, s, nil, 0)
	} else {
		err = unix.Kill(p.pid, s)
	}
	if errors.Is(err, unix.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// ForwardSignals has the signals caught with sigfwd.Catch sent to the
// process, the ones caught so far first.
func (p *Child) ForwardSignals() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reaped {
		return nil
	}
	p.forwarding = true
	return sigfwd.To(p.pidfd, p.pid)
}

// Kill sends SIGKILL.
func (p *Child) Kill() error { return p.Signal(syscall.SIGKILL) }

// wait reaps the process once, and returns how it ended to every caller.
func (p *Child) wait() (syscall.WaitStatus, *syscall.Rusage, error) {
	p.waitOnce.Do(func() {
		for {
			_, err := syscall.Wait4(p.pid, &p.status, 0, &p.rusage)
			if err != syscall.EINTR {
				p.waitErr = err
				break
			}
		}
		p.mu.Lock()
		p.reaped = true
		if p.forwarding && p.pidfd < 0 {
			sigfwd.Stop()
		}
		if p.pidfd >= 0 {
			unix.Close(p.pidfd)
			p.pidfd = -1
		}
		p.mu.Unlock()
	})
	if p.waitErr != nil {
		return 0, nil, fmt.Errorf("wait: %w", p.waitErr)
	}
	return p.status, &p.rusage, nil
}
