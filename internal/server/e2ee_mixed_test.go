//go:build goolm

package server_test

import (
	"crypto/rand"
	"testing"

	"github.com/axonhs/axon/internal/server/servertest"
	"github.com/axonhs/axon/internal/storage/storagetest"
)

// TestE2EEMautrixWithJSSDK is issue 6's mixed acceptance test: a mautrix-go
// client (alice, the e2eeClient of e2eeclient_test.go) and a matrix-js-sdk
// client with the Rust crypto (bob, e2e/js/story.mjs's peer role under Node)
// decrypt each other's messages in one encrypted room on Axon, on both
// storage engines. Like TestE2EEWithMatrixJSSDK it skips only when
// AXON_TEST_NODE is unset.
func TestE2EEMautrixWithJSSDK(t *testing.T) {
	node, story := jsStoryCommand(t)
	for _, engine := range storagetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			srv := servertest.Start(t, servertest.Config(t, engine))
			mixedE2EEStory(t, srv.URL, node, story)
		})
	}
}

func mixedE2EEStory(t *testing.T, url, node, story string) {
	const alicePassword, bobPassword = "alice's password", "bob's password"
	aliceID := registerWithSharedSecret(t, url, servertest.SharedSecret, "alice", alicePassword)
	bobID := registerWithSharedSecret(t, url, servertest.SharedSecret, "bob", bobPassword)
	alice := loginE2EE(t, url, aliceID, alicePassword, "ALICE1")
	room := alice.createEncryptedRoom(t, bobID)

	// Unique bodies: the peer must find alice's message, not any message.
	nonce := rand.Text()[:8]
	toBob := "Hello bob, mautrix-go here " + nonce
	toAlice := "Hello alice, matrix-js-sdk here " + nonce

	// bob logs in on a new device, joins, and says ready once the server
	// returns his device keys. --trace puts his HTTP requests on stderr,
	// which the log shows if the test fails.
	peer := startJSStory(t, node, story, "peer",
		"--hs", url, "--user", bobID.String(), "--password", bobPassword,
		"--room", room.String(), "--expect", toBob, "--reply", toAlice, "--trace")
	ready := peer.expect(t, "ready")
	if ready.UserID != bobID.String() || ready.RoomID != room.String() || ready.DeviceID == "" {
		t.Fatalf("peer ready as %s/%s in %s; want %s in %s", ready.UserID, ready.DeviceID, ready.RoomID, bobID, room)
	}

	// alice has never queried bob's devices, so sending does (mautrix's
	// sync loop refreshes only the device lists of users it has queried),
	// and after ready the server has his device keys to return.
	alice.waitForMembers(t, room, aliceID, bobID)
	sent := alice.send(t, room, toBob)

	received := peer.expect(t, "received")
	if received.EventID != sent.String() || received.Sender != aliceID.String() {
		t.Errorf("peer decrypted %s from %s; want %s from %s", received.EventID, received.Sender, sent, aliceID)
	}
	replied := peer.expect(t, "replied")

	got := alice.waitForMessage(t, room, toAlice)
	if got.Sender != bobID || got.ID.String() != replied.EventID {
		t.Errorf("alice decrypted %s from %s; want %s from %s", got.ID, got.Sender, replied.EventID, bobID)
	}
	peer.finish(t)
}
