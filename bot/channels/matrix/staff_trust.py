"""What the bot trusts of the commission's staff room before an alert counts as delivered.

A staff member's identity (their cross-signing master key, or their device keys when they
have none) is pinned the first time the bot sees it. A changed identity may be a new phone
or someone who took over the account: alerts wait until the operator compares the
fingerprints and confirms (``python -m bot keys trust-staff``). An alert is sent only once
the room key that encrypts it reached a device of every staff member in the room; the
homeserver would otherwise accept an alert nobody can read.

The pins live in a 0600 file beside the server's secrets. Members are named there by a hash
of their id, so the file holds no Matrix id.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
from nio import AsyncClient, LocalProtocolError

from bot.channels.matrix.cross_signing import KEYS_QUERY, REQUEST_SECONDS, fingerprint
from storage import SecretsError
from storage.keys import check_private_mode, write_private_file

log = logging.getLogger("bot.channels.matrix.staff_trust")

STAFF_TRUST_FILE = "matrix-staff-trust.json"
FILE_FORMAT = "entraide-matrix-staff-trust/1"
MASTER = "master:"
DEVICES = "devices:"


def staff_trust_file_beside(secrets_file: Path) -> Path:
    return secrets_file.with_name(STAFF_TRUST_FILE)


def member_key(user_id: str) -> str:
    return hashlib.sha256(b"entraide-staff-member\0" + user_id.encode()).hexdigest()


def shown(identity: str) -> str:
    """An identity as the operator compares it with what the member's Element shows."""
    if identity.startswith(MASTER):
        return f"clé maîtresse {fingerprint(identity.removeprefix(MASTER))}"
    keys = identity.removeprefix(DEVICES).split(",")
    return "appareils " + " / ".join(fingerprint(key) for key in keys)


@dataclass(frozen=True)
class StaffTrust:
    # Member key -> the identity pinned on first sight or confirmed by the operator.
    pinned: dict[str, str] = field(default_factory=dict)
    # Member key -> a different identity seen since, waiting for the operator.
    changed: dict[str, str] = field(default_factory=dict)
    # An alert waits because a staff member present could not receive its room key.
    unreadable: bool = False

    @classmethod
    def load(cls, path: Path) -> StaffTrust:
        if not path.exists():
            return cls()
        check_private_mode(path, "staff trust file")
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            if document.get("format") != FILE_FORMAT:
                raise SecretsError(f"{path} is not a staff trust file")
            return cls(dict(document["pinned"]), dict(document["changed"]),
                       bool(document["unreadable"]))
        except (ValueError, KeyError, TypeError):
            raise SecretsError(f"{path} is malformed") from None

    def save(self, path: Path) -> None:
        document = {"format": FILE_FORMAT, "pinned": self.pinned, "changed": self.changed,
                    "unreadable": self.unreadable}
        write_private_file(path, json.dumps(document).encode(), overwrite=True)

    def seen(self, identities: Mapping[str, str]) -> StaffTrust:
        """After a look at the members' keys (user id -> identity): new ones pinned, changes
        kept apart; a change that went back to the pinned identity is forgotten."""
        pinned, changed = dict(self.pinned), dict(self.changed)
        for user_id, identity in identities.items():
            member = member_key(user_id)
            if member not in pinned:
                pinned[member] = identity
            elif pinned[member] == identity:
                changed.pop(member, None)
            else:
                changed[member] = identity
        return replace(self, pinned=pinned, changed=changed)

    def confirmed(self) -> StaffTrust:
        return replace(self, pinned={**self.pinned, **self.changed}, changed={})


def _identity(answer: dict[str, Any], user_id: str) -> str | None:
    master = answer.get("master_keys", {}).get(user_id)
    keys = list(master.get("keys", {}).values()) if isinstance(master, dict) else []
    if len(keys) == 1:
        return MASTER + str(keys[0])
    devices = answer.get("device_keys", {}).get(user_id, {})
    device_keys = sorted(
        str(key)
        for device in devices.values()
        for name, key in device.get("keys", {}).items()
        if name.startswith("ed25519:")
    )
    return DEVICES + ",".join(device_keys) if device_keys else None


async def query_identities(client: AsyncClient, members: Iterable[str]) -> dict[str, str]:
    """Each member's identity as the homeserver publishes it; a member with no keys at all
    has nothing to pin (and can read no alert)."""
    users = sorted(members)
    async with httpx.AsyncClient(
        base_url=client.homeserver, timeout=REQUEST_SECONDS, trust_env=False,
        headers={"Authorization": f"Bearer {client.access_token}"},
    ) as http:
        response = await http.post(KEYS_QUERY, json={"device_keys": {user: [] for user in users}})
    response.raise_for_status()
    answer = response.json()
    identities = {user: _identity(answer, user) for user in users}
    return {user: identity for user, identity in identities.items() if identity is not None}


@dataclass
class StaffGuard:
    """The two checks the staff room makes before it sends, against the live client."""

    client: AsyncClient
    room_id: str
    members: frozenset[str]
    trust_file: Path

    def _in_room(self, *, joined: bool) -> set[str]:
        """The listed members in the room; invited ones too unless ``joined``: matrix-nio
        shares room keys with invited members' devices as well."""
        room = self.client.rooms.get(self.room_id)
        if room is None:
            return set()
        users = set(room.users) - (set(room.invited_users) if joined else set())
        return users & self.members

    async def identities_confirmed(self) -> bool:
        """Pin the identities of the members the room keys would reach; False while one
        changed since it was pinned or confirmed."""
        before = StaffTrust.load(self.trust_file)
        after = before.seen(await query_identities(self.client, self._in_room(joined=False)))
        if after != before:
            after.save(self.trust_file)
        if after.changed:
            log.warning("event=staff_identity_changed members=%d", len(after.changed))
            return False
        return True

    async def room_key_reaches_everyone(self) -> bool:
        """Share the room key now, as ``room_send`` would, and check who received it."""
        client, room = self.client, self.client.rooms.get(self.room_id)
        if room is None or client.olm is None:
            return False
        if not room.members_synced:
            await client.joined_members(self.room_id)
        if client.should_query_keys:
            await client.keys_query()
        if client.olm.should_share_group_session(self.room_id):
            try:
                await client.share_group_session(self.room_id, ignore_unverified_devices=True)
            except LocalProtocolError:  # a share already in flight: the next round sees it
                return False
        session = client.olm.outbound_group_sessions.get(self.room_id)
        shared_with = {user for user, _device in session.users_shared_with} if session else set()
        present = self._in_room(joined=True)
        unreached = present - shared_with
        # A room no member is in reads nothing either.
        unreadable = bool(unreached) or not present
        self._mark_unreadable(unreadable)
        if unreadable:
            log.warning("event=staff_alert_unreadable members=%d", len(unreached))
            # A fresh session next round claims keys again for the devices missed now.
            client.invalidate_outbound_session(self.room_id)
            return False
        return True

    def _mark_unreadable(self, unreadable: bool) -> None:
        trust = StaffTrust.load(self.trust_file)
        if trust.unreadable != unreadable:
            replace(trust, unreadable=unreadable).save(self.trust_file)


def staff_health(trust_file: Path) -> dict[str, object]:
    """For ``python -m bot health``: why alerts wait, without naming anyone."""
    try:
        trust = StaffTrust.load(trust_file)
    except SecretsError as error:
        return {"alerts_held": True, "error": str(error)}
    return {
        # `keys trust-staff` shows and confirms them.
        "identity_changes": len(trust.changed),
        "alerts_unreadable": trust.unreadable,
        "alerts_held": bool(trust.changed) or trust.unreadable,
    }
