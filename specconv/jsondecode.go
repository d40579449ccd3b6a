package specconv

//go:generate go test -run TestSpecDecoderGenerated -update-json .

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/tabox/tabox/internal/jsonfast"
)

// decodeSpecFast decodes a config.json into what json.Unmarshal would
// make of it, with the generated decoder of spec_json.go, or reports
// false for anything that decoder leaves to encoding/json (see
// internal/jsongen), including every malformed document.
func decodeSpecFast(data []byte) (*specs.Spec, bool) {
	d := jsonfast.NewDecoder(data)
	var s specs.Spec
	decodeSpecsSpec(d, &s)
	if !d.End() {
		return nil, false
	}
	return &s, true
}
