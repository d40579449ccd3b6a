//go:build linux && cgo

package libtabox

import (
	"fmt"

	libseccomp "github.com/seccomp/libseccomp-golang"
)

// SeccompVersion is the version of the libseccomp tabox runs with.
func SeccompVersion() string {
	major, minor, micro := libseccomp.GetLibraryVersion()
	return fmt.Sprintf("%d.%d.%d", major, minor, micro)
}
