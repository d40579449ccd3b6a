//go:build linux && cgo

package libtabox

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// socketPair returns the parent's and the init's ends of a sync socket.
func socketPair(t *testing.T) (parent *syncPipe, child *os.File) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	parent = newParentSyncPipe(os.NewFile(uintptr(fds[0]), "parent"))
	t.Cleanup(parent.close)
	return parent, os.NewFile(uintptr(fds[1]), "child")
}

func isCloexec(t *testing.T, fd int) bool {
	t.Helper()
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil {
		t.Fatalf("fcntl %d: %v", fd, err)
	}
	return flags&unix.FD_CLOEXEC != 0
}

// TestSyncPipeFd: an fd sent with a message between plain ones reaches the
// parent, close-on-exec, and is taken once.
func TestSyncPipeFd(t *testing.T) {
	parent, childF := socketPair(t)
	child := newSyncPipe(childF)
	defer child.close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	msg, _ := json.Marshal(syncMsg{Type: msgSeccomp})
	if err := child.send(syncMsg{Type: msgReady}); err != nil {
		t.Fatal(err)
	}
	if err := child.sendWithFd(append(msg, '\n'), unix.UnixRights(int(w.Fd()))); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if err := child.send(syncMsg{Type: msgCreated}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []syncType{msgReady, msgSeccomp, msgCreated} {
		if _, err := parent.expect(want); err != nil {
			t.Fatalf("expect %s: %v", want, err)
		}
		if want != msgSeccomp {
			continue
		}
		fd, err := parent.takeFd()
		if err != nil {
			t.Fatalf("takeFd after %s: %v", want, err)
		}
		if !isCloexec(t, fd) {
			t.Errorf("received fd %d is not close-on-exec", fd)
		}
		if _, err := unix.Write(fd, []byte("x")); err != nil {
			t.Errorf("write to the received pipe: %v", err)
		}
		unix.Close(fd)
		buf := make([]byte, 1)
		if n, _ := r.Read(buf); n != 1 || buf[0] != 'x' {
			t.Errorf("read %q from the pipe, want the byte written through the received fd", buf[:n])
		}
	}
	if fd, err := parent.takeFd(); err == nil {
		t.Errorf("takeFd with nothing received = %d, want an error", fd)
	}
}

// notif and notifResp are struct seccomp_notif and seccomp_notif_resp.
type notif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Nr    int32
	Arch  uint32
	IP    uint64
	Args  [6]uint64
}

type notifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

// answerOne waits for one notification on listener and answers it with
// errno; it returns the notification.
func answerOne(t *testing.T, listener int, errno unix.Errno) notif {
	t.Helper()
	fds := []unix.PollFd{{Fd: int32(listener), Events: unix.POLLIN}}
	if n, err := unix.Poll(fds, 10000); err != nil || n == 0 {
		t.Fatalf("no notification in 10s (poll: %d, %v)", n, err)
	}
	var req notif
	if err := ioctlPtr(listener, unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(&req)); err != nil {
		t.Fatalf("SECCOMP_IOCTL_NOTIF_RECV: %v", err)
	}
	resp := notifResp{ID: req.ID, Error: -int32(errno)}
	if err := ioctlPtr(listener, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&resp)); err != nil {
		t.Fatalf("SECCOMP_IOCTL_NOTIF_SEND: %v", err)
	}
	return req
}

func ioctlPtr(fd int, req uint, arg unsafe.Pointer) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
	if errno != 0 {
		return errno
	}
	return nil
}

// TestSeccompHandOff: a process that loads a filter with SCMP_ACT_NOTIFY
// the way the init does passes the listener fd over its sync socket, and
// its notified syscall is answered through that fd.
func TestSeccompHandOff(t *testing.T) {
	prog, err := CompileSeccomp(&Seccomp{DefaultAction: ActAllow,
		Syscalls: []SyscallRule{{Names: []string{"mkdir", "mkdirat"}, Action: ActNotify}}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(prog)
	if err != nil {
		t.Fatal(err)
	}
	parent, child := socketPair(t)
	cmd := exec.Command(os.Args[0], "--", "mkdir:0755")
	cmd.Env = append(os.Environ(), helperEnv+"=1", syncEnv+"=1", progEnv+"="+string(b), dirEnv+"="+t.TempDir())
	cmd.ExtraFiles = []*os.File{child}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child.Close()
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	if _, err := parent.expect(msgSeccomp); err != nil {
		t.Fatalf("expect %s: %v (child: %s)", msgSeccomp, err, out.String())
	}
	listener, err := parent.takeFd()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(listener)
	if !isCloexec(t, listener) {
		t.Error("listener fd is not close-on-exec")
	}
	if err := parent.send(syncMsg{Type: msgSeccompDone}); err != nil {
		t.Fatal(err)
	}
	req := answerOne(t, listener, unix.EXDEV)
	if req.Nr != unix.SYS_MKDIRAT || int(req.Pid) != cmd.Process.Pid {
		t.Errorf("notification of syscall %d by pid %d, want mkdirat (%d) by %d", req.Nr, req.Pid, unix.SYS_MKDIRAT, cmd.Process.Pid)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v\n%s", err, out.String())
	}
	if want := "result mkdir:0755=18"; !strings.Contains(out.String(), want) {
		t.Errorf("child printed %q, want %q (the agent's EXDEV)", out.String(), want)
	}
	if _, err := parent.recv(); err != io.EOF {
		t.Errorf("after the child exited: %v, want EOF", err)
	}
}

// TestSeccompNotifySendmsg: notifying the syscall that hands the listener
// over would deadlock the init; it is refused at compile time.
func TestSeccompNotifySendmsg(t *testing.T) {
	_, err := CompileSeccomp(&Seccomp{DefaultAction: ActAllow,
		Syscalls: []SyscallRule{{Names: []string{"mkdir", "sendmsg"}, Action: ActNotify}}})
	if err == nil || !strings.Contains(err.Error(), "SCMP_ACT_NOTIFY cannot be used for sendmsg") {
		t.Errorf("CompileSeccomp = %v, want the sendmsg refusal", err)
	}
	// Any other action on sendmsg is fine.
	if _, err := CompileSeccomp(&Seccomp{DefaultAction: ActAllow,
		Syscalls: []SyscallRule{{Names: []string{"sendmsg"}, Action: ActLog}, {Names: []string{"mkdir"}, Action: ActNotify}}}); err != nil {
		t.Errorf("CompileSeccomp with sendmsg logged: %v", err)
	}
}

func TestCheckListener(t *testing.T) {
	notify := &SeccompProgram{Notify: true}
	for _, tt := range []struct {
		s       *Seccomp
		p       *SeccompProgram
		wantErr bool
	}{
		{&Seccomp{}, notify, true},
		{&Seccomp{ListenerPath: "/run/agent.sock"}, notify, false},
		{&Seccomp{}, &SeccompProgram{}, false},
	} {
		if err := checkListener(tt.s, tt.p); (err != nil) != tt.wantErr {
			t.Errorf("checkListener(%+v, notify %v) = %v, want error %v", tt.s, tt.p.Notify, err, tt.wantErr)
		}
	}
}

// TestSendToAgent: the agent gets one message on a connection of its own,
// the state as JSON and the fd with it, and the connection is closed.
func TestSendToAgent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	type received struct {
		data []byte
		fds  []int
		rest []byte
		err  error
	}
	got := make(chan received, 1)
	go func() {
		var res received
		defer func() { got <- res }()
		conn, err := l.AcceptUnix()
		if err != nil {
			res.err = err
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		buf, oob := make([]byte, 1<<16), make([]byte, unix.CmsgSpace(4*4))
		n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil {
			res.err = err
			return
		}
		res.data = buf[:n]
		if res.fds, res.err = parseRights(oob[:oobn]); res.err != nil {
			return
		}
		res.rest, res.err = io.ReadAll(conn)
	}()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	st := &State{OCIVersion: "1.2.0", ID: "c1", Status: "creating", Pid: 42, Bundle: "/b",
		Annotations: map[string]string{"k": "v"}}
	msg := &containerProcessState{OCIVersion: specs.Version, Fds: []string{specs.SeccompFdName}, Pid: 42, Metadata: "meta", State: st}
	if err := sendToAgent(path, msg, int(w.Fd())); err != nil {
		t.Fatal(err)
	}
	w.Close()
	res := <-got
	if res.err != nil {
		t.Fatalf("agent: %v", res.err)
	}
	var cps specs.ContainerProcessState
	if err := json.Unmarshal(res.data, &cps); err != nil {
		t.Fatalf("agent got %q: %v", res.data, err)
	}
	if cps.Version != specs.Version || len(cps.Fds) != 1 || cps.Fds[0] != "seccompFd" || cps.Pid != 42 ||
		cps.Metadata != "meta" || cps.State.ID != "c1" || cps.State.Status != "creating" || cps.State.Pid != 42 ||
		cps.State.Bundle != "/b" || cps.State.Annotations["k"] != "v" {
		t.Errorf("agent got %s", res.data)
	}
	if len(res.rest) != 0 {
		t.Errorf("more after the message: %q", res.rest)
	}
	if len(res.fds) != 1 {
		t.Fatalf("agent got fds %v, want one", res.fds)
	}
	unix.Write(res.fds[0], []byte("y"))
	unix.Close(res.fds[0])
	buf := make([]byte, 1)
	if n, _ := r.Read(buf); n != 1 || buf[0] != 'y' {
		t.Errorf("the fd the agent got is not the pipe sent")
	}

	// A socket nobody listens on, and no socket at all.
	bound := filepath.Join(dir, "bound.sock")
	sfd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(sfd)
	if err := unix.Bind(sfd, &unix.SockaddrUnix{Name: bound}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ path, want string }{
		{bound, "seccomp agent " + bound + ": connect: connection refused"},
		{filepath.Join(dir, "none.sock"), "connect: no such file or directory"},
	} {
		if err := sendToAgent(tt.path, msg, int(r.Fd())); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("sendToAgent(%s) = %v, want %q", tt.path, err, tt.want)
		}
	}
}
