"""The operator's and the commission's commands, run the way ``python -m bot`` runs them."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.staff import cli as staff_cli
from storage import Store, open_store
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


def replies_of(case_id: str) -> list[str]:
    async def read() -> list[str]:
        store: Store = await open_store()
        try:
            return [reply.text for reply in await store.replies(case_id)]
        finally:
            await store.close()

    return asyncio.run(read())


def test_a_commission_member_reads_and_answers_a_case(
    environment: Path, tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = tmp_path / "commission" / "key.json"
    assert (
        run("keys", "init", "--commission-key", str(key), "--passphrase-file", str(environment))
        == 0
    )
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
    capsys.readouterr()
    assert (
        run("staff", "open", case_id, "--key", str(key), "--passphrase-file", str(environment)) == 0
    )
    shown = capsys.readouterr().out
    assert "J'ai besoin d'aide pour mon cabinet." in shown
    assert "Un conseiller vous appellera." in shown

    out = tmp_path / "export" / "case.json"
    assert (
        run(
            "staff",
            "export",
            case_id,
            "--key",
            str(key),
            "--passphrase-file",
            str(environment),
            "--out",
            str(out),
        )
        == 0
    )
    exported = json.loads(out.read_text())
    assert exported["messages"][0]["content"] == "J'ai besoin d'aide pour mon cabinet."
    assert out.stat().st_mode & 0o777 == 0o600
    inside = data_dir / "case.json"
    assert (
        run(
            "staff",
            "export",
            case_id,
            "--key",
            str(key),
            "--passphrase-file",
            str(environment),
            "--out",
            str(inside),
        )
        == 1
    )
    assert not inside.exists()


def test_after_rotation_each_message_needs_its_own_key(
    environment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    assert (
        run("keys", "init", "--commission-key", str(old), "--passphrase-file", str(environment))
        == 0
    )
    case_id = seed_case("avant")
    assert (
        run("keys", "rotate", "--commission-key", str(new), "--passphrase-file", str(environment))
        == 0
    )

    async def seal_again() -> None:
        store = await open_store()
        try:
            await store.seal_for_commission(case_id, "free_text", b"apres")
        finally:
            await store.close()

    asyncio.run(seal_again())
    capsys.readouterr()

    assert (
        run("staff", "open", case_id, "--key", str(old), "--passphrase-file", str(environment)) == 0
    )
    only_old = capsys.readouterr().out
    assert "avant" in only_old and "apres" not in only_old and "illisible" in only_old
    assert (
        run(
            "staff",
            "open",
            case_id,
            "--key",
            str(old),
            "--key",
            str(new),
            "--passphrase-file",
            str(environment),
        )
        == 0
    )
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
    assert (
        run("keys", "init", "--commission-key", str(key), "--passphrase-file", str(environment))
        == 0
    )
    # Clears the screen, retitles the window, then hides what follows.
    case_id = seed_case("Bonjour\x1b[2J\x1b]0;pwned\x07\x1b[8m caché\u202e inversé")
    capsys.readouterr()
    assert (
        run("staff", "open", case_id, "--key", str(key), "--passphrase-file", str(environment)) == 0
    )
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
