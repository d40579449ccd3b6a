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
	root := t.TempDir()
	s := &Seccomp{DefaultAction: ActErrno, DefaultErrno: 1,
		Syscalls: []SyscallRule{{Names: []string{"read", "write", "exit_group"}, Action: ActAllow}}}
	first, err := compileSeccompCached(root, s)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(root, ".seccomp-*.json"))
	if len(files) != 1 {
		t.Fatalf("cache files %v, want one", files)
	}
	again, err := compileSeccompCached(root, s)
	if err != nil || !bytes.Equal(again.BPF, first.BPF) {
		t.Fatalf("cached program differs: %v", err)
	}
	if err := os.WriteFile(files[0], []byte("{broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	fresh, err := compileSeccompCached(root, s)
	if err != nil || !bytes.Equal(fresh.BPF, first.BPF) {
		t.Fatalf("after a damaged cache: %v", err)
	}
	other := *s
	other.DefaultErrno = 38
	if p, err := compileSeccompCached(root, &other); err != nil || bytes.Equal(p.BPF, first.BPF) {
		t.Fatalf("another profile got the cached program: %v", err)
	}
}
