// Command subreaper runs a command as a child subreaper and reaps every
// process that is orphaned below it.
//
// Usage:
//
//	subreaper [-timeout DURATION] [-grace DURATION] [--] COMMAND [ARG...]
//
// The machines this suite runs on have a PID 1 that does not reap orphans
// promptly, and container runtimes orphan processes by design (the `create`
// command exits while the container's init keeps running). subreaper sets
// PR_SET_CHILD_SUBREAPER, so such orphans are re-parented to it rather than
// to PID 1, and it reaps all of them as they exit.
//
// When COMMAND exits, subreaper waits up to -grace for the remaining
// descendants to exit on their own, then SIGKILLs whatever is left (leaked
// container processes, stuck hooks, ...), reaps it and exits with COMMAND's
// status (128+N if it was killed by signal N). If COMMAND runs longer than
// -timeout, subreaper SIGKILLs COMMAND and all its descendants and exits with
// status 124, like timeout(1). SIGINT, SIGTERM and SIGHUP are forwarded to
// COMMAND.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const prSetChildSubreaper = 36 // PR_SET_CHILD_SUBREAPER from <linux/prctl.h>

type exitEvent struct {
	pid    int
	status syscall.WaitStatus
}

func main() {
	timeout := flag.Duration("timeout", 0, "kill COMMAND and its descendants after this long (0: no limit)")
	grace := flag.Duration("grace", 2*time.Second, "after COMMAND exits, how long to wait for leftover descendants before killing them")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: %s [-timeout D] [-grace D] [--] COMMAND [ARG...]\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(125)
	}
	os.Exit(run(flag.Args(), *timeout, *grace))
}

func logf(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "subreaper: "+format+"\n", a...)
}

func run(argv []string, timeout, grace time.Duration) int {
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		logf("prctl(PR_SET_CHILD_SUBREAPER): %v", errno)
		return 125
	}

	// Register for signals before starting the child so none is lost.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)

	path := argv[0]
	if !strings.Contains(path, "/") {
		if lp, err := lookPath(path); err == nil {
			path = lp
		}
	}
	proc, err := os.StartProcess(path, argv, &os.ProcAttr{
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
	})
	if err != nil {
		logf("%v", err)
		return 127
	}
	mainPid := proc.Pid

	// One goroutine owns wait4(-1): it reaps every child (the command and
	// every orphan re-parented to us) and reports each exit. We never call
	// proc.Wait, so there is no race over who reaps the command.
	exits := make(chan exitEvent, 64)
	noChildren := make(chan struct{})
	go func() {
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, 0, nil)
			if err == syscall.EINTR {
				continue
			}
			if err != nil { // ECHILD: nothing left to reap right now
				close(noChildren)
				return
			}
			exits <- exitEvent{pid, ws}
		}
	}()

	var timeoutC <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		timeoutC = t.C
	}

	status := -1
	timedOut := false
	for status < 0 {
		select {
		case ev := <-exits:
			if ev.pid == mainPid {
				status = exitCode(ev.status)
			}
		case <-noChildren:
			// Cannot happen while the command is alive; be defensive.
			logf("lost track of the command")
			return 125
		case s := <-sigs:
			_ = syscall.Kill(mainPid, s.(syscall.Signal))
		case <-timeoutC:
			timedOut = true
			n := killDescendants()
			logf("timeout after %v: killed %d process(es)", timeout, n)
			timeoutC = nil
		}
	}
	if timedOut {
		status = 124
	}

	// The command is gone. Give its leftovers a moment, then kill them.
	graceC := time.After(grace)
	killed := 0
	for {
		select {
		case <-exits:
		case <-noChildren:
			// wait4 said ECHILD; orphans may still be on their way to us
			// (re-parenting happens when their parent exits, after which
			// they are our children), so double-check through /proc.
			if len(descendants()) == 0 {
				if killed > 0 {
					logf("killed %d leftover process(es) after the command exited", killed)
				}
				return status
			}
			// Restart the reaper for the late arrivals.
			noChildren = make(chan struct{})
			nc := noChildren
			go func() {
				for {
					var ws syscall.WaitStatus
					pid, err := syscall.Wait4(-1, &ws, 0, nil)
					if err == syscall.EINTR {
						continue
					}
					if err != nil {
						close(nc)
						return
					}
					exits <- exitEvent{pid, ws}
				}
			}()
		case <-sigs:
			killed += killDescendants()
		case <-graceC:
			killed += killDescendants()
			graceC = time.After(grace)
		}
	}
}

func exitCode(ws syscall.WaitStatus) int {
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		return 128 + int(ws.Signal())
	}
	return 125
}

// descendants returns the PIDs of all live (non-zombie) processes below us.
func descendants() []int {
	self := os.Getpid()
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
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// Format: pid (comm) state ppid ...; comm may contain spaces and ')'.
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(s[i+1:])
		if len(fields) < 2 {
			continue
		}
		ppid, err := strconv.Atoi(fields[1])
		if err != nil {
			continue
		}
		children[ppid] = append(children[ppid], pid)
		zombie[pid] = fields[0] == "Z"
	}
	var out []int
	queue := []int{self}
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

// killDescendants SIGKILLs every live process below us and returns how many
// it signalled. Children of killed processes are re-parented to us and killed
// on the next call.
func killDescendants() int {
	n := 0
	for _, pid := range descendants() {
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n
}

func lookPath(file string) (string, error) {
	for _, dir := range strings.Split(os.Getenv("PATH"), ":") {
		if dir == "" {
			dir = "."
		}
		p := dir + "/" + file
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found in PATH", file)
}
