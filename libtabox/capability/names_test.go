package capability

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseNameRoundTrip(t *testing.T) {
	for _, n := range All() {
		name := Name(n)
		got, err := Parse(name)
		if err != nil {
			t.Fatalf("Parse(%q): %v", name, err)
		}
		if got != n {
			t.Errorf("Parse(Name(%d)) = %d", n, got)
		}
	}
}

func TestKnownNumbers(t *testing.T) {
	for name, want := range map[string]int{
		"CAP_CHOWN":              0,
		"CAP_SETPCAP":            8,
		"CAP_NET_ADMIN":          12,
		"CAP_SYS_ADMIN":          21,
		"CAP_MKNOD":              27,
		"CAP_AUDIT_READ":         37,
		"CAP_CHECKPOINT_RESTORE": 40,
	} {
		got, err := Parse(name)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", name, got, err, want)
		}
	}
	if len(All()) != 41 {
		t.Errorf("len(All()) = %d, want 41", len(All()))
	}
}

func TestParseUnknown(t *testing.T) {
	for _, name := range []string{"CAP_FOO", "", "chown", "cap_chown", "CHOWN", "CAP_CHOWN ", "CAP_41"} {
		_, err := Parse(name)
		if err == nil {
			t.Errorf("Parse(%q) succeeded", name)
			continue
		}
		if want := `unknown capability "` + name + `"`; err.Error() != want {
			t.Errorf("Parse(%q) error = %q, want %q", name, err, want)
		}
	}
}

func TestNameUnknown(t *testing.T) {
	if got := Name(41); got != "CAP_41" {
		t.Errorf("Name(41) = %q", got)
	}
	if got := Name(-1); got != "CAP_-1" {
		t.Errorf("Name(-1) = %q", got)
	}
}

func TestReadLast(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]int{
		"40\n":   40,
		"37\n":   37,
		"45":     45,
		"junk\n": lastKnown,
		"3\n":    lastKnown,
		"":       lastKnown,
	} {
		p := filepath.Join(dir, "cap_last_cap")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := readLast(p); got != want {
			t.Errorf("readLast(%q) = %d, want %d", content, got, want)
		}
	}
	if got := readLast(filepath.Join(dir, "missing")); got != lastKnown {
		t.Errorf("readLast(missing) = %d", got)
	}
	if l := Last(); l < 31 {
		t.Errorf("Last() = %d", l)
	}
	if !strings.HasPrefix(Name(Last()), "CAP_") {
		t.Errorf("Name(Last()) = %q", Name(Last()))
	}
}
