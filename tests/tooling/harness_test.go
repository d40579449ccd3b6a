// Package tooling proves tabox is a drop-in runtime under real container
// tooling: containerd (ctr + io.containerd.runc.v2 shim), podman (conmon)
// and the Docker engine (dockerd on a private containerd).
// Every scenario runs against tabox and, for comparison, Debian's runc
// (/usr/sbin/runc); TOOLING_RUNTIME=tabox|runc restricts the run to one.
//
// The tools come from Debian: run tests/tooling/deps.sh first (as root). A
// test skips, naming the missing program, only when a tool is absent.
//
//	sudo bash tests/tooling/deps.sh
//	cd tests/tooling && go test -count=1 -v .
//
// TOOLING_TABOX=<path> uses that tabox binary instead of building one from
// the repository (the binary is copied to a private temp dir either way).
package tooling

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tabox/tabox/tests/internal/testenv"
)

// rt is one runtime under test.
type rt struct {
	name string // "tabox" or "runc"
	path string
}

var (
	workDir  string
	repoRoot string
	runtimes []rt
	taboxBin string
	// setupErr, when set, fails every test (as opposed to missing tools, which skip).
	setupErr error
	// rootfsDir is the busybox rootfs (also the image's single layer).
	rootfsDir string
	layerTar  string
	// ociArchive is the OCI image layout, as a tar, of that rootfs.
	ociArchive string
	runID      string
)

// applets are linked into the image's /bin.
var applets = []string{
	"sh", "echo", "cat", "id", "sleep", "pwd", "ls", "grep", "tty", "stty", "ps",
	"true", "false", "env", "touch", "mkdir", "rm", "head", "wc", "trap", "kill",
	"whoami", "hostname", "test", "[", "printf", "readlink", "mount",
}

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "tooling: these tests need root (they run containerd and podman)")
		return 1
	}
	// PID 1 of this machine does not reap orphans, and containerd's shims and
	// podman's conmon daemonize: become their subreaper and reap them.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "tooling: PR_SET_CHILD_SUBREAPER: %v\n", err)
		return 1
	}
	stopReaper := startReaper()
	defer stopReaper()

	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Dir(filepath.Dir(filepath.Dir(file)))
	var err error
	// Short path: containerd's unix socket lives under it (108-byte limit).
	workDir, err = os.MkdirTemp("/tmp", "tl-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "tooling: %v\n", err)
		return 1
	}
	defer os.RemoveAll(workDir)
	os.Chmod(workDir, 0o755)
	b := make([]byte, 3)
	rand.Read(b)
	runID = hex.EncodeToString(b)
	setupErr = setup()
	if setupErr != nil {
		fmt.Fprintf(os.Stderr, "tooling: setup: %v\n", setupErr)
	}
	return m.Run()
}

func setup() error {
	// The tabox binary: a private copy (others rebuild ./tabox at any time).
	taboxBin = filepath.Join(workDir, "bin", "tabox")
	os.MkdirAll(filepath.Dir(taboxBin), 0o755)
	if src := os.Getenv("TOOLING_TABOX"); src != "" {
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := os.WriteFile(taboxBin, data, 0o755); err != nil {
			return err
		}
	} else {
		if err := testenv.BuildTabox(repoRoot, taboxBin); err != nil {
			return err
		}
	}
	want := os.Getenv("TOOLING_RUNTIME")
	if want == "" || want == "tabox" {
		runtimes = append(runtimes, rt{"tabox", taboxBin})
	}
	if want == "" || want == "runc" {
		if _, err := os.Stat("/usr/sbin/runc"); err == nil {
			runtimes = append(runtimes, rt{"runc", "/usr/sbin/runc"})
		} else if want == "runc" {
			return fmt.Errorf("TOOLING_RUNTIME=runc but /usr/sbin/runc is missing (tests/tooling/deps.sh installs it)")
		}
	}
	if len(runtimes) == 0 {
		return fmt.Errorf("TOOLING_RUNTIME=%q: want tabox or runc", want)
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		return nil // the tests skip on it
	}
	return buildImage()
}

// buildImage writes the busybox rootfs, its layer tar and an OCI image
// layout archive named docker.io/library/tooling:latest.
func buildImage() error {
	rootfsDir = filepath.Join(workDir, "rootfs")
	for _, d := range []string{"bin", "etc", "proc", "sys", "dev", "tmp", "root", "home/user", "data"} {
		if err := os.MkdirAll(filepath.Join(rootfsDir, d), 0o755); err != nil {
			return err
		}
	}
	os.Chmod(filepath.Join(rootfsDir, "tmp"), 0o1777)
	os.Chown(filepath.Join(rootfsDir, "home/user"), 1000, 1000)
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(rootfsDir, "bin/busybox"), bb, 0o755); err != nil {
		return err
	}
	for _, a := range applets {
		if err := os.Symlink("busybox", filepath.Join(rootfsDir, "bin", a)); err != nil {
			return err
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n",
		"etc/group":  "root:x:0:\nuser:x:1000:\n",
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(rootfsDir, n), []byte(c), 0o644); err != nil {
			return err
		}
	}
	im := testenv.Image{
		Name:   "docker.io/library/tooling:latest",
		Rootfs: rootfsDir,
		Owners: map[string][2]int{"home/user": {1000, 1000}},
		Config: map[string]any{"Env": []string{"PATH=/bin"}, "Cmd": []string{"sh"}},
	}
	layerTar = filepath.Join(workDir, "layer.tar")
	if err := im.WriteLayer(layerTar); err != nil {
		return err
	}
	ociArchive = filepath.Join(workDir, "image-oci.tar")
	return im.WriteArchive(ociArchive)
}

// need skips t, naming what is missing, when a program is not installed.
func need(t *testing.T, progs ...string) {
	t.Helper()
	if setupErr != nil {
		t.Fatalf("setup: %v", setupErr)
	}
	for _, p := range progs {
		if _, err := exec.LookPath(p); err != nil {
			if _, err2 := os.Stat(p); err2 != nil {
				t.Skipf("%s is not installed (run tests/tooling/deps.sh as root): %v", p, err)
			}
		}
	}
	if rootfsDir == "" {
		t.Skip("/bin/busybox is not installed (busybox-static; run tests/tooling/deps.sh as root)")
	}
}

// ---- process handling ------------------------------------------------------

var (
	procMu  sync.Mutex
	tracked = map[int]bool{}
)

// startReaper reaps zombie children of this process that no exec.Cmd of
// ours waits for: the shims and conmons reparented to us.
func startReaper() func() {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			reapOrphans()
		}
	}()
	return func() { close(stop); <-done; reapOrphans() }
}

func reapOrphans() {
	procMu.Lock()
	defer procMu.Unlock()
	self := os.Getpid()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || tracked[pid] {
			continue
		}
		ppid, state := procStat(pid)
		if ppid == self && state == "Z" {
			var ws unix.WaitStatus
			unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		}
	}
}

func procStat(pid int) (ppid int, state string) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1, ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return -1, ""
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return -1, ""
	}
	ppid, _ = strconv.Atoi(f[1])
	return ppid, f[0]
}

// result is what a command printed and how it ended.
type result struct {
	stdout, stderr string
	code           int
	err            error
}

func (r result) String() string {
	return fmt.Sprintf("exit %d (err %v)\nstdout: %q\nstderr: %q", r.code, r.err, r.stdout, r.stderr)
}

// cmdOpts tweak one command.
type cmdOpts struct {
	env     []string
	stdin   io.Reader
	timeout time.Duration
	dir     string
}

// run runs name args with the reaper held off its pid until it is waited for.
func run(o cmdOpts, name string, args ...string) result {
	if o.timeout == 0 {
		o.timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), o.env...)
	cmd.Dir = o.dir
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	if o.stdin != nil {
		cmd.Stdin = o.stdin
	}
	cmd.WaitDelay = 5 * time.Second
	procMu.Lock()
	err := cmd.Start()
	if err == nil {
		tracked[cmd.Process.Pid] = true
	}
	procMu.Unlock()
	if err != nil {
		return result{code: -1, err: err}
	}
	err = cmd.Wait()
	procMu.Lock()
	delete(tracked, cmd.Process.Pid)
	procMu.Unlock()
	r := result{stdout: so.String(), stderr: se.String(), err: err, code: cmd.ProcessState.ExitCode()}
	if ctx.Err() != nil {
		r.err = fmt.Errorf("timed out after %v: %v", o.timeout, err)
	}
	return r
}

// startBg starts a long-lived command (a daemon); stop kills and waits it.
func startBg(o cmdOpts, logFile string, name string, args ...string) (stop func(sig unix.Signal) error, err error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), o.env...)
	cmd.Dir = o.dir
	lf, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = lf, lf
	procMu.Lock()
	err = cmd.Start()
	if err == nil {
		tracked[cmd.Process.Pid] = true
	}
	procMu.Unlock()
	if err != nil {
		lf.Close()
		return nil, err
	}
	waited := make(chan error, 1)
	go func() {
		waited <- cmd.Wait()
		procMu.Lock()
		delete(tracked, cmd.Process.Pid)
		procMu.Unlock()
		lf.Close()
	}()
	return func(sig unix.Signal) error {
		cmd.Process.Signal(sig)
		select {
		case err := <-waited:
			return err
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			return fmt.Errorf("%s did not exit on %v: killed", name, sig)
		}
	}, nil
}

// inPty runs argv under script(1) so that it has a terminal of its own.
func inPty(o cmdOpts, argv ...string) result {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	// stty makes the pty 24x80 and raw-free; script's own terminal is none.
	cmdline := "stty rows 24 cols 80 2>/dev/null; exec " + strings.Join(q, " ")
	if o.stdin == nil {
		// Not a pipe: with a pipe at EOF, script(1) feeds the session an EOF
		// and the container's terminal calls fail (stty: ECHILD), runc alike.
		if f, err := os.Open("/dev/null"); err == nil {
			defer f.Close()
			o.stdin = f
		}
	}
	return run(o, "script", "-qefc", cmdline, "/dev/null")
}

// poll calls f until it returns true or timeout passes.
func poll(timeout time.Duration, f func() bool) bool {
	end := time.Now().Add(timeout)
	for time.Now().Before(end) {
		if f() {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return f()
}

// ---- leftovers ---------------------------------------------------------------

// procsMatching lists live (non-zombie) processes whose command line or
// cgroup mentions one of needles.
func procsMatching(needles ...string) []string {
	var out []string
	self := os.Getpid()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		if _, st := procStat(pid); st == "Z" || st == "" {
			continue
		}
		cl, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		hay := strings.ReplaceAll(string(cl), "\x00", " ") + "\n" + string(cg)
		for _, n := range needles {
			if n != "" && strings.Contains(hay, n) {
				out = append(out, fmt.Sprintf("pid %d: %s", pid, strings.ReplaceAll(string(cl), "\x00", " ")))
				break
			}
		}
	}
	return out
}

// mountsUnder lists mount points under dir.
func mountsUnder(dir string) []string {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && strings.HasPrefix(f[4], dir) {
			out = append(out, f[4])
		}
	}
	return out
}

// cgroupDirs lists the cgroup directories named rel in every hierarchy.
func cgroupDirs(rel string) []string {
	var out []string
	ents, _ := os.ReadDir("/sys/fs/cgroup")
	for _, e := range ents {
		p := filepath.Join("/sys/fs/cgroup", e.Name(), rel)
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			out = append(out, p)
		}
	}
	return out
}

// removeCgroupTree removes the (empty) cgroup directories rel, deepest
// first, in every hierarchy; it returns those it could not remove.
func removeCgroupTree(rel string) []string {
	var left []string
	for _, top := range cgroupDirs(rel) {
		var dirs []string
		filepath.Walk(top, func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := unix.Rmdir(dirs[i]); err != nil && err != unix.ENOENT {
				left = append(left, fmt.Sprintf("%s: %v", dirs[i], err))
			}
		}
	}
	return left
}

// lastLogLines returns the last n lines of a file, for failure messages.
func lastLogLines(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	l := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// grepFiles returns the lines of every file under dir (recursively) whose
// name ends with suffix and that contain substr.
func grepFiles(dir, suffix, substr string) string {
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() || !strings.HasSuffix(p, suffix) {
			return nil
		}
		b, _ := os.ReadFile(p)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, substr) {
				out = append(out, p+": "+l)
			}
		}
		return nil
	})
	return strings.Join(out, "\n")
}
