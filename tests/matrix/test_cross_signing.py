"""The bot's Matrix identity as any other client reads it from the homeserver: a master key,
a self-signing key it signed, and every device of the bot signed by that key, through
restarts and a lost crypto store; the private keys kept with the server's secrets."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import stat
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from canonicaljson import encode_canonical_json
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bot.channels.matrix.cross_signing import cross_signing_file_beside
from storage.config import is_within
from tests.matrix.conftest import Deployment, files_containing

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _decoded(unpadded: str) -> bytes:
    return base64.b64decode(unpadded + "=" * (-len(unpadded) % 4))


def signed_by(document: dict[str, Any], user_id: str, public_key: str) -> bool:
    """The specification's "Checking for a signature", written apart from the bot's code."""
    signature = document.get("signatures", {}).get(user_id, {}).get(f"ed25519:{public_key}")
    if signature is None:
        return False
    signed_part = {k: v for k, v in document.items() if k not in ("signatures", "unsigned")}
    try:
        Ed25519PublicKey.from_public_bytes(_decoded(public_key)).verify(
            _decoded(signature), encode_canonical_json(signed_part)
        )
    except InvalidSignature:
        return False
    return True


def only_key(cross_signing_key: dict[str, Any]) -> str:
    (public_key,) = cross_signing_key["keys"].values()
    return str(public_key)


async def published_identity(deployment: Deployment) -> dict[str, Any]:
    """The bot's keys as the commission member's client queries them."""
    staff = deployment.staff.client
    bot = deployment.settings.user_id
    async with httpx.AsyncClient(trust_env=False) as http:
        response = await http.post(
            f"{deployment.homeserver.url}/_matrix/client/v3/keys/query",
            headers={"Authorization": f"Bearer {staff.access_token}"},
            json={"device_keys": {bot: []}},
        )
    response.raise_for_status()
    answer = response.json()
    return {
        "master": answer["master_keys"].get(bot),
        "self_signing": answer["self_signing_keys"].get(bot),
        "devices": answer["device_keys"].get(bot, {}),
    }


def groups_of_four(key: str) -> list[str]:
    """How Element shows a key, for a council member to compare."""
    return [key[start:start + 4] for start in range(0, len(key), 4)]


def bot_device(deployment: Deployment) -> str:
    return str(deployment.running_bot.client.device_id)


def cross_signing_file(deployment: Deployment) -> Path:
    return cross_signing_file_beside(deployment.secrets_dir / "server.json")


async def operator(deployment: Deployment, *command: str) -> tuple[int, str, str]:
    """``python -m bot …`` on the bot's host, configured as the running bot is."""
    settings = deployment.settings
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *command,
        env={
            **os.environ,
            "DATA_DIR": str(deployment.data_dir),
            "SECRETS_FILE": str(deployment.secrets_dir / "server.json"),
            "MATRIX_HOMESERVER": deployment.homeserver.url,
            "MATRIX_USER_ID": settings.user_id,
            "MATRIX_PASSWORD": settings.password or "",
            "NLU_URL": "",
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_another_account_sees_the_bot_device_signed_by_its_owner(
    deployment: Deployment,
) -> None:
    bot = deployment.settings.user_id
    published = await published_identity(deployment)
    master = only_key(published["master"])
    self_signing = only_key(published["self_signing"])
    assert published["master"]["usage"] == ["master"]
    assert signed_by(published["self_signing"], bot, master)
    assert signed_by(published["devices"][bot_device(deployment)], bot, self_signing)


async def test_the_commission_reads_the_same_fingerprint_on_the_host_and_on_the_homeserver(
    deployment: Deployment,
) -> None:
    master = only_key((await published_identity(deployment))["master"])
    code, out, _ = await operator(deployment, "keys", "matrix-identity")
    assert code == 0
    assert out.split() == groups_of_four(master)
    code, out, _ = await operator(deployment, "health")
    identity = json.loads(out)["matrix"]["identity"]
    assert code == 0
    assert identity == {"state": "published", "master_key": " ".join(groups_of_four(master))}


async def test_a_restart_keeps_the_bot_identity(deployment: Deployment) -> None:
    before = await published_identity(deployment)
    await deployment.stop_bot()
    await deployment.start_bot()
    after = await published_identity(deployment)
    assert only_key(after["master"]) == only_key(before["master"])
    assert only_key(after["self_signing"]) == only_key(before["self_signing"])


async def test_a_lost_crypto_store_brings_a_new_device_signed_by_the_same_identity(
    deployment: Deployment,
) -> None:
    bot = deployment.settings.user_id
    before = await published_identity(deployment)
    old_device = bot_device(deployment)
    await deployment.stop_bot()
    shutil.rmtree(deployment.data_dir / "matrix")
    deployment.session_file.unlink()
    await deployment.start_bot()
    new_device = bot_device(deployment)
    after = await published_identity(deployment)
    assert new_device != old_device
    assert only_key(after["master"]) == only_key(before["master"])
    self_signing = only_key(after["self_signing"])
    assert self_signing == only_key(before["self_signing"])
    assert signed_by(after["devices"][new_device], bot, self_signing)


async def test_the_private_keys_live_with_the_server_secrets_only(
    deployment: Deployment,
) -> None:
    keys_file = cross_signing_file(deployment)
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    assert not is_within(keys_file, deployment.data_dir)
    seed = json.loads(keys_file.read_text())["master"]
    assert files_containing(deployment.data_dir, seed) == []


async def test_lost_keys_never_replace_the_verified_identity_without_the_operator(
    deployment: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    verified = only_key((await published_identity(deployment))["master"])
    await deployment.stop_bot()
    cross_signing_file(deployment).unlink()
    await deployment.start_bot()
    assert "event=matrix_identity_foreign" in caplog.text
    assert only_key((await published_identity(deployment))["master"]) == verified
    assert not cross_signing_file(deployment).exists()
    code, out, _ = await operator(deployment, "health")
    assert code == 1
    assert json.loads(out)["matrix"]["identity"]["state"] == "foreign"

    code, out, _ = await operator(deployment, "keys", "matrix-identity", "--replace")
    assert code == 0
    published = await published_identity(deployment)
    master = only_key(published["master"])
    assert master != verified
    assert out.split() == groups_of_four(master)
    bot = deployment.settings.user_id
    assert signed_by(published["devices"][bot_device(deployment)], bot,
                     only_key(published["self_signing"]))
