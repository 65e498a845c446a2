package rawjson

import (
	"strings"
	"testing"
)

func TestObjectIteration(t *testing.T) {
	obj := []byte(` { "a" : 1 , "b\u0063":{"x":[1,"]",{}]}, "s":"q\"uote" ,"n":null} `)
	it, ok := Object(obj)
	if !ok {
		t.Fatal("not an object")
	}
	var keys []string
	for {
		m, ok := it.Next()
		if !ok {
			break
		}
		keys = append(keys, string(m.Key))
		if string(obj[m.Start:m.End]) == "" {
			t.Fatal("empty member span")
		}
	}
	if it.Malformed() || len(keys) != 4 || keys[1] != `b\u0063` {
		t.Fatalf("keys %q malformed=%v", keys, it.Malformed())
	}
	if v, ok := Lookup(obj, "bc"); !ok || string(v) != `{"x":[1,"]",{}]}` {
		t.Fatalf("escaped key lookup: %q %v", v, ok)
	}
	if s, ok := LookupString(obj, "s"); !ok || s != `q"uote` {
		t.Fatalf("LookupString: %q %v", s, ok)
	}
	if v, _ := Lookup(obj, "n"); !IsNull(v) {
		t.Fatal("null not seen")
	}
}

func TestCanonicalMemberSpans(t *testing.T) {
	obj := []byte(`{"a":1,"b":"x"}`)
	it, _ := Object(obj)
	m, _ := it.Next()
	if string(obj[m.Start:m.End]) != `"a":1` {
		t.Fatalf("span %q", obj[m.Start:m.End])
	}
}

func TestArrayIteration(t *testing.T) {
	it, ok := Array([]byte(`[ "a", [1,2] ,{"k":"]"} ]`))
	if !ok {
		t.Fatal("not an array")
	}
	var n int
	for {
		if _, ok := it.Next(); !ok {
			break
		}
		n++
	}
	if n != 3 || it.Malformed() {
		t.Fatalf("%d elements, malformed=%v", n, it.Malformed())
	}
}

func TestMalformedInputStops(t *testing.T) {
	for _, in := range []string{`{"a"`, `{"a":}`, `{"a":"x`, `{1:2}`, `{"a":1,`, `[1,`, `["x`} {
		if in[0] == '{' {
			it, _ := Object([]byte(in))
			for i := 0; i < 10; i++ {
				if _, ok := it.Next(); !ok {
					break
				}
			}
		} else {
			it, _ := Array([]byte(in))
			for i := 0; i < 10; i++ {
				if _, ok := it.Next(); !ok {
					break
				}
			}
		}
	}
}

func TestStringEquals(t *testing.T) {
	if !StringEquals([]byte(`"join"`), "join") || !StringEquals([]byte(`"j\u006fin"`), "join") || StringEquals([]byte(`"leave"`), "join") {
		t.Fatal("StringEquals")
	}
}

func FuzzObject(f *testing.F) {
	f.Add([]byte(`{"a":[1,{"b":"c"}],"d":"e\\"f"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		it, _ := Object(b)
		for i := 0; i < len(b)+1; i++ {
			m, ok := it.Next()
			if !ok {
				break
			}
			_ = m.KeyIs("a")
			_, _ = StringValue(m.Value)
		}
		_, _ = Lookup(b, "x")
	})
}

func TestTolerantScan(t *testing.T) {
	obj := []byte(` { "a" : 1 , "b\u0063" : "x" , "n" : {"d":[1,{"e":"}"}]} , "s":"q\"uote" } `)
	if v, ok := Lookup(obj, "a"); !ok || string(v) != "1" {
		t.Errorf("a: %q %v", v, ok)
	}
	if v, ok := Lookup(obj, "bc"); !ok || string(v) != `"x"` {
		t.Errorf("escaped key: %q %v", v, ok)
	}
	if v, ok := Lookup(obj, "n"); !ok || string(v) != `{"d":[1,{"e":"}"}]}` {
		t.Errorf("nested: %q %v", v, ok)
	}
	if s, ok := LookupString(obj, "s"); !ok || s != `q"uote` {
		t.Errorf("string: %q %v", s, ok)
	}
	if _, ok := Lookup(obj, "missing"); ok {
		t.Error("missing key found")
	}
	for _, bad := range []string{``, `[]`, `{`, `{"a"`, `{"a":`, `{"a":"x`, `{"a":{"b":1}`, `{1:2}`, `nul`} {
		_, _ = Lookup([]byte(bad), "a")
		_, _ = Lookup([]byte(bad), "b")
		ArrayEach([]byte(bad), func([]byte) bool { return true })
	}
	var elems []string
	if !ArrayEach([]byte(` [ 1, "a" ,{"x":[2]} ] `), func(e []byte) bool { elems = append(elems, string(e)); return true }) {
		t.Error("array not well-formed")
	}
	if strings.Join(elems, "|") != `1|"a"|{"x":[2]}` {
		t.Errorf("elems %q", elems)
	}
	if !ArrayEach([]byte(`[]`), func([]byte) bool { t.Error("empty array has elements"); return true }) {
		t.Error("empty array not well-formed")
	}
	if ArrayEach([]byte(`[1 2]`), func([]byte) bool { return true }) {
		t.Error("[1 2] accepted")
	}
}

// TestSkipStringEscapes covers quotes escaped by odd runs of backslashes
// and not by even ones, where the vectorised scan must look back.
func TestSkipStringEscapes(t *testing.T) {
	for in, end := range map[string]int{
		`"plain" tail`:  7,
		`"a\"b" tail`:   6,
		`"a\\" tail`:    5,
		`"a\\\"b" tail`: 8,
		`"\"\\"`:        6,
		`"\\\\"`:        6,
		`"` + strings.Repeat("x", 100) + `\\\\\"y"`: 109,
	} {
		got, ok := skipString([]byte(in), 0)
		if !ok || got != end {
			t.Errorf("skipString(%s) = %d, %v; want %d", in, got, ok, end)
		}
	}
	for _, in := range []string{`"`, `"abc`, `"abc\"`, `"abc\\\"`} {
		if _, ok := skipString([]byte(in), 0); ok {
			t.Errorf("skipString(%s) ok on an unterminated string", in)
		}
	}
}
