"""Operator and commission commands: server keys, exporting, opening and answering cases,
purging.

``staff export`` runs on the server and writes the sealed messages, signed; ``staff open``
runs on the commission's machine with that file and the commission's keys only.

``add_commands`` registers ``keys``, ``staff`` and ``purge`` on the ``python -m bot`` parser;
each command's handler is ``args.func(args)`` and returns the exit status.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.settings import Settings
from flows.textnorm import clean
from storage import (
    CommissionPrivateKey,
    SecretsError,
    ServerSecrets,
    StorageError,
    StorageSettings,
    Store,
    UnknownCase,
    load_server_secrets,
    open_store,
    read_private_key,
    write_private_key,
    write_server_secrets,
)
from storage.config import SECRETS_ENV, is_within
from storage.export import (
    Export,
    ExportedCase,
    ExportRefused,
    ExportUnreadable,
    export_case,
    export_since,
    opened,
    server_public_key,
    signed,
    signing_public_key,
    verified,
)
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

    signing = keys_sub.add_parser(
        "signing-key",
        help="affiche la clé publique qui signe les exports (à épingler par la commission)",
    )
    signing.set_defaults(func=keys_signing_key)
    identity = keys_sub.add_parser(
        "matrix-identity",
        help="affiche l'empreinte de la clé maîtresse du bot sur Matrix (la commission la "
        "vérifie une fois dans Element)",
    )
    identity.add_argument(
        "--replace",
        action="store_true",
        help="publie les clés de ce serveur à la place de l'identité que le serveur Matrix "
        "détient (après la perte des clés) ; chacun verra l'identité du bot changer",
    )
    identity.set_defaults(func=keys_matrix_identity)
    trust_staff = keys_sub.add_parser(
        "trust-staff",
        help="montre les identités des membres de la commission qui ont changé (les alertes "
        "attendent) ; --confirm les accepte après vérification auprès de chaque membre",
    )
    trust_staff.add_argument(
        "--confirm", action="store_true",
        help="accepte les nouvelles identités affichées : les alertes repartent",
    )
    trust_staff.set_defaults(func=keys_trust_staff)

    staff = subparsers.add_parser("staff", help="outils des membres de la commission")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True)
    export = staff_sub.add_parser(
        "export",
        help="sur le serveur : écrit un export signé des messages, toujours scellés, "
        "pour le poste de la commission",
    )
    which = export.add_mutually_exclusive_group(required=True)
    which.add_argument("--case", help="numéro de dossier")
    which.add_argument(
        "--since",
        type=_day,
        help="chaque dossier ayant reçu un message depuis ce jour (AAAA-MM-JJ, UTC), "
        "avec ces messages",
    )
    export.add_argument("--output", type=Path, help="fichier à créer (sinon : la sortie standard)")
    export.set_defaults(func=staff_export)
    open_ = staff_sub.add_parser(
        "open", help="sur le poste de la commission : vérifie, déchiffre et affiche un export"
    )
    open_.add_argument("export", type=Path, help="fichier écrit par `staff export`")
    open_.add_argument(
        "--key",
        type=Path,
        action="append",
        required=True,
        help="clé privée de la commission (répéter pour les anciennes clés)",
    )
    open_.add_argument(
        "--server-key",
        type=Path,
        required=True,
        help="fichier contenant la clé publique du serveur (la ligne de `keys signing-key`)",
    )
    open_.add_argument("--passphrase-file", type=Path, help="lit la phrase secrète de ce fichier")
    open_.add_argument(
        "--output", type=Path, help="écrit les dossiers déchiffrés dans ce fichier (JSON)"
    )
    open_.set_defaults(func=staff_open)
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


def _day(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError("date attendue sous la forme AAAA-MM-JJ") from None


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
        server = ServerSecrets.generate(private.public())
        write_server_secrets(settings.secrets_file, server)
    except StorageError as error:
        return _fail(str(error))
    print(f"secrets du serveur : {settings.secrets_file}")
    print(f"clé de la commission {private.key_id} : {args.commission_key}")
    print("Remettez ce fichier à la commission et ne le laissez pas sur ce serveur.")
    print(f"clé publique du serveur, à remettre avec lui : {_signing_line(server)}")
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


def _signing_line(server: ServerSecrets) -> str:
    assert server.signing_key is not None
    return signing_public_key(server.signing_key)


def keys_signing_key(args: argparse.Namespace) -> int:
    settings = StorageSettings.from_env()
    try:
        server = load_server_secrets(settings.secrets_file)
        if server.signing_key is None:
            if not settings.secrets_file.exists():
                # Secrets injected through the environment are the host's to change.
                return _fail(f"les secrets viennent de {SECRETS_ENV}, sans clé de signature : "
                             "ajoutez-y un champ signing_key (32 octets aléatoires en base64)")
            # Secrets written before exports were signed: the key is added once, here.
            server = server.with_signing_key()
            write_server_secrets(settings.secrets_file, server, overwrite=True)
            print(f"clé de signature ajoutée à {settings.secrets_file}", file=sys.stderr)
    except StorageError as error:
        return _fail(str(error))
    print(_signing_line(server))
    return 0


def keys_matrix_identity(args: argparse.Namespace) -> int:
    # matrix-nio loads for the Matrix commands only: every other command starts faster.
    from bot.channels.matrix.client import MatrixLoginError, read_session, session_file_beside
    from bot.channels.matrix.cross_signing import (
        CrossSigningError,
        CrossSigningKeys,
        cross_signing_file_beside,
        fingerprint,
        publish_identity,
    )

    settings = Settings.from_env()
    matrix = settings.matrix
    if matrix is None:
        return _fail("Matrix n'est pas configuré : MATRIX_HOMESERVER et MATRIX_USER_ID manquent")
    keys_file = cross_signing_file_beside(settings.secrets_file)
    try:
        if args.replace:
            session = read_session(session_file_beside(settings.secrets_file), matrix.user_id)
            if session is None:
                return _fail("aucune session Matrix près des secrets : lancez d'abord "
                             "`python -m bot run`")
            asyncio.run(publish_identity(
                matrix.homeserver, session, keys_file, matrix.password, replace=True
            ))
            print("identité du bot publiée : les membres qui avaient vérifié l'ancienne "
                  "doivent vérifier celle-ci", file=sys.stderr)
        keys = CrossSigningKeys.load(keys_file, matrix.user_id)
    except (StorageError, MatrixLoginError, CrossSigningError) as error:
        return _fail(str(error))
    if keys is None:
        return _fail(f"{keys_file} introuvable : le bot crée ses clés à son premier démarrage")
    print(fingerprint(keys.master_key))
    return 0


def keys_trust_staff(args: argparse.Namespace) -> int:
    from bot.channels.matrix.staff_trust import (
        StaffTrust,
        member_key,
        shown,
        staff_trust_file_beside,
    )

    settings = Settings.from_env()
    if settings.matrix is None:
        return _fail("Matrix n'est pas configuré : MATRIX_HOMESERVER et MATRIX_USER_ID manquent")
    trust_file = staff_trust_file_beside(settings.secrets_file)
    try:
        trust = StaffTrust.load(trust_file)
        if not trust.changed:
            print("aucune identité de la commission n'a changé")
            return 0
        for user_id in sorted(settings.matrix.staff_users):
            member = member_key(user_id)
            if member in trust.changed:
                print(f"{user_id} :")
                print(f"  épinglée : {shown(trust.pinned[member])}")
                print(f"  nouvelle : {shown(trust.changed[member])}")
        if not args.confirm:
            print("Vérifiez chaque nouvelle empreinte avec le membre (de vive voix), puis "
                  "relancez avec --confirm.")
            return 0
        trust.confirmed().save(trust_file)
    except StorageError as error:
        return _fail(str(error))
    print("nouvelles identités épinglées : les alertes en attente repartent")
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


async def _with_store(action: Callable[[Store], Any]) -> Any:
    store = await open_store()
    try:
        return await action(store)
    finally:
        await store.close()


async def _export(store: Store, args: argparse.Namespace) -> Export:
    if args.case is not None:
        export = await export_case(store, args.case)
    else:
        export = await export_since(store, args.since)
    for case in export.cases:
        await store.record_event("staff.export", case_id=case.case_id)
    return export


def staff_export(args: argparse.Namespace) -> int:
    settings = StorageSettings.from_env()
    try:
        server = load_server_secrets(settings.secrets_file)
        if server.signing_key is None:
            return _fail("les secrets du serveur n'ont pas de clé de signature : "
                         "lancez d'abord `keys signing-key`")
        export = asyncio.run(_with_store(lambda store: _export(store, args)))
        data = signed(export, server.signing_key)
        if args.output is None:
            sys.stdout.buffer.write(data)
        else:
            write_private_file(args.output, data)
    except UnknownCase:
        return _fail("dossier inconnu")
    except StorageError as error:
        return _fail(str(error))
    messages = sum(len(case.messages) for case in export.cases)
    where = "la sortie standard" if args.output is None else str(args.output)
    # The summary goes to stderr: stdout may be the export itself.
    print(f"{len(export.cases)} dossier(s), {messages} message(s) scellé(s) écrits dans {where}",
          file=sys.stderr)
    return 0


def _read_export(args: argparse.Namespace) -> Export:
    """The export, checked against the server's pinned key before any passphrase is asked."""
    try:
        server_key = server_public_key(args.server_key.read_text())
    except SecretsError:
        raise StorageError(
            f"{args.server_key} ne contient pas une clé publique du serveur "
            "(la ligne que `keys signing-key` affiche)"
        ) from None
    try:
        return verified(args.export.read_bytes(), server_key)
    except ExportUnreadable:
        raise StorageError(
            f"{args.export} n'est pas un export de `staff export` : rien n'a été ouvert"
        ) from None


def _case_document(
    case: ExportedCase, keys: Mapping[str, CommissionPrivateKey]
) -> dict[str, Any]:
    messages = []
    for message in case.messages:
        payload = opened(message, keys)
        messages.append({
            "id": message.id,
            "kind": message.kind,
            "key_id": message.key_id,
            "created_at": _when(message.created_at),
            "content": None if payload is None else payload.decode("utf-8", errors="replace"),
        })
    return {
        "case": case.case_id,
        "status": case.status,
        "created_at": _when(case.created_at),
        "last_activity_at": _when(case.last_activity_at),
        "closed_at": None if case.closed_at is None else _when(case.closed_at),
        "messages": messages,
    }


def _document(export: Export, keys: Mapping[str, CommissionPrivateKey]) -> dict[str, Any]:
    """Every message opened before anything is shown: a refused export shows nothing."""
    return {
        "exported_at": _when(export.exported_at),
        "since": None if export.since is None else _when(export.since),
        "cases": [_case_document(case, keys) for case in export.cases],
    }


def _shown(value: object) -> str:
    """What a person wrote, safe for a terminal: no escape sequence may clear, retitle or
    rewrite the commission member's screen."""
    return clean(str(value))


def _print_case(case: dict[str, Any]) -> None:
    # Every line goes through _shown: even the ids and labels come from a file that travelled.
    closed = "" if case["closed_at"] is None else f" · clos le {case['closed_at']}"
    print()
    print(_shown(f"Dossier {case['case']} · statut {case['status']}"))
    print(_shown(f"ouvert le {case['created_at']} · dernière activité "
                 f"{case['last_activity_at']}{closed}"))
    print(f"Messages scellés ({len(case['messages'])})")
    for message in case["messages"]:
        print(_shown(f"--- {message['created_at']} · {message['kind']} · clé {message['key_id']}"))
        if message["content"] is None:
            print(_shown(f"[illisible sans la clé {message['key_id']} : ajoutez-la avec --key]"))
        else:
            print(_shown(message["content"]))


def _print_document(document: dict[str, Any]) -> None:
    since = document["since"]
    which = "dossiers entiers" if since is None else f"messages depuis le {since}"
    print(f"Export du serveur du {document['exported_at']} · {which} · "
          f"{len(document['cases'])} dossier(s)")
    for case in document["cases"]:
        _print_case(case)


def staff_open(args: argparse.Namespace) -> int:
    try:
        export = _read_export(args)
        document = _document(export, _load_private_keys(args.key, args.passphrase_file))
        if args.output is not None:
            text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
            write_private_file(args.output, text.encode())
    except ExportRefused:
        return _fail(
            "export refusé : il a été modifié depuis que le serveur l'a signé, ou ne vient pas "
            "de ce serveur ; rien n'a été déchiffré. Demandez un nouvel export."
        )
    except OSError as error:
        return _fail(f"{error.filename} illisible : {error.strerror}")
    except StorageError as error:
        return _fail(str(error))
    if args.output is None:
        _print_document(document)
    else:
        print(f"{len(document['cases'])} dossier(s) déchiffré(s) dans {args.output}")
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
