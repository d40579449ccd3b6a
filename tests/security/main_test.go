// Package security is the security suite of tabox: one test per known
// container escape, each set up for real against the runtime under test
// (tabox, built from this tree, or $TABOX_TEST_RUNTIME, e.g. /usr/sbin/runc
// for runc-compare.sh). Every test asserts that the attack fails and that
// the host is untouched: the runtime binary's hash, the host's mount table,
// /etc, core_pattern, and the host directories the attack aims at.
//
// The containers run tests/security/attacker, a static helper that tries
// the steps of each attack and reports them; it never writes anything that
// would damage the host (a write that proves an escape writes back what is
// already there).
//
// The tests run one at a time: each compares host state before and after.
// The last line of the output is "security: N passed, M failed".
package security

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
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
	// workDir holds the binaries and the base rootfs of this run.
	workDir string
	// baseRootfs is the rootfs every bundle is copied from.
	baseRootfs string
	// repoRoot is the module root.
	repoRoot string
)

// results counts the top-level tests, as each one's cleanup records it.
var results struct {
	sync.Mutex
	passed, failed, skipped int
}

// track registers t in the tally. Called first in every test, so that its
// cleanup runs last and sees the failures of the other cleanups.
func track(t *testing.T) {
	t.Cleanup(func() {
		results.Lock()
		defer results.Unlock()
		switch {
		case t.Failed():
			results.failed++
		case t.Skipped():
			results.skipped++
		default:
			results.passed++
		}
	})
}

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Println("security: the security suite needs root (it creates containers)")
		fmt.Println("security: 0 passed, 1 failed")
		return 1
	}
	// A container's init outlives the create that made it: as subreaper,
	// the suite reaps it (by pid only, see reap).
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Printf("security: PR_SET_CHILD_SUBREAPER: %v\nsecurity: 0 passed, 1 failed\n", err)
		return 1
	}
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Dir(filepath.Dir(filepath.Dir(file)))
	var err error
	if workDir, err = os.MkdirTemp("", "tabox-security-"); err == nil {
		err = os.Chmod(workDir, 0o755)
	}
	if err == nil {
		err = setup()
	}
	if err != nil {
		fmt.Printf("security: setup: %v\nsecurity: 0 passed, 1 failed\n", err)
		os.RemoveAll(workDir)
		return 1
	}
	fmt.Printf("security: runtime under test: %s\n", runtimeBin)
	code := m.Run()
	os.RemoveAll(workDir)
	if results.skipped > 0 {
		fmt.Printf("security: %d skipped\n", results.skipped)
	}
	fmt.Printf("security: %d passed, %d failed\n", results.passed, results.failed)
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
			return err
		}
	}
	runtimeName = filepath.Base(runtimeBin)
	attacker := filepath.Join(workDir, "attacker")
	if err := goBuild([]string{"CGO_ENABLED=0"}, "-o", attacker, "./tests/security/attacker"); err != nil {
		return err
	}
	baseRootfs = filepath.Join(workDir, "rootfs")
	return makeRootfs(baseRootfs, attacker)
}

func goBuild(env []string, args ...string) error {
	return testenv.GoBuild(repoRoot, env, args...)
}

// makeRootfs lays out a minimal rootfs: Debian's busybox-static with a few
// applets, the attacker, the usual mount points and an /etc.
func makeRootfs(dir, attacker string) error {
	return testenv.Rootfs{
		Applets: []string{"sh", "true", "sleep", "cat", "ls"},
		Bins:    map[string]string{"attacker": attacker},
		Dirs:    []string{"root", "mnt"},
		Files:   map[string]string{"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n"},
	}.Make(dir)
}
