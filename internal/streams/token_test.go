package streams

import "testing"

func TestTokenRoundTrip(t *testing.T) {
	tok := Token{Events: 12, AccountData: 3, Receipts: 4, Typing: 5, ToDevice: 6, DeviceLists: 7, Presence: 8}
	got, err := ParseToken(tok.String())
	if err != nil || got != tok {
		t.Fatalf("round trip of %s: %+v, %v", tok, got, err)
	}
	if s := tok.String(); s != "s12_3_4_5_6_7_8" {
		t.Errorf("encoded as %q", s)
	}
}

func TestParseTokenAcceptsShorterTokens(t *testing.T) {
	got, err := ParseToken("s42")
	if err != nil || got != (Token{Events: 42}) {
		t.Fatalf("s42: %+v, %v", got, err)
	}
}

func TestParseTokenRejectsForeignTokens(t *testing.T) {
	for _, s := range []string{"", "42", "t1-2", "s", "s1_x", "s-1", "s1_2_3_4_5_6_7_8", "s1__2"} {
		if _, err := ParseToken(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestTokenOrder(t *testing.T) {
	a := Token{Events: 5, Receipts: 1}
	b := Token{Events: 4, Receipts: 2}
	if !a.After(b) || !b.After(a) {
		t.Error("each token is after the other on one stream")
	}
	if a.After(a) {
		t.Error("a token is not after itself")
	}
	if m := a.Max(b); m != (Token{Events: 5, Receipts: 2}) {
		t.Errorf("max = %+v", m)
	}
}
