package libtabox

import (
	"errors"
	"fmt"
	"os"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"
	"golang.org/x/sys/unix"
)

// ioprioWhoProcess is IOPRIO_WHO_PROCESS; ioprio_set has no wrapper in
// x/sys/unix.
const ioprioWhoProcess = 1

// setProcessAttrs applies the execution domain, the scheduling policy,
// the I/O priority and the LSM labels to the calling thread, which exec
// turns into the user's process. Called while the init still holds its capabilities:
// real-time classes need CAP_SYS_NICE (or CAP_SYS_ADMIN for I/O).
func setProcessAttrs(personality *uint32, proc *Process) error {
	if personality != nil {
		if err := step("personality", setPersonality(*personality)); err != nil {
			return err
		}
	}
	if s := proc.Scheduler; s != nil {
		if err := step("scheduler", setScheduler(s)); err != nil {
			return err
		}
	}
	if p := proc.IOPriority; p != nil {
		if err := step("io priority", setIOPriority(p)); err != nil {
			return err
		}
	}
	if proc.ApparmorProfile != "" {
		if err := step("apparmor", setExecAttr([]string{"attr/apparmor/exec", "attr/exec"}, "exec "+proc.ApparmorProfile)); err != nil {
			return err
		}
	}
	if proc.SelinuxLabel != "" {
		if err := step("selinux label", setExecAttr([]string{"attr/selinux/exec", "attr/exec"}, proc.SelinuxLabel)); err != nil {
			return err
		}
	}
	return nil
}

// setExecAttr writes the LSM label the calling thread takes at its next
// exec, to the first of paths under /proc/thread-self that exists. It goes
// through a private procfs instance, resolved without following symlinks
// or crossing mounts, so that nothing mounted during setup can redirect
// the write (CVE-2025-52881).
func setExecAttr(paths []string, value string) error {
	proc, err := procfs.OpenProcRoot()
	if err != nil {
		return fmt.Errorf("open procfs: %w", err)
	}
	defer proc.Close()
	for i, path := range paths {
		h, unlock, err := proc.OpenThreadSelf(path)
		if errors.Is(err, os.ErrNotExist) && i+1 < len(paths) {
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		err = writeHandle(h, value)
		h.Close()
		unlock()
		if err != nil {
			return fmt.Errorf("write %q to %s: %w", value, path, err)
		}
		return nil
	}
	return nil
}

// writeHandle writes value to the file an O_PATH handle stands for,
// reopened for writing through procfs.
func writeHandle(h *os.File, value string) error {
	f, err := pathrs.Reopen(h, unix.O_WRONLY|unix.O_CLOEXEC)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteString(value)
	return err
}

func setPersonality(domain uint32) error {
	// personality(2) returns the previous persona, and -1 only on error.
	if _, _, errno := unix.RawSyscall(unix.SYS_PERSONALITY, uintptr(domain), 0, 0); errno != 0 {
		return fmt.Errorf("personality %#x: %w", domain, errno)
	}
	return nil
}

func setScheduler(s *Scheduler) error {
	attr := unix.SchedAttr{
		Size:     unix.SizeofSchedAttr,
		Policy:   s.Policy,
		Flags:    s.Flags,
		Nice:     s.Nice,
		Priority: s.Priority,
		Runtime:  s.Runtime,
		Deadline: s.Deadline,
		Period:   s.Period,
	}
	if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
		if err == unix.EPERM && (s.Policy == unix.SCHED_FIFO || s.Policy == unix.SCHED_RR) {
			// The usual cause is not the capability but the cgroup: a
			// cgroup v1 cpu controller gives a new group no real-time
			// budget.
			return fmt.Errorf("sched_setattr policy %d: %w (a real-time policy needs CAP_SYS_NICE and, under cgroup v1, linux.resources.cpu.realtimeRuntime)", s.Policy, err)
		}
		return fmt.Errorf("sched_setattr policy %d: %w", s.Policy, err)
	}
	return nil
}

func setIOPriority(p *IOPriority) error {
	prio := p.Class<<13 | p.Priority
	if _, _, errno := unix.RawSyscall(unix.SYS_IOPRIO_SET, ioprioWhoProcess, 0, uintptr(prio)); errno != 0 {
		return fmt.Errorf("ioprio_set class %d level %d: %w", p.Class, p.Priority, errno)
	}
	return nil
}

// setAffinity pins pid (0: the calling thread) to cpus.
func setAffinity(pid int, cpus []int) error {
	n := 0
	for _, c := range cpus {
		n = max(n, c+1)
	}
	set := unix.NewCPUSet(n)
	for _, c := range cpus {
		set.Set(c)
	}
	if err := unix.SchedSetaffinityDynamic(pid, set); err != nil {
		return fmt.Errorf("sched_setaffinity %v: %w", cpus, err)
	}
	return nil
}
