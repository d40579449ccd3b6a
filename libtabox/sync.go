package libtabox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// The parent (tabox create) and the container's init talk over a socket
// pair, fd 3 in the init, one JSON object per message:
//
//	parent                               init
//	  [newuidmap, newgidmap;               [waits, unmapped, for the byte;
//	   one byte               ──────▶      becomes its ids] (only for maps
//	                                       an unprivileged user may not
//	                                       write itself; see waitIDMaps)
//	  initConfig              ──────▶
//	                                       join/enter namespaces, mounts,
//	                                       devices, masks (before pivot)
//	                          ◀──────    msgHooks  (only if there are hooks
//	  run createRuntime hooks                     to run or to give a state)
//	  msgHooksDone            ──────▶
//	                                       createContainer hooks, pivot_root,
//	                                       hostname, sysctl
//	                          ◀──────    msgReady
//	  prlimit, oom_score_adj
//	  msgReadyDone            ──────▶
//	                                       user, capabilities, seccomp,
//	                                       look up the executable
//	                          ◀──────    msgCreated
//	  save state
//	  msgSaved                ──────▶
//	                                       clear the parent-death signal
//	                          ◀──────    EOF (init closed its end)
//	  exit 0                               block on exec.fifo until start
//
// At any point the init may send msgError instead and exit; the parent
// then undoes everything it made. Everything the parent sends after the
// config carries the container's state JSON, which hooks run by the init
// need on their stdin.
type syncType string

const (
	msgHooks     syncType = "hooks"
	msgHooksDone syncType = "hooks-done"
	msgReady     syncType = "ready"
	msgReadyDone syncType = "ready-done"
	msgCreated   syncType = "created"
	msgSaved     syncType = "saved"
	msgError     syncType = "error"
)

type syncMsg struct {
	Type syncType `json:"type"`
	// Error is set for msgError.
	Error *InitError `json:"error,omitempty"`
	// State is the container's OCI state, for hooks run by the init.
	State json.RawMessage `json:"state,omitempty"`
}

// InitError is an error that happened in the container's init, naming the
// step that failed.
type InitError struct {
	Step    string `json:"step"`
	Message string `json:"message"`
}

func (e *InitError) Error() string {
	return e.Step + ": " + e.Message
}

type syncPipe struct {
	f   *os.File
	dec *json.Decoder
	enc *json.Encoder
}

func newSyncPipe(f *os.File) *syncPipe {
	return &syncPipe{f: f, dec: json.NewDecoder(f), enc: json.NewEncoder(f)}
}

func (p *syncPipe) send(m syncMsg) error {
	if err := p.enc.Encode(m); err != nil {
		return fmt.Errorf("send %s: %w", m.Type, err)
	}
	return nil
}

// recv reads the next message. An msgError from the other side is returned
// as an *InitError.
func (p *syncPipe) recv() (syncMsg, error) {
	var m syncMsg
	if err := p.dec.Decode(&m); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return m, io.EOF
		}
		return m, fmt.Errorf("read sync message: %w", err)
	}
	if m.Type == msgError {
		if m.Error == nil {
			return m, errors.New("container init: unknown error")
		}
		return m, m.Error
	}
	return m, nil
}

// expect reads the next message and checks its type.
func (p *syncPipe) expect(want syncType) (syncMsg, error) {
	m, err := p.recv()
	if err != nil {
		return m, err
	}
	if m.Type != want {
		return m, fmt.Errorf("sync: got %q, want %q", m.Type, want)
	}
	return m, nil
}

func (p *syncPipe) close() { p.f.Close() }
