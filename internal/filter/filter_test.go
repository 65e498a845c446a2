package filter

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	valid := []string{
		`{}`,
		`{"room":{"timeline":{"limit":10,"types":["m.room.message"]},"state":{"lazy_load_members":true}}}`,
		`{"event_format":"client","event_fields":["content.body"],"presence":{"not_types":["*"]}}`,
		`{"room":{"rooms":["!a:b"]},"org.example.extension":1}`,
	}
	for _, f := range valid {
		if _, err := Parse([]byte(f)); err != nil {
			t.Errorf("Parse(%s) = %v", f, err)
		}
	}
	invalid := []string{
		`[]`,
		`{"room":{"timeline":{"limit":"ten"}}}`,
		`{"room":{"timeline":{"limit":-1}}}`,
		`{"event_format":"xml"}`,
		`{"event_fields":"content.body"}`,
		`{"room":{"rooms":"!a:b"}}`,
		`{"presence":{"types":[1]}}`,
		`{"room":{"timeline":{"rooms":["not_a_room_id"]}}}`,
		`{"room":{"timeline":{"senders":["not_a_sender_id"]}}}`,
		`{"room":{"not_rooms":["#alias:x"]}}`,
	}
	for _, f := range invalid {
		if _, err := Parse([]byte(f)); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%s) = %v, want ErrInvalid", f, err)
		}
	}
}
