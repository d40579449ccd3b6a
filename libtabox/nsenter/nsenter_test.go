package nsenter

import (
	"io"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childArg is the argument of the copies of the test binary that
// TestGOMAXPROCSLent starts: not the environment, which they get exactly.
const childArg = "nsenter-test-child"

// TestMain, in a copy of the test binary started by TestGOMAXPROCSLent,
// reports how the runtime started and the environment after RestoreEnv.
func TestMain(m *testing.M) {
	if len(os.Args) == 2 && os.Args[1] == childArg {
		lent := os.Getenv("GOMAXPROCS") == "1" && envTaken()
		procs := runtime.GOMAXPROCS(0)
		restored := RestoreEnv()
		os.Stdout.WriteString(strconv.FormatBool(lent) + " " + strconv.FormatBool(restored) + " " + strconv.Itoa(procs) + "\n" + strings.Join(os.Environ(), "\n"))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestGOMAXPROCSLent: a tabox started without GOMAXPROCS has a runtime of
// one P, and then exactly the environment it was started with; one started
// with GOMAXPROCS, or with no environment to borrow a slot from, is left
// alone.
func TestGOMAXPROCSLent(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("one CPU: a runtime has one P whatever the environment")
	}
	for _, tc := range []struct {
		name     string
		env      []string
		lent     bool
		procs    int      // 0: the runtime's default, one per CPU
		restored []string // what the process has after RestoreEnv
	}{
		{"plain", []string{"A=1", "B=x=y"}, true, 1, []string{"A=1", "B=x=y"}},
		// A later entry of a name is never in effect; it is dropped.
		{"duplicate", []string{"A=1", "A=2"}, true, 1, []string{"A=1"}},
		{"set", []string{"A=1", "GOMAXPROCS=2"}, false, 2, []string{"A=1", "GOMAXPROCS=2"}},
		{"one-entry", []string{"A=1"}, true, 1, []string{"A=1"}},
		{"empty", []string{}, false, 0, []string{""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := runChild(t, tc.env)
			head, env, _ := strings.Cut(string(out), "\n")
			procs := tc.procs
			if procs == 0 {
				procs = runtime.NumCPU()
			}
			want := strconv.FormatBool(tc.lent) + " " + strconv.FormatBool(tc.lent) + " " + strconv.Itoa(procs)
			if head != want {
				t.Errorf("lent, restored, GOMAXPROCS: %s, want %s", head, want)
			}
			if got := strings.Split(env, "\n"); !sameSet(got, tc.restored) {
				t.Errorf("environment %q, want %q", got, tc.restored)
			}
		})
	}
}

// runChild runs a copy of the test binary with exactly env (os/exec would
// drop duplicate names) and returns its output.
func runChild(t *testing.T, env []string) []byte {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	pid, err := syscall.ForkExec(os.Args[0], []string{os.Args[0], childArg}, &syscall.ProcAttr{Env: env, Files: []uintptr{0, w.Fd(), 2}})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	var ws syscall.WaitStatus
	if _, werr := syscall.Wait4(pid, &ws, 0, nil); werr != nil || err != nil || ws.ExitStatus() != 0 {
		t.Fatalf("child: %v, %v, %v", ws, werr, err)
	}
	return out
}

func sameSet(a, b []string) bool {
	set := func(l []string) map[string]bool {
		m := map[string]bool{}
		for _, s := range l {
			m[s] = true
		}
		return m
	}
	return reflect.DeepEqual(set(a), set(b))
}

// TestSysmonSlack: of the process's threads, only the runtime's monitor
// has the 10 ms timer slack (sysmon.c), also once the monitor has started
// threads of its own, as it does when goroutines block in system calls
// while others want to run.
func TestSysmonSlack(t *testing.T) {
	own, err := os.ReadFile("/proc/self/timerslack_ns")
	if err != nil {
		t.Fatal(err)
	}
	var fds []int
	defer func() {
		for _, fd := range fds {
			syscall.Close(fd)
		}
	}()
	for i := 0; i < 4; i++ {
		var p [2]int
		if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		fds = append(fds, p[0], p[1])
		go syscall.Read(p[0], make([]byte, 1)) // blocks until the pipe is closed
	}
	stop := make(chan struct{})
	defer close(stop)
	for i := 0; i < 3; i++ {
		go func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Millisecond):
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)

	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	slacks := map[string]int{}
	for _, task := range tasks {
		data, err := os.ReadFile("/proc/" + task.Name() + "/timerslack_ns")
		if err == nil {
			slacks[strings.TrimSpace(string(data))]++
		}
	}
	mine := strings.TrimSpace(string(own))
	if len(tasks) < 6 || slacks["10000000"] != 1 || slacks[mine] != len(tasks)-1 {
		t.Errorf("%d threads, timer slacks %v: want 1 thread at 10000000 ns and the others at the main thread's %s", len(tasks), slacks, mine)
	}
}
