// Building blocks of the stories in story.mjs: progress lines, waiting for
// conditions, accounts, and matrix-js-sdk clients with the Rust crypto.
//
// Standard output carries only the JSON progress lines (see story.mjs);
// everything the js-sdk and the Rust crypto log goes to standard error.

import { Console } from "node:console";
import { createHmac, randomBytes } from "node:crypto";

// The js-sdk's loggers and the Rust crypto's tracing write through the
// console methods, looked up at each call: point them all at stderr, where
// they cannot mix with the progress lines, and keep only warnings and errors
// unless verbose.
const stderrConsole = new Console({ stdout: process.stderr, stderr: process.stderr });
const quiet = () => {};
globalThis.console = Object.assign(Object.create(stderrConsole), { log: quiet, info: quiet, debug: quiet, trace: quiet });

/** Lets the js-sdk's and the Rust crypto's debug logs through to stderr. */
export function setVerbose() {
    globalThis.console = stderrConsole;
}

const sdk = await import("matrix-js-sdk");
const { CryptoEvent } = await import("matrix-js-sdk/lib/crypto-api/index.js");
export { sdk, CryptoEvent };

const started = Date.now();

/** Writes one progress line: {"t": ms since start, "step": ..., ...fields}. */
export function emit(step, fields = {}) {
    process.stdout.write(JSON.stringify({ t: Date.now() - started, step, ...fields }) + "\n");
}

// Requests made by the clients, in order, when tracing (--trace).
let tracing = false;
export function enableTrace() {
    tracing = true;
}

/**
 * A fetch that reports every request of the client `who` on stderr as a JSON
 * line {"http": who, "method", "path", "status"} when tracing is on.
 */
export function tracedFetch(who) {
    return async (input, init = {}) => {
        const res = await fetch(input, init);
        if (tracing) {
            const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
            const method = init.method ?? "GET";
            const line = { http: who, method, path: url.pathname, status: res.status };
            process.stderr.write(JSON.stringify(line) + "\n");
        }
        return res;
    };
}

/**
 * Resolves with the first truthy value of check(), re-evaluated whenever one
 * of events fires on emitter (and every pollMs, for conditions that only a
 * request can observe), or rejects after timeoutMs with a message naming what.
 * check may be async; errors it throws end the wait.
 */
export function until(what, check, { emitter, events = [], pollMs = 0, timeoutMs, explain } = {}) {
    return new Promise((resolve, reject) => {
        let done = false;
        let running = false;
        let again = false;
        const finish = (err, value) => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            clearInterval(poller);
            for (const e of events) emitter.off(e, probe);
            if (err) reject(err);
            else resolve(value);
        };
        // One evaluation at a time; a trigger during one schedules another.
        async function probe() {
            if (done) return;
            if (running) {
                again = true;
                return;
            }
            running = true;
            try {
                do {
                    again = false;
                    const value = await check();
                    if (value) return finish(null, value);
                } while (again && !done);
            } catch (err) {
                finish(err);
            } finally {
                running = false;
            }
        }
        const timer = setTimeout(async () => {
            let detail = "";
            try {
                detail = explain ? `: ${await explain()}` : "";
            } catch (err) {
                detail = `: (explain failed: ${err.message})`;
            }
            finish(new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${detail}`));
        }, timeoutMs);
        const poller = pollMs > 0 ? setInterval(probe, pollMs) : undefined;
        for (const e of events) emitter.on(e, probe);
        probe();
    });
}

/**
 * Resolves as promise does, or rejects after timeoutMs naming what: for
 * js-sdk calls that wait on the server without a limit of their own (such as
 * setAccountData, which waits for its echo in /sync).
 */
export function within(what, timeoutMs, promise) {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs / 1000}s in ${what}`)), timeoutMs);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A random suffix for user names, so a story can run again on the same server. */
export function nonce() {
    return randomBytes(6).toString("hex");
}

async function request(hs, method, path, body, token) {
    const url = new URL(path, hs);
    let res;
    try {
        res = await fetch(url, {
            method,
            headers: {
                "Content-Type": "application/json",
                ...(token ? { Authorization: `Bearer ${token}` } : {}),
            },
            body: body === undefined ? undefined : JSON.stringify(body),
        });
    } catch (err) {
        // fetch's own message is only "fetch failed"; the reason is its cause.
        throw new Error(`${method} ${url}: ${err.cause?.message ?? err.message}`);
    }
    const text = await res.text();
    let json;
    try {
        json = JSON.parse(text);
    } catch {
        json = { raw: text };
    }
    if (!res.ok) {
        throw new Error(`${method} ${path}: HTTP ${res.status} ${json.errcode ?? ""} ${json.error ?? text}`.trim());
    }
    return json;
}

/**
 * Registers a user through Synapse's shared-secret admin API
 * (/_synapse/admin/v1/register) and returns the login response
 * {user_id, access_token, device_id}.
 */
export async function registerWithSecret(hs, secret, username, password) {
    const { nonce } = await request(hs, "GET", "/_synapse/admin/v1/register");
    const mac = createHmac("sha1", secret)
        .update([nonce, username, password, "notadmin"].join("\0"))
        .digest("hex");
    return request(hs, "POST", "/_synapse/admin/v1/register", { nonce, username, password, admin: false, mac });
}

/** Logs in with a password, which makes a new device, and returns the login response. */
export async function loginWithPassword(hs, user, password) {
    return request(hs, "POST", "/_matrix/client/v3/login", {
        type: "m.login.password",
        identifier: { type: "m.id.user", user },
        password,
        initial_device_display_name: "axon e2e js",
    });
}

/** The user an access token belongs to: {user_id, device_id}. */
export async function whoami(hs, token) {
    return request(hs, "GET", "/_matrix/client/v3/account/whoami", undefined, token);
}

/**
 * The user-interactive-auth callback for /keys/device_signing/upload: first
 * without auth (a server may let the first cross-signing keys through without
 * UIA, MSC3967), then with the password in the session the server opened.
 * onStage learns which happened ("none" or "m.login.password").
 */
export function passwordUIA(userId, password, onStage = () => {}) {
    return async (makeRequest) => {
        try {
            const res = await makeRequest(null);
            onStage("none");
            return res;
        } catch (err) {
            const flows = err.data?.flows;
            if (err.httpStatus !== 401 || !Array.isArray(flows)) throw err;
            if (!flows.some((f) => f.stages?.length === 1 && f.stages[0] === "m.login.password")) {
                throw new Error(`server offers no m.login.password flow for cross-signing upload: ${JSON.stringify(flows)}`);
            }
            const res = await makeRequest({
                type: "m.login.password",
                identifier: { type: "m.id.user", user: userId },
                password,
                session: err.data.session,
            });
            onStage("m.login.password");
            return res;
        }
    };
}

/**
 * A started matrix-js-sdk client with the Rust crypto in memory, after its
 * first sync. login is {user_id, access_token, device_id}; recoveryKey, when
 * given, is the secret-storage key (raw bytes) the client hands out when the
 * crypto asks for it.
 */
export async function startCryptoClient(hs, login, { name, recoveryKey, timeoutMs }) {
    const secretStorageKey = { key: recoveryKey };
    const client = sdk.createClient({
        baseUrl: hs,
        userId: login.user_id,
        deviceId: login.device_id,
        accessToken: login.access_token,
        fetchFn: tracedFetch(name),
        cryptoCallbacks: {
            // One secret-storage key is in play; answer with it for whichever key ID is asked.
            getSecretStorageKey: async ({ keys }) => {
                if (!secretStorageKey.key) return null;
                return [Object.keys(keys)[0], secretStorageKey.key];
            },
            cacheSecretStorageKey: (_keyId, _info, key) => {
                secretStorageKey.key = key;
            },
        },
    });
    await client.initRustCrypto({ useIndexedDB: false });
    const prepared = until(
        `${name}'s first sync`,
        () => {
            const state = client.getSyncState();
            if (state === sdk.SyncState.Error) {
                throw new Error(`${name}'s sync failed: ${client.getSyncStateData()?.error?.message ?? "unknown error"}`);
            }
            return state === sdk.SyncState.Prepared || state === sdk.SyncState.Syncing;
        },
        { emitter: client, events: [sdk.ClientEvent.Sync], timeoutMs },
    );
    await client.startClient({ initialSyncLimit: 50 });
    await prepared;
    return client;
}

/**
 * Waits until the server returns this client's own device keys from
 * /keys/query: only then can other users encrypt for the device.
 */
export function ownDeviceKeysPublished(client, timeoutMs) {
    const userId = client.getUserId();
    const deviceId = client.getDeviceId();
    return until(
        `${userId}'s device ${deviceId} keys on the server`,
        async () => {
            const res = await client.downloadKeysForUsers([userId]);
            return Boolean(res.device_keys?.[userId]?.[deviceId]);
        },
        { pollMs: 100, timeoutMs },
    );
}

/** The room's events in the client's live timeline. */
function liveEvents(client, roomId) {
    return client.getRoom(roomId)?.getLiveTimeline().getEvents() ?? [];
}

/**
 * Waits for an event that arrived encrypted (m.room.encrypted on the wire)
 * and decrypts to an m.room.message with this body; returns the event.
 */
export function decryptedMessage(client, roomId, body, timeoutMs) {
    const find = () =>
        liveEvents(client, roomId).find(
            (ev) =>
                ev.getWireType() === sdk.EventType.RoomMessageEncrypted &&
                !ev.isDecryptionFailure() &&
                ev.getType() === sdk.EventType.RoomMessage &&
                ev.getContent().body === body,
        );
    return until(`an encrypted message "${body}" in ${roomId} decrypted by ${client.getUserId()}`, find, {
        emitter: client,
        events: [sdk.RoomEvent.Timeline, sdk.MatrixEventEvent.Decrypted],
        timeoutMs,
        explain: () => describeTimeline(client, roomId),
    });
}

/** A short account of the encrypted events a client holds, for timeout messages. */
function describeTimeline(client, roomId) {
    const encrypted = liveEvents(client, roomId).filter((ev) => ev.getWireType() === sdk.EventType.RoomMessageEncrypted);
    if (encrypted.length === 0) return "no encrypted event in the timeline";
    return encrypted
        .map((ev) =>
            ev.isDecryptionFailure()
                ? `${ev.getId()} undecryptable (${ev.decryptionFailureReason})`
                : `${ev.getId()} "${ev.getContent().body}"`,
        )
        .join("; ");
}

/**
 * Waits until the client sees userId with this membership in the room; its
 * own membership comes from the section of /sync the room is in (an invited
 * room has only stripped state).
 */
export function membership(client, roomId, userId, wanted, timeoutMs) {
    const current =
        userId === client.getUserId()
            ? () => client.getRoom(roomId)?.getMyMembership()
            : () => client.getRoom(roomId)?.getMember(userId)?.membership;
    return until(`${userId} to be ${wanted} in ${roomId} as seen by ${client.getUserId()}`, () => current() === wanted, {
        emitter: client,
        events: [sdk.RoomStateEvent.Members, sdk.RoomEvent.MyMembership, sdk.ClientEvent.Room],
        timeoutMs,
    });
}

/** Waits until the client knows the room is encrypted, so that it encrypts what it sends. */
export function roomEncrypted(client, roomId, timeoutMs) {
    return until(
        `${roomId} to be known as encrypted by ${client.getUserId()}`,
        async () => client.getRoom(roomId)?.hasEncryptionStateEvent() && (await client.getCrypto().isEncryptionEnabledInRoom(roomId)),
        { emitter: client, events: [sdk.RoomStateEvent.Events, sdk.ClientEvent.Room], timeoutMs },
    );
}

/**
 * Sends a text message and checks that the server stored it as
 * m.room.encrypted: the js-sdk sends in the clear to a room it does not know
 * is encrypted, and that must fail the story, not pass unnoticed.
 */
export async function sendEncrypted(client, roomId, body) {
    const { event_id } = await client.sendMessage(roomId, { msgtype: sdk.MsgType.Text, body });
    const stored = await client.fetchRoomEvent(roomId, event_id);
    if (stored.type !== sdk.EventType.RoomMessageEncrypted) {
        throw new Error(`message ${event_id} was stored as ${stored.type}, not m.room.encrypted`);
    }
    return { eventId: event_id, sessionId: stored.content.session_id };
}

/**
 * Fetches the room's latest events with /messages and decrypts each
 * encrypted one apart from any timeline; returns the bodies in order.
 */
export async function decryptHistory(client, roomId) {
    const res = await client.createMessagesRequest(roomId, null, 100, sdk.Direction.Backward);
    const bodies = [];
    const failures = [];
    for (const raw of res.chunk.reverse()) {
        if (raw.type !== sdk.EventType.RoomMessageEncrypted) continue;
        const ev = new sdk.MatrixEvent(raw);
        await client.decryptEventIfNeeded(ev);
        if (ev.isDecryptionFailure()) failures.push(`${ev.getId()} (${ev.decryptionFailureReason})`);
        else bodies.push(ev.getContent().body);
    }
    return { bodies, failures };
}
