// Command testinit runs inside the containers of tabox's integration tests
// and prints facts about its own environment, so that the tests can assert
// on what a containerised process observes.
//
// Usage:
//
//	testinit CMD [ARGS...] [-- CMD [ARGS...]]...
//
// Commands separated by "--" run in order, in the same process. A command
// that fails prints "errno=NAME" (or "error: ...") on stdout and the process
// then exits 10 at the end, unless "exit N" ends it first.
//
// It must be built with CGO_ENABLED=0 (it runs in a rootfs without libc).
// The go:debug settings
// keep the Go runtime from holding cgroup files open to track the CPU
// limit, which would show up in "fds".
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

type command func(args []string) int

var commands = map[string]struct {
	nargs int
	fn    command
}{
	"hostname":  {0, cmdHostname},
	"keyring":   {0, cmdKeyring},
	"id":        {0, cmdID},
	"cwd":       {0, cmdCwd},
	"env":       {0, cmdEnv},
	"caps":      {0, cmdCaps},
	"nnp":       {0, func([]string) int { return statusField("NoNewPrivs") }},
	"seccomp":   {0, func([]string) int { return statusField("Seccomp") }},
	"limits":    {1, cmdLimits},
	"mountinfo": {0, func([]string) int { return cmdCat([]string{"/proc/self/mountinfo"}) }},
	"fds":       {0, cmdFds},
	"cat":       {1, cmdCat},
	"write":     {2, cmdWrite},
	"sleep":     {1, cmdSleep},
	"exit":      {1, cmdExit},
	"kill-self": {1, cmdKillSelf},
	"pause":     {0, cmdPause},
	"umask":     {0, cmdUmask},
	"syscall":   {1, cmdSyscall},
	"stat":      {1, cmdStat},
	"readlink":  {1, cmdReadlink},
	"ls":        {1, cmdLs},
	"ppid":      {0, func([]string) int { fmt.Println(os.Getppid()); return 0 }},
	"pid":       {0, func([]string) int { fmt.Println(os.Getpid()); return 0 }},
	"echo":      {-1, func(a []string) int { fmt.Println(strings.Join(a, " ")); return 0 }},
	"stderr":    {-1, func(a []string) int { fmt.Fprintln(os.Stderr, strings.Join(a, " ")); return 0 }},
	"open":      {2, cmdOpen},
	"mknod":     {4, cmdMknod},
	"chown":     {3, cmdChown},
	"hog":       {1, cmdHog},
	"ticks":     {0, cmdTicks},
	"forkbomb":  {1, cmdForkbomb},
}

func main() {
	args := os.Args[1:]
	if len(args) == 0 {
		usage()
	}
	status := 0
	for len(args) > 0 {
		end := len(args)
		for i, a := range args {
			if a == "--" {
				end = i
				break
			}
		}
		cmd, rest := args[:end], args[end:]
		if len(rest) > 0 {
			rest = rest[1:]
		}
		args = rest
		if len(cmd) == 0 {
			continue
		}
		c, ok := commands[cmd[0]]
		if !ok || (c.nargs >= 0 && len(cmd)-1 != c.nargs) {
			usage()
		}
		if st := c.fn(cmd[1:]); st != 0 {
			status = st
		}
	}
	os.Exit(status)
}

func usage() {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(os.Stderr, "usage: testinit CMD [ARGS] [-- CMD [ARGS]]...\ncommands: %s\n", strings.Join(names, " "))
	os.Exit(2)
}

// statusReported is the exit status of a command that failed and reported
// it on stdout: distinct from the runtime's own error statuses.
const statusReported = 10

// fail prints err as "errno=NAME" when it carries an errno, and returns
// statusReported.
func fail(err error) int {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		fmt.Printf("errno=%s\n", unix.ErrnoName(errno))
	} else {
		fmt.Printf("error: %v\n", err)
	}
	return statusReported
}

func cmdHostname([]string) int {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return fail(err)
	}
	fmt.Println(unix.ByteSliceToString(u.Nodename[:]))
	return 0
}

// cmdKeyring prints the description of the session keyring, whose last
// field is its name.
func cmdKeyring([]string) int {
	id, err := unix.KeyctlGetKeyringID(unix.KEY_SPEC_SESSION_KEYRING, false)
	if err != nil {
		return fail(err)
	}
	desc, err := unix.KeyctlString(unix.KEYCTL_DESCRIBE, id)
	if err != nil {
		return fail(err)
	}
	fmt.Println(desc)
	return 0
}

func cmdID([]string) int {
	groups, err := unix.Getgroups()
	if err != nil {
		return fail(err)
	}
	sort.Ints(groups)
	gs := make([]string, len(groups))
	for i, g := range groups {
		gs[i] = strconv.Itoa(g)
	}
	fmt.Printf("uid=%d gid=%d groups=%s\n", unix.Getuid(), unix.Getgid(), strings.Join(gs, ","))
	return 0
}

func cmdCwd([]string) int {
	buf := make([]byte, 4096)
	n, err := unix.Getcwd(buf)
	if err != nil {
		return fail(err)
	}
	fmt.Println(strings.TrimRight(string(buf[:n]), "\x00"))
	return 0
}

func cmdEnv([]string) int {
	for _, e := range os.Environ() {
		fmt.Println(e)
	}
	return 0
}

func cmdCaps([]string) int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return fail(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "Cap") {
			fmt.Println(strings.Join(strings.Fields(l), " "))
		}
	}
	return 0
}

func statusField(name string) int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return fail(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && k == name {
			fmt.Println(strings.TrimSpace(v))
			return 0
		}
	}
	fmt.Printf("error: no %s in /proc/self/status\n", name)
	return statusReported
}

var rlimits = map[string]int{
	"AS": unix.RLIMIT_AS, "CORE": unix.RLIMIT_CORE, "CPU": unix.RLIMIT_CPU,
	"DATA": unix.RLIMIT_DATA, "FSIZE": unix.RLIMIT_FSIZE, "LOCKS": unix.RLIMIT_LOCKS,
	"MEMLOCK": unix.RLIMIT_MEMLOCK, "MSGQUEUE": unix.RLIMIT_MSGQUEUE, "NICE": unix.RLIMIT_NICE,
	"NOFILE": unix.RLIMIT_NOFILE, "NPROC": unix.RLIMIT_NPROC, "RSS": unix.RLIMIT_RSS,
	"RTPRIO": unix.RLIMIT_RTPRIO, "RTTIME": unix.RLIMIT_RTTIME, "SIGPENDING": unix.RLIMIT_SIGPENDING,
	"STACK": unix.RLIMIT_STACK,
}

func fmtLimit(v uint64) string {
	if v == unix.RLIM_INFINITY {
		return "unlimited"
	}
	return strconv.FormatUint(v, 10)
}

// cmdLimits prints "SOFT HARD" for RLIMIT_NAME (NAME or RLIMIT_NAME).
func cmdLimits(args []string) int {
	name := strings.TrimPrefix(strings.ToUpper(args[0]), "RLIMIT_")
	res, ok := rlimits[name]
	if !ok {
		fmt.Printf("error: unknown rlimit %q\n", args[0])
		return statusReported
	}
	var r unix.Rlimit
	if err := unix.Getrlimit(res, &r); err != nil {
		return fail(err)
	}
	if res == unix.RLIMIT_NOFILE {
		// The Go runtime raised its own soft NOFILE limit at start-up and
		// restores the original in its children: ask a child.
		soft, err := childNofileSoft()
		if err != nil {
			return fail(err)
		}
		r.Cur = soft
	}
	fmt.Printf("%s %s\n", fmtLimit(r.Cur), fmtLimit(r.Max))
	return 0
}

// cmdFds lists the open file descriptors as "N -> TARGET", using raw
// syscalls so that the only extra descriptor is the directory being read,
// which is left out.
func cmdFds([]string) int {
	dfd, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(err)
	}
	var fds []int
	buf := make([]byte, 8192)
	for {
		n, err := unix.Getdents(dfd, buf)
		if err != nil {
			return fail(err)
		}
		if n == 0 {
			break
		}
		_, _, names := unix.ParseDirent(buf[:n], -1, nil)
		for _, name := range names {
			if fd, err := strconv.Atoi(name); err == nil && fd != dfd {
				fds = append(fds, fd)
			}
		}
	}
	sort.Ints(fds)
	for _, fd := range fds {
		target, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
		fmt.Printf("%d -> %s\n", fd, target)
	}
	unix.Close(dfd)
	return 0
}

func cmdCat(args []string) int {
	data, err := os.ReadFile(args[0])
	if err != nil {
		return fail(err)
	}
	os.Stdout.Write(data)
	return 0
}

func cmdWrite(args []string) int {
	f, err := os.OpenFile(args[0], os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fail(err)
	}
	if _, err := f.WriteString(args[1]); err != nil {
		f.Close()
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	fmt.Println("ok")
	return 0
}

var signals = map[string]syscall.Signal{
	"HUP": unix.SIGHUP, "INT": unix.SIGINT, "QUIT": unix.SIGQUIT, "ABRT": unix.SIGABRT,
	"KILL": unix.SIGKILL, "USR1": unix.SIGUSR1, "USR2": unix.SIGUSR2, "TERM": unix.SIGTERM,
	"SEGV": unix.SIGSEGV, "STOP": unix.SIGSTOP, "CONT": unix.SIGCONT, "ALRM": unix.SIGALRM,
}

func parseSignal(s string) (syscall.Signal, bool) {
	if n, err := strconv.Atoi(s); err == nil {
		return syscall.Signal(n), true
	}
	sig, ok := signals[strings.TrimPrefix(strings.ToUpper(s), "SIG")]
	return sig, ok
}

// cmdSleep sleeps, but ends on a catchable termination signal with status
// 128+N after printing "signal NAME": as PID 1 of a PID namespace, a
// process without handlers ignores every signal but SIGKILL and SIGSTOP.
// It prints "ready" once the handlers are in place: a signal sent before
// that may be lost.
func cmdSleep(args []string) int {
	d, err := strconv.ParseFloat(args[0], 64)
	if err != nil {
		fmt.Printf("error: bad duration %q\n", args[0])
		return 2
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGUSR1, unix.SIGUSR2, unix.SIGQUIT)
	fmt.Println("ready")
	select {
	case s := <-ch:
		sig := s.(syscall.Signal)
		fmt.Printf("signal %s\n", strings.TrimPrefix(unix.SignalName(sig), "SIG"))
		os.Exit(128 + int(sig))
	case <-time.After(time.Duration(d * float64(time.Second))):
	}
	signal.Stop(ch)
	return 0
}

// cmdPause waits for SIGUSR1, then lets the next command run. It prints
// "paused" once it can receive the signal.
func cmdPause([]string) int {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, unix.SIGUSR1)
	fmt.Println("paused")
	<-ch
	signal.Stop(ch)
	return 0
}

func cmdExit(args []string) int {
	n, err := strconv.Atoi(args[0])
	if err != nil {
		fmt.Printf("error: bad status %q\n", args[0])
		return 2
	}
	os.Exit(n)
	return n
}

func cmdKillSelf(args []string) int {
	sig, ok := parseSignal(args[0])
	if !ok {
		fmt.Printf("error: bad signal %q\n", args[0])
		return 2
	}
	signal.Reset(sig)
	if err := unix.Kill(os.Getpid(), sig); err != nil {
		return fail(err)
	}
	time.Sleep(2 * time.Second)
	fmt.Println("survived")
	return statusReported
}

func cmdUmask([]string) int {
	old := unix.Umask(0)
	unix.Umask(old)
	fmt.Printf("%04o\n", old)
	return 0
}

// cmdSyscall tries one system call and prints "ok" or "errno=NAME".
// It exits 0 either way: the errno is the fact being reported.
func cmdSyscall(args []string) int {
	var err error
	switch args[0] {
	case "getcwd":
		_, err = unix.Getcwd(make([]byte, 4096))
	case "mkdir":
		dir := fmt.Sprintf("/tmp/.testinit-mkdir-%d", os.Getpid())
		if err = unix.Mkdirat(unix.AT_FDCWD, dir, 0o755); err == nil {
			unix.Rmdir(dir)
		}
	case "ptrace":
		// PTRACE_PEEKUSER on oneself is refused by the kernel (ESRCH) when
		// the filter allows it; it never changes the process's state.
		_, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_PEEKUSR, uintptr(os.Getpid()), 0, 0, 0, 0)
		if e != 0 {
			err = e
		}
	case "sethostname":
		var u unix.Utsname
		unix.Uname(&u)
		err = unix.Sethostname(u.Nodename[:len(unix.ByteSliceToString(u.Nodename[:]))])
	case "chroot":
		err = unix.Chroot("/")
	case "mount":
		err = unix.Mount("none", "/tmp", "tmpfs", 0, "")
		if err == nil {
			unix.Unmount("/tmp", unix.MNT_DETACH)
		}
	case "unshare":
		err = unix.Unshare(unix.CLONE_NEWUTS)
	default:
		fmt.Printf("error: unknown syscall %q\n", args[0])
		return 2
	}
	if err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			fmt.Printf("errno=%s\n", unix.ErrnoName(errno))
			return 0
		}
		return fail(err)
	}
	fmt.Println("ok")
	return 0
}

// cmdStat prints "type=T mode=0NNN uid=U gid=G [rdev=MAJ:MIN] [link=TARGET]"
// for PATH, without following a final symlink.
func cmdStat(args []string) int {
	var st unix.Stat_t
	if err := unix.Lstat(args[0], &st); err != nil {
		return fail(err)
	}
	typ := map[uint32]string{
		unix.S_IFREG: "file", unix.S_IFDIR: "dir", unix.S_IFCHR: "char", unix.S_IFBLK: "block",
		unix.S_IFIFO: "fifo", unix.S_IFLNK: "symlink", unix.S_IFSOCK: "socket",
	}[st.Mode&unix.S_IFMT]
	out := fmt.Sprintf("type=%s mode=%04o uid=%d gid=%d", typ, st.Mode&0o7777, st.Uid, st.Gid)
	if typ == "char" || typ == "block" {
		out += fmt.Sprintf(" rdev=%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	if typ == "symlink" {
		target, _ := os.Readlink(args[0])
		out += " link=" + target
	}
	fmt.Println(out)
	return 0
}

func cmdReadlink(args []string) int {
	target, err := os.Readlink(args[0])
	if err != nil {
		return fail(err)
	}
	fmt.Println(target)
	return 0
}

// cmdLs prints the names in directory DIR, sorted, one a line.
func cmdLs(args []string) int {
	ents, err := os.ReadDir(args[0])
	if err != nil {
		return fail(err)
	}
	for _, e := range ents {
		fmt.Println(e.Name())
	}
	return 0
}

// childNofileSoft reads the soft NOFILE limit of a busybox child, which
// has the limit this process was started with.
func childNofileSoft() (uint64, error) {
	out, err := exec.Command("/bin/busybox", "cat", "/proc/self/limits").Output()
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(line, "Max open files") {
			continue
		}
		f := strings.Fields(strings.TrimPrefix(line, "Max open files"))
		if len(f) < 1 {
			break
		}
		if f[0] == "unlimited" {
			return unix.RLIM_INFINITY, nil
		}
		return strconv.ParseUint(f[0], 10, 64)
	}
	return 0, errors.New("no \"Max open files\" line in /proc/self/limits")
}

// cmdOpen opens PATH for reading (r), writing (w) or both (rw) and prints
// "ok" or "errno=NAME".
func cmdOpen(args []string) int {
	flags, ok := map[string]int{"r": unix.O_RDONLY, "w": unix.O_WRONLY, "rw": unix.O_RDWR}[args[1]]
	if !ok {
		fmt.Printf("error: bad mode %q\n", args[1])
		return 2
	}
	fd, err := unix.Open(args[0], flags|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		return fail(err)
	}
	unix.Close(fd)
	fmt.Println("ok")
	return 0
}

// cmdMknod makes the device node PATH of type c or b and number MAJ MIN.
func cmdMknod(args []string) int {
	typ := map[string]uint32{"c": unix.S_IFCHR, "b": unix.S_IFBLK}[args[1]]
	major, err1 := strconv.ParseUint(args[2], 10, 32)
	minor, err2 := strconv.ParseUint(args[3], 10, 32)
	if typ == 0 || err1 != nil || err2 != nil {
		fmt.Printf("error: bad device %q\n", strings.Join(args[1:], " "))
		return 2
	}
	if err := unix.Mknod(args[0], typ|0o666, int(unix.Mkdev(uint32(major), uint32(minor)))); err != nil {
		return fail(err)
	}
	fmt.Println("ok")
	return 0
}

// cmdChown changes the owner of PATH (not following a final symlink) to
// UID and GID and prints "ok" or "errno=NAME".
func cmdChown(args []string) int {
	uid, err1 := strconv.Atoi(args[1])
	gid, err2 := strconv.Atoi(args[2])
	if err1 != nil || err2 != nil {
		fmt.Printf("error: bad owner %q\n", strings.Join(args[1:], " "))
		return 2
	}
	if err := unix.Lchown(args[0], uid, gid); err != nil {
		return fail(err)
	}
	fmt.Println("ok")
	return 0
}

// cmdHog allocates and touches N MiB, a MiB at a time; it prints
// "survived" if it got them all.
func cmdHog(args []string) int {
	n, err := strconv.Atoi(args[0])
	if err != nil {
		fmt.Printf("error: bad size %q\n", args[0])
		return 2
	}
	var keep [][]byte
	for i := 0; i < n; i++ {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = 1
		}
		keep = append(keep, b)
	}
	runtime.KeepAlive(keep)
	fmt.Println("survived")
	return statusReported
}

// cmdTicks prints 1, 2, 3... a line every 2 ms, forever.
func cmdTicks([]string) int {
	for i := 1; ; i++ {
		fmt.Println(i)
		time.Sleep(2 * time.Millisecond)
	}
}

// cmdForkbomb forks children that do nothing, for ever: once a fork fails
// it prints "forked N errno=NAME" and the content of FILE (e.g. the
// cgroup's pids.current), then keeps trying.
func cmdForkbomb(args []string) int {
	n, reported := 0, false
	for {
		if _, err := rawFork(); err != 0 {
			if !reported {
				reported = true
				fmt.Printf("forked %d errno=%s\n", n, unix.ErrnoName(err))
				if data, err := os.ReadFile(args[0]); err == nil {
					fmt.Printf("%s=%s\n", args[0], strings.TrimSpace(string(data)))
				}
			}
			time.Sleep(time.Millisecond)
			continue
		}
		n++
	}
}

// rawFork forks with the raw system call; the child, a copy of this
// thread only, never returns to Go code but pauses for ever.
//
//go:nosplit
func rawFork() (uintptr, syscall.Errno) {
	pid, _, err := syscall.RawSyscall(unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0)
	if err == 0 && pid == 0 {
		for {
			syscall.RawSyscall(unix.SYS_PAUSE, 0, 0, 0)
		}
	}
	return pid, err
}
