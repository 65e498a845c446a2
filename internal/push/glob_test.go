package push

import (
	"slices"
	"strings"
	"testing"
)

func TestGlobWholeValue(t *testing.T) {
	for _, tc := range []struct {
		pattern, value string
		want           bool
	}{
		// The spec's event_match example: key content.topic, pattern lunc?*.
		{"lunc?*", "Lunch plans", true},
		{"lunc?*", "LUNCH", true},
		{"lunc?*", " lunch", false},
		{"lunc?*", "lunc", false},
		{"m.room.message", "m.room.message", true},
		{"m.room.message", "M.Room.Message", true},
		{"m.room.message", "m.room.messages", false},
		{"m.room.message", "xm.room.message", false},
		{"m.room.*", "m.room.member", true},
		{"m.room.*", "m.roomy", false},
		{"*", "", true},
		{"*", "anything\nat all", true},
		{"?", "é", true}, // ? is one character, not one byte
		{"??", "é", false},
		{"", "", true},
		{"", "x", false},
		{"a.c", "abc", false}, // dots are literal, not regexp wildcards
		{"(x)+", "(x)+", true},
		{"*?*?*", "a", false},
		{"*?*?*", "ab", true},
	} {
		m, err := compileGlob(tc.pattern, false)
		if err != nil {
			t.Fatalf("compile %q: %v", tc.pattern, err)
		}
		if got := m.match(strings.ToLower(tc.value)); got != tc.want {
			t.Errorf("glob %q on %q = %v, want %v", tc.pattern, tc.value, got, tc.want)
		}
	}
}

func TestGlobWords(t *testing.T) {
	for _, tc := range []struct {
		pattern, body string
		want          bool
	}{
		// The spec's content.body example: pattern ex*ple.
		{"ex*ple", "An example event.", true},
		{"ex*ple", "exple", true},
		{"ex*ple", "An exciting triple-whammy", true},
		{"ex*ple", "An examples event", false},
		{"cake", "I like cake", true},
		{"cake", "CAKE!", true},
		{"cake", "cakes", false},
		{"cake", "pancake", false},
		{"cake", "pan_cake", false}, // _ is a word character
		{"cake", "pan-cake", true},
		{"cake", "cake2", false},
		{"cake", "pancake, then cake", true}, // a later occurrence counts
		{"@room", "hey @room look", true},
		{"@room", "x@room", true}, // a match starting with a non-word character needs no boundary before it
		{"@room", "@roomy", false},
		{"alice", "ALICE: hi", true},
		{"alice", "alice", true},
		{"caf", "café", true}, // é is not a word character in the spec's sense
		{"a?c", "abc", true},
		{"a?c", "xabc", false},
		{"h*o", "say hello there", true},
	} {
		m, err := compileGlob(tc.pattern, true)
		if err != nil {
			t.Fatalf("compile %q: %v", tc.pattern, err)
		}
		if got := m.match(strings.ToLower(tc.body)); got != tc.want {
			t.Errorf("word glob %q on %q = %v, want %v", tc.pattern, tc.body, got, tc.want)
		}
	}
}

func TestContainsWordFold(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       bool
	}{
		{"Alice", "hi alice!", true},
		{"Alice", "hi ALICE", true},
		{"Alice", "hi alicex", false},
		{"Alice Smith", "ping alice smith please", true},
		{"Ünal", "merhaba ünal", true},
		{"Ünal", "merhaba ünalx", false},
		{"Bob", "", false},
		{"", "anything", false},
		{"a*", "a", false}, // display names are literal, not globs
		{"Al", "alice al", true},
	} {
		if got := containsWordFold(strings.ToLower(tc.body), tc.name); got != tc.want {
			t.Errorf("display name %q in %q = %v, want %v", tc.name, tc.body, got, tc.want)
		}
	}
}

func TestSplitPath(t *testing.T) {
	for key, want := range map[string][]string{
		"content.body":                   {"content", "body"},
		`content.m\.relates_to.rel_type`: {"content", "m.relates_to", "rel_type"},
		`content.m\\foo`:                 {"content", `m\foo`},
		`content.a\xb`:                   {"content", `a\xb`},
		`type`:                           {"type"},
		`content.m\.mentions.user_ids`:   {"content", "m.mentions", "user_ids"},
		`a\\.b`:                          {`a\`, "b"},
	} {
		if got := splitPath(key); !slices.Equal(got, want) {
			t.Errorf("splitPath(%q) = %q, want %q", key, got, want)
		}
	}
}
