package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestKillSignals: kill takes signal names with and without SIG and
// numbers, and defaults to SIGTERM; run reports the container's fate.
func TestKillSignals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		signal string // "" for the default
		code   int
		output string // what testinit prints
	}{
		{"default", "", 143, "ready\nsignal TERM"},
		{"TERM", "TERM", 143, "ready\nsignal TERM"},
		{"15", "15", 143, "ready\nsignal TERM"},
		{"KILL", "KILL", 137, "ready"},
		{"SIGKILL", "SIGKILL", 137, "ready"},
		{"9", "9", 137, "ready"},
		{"SIGUSR1", "SIGUSR1", 138, "ready\nsignal USR1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bundle := sleepBundle(t)
			id := newID(t)
			p := startTabox(t, cmdOpts{}, "run", "--bundle", bundle, id)
			waitForStatus(t, id, "running")
			poll(t, "testinit's signal handlers", func() bool { o, _ := p.output(); return strings.Contains(o, "ready") })
			args := []string{"kill", id}
			if tc.signal != "" {
				args = append(args, tc.signal)
			}
			mustTabox(t, args...)
			stdout, stderr, code := p.wait()
			if code != tc.code {
				t.Errorf("run: exit %d, want %d (stderr: %s)", code, tc.code, stderr)
			}
			if strings.TrimSpace(stdout) != tc.output {
				t.Errorf("container printed %q, want %q", stdout, tc.output)
			}
			assertNoLeftovers(t, rootDir(t), id)
		})
	}
}

// TestKillAll: kill --all signals every process of the container, not only
// its init (no PID namespace here, so killing init alone would leave the
// others).
func TestKillAll(t *testing.T) {
	t.Parallel()
	bundle := newBundle(t, func(s *specs.Spec) {
		removeNamespace(s, specs.PIDNamespace)
		s.Process.Args = []string{"sh", "-c", "testinit sleep 120 & testinit sleep 120 & exec testinit sleep 120"}
	})
	id, _ := createContainer(t, bundle)
	mustTabox(t, "start", id)
	var procs []int
	poll(t, "the container's 3 processes", func() bool {
		procs = findContainerProcs(rootDir(t), id, bundle)
		return len(procs) == 3
	})
	for _, pid := range procs {
		getEnv(t).notePid(id, pid)
	}
	mustTabox(t, "kill", "--all", id, "KILL")
	waitForStatus(t, id, "stopped")
	if left := reapPids(procs, pollTimeout); len(left) > 0 {
		for _, pid := range left {
			t.Errorf("process %d survived kill --all (%s)", pid, procDesc(pid))
		}
		return // the cleanup kills them
	}
	deleteContainer(t, id, false)
}

// TestList: list shows the containers of the root as a table, as JSON, or
// only their IDs.
func TestList(t *testing.T) {
	t.Parallel()
	if out := mustTabox(t, "list", "--quiet"); strings.TrimSpace(out) != "" {
		t.Errorf("list --quiet of an empty root: %q", out)
	}
	bundle1, bundle2 := sleepBundle(t), sleepBundle(t)
	id1, _ := createContainer(t, bundle1)
	id2 := newID(t)
	mustTabox(t, "run", "--detach", "--bundle", bundle2, id2)
	want := map[string]struct{ status, bundle string }{id1: {"created", bundle1}, id2: {"running", bundle2}}
	pids := map[string]int{id1: state(t, id1).Pid, id2: state(t, id2).Pid}

	t.Run("table", func(t *testing.T) {
		out := mustTabox(t, "list")
		l := lines(out)
		if len(l) != 3 {
			t.Fatalf("list: %d lines, want a header and 2 rows:\n%s", len(l), out)
		}
		header := strings.Fields(l[0])
		if len(header) < 4 || header[0] != "ID" || header[1] != "PID" || header[2] != "STATUS" || header[3] != "BUNDLE" {
			t.Errorf("list header %q, want ID PID STATUS BUNDLE ...", l[0])
		}
		for _, row := range l[1:] {
			f := strings.Fields(row)
			w, ok := want[f[0]]
			if !ok || len(f) < 4 {
				t.Errorf("unexpected row %q", row)
				continue
			}
			if f[1] != strconv.Itoa(pids[f[0]]) || f[2] != w.status || f[3] != w.bundle {
				t.Errorf("row %q, want pid %d status %s bundle %s", row, pids[f[0]], w.status, w.bundle)
			}
		}
	})
	t.Run("json", func(t *testing.T) {
		out := mustTabox(t, "list", "--format", "json")
		var list []containerState
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatalf("list --format json: %v\n%s", err, out)
		}
		if len(list) != 2 {
			t.Fatalf("list --format json: %d entries, want 2:\n%s", len(list), out)
		}
		for _, c := range list {
			w, ok := want[c.ID]
			if !ok || c.Status != w.status || c.Bundle != w.bundle || c.Pid != pids[c.ID] {
				t.Errorf("entry %+v, want status %s bundle %s pid %d", c, w.status, w.bundle, pids[c.ID])
			}
		}
	})
	t.Run("quiet", func(t *testing.T) {
		got := lines(mustTabox(t, "list", "--quiet"))
		sort.Strings(got)
		exp := []string{id1, id2}
		sort.Strings(exp)
		if strings.Join(got, " ") != strings.Join(exp, " ") {
			t.Errorf("list --quiet: %q, want %q", got, exp)
		}
	})
	deleteContainer(t, id1, true)
	deleteContainer(t, id2, true)
}

// TestSpec: spec writes a config.json that run accepts once its args are
// set, and refuses to overwrite one.
func TestSpec(t *testing.T) {
	t.Parallel()
	bundle := newBundle(t, nil)
	os.Remove(filepath.Join(bundle, "config.json"))
	mustTabox(t, "spec", "--bundle", bundle)
	spec := readSpec(t, bundle)
	if !strings.HasPrefix(spec.Version, "1.") || spec.Root == nil || spec.Root.Path != "rootfs" || spec.Process == nil {
		t.Fatalf("spec: ociVersion %q root %+v process %v", spec.Version, spec.Root, spec.Process != nil)
	}
	hasNS := map[specs.LinuxNamespaceType]bool{}
	for _, ns := range spec.Linux.Namespaces {
		hasNS[ns.Type] = true
	}
	for _, ns := range []specs.LinuxNamespaceType{specs.PIDNamespace, specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.MountNamespace} {
		if !hasNS[ns] {
			t.Errorf("spec has no %s namespace", ns)
		}
	}
	spec.Process.Args = []string{"testinit", "hostname"}
	spec.Process.Terminal = false
	writeSpec(t, bundle, spec)
	out := mustRun(t, bundle)
	if strings.TrimSpace(out) != spec.Hostname {
		t.Errorf("run of the spec's config: hostname %q, want %q", out, spec.Hostname)
	}

	before, _ := os.ReadFile(filepath.Join(bundle, "config.json"))
	_, stderr, code := tabox(t, "spec", "--bundle", bundle)
	if code == 0 {
		t.Errorf("spec overwrote an existing config.json")
	}
	assertOneLineError(t, stderr, code, "config.json", "exists")
	if after, _ := os.ReadFile(filepath.Join(bundle, "config.json")); string(after) != string(before) {
		t.Errorf("spec changed the existing config.json")
	}

	t.Run("rootless", func(t *testing.T) {
		dir := t.TempDir()
		mustTabox(t, "spec", "--rootless", "--bundle", dir)
		s := readSpec(t, dir)
		user := false
		for _, ns := range s.Linux.Namespaces {
			user = user || ns.Type == specs.UserNamespace
		}
		if !user || len(s.Linux.UIDMappings) == 0 || len(s.Linux.GIDMappings) == 0 {
			t.Errorf("spec --rootless: user namespace %v, uid mappings %v, gid mappings %v", user, s.Linux.UIDMappings, s.Linux.GIDMappings)
		}
	})
}

// TestLogJSON: with --log and --log-format json, the log gets JSON lines
// with level, msg and time, and an error is logged there and printed on
// stderr.
func TestLogJSON(t *testing.T) {
	t.Parallel()
	logFile := filepath.Join(t.TempDir(), "log.json")
	_, stderr, code := tabox(t, "--log", logFile, "--log-format", "json", "state", "no-such-container")
	assertOneLineError(t, stderr, code, "container does not exist")
	data, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatalf("log file: %v", err)
	}
	found := false
	for _, l := range lines(string(data)) {
		var entry map[string]any
		if err := json.Unmarshal([]byte(l), &entry); err != nil {
			t.Errorf("log line is not JSON: %q", l)
			continue
		}
		level, _ := entry["level"].(string)
		msg, _ := entry["msg"].(string)
		ts, _ := entry["time"].(string)
		if level == "" || msg == "" {
			t.Errorf("log line without level or msg: %q", l)
		}
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
			t.Errorf("log line time %q: %v", ts, err)
		}
		if level == "error" && strings.Contains(msg, "container does not exist") {
			found = true
		}
	}
	if !found {
		t.Errorf("no error entry about the missing container in the log:\n%s", data)
	}
}

// TestLogText: --log alone writes text lines, including the error.
func TestLogText(t *testing.T) {
	t.Parallel()
	logFile := filepath.Join(t.TempDir(), "log.txt")
	_, _, code := tabox(t, "--log", logFile, "state", "no-such-container")
	if code == 0 {
		t.Fatalf("state of a missing container succeeded")
	}
	data, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatalf("log file: %v", err)
	}
	if !strings.Contains(string(data), "container does not exist") {
		t.Errorf("log has no error: %q", data)
	}
	if json.Valid([]byte(lines(string(data))[0])) {
		t.Errorf("default log format is JSON, want text: %q", data)
	}
}

// TestVersion: --version prints the version, commit, spec and libseccomp
// lines.
func TestVersion(t *testing.T) {
	t.Parallel()
	out := mustTabox(t, "--version")
	l := lines(out)
	if len(l) == 0 || !strings.HasPrefix(l[0], runtimeName+" version ") || len(l[0]) == len(runtimeName+" version ") {
		t.Fatalf("--version: first line of %q, want %q followed by a version", out, runtimeName+" version ")
	}
	for _, p := range []string{"commit: ", "spec: 1.", "libseccomp: "} {
		found := false
		for _, line := range l[1:] {
			found = found || (strings.HasPrefix(line, p) && len(line) > len(p))
		}
		if !found {
			t.Errorf("--version: no line %q followed by a value in:\n%s", p, out)
		}
	}
}

// TestHelp: --help lists every command, and each command's --help shows
// its usage and its own flags, with exit status 0.
func TestHelp(t *testing.T) {
	t.Parallel()
	taboxOnly(t)
	commands := map[string]string{
		"create": "--bundle", "start": "", "state": "", "kill": "--all", "delete": "--force",
		"run": "--wall-time", "exec": "--preserve-fds", "list": "--format", "ps": "--format",
		"pause": "", "resume": "", "update": "--memory", "events": "--interval", "spec": "--rootless",
		"features": "", "sandbox": "--memory", "report": "",
	}
	out := mustTabox(t, "--help")
	for _, want := range []string{"USAGE:", "COMMANDS:", "--root"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help has no %q:\n%s", want, out)
		}
	}
	for cmd, flag := range commands {
		if !regexp.MustCompile(`(?m)^\s+` + cmd + `\s`).MatchString(out) {
			t.Errorf("--help does not list %s", cmd)
		}
		got := mustTabox(t, cmd, "--help")
		if !strings.Contains(got, runtimeName+" "+cmd+" [") || !strings.Contains(got, flag) {
			t.Errorf("%s --help: want its usage line and %q in:\n%s", cmd, flag, got)
		}
	}
}

// TestConcurrentStart: of two racing starts, exactly one wins, and the
// container runs.
func TestConcurrentStart(t *testing.T) {
	t.Parallel()
	for i := 0; i < 3; i++ {
		id, _ := createContainer(t, sleepBundle(t))
		codes := race(t, 2, "start", id)
		if (codes[0] == 0) == (codes[1] == 0) {
			t.Fatalf("racing starts: exits %v, want exactly one success", codes)
		}
		if st := state(t, id); st.Status != "running" {
			t.Errorf("after racing starts: status %q, want running", st.Status)
		}
		deleteContainer(t, id, true)
	}
}

// TestConcurrentDelete: racing deletes remove the container once; the
// losers say it does not exist.
func TestConcurrentDelete(t *testing.T) {
	t.Parallel()
	for i := 0; i < 3; i++ {
		id := newID(t)
		mustTabox(t, "run", "--keep", "--bundle", newBundle(t, withArgs("testinit", "exit", "0")), id)
		p1 := startTabox(t, cmdOpts{}, "delete", id)
		p2 := startTabox(t, cmdOpts{}, "delete", id)
		ok := 0
		for _, p := range []*proc{p1, p2} {
			_, stderr, code := p.wait()
			if code == 0 {
				ok++
			} else if !strings.Contains(stderr, "does not exist") {
				t.Errorf("losing delete: exit %d: %s", code, stderr)
			}
		}
		if ok == 0 {
			t.Errorf("no delete succeeded")
		}
		assertNoLeftovers(t, rootDir(t), id)
	}
}

// TestConcurrentCreate: of two creates of the same ID, exactly one wins,
// and the winner's container works.
func TestConcurrentCreate(t *testing.T) {
	t.Parallel()
	id := newID(t)
	b1, b2 := sleepBundle(t), sleepBundle(t)
	p1 := startTabox(t, cmdOpts{}, "create", "--bundle", b1, id)
	p2 := startTabox(t, cmdOpts{}, "create", "--bundle", b2, id)
	_, e1, c1 := p1.wait()
	_, e2, c2 := p2.wait()
	if (c1 == 0) == (c2 == 0) {
		t.Fatalf("racing creates: exits %d and %d, want exactly one success (%s / %s)", c1, c2, e1, e2)
	}
	winner := b1
	if c2 == 0 {
		winner = b2
	}
	st := state(t, id)
	if st.Status != "created" || st.Bundle != winner {
		t.Errorf("after racing creates: status %q bundle %q, want created %q", st.Status, st.Bundle, winner)
	}
	mustTabox(t, "start", id)
	waitForStatus(t, id, "running")
	deleteContainer(t, id, true)
	if n := len(findContainerProcs("", "", b1)) + len(findContainerProcs("", "", b2)); n != 0 {
		t.Errorf("%d processes of the losing create left", n)
	}
}

// race runs n identical invocations at once and returns their exit codes;
// an invocation still running after 10s fails the test.
func race(t *testing.T, n int, args ...string) []int {
	t.Helper()
	procs := make([]*proc, n)
	for i := range procs {
		procs[i] = startTabox(t, cmdOpts{timeout: 10 * time.Second}, args...)
	}
	codes := make([]int, n)
	for i, p := range procs {
		_, _, codes[i] = p.wait()
	}
	return codes
}

// TestValidID: IDs made of letters, digits and ._+- are accepted.
func TestValidID(t *testing.T) {
	t.Parallel()
	id := "Ab.c_d-1+" + newID(t)
	mustTabox(t, "create", "--bundle", sleepBundle(t), id)
	if st := state(t, id); st.ID != id {
		t.Errorf("state id %q, want %q", st.ID, id)
	}
	deleteContainer(t, id, true)
}

// TestFlagsAfterID: a command's flags may also follow the container ID.
func TestFlagsAfterID(t *testing.T) {
	t.Parallel()
	id, _ := createContainer(t, newBundle(t, nil))
	if _, stderr, code := tabox(t, "delete", id, "--force"); code != 0 {
		t.Fatalf("delete ID --force: exit %d: %s", code, stderr)
	}
	assertNoLeftovers(t, rootDir(t), id)
}
