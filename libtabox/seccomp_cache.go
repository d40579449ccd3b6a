package libtabox

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// seccompCacheDir is where compiled programs are kept: next to the
// default state root (a tmpfs, /run, emptied at boot), never in a
// container's own --root, which tools like containerd expect to hold only
// containers.
func seccompCacheDir() string {
	if UseXDGRuntimeDir() {
		return filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "tabox-cache")
	}
	if os.Geteuid() == 0 {
		return "/run/tabox-cache"
	}
	return ""
}

// privateDir makes dir if needed and reports whether only we can write
// it: a cache anyone else could write is no cache.
func privateDir(dir string) bool {
	if err := os.Mkdir(dir, 0o700); err != nil && !os.IsExist(err) {
		return false
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return false
	}
	return st.Mode&unix.S_IFMT == unix.S_IFDIR && st.Uid == uint32(os.Geteuid()) && st.Mode&0o022 == 0
}

// compileSeccompCached compiles s, or reuses the program compiled for the
// same profile before: libseccomp takes milliseconds to build a profile of
// Docker's size, and every container of an image has the same one.
func compileSeccompCached(s *Seccomp) (*SeccompProgram, error) {
	return compileSeccompIn(seccompCacheDir(), s)
}

func compileSeccompIn(dir string, s *Seccomp) (*SeccompProgram, error) {
	// The listener is not part of the program: left in the key, a
	// listenerMetadata that differs per container would add a file to
	// the cache for each.
	profile := *s
	profile.ListenerPath, profile.ListenerMetadata = "", ""
	key, err := json.Marshal(struct {
		Profile *Seccomp `json:"profile"`
		Lib     string   `json:"lib"`
	}{&profile, SeccompVersion()})
	if err != nil || dir == "" || !privateDir(dir) {
		return CompileSeccomp(s)
	}
	sum := sha256.Sum256(key)
	path := filepath.Join(dir, "seccomp-"+hex.EncodeToString(sum[:16])+".json")
	if data, err := os.ReadFile(path); err == nil {
		var p SeccompProgram
		if json.Unmarshal(data, &p) == nil && len(p.BPF) > 0 {
			return &p, nil
		}
	}
	p, err := CompileSeccomp(s)
	if err != nil {
		return nil, err
	}
	if data, err := json.Marshal(p); err == nil {
		tmp := path + "." + strconv.Itoa(os.Getpid())
		if os.WriteFile(tmp, data, 0o600) == nil {
			if os.Rename(tmp, path) != nil {
				os.Remove(tmp)
			}
		}
	}
	return p, nil
}
