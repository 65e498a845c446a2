//go:build goolm

package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/crypto/backup"
	"maunium.net/go/mautrix/crypto/signatures"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
	"maunium.net/go/mautrix/synapseadmin"
)

// This file is a small end-to-end-encryption client for tests: one device of
// one user, built on mautrix-go's crypto package (OlmMachine) with the
// pure-Go Olm/Megolm implementation that the goolm build tag selects. It
// keeps everything in memory and talks to whatever homeserver its base URL
// names, so the same story runs against Axon and, during development,
// against another homeserver. Every HTTP request it makes is logged (shown
// with -v or when the test fails).

const (
	// e2eeWait bounds every wait for something to arrive through /sync.
	// It only guards against hanging: nothing is measured against it.
	e2eeWait = 60 * time.Second
	// e2eeLongPoll is the /sync timeout in milliseconds. The server should
	// answer as soon as there is news; one that does not still gets there.
	e2eeLongPoll = 10_000
)

// registerWithSharedSecret creates a user through Synapse's shared-secret
// registration API, which Axon, Synapse and Dendrite all serve.
func registerWithSharedSecret(t *testing.T, baseURL, secret, localpart, password string) id.UserID {
	t.Helper()
	cli, err := mautrix.NewClient(baseURL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&synapseadmin.Client{Client: cli}).SharedSecretRegister(context.Background(), secret,
		synapseadmin.ReqSharedSecretRegister{Username: localpart, Password: password, InhibitLogin: true})
	if err != nil {
		t.Fatalf("register %s: %v", localpart, err)
	}
	return resp.UserID
}

// e2eeClient is one logged-in device with its own Olm account, a sync loop
// feeding its OlmMachine, and a record of the room messages it decrypted.
type e2eeClient struct {
	name     string // "@alice:axon.test/ALICE1", for logs and failures
	password string
	cli      *mautrix.Client
	mach     *crypto.OlmMachine
	log      *testLog

	stopSync context.CancelFunc
	syncDone chan struct{}

	// mu serialises the sync loop's processing of a response and the test's
	// use of the OlmMachine (mautrix's in-memory stores are not all safe for
	// concurrent use), and waitFor's conditions never see half a response.
	// It guards the fields below too.
	mu        sync.Mutex
	synced    chan struct{} // closed and replaced after each processed response
	rounds    int           // sync responses processed
	syncErr   error         // why the sync loop stopped
	otkCounts mautrix.OTKCount
	fallback  []id.KeyAlgorithm // device_unused_fallback_key_types, last response
	decrypted []*event.Event
	pending   map[id.EventID]*event.Event // encrypted room events not decrypted yet
	decErrs   map[id.EventID]error        // why each pending event failed last
}

// loginE2EE logs a new device in with a password, uploads its device keys
// and one-time keys, and starts its sync loop, which stops when t ends. It
// returns once the first sync response has been processed.
func loginE2EE(t *testing.T, baseURL string, user id.UserID, password string, deviceID id.DeviceID) *e2eeClient {
	t.Helper()
	ctx := context.Background()
	c := &e2eeClient{
		name:     fmt.Sprintf("%s/%s", user, deviceID),
		password: password,
		log:      &testLog{t: t},
		synced:   make(chan struct{}),
		pending:  map[id.EventID]*event.Event{},
		decErrs:  map[id.EventID]error{},
	}
	cli, err := mautrix.NewClient(baseURL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	cli.Client = &http.Client{Transport: requestLogger{log: c.log, who: c.name, next: http.DefaultTransport}}
	if _, err := cli.Login(ctx, &mautrix.ReqLogin{
		Type:             mautrix.AuthTypePassword,
		Identifier:       mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: user.String()},
		Password:         password,
		DeviceID:         deviceID,
		StoreCredentials: true,
	}); err != nil {
		t.Fatalf("%s: login: %v", c.name, err)
	}
	c.cli = cli

	// Warnings and errors only: the crypto package reports some failures
	// (an undecryptable to-device message, say) nowhere else.
	logger := zerolog.New(zerolog.ConsoleWriter{Out: c.log, NoColor: true, PartsExclude: []string{zerolog.TimestampFieldName}}).
		Level(zerolog.WarnLevel).With().Str("device", c.name).Logger()
	// Not mautrix.NewMemoryStateStore: in v0.26.0 it leaves JoinRules nil,
	// and the first m.room.join_rules event panics.
	stateStore := &mautrix.MemoryStateStore{
		Registrations:  map[id.UserID]bool{},
		Members:        map[id.RoomID]map[id.UserID]*event.MemberEventContent{},
		MembersFetched: map[id.RoomID]bool{},
		PowerLevels:    map[id.RoomID]*event.PowerLevelsEventContent{},
		Encryption:     map[id.RoomID]*event.EncryptionEventContent{},
		Create:         map[id.RoomID]*event.Event{},
		JoinRules:      map[id.RoomID]*event.JoinRulesEventContent{},
	}
	cli.StateStore = stateStore
	c.mach = crypto.NewOlmMachine(cli, &logger, crypto.NewMemoryStore(nil), stateStore)
	if err := c.mach.Load(ctx); err != nil {
		t.Fatalf("%s: load Olm account: %v", c.name, err)
	}
	// For a new account this uploads the device keys and about 50 signed
	// one-time keys. (mautrix v0.26.0 uploads no fallback key, and so
	// ignores device_unused_fallback_key_types, which is only recorded.)
	if err := c.mach.ShareKeys(ctx, -1); err != nil {
		t.Fatalf("%s: upload device keys: %v", c.name, err)
	}
	// Learn the user's other devices, as clients do when they start: Megolm
	// sessions are shared with them too, and /sync only reports changes.
	if _, err := c.mach.FetchKeys(ctx, []id.UserID{user}, true); err != nil {
		t.Fatalf("%s: query own devices: %v", c.name, err)
	}

	syncCtx, stop := context.WithCancel(context.Background())
	c.stopSync, c.syncDone = stop, make(chan struct{})
	go c.syncLoop(syncCtx)
	t.Cleanup(c.close)
	c.waitFor(t, "its first sync", func() bool { return c.rounds > 0 })
	return c
}

func (c *e2eeClient) userID() id.UserID     { return c.cli.UserID }
func (c *e2eeClient) deviceID() id.DeviceID { return c.cli.DeviceID }

// close stops the sync loop and silences the logs before the test ends.
func (c *e2eeClient) close() {
	c.stopSync()
	<-c.syncDone
	c.mach.Destroy()
	c.log.close()
}

// syncLoop runs /sync until ctx ends or a request fails. Each response goes
// through mautrix's DefaultSyncer as in any mautrix client: the OlmMachine
// first (device_lists, to_device, device_one_time_keys_count), then state
// events into the state store and encrypted room events to onEncrypted.
// Undecryptable events are retried after every response, since their keys
// may come later.
func (c *e2eeClient) syncLoop(ctx context.Context) {
	defer close(c.syncDone)
	syncer := mautrix.NewDefaultSyncer()
	syncer.OnSync(c.mach.ProcessSyncResponse)
	syncer.OnEvent(c.cli.StateStoreSyncHandler)
	syncer.OnEventType(event.StateMember, c.mach.HandleMemberEvent)
	syncer.OnEventType(event.EventEncrypted, c.onEncrypted)
	since := ""
	for {
		resp, err := c.cli.SyncRequest(ctx, e2eeLongPoll, since, "", false, event.PresenceOnline)
		if ctx.Err() != nil {
			return
		}
		c.mu.Lock()
		if err == nil {
			err = syncer.ProcessResponse(ctx, resp, since)
		}
		if err != nil {
			c.syncErr = fmt.Errorf("sync since %q: %w", since, err)
		} else {
			c.rounds++
			c.otkCounts, c.fallback = resp.DeviceOTKCount, resp.FallbackKeys
			c.retryPending(ctx)
			since = resp.NextBatch
		}
		close(c.synced)
		c.synced = make(chan struct{})
		c.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// onEncrypted queues an encrypted room event for decryption; c.mu is held.
func (c *e2eeClient) onEncrypted(_ context.Context, evt *event.Event) {
	c.pending[evt.ID] = evt
}

// retryPending tries to decrypt every pending event; c.mu is held.
func (c *e2eeClient) retryPending(ctx context.Context) {
	for eventID, evt := range c.pending {
		dec, err := c.mach.DecryptMegolmEvent(ctx, evt)
		if err != nil {
			c.decErrs[eventID] = err
			continue
		}
		c.decrypted = append(c.decrypted, dec)
		delete(c.pending, eventID)
		delete(c.decErrs, eventID)
	}
}

// waitFor returns once cond holds, checking it now and after every
// processed sync response; it fails t if the sync loop stops or e2eeWait
// passes first. cond runs with c.mu held.
func (c *e2eeClient) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(e2eeWait)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		ok, err, next := cond(), c.syncErr, c.synced
		c.mu.Unlock()
		if ok {
			return
		}
		if err != nil {
			t.Fatalf("%s: waiting for %s: %v", c.name, what, err)
		}
		select {
		case <-next:
		case <-deadline.C:
			t.Fatalf("%s: still waiting for %s after %v of syncing\n%s", c.name, what, e2eeWait, c.describe())
		}
	}
}

// describe says what the client decrypted and what it could not, for
// failure messages.
func (c *e2eeClient) describe() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "  sync responses: %d; last signed_curve25519 one-time key count %d, unused fallback key types %v\n",
		c.rounds, c.otkCounts.SignedCurve25519, c.fallback)
	for _, evt := range c.decrypted {
		fmt.Fprintf(&b, "  decrypted %s from %s in %s: %q\n", evt.ID, evt.Sender, evt.RoomID, evt.Content.AsMessage().Body)
	}
	for eventID, err := range c.decErrs {
		fmt.Fprintf(&b, "  cannot decrypt %s from %s: %v\n", eventID, c.pending[eventID].Sender, err)
	}
	return b.String()
}

// waitForMessage waits until the client has decrypted a message with body
// in room and returns it.
func (c *e2eeClient) waitForMessage(t *testing.T, room id.RoomID, body string) *event.Event {
	t.Helper()
	var found *event.Event
	c.waitFor(t, fmt.Sprintf("a decrypted message %q", body), func() bool {
		for _, evt := range c.decrypted {
			if evt.RoomID == room && evt.Type == event.EventMessage && evt.Content.AsMessage().Body == body {
				found = evt
				return true
			}
		}
		return false
	})
	return found
}

// createEncryptedRoom creates a private room with m.room.encryption in its
// initial state and invites users.
func (c *e2eeClient) createEncryptedRoom(t *testing.T, invite ...id.UserID) id.RoomID {
	t.Helper()
	resp, err := c.cli.CreateRoom(context.Background(), &mautrix.ReqCreateRoom{
		Preset: "private_chat",
		Invite: invite,
		InitialState: []*event.Event{{
			Type:    event.StateEncryption,
			Content: event.Content{Parsed: &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}},
		}},
	})
	if err != nil {
		t.Fatalf("%s: create room: %v", c.name, err)
	}
	return resp.RoomID
}

func (c *e2eeClient) join(t *testing.T, room id.RoomID) {
	t.Helper()
	if _, err := c.cli.JoinRoomByID(context.Background(), room); err != nil {
		t.Fatalf("%s: join %s: %v", c.name, room, err)
	}
}

// waitForMembers waits until the client's sync has shown room to be
// encrypted with all of users joined: the OlmMachine relies on that state
// to rotate its Megolm session when their devices change.
func (c *e2eeClient) waitForMembers(t *testing.T, room id.RoomID, users ...id.UserID) {
	t.Helper()
	ctx := context.Background()
	c.waitFor(t, fmt.Sprintf("%s to be encrypted with %v joined", room, users), func() bool {
		if encrypted, _ := c.cli.StateStore.IsEncrypted(ctx, room); !encrypted {
			return false
		}
		for _, user := range users {
			if !c.cli.StateStore.IsInRoom(ctx, room, user) {
				return false
			}
		}
		return true
	})
}

// waitForDevice waits until the client has the keys of user's device,
// fetched from /keys/query when /sync listed user in device_lists.changed.
func (c *e2eeClient) waitForDevice(t *testing.T, user id.UserID, device id.DeviceID) {
	t.Helper()
	c.waitFor(t, fmt.Sprintf("the keys of %s/%s", user, device), func() bool {
		dev, _ := c.mach.CryptoStore.GetDevice(context.Background(), user, device)
		return dev != nil
	})
}

// send encrypts a text message for every device of the room's members and
// sends it: the Megolm session is shared first (Olm over to-device, after
// /keys/query and /keys/claim for devices without an Olm session).
func (c *e2eeClient) send(t *testing.T, room id.RoomID, body string) id.EventID {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx := context.Background()
	members, err := c.cli.JoinedMembers(ctx, room)
	if err != nil {
		t.Fatalf("%s: members of %s: %v", c.name, room, err)
	}
	users := make([]id.UserID, 0, len(members.Joined))
	for user := range members.Joined {
		users = append(users, user)
	}
	content := &event.MessageEventContent{MsgType: event.MsgText, Body: body}
	// The sync loop drops the session when a member's devices change; if
	// that happens between sharing and encrypting, share a new one.
	for attempt := 1; ; attempt++ {
		if err := c.mach.ShareGroupSession(ctx, room, users); err != nil {
			t.Fatalf("%s: share Megolm session in %s: %v", c.name, room, err)
		}
		encrypted, err := c.mach.EncryptMegolmEvent(ctx, room, event.EventMessage, content)
		if errors.Is(err, crypto.NoGroupSession) && attempt < 3 {
			continue
		}
		if err != nil {
			t.Fatalf("%s: encrypt: %v", c.name, err)
		}
		resp, err := c.cli.SendMessageEvent(ctx, room, event.EventEncrypted, encrypted)
		if err != nil {
			t.Fatalf("%s: send to %s: %v", c.name, room, err)
		}
		return resp.EventID
	}
}

// bootstrapCrossSigning creates the user's master, self-signing and
// user-signing keys, uploads them (answering a UIA challenge with the
// password) and signs every device of the user with the self-signing key.
func (c *e2eeClient) bootstrapCrossSigning(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx := context.Background()
	keys, err := c.mach.GenerateCrossSigningKeys()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.mach.PublishCrossSigningKeys(ctx, keys, c.passwordAuth); err != nil {
		t.Fatalf("%s: upload cross-signing keys: %v", c.name, err)
	}
	devices, err := c.mach.FetchKeys(ctx, []id.UserID{c.userID()}, true)
	if err != nil {
		t.Fatalf("%s: query own keys: %v", c.name, err)
	}
	for _, device := range devices[c.userID()] {
		if err := c.mach.SignOwnDevice(ctx, device); err != nil {
			t.Fatalf("%s: sign own device %s: %v", c.name, device.DeviceID, err)
		}
	}
}

// passwordAuth answers a User-Interactive Authentication challenge.
func (c *e2eeClient) passwordAuth(challenge *mautrix.RespUserInteractive) any {
	return map[string]any{
		"type":       mautrix.AuthTypePassword,
		"session":    challenge.Session,
		"identifier": map[string]any{"type": mautrix.IdentifierTypeUser, "user": c.userID()},
		"password":   c.password,
	}
}

// verifyUser signs user's master key with the client's user-signing key,
// as after a successful verification, and uploads the signature.
func (c *e2eeClient) verifyUser(t *testing.T, user id.UserID) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx := context.Background()
	if _, err := c.mach.FetchKeys(ctx, []id.UserID{user}, true); err != nil {
		t.Fatalf("%s: query keys of %s: %v", c.name, user, err)
	}
	keys, err := c.mach.GetCrossSigningPublicKeys(ctx, user)
	if err != nil || keys == nil {
		t.Fatalf("%s: cross-signing keys of %s: %v %v", c.name, user, keys, err)
	}
	if err := c.mach.SignUser(ctx, user, keys.MasterKey); err != nil {
		t.Fatalf("%s: sign %s's master key: %v", c.name, user, err)
	}
}

// trust reports, from keys fetched afresh from /keys/query, whether the
// client trusts user (its user-signing key signed user's master key) and
// how far it trusts user's device.
func (c *e2eeClient) trust(t *testing.T, user id.UserID, device id.DeviceID) (userTrusted bool, deviceTrust id.TrustState) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx := context.Background()
	if _, err := c.mach.FetchKeys(ctx, []id.UserID{c.userID(), user}, true); err != nil {
		t.Fatalf("%s: query keys: %v", c.name, err)
	}
	userTrusted, err := c.mach.IsUserTrusted(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := c.mach.CryptoStore.GetDevice(ctx, user, device)
	if err != nil || dev == nil {
		t.Fatalf("%s: no keys for %s/%s: %v", c.name, user, device, err)
	}
	deviceTrust, err = c.mach.ResolveTrustContext(ctx, dev)
	if err != nil {
		t.Fatal(err)
	}
	return userTrusted, deviceTrust
}

// createKeyBackup creates a server-side key backup version
// (m.megolm_backup.v1.curve25519-aes-sha2) for a new curve25519 key, its
// auth_data signed by this device. The private key stands for what the
// user would keep as a recovery key.
func (c *e2eeClient) createKeyBackup(t *testing.T) (*backup.MegolmBackupKey, id.KeyBackupVersion) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	key, err := backup.NewMegolmBackupKey()
	if err != nil {
		t.Fatal(err)
	}
	authData := backup.MegolmAuthData{PublicKey: id.Ed25519(base64.RawStdEncoding.EncodeToString(key.PublicKey().Bytes()))}
	sig, err := c.mach.GetAccount().SignJSON(authData)
	if err != nil {
		t.Fatal(err)
	}
	authData.Signatures = signatures.NewSingleSignature(c.userID(), id.KeyAlgorithmEd25519, c.deviceID().String(), sig)
	resp, err := c.cli.CreateKeyBackupVersion(context.Background(), &mautrix.ReqRoomKeysVersionCreate[backup.MegolmAuthData]{
		Algorithm: id.KeyBackupAlgorithmMegolmBackupV1,
		AuthData:  authData,
	})
	if err != nil {
		t.Fatalf("%s: create key backup version: %v", c.name, err)
	}
	return key, resp.Version
}

// backUpRoomKeys uploads every Megolm session the client holds, encrypted
// to the backup key, in one PUT /room_keys/keys. It returns how many it
// uploaded and the server's answer.
func (c *e2eeClient) backUpRoomKeys(t *testing.T, version id.KeyBackupVersion, key *backup.MegolmBackupKey) (int, *mautrix.RespRoomKeysUpdate) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx := context.Background()
	sessions, err := c.mach.CryptoStore.GetAllGroupSessions(ctx).AsList()
	if err != nil {
		t.Fatal(err)
	}
	req := &mautrix.ReqKeyBackup{Rooms: map[id.RoomID]mautrix.ReqRoomKeyBackup{}}
	for _, s := range sessions {
		first := s.Internal.FirstKnownIndex()
		exported, err := s.Internal.Export(first)
		if err != nil {
			t.Fatal(err)
		}
		data, err := backup.EncryptSessionData(key, backup.MegolmSessionData{
			Algorithm:          id.AlgorithmMegolmV1,
			ForwardingKeyChain: append([]string{}, s.ForwardingChains...),
			SenderClaimedKeys:  backup.SenderClaimedKeys{Ed25519: s.SigningKey},
			SenderKey:          s.SenderKey,
			SessionKey:         string(exported),
		})
		if err != nil {
			t.Fatal(err)
		}
		raw, err := json.Marshal(data)
		if err != nil {
			t.Fatal(err)
		}
		room, ok := req.Rooms[s.RoomID]
		if !ok {
			room = mautrix.ReqRoomKeyBackup{Sessions: map[id.SessionID]mautrix.ReqKeyBackupData{}}
			req.Rooms[s.RoomID] = room
		}
		room.Sessions[s.ID()] = mautrix.ReqKeyBackupData{
			FirstMessageIndex: int(first),
			ForwardedCount:    len(s.ForwardingChains),
			SessionData:       raw,
		}
	}
	resp, err := c.cli.PutKeysInBackup(ctx, version, req)
	if err != nil {
		t.Fatalf("%s: upload room keys to backup %s: %v", c.name, version, err)
	}
	return len(sessions), resp
}

// restoreKeyBackup downloads the latest backup version, checks its public
// key matches key, and imports every session in it.
func (c *e2eeClient) restoreKeyBackup(t *testing.T, key *backup.MegolmBackupKey) id.KeyBackupVersion {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	version, err := c.mach.DownloadAndStoreLatestKeyBackup(context.Background(), key)
	if err != nil {
		t.Fatalf("%s: restore key backup: %v", c.name, err)
	}
	return version
}

// historyEntry is one encrypted event of a room's history as the client
// sees it: its plaintext body, or why it cannot decrypt it.
type historyEntry struct {
	eventID id.EventID
	sender  id.UserID
	body    string
	err     error
}

// history fetches the room's latest events with /messages (backwards from
// the end) and decrypts the encrypted ones.
func (c *e2eeClient) history(t *testing.T, room id.RoomID) []historyEntry {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx := context.Background()
	resp, err := c.cli.Messages(ctx, room, "", "", mautrix.DirectionBackward, nil, 100)
	if err != nil {
		t.Fatalf("%s: messages of %s: %v", c.name, room, err)
	}
	var entries []historyEntry
	for _, evt := range resp.Chunk {
		if evt.Type != event.EventEncrypted {
			continue
		}
		evt.RoomID = room
		if err := evt.Content.ParseRaw(evt.Type); err != nil && !errors.Is(err, event.ErrContentAlreadyParsed) {
			t.Fatalf("%s: event %s: %v", c.name, evt.ID, err)
		}
		entry := historyEntry{eventID: evt.ID, sender: evt.Sender}
		if dec, err := c.mach.DecryptMegolmEvent(ctx, evt); err != nil {
			entry.err = err
		} else {
			entry.body = dec.Content.AsMessage().Body
		}
		entries = append(entries, entry)
	}
	return entries
}

// testLog writes to t's log until it is closed: the sync loop's goroutine
// may still log while the test is ending, when t must not be used.
type testLog struct {
	t      *testing.T
	mu     sync.Mutex
	closed bool
}

func (l *testLog) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.t.Logf(format, args...)
	}
}

// Write takes zerolog's lines.
func (l *testLog) Write(p []byte) (int, error) {
	l.logf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (l *testLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
}

// requestLogger logs each request's method, path and status: the order in
// which a real client calls the endpoints is what a server must get right.
type requestLogger struct {
	log  *testLog
	who  string
	next http.RoundTripper
}

func (r requestLogger) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	switch {
	case err == nil:
		r.log.logf("%s: %s %s -> %d", r.who, req.Method, req.URL.Path, resp.StatusCode)
	case req.Context().Err() == nil: // not the sync loop being stopped
		r.log.logf("%s: %s %s -> %v", r.who, req.Method, req.URL.Path, err)
	}
	return resp, err
}

// sortedBodies lists the bodies of the entries that decrypted, sorted.
func sortedBodies(entries []historyEntry) []string {
	var bodies []string
	for _, e := range entries {
		if e.err == nil {
			bodies = append(bodies, e.body)
		}
	}
	sort.Strings(bodies)
	return bodies
}
