package libtabox

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// dialConsoleSocket connects to the AF_UNIX socket a caller (containerd's
// shim, conmon) listens on for the container's terminal. The init sends
// the pty master there itself: it is the one inside the container.
func dialConsoleSocket(path string) (*os.File, error) {
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	f, err := conn.File()
	if err != nil {
		return nil, err
	}
	return f, nil
}

// setupTerminal gives the container's init a terminal (see
// attachTerminal), and binds it on /dev/console, as the runtime-spec asks.
func setupTerminal(proc *Process, console int) error {
	return attachTerminal(proc, console, true)
}

// setupExecTerminal gives an exec'd process a terminal, and leaves
// /dev/console alone: it is the init's, and the mount namespace is the
// running container's, where a bind would outlive the process and make
// the next exec's fail with EBUSY (runc does not bind it either).
func setupExecTerminal(proc *Process, console int) error {
	return attachTerminal(proc, console, false)
}

// attachTerminal allocates a pty in the container's own devpts instance,
// sends its master to the console socket (the pty's name as the data, the
// fd as SCM_RIGHTS), and makes the slave the process's stdio and
// controlling terminal, in a session of its own; with bindConsole, the
// slave is bound on /dev/console too.
//
// The slave is never opened by path: TIOCGPTPEER gets it from the master,
// so a /dev/pts/N planted in the image cannot stand in (CVE-2025-52565).
func attachTerminal(proc *Process, console int, bindConsole bool) error {
	master, err := unix.Open("/dev/pts/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/pts/ptmx: %w", err)
	}
	defer unix.Close(master)
	if err := checkPtmx(master); err != nil {
		return err
	}
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		return fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetUint32(master, unix.TIOCGPTN)
	if err != nil {
		return fmt.Errorf("pty number: %w", err)
	}
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(master), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY)
	if errno != 0 {
		return fmt.Errorf("open pty peer: %w", errno)
	}
	slave := int(r)
	defer unix.Close(slave)
	if proc.ConsoleHeight != 0 || proc.ConsoleWidth != 0 {
		ws := &unix.Winsize{Row: uint16(proc.ConsoleHeight), Col: uint16(proc.ConsoleWidth)}
		if err := unix.IoctlSetWinsize(slave, unix.TIOCSWINSZ, ws); err != nil {
			return fmt.Errorf("set terminal size: %w", err)
		}
	}
	if bindConsole {
		if err := mountConsole(slave); err != nil {
			return err
		}
	}
	name := "/dev/pts/" + strconv.Itoa(int(n))
	if err := unix.Sendmsg(console, []byte(name), unix.UnixRights(master), nil, 0); err != nil {
		return fmt.Errorf("send pty master to the console socket: %w", err)
	}
	unix.Close(console)
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	if err := unix.IoctlSetInt(slave, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("set controlling terminal: %w", err)
	}
	for fd := 0; fd < 3; fd++ {
		if err := unix.Dup3(slave, fd, 0); err != nil {
			return fmt.Errorf("dup pty to fd %d: %w", fd, err)
		}
	}
	return nil
}

// checkPtmx makes sure the master comes from a devpts instance and is the
// ptmx device, not something the image put in its place.
func checkPtmx(fd int) error {
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil {
		return fmt.Errorf("statfs ptmx: %w", err)
	}
	if fs.Type != unix.DEVPTS_SUPER_MAGIC {
		return errors.New("/dev/pts/ptmx is not on a devpts filesystem: mount devpts at /dev/pts for a terminal")
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat ptmx: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 5 || unix.Minor(st.Rdev) != 2 {
		return errors.New("/dev/pts/ptmx is not the ptmx device")
	}
	return nil
}

// ReceivePty reads the pty master and its name from the receiving end of
// a console socket.
func ReceivePty(sock *os.File) (*os.File, string, error) {
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, "", fmt.Errorf("receive pty: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, "", errors.New("receive pty: no fd in the message")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, "", errors.New("receive pty: want exactly one fd")
	}
	return os.NewFile(uintptr(fds[0]), "pty-master"), string(buf[:n]), nil
}

// mountConsole binds the pty slave on /dev/console, as the runtime-spec
// asks of a container with a terminal. Whatever the image has there (a
// symlink to a host procfs file, say) is replaced by an empty file first,
// and the bind is made from the slave's fd onto that file's fd, with no
// path walked in between.
func mountConsole(slave int) error {
	dev, err := unix.Open("/dev", unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev: %w", err)
	}
	defer unix.Close(dev)
	if err := unix.Unlinkat(dev, "console", 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove the image's /dev/console: %w", err)
	}
	fd, err := unix.Openat(dev, "console", unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create /dev/console: %w", err)
	}
	unix.Close(fd)
	target, err := unix.Openat(dev, "console", unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/console: %w", err)
	}
	defer unix.Close(target)
	tree, err := unix.OpenTree(slave, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
	if err != nil {
		return fmt.Errorf("clone the pty for /dev/console: %w", err)
	}
	defer unix.Close(tree)
	if err := unix.MoveMount(tree, "", target, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("mount the pty on /dev/console: %w", err)
	}
	return nil
}

// SendPidfd connects to the AF_UNIX socket path and sends a pidfd of pid,
// framed as the console socket's message (a name, then one fd), for
// --pidfd-socket.
func SendPidfd(path string, pid int) error {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(pidfd)
	conn, err := dialConsoleSocket(path)
	if err != nil {
		return fmt.Errorf("--pidfd-socket: %w", err)
	}
	defer conn.Close()
	if err := unix.Sendmsg(int(conn.Fd()), []byte("pidfd"), unix.UnixRights(pidfd), nil, 0); err != nil {
		return fmt.Errorf("--pidfd-socket: send: %w", err)
	}
	return nil
}
