package libtabox

import (
	"io"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// watchChild starts sh -c script and returns a Monitor of it that does
// not know it is its parent, as a detached monitor does not.
func watchChild(t *testing.T, script string) (*exec.Cmd, *Monitor) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m := &Monitor{c: &Container{state: &savedState{}}, pidfd: -1}
	t.Cleanup(func() {
		m.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	var err error
	if m.pidfd, err = unix.PidfdOpen(cmd.Process.Pid, 0); err != nil {
		t.Fatal(err)
	}
	if m.proc, err = os.Open("/proc/" + strconv.Itoa(cmd.Process.Pid)); err != nil {
		t.Fatal(err)
	}
	return cmd, m
}

func waitPidfd(t *testing.T, fd int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 100)
		if n > 0 {
			return
		}
		if err != nil && err != unix.EINTR || time.Now().After(deadline) {
			t.Fatalf("the child did not exit: %v", err)
		}
	}
}

// TestExitStatusNotParent: a monitor that is not the init's parent learns
// its exit status from its zombie, and, once its parent reaped it, from
// the pidfd (Linux 6.15).
func TestExitStatusNotParent(t *testing.T) {
	for _, tc := range []struct {
		script string
		reaped bool
		want   func(unix.WaitStatus) bool
	}{
		{"exit 7", false, func(ws unix.WaitStatus) bool { return ws.Exited() && ws.ExitStatus() == 7 }},
		{"kill -XFSZ $$", false, func(ws unix.WaitStatus) bool { return ws.Signaled() && ws.Signal() == unix.SIGXFSZ }},
		{"exit 3", true, func(ws unix.WaitStatus) bool { return ws.Exited() && ws.ExitStatus() == 3 }},
		{"kill -KILL $$", true, func(ws unix.WaitStatus) bool { return ws.Signaled() && ws.Signal() == unix.SIGKILL }},
	} {
		cmd, m := watchChild(t, tc.script)
		waitPidfd(t, m.pidfd)
		if tc.reaped {
			cmd.Wait()
			info := unix.PidfdInfo{Mask: unix.PIDFD_INFO_EXIT}
			if err := unix.IoctlPidfdInfo(m.pidfd, &info); err != nil || info.Mask&unix.PIDFD_INFO_EXIT == 0 {
				t.Logf("%q: no PIDFD_INFO_EXIT on this kernel (%v): the status of a reaped init is unknown", tc.script, err)
				if _, _, known := m.exitStatus(); known {
					t.Errorf("%q: status known without a way to know it", tc.script)
				}
				continue
			}
		}
		ws, _, known := m.exitStatus()
		if !known || !tc.want(ws) {
			t.Errorf("%q (reaped first: %v): status %#x, known %v", tc.script, tc.reaped, uint32(ws), known)
		}
	}
}

// TestProcEvents counts the processes of a program from its exec on:
// not the shell's work before it, not threads, every fork after.
func TestProcEvents(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("process events need CAP_NET_ADMIN")
	}
	cmd := exec.Command("/bin/sh", "-c", `/bin/true; echo ready; read x; exec /bin/sh -c '/bin/true; /bin/true & wait; exit 0'`)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer in.Close()
	// Past its own exec and its first fork, which are not the program's.
	if _, err := io.ReadFull(out, make([]byte, 6)); err != nil {
		t.Fatal(err)
	}
	p, err := openProcEvents(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	io.WriteString(in, "go\n")
	in.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	p.drain()
	if n, exact := p.processes(); n != 3 || !exact {
		t.Errorf("processes %d (exact %v), want 3: the shell and two /bin/true", n, exact)
	}
}
