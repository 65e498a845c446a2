//go:build goolm

package server_test

import (
	"crypto/rand"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/axonhs/axon/internal/server/servertest"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

// TestE2EEWithMautrix is the mautrix-go half of issue 6's acceptance test:
// real E2EE clients (mautrix-go's crypto with pure-Go Olm/Megolm, build tag
// goolm) chat through Axon, on both storage engines.
//
// With AXON_E2EE_TEST_HS set to a homeserver's base URL (and
// AXON_E2EE_TEST_SECRET to its registration_shared_secret) the story runs
// against that server instead, e.g. a Dendrite, to check the test itself:
//
//	AXON_E2EE_TEST_HS=http://127.0.0.1:48008 AXON_E2EE_TEST_SECRET=anchor-secret \
//	  go test -tags goolm -run TestE2EE ./internal/server/
func TestE2EEWithMautrix(t *testing.T) {
	if hs := os.Getenv("AXON_E2EE_TEST_HS"); hs != "" {
		// Its users outlive the run: give them fresh names.
		e2eeStory(t, hs, os.Getenv("AXON_E2EE_TEST_SECRET"), "-"+strings.ToLower(rand.Text()[:8]))
		return
	}
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := servertest.Start(t, servertest.Config(t, engine))
			e2eeStory(t, srv.URL, servertest.SharedSecret, "")
		})
	}
}

func e2eeStory(t *testing.T, url, secret, suffix string) {
	const alicePassword, bobPassword = "alice's password", "bob's password"
	aliceID := registerWithSharedSecret(t, url, secret, "alice"+suffix, alicePassword)
	bobID := registerWithSharedSecret(t, url, secret, "bob"+suffix, bobPassword)
	alice := loginE2EE(t, url, aliceID, alicePassword, "ALICE1")
	bob := loginE2EE(t, url, bobID, bobPassword, "BOB1")

	// Each step builds on the one before: stop at the first that fails.
	step := func(name string, fn func(t *testing.T)) {
		t.Helper()
		if !t.Run(name, fn) {
			t.FailNow()
		}
	}
	const (
		hello      = "Hello Bob, only you can read this."
		reply      = "Hello Alice, same here."
		toBothBobs = "Bob, this reaches both of your devices."
		fromBob2   = "Written on my second device."
	)
	var room id.RoomID

	step("each device's sync counts its one-time keys", func(t *testing.T) {
		for _, c := range []*e2eeClient{alice, bob} {
			c.waitFor(t, "a signed_curve25519 one-time key count", func() bool { return c.otkCounts.SignedCurve25519 > 0 })
		}
	})

	step("alice and bob exchange encrypted messages both ways", func(t *testing.T) {
		room = alice.createEncryptedRoom(t, bob.userID())
		bob.join(t, room)
		alice.waitForMembers(t, room, alice.userID(), bob.userID())
		bob.waitForMembers(t, room, alice.userID(), bob.userID())

		alice.send(t, room, hello)
		if got := bob.waitForMessage(t, room, hello); got.Sender != alice.userID() {
			t.Errorf("sender %s", got.Sender)
		}
		bob.send(t, room, reply)
		if got := alice.waitForMessage(t, room, reply); got.Sender != bob.userID() {
			t.Errorf("sender %s", got.Sender)
		}
	})

	bob2 := loginE2EE(t, url, bobID, bobPassword, "BOB2")
	step("bob's second device decrypts new messages", func(t *testing.T) {
		// alice learns of BOB2 from device_lists.changed in her /sync and
		// must share her next Megolm session with it too.
		alice.waitForDevice(t, bob.userID(), bob2.deviceID())
		alice.send(t, room, toBothBobs)
		bob2.waitForMessage(t, room, toBothBobs)
		bob.waitForMessage(t, room, toBothBobs)

		bob2.send(t, room, fromBob2)
		alice.waitForMessage(t, room, fromBob2)
		bob.waitForMessage(t, room, fromBob2)
	})

	step("alice cross-signs her devices and bob verifies her", func(t *testing.T) {
		alice.bootstrapCrossSigning(t)
		bob.bootstrapCrossSigning(t)

		// mautrix v0.26.0's ResolveTrustContext swaps its labels
		// (CrossSignedVerified before the user is verified, TOFU after), so
		// the test asks whether the device is cross-signed by its owner and
		// whether bob trusts alice as two questions.
		userTrusted, deviceTrust := bob.trust(t, alice.userID(), alice.deviceID())
		if userTrusted || !crossSigned(deviceTrust) {
			t.Fatalf("before verifying: bob trusts alice %v, her device %s; want false, cross-signed", userTrusted, deviceTrust)
		}
		bob.verifyUser(t, alice.userID())
		// BOB2 holds no private keys: it sees the signatures only as the
		// server returns them.
		for _, c := range []*e2eeClient{bob, bob2} {
			userTrusted, deviceTrust := c.trust(t, alice.userID(), alice.deviceID())
			if !userTrusted || !crossSigned(deviceTrust) {
				t.Errorf("%s: trusts alice %v, her device %s; want true, cross-signed", c.name, userTrusted, deviceTrust)
			}
		}
	})

	alice2 := loginE2EE(t, url, aliceID, alicePassword, "ALICE2")
	step("alice's new device restores room keys from key backup and decrypts history", func(t *testing.T) {
		key, version := alice.createKeyBackup(t)
		uploaded, resp := alice.backUpRoomKeys(t, version, key)
		if uploaded == 0 || resp.Count != uploaded || resp.ETag == "" {
			t.Fatalf("uploaded %d sessions; backup answers count %d, etag %q", uploaded, resp.Count, resp.ETag)
		}

		alice2.waitForMembers(t, room, alice.userID(), bob.userID())
		want := []string{hello, reply, toBothBobs, fromBob2}
		slices.Sort(want)
		before := alice2.history(t, room)
		if len(before) != len(want) || len(sortedBodies(before)) != 0 {
			t.Fatalf("before restoring, the new device decrypts %q of %d encrypted events; want none of %d",
				sortedBodies(before), len(before), len(want))
		}

		if restored := alice2.restoreKeyBackup(t, key); restored != version {
			t.Fatalf("restored backup version %q, want %q", restored, version)
		}
		after := alice2.history(t, room)
		if got := sortedBodies(after); !slices.Equal(got, want) {
			t.Fatalf("after restoring, history decrypts to %q, want %q\n%s", got, want, describeHistory(after))
		}
	})
}

// crossSigned reports whether a device's trust state says its owner's
// self-signing key signed it (whatever the viewer thinks of the owner).
func crossSigned(s id.TrustState) bool {
	return s == id.TrustStateCrossSignedUntrusted || s == id.TrustStateCrossSignedTOFU || s == id.TrustStateCrossSignedVerified
}

func describeHistory(entries []historyEntry) string {
	var s string
	for _, e := range entries {
		if e.err != nil {
			s += fmt.Sprintf("  %s from %s: %v\n", e.eventID, e.sender, e.err)
		} else {
			s += fmt.Sprintf("  %s from %s: %q\n", e.eventID, e.sender, e.body)
		}
	}
	return s
}
