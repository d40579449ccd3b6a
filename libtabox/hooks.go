package libtabox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// State is the OCI state of a container, plus the fields runc adds.
type State struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Status      string            `json:"status"`
	Pid         int               `json:"pid"`
	Bundle      string            `json:"bundle"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
}

// runHooksWarn runs every hook even when one fails, as the runtime-spec
// asks of poststart and poststop hooks, and reports each failure to warnf.
func runHooksWarn(kind string, hooks []Hook, state []byte, warnf func(string, ...any)) {
	for i, h := range hooks {
		if err := runHook(h, state); err != nil {
			warnf("%s hook #%d: %v", kind, i, err)
		}
	}
}

// runHooks runs hooks one after another, each with the state on its stdin.
// The first failure stops the rest.
func runHooks(kind string, hooks []Hook, state []byte) error {
	for i, h := range hooks {
		if err := runHook(h, state); err != nil {
			return fmt.Errorf("%s hook #%d: %w", kind, i, err)
		}
	}
	return nil
}

func runHook(h Hook, state []byte) error {
	ctx := context.Background()
	if h.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.Timeout)
		defer cancel()
	}
	args := h.Args
	if len(args) == 0 {
		args = []string{h.Path}
	}
	cmd := exec.CommandContext(ctx, h.Path)
	cmd.Args = args
	cmd.Env = h.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Stdin = bytes.NewReader(state)
	// A hook dies with tabox, and a timeout kills everything it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	// The hook's children may keep its stdout open: do not wait for them
	// past the hook's own exit.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if err == nil {
		return nil
	}
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("%s: timed out after %s", h.Path, h.Timeout)
	}
	msg := strings.TrimSpace(out.String())
	if len(msg) > 512 {
		msg = msg[:512] + "…"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && msg != "" {
		return fmt.Errorf("%s: %w: %s", h.Path, err, msg)
	}
	return fmt.Errorf("%s: %w", h.Path, err)
}
