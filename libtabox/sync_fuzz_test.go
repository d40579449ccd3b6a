package libtabox

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
)

// FuzzSyncRecv feeds arbitrary bytes to the parent's side of the sync
// socket, as a broken or hostile init could write them: reading must
// never panic, a message the parent acts on is never an error message,
// and an error message always becomes an error with text.
func FuzzSyncRecv(f *testing.F) {
	f.Add([]byte(`{"type":"ready"}` + "\n" + `{"type":"created"}` + "\n"))
	f.Add([]byte(`{"type":"hooks","state":{"id":"x","pid":1}}`))
	f.Add([]byte(`{"type":"error","error":{"step":"mounts","message":"mount /x: EPERM"}}`))
	f.Add([]byte(`{"type":"error"}`))
	f.Add([]byte(`{"type":"error","error":null}{"type":"ready"}`))
	f.Add([]byte(`{"type":"ready","state":[1,2,{"a":` + strings.Repeat("[", 100)))
	f.Add([]byte("\x00\xff{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// The init's end (a json.Decoder) and the parent's (a line at a
		// time, with the generated decoder).
		for _, p := range []*syncPipe{{dec: json.NewDecoder(bytes.NewReader(data))}, {lines: iotest.OneByteReader(bytes.NewReader(data))}} {
			checkRecv(t, p)
		}
	})
}

func checkRecv(t *testing.T, p *syncPipe) {
	for i := 0; i < 64; i++ {
		m, err := p.recv()
		if err != nil {
			if err.Error() == "" {
				t.Fatal("error without text")
			}
			var ie *InitError
			if m.Type == msgError && !errors.As(err, &ie) && err.Error() != "container init: unknown error" {
				t.Fatalf("error message decoded as %v", err)
			}
			if m.Type != msgError {
				// A decoding error or EOF: the stream is done.
				return
			}
			continue
		}
		if m.Type == msgError {
			t.Fatalf("error message %+v returned without an error", m)
		}
	}
}

// FuzzInitConfig feeds arbitrary bytes to the init's decoder of its
// configuration, then to the same steps' pure helpers that read it.
func FuzzInitConfig(f *testing.F) {
	good, _ := json.Marshal(&initConfig{Config: &Config{Rootfs: "/r", Process: &Process{Args: []string{"sh"}, Cwd: "/"},
		Namespaces: []Namespace{{Type: NEWNS}, {Type: NEWPID}}, Mounts: []Mount{{Destination: "/proc", Type: "proc"}}}})
	f.Add(good)
	f.Add([]byte(`{"config":null}`))
	f.Add([]byte(`{"config":{"process":{"args":[]},"limits":{"wallTime":-1}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var ic initConfig
		if err := json.NewDecoder(bytes.NewReader(data)).Decode(&ic); err != nil {
			return
		}
		if ic.Config != nil && ic.Config.Process != nil {
			containerPid(data)
		}
	})
}

// FuzzFifoMessage: whatever the init wrote to the exec fifo, start gets
// either success or an error naming the init; never a panic.
func FuzzFifoMessage(f *testing.F) {
	f.Add([]byte("\x00C123456\n"))
	f.Add([]byte("\x00Eexec: permission denied"))
	f.Add([]byte("\x00C1\nEstartContainer hooks: exit 1"))
	f.Add([]byte(""))
	f.Add([]byte("\x00C"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cpu, err := parseFifoMessage(data)
		switch {
		case len(data) == 0 && err == nil:
			t.Fatal("nothing written, but no error")
		case err != nil && !strings.HasPrefix(err.Error(), "container init"):
			t.Fatalf("error %q does not name the init", err)
		case len(data) > 1 && data[1] != 'C' && err == nil:
			t.Fatalf("%q: text without the CPU time taken for success", data)
		case err == nil && cpu < 0 && !bytes.Contains(data, []byte("-")):
			t.Fatalf("%q: negative CPU time %d", data, cpu)
		}
	})
}

func TestParseFifoMessage(t *testing.T) {
	for _, tc := range []struct {
		in      string
		cpu     int64
		wantErr string
	}{
		{in: "\x00C123456\n", cpu: 123456},
		{in: "\x00", cpu: 0},
		{in: "\x00Eexec: permission denied", wantErr: "container init: exec: permission denied"},
		{in: "\x00C7\nEstartContainer hooks: exit 1", cpu: 7, wantErr: "container init: startContainer hooks: exit 1"},
		{in: "", wantErr: "exited before it could start"},
	} {
		cpu, err := parseFifoMessage([]byte(tc.in))
		if cpu != tc.cpu {
			t.Errorf("%q: cpu %d, want %d", tc.in, cpu, tc.cpu)
		}
		if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%q: error %v, want %q", tc.in, err, tc.wantErr)
		}
	}
}
