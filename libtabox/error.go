package libtabox

import "errors"

// Sentinel errors, checked with errors.Is. Their texts are the ones
// containerd and podman match on, so keep them.
var (
	// ErrNotExist: no container with that ID.
	ErrNotExist = errors.New("container does not exist")
	// ErrExist: a container with that ID already exists.
	ErrExist = errors.New("container with given ID already exists")
	// ErrInvalidID: the ID is not a valid container ID.
	ErrInvalidID = errors.New("invalid container ID")
	// ErrNotRunning: the operation needs a running (or created) container.
	ErrNotRunning = errors.New("container not running")
	// ErrNoSuchProcess: the process to signal is gone.
	ErrNoSuchProcess = errors.New("no such process")
)

// StateError reports an operation asked of a container in the wrong status.
type StateError struct {
	Op     string
	Status Status
	Want   string
}

func (e *StateError) Error() string {
	return "cannot " + e.Op + " a container that is " + e.Status.String() + " (it must be " + e.Want + ")"
}
