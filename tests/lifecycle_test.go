package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// sleepBundle is a bundle whose container sleeps until signalled.
func sleepBundle(t *testing.T) string {
	t.Helper()
	return newBundle(t, withArgs("testinit", "sleep", "120"))
}

// TestLifecycle walks a container through create, start, kill and delete,
// reloading its state from disk after every step.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	bundle := sleepBundle(t)
	before := time.Now().Add(-2 * time.Second)
	id, _ := createContainer(t, bundle)

	st := state(t, id)
	if st.Status != "created" {
		t.Fatalf("after create: status %q, want created", st.Status)
	}
	if st.ID != id {
		t.Errorf("state id %q, want %q", st.ID, id)
	}
	if st.Bundle != bundle {
		t.Errorf("state bundle %q, want %q", st.Bundle, bundle)
	}
	if st.Rootfs != filepath.Join(bundle, "rootfs") {
		t.Errorf("state rootfs %q, want %q", st.Rootfs, filepath.Join(bundle, "rootfs"))
	}
	if !strings.HasPrefix(st.OCIVersion, "1.") {
		t.Errorf("state ociVersion %q, want 1.x", st.OCIVersion)
	}
	if st.Owner != "" && st.Owner != "root" {
		t.Errorf("state owner %q, want root (or empty, as runc says for root)", st.Owner)
	}
	created, err := time.Parse(time.RFC3339Nano, st.Created)
	if err != nil {
		t.Errorf("state created %q: %v", st.Created, err)
	} else if created.Before(before) || created.After(time.Now().Add(time.Second)) {
		t.Errorf("state created %v is not the time of the create (%v)", created, before)
	}
	if st.Pid <= 0 {
		t.Fatalf("created container has pid %d", st.Pid)
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(st.Pid)); err != nil {
		t.Fatalf("created container's init %d does not exist: %v", st.Pid, err)
	}
	pid := st.Pid

	mustTabox(t, "start", id)
	st = state(t, id)
	if st.Status != "running" {
		t.Fatalf("after start: status %q, want running", st.Status)
	}
	if st.Pid != pid {
		t.Errorf("after start: pid %d, want %d (the created init)", st.Pid, pid)
	}

	mustTabox(t, "kill", id, "KILL")
	st = waitForStatus(t, id, "stopped")
	if st.ID != id || st.Bundle != bundle {
		t.Errorf("stopped state: id %q bundle %q, want %q %q", st.ID, st.Bundle, id, bundle)
	}

	deleteContainer(t, id, false)
	_, stderr, code := tabox(t, "state", id)
	assertOneLineError(t, stderr, code, "container does not exist")
}

// TestDeleteCreated: a plain delete of a created container is refused and
// leaves it alone; delete --force kills its init and leaves nothing.
func TestDeleteCreated(t *testing.T) {
	t.Parallel()
	id, _ := createContainer(t, sleepBundle(t))
	if st := state(t, id); st.Status != "created" {
		t.Fatalf("status %q, want created", st.Status)
	}
	// The runtime-spec: deleting a container that is not stopped is an
	// error and has no effect on it.
	_, stderr, code := tabox(t, "delete", id)
	if code == 0 || !strings.Contains(stderr, "created") {
		t.Fatalf("delete of a created container: exit %d, stderr %q; want an error naming its status", code, stderr)
	}
	if st := state(t, id); st.Status != "created" {
		t.Fatalf("after a refused delete: status %q, want created", st.Status)
	}
	deleteContainer(t, id, true)
}

// TestKillCreated checks that a created container can be killed (SIGKILL)
// and then deleted.
func TestKillCreated(t *testing.T) {
	t.Parallel()
	id, _ := createContainer(t, sleepBundle(t))
	mustTabox(t, "kill", id, "KILL")
	waitForStatus(t, id, "stopped")
	deleteContainer(t, id, false)
}

// TestContainerExitsStopped: a container whose process exits on its own is
// reported stopped, and can be deleted.
func TestContainerExitsStopped(t *testing.T) {
	t.Parallel()
	bundle := newBundle(t, withArgs("testinit", "echo", "bye"))
	id, create := createContainer(t, bundle)
	mustTabox(t, "start", id)
	waitForStatus(t, id, "stopped")
	if out, _ := create.output(); strings.TrimSpace(out) != "bye" {
		t.Errorf("container output %q, want %q", out, "bye")
	}
	deleteContainer(t, id, false)
}

// TestRunExitCode: run exits with the container's exit status.
func TestRunExitCode(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 3, 42} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			t.Parallel()
			bundle := newBundle(t, withArgs("testinit", "exit", strconv.Itoa(n)))
			id := newID(t)
			_, stderr, code := tabox(t, "run", "--bundle", bundle, id)
			if code != n {
				t.Errorf("run exit status %d, want %d (stderr: %s)", code, n, stderr)
			}
			assertNoLeftovers(t, rootDir(t), id)
		})
	}
}

// TestRunKilled: a container killed by SIGKILL makes run exit 137.
func TestRunKilled(t *testing.T) {
	t.Parallel()
	bundle := sleepBundle(t)
	id := newID(t)
	p := startTabox(t, cmdOpts{}, "run", "--bundle", bundle, id)
	waitForStatus(t, id, "running")
	mustTabox(t, "kill", id, "KILL")
	_, stderr, code := p.wait()
	if code != 137 {
		t.Errorf("run exit status %d, want 137 (stderr: %s)", code, stderr)
	}
	assertNoLeftovers(t, rootDir(t), id)
}

// TestRunSignalExit: a container process that dies of a signal N makes run
// exit 128+N (no PID namespace, so that the process can kill itself).
func TestRunSignalExit(t *testing.T) {
	t.Parallel()
	bundle := newBundle(t, func(s *specs.Spec) {
		s.Process.Args = []string{"testinit", "kill-self", "TERM"}
		removeNamespace(s, "pid")
	})
	stdout, stderr, code := runContainer(t, bundle)
	if code != 128+int(syscall.SIGTERM) {
		t.Errorf("run exit status %d, want %d\nstdout: %s\nstderr: %s", code, 128+int(syscall.SIGTERM), stdout, stderr)
	}
}

// TestRunDetach: run --detach returns once the container runs.
func TestRunDetach(t *testing.T) {
	t.Parallel()
	bundle := sleepBundle(t)
	id := newID(t)
	start := time.Now()
	mustTabox(t, "run", "--detach", "--bundle", bundle, id)
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("run --detach took %v", d)
	}
	st := state(t, id)
	if st.Status != "running" {
		t.Fatalf("after run --detach: status %q, want running", st.Status)
	}
	mustTabox(t, "kill", id, "KILL")
	waitForStatus(t, id, "stopped")
	deleteContainer(t, id, false)
}

// TestRunKeep: run --keep leaves the stopped container to be deleted.
func TestRunKeep(t *testing.T) {
	t.Parallel()
	bundle := newBundle(t, withArgs("testinit", "exit", "5"))
	id := newID(t)
	_, stderr, code := tabox(t, "run", "--keep", "--bundle", bundle, id)
	if code != 5 {
		t.Fatalf("run --keep: exit %d, want 5 (stderr: %s)", code, stderr)
	}
	st := state(t, id)
	if st.Status != "stopped" {
		t.Errorf("after run --keep: status %q, want stopped", st.Status)
	}
	deleteContainer(t, id, false)
}

var decimalPid = regexp.MustCompile(`^[1-9][0-9]*$`)

// TestPidFile: --pid-file holds the init's pid in decimal, as state does.
func TestPidFile(t *testing.T) {
	t.Parallel()
	t.Run("create", func(t *testing.T) {
		t.Parallel()
		pidFile := filepath.Join(t.TempDir(), "pid")
		id, _ := createContainer(t, sleepBundle(t), "--pid-file", pidFile)
		checkPidFile(t, pidFile, state(t, id).Pid)
		deleteContainer(t, id, true)
	})
	t.Run("run-detach", func(t *testing.T) {
		t.Parallel()
		pidFile := filepath.Join(t.TempDir(), "pid")
		id := newID(t)
		mustTabox(t, "run", "--detach", "--pid-file", pidFile, "--bundle", sleepBundle(t), id)
		checkPidFile(t, pidFile, state(t, id).Pid)
		deleteContainer(t, id, true)
	})
	t.Run("relative", func(t *testing.T) {
		t.Parallel()
		// A relative --pid-file is relative to the runtime's cwd.
		dir := t.TempDir()
		id := newID(t)
		_, stderr, code := taboxOpts(t, cmdOpts{dir: dir}, "create", "--pid-file", "rel.pid", "--bundle", sleepBundle(t), id)
		if code != 0 {
			t.Fatalf("create: exit %d: %s", code, stderr)
		}
		checkPidFile(t, filepath.Join(dir, "rel.pid"), state(t, id).Pid)
		deleteContainer(t, id, true)
	})
}

func checkPidFile(t *testing.T, path string, pid int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	if !decimalPid.Match(data) {
		t.Errorf("pid file holds %q, want a bare decimal pid", data)
	}
	if got, _ := strconv.Atoi(string(data)); got != pid {
		t.Errorf("pid file holds %d, state says %d", got, pid)
	}
}

// TestStdio: the container's stdout and stderr are the runtime's.
func TestStdio(t *testing.T) {
	t.Parallel()
	bundle := newBundle(t, withArgs("testinit", "echo", "to-stdout", "--", "stderr", "to-stderr"))
	stdout, stderr, code := runContainer(t, bundle)
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	if strings.TrimSpace(stdout) != "to-stdout" {
		t.Errorf("stdout %q, want %q", stdout, "to-stdout")
	}
	if strings.TrimSpace(stderr) != "to-stderr" {
		t.Errorf("stderr %q, want %q", stderr, "to-stderr")
	}
}

// TestSignalAtStart: tabox catches the signals it forwards before the
// process runs. The process's first act is to send SIGTERM to its parent,
// tabox (there is no PID namespace, so the parent is visible): it must
// come back to the process, whose trap exits 7, rather than stop tabox.
func TestSignalAtStart(t *testing.T) {
	t.Parallel()
	script := `trap 'echo got-term; exit 7' TERM; kill -TERM $PPID; sleep 20 & wait`
	noPidNS := func(s *specs.Spec) { removeNamespace(s, specs.PIDNamespace) }
	runAndExec(t, noPidNS, []string{"sh", "-c", script}, func(t *testing.T, p *proc) {
		stdout, stderr, code := p.wait()
		if code != 7 || !strings.Contains(stdout, "got-term") {
			t.Errorf("process signalling tabox at once: exit %d, stdout %q, stderr %q; want 7 and got-term", code, stdout, stderr)
		}
	})
}

// TestSignalsForwarded: a signal sent to tabox run, or to tabox exec,
// reaches the container's process, which goes on; it does not stop tabox.
func TestSignalsForwarded(t *testing.T) {
	t.Parallel()
	args := testinitArgs([]string{"pause"}, []string{"echo", "resumed"})
	runAndExec(t, nil, args, func(t *testing.T, p *proc) {
		poll(t, "the process to print paused", func() bool {
			out, _ := p.output()
			return strings.Contains(out, "paused")
		})
		p.signal(syscall.SIGUSR1)
		stdout, stderr, code := p.wait()
		if code != 0 || !strings.Contains(stdout, "resumed") {
			t.Errorf("after SIGUSR1 to tabox: exit %d, stdout %q, stderr %q; want 0 and resumed", code, stdout, stderr)
		}
	})
}

// runAndExec starts args in the foreground twice, in parallel subtests:
// as the process of a new container (tabox run), and exec'd into a
// running one (tabox exec); both bundles are changed by mutate, if set.
// check gets each invocation.
func runAndExec(t *testing.T, mutate func(*specs.Spec), args []string, check func(*testing.T, *proc)) {
	t.Helper()
	mkBundle := func(t *testing.T, args ...string) string {
		return newBundle(t, func(s *specs.Spec) {
			if mutate != nil {
				mutate(s)
			}
			s.Process.Args = args
		})
	}
	t.Run("run", func(t *testing.T) {
		t.Parallel()
		bundle := mkBundle(t, args...)
		id := newID(t)
		check(t, startTabox(t, cmdOpts{}, "run", "--bundle", bundle, id))
		assertNoLeftovers(t, rootDir(t), id)
	})
	t.Run("exec", func(t *testing.T) {
		t.Parallel()
		id := newID(t)
		mustTabox(t, "run", "--detach", "--bundle", mkBundle(t, "testinit", "sleep", "120"), id)
		defer deleteContainer(t, id, true)
		check(t, startTabox(t, cmdOpts{}, append([]string{"exec", id}, args...)...))
	})
}
