package authrules

import (
	"strconv"
	"testing"
)

func TestParseLevel(t *testing.T) {
	const bad = "bad"
	// Expected value in v1–v5 (floats and strings), v6–v9 (strings), and
	// v10+ (integers only).
	for _, tc := range []struct {
		raw         string
		v1, v6, v10 string
	}{
		{"50", "50", "50", "50"},
		{"-50", "-50", "-50", "-50"},
		{"0", "0", "0", "0"},
		{"9007199254740991", "9007199254740991", "9007199254740991", "9007199254740991"},
		{`"50"`, "50", "50", bad},
		{`"000100"`, "100", "100", bad},
		{`"+100"`, "100", "100", bad},
		{`" -100 "`, "-100", "-100", bad},
		{`"\t00100\n"`, "100", "100", bad},
		{`"1_000"`, bad, bad, bad},
		{`"--1"`, bad, bad, bad},
		{`"+"`, bad, bad, bad},
		{`""`, bad, bad, bad},
		{`"50.5"`, bad, bad, bad},
		{`"0x10"`, bad, bad, bad},
		{`"1e2"`, bad, bad, bad},
		{"50.57", "50", bad, bad},
		{"-50.57", "-50", bad, bad},
		{"5.114698E4", "51146", bad, bad},
		{"1e400", bad, bad, bad},
		{"1e300", "9223372036854775806", bad, bad},
		{"99999999999999999999", "9223372036854775806", bad, bad},
		{"true", bad, bad, bad},
		{"null", bad, bad, bad},
		{"{}", bad, bad, bad},
		{"[]", bad, bad, bad},
		{"", bad, bad, bad},
	} {
		for i, ver := range []string{"1", "6", "10"} {
			want := []string{tc.v1, tc.v6, tc.v10}[i]
			n, ok := ParseLevel(mustVersion(ver), []byte(tc.raw))
			got := bad
			if ok {
				got = strconv.FormatInt(n, 10)
			}
			if got != want {
				t.Errorf("v%s %s: got %s, want %s", ver, tc.raw, got, want)
			}
		}
	}
}

func TestRuleNames(t *testing.T) {
	for r := ruleCreatePrevEvents; r <= ruleRedaction; r++ {
		if r.String() == "" {
			t.Errorf("rule %d has no name", r)
		}
	}
	// Every rule that exists in a version gets a number without zero
	// components.
	for _, ver := range []string{"1", "2", "3", "6", "7", "8", "10", "11", "12"} {
		v := mustVersion(ver)
		for r := ruleCreatePrevEvents; r <= ruleRedaction; r++ {
			n := ruleNumber(v, r)
			if n == "?" {
				t.Errorf("v%s %s: no number", ver, r)
			}
		}
	}
}

func TestRuleErrorMessage(t *testing.T) {
	r := newRoom(mustVersion("11"), "")
	err := r.check(r.msg(bob, "m.room.message", `{}`))
	if err == nil || err.Error() != "auth rule 5 (sender_not_joined): @bob:b is not joined to the room" {
		t.Fatalf("got %v", err)
	}
}

func TestEscapedStrings(t *testing.T) {
	// JSON escapes in contents mean the same as the plain characters.
	r := newRoom(mustVersion("11"), "")
	r.put(r.st(bob, TypeMember, bob, `{"membership":"\u006aoin"}`))
	r.put(r.st(alice, TypeJoinRules, "", `{"join_rule":"p\u0075blic"}`))
	if err := r.check(r.msg(bob, "m.room.message", `{}`)); err != nil {
		t.Fatalf("escaped membership: %v", err)
	}
	if err := r.check(r.mem(carol, carol, "join")); err != nil {
		t.Fatalf("escaped join rule: %v", err)
	}
	r.put(r.st(bob, TypeMember, bob, `{"membership":"\u0064ance"}`))
	assertOutcome(t, r.check(r.msg(bob, "m.room.message", `{}`)), "5", "sender_not_joined")
}
