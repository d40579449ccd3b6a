package libtabox

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		seccompHelper()
	}
	os.Exit(m.Run())
}
