package sysfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestReadWrite: the files read and written are those os reads and
// writes, big ones and /proc ones included, with os's errors.
func TestReadWrite(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{0, 1, 4095, 4096, 4097, 100000} {
		data := bytes.Repeat([]byte("x"), size)
		path := filepath.Join(dir, "f")
		if err := WriteFile(path, data, 0o640); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != 0o640&^umask(t) {
			t.Fatalf("stat after WriteFile: %v, %v", fi.Mode(), err)
		}
		got, err := ReadFile(path)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("ReadFile of %d bytes: %d bytes, %v", size, len(got), err)
		}
	}
	want, _ := os.ReadFile("/proc/self/mountinfo")
	got, err := ReadFile("/proc/self/mountinfo")
	if err != nil || len(got) == 0 || !bytes.Equal(got[:20], want[:20]) {
		t.Fatalf("ReadFile(/proc/self/mountinfo) = %.40q, %v", got, err)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile of a missing file: %v, want ErrNotExist", err)
	}
	if err := WriteFile(filepath.Join(dir, "no", "such"), nil, 0o600); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("WriteFile into a missing directory: %v", err)
	}
}

func umask(t *testing.T) os.FileMode {
	f := filepath.Join(t.TempDir(), "u")
	if err := os.WriteFile(f, nil, 0o777); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(f)
	return 0o777 &^ fi.Mode().Perm()
}
