package libtabox

import (
	"errors"
	"testing"
)

func TestHelperMessage(t *testing.T) {
	out := []byte("newuidmap: uid range [1-65537) -> [265536-331072) not allowed\n")
	if got := helperMessage("newuidmap", out, errors.New("exit status 1")); got != "uid range [1-65537) -> [265536-331072) not allowed" {
		t.Errorf("helperMessage = %q", got)
	}
	if got := helperMessage("newuidmap", []byte("a\n\n b\n"), nil); got != "a; b" {
		t.Errorf("helperMessage = %q, want the lines joined", got)
	}
	if got := helperMessage("newuidmap", nil, errors.New("exit status 1")); got != "exit status 1" {
		t.Errorf("helperMessage without output = %q, want the error", got)
	}
}

func TestInitIDs(t *testing.T) {
	for _, tc := range []struct {
		uids, gids []IDMap
		uid, gid   uint32
		root       bool
	}{
		{[]IDMap{{0, 1000, 1}, {1, 100000, 65536}}, []IDMap{{0, 1000, 1}}, 0, 0, true},
		{[]IDMap{{1000, 1000, 1}, {0, 100000, 1000}}, []IDMap{{0, 100000, 1}}, 0, 0, true},
		{[]IDMap{{1000, 1000, 1}}, []IDMap{{100, 1000, 1}}, 1000, 100, false},
		{[]IDMap{{0, 1000, 1}}, []IDMap{{5, 1000, 1}}, 0, 5, false},
	} {
		uid, gid, root := initIDs(&Config{UIDMappings: tc.uids, GIDMappings: tc.gids})
		if uid != tc.uid || gid != tc.gid || root != tc.root {
			t.Errorf("initIDs(%v, %v) = %d, %d, %v; want %d, %d, %v", tc.uids, tc.gids, uid, gid, root, tc.uid, tc.gid, tc.root)
		}
	}
}
