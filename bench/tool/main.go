// Command benchtool is the helper of bench/run.sh, tabox's benchmark.
//
//	benchtool subreaper [-grace D] -- COMMAND [ARG...]
//	    Runs COMMAND as a child subreaper (prctl PR_SET_CHILD_SUBREAPER)
//	    and reaps everything orphaned below it. When COMMAND exits, it waits
//	    up to -grace for leftovers, SIGKILLs them and exits with COMMAND's
//	    status.
//	benchtool config FILE OP...
//	    Edits an OCI config.json in place. OPs, applied in order:
//	      set PATH JSON       set a value (PATH is dotted: linux.resources.pids)
//	      append PATH JSON    append to an array
//	      dropmount DEST      remove the mounts whose destination is DEST
//	      seccomp             set linux.seccomp to the benchmark's profile
//	benchtool seccomp-stats
//	    Prints how many rules and syscall names the profile has.
//	benchtool loop -n N [-par] [-failfile F] -- COMMAND [ARG...]
//	    Runs COMMAND N times, one after another or (-par) all at once; the
//	    string {n} in its arguments becomes the iteration number, and {p}
//	    this loop's PID (for names no other loop uses). Appends the
//	    number of failed runs to F; without -failfile, exits 1 if any failed.
//	benchtool hf KEY RUNTIMES FILE
//	    Turns a hyperfine --export-json FILE made with one command per
//	    runtime (RUNTIMES, comma-separated, in the order of the commands)
//	    and --parameter-scan, or with a parameter {rt} naming the runtime,
//	    into raw lines (see table), in milliseconds.
//	benchtool table RAW
//	    Prints the table of medians (min–max) and ratios from a raw file of
//	    tab-separated lines:
//	      row  KEY UNIT LABEL   declares a row, in the order to print
//	      val  KEY RT VALUE     one measurement
//	      fail KEY RT COUNT     failed runs
//	      note KEY RT TEXT      text shown instead of numbers
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fatalf("usage: benchtool subreaper|config|seccomp-stats|loop|hf|table|prime ...")
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "subreaper":
		os.Exit(subreaper(args))
	case "config":
		configCmd(args)
	case "seccomp-stats":
		p := seccompProfile()
		names := 0
		for _, s := range p["syscalls"].([]any) {
			names += len(s.(map[string]any)["names"].([]string))
		}
		fmt.Printf("%d rules, %d syscall names\n", len(p["syscalls"].([]any)), names)
	case "loop":
		os.Exit(loop(args))
	case "hf":
		hf(args)
	case "table":
		table(args)
	case "prime":
		prime()
	default:
		fatalf("unknown command %q", os.Args[1])
	}
}

// prime moves this process into the cgroup it is in already. Every move
// of a process between cgroups takes the kernel's cgroup thread-group lock
// for writing, which, when it has been idle, first waits for an RCU grace
// period (milliseconds); for about a grace period after a move, the next
// one does not wait. Run just before a runtime, it gives every runtime the
// same warm lock.
func prime() {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		fatalf("prime: %v", err)
	}
	dir, v1 := "", false
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.SplitN(line, ":", 3)
		switch {
		case len(f) != 3 || strings.Contains(f[1], "="):
		case f[1] == "":
			// cgroup v2, when there is no v1 hierarchy.
			if dir == "" {
				dir = "/sys/fs/cgroup" + f[2]
			}
		default:
			// The first v1 hierarchy: its directory is named after its
			// controllers (cpu,cpuacct may be mounted together).
			dir = "/sys/fs/cgroup/" + f[1] + f[2]
			if _, err := os.Stat(dir); err != nil {
				dir = "/sys/fs/cgroup/" + strings.Split(f[1], ",")[0] + f[2]
			}
			v1 = true
		}
		if v1 {
			break
		}
	}
	if dir != "" {
		if err := os.WriteFile(dir+"/cgroup.procs", []byte(strconv.Itoa(os.Getpid())), 0); err != nil {
			fatalf("prime: %v", err)
		}
		return
	}
	fatalf("prime: no cgroup to move into")
}

func fatalf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "benchtool: "+format+"\n", a...)
	os.Exit(2)
}

// ---------------------------------------------------------------- subreaper

func subreaper(args []string) int {
	fs := flag.NewFlagSet("subreaper", flag.ExitOnError)
	grace := fs.Duration("grace", 3*time.Second, "wait this long for leftovers after COMMAND exits")
	fs.Parse(args)
	if fs.NArg() == 0 {
		fatalf("subreaper: no command")
	}
	const prSetChildSubreaper = 36
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); e != 0 {
		fatalf("prctl(PR_SET_CHILD_SUBREAPER): %v", e)
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	path, err := exec.LookPath(fs.Arg(0))
	if err != nil {
		fatalf("%v", err)
	}
	p, err := os.StartProcess(path, fs.Args(), &os.ProcAttr{Files: []*os.File{os.Stdin, os.Stdout, os.Stderr}})
	if err != nil {
		fatalf("%v", err)
	}
	type exit struct {
		pid int
		ws  syscall.WaitStatus
	}
	exits := make(chan exit, 64)
	go func() {
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, 0, nil)
			if err == syscall.EINTR {
				continue
			}
			if err == syscall.ECHILD {
				// Orphans may still arrive: poll.
				time.Sleep(20 * time.Millisecond)
				continue
			}
			if err != nil {
				continue
			}
			exits <- exit{pid, ws}
		}
	}()
	status := -1
	for status < 0 {
		select {
		case e := <-exits:
			if e.pid == p.Pid {
				switch {
				case e.ws.Exited():
					status = e.ws.ExitStatus()
				case e.ws.Signaled():
					status = 128 + int(e.ws.Signal())
				default:
					status = 125
				}
			}
		case s := <-sigs:
			syscall.Kill(p.Pid, s.(syscall.Signal))
		}
	}
	deadline := time.Now().Add(*grace)
	for {
		left := descendants()
		if len(left) == 0 {
			return status
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "benchtool subreaper: killing %d leftover process(es)\n", len(left))
			for _, pid := range left {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			deadline = time.Now().Add(*grace)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// descendants are the live (non-zombie) processes below this one.
func descendants() []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	zombie := map[int]bool{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], pid)
		zombie[pid] = f[0] == "Z"
	}
	var out []int
	queue := []int{os.Getpid()}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			if !zombie[c] {
				out = append(out, c)
			}
			queue = append(queue, c)
		}
	}
	return out
}

// ------------------------------------------------------------------- config

func configCmd(args []string) {
	if len(args) < 1 {
		fatalf("config FILE OP...")
	}
	file := args[0]
	b, err := os.ReadFile(file)
	if err != nil {
		fatalf("%v", err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		fatalf("%s: %v", file, err)
	}
	ops := args[1:]
	for len(ops) > 0 {
		op := ops[0]
		need := map[string]int{"set": 2, "append": 2, "dropmount": 1, "seccomp": 0}
		n, ok := need[op]
		if !ok || len(ops) < 1+n {
			fatalf("config: bad op %q", op)
		}
		a := ops[1 : 1+n]
		ops = ops[1+n:]
		switch op {
		case "set", "append":
			var v any
			if err := json.Unmarshal([]byte(a[1]), &v); err != nil {
				fatalf("config: %s %s: %v", op, a[0], err)
			}
			parent, key := walk(cfg, a[0])
			if op == "set" {
				parent[key] = v
			} else {
				arr, _ := parent[key].([]any)
				parent[key] = append(arr, v)
			}
		case "dropmount":
			mounts, _ := cfg["mounts"].([]any)
			var keep []any
			for _, m := range mounts {
				if m.(map[string]any)["destination"] != a[0] {
					keep = append(keep, m)
				}
			}
			cfg["mounts"] = keep
		case "seccomp":
			parent, key := walk(cfg, "linux.seccomp")
			parent[key] = seccompProfile()
		}
	}
	out, err := json.MarshalIndent(cfg, "", "\t")
	if err != nil {
		fatalf("%v", err)
	}
	if err := os.WriteFile(file, append(out, '\n'), 0o644); err != nil {
		fatalf("%v", err)
	}
}

// walk returns the object holding the last element of a dotted path,
// creating the objects on the way.
func walk(cfg map[string]any, path string) (map[string]any, string) {
	parts := strings.Split(path, ".")
	cur := cfg
	for _, p := range parts[:len(parts)-1] {
		next, ok := cur[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[p] = next
		}
		cur = next
	}
	return cur, parts[len(parts)-1]
}

// seccompProfile is a Docker-like profile: deny by default with EPERM, a
// few rules allowing many syscalls each, and rules with argument
// conditions (personality, clone without namespace flags, socket without
// AF_VSOCK, clone3 refused with ENOSYS so that libc falls back to clone).
func seccompProfile() map[string]any {
	allow := func(names ...string) map[string]any {
		return map[string]any{"names": names, "action": "SCMP_ACT_ALLOW"}
	}
	groups := [][]string{
		// files and descriptors
		strings.Fields(`read write open close stat fstat lstat poll lseek pread64 pwrite64 readv writev
			access pipe select dup dup2 sendfile fcntl flock fsync fdatasync truncate ftruncate getdents
			getcwd chdir fchdir rename mkdir rmdir creat link unlink symlink readlink chmod fchmod chown
			fchown lchown umask statfs fstatfs readahead setxattr lsetxattr fsetxattr getxattr lgetxattr
			fgetxattr listxattr llistxattr flistxattr removexattr lremovexattr fremovexattr getdents64
			fadvise64 openat mkdirat mknodat fchownat futimesat newfstatat unlinkat renameat linkat
			symlinkat readlinkat fchmodat faccessat pselect6 ppoll splice tee sync_file_range vmsplice
			utimensat fallocate dup3 pipe2 preadv pwritev syncfs renameat2 copy_file_range preadv2
			pwritev2 statx close_range openat2 faccessat2 utime utimes mknod sync chroot ioctl
			inotify_init inotify_add_watch inotify_rm_watch inotify_init1 fanotify_mark`),
		// memory
		strings.Fields(`mmap mprotect munmap brk mremap msync mincore madvise mlock munlock mlockall
			munlockall remap_file_pages mlock2 pkey_mprotect pkey_alloc pkey_free memfd_create
			membarrier process_madvise process_mrelease`),
		// processes, credentials, scheduling
		strings.Fields(`fork vfork execve execveat exit exit_group wait4 waitid kill tkill tgkill uname
			getpid getppid gettid getuid getgid geteuid getegid setuid setgid setpgid getpgrp setsid
			setreuid setregid getgroups setgroups setresuid getresuid setresgid getresgid getpgid
			setfsuid setfsgid getsid capget capset getrlimit setrlimit prlimit64 getrusage sysinfo
			times getpriority setpriority sched_setparam sched_getparam sched_setscheduler
			sched_getscheduler sched_get_priority_max sched_get_priority_min sched_rr_get_interval
			sched_yield sched_setaffinity sched_getaffinity sched_setattr sched_getattr prctl
			arch_prctl set_thread_area get_thread_area set_tid_address set_robust_list
			get_robust_list futex futex_waitv rseq seccomp getrandom getcpu ioprio_set ioprio_get
			pidfd_open pidfd_send_signal pidfd_getfd sethostname setdomainname restart_syscall
			landlock_create_ruleset landlock_add_rule landlock_restrict_self`),
		// signals, timers, events
		strings.Fields(`rt_sigaction rt_sigprocmask rt_sigreturn rt_sigpending rt_sigtimedwait
			rt_sigqueueinfo rt_sigsuspend rt_tgsigqueueinfo sigaltstack pause nanosleep getitimer
			alarm setitimer gettimeofday time timer_create timer_settime timer_gettime
			timer_getoverrun timer_delete clock_gettime clock_getres clock_nanosleep signalfd
			signalfd4 timerfd_create timerfd_settime timerfd_gettime eventfd eventfd2 epoll_create
			epoll_create1 epoll_ctl epoll_wait epoll_pwait epoll_pwait2`),
		// sockets and IPC
		strings.Fields(`connect accept accept4 sendto recvfrom sendmsg recvmsg sendmmsg recvmmsg
			shutdown bind listen getsockname getpeername socketpair setsockopt getsockopt shmget
			shmat shmctl shmdt semget semop semctl semtimedop msgget msgsnd msgrcv msgctl mq_open
			mq_unlink mq_timedsend mq_timedreceive mq_notify mq_getsetattr`),
		// asynchronous I/O
		strings.Fields(`io_setup io_destroy io_getevents io_submit io_cancel io_pgetevents
			io_uring_setup io_uring_enter io_uring_register`),
	}
	var rules []any
	for _, g := range groups {
		rules = append(rules, allow(g...))
	}
	for _, v := range []uint64{0, 8, 0x20000, 0x20008, 0xffffffff} {
		r := allow("personality")
		r["args"] = []any{map[string]any{"index": 0, "value": v, "op": "SCMP_CMP_EQ"}}
		rules = append(rules, r)
	}
	const nsFlags = 0x7E020000 // CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
	r := allow("clone")
	r["args"] = []any{map[string]any{"index": 0, "value": nsFlags, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}}
	rules = append(rules, r)
	r = allow("socket")
	r["args"] = []any{map[string]any{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}} // AF_VSOCK
	rules = append(rules, r)
	rules = append(rules, map[string]any{"names": []string{"clone3"}, "action": "SCMP_ACT_ERRNO", "errnoRet": 38})
	return map[string]any{
		"defaultAction":   "SCMP_ACT_ERRNO",
		"defaultErrnoRet": 1,
		"architectures":   []string{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"},
		"syscalls":        rules,
	}
}

// --------------------------------------------------------------------- loop

func loop(args []string) int {
	fs := flag.NewFlagSet("loop", flag.ExitOnError)
	n := fs.Int("n", 1, "iterations")
	par := fs.Bool("par", false, "all at once")
	failfile := fs.String("failfile", "", "append the failure count here")
	fs.Parse(args)
	if fs.NArg() == 0 {
		fatalf("loop: no command")
	}
	pid := strconv.Itoa(os.Getpid())
	runOne := func(i int) error {
		argv := make([]string, fs.NArg())
		for j, a := range fs.Args() {
			argv[j] = strings.ReplaceAll(strings.ReplaceAll(a, "{n}", strconv.Itoa(i)), "{p}", pid)
		}
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Stderr = os.Stderr
		return cmd.Run()
	}
	var mu sync.Mutex
	fails := 0
	record := func(i int, err error) {
		if err != nil {
			mu.Lock()
			fails++
			mu.Unlock()
			fmt.Fprintf(os.Stderr, "benchtool loop: run %d: %v\n", i, err)
		}
	}
	if *par {
		var wg sync.WaitGroup
		for i := 1; i <= *n; i++ {
			wg.Add(1)
			go func(i int) { defer wg.Done(); record(i, runOne(i)) }(i)
		}
		wg.Wait()
	} else {
		for i := 1; i <= *n; i++ {
			record(i, runOne(i))
		}
	}
	if *failfile != "" {
		f, err := os.OpenFile(*failfile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err == nil {
			fmt.Fprintln(f, fails)
			f.Close()
		}
	}
	if fails > 0 && *failfile == "" {
		return 1
	}
	return 0
}

// ----------------------------------------------------------------------- hf

func hf(args []string) {
	if len(args) != 3 {
		fatalf("hf KEY RUNTIMES FILE")
	}
	key, rts := args[0], strings.Split(args[1], ",")
	b, err := os.ReadFile(args[2])
	if err != nil {
		fatalf("%v", err)
	}
	var doc struct {
		Results []struct {
			Command    string            `json:"command"`
			Times      []float64         `json:"times"`
			ExitCodes  []*int            `json:"exit_codes"`
			Parameters map[string]string `json:"parameters"`
		} `json:"results"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		fatalf("%s: %v", args[2], err)
	}
	fails := map[string]int{}
	// With a parameter {rt}, the runtimes are the parameter's values, in
	// the order they first come.
	var seen []string
	for i, r := range doc.Results {
		rt := rts[i%len(rts)]
		if p, ok := r.Parameters["rt"]; ok {
			rt = baseName(p)
			if _, known := fails[rt]; !known {
				seen = append(seen, rt)
				fails[rt] = 0
			}
		}
		for j, t := range r.Times {
			if j < len(r.ExitCodes) && (r.ExitCodes[j] == nil || *r.ExitCodes[j] != 0) {
				fails[rt]++
				continue
			}
			fmt.Printf("val\t%s\t%s\t%.4f\n", key, rt, t*1000)
		}
	}
	if len(seen) > 0 {
		rts = seen
	}
	for _, rt := range rts {
		fmt.Printf("fail\t%s\t%s\t%d\n", key, rt, fails[rt])
	}
}

// -------------------------------------------------------------------- table

// baseName is the runtime a copy of its binary stands for: "tabox.2" is
// tabox.
func baseName(rt string) string {
	if i := strings.LastIndexByte(rt, '.'); i > 0 {
		if _, err := strconv.Atoi(rt[i+1:]); err == nil {
			return rt[:i]
		}
	}
	return rt
}

type row struct {
	key, unit, label string
	vals             map[string][]float64
	fails            map[string]int
	notes            map[string]string
}

func table(args []string) {
	if len(args) != 1 {
		fatalf("table RAW")
	}
	f, err := os.Open(args[0])
	if err != nil {
		fatalf("%v", err)
	}
	defer f.Close()
	var order []*row
	rows := map[string]*row{}
	get := func(k string) *row {
		r := rows[k]
		if r == nil {
			r = &row{key: k, vals: map[string][]float64{}, fails: map[string]int{}, notes: map[string]string{}}
			rows[k] = r
			order = append(order, r)
		}
		return r
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.SplitN(sc.Text(), "\t", 4)
		if len(p) < 4 {
			continue
		}
		r := get(p[1])
		switch p[0] {
		case "row":
			r.unit, r.label = p[2], p[3]
		case "val":
			v, err := strconv.ParseFloat(p[3], 64)
			if err == nil {
				r.vals[p[2]] = append(r.vals[p[2]], v)
			}
		case "fail":
			n, _ := strconv.Atoi(p[3])
			r.fails[p[2]] += n
		case "note":
			r.notes[p[2]] = p[3]
		}
	}
	rts := []string{"tabox", "crun", "runc"}
	var floor, sandbox []*row
	fmt.Printf("%-44s %-28s %-28s %-28s %10s %10s\n", "", "tabox", "crun", "runc", "tabox/crun", "tabox/runc")
	for _, r := range order {
		if r.label == "" {
			continue
		}
		if _, ok := r.vals["bwrap"]; ok || r.fails["bwrap"] > 0 {
			sandbox = append(sandbox, r)
			continue
		}
		label := r.label
		if r.unit != "" {
			label += " (" + r.unit + ")"
		}
		line := fmt.Sprintf("%-44s", label)
		for _, rt := range rts {
			c := cell(r.vals[rt], r.fails[rt])
			if n, ok := r.notes[rt]; ok {
				c = n
			}
			line += fmt.Sprintf(" %-28s", c)
		}
		t := r.vals["tabox"]
		for _, rt := range []string{"crun", "runc"} {
			o := r.vals[rt]
			if len(t) == 0 || len(o) == 0 || median(o) == 0 {
				line += fmt.Sprintf(" %10s", "-")
				continue
			}
			line += fmt.Sprintf(" %10.2f", median(t)/median(o))
		}
		fmt.Println(line)
		if fl := r.vals["floor"]; len(fl) > 0 || r.fails["floor"] > 0 {
			floor = append(floor, r)
		}
	}
	// The no-runtime floor, measured interleaved with a row's runtimes, and
	// how many times the floor each runtime's median is.
	for _, r := range floor {
		fl := r.vals["floor"]
		line := fmt.Sprintf("%-44s %-28s", "7  floor: unshare+chroot, no runtime (ms)", cell(fl, r.fails["floor"]))
		if len(fl) > 0 {
			var parts []string
			for _, rt := range rts {
				if len(r.vals[rt]) > 0 {
					parts = append(parts, fmt.Sprintf("%s %.1fx", rt, median(r.vals[rt])/median(fl)))
				}
			}
			line += " row " + strings.Fields(r.label)[0] + " / floor: " + strings.Join(parts, ", ")
		}
		fmt.Println(line)
	}
	// One program without a bundle: tabox sandbox, bubblewrap and the
	// program alone, and the ratios of their medians.
	for _, r := range sandbox {
		line := fmt.Sprintf("%-44s", r.label+" ("+r.unit+")")
		for _, k := range []string{"tabox", "bwrap", "plain"} {
			line += fmt.Sprintf(" %-28s", k+" "+cell(r.vals[k], r.fails[k]))
		}
		fmt.Println(line)
		var parts []string
		for _, p := range [][2]string{{"tabox", "bwrap"}, {"tabox", "plain"}, {"bwrap", "plain"}} {
			a, b := r.vals[p[0]], r.vals[p[1]]
			if len(a) > 0 && len(b) > 0 && median(b) > 0 {
				parts = append(parts, fmt.Sprintf("%s/%s %.2f", p[0], p[1], median(a)/median(b)))
			}
		}
		fmt.Printf("%-44s %s\n", "", strings.Join(parts, ", "))
	}
}

func cell(v []float64, fails int) string {
	s := "-"
	switch {
	case len(v) == 1:
		s = num(v[0])
	case len(v) > 1:
		lo, hi := minmax(v)
		s = fmt.Sprintf("%s (%s–%s)", num(median(v)), num(lo), num(hi))
	}
	if fails > 0 {
		s += fmt.Sprintf(" [%d FAILED]", fails)
	}
	return s
}

func num(x float64) string {
	a := math.Abs(x)
	switch {
	case a >= 100:
		return fmt.Sprintf("%.0f", x)
	case a >= 10:
		return fmt.Sprintf("%.1f", x)
	default:
		return fmt.Sprintf("%.2f", x)
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func minmax(v []float64) (float64, float64) {
	lo, hi := v[0], v[0]
	for _, x := range v {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return lo, hi
}
