//go:build linux && cgo

package libtabox

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Seccomp user notification (SCMP_ACT_NOTIFY): a filter loaded with
// SECCOMP_FILTER_FLAG_NEW_LISTENER gives its loader a listener fd, through
// which a seccomp agent answers the notified syscalls. The filter must be
// loaded by the process it confines (the init), but the runtime-spec has
// the runtime send the fd to the agent at linux.seccomp.listenerPath. So,
// as in runc: the init loads the filter and passes the fd to tabox over
// the sync socket (msgSeccomp); tabox connects to the agent, sends it the
// container process state with the fd, and lets the init go on
// (msgSeccompDone). Both ends keep the fd close-on-exec and close it once
// sent: only the agent holds it when the container's process runs.

// agentTimeout bounds the exchange with the seccomp agent, so that an
// agent that accepts but never reads cannot hold create forever.
const agentTimeout = 10 * time.Second

// loadSeccompFilter loads prog into the init and, when it has a listener,
// hands the listener fd to tabox and waits until the agent has it.
//
// Between the load and the handover the init makes exactly one syscall,
// sendmsg(2): the message and the control buffer are prepared before, and
// the load goes around the Go scheduler (RawSyscall), which could otherwise
// futex on the way back. CompileSeccomp refuses to notify sendmsg: the
// agent could never answer it, since it is what would bring the agent its
// fd. Any syscall after the handover may be notified; the agent then has
// to answer the init's own last steps too (runc has the same rule for
// write(2), which its init uses instead).
func loadSeccompFilter(p *syncPipe, prog *SeccompProgram) error {
	var msg, oob []byte
	if prog.Notify {
		var err error
		if msg, err = json.Marshal(syncMsg{Type: msgSeccomp}); err != nil {
			return step("seccomp", err)
		}
		msg = append(msg, '\n')
		// A placeholder fd, patched in place once the listener exists.
		oob = unix.UnixRights(0)
	}
	fd, err := loadSeccomp(prog)
	if err != nil {
		return step("seccomp", err)
	}
	if fd < 0 {
		return nil
	}
	binary.NativeEndian.PutUint32(oob[unix.CmsgLen(0):], uint32(fd))
	err = p.sendWithFd(msg, oob)
	if err == nil {
		_, err = p.expect(msgSeccompDone)
	}
	// The agent has its own copy now; this one would only keep the
	// listener alive after the agent is gone.
	unix.Close(fd)
	if err != nil {
		return step("seccomp", fmt.Errorf("hand the listener fd to tabox: %w", err))
	}
	return nil
}

// containerProcessState is what the seccomp agent receives with the fd
// (runtime-spec config-linux.md, "The Container Process State").
type containerProcessState struct {
	// OCIVersion is the runtime-spec version the message follows.
	OCIVersion string `json:"ociVersion"`
	// Fds names the fds sent with SCM_RIGHTS, in order.
	Fds []string `json:"fds"`
	// Pid is the host PID of the process that loaded the filter.
	Pid      int    `json:"pid"`
	Metadata string `json:"metadata,omitempty"`
	// State is the container's state, as state reports it.
	State *State `json:"state"`
}

// checkListener refuses a filter with SCMP_ACT_NOTIFY rules and nowhere
// to send its listener fd, before any process is started.
func checkListener(s *Seccomp, prog *SeccompProgram) error {
	if prog.Notify && s.ListenerPath == "" {
		return errors.New("seccomp: SCMP_ACT_NOTIFY needs a listenerPath (the seccomp agent's socket)")
	}
	return nil
}

// passListener takes the listener fd that came with a msgSeccomp from the
// process pid, sends it to the seccomp agent with st, and tells the
// process to go on.
func passListener(sync *syncPipe, s *Seccomp, pid int, st *State) error {
	fd, err := sync.takeFd()
	if err != nil {
		return fmt.Errorf("seccomp listener: %w", err)
	}
	defer unix.Close(fd)
	if s == nil || s.ListenerPath == "" {
		// checkListener refused that already; the init asks anyway.
		return errors.New("seccomp listener: SCMP_ACT_NOTIFY needs a listenerPath")
	}
	msg := &containerProcessState{
		OCIVersion: specs.Version,
		Fds:        []string{specs.SeccompFdName},
		Pid:        pid,
		Metadata:   s.ListenerMetadata,
		State:      st,
	}
	if err := sendToAgent(s.ListenerPath, msg, fd); err != nil {
		return err
	}
	return sync.send(syncMsg{Type: msgSeccompDone})
}

// sendToAgent connects to the agent's socket and sends it msg with fd, as
// one message on a connection of its own (runtime-spec: one state per
// connection, closed after).
func sendToAgent(path string, msg *containerProcessState, fd int) error {
	data, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("seccomp agent %s: encode state: %w", path, err)
	}
	d := net.Dialer{Timeout: agentTimeout}
	c, err := d.Dial("unix", path)
	if err != nil {
		return fmt.Errorf("seccomp agent %s: connect: %w", path, syscallErr(err))
	}
	conn := c.(*net.UnixConn)
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(agentTimeout))
	// The fds go with the first sendmsg only, if more are needed.
	n, _, err := conn.WriteMsgUnix(data, unix.UnixRights(fd), nil)
	if err == nil && n < len(data) {
		_, err = conn.Write(data[n:])
	}
	if err != nil {
		return fmt.Errorf("seccomp agent %s: send the listener fd: %w", path, syscallErr(err))
	}
	return nil
}

// syscallErr strips what net adds around an errno ("dial unix PATH:
// connect: "): the caller names the socket and the step already.
func syscallErr(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

// SeccompNotifySupported reports whether the running kernel has seccomp
// user notification: the SECCOMP_RET_USER_NOTIF action (Linux 5.0) and
// SECCOMP_FILTER_FLAG_NEW_LISTENER. tabox loads filters itself, so the
// kernel decides, whatever libseccomp's API level.
func SeccompNotifySupported() bool {
	act := uint32(unix.SECCOMP_RET_USER_NOTIF)
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_GET_ACTION_AVAIL, 0, uintptr(unsafe.Pointer(&act)))
	switch errno {
	case unix.EOPNOTSUPP, unix.EINVAL, unix.ENOSYS:
		// Unknown action; no SECCOMP_GET_ACTION_AVAIL (before 4.14); no
		// seccomp(2). Another errno (a filter tabox itself runs under)
		// tells nothing: the load will decide.
		return false
	}
	return checkSeccompFlags(unix.SECCOMP_FILTER_FLAG_NEW_LISTENER) == nil
}
