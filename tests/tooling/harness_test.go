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
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

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

// The process helpers are testenv's (shared with tests/cri), as the
// reaper that keeps the shims and conmons reparented to us from piling up.
type (
	result  = testenv.Result
	cmdOpts = testenv.CmdOpts
)

var (
	run           = testenv.Run
	startBg       = testenv.StartBg
	inPty         = testenv.InPty
	poll          = testenv.Poll
	procsMatching = testenv.ProcsMatching
	mountsUnder   = testenv.MountsUnder
	startReaper   = testenv.StartReaper
	lastLines     = testenv.LastLines
)

// ---- leftovers ---------------------------------------------------------------

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
