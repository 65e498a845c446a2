package server_test

import (
	"context"
	"fmt"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/axonhs/axon/internal/config"
)

func TestRoomRateLimits(t *testing.T) {
	ctx := context.Background()
	srv := limitedServer(t, config.RateLimits{Message: slow(3), JoinsLocal: slow(1), InvitesPerIssuer: slow(1)})
	alice := register(t, srv.URL, "alice", "alice password", "A")
	bob := register(t, srv.URL, "bob", "bob password", "B")
	admin := newClient(t, srv.URL)
	admin.SetCredentials(id.UserID("@root:axon.test"), registerAdmin(t, srv.URL, "root", "root password", true))

	// createRoom's own events do not count; three sends do, the fourth is refused.
	room := createRoom(t, alice, map[string]any{"preset": "public_chat"})
	for i := range 3 {
		sendText(t, alice, room, fmt.Sprintf("m%d", i))
	}
	if _, err := alice.SendText(ctx, room, "one too many"); errcode(err) != "M_LIMIT_EXCEEDED" {
		t.Fatalf("fourth message: %v", err)
	}

	// Joins: bob's first join is allowed, a second (to another room) is not.
	other := createRoom(t, alice, map[string]any{"preset": "public_chat"})
	if _, err := bob.JoinRoomByID(ctx, room); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.JoinRoomByID(ctx, other); errcode(err) != "M_LIMIT_EXCEEDED" {
		t.Errorf("second join: %v", err)
	}

	// Invites per inviter.
	carol := register(t, srv.URL, "carol", "carol password", "C")
	if res := do(t, alice, "POST", map[string]any{"user_id": carol.UserID}, "rooms", other, "invite"); res.status != 200 {
		t.Fatalf("first invite: %v", res.body)
	}
	dave := register(t, srv.URL, "dave", "dave password", "D")
	if res := do(t, alice, "POST", map[string]any{"user_id": dave.UserID}, "rooms", other, "invite"); res.errcode() != "M_LIMIT_EXCEEDED" {
		t.Errorf("second invite: %v", res.body)
	}

	// Server admins are exempt.
	adminRoom := createRoom(t, admin, map[string]any{})
	for i := range 5 {
		if _, err := admin.SendText(ctx, adminRoom, fmt.Sprintf("a%d", i)); err != nil {
			t.Fatalf("admin message %d: %v", i, err)
		}
	}
}
