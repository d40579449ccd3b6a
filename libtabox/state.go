package libtabox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tabox/tabox/internal/jsonfast"
	"github.com/tabox/tabox/internal/sysfile"
)

// Status is the lifecycle status of a container.
type Status int

// The statuses of the runtime-spec, plus creating for a container whose
// create has not finished (or was killed half-way).
const (
	Creating Status = iota
	Created
	Running
	Stopped
	Paused
)

func (s Status) String() string {
	switch s {
	case Creating:
		return "creating"
	case Created:
		return "created"
	case Running:
		return "running"
	case Stopped:
		return "stopped"
	case Paused:
		return "paused"
	}
	return "unknown"
}

const (
	stateFile = "state.json"
	fifoName  = "exec.fifo"
)

//go:generate go test -run TestStateCodecGenerated -update-json .

// savedState is what <root>/<id>/state.json holds: the container's
// runtime facts, and its config.
type savedState struct {
	stateHeader
	Config Config `json:"config"`
}

// stateHeader is the state without the config. create saves it alone
// first, before it makes the cgroup (see saveHeader).
type stateHeader struct {
	ID string `json:"id"`
	// InitPid is the host PID of the container's init (later its process).
	InitPid int `json:"initPid"`
	// InitStartTime is field 22 of /proc/<pid>/stat: a PID is only ours if
	// its start time still matches, since PIDs are reused.
	InitStartTime uint64    `json:"initStartTime"`
	Created       time.Time `json:"created"`
	Owner         string    `json:"owner"`
	// Creating is set until create has finished: a container whose create
	// died half-way keeps it, and delete cleans it up.
	Creating bool `json:"creating,omitempty"`
	// Started is set once start released the init, at StartedAt, or
	// StartedMono by CLOCK_MONOTONIC (ns).
	Started     bool      `json:"started,omitempty"`
	StartedAt   time.Time `json:"startedAt,omitempty"`
	StartedMono int64     `json:"startedMono,omitempty"`
	// InitCPU is the CPU time (ns) the init used before it executed the
	// process: tabox's, not the process's.
	InitCPU int64 `json:"initCPU,omitempty"`
	// MonitorPid is the detached monitor start left behind for the judge
	// limits (0: none), and MonitorStartTime its start time, as for the
	// init.
	MonitorPid       int    `json:"monitorPid,omitempty"`
	MonitorStartTime uint64 `json:"monitorStartTime,omitempty"`
	// CgroupPaths are the container's cgroup directories, by controller
	// (v1) or under "" (v2), as created.
	CgroupPaths map[string]string `json:"cgroupPaths,omitempty"`
	// CgroupParents are the directories above those that create made.
	CgroupParents []string `json:"cgroupParents,omitempty"`
}

// validIDByte: letters, digits, '_', '+', '-' and '.'.
func validIDByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '+' || c == '-' || c == '.'
}

// ValidateID checks that id can name a container (and a directory).
func ValidateID(id string) error {
	// A leading dot is reserved for tabox's own files in the state root.
	bad := id == "" || id[0] == '.' || len(id) > 1024
	for i := 0; i < len(id) && !bad; i++ {
		bad = !validIDByte(id[i])
	}
	if bad {
		return fmt.Errorf("%w %q: use letters, digits, '_', '+', '-' and '.'", ErrInvalidID, id)
	}
	return nil
}

// stateDir is a container's directory, opened and locked.
type stateDir struct {
	path string
	// fd is the directory, open and locked, while locked.
	fd     int
	locked bool
}

// lockStateDir opens and locks the state directory of id under root.
// The lock (flock on the directory itself) serializes commands on one ID.
func lockStateDir(root, id string) (*stateDir, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	path := filepath.Join(root, id)
	d, err := sysfile.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
			return nil, ErrNotExist
		}
		return nil, fmt.Errorf("open state directory: %w", err)
	}
	if err := flock(d, unix.LOCK_EX); err != nil {
		unix.Close(d)
		return nil, fmt.Errorf("lock state directory %s: %w", path, err)
	}
	// A delete may have removed the directory while we waited for the lock.
	var st unix.Stat_t
	if err := unix.Fstat(d, &st); err != nil || st.Nlink == 0 {
		unix.Close(d)
		return nil, ErrNotExist
	}
	return &stateDir{path: path, fd: d, locked: true}, nil
}

// newStateDir creates and locks the state directory of a new container.
// mkdir is the atomic test for a duplicate ID.
func newStateDir(root, id string) (*stateDir, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(root, 0o711); err != nil {
		return nil, fmt.Errorf("create state root %s: %w", root, err)
	}
	path := filepath.Join(root, id)
	if err := os.Mkdir(path, 0o711); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%w: %s", ErrExist, id)
		}
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	d, err := sysfile.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("open state directory: %w", err)
	}
	if err := flock(d, unix.LOCK_EX); err != nil {
		unix.Close(d)
		os.Remove(path)
		return nil, fmt.Errorf("lock state directory: %w", err)
	}
	return &stateDir{path: path, fd: d, locked: true}, nil
}

func flock(fd int, how int) error {
	for {
		err := unix.Flock(fd, how)
		if err != unix.EINTR {
			return err
		}
	}
}

// unlock releases the lock; the directory may already be removed.
func (d *stateDir) unlock() {
	if d != nil && d.locked {
		unix.Close(d.fd)
		d.locked = false
	}
}

// remove deletes the state directory. Preconditions: locked.
func (d *stateDir) remove() error {
	if err := os.RemoveAll(d.path); err != nil {
		return fmt.Errorf("remove state directory: %w", err)
	}
	return nil
}

// save writes state.json atomically: a reader sees the old or the new file.
func (d *stateDir) save(s *savedState) error {
	e := &jsonfast.Encoder{B: make([]byte, 0, 4096)}
	encodeSavedState(e, s)
	return d.write(e)
}

// saveHeader writes the state without its config, which a create's
// cleanup does not need: what is undone is found by pid and by cgroup
// paths. create saves it before it makes the cgroup, which the init
// waits for, and the whole state while the init goes on.
func (d *stateDir) saveHeader(s *savedState) error {
	e := &jsonfast.Encoder{B: make([]byte, 0, 1024)}
	encodeStateHeader(e, &s.stateHeader)
	return d.write(e)
}

// write writes the state e encoded. The encoders of state_json.go write
// what json.Marshal would, without its reflection (see internal/jsongen).
func (d *stateDir) write(e *jsonfast.Encoder) error {
	if e.Err != nil {
		return fmt.Errorf("encode state: %w", e.Err)
	}
	data := e.B
	tmp := filepath.Join(d.path, "."+stateFile+"."+strconv.Itoa(os.Getpid()))
	if err := sysfile.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(d.path, stateFile)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}

// load reads state.json. A container whose create never got as far as
// saving its state has none: it is reported as (nil, nil).
func (d *stateDir) load() (*savedState, error) {
	data, err := sysfile.ReadFile(filepath.Join(d.path, stateFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("read state: %w", err)
	}
	s, err := unmarshalState(data)
	if err != nil {
		return nil, fmt.Errorf("parse state %s: %w", filepath.Join(d.path, stateFile), err)
	}
	return s, nil
}

// unmarshalState decodes a state.json as json.Unmarshal would: with the
// decoder of state_json.go, or, for what it leaves to encoding/json (a
// state written by another version of tabox, say), with encoding/json.
func unmarshalState(data []byte) (*savedState, error) {
	var s savedState
	d := jsonfast.NewDecoder(data)
	decodeSavedState(d, &s)
	if d.End() {
		return &s, nil
	}
	s = savedState{}
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

func (d *stateDir) fifoPath() string { return filepath.Join(d.path, fifoName) }

// procStat returns the start time and state letter of pid from
// /proc/<pid>/stat, or ok=false when the process does not exist.
func procStat(pid int) (startTime uint64, state byte, ok bool) {
	data, err := sysfile.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// The command name may hold spaces and parentheses: fields start
	// after the last ')'.
	i := len(data) - 1
	for i >= 0 && data[i] != ')' {
		i--
	}
	if i < 0 || i+2 >= len(data) {
		return 0, 0, false
	}
	fields := splitFields(data[i+2:])
	// fields[0] is field 3 (state); start time is field 22.
	if len(fields) < 20 {
		return 0, 0, false
	}
	st, err := strconv.ParseUint(string(fields[19]), 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return st, fields[0][0], true
}

func splitFields(b []byte) [][]byte {
	var out [][]byte
	start := -1
	for i, c := range b {
		if c == ' ' || c == '\n' {
			if start >= 0 {
				out = append(out, b[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		out = append(out, b[start:])
	}
	return out
}

// initAlive reports whether the saved init is still alive: same PID, same
// start time, and neither zombie nor dead.
func (s *savedState) initAlive() bool {
	return alive(s.InitPid, s.InitStartTime)
}

// alive reports whether the process pid that started at startTime is
// alive: neither gone, nor a zombie, nor another process with its PID.
func alive(pid int, startTime uint64) bool {
	if pid <= 0 {
		return false
	}
	st, state, ok := procStat(pid)
	if !ok || st != startTime {
		return false
	}
	return state != 'Z' && state != 'X' && state != 'x'
}
