package canonicaljson

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

// The examples from the spec appendix "Canonical JSON", verbatim.
func TestSpecExamples(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty object", `{}`, `{}`},
		{"two keys", "{\n    \"one\": 1,\n    \"two\": \"Two\"\n}", `{"one":1,"two":"Two"}`},
		{"sorting", "{\n    \"b\": \"2\",\n    \"a\": \"1\"\n}", `{"a":"1","b":"2"}`},
		{"sorting compact", `{"b":"2","a":"1"}`, `{"a":"1","b":"2"}`},
		{"nested", `{
    "auth": {
        "success": true,
        "mxid": "@john.doe:example.com",
        "profile": {
            "display_name": "John Doe",
            "three_pids": [
                {
                    "medium": "email",
                    "address": "john.doe@example.org"
                },
                {
                    "medium": "msisdn",
                    "address": "123456789"
                }
            ]
        }
    }
}`, `{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":[{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},"success":true}}`},
		{"non-ASCII value", "{\n    \"a\": \"日本語\"\n}", `{"a":"日本語"}`},
		{"non-ASCII keys sorted by codepoint", "{\n    \"本\": 2,\n    \"日\": 1\n}", `{"日":1,"本":2}`},
		{"unicode escape decoded", "{\n    \"a\": \"\\u65E5\"\n}", `{"a":"日"}`},
		{"null", "{\n    \"a\": null\n}", `{"a":null}`},
		{"negative zero and exponent", "{\n    \"a\": -0,\n    \"b\": 1e10\n}", `{"a":0,"b":10000000000}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Canonicalize([]byte(tt.in))
			if err != nil {
				t.Fatalf("Canonicalize: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("Canonicalize = %s, want %s", got, tt.want)
			}
			v, err := Decode([]byte(tt.in))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			got, err = Marshal(v)
			if err != nil {
				t.Fatalf("Marshal(Decode): %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("Marshal(Decode) = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestCanonicalize(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"top-level scalars", ` 12 `, `12`},
		{"top-level string", `"x"`, `"x"`},
		{"top-level true", `true`, `true`},
		{"top-level false", `false`, `false`},
		{"top-level null", `null`, `null`},
		{"empty array", `[ ]`, `[]`},
		{"empty object with space", "{ \n}", `{}`},
		{"array order kept", `[3, 1, 2]`, `[3,1,2]`},
		{"short escapes", `"\b\f\n\r\t\"\\"`, `"\b\f\n\r\t\"\\"`},
		{"solidus unescaped", `"\/"`, `"/"`},
		{"control escapes lower-case hex", `"\u0000\u001F\u000B"`, `"\u0000\u001f\u000b"`},
		{"short forms from \\u", `"\u0008\u0009\u000a\u000C\u000d"`, `"\b\t\n\f\r"`},
		{"DEL and line separators raw", `"\u007f\u2028\u2029"`, "\"\x7f\u2028\u2029\""},
		{"html chars raw", `"\u003c\u003e\u0026"`, `"<>&"`},
		{"surrogate pair", `"\ud83d\ude00"`, `"😀"`},
		{"raw astral", `"😀"`, `"😀"`},
		{"escaped key sorts by decoded value", `{"b":1,"\u0061":2}`, `{"a":2,"b":1}`},
		// "\n" (U+000A) sorts before "!" (U+0021) even though its escaped
		// spelling \n (0x5C) sorts after.
		{"control char key sorts by codepoint", `{"!":1,"\n":2}`, `{"\n":2,"!":1}`},
		{"codepoint order not UTF-16", `{"\uFF61":1,"\ud83d\ude00":2}`, `{"｡":1,"😀":2}`},
		{"nested reorder", `{"z":{"b":[{"y":1,"x":2}],"a":0},"a":[]}`, `{"a":[],"z":{"a":0,"b":[{"x":2,"y":1}]}}`},
		{"max int", `9007199254740991`, `9007199254740991`},
		{"min int", `-9007199254740991`, `-9007199254740991`},
		{"integral fraction", `2.000`, `2`},
		{"fraction with exponent", `1.5e1`, `15`},
		{"exponent plus", `1E+2`, `100`},
		{"negative exponent integral", `1500e-2`, `15`},
		{"zero spellings", `[-0, 0.0, -0.0e5, 0e-400]`, `[0,0,0,0]`},
		{"max int as exponent", `9.007199254740991e15`, `9007199254740991`},
		{"whitespace everywhere", " \t\r\n{ \"a\" : [ 1 , 2 ] } \n", `{"a":[1,2]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Canonicalize([]byte(tt.in))
			if err != nil {
				t.Fatalf("Canonicalize(%s): %v", tt.in, err)
			}
			if string(got) != tt.want {
				t.Errorf("Canonicalize(%s) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestRejects(t *testing.T) {
	deep := strings.Repeat("[", DefaultMaxDepth+1) + strings.Repeat("]", DefaultMaxDepth+1)
	deepObj := strings.Repeat(`{"a":`, DefaultMaxDepth+1) + "1" + strings.Repeat("}", DefaultMaxDepth+1)
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty", ``, ErrSyntax},
		{"whitespace only", `  `, ErrSyntax},
		{"trailing data", `{} {}`, ErrSyntax},
		{"trailing comma object", `{"a":1,}`, ErrSyntax},
		{"trailing comma array", `[1,]`, ErrSyntax},
		{"missing colon", `{"a" 1}`, ErrSyntax},
		{"unquoted key", `{a:1}`, ErrSyntax},
		{"single quotes", `'a'`, ErrSyntax},
		{"unterminated string", `"abc`, ErrSyntax},
		{"unterminated object", `{"a":1`, ErrSyntax},
		{"unterminated array", `[1`, ErrSyntax},
		{"raw newline in string", "\"a\nb\"", ErrSyntax},
		{"raw tab in string", "\"a\tb\"", ErrSyntax},
		{"bad escape", `"\x"`, ErrSyntax},
		{"short unicode escape", `"\u12"`, ErrSyntax},
		{"non-hex unicode escape", `"\u12g4"`, ErrSyntax},
		{"leading zero", `01`, ErrSyntax},
		{"plus sign", `+1`, ErrSyntax},
		{"bare minus", `-`, ErrSyntax},
		{"dot without digits", `1.`, ErrSyntax},
		{"leading dot", `.5`, ErrSyntax},
		{"exponent without digits", `1e`, ErrSyntax},
		{"NaN", `NaN`, ErrSyntax},
		{"Infinity", `-Infinity`, ErrSyntax},
		{"truncated literal", `tru`, ErrSyntax},
		{"misspelled literal", `nul1`, ErrSyntax},
		{"capitalised literal", `True`, ErrSyntax},
		{"BOM", "\ufeff{}", ErrSyntax},
		{"comment", `{} // x`, ErrSyntax},
		{"duplicate key", `{"a":1,"a":2}`, ErrDuplicateKey},
		{"duplicate key sorted position", `{"a":1,"b":2,"a":3}`, ErrDuplicateKey},
		{"duplicate key via escape", `{"a":1,"\u0061":2}`, ErrDuplicateKey},
		{"nested duplicate key", `{"x":[{"k":1,"k":1}]}`, ErrDuplicateKey},
		{"too big", `9007199254740992`, ErrNumberOutOfRange},
		{"too small", `-9007199254740992`, ErrNumberOutOfRange},
		{"huge", `123456789012345678901234567890`, ErrNumberOutOfRange},
		{"huge exponent", `1e400`, ErrNumberOutOfRange},
		{"saturating exponent", `1e99999999999999999999`, ErrNumberOutOfRange},
		{"exponent just over", `9.007199254740992e15`, ErrNumberOutOfRange},
		{"fraction", `1.5`, ErrFloat},
		{"tiny", `1e-400`, ErrFloat},
		{"negative fraction", `-0.1`, ErrFloat},
		{"fraction in object", `{"a":3.14}`, ErrFloat},
		{"lone high surrogate", `"\ud800"`, ErrInvalidUTF8},
		{"lone high surrogate then text", `"\ud800abcdef"`, ErrInvalidUTF8},
		{"high surrogate then non-surrogate escape", `"\ud800\u0041"`, ErrInvalidUTF8},
		{"two high surrogates", `"\ud800\ud800"`, ErrInvalidUTF8},
		{"lone low surrogate", `"\udc00"`, ErrInvalidUTF8},
		{"invalid UTF-8 byte", "\"\xff\"", ErrInvalidUTF8},
		{"truncated UTF-8", "\"\xe6\x97\"", ErrInvalidUTF8},
		{"overlong UTF-8", "\"\xc0\xaf\"", ErrInvalidUTF8},
		{"UTF-8 encoded surrogate", "\"\xed\xa0\x80\"", ErrInvalidUTF8},
		{"invalid UTF-8 in key", "{\"\xff\":1}", ErrInvalidUTF8},
		{"too deep array", deep, ErrTooDeep},
		{"too deep object", deepObj, ErrTooDeep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Canonicalize([]byte(tt.in)); !errors.Is(err, tt.want) {
				t.Errorf("Canonicalize(%q) error = %v, want %v", tt.in, err, tt.want)
			}
			if _, err := Decode([]byte(tt.in)); !errors.Is(err, tt.want) {
				t.Errorf("Decode(%q) error = %v, want %v", tt.in, err, tt.want)
			}
			var cerr *Error
			if _, err := Decode([]byte(tt.in)); !errors.As(err, &cerr) {
				t.Errorf("Decode(%q) error %T is not *Error", tt.in, err)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	in := []byte(`{"a":"0123456789"}`)
	if _, err := (Options{MaxBytes: len(in) - 1}).Canonicalize(in); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Canonicalize over MaxBytes: err = %v, want ErrTooLarge", err)
	}
	if _, err := (Options{MaxBytes: len(in) - 1}).Decode(in); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Decode over MaxBytes: err = %v, want ErrTooLarge", err)
	}
	if _, err := (Options{MaxBytes: len(in)}).Canonicalize(in); err != nil {
		t.Errorf("Canonicalize at MaxBytes: %v", err)
	}
	nested := []byte(`[[[1]]]`)
	if _, err := (Options{MaxDepth: 2}).Canonicalize(nested); !errors.Is(err, ErrTooDeep) {
		t.Errorf("depth 3 with MaxDepth 2: err = %v, want ErrTooDeep", err)
	}
	if _, err := (Options{MaxDepth: 3}).Decode(nested); err != nil {
		t.Errorf("depth 3 with MaxDepth 3: %v", err)
	}
	ok := strings.Repeat("[", DefaultMaxDepth) + strings.Repeat("]", DefaultMaxDepth)
	if _, err := Canonicalize([]byte(ok)); err != nil {
		t.Errorf("depth %d: %v", DefaultMaxDepth, err)
	}
}

func TestNumberOptions(t *testing.T) {
	strict := Options{StrictNumbers: true}
	for _, in := range []string{`1e10`, `1.0`, `-0.0`, `0e0`, `{"a":[2E1]}`} {
		if _, err := strict.Canonicalize([]byte(in)); !errors.Is(err, ErrFloat) {
			t.Errorf("StrictNumbers Canonicalize(%s): err = %v, want ErrFloat", in, err)
		}
	}
	if got, err := strict.Canonicalize([]byte(`[-0,12]`)); err != nil || string(got) != `[0,12]` {
		t.Errorf("StrictNumbers plain integers = %s, %v", got, err)
	}

	large := Options{AllowLargeIntegers: true}
	in := `{"b":-123456789012345678901234567890,"a":9007199254740992}`
	got, err := large.Canonicalize([]byte(in))
	if want := `{"a":9007199254740992,"b":-123456789012345678901234567890}`; err != nil || string(got) != want {
		t.Errorf("AllowLargeIntegers Canonicalize = %s, %v; want %s", got, err, want)
	}
	v, err := large.Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if n := v.(map[string]any)["a"]; n != json.Number("9007199254740992") {
		t.Errorf("AllowLargeIntegers Decode gave %#v, want json.Number", n)
	}
	if got, err := large.Marshal(v); err != nil || string(got) != `{"a":9007199254740992,"b":-123456789012345678901234567890}` {
		t.Errorf("AllowLargeIntegers Marshal = %s, %v", got, err)
	}
	if got, err := large.Marshal(int64(math.MaxInt64)); err != nil || string(got) != "9223372036854775807" {
		t.Errorf("AllowLargeIntegers Marshal(MaxInt64) = %s, %v", got, err)
	}
	// Exponent forms of large values stay rejected: normalising them
	// could mean writing out arbitrarily many digits.
	if _, err := large.Canonicalize([]byte(`1e20`)); !errors.Is(err, ErrNumberOutOfRange) {
		t.Errorf("AllowLargeIntegers 1e20: err = %v, want ErrNumberOutOfRange", err)
	}
}

func TestDecodeTypes(t *testing.T) {
	v, err := Decode([]byte(`{"s":"x\u00e9","n":-42,"t":true,"f":false,"z":null,"a":[1,"2"],"o":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"s": "xé", "n": int64(-42), "t": true, "f": false, "z": nil,
		"a": []any{int64(1), "2"}, "o": map[string]any{},
	}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("Decode = %#v, want %#v", v, want)
	}
	v, err = Decode([]byte(`[]`))
	if err != nil || !reflect.DeepEqual(v, []any{}) {
		t.Errorf("Decode([]) = %#v, %v; want empty non-nil slice", v, err)
	}
}

type userID string

type textKey struct{ s string }

func (k textKey) MarshalText() ([]byte, error) { return []byte("k:" + k.s), nil }

type custom struct{}

func (custom) MarshalJSON() ([]byte, error) { return []byte(`{ "z" : 1, "a" : "\u003c" }`), nil }

type event struct {
	Type     string          `json:"type"`
	Sender   userID          `json:"sender"`
	Content  map[string]any  `json:"content"`
	Depth    int64           `json:"depth"`
	Unsigned json.RawMessage `json:"unsigned,omitempty"`
	Skip     string          `json:"-"`
}

func TestMarshal(t *testing.T) {
	var nilMap map[string]any
	var nilSlice []string
	var nilPtr *int
	seven := 7
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"nil", nil, `null`},
		{"string escapes", "a\"b\\c\x01\x7f<>&\u2028", "\"a\\\"b\\\\c\\u0001\x7f<>&\u2028\""},
		{"ints", []any{int8(-8), int16(16), int32(-32), int64(64), 1, uint(2), uint8(8), uint16(16), uint32(32), uint64(64)}, `[-8,16,-32,64,1,2,8,16,32,64]`},
		{"max", int64(MaxSafeInteger), `9007199254740991`},
		{"min", int64(MinSafeInteger), `-9007199254740991`},
		{"bools", []bool{true, false}, `[true,false]`},
		{"named string", userID("@a:b"), `"@a:b"`},
		{"map sorted", map[string]any{"b": 1, "a": map[string]any{"d": nil, "c": []any{}}}, `{"a":{"c":[],"d":null},"b":1}`},
		{"typed map", map[userID]int{"b": 2, "a": 1}, `{"a":1,"b":2}`},
		{"map of strings", map[string]string{"日": "1", "本": "2", "a": "0"}, `{"a":"0","日":"1","本":"2"}`},
		{"int keys via encoding/json", map[int]string{10: "x", 2: "y"}, `{"10":"x","2":"y"}`},
		{"text keys via encoding/json", map[textKey]int{{"b"}: 1, {"a"}: 2}, `{"k:a":2,"k:b":1}`},
		{"nil map", nilMap, `null`},
		{"nil slice", nilSlice, `null`},
		{"nil pointer", nilPtr, `null`},
		{"pointer", &seven, `7`},
		{"array", [3]int{3, 2, 1}, `[3,2,1]`},
		{"bytes as encoding/json base64", []byte("hi"), `"aGk="`},
		{"json.Number", json.Number("-0"), `0`},
		{"json.Number exponent", json.Number("1e3"), `1000`},
		{"raw message", json.RawMessage(`{"b" : [ 1 ], "a":"\u00e9"}`), `{"a":"é","b":[1]}`},
		{"nil raw message", json.RawMessage(nil), `null`},
		{"json.Marshaler", custom{}, `{"a":"<","z":1}`},
		{"struct via encoding/json", event{Type: "m.room.message", Sender: "@a:b", Content: map[string]any{"body": "<hi>", "msgtype": "m.text"}, Depth: 3, Unsigned: json.RawMessage(`{"age":1}`), Skip: "x"},
			`{"content":{"body":"<hi>","msgtype":"m.text"},"depth":3,"sender":"@a:b","type":"m.room.message","unsigned":{"age":1}}`},
		{"struct in map", map[string]any{"e": event{Type: "t"}}, `{"e":{"content":null,"depth":0,"sender":"","type":"t"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Marshal(tt.in)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("Marshal = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestMarshalRejects(t *testing.T) {
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	tests := []struct {
		name string
		in   any
		want error
	}{
		{"float64", 1.0, ErrFloat},
		{"float32", float32(2), ErrFloat},
		{"float in map", map[string]any{"a": 0.5}, ErrFloat},
		{"named float", []time_{1}, ErrFloat},
		{"int out of range", int64(MaxSafeInteger + 1), ErrNumberOutOfRange},
		{"negative out of range", int64(MinSafeInteger - 1), ErrNumberOutOfRange},
		{"uint out of range", uint64(math.MaxUint64), ErrNumberOutOfRange},
		{"invalid UTF-8 string", "\xff", ErrInvalidUTF8},
		{"invalid UTF-8 key", map[string]any{"\xff": 1}, ErrInvalidUTF8},
		{"invalid UTF-8 typed key", map[userID]int{"\xfe": 1}, ErrInvalidUTF8},
		{"bad json.Number", json.Number("abc"), ErrSyntax},
		{"json.Number string", json.Number(`"1"`), ErrSyntax},
		{"float json.Number", json.Number("1.5"), ErrFloat},
		{"bad raw message", json.RawMessage(`{"a":1,"a":2}`), ErrDuplicateKey},
		{"channel", make(chan int), ErrUnsupportedType},
		{"func", func() {}, ErrUnsupportedType},
		{"complex", complex(1, 2), ErrUnsupportedType},
		{"cyclic map", cyclic, ErrTooDeep},
		{"struct with float", struct{ F float64 }{1.5}, ErrFloat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := Marshal(tt.in); !errors.Is(err, tt.want) {
				t.Errorf("Marshal = %s, %v; want error %v", got, err, tt.want)
			}
		})
	}
}

type time_ float64

// Canonicalize must agree with Marshal(Decode(x)) on every input.
func TestCanonicalizeMatchesMarshalDecode(t *testing.T) {
	for _, in := range []string{sampleEvent, `{"b":{"d":1,"c":2},"a":[{"z":"\n","y":"\u0001"}]}`} {
		c, err := Canonicalize([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		v, err := Decode([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		m, err := Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if string(c) != string(m) {
			t.Errorf("Canonicalize = %s\nMarshal(Decode) = %s", c, m)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	_, err := Decode([]byte(`{"a":1,"a":2}`))
	if got := err.Error(); !strings.Contains(got, "duplicate") || !strings.Contains(got, `"a"`) || !strings.Contains(got, "byte 7") {
		t.Errorf("error message %q lacks detail", got)
	}
}
