package tests

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// consoleListener listens on an AF_UNIX socket as containerd's shim does,
// and hands over the pty master the runtime sends there.
func consoleListener(t *testing.T) (string, <-chan ptyMsg) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ch := make(chan ptyMsg, 1)
	go func() {
		defer close(ch)
		conn, err := l.AcceptUnix()
		if err != nil {
			return
		}
		defer conn.Close()
		buf := make([]byte, 1024)
		oob := make([]byte, 128)
		n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil {
			ch <- ptyMsg{err: err}
			return
		}
		m := ptyMsg{name: string(buf[:n])}
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, msg := range msgs {
				fds, _ := unix.ParseUnixRights(&msg)
				m.fds = append(m.fds, fds...)
			}
		}
		ch <- m
	}()
	return path, ch
}

type ptyMsg struct {
	name string
	fds  []int
	err  error
}

// readAll reads the pty master until the container's side closes it.
func readPty(t *testing.T, fd int) string {
	t.Helper()
	f := os.NewFile(uintptr(fd), "pty-master")
	defer f.Close()
	var out strings.Builder
	buf := make([]byte, 4096)
	deadline := time.Now().Add(pollTimeout)
	for time.Now().Before(deadline) {
		n, err := f.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return strings.ReplaceAll(out.String(), "\r", "")
}

// TestConsoleSocket: with terminal: true and --console-socket, the
// runtime sends one message with the pty's name and exactly one fd, the
// master; the container's process has the slave as its stdio and
// controlling terminal, in a session of its own.
func TestConsoleSocket(t *testing.T) {
	t.Parallel()
	sock, msgs := consoleListener(t)
	bundle := newBundle(t, func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.ConsoleSize = &specs.Box{Height: 24, Width: 77}
		s.Process.Args = []string{"sh", "-c", "tty; stty size; cut -d' ' -f6,7 /proc/self/stat; echo $$"}
	})
	id, _ := createContainer(t, bundle, "--console-socket", sock)
	m := <-msgs
	if m.err != nil {
		t.Fatal(m.err)
	}
	if len(m.fds) != 1 {
		t.Fatalf("console socket got %d fds, want exactly one", len(m.fds))
	}
	if !strings.HasPrefix(m.name, "/dev/pts/") {
		t.Errorf("pty name %q, want /dev/pts/N", m.name)
	}
	mustTabox(t, "start", id)
	out := readPty(t, m.fds[0])
	l := lines(out)
	if len(l) < 4 {
		t.Fatalf("container output on the pty: %q", out)
	}
	if l[0] != m.name {
		t.Errorf("tty inside %q, want the pty sent, %q", l[0], m.name)
	}
	if l[1] != "24 77" {
		t.Errorf("terminal size inside %q, want 24 77 (process.consoleSize)", l[1])
	}
	// Field 6 is the session, field 7 the controlling tty (136:N).
	if f := strings.Fields(l[2]); len(f) != 2 || f[0] != l[3] || f[1] == "0" {
		t.Errorf("session and tty_nr %q (pid %s): want a session of its own and a controlling terminal", l[2], l[3])
	}
	waitForStatus(t, id, "stopped")
	deleteContainer(t, id, false)
}

// TestExecConsoleSocket: exec --tty --console-socket gives the new process
// a pty of the container's devpts.
func TestExecConsoleSocket(t *testing.T) {
	t.Parallel()
	id, _ := runningContainer(t, nil)
	sock, msgs := consoleListener(t)
	mustTabox(t, "exec", "--tty", "--console-socket", sock, "--detach", id, "sh", "-c", "tty")
	m := <-msgs
	if m.err != nil || len(m.fds) != 1 {
		t.Fatalf("console socket: %v, %d fds", m.err, len(m.fds))
	}
	if out := strings.TrimSpace(readPty(t, m.fds[0])); !strings.HasPrefix(out, "/dev/pts/") {
		t.Errorf("tty of the exec'd process %q, want /dev/pts/N", out)
	}
}

// TestExecTerminalKeepsConsole: exec --tty gives the new process a pty of
// its own and leaves the container's /dev/console, the init's pty, as it
// is; so a second exec --tty works too (kubectl exec -it, twice).
func TestExecTerminalKeepsConsole(t *testing.T) {
	t.Parallel()
	sock, msgs := consoleListener(t)
	bundle := newBundle(t, func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.Args = []string{"testinit", "sleep", "120"}
	})
	id, _ := createContainer(t, bundle, "--console-socket", sock)
	m := <-msgs
	if m.err != nil || len(m.fds) != 1 {
		t.Fatalf("console socket: %v, %d fds", m.err, len(m.fds))
	}
	defer unix.Close(m.fds[0])
	mustTabox(t, "start", id)
	initTTY := strings.TrimSpace(mustTabox(t, "exec", id, "readlink", "/proc/1/fd/0"))
	initPty, err := strconv.Atoi(strings.TrimPrefix(initTTY, "/dev/pts/"))
	if err != nil {
		t.Fatalf("the init's stdin is %q, want its pty: %v", initTTY, err)
	}
	for i := 0; i < 2; i++ {
		sock, msgs := consoleListener(t)
		mustTabox(t, "exec", "--tty", "--console-socket", sock, "--detach", id, "sh", "-c", "tty")
		m := <-msgs
		if m.err != nil || len(m.fds) != 1 {
			t.Fatalf("exec %d: console socket: %v, %d fds", i+1, m.err, len(m.fds))
		}
		if out := strings.TrimSpace(readPty(t, m.fds[0])); !strings.HasPrefix(out, "/dev/pts/") || out == initTTY {
			t.Errorf("exec %d: tty %q, want a pty other than the init's %s", i+1, out, initTTY)
		}
	}
	// busybox stat: %t and %T are the major and minor in hex.
	out := mustTabox(t, "exec", id, "sh", "-c", "stat -c %t:%T /dev/console; grep -c ' /dev/console ' /proc/self/mountinfo")
	if want := "88:" + strconv.FormatInt(int64(initPty), 16) + "\n1\n"; out != want {
		t.Errorf("/dev/console after two exec --tty: %q, want the init's pty %s bound once, %q", out, initTTY, want)
	}
}

// TestConsoleErrors: runc's errors for a terminal without a socket in
// detached mode, and a socket without a terminal.
func TestConsoleErrors(t *testing.T) {
	t.Parallel()
	sock, _ := consoleListener(t)
	noTTY := newBundle(t, withArgs("testinit", "echo", "x"))
	id := newID(t)
	_, stderr, code := tabox(t, "create", "--console-socket", sock, "--bundle", noTTY, id)
	assertOneLineError(t, stderr, code, "cannot use console socket")
	assertNoLeftovers(t, rootDir(t), id)

	tty := newBundle(t, func(s *specs.Spec) { s.Process.Terminal = true })
	id = newID(t)
	_, stderr, code = tabox(t, "run", "--detach", "--bundle", tty, id)
	assertOneLineError(t, stderr, code, "cannot allocate tty")
	assertNoLeftovers(t, rootDir(t), id)
}

// TestPidfdSocket: --pidfd-socket receives, in the console socket's
// framing, exactly one fd: a pidfd of the container's init (create) or of
// the exec'd process.
func TestPidfdSocket(t *testing.T) {
	t.Parallel()
	sock, msgs := consoleListener(t)
	id, _ := createContainer(t, sleepBundle(t), "--pidfd-socket", sock)
	m := <-msgs
	if m.err != nil || len(m.fds) != 1 || m.name != "pidfd" {
		t.Fatalf("pidfd socket: %v, name %q, %d fds; want \"pidfd\" and one fd", m.err, m.name, len(m.fds))
	}
	defer unix.Close(m.fds[0])
	if got, want := pidfdPid(t, m.fds[0]), state(t, id).Pid; got != want {
		t.Errorf("pidfd is of pid %d, want the init %d", got, want)
	}

	mustTabox(t, "start", id)
	sock2, msgs2 := consoleListener(t)
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	mustTabox(t, "exec", "--detach", "--pidfd-socket", sock2, "--pid-file", pidFile, id, "testinit", "sleep", "60")
	m = <-msgs2
	if m.err != nil || len(m.fds) != 1 {
		t.Fatalf("exec pidfd socket: %v, %d fds", m.err, len(m.fds))
	}
	defer unix.Close(m.fds[0])
	data, _ := os.ReadFile(pidFile)
	if got := pidfdPid(t, m.fds[0]); strconv.Itoa(got) != string(data) {
		t.Errorf("exec pidfd is of pid %d, want the exec'd process %s", got, data)
	}
}

// pidfdPid reads the "Pid:" line of a pidfd's fdinfo.
func pidfdPid(t *testing.T, fd int) int {
	t.Helper()
	data, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(fd))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "Pid:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	t.Fatalf("fd %d is not a pidfd: %s", fd, data)
	return 0
}
