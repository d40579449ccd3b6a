package libtabox

import (
	"strings"
	"testing"
)

// TestSetExecAttrFallback: the first of the paths that exists is written,
// and the kernel's answer comes back naming it. With no LSM loaded (these
// machines), attr/exec exists but refuses every label.
func TestSetExecAttrFallback(t *testing.T) {
	err := setExecAttr([]string{"attr/no-such-lsm/exec", "attr/exec"}, "exec unconfined")
	if err == nil {
		t.Skip("this host has an LSM that took the label; nothing to show here")
	}
	if !strings.Contains(err.Error(), "to attr/exec:") {
		t.Errorf("error %q: want the write to attr/exec, after attr/no-such-lsm/exec was not found", err)
	}
	err = setExecAttr([]string{"attr/no-such-lsm/exec"}, "x")
	if err == nil || !strings.Contains(err.Error(), "attr/no-such-lsm/exec") {
		t.Errorf("error %v: want the missing path named", err)
	}
}
