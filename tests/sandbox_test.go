package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// sandboxRun runs `tabox sandbox` with a workdir holding the judge helper,
// and returns the report (from --report), the meta file, and tabox's exit
// code and stderr.
func sandboxRun(t *testing.T, flags []string, args ...string) (judgeReport, string, int, string) {
	t.Helper()
	work := t.TempDir()
	os.Chmod(work, 0o777)
	for d := filepath.Dir(work); d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	data, err := os.ReadFile(judgeProg(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "prog"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	report, meta := filepath.Join(out, "report.json"), filepath.Join(out, "meta")
	all := append([]string{"sandbox", "--workdir", work, "--report", report, "--meta", meta}, flags...)
	all = append(append(all, "--"), args...)
	_, stderr, code := tabox(t, all...)
	var r judgeReport
	if b, err := os.ReadFile(report); err == nil {
		json.Unmarshal(b, &r)
	}
	m, _ := os.ReadFile(meta)
	assertSandboxClean(t)
	return r, string(m), code, stderr
}

// assertSandboxClean: a sandbox leaves no container, rootfs or cgroup.
func assertSandboxClean(t *testing.T) {
	t.Helper()
	entries, _ := os.ReadDir(rootDir(t))
	for _, e := range entries {
		t.Errorf("sandbox left %s in the state root", e.Name())
	}
	for _, own := range append(ownCgroups(), "/sys/fs/cgroup/pids", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/cpuacct") {
		if m, _ := filepath.Glob(filepath.Join(own, "sandbox-*")); len(m) > 0 {
			t.Errorf("sandbox left cgroups %v", m)
		}
	}
}

// TestSandboxRuns: `tabox sandbox --workdir DIR -- ./prog` runs DIR/prog
// there, exits 0 and reports the program's fate.
func TestSandboxRuns(t *testing.T) {
	r, meta, code, stderr := sandboxRun(t, []string{"--time", "2"}, "./prog", "burn", "0.2")
	if code != 0 || r.Status != "exited" || r.ExitCode != 0 {
		t.Fatalf("sandbox: exit %d (%s), report %+v", code, stderr, r)
	}
	if r.CPUTime < 0.19 || r.CPUTime > 0.23 {
		t.Errorf("cpuTime %.3f, want 0.2 within 20 ms", r.CPUTime)
	}
	if !strings.Contains(meta, "exitcode:0") {
		t.Errorf("meta:\n%s", meta)
	}
}

// TestSandboxLimits: the CPU limit kills (reported as TO, tabox still
// exits 0); the default of one process refuses the program's forks.
func TestSandboxLimits(t *testing.T) {
	r, meta, code, stderr := sandboxRun(t, []string{"--time", "0.2"}, "./prog", "burn", "5")
	if code != 0 || r.Reason != "cpu-time-limit" || !strings.Contains(meta, "status:TO") {
		t.Errorf("CPU limit: exit %d (%s), %+v\n%s", code, stderr, r, meta)
	}
	r, _, code, _ = sandboxRun(t, nil, "./prog", "forkburn", "0.1")
	if code != 0 || !r.PidsLimitHit {
		t.Errorf("forks under the default --pids 1: exit %d, %+v; want pidsLimitHit", code, r)
	}
}

// TestSandboxStdioAndFsize: --stdin/--stdout files, and --fsize stops a
// program writing past it with SIGXFSZ.
func TestSandboxStdioAndFsize(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.txt")
	if err := os.WriteFile(in, []byte("hello sandbox\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, _, code, stderr := sandboxRun(t, []string{"--stdin", in, "--stdout", out}, "/bin/cat")
	if got, _ := os.ReadFile(out); code != 0 || string(got) != "hello sandbox\n" || r.ExitCode != 0 {
		t.Errorf("cat through --stdin/--stdout: exit %d (%s), out %q, %+v", code, stderr, got, r)
	}
	r, _, code, stderr = sandboxRun(t, []string{"--fsize", "1K", "--stdout", out}, "/usr/bin/head", "-c", "100000", "/dev/zero")
	size := int64(-1)
	if fi, err := os.Stat(out); err == nil {
		size = fi.Size()
	}
	if code != 0 || size != 1024 || r.Status != "signaled" || r.Signal != int(unix.SIGXFSZ) {
		t.Errorf("writing past --fsize 1K: exit %d (%s), %d bytes, report %+v; want 1024 bytes and SIGXFSZ", code, stderr, size, r)
	}
}

// TestSandboxSignals: the program is not its namespace's PID 1, which the
// kernel spares the signals it has no handler for: it dies of abort(),
// SIGPIPE or its own SIGKILL as anywhere else; its forks are counted.
func TestSandboxSignals(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.txt")
	for _, tc := range []struct {
		flags []string
		args  []string
		sig   unix.Signal
		procs int
	}{
		{nil, []string{"./prog", "abort", "0"}, unix.SIGABRT, 1},
		{nil, []string{"./prog", "pipe", "0"}, unix.SIGPIPE, 1},
		{[]string{"--pids", "4"}, []string{"/bin/sh", "-c", "/bin/true; /bin/true; kill -KILL $$"}, unix.SIGKILL, 3},
	} {
		r, _, code, stderr := sandboxRun(t, tc.flags, tc.args...)
		if code != 0 || r.Status != "signaled" || r.Signal != int(tc.sig) || r.Reason != "" {
			t.Errorf("%q: exit %d (%s), report %+v; want signaled by %d", tc.args, code, stderr, r, tc.sig)
		}
		if r.processes() != tc.procs {
			t.Errorf("%q: processes %d, want %d", tc.args, r.processes(), tc.procs)
		}
	}
	r, _, _, _ := sandboxRun(t, []string{"--stdout", out}, "/bin/sh", "-c", "echo $$")
	if got, _ := os.ReadFile(out); string(got) != "2\n" || r.ExitCode != 0 {
		t.Errorf("the program's PID in the sandbox: %q (%+v), want 2: the reaper is 1", got, r)
	}
}

// TestSandboxBadInput: a flag that does not parse is one line on stderr
// and exit 2, nothing left.
func TestSandboxBadInput(t *testing.T) {
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--memory", "lots"}, "--memory"},
		{[]string{"--time", "-1"}, "--time"},
		{[]string{"--mount", "relative:/x"}, "--mount"},
		{[]string{"--pids", "0"}, "--pids"},
	} {
		_, _, code, stderr := sandboxRun(t, tc.flags, "./prog", "burn", "0")
		if code != 2 {
			t.Errorf("sandbox %v: exit %d, want 2 (%s)", tc.flags, code, stderr)
		}
		assertOneLineError(t, stderr, 1, tc.want)
	}
}
