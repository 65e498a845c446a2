package authrules

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/axonhs/axon/internal/matrix/canonicaljson"
)

var (
	isKey    = ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)) // the identity server's key
	otherKey = ed25519.NewKeyFromSeed([]byte("0123456789abcdef0123456789abcdef"))
)

func b64(b []byte) string { return base64.RawStdEncoding.EncodeToString(b) }

// signedBlock returns the JSON of a "signed" object for mxid and token,
// signed by key as the identity server id.example.
func signedBlock(key ed25519.PrivateKey, mxid, token string) string {
	msg, err := canonicaljson.Marshal(map[string]any{"mxid": mxid, "token": token})
	if err != nil {
		panic(err)
	}
	sig := ed25519.Sign(key, msg)
	out, _ := json.Marshal(map[string]any{
		"mxid": mxid, "token": token,
		"signatures": map[string]any{"id.example": map[string]string{"ed25519:0": b64(sig)}},
	})
	return string(out)
}

func tpiInviteEvent(r *room, sender, target, tpi string) *tev {
	return r.st(sender, TypeMember, target, `{"membership":"invite","third_party_invite":`+tpi+`}`)
}

func TestThirdPartyInvite(t *testing.T) {
	pub := b64(isKey.Public().(ed25519.PublicKey))
	withInviteEvent := func(content string) func(r *room) {
		return func(r *room) {
			r.put(r.st(alice, TypeThirdPartyInvite, "tok", content))
		}
	}
	standard := withInviteEvent(`{"display_name":"b...@example.org","key_validity_url":"https://id.example/isvalid","public_key":"` + pub + `"}`)
	good := func(r *room) Event {
		return tpiInviteEvent(r, alice, bob, `{"display_name":"b...","signed":`+signedBlock(isKey, bob, "tok")+`}`)
	}
	runCases(t, []authCase{
		{
			name:  "invite by a third-party invite",
			want:  ok("1-12"),
			setup: standard,
			event: good,
		},
		{
			name:  "key listed in public_keys",
			want:  ok("1-12"),
			setup: withInviteEvent(`{"public_key":"AAAA","public_keys":[{"public_key":"x"},{"public_key":"` + pub + `","key_validity_url":"u"}]}`),
			event: good,
		},
		{
			name: "URL-safe padded public key",
			want: ok("1-12"),
			setup: withInviteEvent(`{"public_key":"` +
				base64.URLEncoding.EncodeToString(isKey.Public().(ed25519.PublicKey)) + `"}`),
			event: good,
		},
		{
			// The rule allows at its 7th step, before the sender's
			// membership is considered.
			name: "inviter who has since left",
			want: ok("1-12"),
			setup: func(r *room) {
				standard(r)
				r.setMember(alice, "leave")
			},
			event: good,
		},
		{
			name: "target banned",
			want: nInvite.sub(".1.1"), rule: "member.invite.tpi.banned",
			setup: func(r *room) {
				standard(r)
				r.setMember(bob, "ban")
			},
			event: good,
		},
		{
			name: "no signed",
			want: nInvite.sub(".1.2"), rule: "member.invite.tpi.no_signed",
			setup: standard,
			event: func(r *room) Event { return tpiInviteEvent(r, alice, bob, `{"display_name":"b"}`) },
		},
		{
			name:  "third_party_invite not an object",
			want:  nInvite.sub(".1.2"),
			setup: standard,
			event: func(r *room) Event { return tpiInviteEvent(r, alice, bob, `true`) },
		},
		{
			name: "signed without token",
			want: nInvite.sub(".1.3"), rule: "member.invite.tpi.no_mxid_token",
			setup: standard,
			event: func(r *room) Event {
				return tpiInviteEvent(r, alice, bob, `{"signed":{"mxid":"@bob:b","signatures":{}}}`)
			},
		},
		{
			name:  "signed mxid not a string",
			want:  nInvite.sub(".1.3"),
			setup: standard,
			event: func(r *room) Event {
				return tpiInviteEvent(r, alice, bob, `{"signed":{"mxid":1,"token":"tok","signatures":{}}}`)
			},
		},
		{
			name: "mxid is not the target",
			want: nInvite.sub(".1.4"), rule: "member.invite.tpi.mxid_mismatch",
			setup: standard,
			event: func(r *room) Event {
				return tpiInviteEvent(r, alice, carol, `{"signed":`+signedBlock(isKey, bob, "tok")+`}`)
			},
		},
		{
			name: "no m.room.third_party_invite for the token",
			want: nInvite.sub(".1.5"), rule: "member.invite.tpi.no_invite_event",
			setup: standard,
			event: func(r *room) Event {
				return tpiInviteEvent(r, alice, bob, `{"signed":`+signedBlock(isKey, bob, "other")+`}`)
			},
		},
		{
			name: "sender did not send the third-party invite",
			want: nInvite.sub(".1.6"), rule: "member.invite.tpi.sender_mismatch",
			setup: func(r *room) {
				standard(r)
				r.setMember(carol, "join")
			},
			event: func(r *room) Event {
				return tpiInviteEvent(r, carol, bob, `{"signed":`+signedBlock(isKey, bob, "tok")+`}`)
			},
		},
		{
			name: "signed by another key",
			want: nInvite.sub(".1.8"), rule: "member.invite.tpi.signature",
			setup: standard,
			event: func(r *room) Event {
				return tpiInviteEvent(r, alice, bob, `{"signed":`+signedBlock(otherKey, bob, "tok")+`}`)
			},
		},
		{
			name:  "signature over other content",
			want:  nInvite.sub(".1.8"),
			setup: standard,
			event: func(r *room) Event {
				var m map[string]any
				_ = json.Unmarshal([]byte(signedBlock(isKey, bob, "tok")), &m)
				m["extra"] = 1
				b, _ := json.Marshal(m)
				return tpiInviteEvent(r, alice, bob, `{"signed":`+string(b)+`}`)
			},
		},
		{
			name:  "third-party invite event without keys",
			want:  nInvite.sub(".1.8"),
			setup: withInviteEvent(`{"display_name":"x"}`),
			event: good,
		},
	})
}

func TestThirdPartyInviteCustomVerifier(t *testing.T) {
	r := newRoom(mustVersion("11"), "")
	r.put(r.st(alice, TypeThirdPartyInvite, "tok", `{"public_key":"k1","public_keys":[{"public_key":"k2"}]}`))
	var seen []string
	r.checker.VerifyThirdPartyInvite = func(signed json.RawMessage, key string) bool {
		seen = append(seen, key)
		return key == "k2" && json.Valid(signed)
	}
	ev := tpiInviteEvent(r, alice, bob, `{"signed":{"mxid":"@bob:b","token":"tok","signatures":{}}}`)
	if err := r.check(ev); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[0] != "k1" || seen[1] != "k2" {
		t.Fatalf("verifier saw keys %v", seen)
	}
}

func TestVerifyEd25519Signed(t *testing.T) {
	pub := isKey.Public().(ed25519.PublicKey)
	signed := json.RawMessage(signedBlock(isKey, bob, "tok"))
	if !VerifyEd25519Signed(signed, b64(pub)) {
		t.Fatal("good signature rejected")
	}
	if !VerifyEd25519Signed(signed, base64.RawURLEncoding.EncodeToString(pub)) {
		t.Fatal("URL-safe key rejected")
	}
	for name, in := range map[string]struct {
		signed json.RawMessage
		key    string
	}{
		"other key":       {signed, b64(otherKey.Public().(ed25519.PublicKey))},
		"short key":       {signed, "AAAA"},
		"not base64":      {signed, "!!!"},
		"not json":        {json.RawMessage(`{`), b64(pub)},
		"no signatures":   {json.RawMessage(`{"mxid":"@bob:b","token":"tok"}`), b64(pub)},
		"bad signatures":  {json.RawMessage(`{"mxid":"@bob:b","token":"tok","signatures":5}`), b64(pub)},
		"other algorithm": {json.RawMessage(`{"mxid":"@bob:b","token":"tok","signatures":{"s":{"curve:0":"AAAA"}}}`), b64(pub)},
	} {
		if VerifyEd25519Signed(in.signed, in.key) {
			t.Errorf("%s: accepted", name)
		}
	}
}
