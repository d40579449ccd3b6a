package libtabox

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestSeccompCache: the second create with a profile reuses the program
// compiled by the first, and a damaged cache file is compiled afresh.
func TestSeccompCache(t *testing.T) {
	root := filepath.Join(t.TempDir(), "cache")
	s := &Seccomp{DefaultAction: ActErrno, DefaultErrno: 1,
		Syscalls: []SyscallRule{{Names: []string{"read", "write", "exit_group"}, Action: ActAllow}}}
	first, err := compileSeccompIn(root, s)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(root, "seccomp-*.json"))
	if len(files) != 1 {
		t.Fatalf("cache files %v, want one", files)
	}
	again, err := compileSeccompIn(root, s)
	if err != nil || !bytes.Equal(again.BPF, first.BPF) {
		t.Fatalf("cached program differs: %v", err)
	}
	if err := os.WriteFile(files[0], []byte("{broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	fresh, err := compileSeccompIn(root, s)
	if err != nil || !bytes.Equal(fresh.BPF, first.BPF) {
		t.Fatalf("after a damaged cache: %v", err)
	}
	other := *s
	other.DefaultErrno = 38
	if p, err := compileSeccompIn(root, &other); err != nil || bytes.Equal(p.BPF, first.BPF) {
		t.Fatalf("another profile got the cached program: %v", err)
	}
}

// TestSeccompCacheNotPrivate: a cache directory others can write is not
// used.
func TestSeccompCacheNotPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	s := &Seccomp{DefaultAction: ActErrno, DefaultErrno: 1,
		Syscalls: []SyscallRule{{Names: []string{"read"}, Action: ActAllow}}}
	if _, err := compileSeccompIn(dir, s); err != nil {
		t.Fatal(err)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
		t.Errorf("wrote %v into a world-writable cache directory", files)
	}
}

// TestSeccompCacheListener: profiles that differ only in their listener
// share one cache file, so that per-container metadata does not grow the
// cache.
func TestSeccompCacheListener(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	for _, meta := range []string{"pod-a", "pod-b", ""} {
		s := &Seccomp{DefaultAction: ActAllow, ListenerPath: "/run/agent-" + meta, ListenerMetadata: meta,
			Syscalls: []SyscallRule{{Names: []string{"mkdirat"}, Action: ActNotify}}}
		p, err := compileSeccompIn(dir, s)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Notify {
			t.Errorf("metadata %q: cached program lost Notify", meta)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "seccomp-*.json")); len(files) != 1 {
		t.Errorf("cache files %v, want one", files)
	}
}
