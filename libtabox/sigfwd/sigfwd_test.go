package sigfwd

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// trapper starts a shell that exits with code when it gets sig, and
// returns once the trap is set.
func trapper(t *testing.T, sig string, code string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", "trap 'exit "+code+"' "+sig+"; echo ready; while :; do sleep 0.01; done")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("trapper: %q, %v", line, err)
	}
	return cmd
}

// exitCode waits up to 10 s for cmd and returns its exit code.
func exitCode(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(10 * time.Second):
		t.Fatal("the process did not get the signal")
		return -1
	}
}

// waitHeld waits until the handler has held sig, which the kernel may
// deliver to another thread, after kill(2) has returned.
func waitHeld(t *testing.T, sig unix.Signal) {
	t.Helper()
	for i := 0; held()&(1<<sig) == 0; i++ {
		if i == 1000 {
			t.Fatalf("signal %d not held", sig)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A signal that comes before there is a target is held, and sent once
// there is one.
func TestHeldUntilTarget(t *testing.T) {
	if err := Catch(unix.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	cmd := trapper(t, "USR1", "7")
	if err := unix.Kill(os.Getpid(), unix.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitHeld(t, unix.SIGUSR1)
	pidfd, err := unix.PidfdOpen(cmd.Process.Pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pidfd)
	if err := To(pidfd, cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if code := exitCode(t, cmd); code != 7 {
		t.Fatalf("exit code %d, want 7 (the trap's)", code)
	}
	Stop()
}

// Without a pidfd the signal goes by pid. After Stop it is dropped, not
// held for a later target, and tabox, whose handler it still is, does not
// die of it.
func TestByPidThenStop(t *testing.T) {
	if err := Catch(unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	cmd := trapper(t, "TERM", "9")
	if err := To(-1, cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if err := unix.Kill(os.Getpid(), unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := exitCode(t, cmd); code != 9 {
		t.Fatalf("exit code %d, want 9 (the trap's)", code)
	}
	Stop()
	if err := unix.Kill(os.Getpid(), unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if held() != 0 {
		t.Fatalf("held after Stop: %#x", held())
	}
	other := trapper(t, "TERM", "9")
	if err := To(-1, other.Process.Pid); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if err := other.Process.Signal(unix.Signal(0)); err != nil {
		t.Fatalf("the signal caught after Stop reached the next target: %v", err)
	}
	Stop()
}

func TestCatchRange(t *testing.T) {
	if err := Catch(unix.Signal(64)); err == nil {
		t.Fatal("signal 64 accepted")
	}
}
