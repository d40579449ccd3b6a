package libtabox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// procEvents counts the processes a container's program starts, from the
// kernel's process events (the proc connector): no cgroup file counts
// them. pids.current and pids.peak count tasks alive at once, threads
// included; the kernel reports every fork, with the parent's thread group,
// before the child can run, so that a child's own forks always come after
// it is known.
//
// The count is exact unless the socket overflowed (then it is dropped):
// it starts at the init's exec of the program, so tabox's own work and the
// startContainer hooks are not counted, and it follows the init's
// descendants, so a process that `tabox exec` put in the container is not.
type procEvents struct {
	fd   int
	init int
	// armed is set once the init executed the program.
	armed bool
	// threads counts the live threads of each process of the container: a
	// process is forgotten with its last thread, before its PID can be
	// reused (pid_max may be as low as 32768).
	threads map[uint32]int
	count   int
	lost    bool
	// seq numbers our subscription, whose acknowledgement says whether
	// the kernel took it (other listeners' are multicast to us too).
	seq    uint32
	acked  bool
	ackErr error
}

// Values of <linux/connector.h> and <linux/cn_proc.h>.
const (
	cnIdxProc       = 1
	cnValProc       = 1
	procMcastListen = 1
	procEventNone   = 0
	procEventFork   = 0x1
	procEventExec   = 0x2
	procEventExit   = 0x80000000
	// Offsets: nlmsghdr (16), cn_msg (20), then proc_event: what, cpu,
	// timestamp (8), event_data.
	cnMsgLen     = 20
	procEventLen = 16
)

// initialPIDNamespace is the inode of the initial PID namespace
// (PROC_PID_INIT_INO): process events carry PIDs as it sees them.
const initialPIDNamespace = "pid:[4026531836]"

// openProcEvents subscribes to the process events, to count the
// descendants of initPid from its next exec.
func openProcEvents(initPid int) (*procEvents, error) {
	// The events name processes by their PIDs in the initial namespace,
	// and only the initial network namespace receives them.
	if ns, err := os.Readlink("/proc/self/ns/pid"); err != nil || ns != initialPIDNamespace {
		return nil, errors.New("process events need tabox in the initial PID namespace")
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_CONNECTOR)
	if err != nil {
		return nil, fmt.Errorf("process events socket: %w", err)
	}
	p := &procEvents{fd: fd, init: initPid, threads: map[uint32]int{}, seq: uint32(os.Getpid())}
	// Every process of the host is reported: room for bursts between two
	// reads. Without CAP_NET_ADMIN, the default size will do.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20) != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 8<<20)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc}); err != nil {
		p.close()
		return nil, fmt.Errorf("process events: bind: %w", err)
	}
	msg := make([]byte, unix.NLMSG_HDRLEN+cnMsgLen+4)
	ne := binary.NativeEndian
	ne.PutUint32(msg[0:], uint32(len(msg)))
	ne.PutUint16(msg[4:], unix.NLMSG_DONE)
	ne.PutUint32(msg[16:], cnIdxProc)
	ne.PutUint32(msg[20:], cnValProc)
	ne.PutUint32(msg[24:], p.seq)
	ne.PutUint16(msg[32:], 4)
	ne.PutUint32(msg[36:], procMcastListen)
	if _, err := unix.Write(fd, msg); err != nil {
		p.close()
		return nil, fmt.Errorf("process events: listen: %w", err)
	}
	// The kernel acknowledges in the same call: the answer is queued.
	p.drain()
	if p.ackErr != nil {
		p.close()
		return nil, p.ackErr
	}
	return p, nil
}

// drain handles every event queued.
func (p *procEvents) drain() {
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Read(p.fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err == unix.ENOBUFS {
			// Events were dropped: the count can no longer be trusted.
			p.lost = true
			continue
		}
		if err != nil || n <= 0 {
			return
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			continue
		}
		for _, m := range msgs {
			p.handle(m.Data)
		}
	}
}

func (p *procEvents) handle(data []byte) {
	if len(data) < cnMsgLen+procEventLen+8 {
		return
	}
	ne := binary.NativeEndian
	if ne.Uint32(data[0:]) != cnIdxProc || ne.Uint32(data[4:]) != cnValProc {
		return
	}
	ev := data[cnMsgLen:]
	body := ev[procEventLen:]
	u32 := func(i int) uint32 {
		if len(body) < 4*(i+1) {
			return 0
		}
		return ne.Uint32(body[4*i:])
	}
	switch ne.Uint32(ev[0:]) {
	case procEventNone:
		if ne.Uint32(data[8:]) == p.seq && !p.acked {
			p.acked = true
			if errno := u32(0); errno != 0 {
				p.ackErr = fmt.Errorf("process events: listen: %w", unix.Errno(errno))
			}
		}
	case procEventExec:
		// The init's exec of the program: tabox's init had only the
		// thread that executes it left.
		if pid, tgid := u32(0), u32(1); !p.armed && pid == tgid && int(tgid) == p.init {
			p.armed = true
			p.threads[tgid] = 1
			p.count = 1
		}
	case procEventFork:
		parentTgid, childPid, childTgid := u32(1), u32(2), u32(3)
		if !p.armed {
			return
		}
		switch {
		case childPid != childTgid:
			// A thread of a process of ours.
			if p.threads[childTgid] > 0 {
				p.threads[childTgid]++
			}
		case p.threads[parentTgid] > 0:
			p.threads[childTgid] = 1
			p.count++
		}
	case procEventExit:
		if tgid := u32(1); p.threads[tgid] > 0 {
			if p.threads[tgid]--; p.threads[tgid] == 0 {
				delete(p.threads, tgid)
			}
		}
	}
}

// processes returns the count, and whether it is exact: the init's exec
// was seen and no event was lost.
func (p *procEvents) processes() (int, bool) {
	return p.count, p.armed && !p.lost
}

func (p *procEvents) close() {
	if p.fd >= 0 {
		unix.Close(p.fd)
		p.fd = -1
	}
}
