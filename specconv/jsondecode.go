package specconv

//go:generate go run ./internal/specjsongen -o spec_json.go

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// decodeSpecFast decodes a config.json into what json.Unmarshal would
// make of it, with the generated decoder of spec_json.go, or reports
// false for anything that decoder leaves to encoding/json (see
// internal/specjsongen), including every malformed document.
func decodeSpecFast(data []byte) (*specs.Spec, bool) {
	d := &decoder{b: data}
	var s specs.Spec
	decodeSpec(d, &s)
	d.ws()
	if d.bad || d.i != len(d.b) {
		return nil, false
	}
	return &s, true
}

// decoder reads one JSON document. After the first thing it does not
// handle it is bad, and every read returns a zero value.
type decoder struct {
	b   []byte
	i   int
	bad bool
}

func (d *decoder) fail() {
	d.bad = true
	d.i = len(d.b)
}

func (d *decoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// next skips whitespace and returns the next byte, or 0 at the end.
func (d *decoder) next() byte {
	d.ws()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// once marks a struct field as decoded: encoding/json merges a repeated
// key into what the first one decoded, which the generated code does not.
func (d *decoder) once(seen *uint64, field uint) {
	if *seen&(1<<field) != 0 {
		d.fail()
	}
	*seen |= 1 << field
}

// object reads an object, calling f with each key; f reads the value.
func (d *decoder) object(f func(key []byte)) {
	if d.next() != '{' {
		d.fail()
		return
	}
	d.i++
	if d.next() == '}' {
		d.i++
		return
	}
	for !d.bad {
		k := d.strBytes()
		if d.next() != ':' {
			d.fail()
			return
		}
		d.i++
		f(k)
		switch d.next() {
		case ',':
			d.i++
		case '}':
			d.i++
			return
		default:
			d.fail()
		}
	}
}

// array reads an array, calling f for each element.
func (d *decoder) array(f func()) {
	if d.next() != '[' {
		d.fail()
		return
	}
	d.i++
	if d.next() == ']' {
		d.i++
		return
	}
	for !d.bad {
		f()
		switch d.next() {
		case ',':
			d.i++
		case ']':
			d.i++
			return
		default:
			d.fail()
		}
	}
}

func (d *decoder) boolean() bool {
	switch d.next() {
	case 't':
		if len(d.b)-d.i >= 4 && string(d.b[d.i:d.i+4]) == "true" {
			d.i += 4
			return true
		}
	case 'f':
		if len(d.b)-d.i >= 5 && string(d.b[d.i:d.i+5]) == "false" {
			d.i += 5
			return false
		}
	}
	d.fail()
	return false
}

// integer returns the text of an integer: JSON's number syntax without a
// fraction or an exponent, which encoding/json refuses for integer types.
func (d *decoder) integer() []byte {
	d.ws()
	start := d.i
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	switch {
	case d.i < len(d.b) && d.b[d.i] == '0':
		d.i++
	case d.i < len(d.b) && d.b[d.i] >= '1' && d.b[d.i] <= '9':
		for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
			d.i++
		}
	default:
		d.fail()
		return nil
	}
	if d.i < len(d.b) {
		switch d.b[d.i] {
		case '.', 'e', 'E', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			d.fail()
			return nil
		}
	}
	return d.b[start:d.i]
}

func (d *decoder) int(bits int) int64 {
	s := d.integer()
	if d.bad {
		return 0
	}
	n, err := strconv.ParseInt(string(s), 10, bits)
	if err != nil {
		d.fail()
	}
	return n
}

func (d *decoder) uint(bits int) uint64 {
	s := d.integer()
	if d.bad {
		return 0
	}
	n, err := strconv.ParseUint(string(s), 10, bits)
	if err != nil {
		d.fail()
	}
	return n
}

func (d *decoder) str() string {
	return string(d.strBytes())
}

// strBytes reads a string. Invalid UTF-8 and lone surrogates, which
// encoding/json replaces with U+FFFD, are left to it.
func (d *decoder) strBytes() []byte {
	if d.next() != '"' {
		d.fail()
		return nil
	}
	d.i++
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			if !utf8.Valid(s) {
				d.fail()
				return nil
			}
			return s
		case c == '\\':
			return d.escapedStr(start)
		case c < 0x20:
			d.fail()
			return nil
		}
		d.i++
	}
	d.fail()
	return nil
}

func (d *decoder) escapedStr(start int) []byte {
	buf := append([]byte(nil), d.b[start:d.i]...)
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			if !utf8.Valid(buf) {
				d.fail()
				return nil
			}
			return buf
		case c < 0x20:
			d.fail()
			return nil
		case c != '\\':
			buf = append(buf, c)
			d.i++
			continue
		}
		if d.i+1 >= len(d.b) {
			break
		}
		e := d.b[d.i+1]
		d.i += 2
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r := d.hex4()
			if utf16.IsSurrogate(r) {
				if d.i+1 < len(d.b) && d.b[d.i] == '\\' && d.b[d.i+1] == 'u' {
					d.i += 2
					r = utf16.DecodeRune(r, d.hex4())
				} else {
					r = utf8.RuneError
				}
				if r == utf8.RuneError {
					d.fail()
					return nil
				}
			}
			if d.bad {
				return nil
			}
			buf = utf8.AppendRune(buf, r)
		default:
			d.fail()
			return nil
		}
	}
	d.fail()
	return nil
}

func (d *decoder) hex4() rune {
	if len(d.b)-d.i < 4 {
		d.fail()
		return 0
	}
	var r rune
	for _, c := range d.b[d.i : d.i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			d.fail()
			return 0
		}
		r = r<<4 | rune(c)
	}
	d.i += 4
	return r
}
