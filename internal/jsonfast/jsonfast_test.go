package jsonfast

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// FuzzStr: a string is quoted as json.Marshal quotes it.
func FuzzStr(f *testing.F) {
	for _, s := range []string{"", "plain", "<a&b>", "\"\\/\b\f\n\r\t\x00\x1f\x7f", "\u2028\u2029é😀", "\xff\xfe", "a\xc3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		e := &Encoder{}
		e.Str(s)
		if !bytes.Equal(e.B, want) {
			t.Fatalf("Str(%q) = %s, json.Marshal: %s", s, e.B, want)
		}
		// And read back as json.Unmarshal reads it.
		var std string
		if err := json.Unmarshal(want, &std); err != nil {
			t.Fatal(err)
		}
		d := NewDecoder(want)
		if got := d.Str(); !d.End() || got != std {
			t.Fatalf("Str of %s = %q (end %v), json.Unmarshal: %q", want, got, d.End(), std)
		}
	})
}

// TestRaw: Raw takes exactly one value of any kind.
func TestRaw(t *testing.T) {
	for _, doc := range []string{`{"a":[1,-2.5e+3,true,false,null,"x\"y"],"b":{}}`, `[]`, `"s"`, `0`, `-0.1E-2`, `null`} {
		d := NewDecoder([]byte(" " + doc + " "))
		if got := d.Raw(); string(got) != doc || !d.End() {
			t.Errorf("Raw of %s = %s, end %v", doc, got, d.End())
		}
	}
	for _, doc := range []string{`{"a":}`, `[1,]`, `01`, `1.`, `1e`, `nul`, `"x`} {
		d := NewDecoder([]byte(doc))
		if d.Raw(); d.End() {
			t.Errorf("Raw took %s", doc)
		}
	}
}

// rawMarshaler writes its own JSON, spaced out and with characters that
// encoding/json escapes in a Marshaler's output.
type rawMarshaler string

func (m rawMarshaler) MarshalJSON() ([]byte, error) { return []byte(m), nil }

// TestMarshaler: the output of a MarshalJSON is what json.Marshal makes
// of it (compacted, HTML-escaped), and an invalid one is an error; a
// time.Time reads back as json.Unmarshal reads it.
func TestMarshaler(t *testing.T) {
	for _, m := range []rawMarshaler{`{ "a" : [ 1, 2 ] }`, `"<b>&\u2028"`, "\"x\u2029y\"", `null`} {
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		e := &Encoder{B: []byte("[")}
		e.Marshal(m)
		if e.Err != nil || string(e.B) != "["+string(want) {
			t.Errorf("Marshal(%s) = %s, %v; json.Marshal: %s", m, e.B, e.Err, want)
		}
	}
	e := &Encoder{}
	e.Marshal(rawMarshaler(`{"a":`))
	if e.Err == nil {
		t.Errorf("Marshal of invalid JSON: no error")
	}
	now := time.Now()
	doc, _ := json.Marshal(now)
	var got time.Time
	d := NewDecoder(doc)
	if d.Unmarshal(&got); !d.End() || !got.Equal(now) {
		t.Errorf("Unmarshal(%s) = %v, want %v", doc, got, now)
	}
}
