package main

import (
	"io"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"

	"github.com/tabox/tabox/libtabox"
)

// foregroundConsole is the console of a container run in the foreground
// with a terminal and no --console-socket: tabox itself receives the pty
// master and joins it to its own stdio.
type foregroundConsole struct {
	ours, theirs *os.File
}

func newForegroundConsole() (*foregroundConsole, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &foregroundConsole{ours: os.NewFile(uintptr(fds[0]), "console"), theirs: os.NewFile(uintptr(fds[1]), "console-peer")}, nil
}

// attach receives the pty master and copies between it and tabox's stdio,
// in raw mode when stdin is a terminal, following its window size. The
// returned function restores the terminal.
func (fc *foregroundConsole) attach() (func(), error) {
	fc.theirs.Close()
	master, _, err := libtabox.ReceivePty(fc.ours)
	fc.ours.Close()
	if err != nil {
		return func() {}, err
	}
	restore := func() {}
	in := int(os.Stdin.Fd())
	if old, err := unix.IoctlGetTermios(in, unix.TCGETS); err == nil {
		raw := *old
		raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		raw.Oflag &^= unix.OPOST
		raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		raw.Cflag &^= unix.CSIZE | unix.PARENB
		raw.Cflag |= unix.CS8
		raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
		if unix.IoctlSetTermios(in, unix.TCSETS, &raw) == nil {
			restore = func() { unix.IoctlSetTermios(in, unix.TCSETS, old) }
		}
		resize := func() {
			if ws, err := unix.IoctlGetWinsize(in, unix.TIOCGWINSZ); err == nil && ws.Row != 0 && ws.Col != 0 {
				unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, ws)
			}
		}
		resize()
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, unix.SIGWINCH)
		go func() {
			for range winch {
				resize()
			}
		}()
	}
	go io.Copy(master, os.Stdin)
	done := make(chan struct{})
	go func() {
		// EIO once the last slave fd closes: the container is gone.
		io.Copy(os.Stdout, master)
		close(done)
	}()
	return func() {
		<-done
		restore()
	}, nil
}
