"""Operator and commission commands: server keys, opening and answering a case, purging.

``add_commands`` registers ``keys``, ``staff`` and ``purge`` on the ``python -m bot`` parser;
each command's handler is ``args.func(args)`` and returns the exit status.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from flows.textnorm import clean
from storage import (
    CommissionPrivateKey,
    DecryptionError,
    ServerSecrets,
    StorageError,
    StorageSettings,
    Store,
    UnknownCase,
    load_server_secrets,
    open_sealed,
    open_store,
    read_private_key,
    write_private_key,
    write_server_secrets,
)
from storage.config import is_within
from storage.keys import PRIVATE_KEY_COST, check_private_mode, write_private_file

MIN_PASSPHRASE = 12
DEFAULT_KEY_NAME = "entraide-commission-key.json"
# Tests lower this; operators keep the strong default.
KEY_FILE_COST = PRIVATE_KEY_COST

Handler = Callable[[argparse.Namespace], int]


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = subparsers.add_parser("keys", help="clés du serveur et de la commission")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    init = keys_sub.add_parser(
        "init", help="crée les secrets du serveur et la clé de la commission"
    )
    _key_output_options(init)
    init.set_defaults(func=keys_init)
    rotate = keys_sub.add_parser(
        "rotate", help="nouvelle clé de commission pour les messages à venir"
    )
    _key_output_options(rotate)
    rotate.set_defaults(func=keys_rotate)

    staff = subparsers.add_parser("staff", help="outils des membres de la commission")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True)
    open_ = staff_sub.add_parser("open", help="déchiffre et affiche un dossier")
    _case_key_options(open_)
    open_.set_defaults(func=staff_open)
    export = staff_sub.add_parser("export", help="écrit un dossier déchiffré dans un fichier")
    _case_key_options(export)
    export.add_argument("--out", type=Path, required=True, help="fichier à créer")
    export.set_defaults(func=staff_export)
    reply = staff_sub.add_parser(
        "reply", help="répond à la personne, qui le lira dans le chat ; le texte est lu sur "
        "l'entrée standard (terminez par Ctrl-D)"
    )
    reply.add_argument("case", help="numéro de dossier")
    # The text comes on standard input, never on the command line: argv shows in `ps` and
    # stays in the shell's history.
    reply.set_defaults(func=staff_reply)

    purge_ = subparsers.add_parser("purge", help="efface les dossiers dont la durée est échue")
    purge_.set_defaults(func=purge)


def _key_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--commission-key",
        type=Path,
        default=Path.home() / DEFAULT_KEY_NAME,
        help="où écrire la clé privée chiffrée (à remettre à la commission)",
    )
    parser.add_argument("--passphrase-file", type=Path, help="lit la phrase secrète de ce fichier")


def _case_key_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("case", help="numéro de dossier")
    parser.add_argument(
        "--key",
        type=Path,
        action="append",
        required=True,
        help="clé privée de la commission (répéter pour les anciennes clés)",
    )
    parser.add_argument("--passphrase-file", type=Path, help="lit la phrase secrète de ce fichier")


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


def _read_passphrase(path: Path | None, *, new: bool) -> str:
    """From a 0600 file or the terminal; never from the command line, where ``ps`` sees it."""
    if path is not None:
        check_private_mode(path, "passphrase file")
        passphrase = path.read_text().rstrip("\r\n")
    else:
        passphrase = getpass.getpass("Phrase secrète : ")
        if new and getpass.getpass("Confirmez la phrase secrète : ") != passphrase:
            raise StorageError("les deux saisies diffèrent")
    if new and len(passphrase) < MIN_PASSPHRASE:
        raise StorageError(f"phrase secrète trop courte (au moins {MIN_PASSPHRASE} caractères)")
    return passphrase


def _new_commission_key(
    args: argparse.Namespace, settings: StorageSettings
) -> CommissionPrivateKey:
    path: Path = args.commission_key
    if path.exists():
        raise StorageError(f"{path} existe déjà")
    passphrase = _read_passphrase(args.passphrase_file, new=True)
    private = CommissionPrivateKey.generate()
    write_private_key(path, private, passphrase, data_dir=settings.data_dir, cost=KEY_FILE_COST)
    return private


def keys_init(args: argparse.Namespace) -> int:
    settings = StorageSettings.from_env()
    try:
        if settings.secrets_file.exists():
            return _fail(f"{settings.secrets_file} existe déjà : rien n'a été modifié")
        if is_within(settings.secrets_file, settings.data_dir):
            return _fail("le fichier de secrets doit être hors du répertoire de données")
        private = _new_commission_key(args, settings)
        write_server_secrets(settings.secrets_file, ServerSecrets.generate(private.public()))
    except StorageError as error:
        return _fail(str(error))
    print(f"secrets du serveur : {settings.secrets_file}")
    print(f"clé de la commission {private.key_id} : {args.commission_key}")
    print("Remettez ce fichier à la commission et ne le laissez pas sur ce serveur.")
    return 0


def keys_rotate(args: argparse.Namespace) -> int:
    settings = StorageSettings.from_env()
    try:
        if not settings.secrets_file.exists():
            return _fail(f"{settings.secrets_file} introuvable : lancez d'abord `keys init`")
        current = load_server_secrets(settings.secrets_file)
        private = _new_commission_key(args, settings)
        write_server_secrets(
            settings.secrets_file, current.rotated(private.public()), overwrite=True
        )
    except StorageError as error:
        return _fail(str(error))
    print(f"nouvelle clé de la commission {private.key_id} : {args.commission_key}")
    print("Les messages déjà scellés restent lisibles avec les anciennes clés.")
    return 0


def _load_private_keys(
    paths: Sequence[Path], passphrase_file: Path | None
) -> dict[str, CommissionPrivateKey]:
    keys = {}
    for path in paths:
        key = read_private_key(path, _read_passphrase(passphrase_file, new=False))
        keys[key.key_id] = key
    return keys


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _show_payload(payload: bytes) -> Any:
    text = payload.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


async def _case_document(
    store: Store, case_id: str, keys: dict[str, CommissionPrivateKey]
) -> dict[str, Any]:
    case = await store.get_case(case_id)
    if case is None:
        raise StorageError("dossier inconnu")
    messages = []
    for message in await store.sealed_messages(case_id):
        entry: dict[str, Any] = {
            "id": message.id,
            "kind": message.kind,
            "key_id": message.key_id,
            "created_at": _when(message.created_at),
        }
        try:
            entry["content"] = _show_payload(open_sealed(message, keys))
        except DecryptionError:
            entry["content"] = None
        messages.append(entry)
    return {
        "case": case.case_id,
        "persona": case.persona,
        "level": case.level,
        "status": case.status,
        "categories": list(case.categories),
        "created_at": _when(case.created_at),
        "last_activity_at": _when(case.last_activity_at),
        "bookings": await store.bookings(case_id),
        "messages": messages,
        "replies": [
            {"created_at": _when(reply.created_at), "text": reply.text}
            for reply in await store.replies(case_id)
        ],
    }


def _shown(value: object) -> str:
    """What a person wrote, safe for a terminal: no escape sequence may clear, retitle or
    rewrite the commission member's screen."""
    return clean(str(value))


def _print_case(document: dict[str, Any]) -> None:
    level, persona = document["level"] or "-", document["persona"] or "-"
    categories = ", ".join(document["categories"]) or "-"
    print(f"Dossier {document['case']} · niveau {level} · statut {document['status']}")
    print(f"profil : {persona} · catégories : {categories}")
    print(f"ouvert le {document['created_at']} · dernière activité {document['last_activity_at']}")
    print(f"rendez-vous : {', '.join(document['bookings']) or 'aucun'}")
    print(f"\nMessages scellés ({len(document['messages'])})")
    for message in document["messages"]:
        print(f"--- {message['created_at']} · {message['kind']} · clé {message['key_id']}")
        content = message["content"]
        if content is None:
            print(f"[illisible sans la clé {message['key_id']} : ajoutez-la avec --key]")
        elif isinstance(content, str):
            print(_shown(content))
        else:
            print(json.dumps(content, ensure_ascii=False, indent=2))
    print(f"\nRéponses de la commission ({len(document['replies'])})")
    for reply in document["replies"]:
        print(f"--- {reply['created_at']}")
        print(_shown(reply["text"]))


async def _with_store(action: Callable[[Store], Any]) -> Any:
    store = await open_store()
    try:
        return await action(store)
    finally:
        await store.close()


def _open_case(args: argparse.Namespace, event: str) -> dict[str, Any]:
    keys = _load_private_keys(args.key, args.passphrase_file)

    async def read(store: Store) -> dict[str, Any]:
        document = await _case_document(store, args.case, keys)
        await store.record_event(event, case_id=args.case)
        return document

    result: dict[str, Any] = asyncio.run(_with_store(read))
    return result


def staff_open(args: argparse.Namespace) -> int:
    try:
        _print_case(_open_case(args, "staff.open"))
    except StorageError as error:
        return _fail(str(error))
    return 0


def staff_export(args: argparse.Namespace) -> int:
    settings = StorageSettings.from_env()
    out: Path = args.out
    if is_within(out, settings.data_dir):
        return _fail("un dossier déchiffré ne s'écrit pas dans le répertoire de données")
    try:
        document = _open_case(args, "staff.export")
        write_private_file(
            out, (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode()
        )
    except StorageError as error:
        return _fail(str(error))
    print(f"dossier {args.case} écrit dans {out}")
    return 0


def staff_reply(args: argparse.Namespace) -> int:
    if sys.stdin.isatty():
        print("Écrivez la réponse, puis Ctrl-D sur une ligne vide :", file=sys.stderr)
    text = clean(sys.stdin.read())
    if not text:
        return _fail("réponse vide : rien n'est enregistré")

    async def reply(store: Store) -> None:
        await store.append_reply(args.case, text)
        await store.record_event("staff.reply", case_id=args.case)

    try:
        asyncio.run(_with_store(reply))
    except UnknownCase:
        return _fail("dossier inconnu")
    except StorageError as error:
        return _fail(str(error))
    print(f"réponse enregistrée dans le dossier {args.case}")
    return 0


def purge(args: argparse.Namespace) -> int:
    try:
        erased = asyncio.run(_with_store(lambda store: store.purge_expired()))
    except StorageError as error:
        return _fail(str(error))
    print(f"dossiers effacés : {erased}")
    return 0
