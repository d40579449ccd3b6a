package libtabox

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestValidateID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"abc", true},
		{"a_b-c.d+e", true},
		{"0123456789", true},
		{"a.b", true},
		{".hidden", false},
		{"", false},
		{".", false},
		{"..", false},
		{"../x", false},
		{"a/b", false},
		{"/abs", false},
		{"a b", false},
		{"a\x00b", false},
		{"é", false},
		{strings.Repeat("x", 1025), false},
	} {
		err := ValidateID(tc.id)
		if got := err == nil; got != tc.ok {
			t.Errorf("ValidateID(%q) = %v, want ok=%v", tc.id, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidID) {
			t.Errorf("ValidateID(%q) error %v is not ErrInvalidID", tc.id, err)
		}
	}
}

func TestStateDirNewAndDuplicate(t *testing.T) {
	root := t.TempDir()
	d, err := newStateDir(root, "c1")
	if err != nil {
		t.Fatal(err)
	}
	defer d.unlock()
	if _, err := newStateDir(root, "c1"); !errors.Is(err, ErrExist) {
		t.Fatalf("second newStateDir: %v, want ErrExist", err)
	}
	if _, err := newStateDir(root, "../c1"); !errors.Is(err, ErrInvalidID) {
		t.Fatalf("newStateDir(../c1): %v, want ErrInvalidID", err)
	}
}

func TestStateSaveLoad(t *testing.T) {
	root := t.TempDir()
	d, err := newStateDir(root, "c1")
	if err != nil {
		t.Fatal(err)
	}
	defer d.unlock()
	if s, err := d.load(); err != nil || s != nil {
		t.Fatalf("load before save = %v, %v; want nil, nil", s, err)
	}
	want := &savedState{stateHeader: stateHeader{ID: "c1", InitPid: 42, InitStartTime: 7, Owner: "root"},
		Config: Config{Bundle: "/b", Hostname: "h"}}
	if err := d.save(want); err != nil {
		t.Fatal(err)
	}
	got, err := d.load()
	if err != nil {
		t.Fatal(err)
	}
	if got.InitPid != 42 || got.InitStartTime != 7 || got.Config.Hostname != "h" {
		t.Fatalf("load = %+v, want %+v", got, want)
	}
	// Only state.json: no temporary file is left next to it.
	entries, _ := os.ReadDir(d.path)
	if len(entries) != 1 || entries[0].Name() != stateFile {
		t.Fatalf("state dir holds %v, want only %s", entries, stateFile)
	}
}

// TestStateSaveAtomic: a reader running alongside repeated saves always
// sees a whole state, never a truncated one.
func TestStateSaveAtomic(t *testing.T) {
	root := t.TempDir()
	d, err := newStateDir(root, "c1")
	if err != nil {
		t.Fatal(err)
	}
	defer d.unlock()
	big := strings.Repeat("x", 256<<10)
	if err := d.save(&savedState{stateHeader: stateHeader{ID: "c1"}, Config: Config{Hostname: big}}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			d.save(&savedState{stateHeader: stateHeader{ID: "c1", InitPid: i}, Config: Config{Hostname: big}})
		}
	}()
	reader := &stateDir{path: d.path}
	for i := 0; i < 300; i++ {
		s, err := reader.load()
		if err != nil || s == nil || s.Config.Hostname != big {
			close(done)
			wg.Wait()
			t.Fatalf("read %d: a partial state: %v", i, err)
		}
	}
	close(done)
	wg.Wait()
}

// TestStateLockSerializes: a second command on the same ID waits for the
// first to release its lock.
func TestStateLockSerializes(t *testing.T) {
	root := t.TempDir()
	first, err := newStateDir(root, "c1")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan time.Time, 1)
	go func() {
		d, err := lockStateDir(root, "c1")
		if err != nil {
			t.Error(err)
			got <- time.Time{}
			return
		}
		got <- time.Now()
		d.unlock()
	}()
	time.Sleep(100 * time.Millisecond)
	released := time.Now()
	first.unlock()
	if at := <-got; at.Before(released) {
		t.Fatalf("second lock taken at %v, before the first was released at %v", at, released)
	}
}

// TestStateLockAfterRemove: a command that waited for the lock of a
// container that was deleted meanwhile finds no container.
func TestStateLockAfterRemove(t *testing.T) {
	root := t.TempDir()
	first, err := newStateDir(root, "c1")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		d, err := lockStateDir(root, "c1")
		if err == nil {
			d.unlock()
		}
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := first.remove(); err != nil {
		t.Fatal(err)
	}
	first.unlock()
	if err := <-errc; !errors.Is(err, ErrNotExist) {
		t.Fatalf("lock after delete: %v, want ErrNotExist", err)
	}
	if _, err := lockStateDir(root, "nope"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("lock of unknown ID: %v, want ErrNotExist", err)
	}
	if _, err := os.Stat(filepath.Join(root, "c1")); !os.IsNotExist(err) {
		t.Fatalf("state dir still there: %v", err)
	}
}

func TestProcStat(t *testing.T) {
	st, state, ok := procStat(os.Getpid())
	if !ok || st == 0 || state == 0 {
		t.Fatalf("procStat(self) = %d, %q, %v", st, state, ok)
	}
	if _, _, ok := procStat(1 << 30); ok {
		t.Fatal("procStat of a PID that cannot exist reported ok")
	}
	s := &savedState{stateHeader: stateHeader{InitPid: os.Getpid(), InitStartTime: st}}
	if !s.initAlive() {
		t.Fatal("own process not alive")
	}
	s.InitStartTime++
	if s.initAlive() {
		t.Fatal("a PID with another start time counted as the init")
	}
}
