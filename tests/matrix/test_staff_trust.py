"""What the bot trusts of the staff room on a real Synapse: each member's identity pinned on
first sight, a changed identity holding alerts until the operator confirms it, an alert no
device of a member present could read kept in the outbox, and the bot's fingerprint in the
room's help."""

from __future__ import annotations

import asyncio
import json
import secrets
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from bot.channels.matrix.client import session_of
from bot.channels.matrix.cross_signing import fingerprint, publish_identity
from bot.channels.matrix.staff_trust import StaffTrust, member_key, staff_trust_file_beside
from bot.dev.homeserver import Homeserver
from bot.dev.matrix_person import MatrixPerson
from storage.config import is_within
from tests.matrix.conftest import Deployment, deployed, drain, is_case_card
from tests.matrix.test_cross_signing import operator

pytestmark = pytest.mark.asyncio(loop_scope="session")

# The bot looks again after every sync (at most 30 s apart) and every 15 s at the latest.
RESUME_SECONDS = 60


class Member:
    """A commission member's account whose password the test knows, to reset its keys."""

    def __init__(self, homeserver: Homeserver, root: Path) -> None:
        self.homeserver = homeserver
        self.root = root
        self.password = secrets.token_urlsafe(12)
        self.user_id = homeserver.register(f"member-{secrets.token_hex(4)}", self.password)

    async def log_in(self) -> MatrixPerson:
        return await MatrixPerson.login(
            self.homeserver.url, self.user_id, self.password,
            self.root / f"store-{secrets.token_hex(4)}", secrets.token_bytes(32),
        )

    async def reset_cross_signing(self, person: MatrixPerson) -> str:
        """New master, self-signing and user-signing keys, as Element's "reset" makes them."""
        identity = await publish_identity(
            self.homeserver.url, session_of(person.client),
            self.root / f"cross-signing-{secrets.token_hex(4)}.json", self.password,
            replace=True,
        )
        assert identity.master_key is not None
        return identity.master_key


@pytest_asyncio.fixture(loop_scope="session")
async def member(homeserver: Homeserver, tmp_path: Path) -> Member:
    return await asyncio.to_thread(Member, homeserver, tmp_path)


@pytest_asyncio.fixture(loop_scope="session")
async def with_member(
    homeserver: Homeserver, tmp_path: Path, member: Member,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Deployment]:
    """A deployment whose staff room also lists ``member`` (not logged in yet)."""
    async with deployed(homeserver, tmp_path, also_staff=frozenset({member.user_id})) as setup:
        # `python -m bot …` run by the operator knows the same commission.
        monkeypatch.setenv("MATRIX_STAFF_USERS", ",".join(sorted(setup.settings.staff_users)))
        yield setup


def trust_file(deployment: Deployment) -> Path:
    return staff_trust_file_beside(deployment.secrets_dir / "server.json")


async def a_new_case(deployment: Deployment) -> None:
    person, room_id = await deployment.person()
    await person.messages_until_quiet()
    await person.send(room_id, "1")
    await person.messages_until_quiet()


def new_cases(messages: list[str]) -> list[str]:
    return [message for message in messages if is_case_card(message)]


async def received(person: MatrixPerson, quiet: float = 2) -> list[str]:
    return [message.body for message in await drain(person, quiet) if message.decrypted]


async def join_staff_room(deployment: Deployment, person: MatrixPerson) -> None:
    room_id = deployment.settings.staff_room
    assert room_id is not None
    await person.client.join(room_id)
    await person.wait_joined(room_id, person.user_id)
    await bot_sees_joined(deployment, person.user_id)


async def bot_sees_joined(deployment: Deployment, user_id: str) -> None:
    async with asyncio.timeout(30):
        while True:
            room = deployment.running_bot.client.rooms.get(deployment.settings.staff_room or "")
            if room is not None and user_id in set(room.users) - set(room.invited_users):
                return
            await asyncio.sleep(0.2)


async def delivered_once_to(deployment: Deployment, *readers: MatrixPerson) -> None:
    """The held alert leaves, each reader decrypts it once, and the health check is clear."""
    async with asyncio.timeout(RESUME_SECONDS):
        while await deployment.store.pending_outbox():
            await asyncio.sleep(0.2)
    for reader in readers:
        assert len(new_cases(await received(reader))) == 1
    code, staff = await health(deployment)
    assert code == 0
    assert staff == {"identity_changes": 0, "alerts_unreadable": False, "alerts_held": False}


def bot_log(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(
        record.getMessage() for record in caplog.records if record.name.startswith("bot.")
    )


async def health(deployment: Deployment) -> tuple[int, dict[str, object]]:
    code, out, err = await operator(deployment, "health")
    assert out, err
    staff = json.loads(out)["matrix"]["staff_room"]
    assert isinstance(staff, dict)
    return code, staff


async def test_a_staff_member_is_pinned_on_first_sight_in_a_file_that_names_nobody(
    deployment: Deployment,
) -> None:
    await drain(deployment.staff)
    await a_new_case(deployment)
    assert len(new_cases(await received(deployment.staff))) == 1

    pins = trust_file(deployment)
    assert stat.S_IMODE(pins.stat().st_mode) == 0o600
    assert not is_within(pins, deployment.data_dir)
    olm = deployment.staff.client.olm
    assert olm is not None
    device_key = olm.account.identity_keys["ed25519"]
    pinned = StaffTrust.load(pins).pinned
    assert pinned == {member_key(deployment.staff.user_id): f"devices:{device_key}"}
    assert deployment.staff.user_id not in pins.read_text()


async def test_a_member_who_resets_cross_signing_holds_alerts_until_the_operator_confirms(
    with_member: Deployment, member: Member, caplog: pytest.LogCaptureFixture,
) -> None:
    deployment = with_member
    commission = await member.log_in()
    try:
        await join_staff_room(deployment, commission)
        first_master = await member.reset_cross_signing(commission)
        await a_new_case(deployment)
        assert len(new_cases(await received(commission))) == 1
        pinned = StaffTrust.load(trust_file(deployment)).pinned[member_key(member.user_id)]
        assert pinned == f"master:{first_master}"

        # Someone with the member's password resets their identity: the next alert waits.
        second_master = await member.reset_cross_signing(commission)
        await drain(deployment.staff)
        await a_new_case(deployment)
        assert new_cases(await received(commission, quiet=3)) == []
        assert new_cases(await received(deployment.staff, quiet=1)) == []
        assert await deployment.store.pending_outbox() != []
        assert "event=staff_identity_changed members=1" in bot_log(caplog)
        assert member.user_id not in bot_log(caplog)
        code, staff = await health(deployment)
        assert code == 1
        assert staff == {"identity_changes": 1, "alerts_unreadable": False, "alerts_held": True}

        # The operator sees what changed; nothing moves until they confirm.
        code, out, _ = await operator(deployment, "keys", "trust-staff")
        assert code == 0
        assert member.user_id in out
        assert fingerprint(first_master) in out and fingerprint(second_master) in out
        assert await deployment.store.pending_outbox() != []

        code, _, _ = await operator(deployment, "keys", "trust-staff", "--confirm")
        assert code == 0
        await delivered_once_to(deployment, commission, deployment.staff)
    finally:
        await commission.close()


async def test_an_alert_a_member_present_cannot_read_waits_then_goes_once(
    with_member: Deployment, member: Member, caplog: pytest.LogCaptureFixture,
) -> None:
    deployment = with_member
    room_id = deployment.settings.staff_room
    assert room_id is not None
    # The member joins from a client that never published device keys: no room key can
    # reach them, and the homeserver would still accept the alert.
    async with httpx.AsyncClient(base_url=member.homeserver.url, trust_env=False) as http:
        login = await http.post("/_matrix/client/v3/login", json={
            "type": "m.login.password", "password": member.password,
            "identifier": {"type": "m.id.user", "user": member.user_id},
        })
        token = login.json()["access_token"]
        joined = await http.post(f"/_matrix/client/v3/join/{room_id}",
                                 headers={"Authorization": f"Bearer {token}"}, json={})
        assert joined.status_code == 200
    await bot_sees_joined(deployment, member.user_id)

    await drain(deployment.staff)
    await a_new_case(deployment)
    assert new_cases(await received(deployment.staff, quiet=3)) == []
    assert await deployment.store.pending_outbox() != []
    assert "event=staff_alert_unreadable members=1" in bot_log(caplog)
    code, staff = await health(deployment)
    assert code == 1
    assert staff["alerts_unreadable"] is True

    # Once the member's client publishes keys, the alert goes, once, readable by both.
    commission = await member.log_in()
    try:
        await delivered_once_to(deployment, commission, deployment.staff)
    finally:
        await commission.close()


async def test_the_staff_room_help_gives_the_fingerprint_the_operator_reads(
    deployment: Deployment,
) -> None:
    room_id = deployment.settings.staff_room
    assert room_id is not None
    code, out, _ = await operator(deployment, "keys", "matrix-identity")
    assert code == 0
    await drain(deployment.staff)
    await deployment.staff.send(room_id, "!aide")
    answers = await received(deployment.staff)
    assert len(answers) == 1
    assert out.strip() in answers[0]
