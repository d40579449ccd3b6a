package tests

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// judgeProgs are small static C programs whose resource use is known
// exactly, for the judge tests (a Go program carries its runtime's).
const judgeProgsSrc = `
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
static double cpu(void) {
	struct timespec t; clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}
int main(int argc, char **argv) {
	if (argc < 3) return 2;
	double arg = atof(argv[2]);
	if (!strcmp(argv[1], "burn")) {          /* burn N seconds of CPU */
		/* From now: the process clock also counts the runtime's work
		   before exec. */
		volatile unsigned long x = 0;
		double t0 = cpu();
		while (cpu() - t0 < arg) x++;
		return 0;
	}
	if (!strcmp(argv[1], "hog")) {           /* touch N MiB */
		size_t n = (size_t)arg << 20;
		volatile char *p = malloc(n);
		for (size_t i = 0; i < n; i += 4096) p[i] = 1;
		return 0;
	}
	if (!strcmp(argv[1], "abort"))           /* SIGABRT, the libc way */
		abort();
	if (!strcmp(argv[1], "pipe")) {          /* write to a pipe nobody reads */
		int p[2];
		if (pipe(p) || close(p[0])) return 2;
		write(p[1], "x", 1);
		return 3;
	}
	if (!strcmp(argv[1], "forkburn")) {      /* two children burn N s each */
		for (int i = 0; i < 2; i++)
			if (fork() == 0) { volatile unsigned long x = 0; while (cpu() < arg) x++; _exit(0); }
		while (wait(NULL) > 0) ;
		return 0;
	}
	return 2;
}
`

var (
	judgeOnce sync.Once
	judgeBin  string
	judgeErr  error
)

// judgeProg builds the static helper once.
func judgeProg(t *testing.T) string {
	t.Helper()
	judgeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tabox-judge-")
		if err != nil {
			judgeErr = err
			return
		}
		src := filepath.Join(dir, "judge.c")
		if judgeErr = os.WriteFile(src, []byte(judgeProgsSrc), 0o644); judgeErr != nil {
			return
		}
		judgeBin = filepath.Join(dir, "judge")
		if out, err := exec.Command("gcc", "-static", "-O1", "-o", judgeBin, src).CombinedOutput(); err != nil {
			judgeErr = err
			judgeBin = string(out)
		}
	})
	if judgeErr != nil {
		t.Fatalf("build the judge helper (gcc -static): %v %s", judgeErr, judgeBin)
	}
	return judgeBin
}

type judgeReport struct {
	Status       string  `json:"status"`
	ExitCode     int     `json:"exitCode"`
	Signal       int     `json:"signal"`
	Reason       string  `json:"reason"`
	PidsLimitHit bool    `json:"pidsLimitHit"`
	WallTime     float64 `json:"wallTime"`
	CPUTime      float64 `json:"cpuTime"`
	UserTime     float64 `json:"userTime"`
	SystemTime   float64 `json:"systemTime"`
	PeakMemory   uint64  `json:"peakMemory"`
	// Processes is a pointer: absent and 0 differ.
	Processes *int `json:"processes"`
}

// processes is r.Processes, or -1 when absent.
func (r judgeReport) processes() int {
	if r.Processes == nil {
		return -1
	}
	return *r.Processes
}

// judgeBundle makes a bundle with the helper at /judge, running it with
// args.
func judgeBundle(t *testing.T, mutate func(*specs.Spec), args ...string) string {
	t.Helper()
	prog := judgeProg(t)
	bundle := newBundle(t, func(s *specs.Spec) {
		s.Process.Args = append([]string{"/judge"}, args...)
		if mutate != nil {
			mutate(s)
		}
	})
	data, err := os.ReadFile(prog)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "rootfs", "judge"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	return bundle
}

// judgeRun runs the helper in a container with `run --report --meta` and
// the given run flags, and returns the report, the meta file and the exit
// code.
func judgeRun(t *testing.T, mutate func(*specs.Spec), flags []string, args ...string) (judgeReport, string, int) {
	t.Helper()
	bundle := judgeBundle(t, mutate, args...)
	dir := t.TempDir()
	report, meta := filepath.Join(dir, "report.json"), filepath.Join(dir, "meta")
	_, stderr, code := runContainer(t, bundle, append(flags, "--report", report, "--meta", meta)...)
	var r judgeReport
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("no report (exit %d, %s): %v", code, stderr, err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("report %q: %v", b, err)
	}
	m, _ := os.ReadFile(meta)
	return r, string(m), code
}

// TestJudgeCPUTime: a CPU burner of known length is measured within 5%
// (or 20 ms), and one past the limit is killed at it.
func TestJudgeCPUTime(t *testing.T) {
	t.Parallel()
	r, meta, code := judgeRun(t, nil, []string{"--time", "2"}, "burn", "0.4")
	if code != 0 || r.Status != "exited" || r.Reason != "" {
		t.Errorf("0.4 s burner under a 2 s limit: exit %d, %+v", code, r)
	}
	if d := r.CPUTime - 0.4; d < -0.02 || d > max(0.02, 0.05*0.4) {
		t.Errorf("cpuTime %.3f, want 0.4 within 20 ms", r.CPUTime)
	}
	if !strings.Contains(meta, "exitcode:0") || strings.Contains(meta, "status:") {
		t.Errorf("meta of a clean exit:\n%s", meta)
	}

	r, meta, code = judgeRun(t, nil, []string{"--time", "0.3"}, "burn", "5")
	if code != 137 || r.Status != "killed" || r.Reason != "cpu-time-limit" || r.Signal != 9 {
		t.Errorf("burner past its CPU limit: exit %d, %+v", code, r)
	}
	if r.CPUTime < 0.3 || r.CPUTime > 0.35 {
		t.Errorf("killed at cpuTime %.3f, want just past 0.3", r.CPUTime)
	}
	if !strings.Contains(meta, "status:TO") || !strings.Contains(meta, "killed:1") {
		t.Errorf("meta of a CPU time-out:\n%s", meta)
	}
}

// TestJudgeForkedCPU: the CPU time of the children counts, and so do the
// children.
func TestJudgeForkedCPU(t *testing.T) {
	t.Parallel()
	r, _, _ := judgeRun(t, nil, []string{"--time", "5"}, "forkburn", "0.3")
	if r.Status != "exited" || r.CPUTime < 0.58 || r.CPUTime > 0.7 {
		t.Errorf("two children burning 0.3 s each: %+v, want cpuTime ≈ 0.6", r)
	}
	if r.processes() != 3 {
		t.Errorf("processes %d, want 3: the helper and its two children", r.processes())
	}
}

// TestJudgeWallTime: a sleeping program is killed at the wall limit, within
// 50 ms after it; the limit can come from the bundle's annotation.
func TestJudgeWallTime(t *testing.T) {
	t.Parallel()
	mutate := func(s *specs.Spec) {
		s.Process.Args = []string{"testinit", "sleep", "10"}
		s.Annotations = map[string]string{"dev.tabox.wall-time-limit": "300ms"}
	}
	bundle := newBundle(t, mutate)
	report := filepath.Join(t.TempDir(), "report.json")
	_, _, code := runContainer(t, bundle, "--report", report)
	var r judgeReport
	b, _ := os.ReadFile(report)
	json.Unmarshal(b, &r)
	if code != 137 || r.Status != "killed" || r.Reason != "wall-time-limit" {
		t.Errorf("sleeper past its wall limit: exit %d, %s", code, b)
	}
	if r.WallTime < 0.3 || r.WallTime > 0.35 {
		t.Errorf("wallTime %.3f, want within 50 ms after 0.3", r.WallTime)
	}
}

// TestJudgeMemory: the peak of a program touching 64 MiB is within 2 MiB of
// it, and one past a 32 MiB limit is reported as memory-limit.
func TestJudgeMemory(t *testing.T) {
	t.Parallel()
	r, _, _ := judgeRun(t, nil, nil, "hog", "64")
	if d := int64(r.PeakMemory) - 64<<20; r.Status != "exited" || d < -2<<20 || d > 2<<20 {
		t.Errorf("64 MiB hog: peakMemory %d (%.1f MiB), %+v", r.PeakMemory, float64(r.PeakMemory)/(1<<20), r)
	}
	limit := int64(32 << 20)
	r, meta, code := judgeRun(t, func(s *specs.Spec) {
		s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}
	}, nil, "hog", "64")
	if code != 137 || r.Reason != "memory-limit" || r.Status != "signaled" {
		t.Errorf("hog past a 32 MiB limit: exit %d, %+v", code, r)
	}
	if !strings.Contains(meta, "cg-oom-killed:1") || !strings.Contains(meta, "status:SG") {
		t.Errorf("meta of an OOM kill:\n%s", meta)
	}
}

// TestJudgeBadLimit: a limit that does not parse is a one-line error.
func TestJudgeBadLimit(t *testing.T) {
	t.Parallel()
	bundle := newBundle(t, withArgs("testinit", "exit", "0"))
	id := newID(t)
	_, stderr, code := tabox(t, "run", "--wall-time", "soon", "--bundle", bundle, id)
	assertOneLineError(t, stderr, code, "--wall-time")
	assertNoLeftovers(t, rootDir(t), id)
	bad := newBundle(t, func(s *specs.Spec) {
		s.Annotations = map[string]string{"dev.tabox.cpu-time-limit": "-1s"}
	})
	id = newID(t)
	_, stderr, code = tabox(t, "run", "--bundle", bad, id)
	assertOneLineError(t, stderr, code, "dev.tabox.cpu-time-limit")
	assertNoLeftovers(t, rootDir(t), id)
}
