// Element's crypto stack (matrix-js-sdk with its Rust crypto) as a person who opens a direct
// chat with the bot, or as a commission member who reads the staff room.
//
// stdin: first line the account, as JSON: {homeserver, user, password, role: "person" |
//   "staff", isolation: "all" | "signed", bot (person: whom to open the chat with)}; then
//   one line per message the person sends.
// stdout: one JSON object per line: {"event": "ready", "room"} once the chat (or the staff
//   room) is open, then {"event": "message", "id", "room", "sender", "body", "encrypted",
//   "decrypted", "failure", "shield": {"colour", "reason"}} for every message of the others,
//   again when a message that failed to decrypt decrypts later; {"event": "file", "id",
//   "name", "mimetype", "size", "head"} for an encrypted file, downloaded and opened as Element
//   opens attachments (AES-CTR with the key its event carries, after checking its SHA-256;
//   "head": its first bytes, base64); {"event": "error", "error"} before a failing exit. The
//   library's warnings go to stderr.

import { createHash, webcrypto } from "node:crypto";
import { createInterface } from "node:readline";

import { ClientEvent, createClient, MatrixEventEvent, RoomEvent } from "matrix-js-sdk";
import {
  AllDevicesIsolationMode,
  EventShieldColour,
  EventShieldReason,
  OnlySignedDevicesIsolationMode,
} from "matrix-js-sdk/lib/crypto-api/index.js";

// stdout carries only the JSON lines; the library's warnings and errors go to stderr.
for (const level of ["log", "info", "debug", "trace"]) {
  console[level] = () => {};
}

// Element's two settings: the default shares keys with every device and decrypts everything
// with a shield; "exclude insecure devices" (MSC4153) only trusts devices their owner signed.
const ISOLATION = {
  all: () => new AllDevicesIsolationMode(false),
  signed: () => new OnlySignedDevicesIsolationMode(),
};
const ENCRYPTION = {
  type: "m.room.encryption",
  state_key: "",
  content: { algorithm: "m.megolm.v1.aes-sha2" },
};

function emit(line) {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

async function login({ homeserver, user, password }) {
  const credentials = await createClient({ baseUrl: homeserver }).loginRequest({
    type: "m.login.password",
    identifier: { type: "m.id.user", user },
    password,
    initial_device_display_name: "Element stack",
  });
  return createClient({
    baseUrl: homeserver,
    userId: credentials.user_id,
    deviceId: credentials.device_id,
    accessToken: credentials.access_token,
  });
}

// As Element does at first login: the account gets its cross-signing keys and this device is
// signed by them, so the bot sees a person whose devices are all verified by their owner.
async function crossSign(client, { user, password }) {
  await client.getCrypto().bootstrapCrossSigning({
    authUploadDeviceSigningKeys: (makeRequest) =>
      makeRequest({ type: "m.login.password", identifier: { type: "m.id.user", user }, password }),
  });
}

async function synced(client) {
  await new Promise((resolve) => {
    client.once(ClientEvent.Sync, (state) => state === "PREPARED" && resolve());
    client.startClient({ initialSyncLimit: 0 });
  });
}

async function until(condition) {
  while (!condition()) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const SHIELD_COLOURS = Object.fromEntries(
  Object.entries(EventShieldColour).filter(([, value]) => typeof value === "number").map(([k, v]) => [v, k]),
);
const SHIELD_REASONS = Object.fromEntries(
  Object.entries(EventShieldReason).filter(([, value]) => typeof value === "number").map(([k, v]) => [v, k]),
);

async function report(client, event) {
  const decrypted = event.isEncrypted() && !event.isDecryptionFailure();
  const info = decrypted ? await client.getCrypto().getEncryptionInfoForEvent(event) : null;
  emit({
    event: "message",
    id: event.getId(),
    room: event.getRoomId(),
    sender: event.getSender(),
    body: decrypted || !event.isEncrypted() ? (event.getContent().body ?? null) : null,
    encrypted: event.isEncrypted(),
    decrypted,
    failure: event.decryptionFailureReason,
    shield: info && {
      colour: SHIELD_COLOURS[info.shieldColour],
      reason: info.shieldReason === null ? null : SHIELD_REASONS[info.shieldReason],
    },
  });
}

// What Element's attachment decryption does (matrix-encrypt-attachment): the hash of the
// ciphertext first, then AES-CTR with the event's key and counter block.
async function openFile(client, event) {
  const content = event.getContent();
  const file = content.file;
  const [server, media] = file.url.slice("mxc://".length).split("/");
  const response = await fetch(
    `${client.getHomeserverUrl()}/_matrix/client/v1/media/download/${server}/${media}`,
    { headers: { Authorization: `Bearer ${client.getAccessToken()}` } },
  );
  if (!response.ok) throw new Error(`download refused: ${response.status}`);
  const stored = Buffer.from(await response.arrayBuffer());
  const digest = createHash("sha256").update(stored).digest("base64").replace(/=+$/, "");
  if (digest !== file.hashes.sha256) throw new Error("the file does not match its hash");
  const key = await webcrypto.subtle.importKey("jwk", file.key, { name: "AES-CTR" }, false, ["decrypt"]);
  const counter = Buffer.from(file.iv, "base64");
  const opened = Buffer.from(
    await webcrypto.subtle.decrypt({ name: "AES-CTR", counter, length: 64 }, key, stored),
  );
  emit({
    event: "file",
    id: event.getId(),
    name: content.filename ?? content.body,
    mimetype: content.info?.mimetype ?? null,
    size: opened.length,
    head: opened.subarray(0, 256).toString("base64"),
  });
}

function listen(client) {
  client.on(RoomEvent.Timeline, async (event, room, toStartOfTimeline) => {
    if (toStartOfTimeline || event.getSender() === client.getUserId()) return;
    await client.decryptEventIfNeeded(event);
    if (event.getType() !== "m.room.message") return;
    if (event.isDecryptionFailure()) {
      event.once(MatrixEventEvent.Decrypted, () => report(client, event));
    }
    await report(client, event);
    if (!event.isDecryptionFailure() && event.getContent().file) {
      await openFile(client, event).catch((error) => emit({ event: "error", error: String(error) }));
    }
  });
}

async function openDirectChat(client, bot) {
  const { room_id: room } = await client.createRoom({
    is_direct: true,
    invite: [bot],
    preset: "trusted_private_chat",
    initial_state: [ENCRYPTION],
  });
  await until(() => client.getRoom(room)?.getMember(bot)?.membership === "join");
  return room;
}

async function joinStaffRoom(client) {
  await until(() => client.getRooms().some((room) => room.getMyMembership() === "invite"));
  const invited = client.getRooms().find((room) => room.getMyMembership() === "invite");
  await client.joinRoom(invited.roomId);
  return invited.roomId;
}

async function main() {
  const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const account = JSON.parse((await lines.next()).value);
  const client = await login(account);
  await client.initRustCrypto({ useIndexedDB: false });
  client.getCrypto().setDeviceIsolationMode(ISOLATION[account.isolation]());
  await crossSign(client, account);
  listen(client);
  await synced(client);
  const room =
    account.role === "person" ? await openDirectChat(client, account.bot) : await joinStaffRoom(client);
  emit({ event: "ready", room });
  for await (const text of lines) {
    await client.sendMessage(room, { msgtype: "m.text", body: text });
  }
  client.stopClient();
  process.exit(0);
}

main().catch((error) => {
  emit({ event: "error", error: String(error) });
  process.exit(1);
});
