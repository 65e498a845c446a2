package canonicaljson

import (
	"encoding"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Marshal encodes v canonically with the default Options.
//
// Supported values: nil, bool, string (and named string types), all integer
// types (range-checked), json.Number and json.RawMessage (validated and
// re-encoded as by Canonicalize), maps with string keys, slices, arrays,
// pointers and interfaces of those. Structs, types implementing
// json.Marshaler or encoding.TextMarshaler, []byte and maps with integer
// keys are encoded by encoding/json and the result canonicalized, so struct
// tags work as usual. Floating-point values are rejected with ErrFloat
// (even integral ones) because canonical JSON has no floats; a float inside
// a struct reaches us as encoding/json's text and is accepted only if its
// value is an integer. Invalid UTF-8 in a string is rejected rather than
// silently replaced, because a replacement would change signed content.
func Marshal(v any) ([]byte, error) { return Options{}.Marshal(v) }

// Marshal encodes v canonically; see the package-level Marshal. MaxBytes
// does not apply (the value is trusted), MaxDepth does (it also stops
// cyclic maps).
func (o Options) Marshal(v any) ([]byte, error) {
	return o.AppendMarshal(nil, v)
}

// AppendMarshal appends the canonical encoding of v to dst.
func (o Options) AppendMarshal(dst []byte, v any) ([]byte, error) {
	e := encoder{opts: o, maxDepth: o.maxDepth()}
	out, err := e.encode(dst, v)
	if err != nil {
		return dst, err
	}
	return out, nil
}

type encoder struct {
	opts     Options
	depth    int
	maxDepth int
	keys     []string
}

func marshalErr(sentinel error, detail string) error {
	return &Error{Offset: -1, Err: sentinel, Detail: detail}
}

func (e *encoder) enter() error {
	e.depth++
	if e.depth > e.maxDepth {
		return marshalErr(ErrTooDeep, "more than "+strconv.Itoa(e.maxDepth)+" levels (cyclic value?)")
	}
	return nil
}

func (e *encoder) encode(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendString(dst, x)
	case bool:
		if x {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case int:
		return e.appendInt(dst, int64(x))
	case int8:
		return e.appendInt(dst, int64(x))
	case int16:
		return e.appendInt(dst, int64(x))
	case int32:
		return e.appendInt(dst, int64(x))
	case int64:
		return e.appendInt(dst, x)
	case uint:
		return e.appendUint(dst, uint64(x))
	case uint8:
		return e.appendUint(dst, uint64(x))
	case uint16:
		return e.appendUint(dst, uint64(x))
	case uint32:
		return e.appendUint(dst, uint64(x))
	case uint64:
		return e.appendUint(dst, x)
	case float32, float64:
		return dst, marshalErr(ErrFloat, "Go float value")
	case json.Number:
		return e.appendJSON(dst, []byte(x), true)
	case json.RawMessage:
		if x == nil {
			return append(dst, "null"...), nil
		}
		return e.appendJSON(dst, x, false)
	case map[string]any:
		if x == nil {
			return append(dst, "null"...), nil
		}
		if err := e.enter(); err != nil {
			return dst, err
		}
		base := len(e.keys)
		for k := range x {
			e.keys = append(e.keys, k)
		}
		keys := e.keys[base:]
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendString(dst, k); err != nil {
				return dst, err
			}
			dst = append(dst, ':')
			if dst, err = e.encode(dst, x[k]); err != nil {
				return dst, err
			}
		}
		e.keys = e.keys[:base]
		e.depth--
		return append(dst, '}'), nil
	case []any:
		if x == nil {
			return append(dst, "null"...), nil
		}
		if err := e.enter(); err != nil {
			return dst, err
		}
		dst = append(dst, '[')
		for i, el := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = e.encode(dst, el); err != nil {
				return dst, err
			}
		}
		e.depth--
		return append(dst, ']'), nil
	}
	return e.encodeReflect(dst, reflect.ValueOf(v))
}

var (
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

func (e *encoder) encodeReflect(dst []byte, rv reflect.Value) ([]byte, error) {
	if !rv.IsValid() {
		return append(dst, "null"...), nil
	}
	t := rv.Type()
	if t.Implements(jsonMarshalerType) || t.Implements(textMarshalerType) {
		if t.Kind() == reflect.Pointer && rv.IsNil() {
			return append(dst, "null"...), nil
		}
		return e.viaEncodingJSON(dst, rv)
	}
	switch t.Kind() {
	case reflect.String:
		return appendString(dst, rv.String())
	case reflect.Bool:
		return e.encode(dst, rv.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return e.appendInt(dst, rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return e.appendUint(dst, rv.Uint())
	case reflect.Float32, reflect.Float64:
		return dst, marshalErr(ErrFloat, "Go float value of type "+t.String())
	case reflect.Struct:
		return e.viaEncodingJSON(dst, rv)
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return append(dst, "null"...), nil
		}
		if err := e.enter(); err != nil {
			return dst, err
		}
		dst, err := e.encode(dst, rv.Elem().Interface())
		e.depth--
		return dst, err
	case reflect.Map:
		if rv.IsNil() {
			return append(dst, "null"...), nil
		}
		if t.Key().Kind() != reflect.String {
			// encoding/json knows how to spell integer and
			// TextMarshaler keys; let it, then sort.
			return e.viaEncodingJSON(dst, rv)
		}
		if err := e.enter(); err != nil {
			return dst, err
		}
		keys := make([]reflect.Value, 0, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			keys = append(keys, it.Key())
		}
		slices.SortFunc(keys, func(a, b reflect.Value) int {
			switch as, bs := a.String(), b.String(); {
			case as < bs:
				return -1
			case as > bs:
				return 1
			}
			return 0
		})
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendString(dst, k.String()); err != nil {
				return dst, err
			}
			dst = append(dst, ':')
			if dst, err = e.encodeReflect(dst, rv.MapIndex(k)); err != nil {
				return dst, err
			}
		}
		e.depth--
		return append(dst, '}'), nil
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice {
			if rv.IsNil() {
				return append(dst, "null"...), nil
			}
			if t.Elem().Kind() == reflect.Uint8 {
				// encoding/json's base64 for []byte.
				return e.viaEncodingJSON(dst, rv)
			}
		}
		if err := e.enter(); err != nil {
			return dst, err
		}
		dst = append(dst, '[')
		for i := range rv.Len() {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = e.encodeReflect(dst, rv.Index(i)); err != nil {
				return dst, err
			}
		}
		e.depth--
		return append(dst, ']'), nil
	}
	return dst, marshalErr(ErrUnsupportedType, t.String())
}

// viaEncodingJSON lets encoding/json handle what it knows best (struct tags,
// custom marshalers) and canonicalizes its output.
func (e *encoder) viaEncodingJSON(dst []byte, rv reflect.Value) ([]byte, error) {
	if !rv.CanInterface() {
		return dst, marshalErr(ErrUnsupportedType, "unexported value of type "+rv.Type().String())
	}
	raw, err := json.Marshal(rv.Interface())
	if err != nil {
		return dst, &Error{Offset: -1, Err: ErrUnsupportedType, Detail: "encoding/json: " + err.Error()}
	}
	return e.appendJSON(dst, raw, false)
}

// appendJSON canonicalizes trusted-but-unchecked JSON text (json.Number,
// json.RawMessage, encoding/json output) at the current depth.
func (e *encoder) appendJSON(dst, raw []byte, wantNumber bool) ([]byte, error) {
	opts := e.opts
	opts.MaxBytes = math.MaxInt
	s := scanner{data: raw, opts: opts, maxDepth: e.maxDepth, depth: e.depth}
	s.skipWS()
	if wantNumber && (s.pos >= len(raw) || (raw[s.pos] != '-' && !isDigit(raw[s.pos]))) {
		return dst, marshalErr(ErrSyntax, "json.Number "+strconv.Quote(string(raw))+" is not a number")
	}
	out, err := s.appendValue(dst)
	if err == nil {
		err = s.end()
	}
	if err != nil {
		return dst, err
	}
	return out, nil
}

func (e *encoder) appendInt(dst []byte, n int64) ([]byte, error) {
	if (n > MaxSafeInteger || n < MinSafeInteger) && !e.opts.AllowLargeIntegers {
		return dst, marshalErr(ErrNumberOutOfRange, strconv.FormatInt(n, 10))
	}
	return strconv.AppendInt(dst, n, 10), nil
}

func (e *encoder) appendUint(dst []byte, n uint64) ([]byte, error) {
	if n > MaxSafeInteger && !e.opts.AllowLargeIntegers {
		return dst, marshalErr(ErrNumberOutOfRange, strconv.FormatUint(n, 10))
	}
	return strconv.AppendUint(dst, n, 10), nil
}

// appendString quotes a Go string, rejecting invalid UTF-8.
func appendString(dst []byte, s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return dst, marshalErr(ErrInvalidUTF8, strconv.Quote(s))
	}
	return appendQuoted(dst, s), nil
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a canonical JSON string, for code that writes
// canonical JSON by hand on hot paths (event building). s must be valid
// UTF-8.
func AppendString(dst []byte, s string) []byte { return appendQuoted(dst, s) }

// appendQuoted writes s as a canonical JSON string: only `"`, `\` and
// control characters are escaped (short forms where JSON has them,
// lower-case \u00XX otherwise); everything else, including U+007F, U+2028
// and U+2029, is written as raw UTF-8. s must be valid UTF-8.
func appendQuoted[T string | []byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
