package libtabox

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
)

// compileSeccompCached compiles s, or reuses the program compiled for the
// same profile before: libseccomp takes milliseconds to build a profile of
// Docker's size, and every container of an image has the same one. The
// cache is a file per profile in the state root, which only its owner can
// write.
func compileSeccompCached(root string, s *Seccomp) (*SeccompProgram, error) {
	key, err := json.Marshal(struct {
		Profile *Seccomp `json:"profile"`
		Lib     string   `json:"lib"`
	}{s, SeccompVersion()})
	if err != nil {
		return CompileSeccomp(s)
	}
	sum := sha256.Sum256(key)
	path := filepath.Join(root, ".seccomp-"+hex.EncodeToString(sum[:16])+".json")
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
	if data, err := json.Marshal(p); err == nil && os.MkdirAll(root, 0o711) == nil {
		tmp := path + "." + strconv.Itoa(os.Getpid())
		if os.WriteFile(tmp, data, 0o600) == nil {
			if os.Rename(tmp, path) != nil {
				os.Remove(tmp)
			}
		}
	}
	return p, nil
}
