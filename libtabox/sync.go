package libtabox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/tabox/tabox/internal/jsonfast"
)

// The parent (tabox create) and the container's init talk over a socket
// pair, fd 3 in the init, one JSON object per message:
//
//	parent                               init
//	  [newuidmap, newgidmap;               [waits, unmapped, for the byte;
//	   one byte               ──────▶      becomes its ids] (only for maps
//	                                       an unprivileged user may not
//	                                       write itself; see waitIDMaps)
//	  initConfig              ──────▶
//	                                       join/enter namespaces, mounts,
//	                                       devices, masks (before pivot)
//	                          ◀──────    msgHooks  (only if there are hooks
//	  run createRuntime hooks                     to run or to give a state)
//	  msgHooksDone            ──────▶
//	                                       createContainer hooks, pivot_root,
//	                                       hostname, sysctl
//	                          ◀──────    msgReady
//	  prlimit, oom_score_adj
//	  msgReadyDone            ──────▶
//	                                       user, capabilities, seccomp,
//	                                       look up the executable
//	                          ◀──────    msgSeccomp + listener fd (only
//	  send the fd and the state                   with SCMP_ACT_NOTIFY, right
//	  to the seccomp agent                        after the filter is loaded)
//	  msgSeccompDone          ──────▶
//	                          ◀──────    msgCreated
//	  save state
//	  msgSaved                ──────▶
//	                                       clear the parent-death signal
//	                          ◀──────    EOF (init closed its end)
//	  exit 0                               block on exec.fifo until start
//
// When tabox run starts the container as it creates it (CreateOpts.Start
// with the C init), there is no exec fifo and msgSaved releases the init:
//
//	parent                               init
//	  ...
//	  msgSaved                ──────▶
//	                                       clear the parent-death signal
//	                          ◀──────    msgExec (its CPU time, the time)
//	                          ◀──────    EOF (the exec closed the socket)
//
// A C init that sets its rlimits itself (see selfReady) sends no msgReady,
// and, started as it is created, waits for no answer to its msgCreated:
// tabox sends msgSaved unasked, as soon as it may release the process, and
// the init reads it once it is set up.
//
//	parent                               init
//	  config, cgroup          ──────▶      mounts, ..., rlimits, user
//	  save state
//	  msgSaved                ──────▶
//	                          ◀──────    msgCreated
//	                                       clear the parent-death signal
//	                          ◀──────    msgExec, EOF
//
// The exec process of such an init likewise sends no msgReady and waits for
// msgReadyDone, which tabox sends unasked.
//
// At any point the init may send msgError instead and exit; the parent
// then undoes everything it made. Everything the parent sends after the
// config carries the container's state JSON, which hooks run by the init
// need on their stdin.
//
// The init of tabox exec sends msgReady, gets msgReadyDone, and may send
// msgSeccomp the same way before it executes the process (EOF).
//
// msgSeccomp is the only message with a file descriptor (SCM_RIGHTS, on
// its first byte): the parent reads the socket with recvmsg(2), the init
// writes that message with one sendmsg(2), the only syscall it makes
// between loading the filter and handing the fd over.
type syncType string

const (
	msgHooks     syncType = "hooks"
	msgHooksDone syncType = "hooks-done"
	msgReady     syncType = "ready"
	msgReadyDone syncType = "ready-done"
	msgCreated   syncType = "created"
	msgSaved     syncType = "saved"
	msgError     syncType = "error"
	// msgPid comes from the constructor's first process when it forked
	// the init in a joined PID namespace (see nsenter.c).
	msgPid syncType = "pid"
	// msgSeccomp carries the seccomp listener fd; msgSeccompDone says the
	// seccomp agent has it.
	msgSeccomp     syncType = "seccomp"
	msgSeccompDone syncType = "seccomp-done"
	// msgExec comes from an init released by msgSaved, just before it
	// executes the process, with its CPU time.
	msgExec syncType = "exec"
)

type syncMsg struct {
	Type syncType `json:"type"`
	// Error is set for msgError.
	Error *InitError `json:"error,omitempty"`
	// State is the container's OCI state, for hooks run by the init.
	State json.RawMessage `json:"state,omitempty"`
	// Pid is set for msgPid: the init's PID in tabox's PID namespace.
	Pid int `json:"pid,omitempty"`
	// CPU is set for msgExec: the CPU time (ns) the init used.
	CPU int64 `json:"cpu,omitempty"`
	// Mono is set for msgExec: when the init executes the process
	// (CLOCK_MONOTONIC, ns).
	Mono int64 `json:"mono,omitempty"`
}

// InitError is an error that happened in the container's init, naming the
// step that failed.
type InitError struct {
	Step    string `json:"step"`
	Message string `json:"message"`
}

func (e *InitError) Error() string {
	return e.Step + ": " + e.Message
}

type syncPipe struct {
	f *os.File
	// fd is f's descriptor, taken once: (*os.File).Fd may make syscalls,
	// which sendWithFd must not.
	fd  int
	dec *json.Decoder
	enc *json.Encoder
	// fds receives the fds that came with messages, on the parent's end.
	fds *fdReader
	// The parent's end reads from lines a message a line (both inits end
	// each with a newline) and decodes it with the decoder of
	// state_json.go: a json.Decoder would start with reflection over
	// syncMsg in every tabox create. buf[off:] is what was read and not
	// decoded yet.
	lines io.Reader
	buf   []byte
	off   int
}

// newSyncPipe is the init's end: it reads with read(2), which a seccomp
// profile is far less likely to deny than recvmsg(2).
func newSyncPipe(f *os.File) *syncPipe {
	return &syncPipe{f: f, fd: int(f.Fd()), dec: json.NewDecoder(f), enc: json.NewEncoder(f)}
}

// newParentSyncPipe is the parent's end, which also receives fds.
func newParentSyncPipe(f *os.File) *syncPipe {
	r := &fdReader{f: f}
	return &syncPipe{f: f, fd: int(f.Fd()), enc: json.NewEncoder(f), fds: r, lines: r}
}

// maxSyncFds bounds the fds one read takes; the init sends one at a time.
const maxSyncFds = 4

// fdReader reads a stream socket with recvmsg(2), keeping the fds that
// come with the data: a plain read(2) would make the kernel close them.
type fdReader struct {
	f   *os.File
	oob []byte
	fds []int
}

func (r *fdReader) Read(b []byte) (int, error) {
	conn, err := r.f.SyscallConn()
	if err != nil {
		return 0, err
	}
	if r.oob == nil {
		r.oob = make([]byte, unix.CmsgSpace(maxSyncFds*4))
	}
	oob := r.oob
	var n, oobn, flags int
	var rerr error
	err = conn.Read(func(fd uintptr) bool {
		for {
			n, oobn, flags, _, rerr = unix.Recvmsg(int(fd), b, oob, unix.MSG_CMSG_CLOEXEC)
			if rerr != unix.EINTR {
				return rerr != unix.EAGAIN
			}
		}
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return 0, fmt.Errorf("recvmsg: %w", err)
	}
	if oobn > 0 {
		fds, err := parseRights(oob[:oobn])
		r.fds = append(r.fds, fds...)
		if err != nil {
			return 0, err
		}
	}
	if flags&unix.MSG_CTRUNC != 0 {
		return 0, errors.New("recvmsg: file descriptors truncated")
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// parseRights returns the fds of SCM_RIGHTS messages.
func parseRights(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("parse control message: %w", err)
	}
	var fds []int
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_SOCKET || m.Header.Type != unix.SCM_RIGHTS {
			continue
		}
		got, err := unix.ParseUnixRights(&m)
		if err != nil {
			return fds, fmt.Errorf("parse SCM_RIGHTS: %w", err)
		}
		fds = append(fds, got...)
	}
	return fds, nil
}

// takeFd returns the oldest fd received and not taken yet; the caller
// closes it.
func (p *syncPipe) takeFd() (int, error) {
	if p.fds == nil || len(p.fds.fds) == 0 {
		return -1, errors.New("no file descriptor came with the message")
	}
	fd := p.fds.fds[0]
	p.fds.fds = p.fds.fds[1:]
	return fd, nil
}

// sendWithFd sends an encoded message and fd in one sendmsg(2), the fd
// on its first byte. oob is unix.UnixRights(fd), allocated by the caller
// beforehand (see loadSeccompFilter).
func (p *syncPipe) sendWithFd(msg, oob []byte) error {
	for len(msg) > 0 {
		n, err := unix.SendmsgN(p.fd, msg, oob, nil, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("sendmsg: %w", err)
		}
		msg, oob = msg[n:], nil
	}
	return nil
}

// send writes m and a newline, as a json.Encoder would.
func (p *syncPipe) send(m syncMsg) error {
	e := &jsonfast.Encoder{B: make([]byte, 0, 256)}
	encodeSyncMsg(e, &m)
	err := e.Err
	if err == nil {
		_, err = p.f.Write(append(e.B, '\n'))
	}
	if err != nil {
		return fmt.Errorf("send %s: %w", m.Type, err)
	}
	return nil
}

// recv reads the next message. An msgError from the other side is returned
// as an *InitError.
func (p *syncPipe) recv() (syncMsg, error) {
	var m syncMsg
	var err error
	if p.lines != nil {
		err = p.decodeLine(&m)
	} else {
		err = p.dec.Decode(&m)
	}
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return m, io.EOF
		}
		return m, fmt.Errorf("read sync message: %w", err)
	}
	if m.Type == msgError {
		if m.Error == nil {
			return m, errors.New("container init: unknown error")
		}
		return m, m.Error
	}
	return m, nil
}

// decodeLine decodes the next line into m: with the generated decoder, or,
// for what it leaves to encoding/json, with encoding/json.
func (p *syncPipe) decodeLine(m *syncMsg) error {
	line, err := p.readLine()
	if err != nil {
		return err
	}
	d := jsonfast.NewDecoder(line)
	decodeSyncMsg(d, m)
	if d.End() {
		return nil
	}
	*m = syncMsg{}
	return json.Unmarshal(line, m)
}

// readLine returns the next line, without its newline; it stays valid
// until the next read.
func (p *syncPipe) readLine() ([]byte, error) {
	for {
		if i := bytes.IndexByte(p.buf[p.off:], '\n'); i >= 0 {
			line := p.buf[p.off : p.off+i]
			p.off += i + 1
			return line, nil
		}
		p.buf = append(p.buf[:0], p.buf[p.off:]...)
		p.off = 0
		if cap(p.buf)-len(p.buf) < 1024 {
			p.buf = append(make([]byte, 0, 2*cap(p.buf)+4096), p.buf...)
		}
		n, err := p.lines.Read(p.buf[len(p.buf):cap(p.buf)])
		p.buf = p.buf[:len(p.buf)+n]
		if err == io.EOF && len(bytes.TrimSpace(p.buf)) > 0 {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return nil, err
		}
	}
}

// reportedError is what the other end said before it went away, for a
// send that failed: an init that fails says why before it exits. nil when
// it said nothing.
func (p *syncPipe) reportedError() error {
	if _, err := p.recv(); err != nil && err != io.EOF {
		return err
	}
	return nil
}

// expect reads the next message and checks its type.
func (p *syncPipe) expect(want syncType) (syncMsg, error) {
	m, err := p.recv()
	if err != nil {
		return m, err
	}
	if m.Type != want {
		return m, fmt.Errorf("sync: got %q, want %q", m.Type, want)
	}
	return m, nil
}

// close closes the socket and any received fd nobody took.
func (p *syncPipe) close() {
	p.f.Close()
	if p.fds != nil {
		for _, fd := range p.fds.fds {
			unix.Close(fd)
		}
		p.fds.fds = nil
	}
}
