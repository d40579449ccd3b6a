// Package tests holds tabox's integration tests. They drive the built tabox
// binary (or $TABOX_TEST_RUNTIME) exactly as a user would, against bundles
// made of busybox and the tests/testinit helper. See README.md.
package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tabox/tabox/tests/internal/testenv"
)

var (
	// runtimeBin is the absolute path of the runtime under test.
	runtimeBin string
	// runtimeName is its base name ("tabox", or "runc" under an override).
	runtimeName string
	// overridden is true when TABOX_TEST_RUNTIME selects another runtime.
	overridden bool
	// baseRootfs is the rootfs every bundle is copied from.
	baseRootfs string
	// workDir holds the binaries and the base rootfs of this run.
	workDir string
	// repoRoot is the module root (the parent of tests/).
	repoRoot string
)

// busyboxApplets are linked into the rootfs's /bin.
var busyboxApplets = []string{
	"sh", "ls", "cat", "echo", "sleep", "true", "false", "id", "hostname",
	"mount", "umount", "ps", "grep", "stat", "readlink", "env", "pwd", "kill",
	"mkdir", "rm", "touch", "ln", "chmod", "head", "tail", "wc", "test", "[",
	"printf", "ip", "nproc", "whoami", "umask", "seq", "tr", "cut", "date",
}

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "tests: the integration tests need root (they create containers)")
		return 1
	}
	// PID 1 of this machine does not reap orphans: a container's init, once
	// the runtime that created it exits, is reparented to us instead, and
	// the harness reaps it by pid (see reapPid).
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "tests: PR_SET_CHILD_SUBREAPER: %v\n", err)
		return 1
	}
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Dir(filepath.Dir(file))

	var err error
	workDir, err = os.MkdirTemp("", "tabox-tests-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "tests: %v\n", err)
		return 1
	}
	defer os.RemoveAll(workDir)
	if err := os.Chmod(workDir, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "tests: %v\n", err)
		return 1
	}
	if err := setup(); err != nil {
		fmt.Fprintf(os.Stderr, "tests: setup: %v\n", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "tests: runtime under test: %s\n", runtimeBin)
	code := m.Run()
	cleanupNetns()
	return code
}

func setup() error {
	if rt := os.Getenv("TABOX_TEST_RUNTIME"); rt != "" {
		p, err := exec.LookPath(rt)
		if err != nil {
			return fmt.Errorf("TABOX_TEST_RUNTIME=%s: %w", rt, err)
		}
		if runtimeBin, err = filepath.Abs(p); err != nil {
			return err
		}
		overridden = true
	} else {
		runtimeBin = filepath.Join(workDir, "tabox")
		if err := testenv.BuildTabox(repoRoot, runtimeBin); err != nil {
			return fmt.Errorf("build tabox (set TABOX_TEST_RUNTIME to test another runtime): %w", err)
		}
	}
	runtimeName = filepath.Base(runtimeBin)

	testinit := filepath.Join(workDir, "testinit")
	if err := goBuild([]string{"CGO_ENABLED=0"}, "-o", testinit, "./tests/testinit"); err != nil {
		return fmt.Errorf("build tests/testinit: %w", err)
	}
	baseRootfs = filepath.Join(workDir, "rootfs")
	return makeBaseRootfs(baseRootfs, testinit)
}

func goBuild(env []string, args ...string) error {
	return testenv.GoBuild(repoRoot, env, args...)
}

// makeBaseRootfs lays out a minimal rootfs: busybox and its applets,
// testinit, the usual empty mount points and an /etc with users 0 and 1000.
func makeBaseRootfs(dir, testinit string) error {
	err := testenv.Rootfs{
		Applets: busyboxApplets,
		Bins:    map[string]string{"testinit": testinit},
		Dirs:    []string{"root", "home/user", "mnt", "var/run"},
		Files: map[string]string{
			"etc/passwd":   "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
			"etc/group":    "root:x:0:\ntty:x:5:\nusers:x:100:\nuser:x:1000:\nnogroup:x:65534:\n",
			"etc/hostname": "rootfs\n",
		},
	}.Make(dir)
	if err != nil {
		return err
	}
	return os.Chown(filepath.Join(dir, "home/user"), 1000, 1000)
}

func copyFile(src, dst string, mode os.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, mode)
}

// copyRootfs makes a private copy of the base rootfs at dst: directories,
// symlinks and small files are copied, the two big binaries (never written
// by any test) are hard-linked.
func copyRootfs(dst string) error {
	return filepath.Walk(baseRootfs, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(baseRootfs, path)
		target := filepath.Join(dst, rel)
		st := fi.Sys().(*syscall.Stat_t)
		switch {
		case fi.IsDir():
			if err := os.Mkdir(target, fi.Mode().Perm()); err != nil && !os.IsExist(err) {
				return err
			}
			if err := os.Chmod(target, fi.Mode()&(os.ModePerm|os.ModeSticky)); err != nil {
				return err
			}
		case fi.Mode()&os.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return err
			}
		case fi.Size() > 64<<10:
			if err := os.Link(path, target); err != nil {
				return err
			}
			return nil
		default:
			if err := copyFile(path, target, fi.Mode().Perm()); err != nil {
				return err
			}
		}
		return os.Lchown(target, int(st.Uid), int(st.Gid))
	})
}
