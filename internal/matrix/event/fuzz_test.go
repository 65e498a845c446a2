package event

import (
	"testing"

	"github.com/axonhs/axon/internal/matrix/roomversion"
)

// FuzzParse feeds arbitrary bytes to Parse under every room version: it must
// never panic, and whatever it accepts must survive redaction, hashing and
// re-parsing with the same event ID.
func FuzzParse(f *testing.F) {
	for _, s := range []string{pduV3, pduV1, `{}`, `[]`, `{"content":{"redacts":"$x"},"type":"m.room.redaction"}`} {
		f.Add(s)
	}
	for _, tc := range independentVectors {
		f.Add(tc.input)
	}
	for _, tc := range specEventVectors {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, v := range roomversion.All() {
			ev, err := ParseVersion(v, []byte(in))
			if err != nil {
				if _, rerr := Redact(v.ID(), []byte(in)); rerr == nil {
					_, _ = ContentHash(v.ID(), []byte(in))
				}
				continue
			}
			red := ev.Redacted()
			if red.EventID() != ev.EventID() {
				t.Fatalf("v%s: redaction changed the event ID", v)
			}
			again, err := ParseVersion(v, ev.Canonical())
			if err != nil {
				t.Fatalf("v%s: canonical form does not parse: %v", v, err)
			}
			if again.EventID() != ev.EventID() {
				t.Fatalf("v%s: event ID changed on re-parse", v)
			}
			if v.EventIDInPDU() {
				continue
			}
			rp, err := ParseVersion(v, red.Canonical())
			if err != nil {
				t.Fatalf("v%s: redacted form does not parse: %v\n%s", v, err, red.Canonical())
			}
			if rp.EventID() != ev.EventID() {
				t.Fatalf("v%s: redacted event has another ID", v)
			}
		}
	})
}
