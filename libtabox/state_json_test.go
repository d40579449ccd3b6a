package libtabox

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"reflect"
	"strconv"
	"testing"
	"testing/iotest"
	"time"

	"github.com/tabox/tabox/internal/jsonfast"
	"github.com/tabox/tabox/internal/jsongen"
)

var updateJSON = flag.Bool("update-json", false, "rewrite state_json.go")

// TestStateCodecGenerated: state_json.go is what internal/jsongen makes
// of the state's types as they are.
func TestStateCodecGenerated(t *testing.T) {
	src, err := jsongen.Generate(jsongen.Config{
		Package: "libtabox",
		PkgPath: "github.com/tabox/tabox/libtabox",
		Roots:   []reflect.Type{reflect.TypeOf(savedState{}), reflect.TypeOf(stateHeader{}), reflect.TypeOf(syncMsg{})},
		Decode:  true,
		Encode:  true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := jsongen.WriteOrCheck("state_json.go", src, *updateJSON); err != nil {
		t.Fatal(err)
	}
}

// fill sets every field reachable from v (a pointer) to a value that is
// not empty: strings from str, numbers from n, two elements in slices and
// maps. Types with their own JSON methods (time.Time) are set by setTime.
func fill(v reflect.Value, str string, n int64, depth int) {
	if v.Type() == reflect.TypeOf(time.Time{}) {
		v.Set(reflect.ValueOf(time.Date(2026, 11, 28, 21, 0, 0, int(n), time.UTC)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(str)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(n % 100)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		v.SetUint(uint64(n % 200))
	case reflect.Ptr:
		if depth > 6 {
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), str, n+1, depth+1)
	case reflect.Slice:
		if depth > 6 {
			return
		}
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := 0; i < 2; i++ {
			fill(s.Index(i), str+strconv.Itoa(i), n+int64(i), depth+1)
		}
		v.Set(s)
	case reflect.Map:
		if depth > 6 {
			return
		}
		m := reflect.MakeMap(v.Type())
		for i := 0; i < 2; i++ {
			k := reflect.New(v.Type().Key()).Elem()
			k.SetString(str + "k" + strconv.Itoa(i))
			e := reflect.New(v.Type().Elem()).Elem()
			fill(e, str, n+int64(i), depth+1)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() || v.Type().Field(i).Anonymous {
				fill(v.Field(i), str, n+int64(i), depth+1)
			}
		}
	}
}

// TestStateCodec: the generated encoder writes what json.Marshal writes,
// and the generated decoder reads that as json.Unmarshal does, for a
// state with every field set (strings that need escapes included), and
// for an empty one.
func TestStateCodec(t *testing.T) {
	var full savedState
	fill(reflect.ValueOf(&full).Elem(), "a<b>&\"\\\n\u2028é\xff", 3, 0)
	var plain savedState
	fill(reflect.ValueOf(&plain).Elem(), "x", 1, 0)
	for name, s := range map[string]*savedState{"full": &full, "plain": &plain, "empty": {}} {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		e := &jsonfast.Encoder{}
		encodeSavedState(e, s)
		if e.Err != nil || !bytes.Equal(e.B, want) {
			i := 0
			for i < len(e.B) && i < len(want) && e.B[i] == want[i] {
				i++
			}
			t.Fatalf("%s: encoded differently from byte %d:\n%.300s\njson.Marshal:\n%.300s", name, i, e.B[max(0, i-100):], want[max(0, i-100):])
		}
		var std savedState
		if err := json.Unmarshal(want, &std); err != nil {
			t.Fatal(err)
		}
		d := jsonfast.NewDecoder(want)
		var fast savedState
		decodeSavedState(d, &fast)
		if !d.End() {
			t.Fatalf("%s: the generated decoder left json.Marshal's output to encoding/json", name)
		}
		if !reflect.DeepEqual(fast, std) {
			t.Fatalf("%s: decoded\n%+v\njson.Unmarshal:\n%+v", name, fast, std)
		}
		he := &jsonfast.Encoder{}
		encodeStateHeader(he, &s.stateHeader)
		if hw, _ := json.Marshal(&s.stateHeader); !bytes.Equal(he.B, hw) {
			t.Fatalf("%s: header encoded\n%s\njson.Marshal:\n%s", name, he.B, hw)
		}
	}
	// A state the generated decoder leaves to encoding/json still loads.
	s, err := unmarshalState([]byte(`{"ID":"c1","initPid":7,"config":{"Hostname":"h"}}`))
	if err != nil || s.ID != "c1" || s.InitPid != 7 || s.Config.Hostname != "h" {
		t.Fatalf("unmarshalState = %+v, %v", s, err)
	}
}

// TestSyncMsgCodec: a sync message is written as json.Marshal writes it,
// and the parent reads back, a line at a time, what encoding/json reads,
// whether the lines come together or a byte at a time.
func TestSyncMsgCodec(t *testing.T) {
	msgs := []syncMsg{
		{Type: msgHooks, State: json.RawMessage(`{ "id" : "c<1>&", "pid": 5, "x": "\u2028" }`)},
		{Type: msgError, Error: &InitError{Step: "mounts", Message: "mount \"/a<b>\": \xff EPERM\n"}},
		{Type: msgExec, CPU: 1234567, Mono: 987654321},
		{Type: msgPid, Pid: 42},
		{Type: msgReady},
	}
	var stream []byte
	for _, m := range msgs {
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		e := &jsonfast.Encoder{}
		encodeSyncMsg(e, &m)
		if e.Err != nil || !bytes.Equal(e.B, want) {
			t.Fatalf("encoded %s, json.Marshal: %s", e.B, want)
		}
		stream = append(append(stream, want...), '\n')
	}
	for name, r := range map[string]func() io.Reader{
		"whole":    func() io.Reader { return bytes.NewReader(stream) },
		"bytewise": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(stream)) },
	} {
		p := &syncPipe{lines: r()}
		for _, want := range msgs {
			var std syncMsg
			b, _ := json.Marshal(want)
			json.Unmarshal(b, &std)
			var got syncMsg
			if err := p.decodeLine(&got); err != nil || !reflect.DeepEqual(got, std) {
				t.Fatalf("%s: read %+v, %v; want %+v", name, got, err, std)
			}
		}
		if _, err := p.recv(); err != io.EOF {
			t.Fatalf("%s: after the last message: %v, want EOF", name, err)
		}
	}
}
