// Package cri proves tabox on the Kubernetes node path: a private
// containerd whose CRI plugin has a runtime handler "tabox"
// (io.containerd.runc.v2 with BinaryName = tabox), driven by crictl the way
// the kubelet drives it. Pods get their own network namespaces from the CNI
// bridge plugin; containerd runs in a network namespace the test makes, so
// the bridge, the veths and the CRI streaming server never touch the host's
// network.
//
// The tools come from Debian, and crictl from `go install`: run
// tests/cri/deps.sh first (as root).
//
//	sudo bash tests/cri/deps.sh
//	go test -count=1 -v ./tests/cri/
//	TABOX_TEST_RUNTIME=/usr/sbin/runc go test -count=1 -v ./tests/cri/   # the same against runc
//
// TABOX_CRICTL=<path> uses that crictl instead of the one deps.sh built.
package cri

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tabox/tabox/tests/internal/testenv"
)

const (
	// crictlVersion is the crictl the tests are written against; deps.sh
	// installs it in crictlCache.
	crictlVersion = "v1.37.0"
	crictlCache   = "/var/cache/tabox-tests/crictl-" + crictlVersion

	// handler is the CRI runtime handler under test (RuntimeClass.handler).
	handler = "tabox"

	pauseImage   = "tabox.test/pause:1"
	busyboxImage = "tabox.test/busybox:1"
)

var (
	// runtimeBin is the runtime under test: a private copy of the built
	// tabox, or $TABOX_TEST_RUNTIME.
	runtimeBin  string
	runtimeName string
	crictlBin   string
	workDir     string
	repoRoot    string
	runID       string
	// archives are the OCI image archives to import, by image name.
	archives = map[string]string{}
	setupErr error
)

// applets are linked into the busybox image's /bin.
var applets = []string{
	"sh", "echo", "cat", "id", "sleep", "ls", "grep", "tty", "stty", "ps",
	"true", "false", "env", "touch", "head", "wc", "kill", "hostname", "test",
	"[", "printf", "readlink", "mount", "ip", "ping", "stat", "tail",
}

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "cri: these tests need root (they run containerd)")
		return 1
	}
	// PID 1 of this machine does not reap orphans, and containerd's shims
	// daemonize: become their subreaper and reap them.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "cri: PR_SET_CHILD_SUBREAPER: %v\n", err)
		return 1
	}
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Dir(filepath.Dir(filepath.Dir(file)))
	var err error
	// A short path: containerd's unix sockets live under it (108-byte limit).
	if workDir, err = os.MkdirTemp("/tmp", "cri-"); err != nil {
		fmt.Fprintf(os.Stderr, "cri: %v\n", err)
		return 1
	}
	defer os.RemoveAll(workDir)
	if err := os.Chmod(workDir, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "cri: %v\n", err)
		return 1
	}
	b := make([]byte, 3)
	rand.Read(b)
	runID = hex.EncodeToString(b)
	if setupErr = setup(); setupErr != nil {
		fmt.Fprintf(os.Stderr, "cri: setup: %v\n", setupErr)
	}
	// After setup: its go builds are children the reaper does not know.
	stopReaper := startReaper()
	defer stopReaper()
	return m.Run()
}

func setup() error {
	binDir := filepath.Join(workDir, "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return err
	}
	if p := os.Getenv("TABOX_TEST_RUNTIME"); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			return err
		}
		runtimeBin, runtimeName = abs, filepath.Base(abs)
	} else {
		// A private build: others rebuild ./tabox at any time.
		runtimeBin, runtimeName = filepath.Join(binDir, "tabox"), "tabox"
		if err := testenv.BuildTabox(repoRoot, runtimeBin); err != nil {
			return err
		}
	}
	crictlBin = os.Getenv("TABOX_CRICTL")
	if crictlBin == "" {
		crictlBin = filepath.Join(crictlCache, "crictl")
	}
	if _, err := os.Stat(crictlBin); err != nil {
		return fmt.Errorf("crictl %s is not installed (run tests/cri/deps.sh as root): %w", crictlVersion, err)
	}
	for _, p := range []string{"containerd", "ctr", "containerd-shim-runc-v2", "nsenter", "script", "ip", "/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/usr/lib/cni/loopback"} {
		if _, err := exec.LookPath(p); err != nil {
			return fmt.Errorf("%s is not installed (run tests/cri/deps.sh as root): %w", p, err)
		}
	}
	return buildImages(binDir)
}

// buildImages writes the pause image (a static Go program that waits for
// signals) and the busybox image, as OCI archives.
func buildImages(binDir string) error {
	pauseRoot := filepath.Join(workDir, "pause-rootfs")
	if err := os.MkdirAll(pauseRoot, 0o755); err != nil {
		return err
	}
	if err := testenv.GoBuild(repoRoot, []string{"CGO_ENABLED=0"}, "-trimpath", "-ldflags=-s -w",
		"-o", filepath.Join(pauseRoot, "pause"), "./tests/cri/pause"); err != nil {
		return err
	}
	pause := testenv.Image{
		Name:   pauseImage,
		Rootfs: pauseRoot,
		// As Kubernetes' pause image: a numeric user without /etc/passwd.
		Config: map[string]any{"Entrypoint": []string{"/pause"}, "User": "65535:65535"},
	}
	archives[pauseImage] = filepath.Join(workDir, "pause.tar")
	if err := pause.WriteArchive(archives[pauseImage]); err != nil {
		return err
	}

	bbRoot := filepath.Join(workDir, "busybox-rootfs")
	err := testenv.Rootfs{
		Applets: applets,
		Dirs:    []string{"root", "run"},
		Files: map[string]string{
			"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
			"etc/group":  "root:x:0:\n",
		},
	}.Make(bbRoot)
	if err != nil {
		return err
	}
	bb := testenv.Image{
		Name:   busyboxImage,
		Rootfs: bbRoot,
		Config: map[string]any{"Env": []string{"PATH=/bin"}, "Cmd": []string{"sh"}},
	}
	archives[busyboxImage] = filepath.Join(workDir, "busybox.tar")
	return bb.WriteArchive(archives[busyboxImage])
}

// ---- network namespace -------------------------------------------------------

// newNetns makes a network namespace, bound at path, with its loopback up.
func newNetns(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	f.Close()
	errc := make(chan error, 1)
	go func() {
		// The thread is left locked: it ends with the goroutine, and takes
		// the namespace it entered with it.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare CLONE_NEWNET: %w", err)
			return
		}
		self := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		if err := unix.Mount(self, path, "", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("bind %s to %s: %w", self, path, err)
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		os.Remove(path)
		return err
	}
	if r := run(cmdOpts{}, "nsenter", "--net="+path, "ip", "link", "set", "lo", "up"); r.Code != 0 {
		removeNetns(path)
		return fmt.Errorf("ip link set lo up: %v", r)
	}
	return nil
}

func removeNetns(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("unmount %s: %w", path, err)
	}
	return os.Remove(path)
}

// ---- processes ---------------------------------------------------------------

// The process helpers are testenv's (shared with tests/tooling).
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

// cgroupDirs lists the directories under rel, rel included, in every
// cgroup hierarchy, deepest first.
func cgroupDirs(rel string) []string {
	var out []string
	ents, _ := os.ReadDir("/sys/fs/cgroup")
	for _, e := range ents {
		top := filepath.Join("/sys/fs/cgroup", e.Name(), rel)
		var dirs []string
		filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			out = append(out, dirs[i])
		}
	}
	return out
}

// makeCgroup makes the cgroup rel in every v1 hierarchy, as the kubelet's
// cgroupfs driver makes a pod's, and returns the directories it made,
// deepest first. A new cpuset cgroup gets its parent's CPUs and memory
// nodes, or no process could join it or a child.
func makeCgroup(rel string) ([]string, error) {
	var made []string
	ents, err := os.ReadDir("/sys/fs/cgroup")
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		top := filepath.Join("/sys/fs/cgroup", e.Name())
		var fs unix.Statfs_t
		if !e.IsDir() || unix.Statfs(top, &fs) != nil || fs.Type != unix.CGROUP_SUPER_MAGIC {
			continue
		}
		dir := top
		for _, part := range strings.Split(strings.Trim(rel, "/"), "/") {
			parent := dir
			dir = filepath.Join(dir, part)
			if err := os.Mkdir(dir, 0o755); errors.Is(err, os.ErrExist) {
				continue
			} else if err != nil {
				return made, err
			}
			made = append([]string{dir}, made...)
			if e.Name() != "cpuset" {
				continue
			}
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				v, err := os.ReadFile(filepath.Join(parent, f))
				if err == nil {
					err = os.WriteFile(filepath.Join(dir, f), v, 0)
				}
				if err != nil {
					return made, fmt.Errorf("%s of %s: %w", f, dir, err)
				}
			}
		}
	}
	return made, nil
}
