// Axon's end-to-end encryption stories, played by Element's own crypto stack:
// matrix-js-sdk with the Rust crypto (@matrix-org/matrix-sdk-crypto-wasm),
// in-memory stores. Run with Node 22 as scripts/e2e-js-setup prints it.
//
//   node story.mjs pair --hs URL --secret SECRET [common options]
//   node story.mjs peer --hs URL --user USER (--password PW | --token TOKEN [--device DEVICE])
//                       --room ROOM_ID --expect BODY --reply BODY [common options]
//
// Common options:
//   --timeout S       the whole run's limit in seconds (default 180)
//   --step-timeout S  the limit of each wait for a condition (default 60)
//   --trace           every HTTP request of every client on stderr, in order:
//                     {"http":"alice","method":"POST","path":"/_matrix/client/v3/keys/upload","status":200}
//   --verbose         the js-sdk's and the Rust crypto's debug logs on stderr
//   --json OBJECT     options as one JSON object, e.g. '{"hs":"http://…","room":"!r:hs"}';
//                     flags given as well win
//
// Output: standard output carries only progress lines, one JSON object each:
//   {"t": ms since start, "step": "…", …fields}
// The last line is {"step":"done","ok":true} on success (exit status 0) or
// {"step":"failed","ok":false,"error":"…","after":"last step reached"}
// (exit status 1; also a line "story: FAILED: …" on stderr). Bad usage exits 2.
//
// pair: the whole story with two js-sdk users, registered with the server's
// registration shared secret (Synapse's /_synapse/admin/v1/register):
//   1. alice and bob start; alice bootstraps cross-signing (UIA with her
//      password if the server asks), secret storage and a key backup;
//   2. alice creates a room with m.room.encryption (m.megolm.v1.aes-sha2) and
//      invites bob, who joins;
//   3. alice sends an encrypted message that bob decrypts; bob replies
//      encrypted and alice decrypts;
//   4. alice's first device backs up both room keys;
//   5. alice logs in on a new device, which takes the cross-signing keys from
//      secret storage and signs itself (her first device sees it verified),
//      takes the backup key from secret storage, restores the room keys from
//      the backup and decrypts the earlier messages fetched with /messages.
//
// peer: one side of a mixed story; the other side is another client (the Go
// tests' mautrix-go). With the user's credentials it:
//   1. starts on the device of --token (--device if given, else the one
//      /account/whoami names; its keys must never have been uploaded, as for a
//      device fresh from registration or login), or on a new device logged in
//      with --password (--user is then a full user ID or a localpart; with
//      --token it must be the token's full user ID);
//   2. joins --room if not joined yet (it must be invited, or the room public),
//      waits until it sees the room's m.room.encryption and until /keys/query
//      returns its device keys, then prints
//        {"step":"ready","user_id":"@…","device_id":"…","room_id":"!…"}
//      — the other side sends its message only after this line;
//   3. waits for an m.room.encrypted event that decrypts to an m.room.message
//      whose body equals --expect, printing
//        {"step":"received","event_id":"$…","sender":"@…"};
//   4. sends an encrypted m.text message with body --reply, checks the server
//      stored it as m.room.encrypted, prints {"step":"replied","event_id":"$…"}
//      and then {"step":"done","ok":true}, and exits 0.

import { parseArgs } from "node:util";

import {
    CryptoEvent,
    decryptHistory,
    decryptedMessage,
    emit,
    enableTrace,
    loginWithPassword,
    membership,
    nonce,
    ownDeviceKeysPublished,
    passwordUIA,
    registerWithSecret,
    roomEncrypted,
    sdk,
    sendEncrypted,
    setVerbose,
    startCryptoClient,
    until,
    whoami,
    within,
} from "./harness.mjs";

const usage = `usage:
  node story.mjs pair --hs URL --secret SECRET [--timeout S] [--step-timeout S] [--trace] [--verbose]
  node story.mjs peer --hs URL --user USER (--password PW | --token TOKEN [--device DEVICE])
                      --room ROOM_ID --expect BODY --reply BODY [--timeout S] [--step-timeout S] [--trace] [--verbose]
  (any option may also come in --json '{"name": value, …}')`;

const optionSpec = {
    hs: { type: "string" },
    secret: { type: "string" },
    user: { type: "string" },
    password: { type: "string" },
    token: { type: "string" },
    device: { type: "string" },
    room: { type: "string" },
    expect: { type: "string" },
    reply: { type: "string" },
    timeout: { type: "string" },
    "step-timeout": { type: "string" },
    trace: { type: "boolean" },
    verbose: { type: "boolean" },
    json: { type: "string" },
};

const roles = {
    pair: { run: pairStory, required: ["hs", "secret"] },
    peer: { run: peerRole, required: ["hs", "user", "room", "expect", "reply"] },
};

// The last step reached, for the failure line.
let lastStep = "start";
function progress(step, fields) {
    lastStep = step;
    emit(step, fields);
}

function usageError(message) {
    process.stderr.write(`story: ${message}\n${usage}\n`);
    process.exit(2);
}

function parseOptions(argv) {
    let parsed;
    try {
        parsed = parseArgs({ args: argv, options: optionSpec, allowPositionals: true, strict: true });
    } catch (err) {
        usageError(err.message);
    }
    const [role, ...extra] = parsed.positionals;
    if (!roles[role]) usageError(role ? `unknown role "${role}"` : "no role given");
    if (extra.length > 0) usageError(`unexpected arguments: ${extra.join(" ")}`);

    let opts = {};
    if (parsed.values.json !== undefined) {
        try {
            opts = JSON.parse(parsed.values.json);
        } catch (err) {
            usageError(`--json: ${err.message}`);
        }
        const unknown = Object.keys(opts).filter((k) => !(k in optionSpec) || k === "json");
        if (unknown.length > 0) usageError(`--json: unknown options ${unknown.join(", ")}`);
    }
    opts = { ...opts, ...parsed.values };
    delete opts.json;

    const missing = roles[role].required.filter((k) => typeof opts[k] !== "string" || opts[k] === "");
    if (missing.length > 0) usageError(`${role} needs --${missing.join(", --")}`);
    if (role === "peer" && !opts.password === !opts.token) {
        usageError("peer needs one of --password and --token");
    }
    for (const k of ["timeout", "step-timeout"]) {
        if (opts[k] !== undefined && !(Number(opts[k]) > 0)) usageError(`--${k} must be a positive number of seconds`);
    }
    return {
        role,
        ...opts,
        timeoutMs: Number(opts.timeout ?? 180) * 1000,
        stepMs: Number(opts["step-timeout"] ?? 60) * 1000,
    };
}

/** The pair story: see the top of this file. */
async function pairStory(o, clients) {
    const run = nonce();
    const password = `pw-${nonce()}-${nonce()}`;
    const [aliceLogin, bobLogin] = await Promise.all([
        registerWithSecret(o.hs, o.secret, `alice-${run}`, password),
        registerWithSecret(o.hs, o.secret, `bob-${run}`, password),
    ]);
    const alice = aliceLogin.user_id;
    const bob = bobLogin.user_id;
    progress("registered", { alice, bob, alice_device: aliceLogin.device_id, bob_device: bobLogin.device_id });

    const [alice1, bobClient] = await Promise.all([
        startCryptoClient(o.hs, aliceLogin, { name: "alice", timeoutMs: o.stepMs }),
        startCryptoClient(o.hs, bobLogin, { name: "bob", timeoutMs: o.stepMs }),
    ]);
    clients.push(alice1, bobClient);
    // Each finds the other's device on its first /keys/query only if the
    // keys are on the server by then.
    await Promise.all([ownDeviceKeysPublished(alice1, o.stepMs), ownDeviceKeysPublished(bobClient, o.stepMs)]);
    progress("started", { crypto: alice1.getCrypto().getVersion() });

    // Cross-signing, then secret storage (which stores the cross-signing
    // private keys and the backup key) with a new key backup.
    const crypto1 = alice1.getCrypto();
    let uia = "not called";
    await within(
        "alice's bootstrapCrossSigning",
        o.stepMs,
        crypto1.bootstrapCrossSigning({
            authUploadDeviceSigningKeys: passwordUIA(alice, password, (stage) => (uia = stage)),
        }),
    );
    if (!(await crypto1.isCrossSigningReady())) throw new Error("alice's cross-signing is not ready after bootstrap");
    progress("alice.cross_signing", { uia });

    const recoveryKey = await crypto1.createRecoveryKeyFromPassphrase();
    // Each account-data write waits for its echo in /sync.
    await within(
        "alice's bootstrapSecretStorage",
        o.stepMs,
        crypto1.bootstrapSecretStorage({
            createSecretStorageKey: async () => recoveryKey,
            setupNewSecretStorage: true,
            setupNewKeyBackup: true,
        }),
    );
    if (!(await crypto1.isSecretStorageReady())) throw new Error("alice's secret storage is not ready after bootstrap");
    const backupVersion = await until("alice's key backup to be active", () => crypto1.getActiveSessionBackupVersion(), {
        emitter: alice1,
        events: [CryptoEvent.KeyBackupStatus],
        timeoutMs: o.stepMs,
    });
    progress("alice.key_backup", { version: backupVersion });

    // The encrypted room.
    const { room_id: roomId } = await alice1.createRoom({
        name: `e2ee ${run}`,
        preset: sdk.Preset.PrivateChat,
        initial_state: [
            { type: sdk.EventType.RoomEncryption, state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } },
        ],
    });
    await alice1.invite(roomId, bob);
    progress("alice.room", { room_id: roomId });

    await membership(bobClient, roomId, bob, sdk.KnownMembership.Invite, o.stepMs);
    await bobClient.joinRoom(roomId);
    await membership(alice1, roomId, bob, sdk.KnownMembership.Join, o.stepMs);
    progress("bob.joined");

    // alice → bob.
    const toBob = "Hello bob, this is alice (encrypted)";
    await roomEncrypted(alice1, roomId, o.stepMs);
    const first = await within("alice's send", o.stepMs, sendEncrypted(alice1, roomId, toBob));
    progress("alice.sent", { event_id: first.eventId });
    await decryptedMessage(bobClient, roomId, toBob, o.stepMs);
    progress("bob.decrypted", { event_id: first.eventId });

    // bob → alice.
    const toAlice = "Hello alice, bob here (encrypted)";
    await roomEncrypted(bobClient, roomId, o.stepMs);
    const second = await within("bob's send", o.stepMs, sendEncrypted(bobClient, roomId, toAlice));
    progress("bob.sent", { event_id: second.eventId });
    await decryptedMessage(alice1, roomId, toAlice, o.stepMs);
    progress("alice.decrypted", { event_id: second.eventId });

    // Both room keys (alice's outbound session, bob's session she received)
    // must be in the backup before a new device can restore them.
    const sessions = [...new Set([first.sessionId, second.sessionId])];
    await until(
        `alice's backup of sessions ${sessions.join(", ")}`,
        async () => (await Promise.all(sessions.map((s) => backedUp(alice1, roomId, s, backupVersion)))).every(Boolean),
        { pollMs: 250, timeoutMs: o.stepMs },
    );
    progress("alice.backed_up", { sessions: sessions.length });

    // alice's new device.
    const alice2Login = await loginWithPassword(o.hs, alice, password);
    const alice2 = await startCryptoClient(o.hs, alice2Login, {
        name: "alice2",
        recoveryKey: recoveryKey.privateKey,
        timeoutMs: o.stepMs,
    });
    clients.push(alice2);
    const device2 = alice2Login.device_id;
    progress("alice2.started", { device: device2 });

    // As Element does on a new device: fetch the account's cross-signing
    // public keys first; importing the private keys from secret storage
    // needs them.
    const crypto2 = alice2.getCrypto();
    if (!(await crypto2.userHasCrossSigningKeys(alice, true))) {
        throw new Error("alice2 finds no cross-signing keys for alice on the server");
    }
    await within(
        "alice2's bootstrapCrossSigning",
        o.stepMs,
        crypto2.bootstrapCrossSigning({ authUploadDeviceSigningKeys: passwordUIA(alice, password) }),
    );
    if (!(await crypto2.isCrossSigningReady())) throw new Error("alice2's cross-signing is not ready after bootstrap");
    // The device signature alice2 uploaded comes back to both devices
    // through /keys/query, after the device-list change /sync announces.
    await Promise.all(
        [
            ["alice2", alice2],
            ["alice's first device", alice1],
        ].map(([who, client]) =>
            until(
                `${who} to see ${device2} cross-signed`,
                async () => (await client.getCrypto().getDeviceVerificationStatus(alice, device2))?.crossSigningVerified,
                {
                    emitter: client,
                    events: [CryptoEvent.DevicesUpdated, CryptoEvent.UserTrustStatusChanged],
                    pollMs: 250,
                    timeoutMs: o.stepMs,
                },
            ),
        ),
    );
    progress("alice2.cross_signed");

    await crypto2.loadSessionBackupPrivateKeyFromSecretStorage();
    const check = await crypto2.checkKeyBackupAndEnable();
    if (!check?.trustInfo.trusted) throw new Error(`alice2 does not trust backup ${check?.backupInfo?.version}`);
    const restored = await within("alice2's restoreKeyBackup", o.stepMs, crypto2.restoreKeyBackup());
    if (restored.total < sessions.length) {
        throw new Error(`the backup held ${restored.total} keys, want at least ${sessions.length}`);
    }
    progress("alice2.restored", restored);

    const history = await decryptHistory(alice2, roomId);
    if (history.failures.length > 0) throw new Error(`alice2 could not decrypt ${history.failures.join(", ")}`);
    if (JSON.stringify(history.bodies) !== JSON.stringify([toBob, toAlice])) {
        throw new Error(`alice2 decrypted ${JSON.stringify(history.bodies)}, want ${JSON.stringify([toBob, toAlice])}`);
    }
    progress("alice2.history", { decrypted: history.bodies.length });
}

/** Whether the server's key backup version holds the room key session. */
async function backedUp(client, roomId, sessionId, version) {
    const path = `/room_keys/keys/${encodeURIComponent(roomId)}/${encodeURIComponent(sessionId)}`;
    try {
        await client.http.authedRequest(sdk.Method.Get, path, { version });
        return true;
    } catch (err) {
        if (err.errcode === "M_NOT_FOUND") return false;
        throw err;
    }
}

/** The session of --token: its user, and its device (--device, or as whoami says). */
async function tokenLogin(o) {
    const me = await whoami(o.hs, o.token);
    const deviceId = o.device ?? me.device_id;
    if (!deviceId) throw new Error("--token: the server's whoami names no device; give --device");
    if (o.user !== me.user_id) throw new Error(`--token belongs to ${me.user_id}, not --user ${o.user}`);
    return { user_id: me.user_id, access_token: o.token, device_id: deviceId };
}

/** The peer role: see the top of this file. */
async function peerRole(o, clients) {
    const login = o.password ? await loginWithPassword(o.hs, o.user, o.password) : await tokenLogin(o);
    const client = await startCryptoClient(o.hs, login, { name: "peer", timeoutMs: o.stepMs });
    clients.push(client);
    const me = client.getUserId();

    if (client.getRoom(o.room)?.getMyMembership() !== sdk.KnownMembership.Join) {
        await client.joinRoom(o.room);
    }
    await membership(client, o.room, me, sdk.KnownMembership.Join, o.stepMs);
    await roomEncrypted(client, o.room, o.stepMs);
    await ownDeviceKeysPublished(client, o.stepMs);
    progress("ready", { user_id: me, device_id: client.getDeviceId(), room_id: o.room });

    const ev = await decryptedMessage(client, o.room, o.expect, o.stepMs);
    progress("received", { event_id: ev.getId(), sender: ev.getSender() });

    const { eventId } = await within("the reply", o.stepMs, sendEncrypted(client, o.room, o.reply));
    progress("replied", { event_id: eventId });
}

async function main() {
    const o = parseOptions(process.argv.slice(2));
    if (o.trace) enableTrace();
    if (o.verbose) setVerbose();

    const clients = [];
    const fail = (message) => {
        emit("failed", { ok: false, error: message, after: lastStep });
        process.stderr.write(`story: FAILED: ${message}\n`);
        process.exit(1);
    };
    const watchdog = setTimeout(() => fail(`the ${o.role} story took longer than ${o.timeoutMs / 1000}s`), o.timeoutMs);
    try {
        progress("begin", { role: o.role, hs: o.hs, sdk: "matrix-js-sdk", node: process.version });
        await roles[o.role].run(o, clients);
    } catch (err) {
        fail(err?.stack && o.verbose ? err.stack : String(err?.message ?? err));
    }
    clearTimeout(watchdog);
    for (const c of clients) c.stopClient();
    emit("done", { ok: true });
    process.exit(0);
}

await main();
