"""The operator's and the commission's commands, run the way ``python -m bot`` runs them."""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.staff import cli as staff_cli
from storage import Store, open_store
from storage.export import signing_public_key
from storage.policy import TEST_ARGON2_COST

PASSPHRASE = "une phrase secrète assez longue"


@pytest.fixture
def environment(
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    data_dir: Path,
    secrets_dir: Path,
    tmp_path: Path,
) -> Iterator[Path]:
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SECRETS_FILE", str(secrets_dir / "server.json"))
    monkeypatch.delenv("CASE_KEYS_FILE", raising=False)
    monkeypatch.setattr(staff_cli, "KEY_FILE_COST", TEST_ARGON2_COST)
    passphrase_file = tmp_path / "passphrase"
    passphrase_file.write_text(PASSPHRASE + "\n")
    passphrase_file.chmod(0o600)
    yield passphrase_file


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="bot")
    staff_cli.add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


def seed_case(text: str) -> str:
    async def seed() -> str:
        store = await open_store()
        try:
            case_id = await store.save_conversation(store.pseudonym("telegram", "9"), {})
            await store.seal_for_commission(case_id, "free_text", text.encode())
            return case_id
        finally:
            await store.close()

    return asyncio.run(seed())


def seed_message(case_id: str, payload: bytes) -> None:
    async def seal() -> None:
        store = await open_store()
        try:
            await store.seal_for_commission(case_id, "free_text", payload)
        finally:
            await store.close()

    asyncio.run(seal())


def replies_of(case_id: str) -> list[str]:
    async def read() -> list[str]:
        store: Store = await open_store()
        try:
            return [reply.text for reply in await store.replies(case_id)]
        finally:
            await store.close()

    return asyncio.run(read())


def keys_init(key: Path, passphrase_file: Path) -> None:
    assert run("keys", "init", "--commission-key", str(key), "--passphrase-file",
               str(passphrase_file)) == 0


def pinned_server_key(path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """What the operator hands the commission beside its key: the line `keys signing-key`
    prints."""
    capsys.readouterr()
    assert run("keys", "signing-key") == 0
    path.write_text(capsys.readouterr().out)
    return path


def export_case(case_id: str, output: Path) -> bytes:
    assert run("staff", "export", "--case", case_id, "--output", str(output)) == 0
    return output.read_bytes()


def open_export(
    export: Path, server_key: Path, passphrase_file: Path, *keys: Path, output: Path | None = None
) -> int:
    key_options = [option for key in keys for option in ("--key", str(key))]
    output_options = [] if output is None else ["--output", str(output)]
    return run(
        "staff", "open", str(export), *key_options, "--server-key", str(server_key),
        "--passphrase-file", str(passphrase_file), *output_options,
    )


def test_a_commission_member_reads_and_answers_a_case(
    environment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = tmp_path / "commission" / "key.json"
    keys_init(key, environment)
    assert key.stat().st_mode & 0o777 == 0o600
    case_id = seed_case("J'ai besoin d'aide pour mon cabinet.")

    # The reply comes on standard input, never in argv (`ps`, the shell's history).
    monkeypatch.setattr("sys.stdin", io.StringIO("Un conseiller vous appellera.\n"))
    assert run("staff", "reply", case_id) == 0
    assert replies_of(case_id) == ["Un conseiller vous appellera."]
    with pytest.raises(SystemExit):
        run("staff", "reply", case_id, "Un texte en argument")
    monkeypatch.setattr("sys.stdin", io.StringIO("Bonjour"))
    assert run("staff", "reply", "nosuchcase") == 1
    monkeypatch.setattr("sys.stdin", io.StringIO("  \n"))
    assert run("staff", "reply", case_id) == 1

    server_key = pinned_server_key(tmp_path / "server-key.txt", capsys)
    export = tmp_path / "export.json"
    sealed = export_case(case_id, export)
    # The server carries the message still sealed: it cannot read what it exports.
    assert b"J'ai besoin d'aide" not in sealed
    assert export.stat().st_mode & 0o777 == 0o600
    assert run("staff", "export", "--case", "nosuchcase", "--output", str(tmp_path / "x")) == 1

    capsys.readouterr()
    assert open_export(export, server_key, environment, key) == 0
    shown = capsys.readouterr().out
    assert "J'ai besoin d'aide pour mon cabinet." in shown and case_id in shown

    document = tmp_path / "opened" / "cases.json"
    assert open_export(export, server_key, environment, key, output=document) == 0
    opened = json.loads(document.read_text())
    assert opened["cases"][0]["messages"][0]["content"] == "J'ai besoin d'aide pour mon cabinet."
    assert document.stat().st_mode & 0o777 == 0o600


def test_an_export_goes_to_standard_output_and_since_a_day_takes_every_recent_case(
    environment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "key.json"
    keys_init(key, environment)
    first, second = seed_case("premier"), seed_case("second")
    server_key = pinned_server_key(tmp_path / "server-key.txt", capsys)
    today = datetime.now(UTC).date()

    capsys.readouterr()
    assert run("staff", "export", "--since", today.isoformat()) == 0
    export = tmp_path / "recent.json"
    export.write_text(capsys.readouterr().out)
    assert open_export(export, server_key, environment, key) == 0
    shown = capsys.readouterr().out
    assert first in shown and second in shown and "premier" in shown and "second" in shown

    assert run("staff", "export", "--since", (today + timedelta(days=1)).isoformat()) == 0
    export.write_text(capsys.readouterr().out)
    assert open_export(export, server_key, environment, key) == 0
    assert "0 dossier(s)" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        run("staff", "export", "--since", "hier")


def test_after_rotation_each_message_needs_its_own_key(
    environment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    keys_init(old, environment)
    case_id = seed_case("avant")
    assert (
        run("keys", "rotate", "--commission-key", str(new), "--passphrase-file", str(environment))
        == 0
    )
    seed_message(case_id, b"apres")
    server_key = pinned_server_key(tmp_path / "server-key.txt", capsys)
    export = tmp_path / "export.json"
    export_case(case_id, export)
    capsys.readouterr()

    assert open_export(export, server_key, environment, old) == 0
    only_old = capsys.readouterr().out
    assert "avant" in only_old and "apres" not in only_old and "illisible" in only_old
    assert open_export(export, server_key, environment, old, new) == 0
    both = capsys.readouterr().out
    assert "avant" in both and "apres" in both


def test_keys_are_never_overwritten_nor_read_from_loose_files(
    environment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = tmp_path / "key.json"
    assert (
        run("keys", "init", "--commission-key", str(key), "--passphrase-file", str(environment))
        == 0
    )
    assert (
        run(
            "keys",
            "init",
            "--commission-key",
            str(tmp_path / "k2.json"),
            "--passphrase-file",
            str(environment),
        )
        == 1
    )
    environment.chmod(0o644)
    assert (
        run(
            "keys",
            "rotate",
            "--commission-key",
            str(tmp_path / "k3.json"),
            "--passphrase-file",
            str(environment),
        )
        == 1
    )
    assert not (tmp_path / "k3.json").exists()


def test_passphrases_typed_at_the_terminal_must_match_and_be_long(
    environment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    typed = iter(["court", "court", PASSPHRASE, "autre chose entièrement", PASSPHRASE, PASSPHRASE])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(typed))
    key = tmp_path / "key.json"
    assert run("keys", "init", "--commission-key", str(key)) == 1
    assert run("keys", "init", "--commission-key", str(key)) == 1
    assert run("keys", "init", "--commission-key", str(key)) == 0
    assert key.exists()


def test_purge_reports_how_many_cases_it_erased(
    environment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run(
            "keys",
            "init",
            "--commission-key",
            str(tmp_path / "k.json"),
            "--passphrase-file",
            str(environment),
        )
        == 0
    )
    seed_case("récent")
    capsys.readouterr()
    assert run("purge") == 0
    assert "dossiers effacés : 0" in capsys.readouterr().out


def test_escape_sequences_in_what_a_person_wrote_never_reach_the_terminal(
    environment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "commission" / "key.json"
    keys_init(key, environment)
    # Clears the screen, retitles the window, then hides what follows.
    case_id = seed_case("Bonjour\x1b[2J\x1b]0;pwned\x07\x1b[8m caché\u202e inversé")
    server_key = pinned_server_key(tmp_path / "server-key.txt", capsys)
    export = tmp_path / "export.json"
    export_case(case_id, export)
    capsys.readouterr()
    assert open_export(export, server_key, environment, key) == 0
    shown = capsys.readouterr().out
    assert "Bonjour" in shown and "caché" in shown
    assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown


def test_a_running_store_seals_to_the_new_key_after_rotation_without_a_restart(
    environment: Path, tmp_path: Path
) -> None:
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    assert (
        run("keys", "init", "--commission-key", str(old), "--passphrase-file", str(environment))
        == 0
    )

    async def seal_before_and_after_rotation() -> list[str]:
        store = await open_store()  # the running bot's store, opened once
        try:
            case_id = await store.save_conversation(store.pseudonym("matrix", "@x:y"), {})
            await store.seal_for_commission(case_id, "message", b"avant")
            rotated = await asyncio.to_thread(
                run, "keys", "rotate", "--commission-key", str(new), "--passphrase-file",
                str(environment),
            )
            assert rotated == 0
            await store.seal_for_commission(case_id, "message", b"apres")
            return [message.key_id for message in await store.sealed_messages(case_id)]
        finally:
            await store.close()

    before, after = asyncio.run(seal_before_and_after_rotation())
    assert before != after
    assert after == json.loads(new.read_text())["key_id"]


def test_the_commission_opens_an_export_on_a_machine_without_server_secrets_or_database(
    environment: Path, tmp_path: Path, data_dir: Path, secrets_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    laptop = tmp_path / "commission"
    key = laptop / "key.json"
    keys_init(key, environment)
    case_id = seed_case("Je n'en peux plus, je voudrais parler à quelqu'un.")
    server_key = pinned_server_key(laptop / "server-key.txt", capsys)
    export = laptop / "export.json"
    export_case(case_id, export)
    # What the commission's machine lacks: the server's secrets, its data, its database.
    shutil.rmtree(data_dir)
    shutil.rmtree(secrets_dir)
    environ = {
        "PATH": os.environ["PATH"],
        "HOME": str(laptop),
        "DATA_DIR": str(data_dir),
        "SECRETS_FILE": str(secrets_dir / "server.json"),
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nothing",
    }
    completed = subprocess.run(
        [
            sys.executable, "-m", "bot", "staff", "open", str(export), "--key", str(key),
            "--server-key", str(server_key), "--passphrase-file", str(environment),
        ],
        capture_output=True, text=True, cwd=laptop, env=environ, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert "Je n'en peux plus, je voudrais parler à quelqu'un." in completed.stdout
    assert case_id in completed.stdout
    assert not data_dir.exists() and not secrets_dir.exists()


def _first_message(document: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = document["body"]["cases"][0]["messages"][0]
    return message


def flip_a_ciphertext_byte(document: dict[str, Any]) -> None:
    message = _first_message(document)
    ciphertext = bytearray(base64.b64decode(message["ciphertext"]))
    ciphertext[len(ciphertext) // 2] ^= 0x01
    message["ciphertext"] = base64.b64encode(bytes(ciphertext)).decode()


def move_it_to_another_case(document: dict[str, Any]) -> None:
    document["body"]["cases"][0]["case_id"] = "0" * 16


def change_its_kind(document: dict[str, Any]) -> None:
    _first_message(document)["kind"] = "contact"


def drop_a_message(document: dict[str, Any]) -> None:
    document["body"]["cases"][0]["messages"].pop()


def backdate_it(document: dict[str, Any]) -> None:
    _first_message(document)["created_at"] = "2020-01-01T00:00:00+00:00"


@pytest.mark.parametrize(
    "tamper",
    [flip_a_ciphertext_byte, move_it_to_another_case, change_its_kind, drop_a_message,
     backdate_it],
)
def test_an_export_changed_on_the_way_is_refused_and_nothing_is_shown(
    environment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    tamper: Callable[[dict[str, Any]], None],
) -> None:
    key = tmp_path / "key.json"
    keys_init(key, environment)
    case_id = seed_case("premier message")
    seed_message(case_id, b"second message")
    server_key = pinned_server_key(tmp_path / "server-key.txt", capsys)
    export = tmp_path / "export.json"
    document = json.loads(export_case(case_id, export))
    tamper(document)
    export.write_text(json.dumps(document))
    capsys.readouterr()

    assert open_export(export, server_key, environment, key) == 1
    shown = capsys.readouterr()
    assert "export refusé" in shown.err and "rien n'a été déchiffré" in shown.err
    assert "message" not in shown.out


def test_an_export_from_another_server_is_refused(
    environment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "key.json"
    keys_init(key, environment)
    case_id = seed_case("pour la commission")
    export = tmp_path / "export.json"
    export_case(case_id, export)
    other_server = tmp_path / "other-server-key.txt"
    other_server.write_text(signing_public_key(secrets.token_bytes(32)))
    capsys.readouterr()

    assert open_export(export, other_server, environment, key) == 1
    shown = capsys.readouterr()
    assert "export refusé" in shown.err and "pour la commission" not in shown.out

    not_an_export = tmp_path / "notes.txt"
    not_an_export.write_text("des notes")
    assert open_export(not_an_export, other_server, environment, key) == 1
    assert "n'est pas un export" in capsys.readouterr().err
    assert open_export(export, not_an_export, environment, key) == 1
    assert "ne contient pas une clé publique du serveur" in capsys.readouterr().err


def test_secrets_written_before_exports_were_signed_get_a_signing_key_once(
    environment: Path, tmp_path: Path, secrets_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "key.json"
    keys_init(key, environment)
    case_id = seed_case("écrit avant la mise à jour")
    secrets_file = secrets_dir / "server.json"
    written_before = json.loads(secrets_file.read_text())
    del written_before["signing_key"]
    secrets_file.write_text(json.dumps(written_before))

    assert run("staff", "export", "--case", case_id, "--output", str(tmp_path / "e.json")) == 1
    assert "keys signing-key" in capsys.readouterr().err
    server_key = pinned_server_key(tmp_path / "server-key.txt", capsys)
    # Run again, it shows the same key: the commission pins it once.
    assert pinned_server_key(tmp_path / "again.txt", capsys).read_text() == server_key.read_text()
    upgraded = json.loads(secrets_file.read_text())
    assert {name: upgraded[name] for name in written_before} == written_before
    assert secrets_file.stat().st_mode & 0o777 == 0o600

    export = tmp_path / "export.json"
    export_case(case_id, export)
    capsys.readouterr()
    assert open_export(export, server_key, environment, key) == 0
    assert "écrit avant la mise à jour" in capsys.readouterr().out
