package libtabox

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestMountSetattrError(t *testing.T) {
	for _, tc := range []struct {
		attr      unix.MountAttr
		recursive bool
		err       error
		want      string
	}{
		{unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID}, true, unix.EPERM,
			"mount_setattr /data recursively set MOUNT_ATTR_RDONLY|MOUNT_ATTR_NOSUID: operation not permitted"},
		{unix.MountAttr{Attr_clr: unix.MOUNT_ATTR_NODEV}, false, unix.EINVAL,
			"mount_setattr /data clear MOUNT_ATTR_NODEV: invalid argument"},
		// relatime is the atime mode 0: it shows only as a change of mode.
		{unix.MountAttr{Attr_clr: unix.MOUNT_ATTR__ATIME}, true, unix.EPERM,
			"mount_setattr /data recursively set MOUNT_ATTR_RELATIME clear MOUNT_ATTR__ATIME: operation not permitted"},
		{unix.MountAttr{Attr_set: unix.MOUNT_ATTR_NOATIME | unix.MOUNT_ATTR_RDONLY, Attr_clr: unix.MOUNT_ATTR__ATIME}, true, unix.EPERM,
			"mount_setattr /data recursively set MOUNT_ATTR_RDONLY|MOUNT_ATTR_NOATIME clear MOUNT_ATTR__ATIME: operation not permitted"},
		{unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP}, false, unix.ENOSYS,
			"mount_setattr /data set MOUNT_ATTR_IDMAP: function not implemented (mount_setattr needs Linux 5.12 or later)"},
	} {
		err := &mountSetattrError{path: "/data", recursive: tc.recursive, attr: tc.attr, err: tc.err}
		if err.Error() != tc.want {
			t.Errorf("got  %q\nwant %q", err.Error(), tc.want)
		}
		if !errors.Is(err, tc.err) {
			t.Errorf("%v does not unwrap to %v", err, tc.err)
		}
	}
}

func TestIDMapKey(t *testing.T) {
	a := idMapKey([]IDMap{{0, 1000, 1}, {1, 100000, 10}})
	b := idMapKey([]IDMap{{1, 100000, 10}, {0, 1000, 1}})
	if a != b {
		t.Errorf("the key depends on the order of the ranges: %q, %q", a, b)
	}
	if a == idMapKey([]IDMap{{0, 1000, 1}}) {
		t.Errorf("different mappings share the key %q", a)
	}
}

// TestIdmappedTree: as root, a detached copy of a directory idmapped
// 1000→2000 shows a file of uid 1000 as 2000's, and the user namespace of
// a mapping is made once per mapping.
func TestIdmappedTree(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("idmapped mounts need root")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(dir, "f"), 1000, 1001); err != nil {
		t.Fatal(err)
	}
	cfg := &Config{Mounts: []Mount{
		{Kind: MountBind, Source: dir, Destination: "/a", Flags: unix.MS_BIND,
			IDMap: &MountIDMap{UIDMappings: []IDMap{{1000, 2000, 1}}, GIDMappings: []IDMap{{1001, 2001, 1}}}},
		{Kind: MountBind, Source: dir, Destination: "/b", Flags: unix.MS_BIND},
	}}
	trees, err := openIDMappedMounts(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFiles(trees)
	if len(trees) != 1 || trees[0] == nil {
		t.Fatalf("trees = %v, want one for mount 0", trees)
	}
	var st unix.Stat_t
	if err := unix.Fstatat(int(trees[0].Fd()), "f", &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		t.Fatal(err)
	}
	if st.Uid != 2000 || st.Gid != 2001 {
		t.Errorf("f through the idmapped tree is %d:%d, want 2000:2001", st.Uid, st.Gid)
	}
	cache := usernsCache{}
	defer cache.close()
	im := cfg.Mounts[0].IDMap
	ns1, err := cache.get(im)
	if err != nil {
		t.Fatal(err)
	}
	ns2, err := cache.get(&MountIDMap{UIDMappings: im.UIDMappings, GIDMappings: im.GIDMappings, Recursive: true})
	if err != nil {
		t.Fatal(err)
	}
	if ns1 != ns2 {
		t.Errorf("the same mapping made two user namespaces")
	}
}

func TestMapsID(t *testing.T) {
	file := filepath.Join(t.TempDir(), "uid_map")
	if err := os.WriteFile(file, []byte("         0     100000       1000\n      1000     300000          1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[uint64]bool{0: true, 999: true, 1000: true, 1001: false, 300000: false} {
		if got := mapsID(file, id); got != want {
			t.Errorf("mapsID(%d) = %v, want %v", id, got, want)
		}
	}
	if mapsID(filepath.Join(t.TempDir(), "none"), 0) {
		t.Errorf("a missing map maps 0")
	}
}
