package canonicaljson

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// sampleEvent is a typical federated m.room.message PDU (about 1 KB), in
// the key order and spacing a remote server might send.
const sampleEvent = `{
  "type": "m.room.message",
  "room_id": "!OGEhHVWSdvArJzumhm:matrix.org",
  "sender": "@alice:example.org",
  "origin_server_ts": 1700000000000,
  "depth": 12345,
  "content": {
    "msgtype": "m.text",
    "body": "Hello, world! This is a reasonably typical message body with some \"quotes\" and an emoji 😀.",
    "format": "org.matrix.custom.html",
    "formatted_body": "<p>Hello, <b>world</b>! This is a reasonably typical message body.</p>",
    "m.relates_to": {"m.in_reply_to": {"event_id": "$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg"}}
  },
  "prev_events": ["$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg"],
  "auth_events": [
    "$aZvO0y5a0Z8zmnQ5kiTwnZJ2sFPVb0tYBLqXzF3Vt5A",
    "$NDCbnu5yo5IAhtwuZGJxTPpqKSd7PiCSwiWFNG7bdDY",
    "$k4VTqy4tnlgjGJ9OKxe8EaQ95Mk3zkrzCJtWCDDJdSQ"
  ],
  "hashes": {"sha256": "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"},
  "signatures": {
    "example.org": {"ed25519:a_WzMr": "KXDoYk2YuKJKKSiZVLaUgDgGi4nUSqFGyV8IKMyMb1Dn3gQoikGxrWGkS9Y3ksjM1prKn9aZ9Cti6amlHLGeDA"}
  },
  "unsigned": {"age": 1234, "transaction_id": "m1700000000000.0"}
}`

func BenchmarkCanonicalize(b *testing.B) {
	in := []byte(sampleEvent)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Canonicalize(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	in := []byte(sampleEvent)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshal(b *testing.B) {
	v, err := Decode([]byte(sampleEvent))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Marshal(v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMarshalStruct measures the encoding/json fallback path.
func BenchmarkMarshalStruct(b *testing.B) {
	var ev struct {
		Type           string          `json:"type"`
		RoomID         string          `json:"room_id"`
		Sender         string          `json:"sender"`
		OriginServerTS int64           `json:"origin_server_ts"`
		Depth          int64           `json:"depth"`
		Content        json.RawMessage `json:"content"`
		PrevEvents     []string        `json:"prev_events"`
		AuthEvents     []string        `json:"auth_events"`
		Hashes         map[string]string
	}
	if err := json.Unmarshal([]byte(sampleEvent), &ev); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Marshal(ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStdlibCompact is a reference point: encoding/json.Compact does
// strictly less work (no sorting, no checks).
func BenchmarkStdlibCompact(b *testing.B) {
	in := []byte(sampleEvent)
	var buf bytes.Buffer
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := json.Compact(&buf, in); err != nil {
			b.Fatal(err)
		}
	}
}

var fuzzSeeds = []string{
	sampleEvent,
	`{}`, `[]`, `null`, `true`, `0`, `-0`, `1e10`, `1.5`, `9007199254740992`,
	`{"b":"2","a":"1"}`, `{"a":1,"a":2}`, `{"\u0061":1,"a":2}`,
	`"\ud83d\ude00"`, `"\ud800"`, `"\u0000\u001f\u007f\u2028"`, "\"\xff\"",
	`{"!":1,"\n":2}`, `[[[[[[[[]]]]]]]]`, `{"a":{"b":{"c":[1,2,{"d":null}]}}}`,
	` { "x" : [ 1 , -2 , 3e2 , 4.0E+0 ] } `,
}

// FuzzCanonicalize checks, for arbitrary input, that Canonicalize never
// panics, is idempotent, agrees with Decode about what it accepts and with
// Marshal(Decode(x)) about the bytes, and produces JSON that encoding/json
// reads back as the same value.
func FuzzCanonicalize(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := Canonicalize(in)
		v, derr := Decode(in)
		if (err == nil) != (derr == nil) {
			t.Fatalf("Canonicalize err %v but Decode err %v", err, derr)
		}
		if err != nil {
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("error %v is %T, not *Error", err, err)
			}
			return
		}
		again, err := Canonicalize(out)
		if err != nil {
			t.Fatalf("Canonicalize(%q) rejected own output: %v", out, err)
		}
		if !bytes.Equal(again, out) {
			t.Fatalf("not idempotent:\n%q\n%q", out, again)
		}
		m, err := Marshal(v)
		if err != nil {
			t.Fatalf("Marshal(Decode(x)): %v", err)
		}
		if !bytes.Equal(m, out) {
			t.Fatalf("Marshal(Decode(x)) = %q, Canonicalize(x) = %q", m, out)
		}
		if !json.Valid(out) {
			t.Fatalf("output is not valid JSON: %q", out)
		}
		// encoding/json must read input and output as the same value.
		// (Input accepted here has no duplicate keys and no invalid
		// UTF-8, the cases where encoding/json would differ.)
		var a, b any
		da := json.NewDecoder(bytes.NewReader(in))
		da.UseNumber()
		if err := da.Decode(&a); err != nil {
			t.Fatalf("encoding/json rejects accepted input %q: %v", in, err)
		}
		db := json.NewDecoder(bytes.NewReader(out))
		db.UseNumber()
		if err := db.Decode(&b); err != nil {
			t.Fatalf("encoding/json rejects output %q: %v", out, err)
		}
		if !reflect.DeepEqual(normalizeNumbers(t, a), normalizeNumbers(t, b)) {
			t.Fatalf("value changed:\nin  %q\nout %q", in, out)
		}
	})
}

// normalizeNumbers replaces json.Number by its integer value so that 1e2
// and 100 compare equal.
func normalizeNumbers(t *testing.T, v any) any {
	switch x := v.(type) {
	case json.Number:
		n, err := Decode([]byte(x))
		if err != nil {
			t.Fatalf("number %q: %v", x, err)
		}
		return n
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeNumbers(t, e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalizeNumbers(t, e)
		}
	}
	return v
}

// FuzzDecodeOptions exercises the option combinations for panics and for
// agreement between Decode and Canonicalize.
func FuzzDecodeOptions(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, in []byte, flags uint8) {
		o := Options{
			StrictNumbers:      flags&1 != 0,
			AllowLargeIntegers: flags&2 != 0,
			MaxDepth:           int(flags >> 4),
		}
		out, err := o.Canonicalize(in)
		v, derr := o.Decode(in)
		if (err == nil) != (derr == nil) {
			t.Fatalf("Canonicalize err %v but Decode err %v", err, derr)
		}
		if err != nil {
			return
		}
		m, err := o.Marshal(v)
		if err != nil {
			t.Fatalf("Marshal(Decode(x)): %v", err)
		}
		if !bytes.Equal(m, out) {
			t.Fatalf("Marshal(Decode(x)) = %q, Canonicalize(x) = %q", m, out)
		}
		if again, err := o.Canonicalize(out); err != nil || !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %q -> %q, %v", out, again, err)
		}
	})
}
