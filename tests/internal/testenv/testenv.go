// Package testenv holds what tabox's test suites share: the go command,
// and a minimal rootfs made of Debian's busybox-static.
package testenv

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// GoBuild runs `go build args…` in dir with env added.
func GoBuild(dir string, env []string, args ...string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(goBin, append([]string{"build"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", strings.Join(args, " "), err, out.String())
	}
	return nil
}

// BuildTabox builds tabox at out with scripts/build.sh, as users get it.
func BuildTabox(repoRoot, out string) error {
	cmd := exec.Command("bash", filepath.Join(repoRoot, "scripts", "build.sh"), out)
	cmd.Dir = repoRoot
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("scripts/build.sh %s: %w\n%s", out, err, buf.String())
	}
	return nil
}

// Rootfs describes a busybox rootfs.
type Rootfs struct {
	// Applets are linked to busybox in /bin.
	Applets []string
	// Bins are host files copied into /bin, by name.
	Bins map[string]string
	// Dirs are made besides bin, proc, sys, dev, tmp and etc.
	Dirs []string
	// Files are written, by path relative to the rootfs.
	Files map[string]string
}

const busybox = "/bin/busybox"

// Make lays out the rootfs at dir. busybox must be static: the rootfs has
// no libc.
func (r Rootfs) Make(dir string) error {
	f, err := elf.Open(busybox)
	if err != nil {
		return fmt.Errorf("%s is missing or unreadable (install Debian's busybox-static: apt-get install busybox-static): %w", busybox, err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			f.Close()
			return fmt.Errorf("%s is dynamically linked; the test rootfs has no libc (install Debian's busybox-static, not busybox)", busybox)
		}
	}
	f.Close()
	for _, d := range append([]string{"bin", "proc", "sys", "dev", "tmp", "etc"}, r.Dirs...) {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 0o1777); err != nil {
		return err
	}
	bins := map[string]string{"busybox": busybox}
	for name, src := range r.Bins {
		bins[name] = src
	}
	for name, src := range bins {
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "bin", name), data, 0o755); err != nil {
			return err
		}
	}
	for _, a := range r.Applets {
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", a)); err != nil {
			return err
		}
	}
	for name, content := range r.Files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}
