package tests

import (
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// seccompNotif and seccompNotifResp are the kernel's struct seccomp_notif
// and struct seccomp_notif_resp (x/sys/unix has the ioctls, not these).
type seccompNotif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Nr    int32
	Arch  uint32
	IP    uint64
	Args  [6]uint64
}

type seccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

// agentConn is one connection the seccomp agent accepted: the container
// process state it got, and the notifications it answered through the fd
// that came with it.
type agentConn struct {
	state specs.ContainerProcessState
	raw   string
	// nfds is how many fds came with the message; trailing, what came
	// after it before the runtime closed the connection.
	nfds     int
	trailing string

	mu     sync.Mutex
	notifs []notification
}

// notification is a notification the agent answered, with the process
// (thread group) of the thread that made the syscall, read while it waited.
type notification struct {
	seccompNotif
	tgid int
}

func (c *agentConn) seen() []notification {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]notification(nil), c.notifs...)
}

// seccompAgent is a small seccomp agent: it listens on a unix socket,
// takes the state and listener fd of each connection, and answers every
// notification of connection i with answer(i, notification).
type seccompAgent struct {
	t      *testing.T
	path   string
	answer func(conn int, n seccompNotif) seccompNotifResp
	conns  chan *agentConn
	stop   chan struct{}
	wg     sync.WaitGroup
}

// newSeccompAgent starts an agent; its socket is in a short directory of
// its own (sun_path has 108 bytes).
func newSeccompAgent(t *testing.T, answer func(conn int, n seccompNotif) seccompNotifResp) *seccompAgent {
	t.Helper()
	dir, err := os.MkdirTemp("", "agent-")
	if err != nil {
		t.Fatal(err)
	}
	a := &seccompAgent{t: t, path: filepath.Join(dir, "agent.sock"), answer: answer,
		conns: make(chan *agentConn, 8), stop: make(chan struct{})}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: a.path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		close(a.stop)
		l.Close()
		a.wg.Wait()
		os.RemoveAll(dir)
	})
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		for i := 0; ; i++ {
			conn, err := l.AcceptUnix()
			if err != nil {
				return
			}
			a.wg.Add(1)
			go a.handle(i, conn)
		}
	}()
	return a
}

// handle reads the one message of a connection, reports it, and serves its
// listener until every process under the filter is gone.
func (a *seccompAgent) handle(i int, conn *net.UnixConn) {
	defer a.wg.Done()
	c := &agentConn{}
	conn.SetDeadline(time.Now().Add(pollTimeout))
	buf, oob := make([]byte, 1<<16), make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		c.raw = "read error: " + err.Error()
		conn.Close()
		a.conns <- c
		return
	}
	c.raw = string(buf[:n])
	var fds []int
	if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
		for _, m := range msgs {
			if got, err := unix.ParseUnixRights(&m); err == nil {
				fds = append(fds, got...)
			}
		}
	}
	c.nfds = len(fds)
	json.Unmarshal(buf[:n], &c.state)
	rest, err := io.ReadAll(conn)
	c.trailing = string(rest)
	if err != nil {
		c.trailing += " (not closed: " + err.Error() + ")"
	}
	conn.Close()
	a.conns <- c
	if len(fds) == 0 {
		return
	}
	for _, fd := range fds[1:] {
		unix.Close(fd)
	}
	listener := fds[0]
	defer unix.Close(listener)
	for {
		select {
		case <-a.stop:
			return
		default:
		}
		pfd := []unix.PollFd{{Fd: int32(listener), Events: unix.POLLIN}}
		if n, err := unix.Poll(pfd, 50); err != nil || n == 0 {
			continue
		}
		if pfd[0].Revents&unix.POLLIN == 0 {
			// POLLHUP: no process uses the filter any more.
			return
		}
		var req seccompNotif
		if ioctl(listener, unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(&req)) != nil {
			continue // the caller was interrupted or died
		}
		// The notification names the thread; the test wants its process.
		tgid, _ := strconv.Atoi(procStatusField(int(req.Pid), "Tgid"))
		c.mu.Lock()
		c.notifs = append(c.notifs, notification{req, tgid})
		c.mu.Unlock()
		resp := a.answer(i, req)
		resp.ID = req.ID
		ioctl(listener, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&resp))
	}
}

func ioctl(fd int, req uint, arg unsafe.Pointer) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
	if errno != 0 {
		return errno
	}
	return nil
}

// next returns the next connection's message, failing t if none comes.
func (a *seccompAgent) next(t *testing.T) *agentConn {
	t.Helper()
	select {
	case c := <-a.conns:
		return c
	case <-time.After(pollTimeout):
		t.Fatalf("seccomp agent: no connection in %v", pollTimeout)
		return nil
	}
}

// none checks that no other connection came.
func (a *seccompAgent) none(t *testing.T) {
	t.Helper()
	select {
	case c := <-a.conns:
		t.Errorf("seccomp agent: unexpected connection: %s", c.raw)
	default:
	}
}

// answerErrno answers every notification with errno.
func answerErrno(errno unix.Errno) func(int, seccompNotif) seccompNotifResp {
	return func(int, seccompNotif) seccompNotifResp { return seccompNotifResp{Error: -int32(errno)} }
}

// notifyMkdir is a profile that notifies mkdir and mkdirat to the agent
// at listener.
func notifyMkdir(listener, metadata string, flags ...specs.LinuxSeccompFlag) *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{
		DefaultAction:    specs.ActAllow,
		Architectures:    []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Flags:            flags,
		ListenerPath:     listener,
		ListenerMetadata: metadata,
		Syscalls:         []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActNotify}},
	}
}

// checkProcessState checks what the agent got against the container's
// state: pid is the process that loaded the filter.
func checkProcessState(t *testing.T, c *agentConn, st containerState, pid int, status, metadata string) {
	t.Helper()
	got := c.state
	if got.Version != specs.Version || len(got.Fds) != 1 || got.Fds[0] != specs.SeccompFdName || got.Pid != pid || got.Metadata != metadata {
		t.Errorf("agent got %s\nwant ociVersion %q, fds [%q], pid %d, metadata %q", c.raw, specs.Version, specs.SeccompFdName, pid, metadata)
	}
	s := got.State
	if s.ID != st.ID || s.Pid != st.Pid || string(s.Status) != status || s.Bundle != st.Bundle || s.Version != st.OCIVersion {
		t.Errorf("agent got state %+v\nwant id %q, pid %d, status %q, bundle %q, ociVersion %q", s, st.ID, st.Pid, status, st.Bundle, st.OCIVersion)
	}
	if c.nfds != 1 {
		t.Errorf("agent got %d fds, want 1 (seccompFd)", c.nfds)
	}
	if c.trailing != "" {
		t.Errorf("the connection carried more than one message, or was not closed: %q", c.trailing)
	}
}

// TestSeccompNotify: with SCMP_ACT_NOTIFY rules, create sends the agent the
// container process state and the listener fd, and the container's
// syscalls get the agent's answers: an errno, a fake success, or the real
// syscall (SECCOMP_USER_NOTIF_FLAG_CONTINUE). With and without
// no_new_privs, which load the filter at different points of the init.
func TestSeccompNotify(t *testing.T) {
	t.Parallel()
	const script = "mkdir /fake && echo made; test -d /fake && echo present || echo absent"
	continueWrite := func(_ int, n seccompNotif) seccompNotifResp {
		if n.Nr == unix.SYS_WRITE {
			return seccompNotifResp{Flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE}
		}
		return seccompNotifResp{Error: -int32(unix.EXDEV)}
	}
	for _, tc := range []struct {
		name  string
		nnp   bool
		flags []specs.LinuxSeccompFlag
		// write is notified too, besides mkdir and mkdirat.
		write  bool
		answer func(int, seccompNotif) seccompNotifResp
		args   []string
		want   []string
	}{
		// errno=EXDEV: no mkdir gives that on its own.
		{"errno", true, nil, false, answerErrno(unix.EXDEV),
			[]string{"testinit", "syscall", "mkdir"}, []string{"errno=EXDEV"}},
		{"errno-no-nnp", false, []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC"}, false, answerErrno(unix.EXDEV),
			[]string{"testinit", "syscall", "mkdir"}, []string{"errno=EXDEV"}},
		// The agent says it worked, and did nothing.
		{"fake-success", true, nil, false, func(int, seccompNotif) seccompNotifResp { return seccompNotifResp{} },
			[]string{"sh", "-c", script}, []string{"made", "absent"}},
		{"continue", true, []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}, false,
			func(int, seccompNotif) seccompNotifResp {
				return seccompNotifResp{Flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE}
			},
			[]string{"sh", "-c", script}, []string{"made", "present"}},
		// write may be notified (runc refuses it): the init's own writes
		// after the hand-over wait for the agent, which lets them through.
		{"write", true, nil, true, continueWrite,
			[]string{"testinit", "syscall", "mkdir"}, []string{"errno=EXDEV"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			agent := newSeccompAgent(t, tc.answer)
			meta := "tabox-test;case=" + tc.name
			bundle := newBundle(t, func(s *specs.Spec) {
				s.Process.Args = tc.args
				s.Process.NoNewPrivileges = tc.nnp
				s.Linux.Seccomp = notifyMkdir(agent.path, meta, tc.flags...)
				if tc.write {
					s.Linux.Seccomp.Syscalls[0].Names = append(s.Linux.Seccomp.Syscalls[0].Names, "write")
				}
			})
			id, p := createContainer(t, bundle)
			st := state(t, id)
			if st.Status != "created" {
				t.Fatalf("status %q after create", st.Status)
			}
			c := agent.next(t)
			checkProcessState(t, c, st, st.Pid, "creating", meta)
			if tc.write {
				// create returned: the init's message saying so went
				// through the agent.
				if n := c.seen(); len(n) == 0 || n[0].Nr != unix.SYS_WRITE || n[0].tgid != st.Pid {
					t.Errorf("notifications during create %+v, want the init's write first", n)
				}
			}
			mustTabox(t, "start", id)
			waitForStatus(t, id, "stopped")
			out, _ := p.output()
			if got := lines(out); strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("container printed %q, want %q", got, tc.want)
			}
			// The container's process is the init, exec'd: it is the pid
			// the agent got, and the one testinit's notifications come
			// from (sh forks its mkdir).
			notifs := c.seen()
			mkdirs := 0
			for _, n := range notifs {
				switch {
				case tc.args[0] == "testinit" && n.tgid != st.Pid:
					t.Errorf("notification of syscall %d by thread %d of process %d, want the container's %d", n.Nr, n.Pid, n.tgid, st.Pid)
				case n.Nr == unix.SYS_MKDIR || n.Nr == unix.SYS_MKDIRAT:
					mkdirs++
				case n.Nr != unix.SYS_WRITE || !tc.write:
					t.Errorf("notification of syscall %d, which the profile does not notify", n.Nr)
				}
			}
			if mkdirs == 0 {
				t.Errorf("the agent got no mkdir notification (%d notifications)", len(notifs))
			}
			agent.none(t)
			deleteContainer(t, id, false)
		})
	}
}

// TestSeccompNotifyExec: every tabox exec loads the container's filter
// again, and its new listener fd goes to the agent too, with the exec'd
// process's pid and the container's state; the exec'd process's
// notifications come through that fd, not the container's.
func TestSeccompNotifyExec(t *testing.T) {
	t.Parallel()
	errnos := []unix.Errno{unix.EXDEV, unix.ELOOP, unix.EMLINK}
	agent := newSeccompAgent(t, func(conn int, _ seccompNotif) seccompNotifResp {
		return seccompNotifResp{Error: -int32(errnos[conn%len(errnos)])}
	})
	// Without no_new_privs the filter is loaded before the capabilities
	// are dropped; exec --no-new-privs loads it just before execve.
	id, pid := runningContainer(t, func(s *specs.Spec) {
		s.Process.NoNewPrivileges = false
		s.Linux.Seccomp = notifyMkdir(agent.path, "exec-meta")
	})
	st := state(t, id)
	checkProcessState(t, agent.next(t), st, pid, "creating", "exec-meta")
	for i, extra := range [][]string{nil, {"--no-new-privs"}} {
		args := append(append([]string{"exec"}, extra...), id, "testinit", "syscall", "mkdir")
		out := mustTabox(t, args...)
		want := "errno=" + unix.ErrnoName(errnos[i+1])
		if got := strings.TrimSpace(out); got != want {
			t.Errorf("exec %v: printed %q, want %q (answered through the exec's own listener)", extra, got, want)
		}
		c := agent.next(t)
		checkProcessState(t, c, st, c.state.Pid, "running", "exec-meta")
		if c.state.Pid == pid || c.state.Pid <= 0 {
			t.Errorf("exec %v: agent got pid %d, want the exec'd process's, not the init's %d", extra, c.state.Pid, pid)
		}
		notifs := c.seen()
		if len(notifs) != 1 || notifs[0].tgid != c.state.Pid {
			t.Errorf("exec %v: notifications %+v, want one from pid %d", extra, notifs, c.state.Pid)
		}
	}
	agent.none(t)
	mustTabox(t, "kill", id, "KILL")
	waitForStatus(t, id, "stopped")
	deleteContainer(t, id, false)
}

// TestSeccompNotifyErrors: a notify profile create cannot honour fails with
// a one-line error naming the problem, and leaves nothing behind: no state
// directory, process or cgroup.
func TestSeccompNotifyErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		profile func(t *testing.T) (*specs.LinuxSeccomp, []string)
	}{
		{"no-listener", func(t *testing.T) (*specs.LinuxSeccomp, []string) {
			return notifyMkdir("", ""), []string{"listenerPath"}
		}},
		{"relative-listener", func(t *testing.T) (*specs.LinuxSeccomp, []string) {
			return notifyMkdir("agent.sock", ""), []string{`listenerPath "agent.sock" is not absolute`}
		}},
		{"nobody-listens", func(t *testing.T) (*specs.LinuxSeccomp, []string) {
			path := filepath.Join(t.TempDir(), "agent.sock")
			fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { unix.Close(fd) })
			// Bound but not listening: connect is refused.
			if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
				t.Fatal(err)
			}
			return notifyMkdir(path, ""), []string{"seccomp agent " + path + ": connect: connection refused"}
		}},
		{"no-socket", func(t *testing.T) (*specs.LinuxSeccomp, []string) {
			path := filepath.Join(t.TempDir(), "none.sock")
			return notifyMkdir(path, ""), []string{"seccomp agent " + path + ": connect: no such file or directory"}
		}},
		{"notify-sendmsg", func(t *testing.T) (*specs.LinuxSeccomp, []string) {
			s := notifyMkdir("/run/agent.sock", "")
			s.Syscalls[0].Names = append(s.Syscalls[0].Names, "sendmsg")
			return s, []string{"SCMP_ACT_NOTIFY cannot be used for sendmsg"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			profile, want := tc.profile(t)
			bundle := newBundle(t, func(s *specs.Spec) { s.Linux.Seccomp = profile })
			id := newID(t)
			_, stderr, code := tabox(t, "create", "--bundle", bundle, id)
			assertOneLineError(t, stderr, code, want...)
			assertNoLeftovers(t, rootDir(t), id)
		})
	}
}

// seccompNotifyAvailable asks the kernel for SECCOMP_RET_USER_NOTIF.
func seccompNotifyAvailable() bool {
	act := uint32(unix.SECCOMP_RET_USER_NOTIF)
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_GET_ACTION_AVAIL, 0, uintptr(unsafe.Pointer(&act)))
	return errno == 0
}
