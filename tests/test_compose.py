"""docker-compose.yml, the Dockerfile, .env.example and Synapse's config agree with the
repository. No Docker engine is needed: the files are parsed and cross-checked."""

from __future__ import annotations

import ast
import itertools
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
# Files given after docker-compose.yml with -f, each on top of the ones before it.
TELEGRAM_POLLING = ROOT / "bot/deploy/telegram/polling.yml"
TELEGRAM_WEBHOOK = ROOT / "bot/deploy/telegram/webhook.yml"

# Bind-mounted host paths that are generated, not committed, each with what creates it.
GENERATED_PATHS = {
    "nlu/models": "trained by `make nlu-ready` (gitignored)",
}

# The only service that publishes a port, and the only host address it may bind.
PUBLISHED_SERVICE = "synapse"
PUBLISHED_HOST_IP = "127.0.0.1"
# The secrets directory of a container, where compose mounts each secret under its name.
RUN_SECRETS = "/run/secrets/"

# Names of environment variables that hold secrets, which compose must never spell out.
SECRET_NAME = re.compile(r"(PASSWORD|TOKEN|SECRET|PASSPHRASE|_KEY)$")
# `${VAR}`, `${VAR:-default}`, `${VAR:?message}`, `$VAR`; `$$` is a literal dollar.
INTERPOLATION = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|([A-Za-z_][A-Za-z0-9_]*))")
INTERPOLATED = "INTERPOLATED"


def _load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict), f"{path.name} is not a mapping"
    return document


def _merged(base: Any, overlay: Any) -> Any:
    """What compose makes of a file given with -f on top of another, for what these tests
    read: mappings merge key by key, lists (networks, secrets, ports) add up."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        merged = dict(base)
        for key, value in overlay.items():
            merged[key] = _merged(base[key], value) if key in base else value
        return merged
    if isinstance(base, list) and isinstance(overlay, list):
        return base + [item for item in overlay if item not in base]
    return overlay


COMPOSE = _load_compose()
SERVICES: dict[str, dict[str, Any]] = COMPOSE.get("services") or {}
# Every way the stack is started: alone, with Telegram by polling, with Telegram by webhook.
STACKS = {
    "docker-compose.yml": COMPOSE,
    "with Telegram polling": _merged(COMPOSE, _load_compose(TELEGRAM_POLLING)),
    "with Telegram webhook": _merged(
        _merged(COMPOSE, _load_compose(TELEGRAM_POLLING)), _load_compose(TELEGRAM_WEBHOOK)
    ),
}
FULL_STACK = STACKS["with Telegram webhook"]
# Where each stack may publish a port, service by service (always on loopback only).
PUBLISHED_SERVICES = {
    "docker-compose.yml": {PUBLISHED_SERVICE},
    "with Telegram polling": {PUBLISHED_SERVICE},
    # The webhook listener, behind the host's reverse proxy like Synapse.
    "with Telegram webhook": {PUBLISHED_SERVICE, "bot"},
}


def _strings(node: object) -> Iterator[str]:
    """Every string in a parsed YAML tree, keys included (comments are already gone)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def _interpolated(text: str) -> set[str]:
    names = set()
    # `$$` escapes a dollar for the container's shell: drop those before matching.
    for match in INTERPOLATION.finditer(text.replace("$$", "")):
        names.add(match.group(1) or match.group(2))
    return names


def _documented_variables() -> set[str]:
    pattern = re.compile(r"^(?:#\s*)?([A-Z][A-Z0-9_]*)=", re.MULTILINE)
    return set(pattern.findall(ENV_EXAMPLE.read_text(encoding="utf-8")))


def _environment(service: dict[str, Any]) -> dict[str, str | None]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        pairs = (item.split("=", 1) for item in environment)
        return {pair[0]: (pair[1] if len(pair) > 1 else None) for pair in pairs}
    return {key: (None if value is None else str(value)) for key, value in environment.items()}


def _command(service: dict[str, Any]) -> list[str]:
    command = service.get("command") or []
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def _healthcheck_words(service: dict[str, Any]) -> list[str]:
    test = (service.get("healthcheck") or {}).get("test") or []
    if isinstance(test, str):
        return shlex.split(test)
    words = [str(word) for word in test]
    if words[:1] == ["CMD-SHELL"]:
        return shlex.split(" ".join(words[1:]))
    return words[1:] if words[:1] == ["CMD"] else words


def _mounts(service: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(kind, source, target) for each volume entry: kind is "bind" or "volume"."""
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            kind = entry.get("type", "volume")
            yield kind, str(entry.get("source", "")), str(entry.get("target", ""))
            continue
        parts = str(entry).split(":")
        source, target = (parts[0], parts[1]) if len(parts) > 1 else ("", parts[0])
        if source.startswith((".", "/", "~")):
            yield "bind", source, target
        elif source:
            yield "volume", source, target


def _service_networks(service: dict[str, Any]) -> list[str]:
    networks = service.get("networks") or []
    return list(networks) if isinstance(networks, (list, dict)) else []


def _build(service: dict[str, Any]) -> tuple[Path, Path] | None:
    """The build context and Dockerfile of a service built from the repository."""
    build = service.get("build")
    if build is None:
        return None
    if isinstance(build, str):
        context, dockerfile = build, "Dockerfile"
    else:
        context, dockerfile = build.get("context", "."), build.get("dockerfile", "Dockerfile")
    context_path = (ROOT / context).resolve()
    return context_path, context_path / dockerfile


def _dockerfile_instructions(dockerfile: Path) -> Iterator[tuple[str, str]]:
    logical = dockerfile.read_text(encoding="utf-8").replace("\\\n", " ")
    for line in logical.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            yield keyword.upper(), rest.strip()


def _synapse_config() -> tuple[dict[str, Any], list[str]]:
    """Synapse's configuration as it merges the files of its --config-path arguments, each
    from a repository file mounted there or a compose config; and where each came from."""
    service = SERVICES[PUBLISHED_SERVICE]
    command = _command(service)
    targets = [command[i + 1] for i, word in enumerate(command[:-1]) if word == "--config-path"]
    assert targets, "Synapse's command gives no --config-path"
    binds = {target: source for kind, source, target in _mounts(service) if kind == "bind"}
    configs = {
        entry["target"]: COMPOSE["configs"][entry["source"]]
        for entry in service.get("configs") or []
        if isinstance(entry, dict) and "target" in entry
    }
    merged: dict[str, Any] = {}
    origins = []
    for target in targets:
        if target in binds:
            origin = binds[target]
            text = (ROOT / origin).read_text(encoding="utf-8")
        elif target in configs and "content" in configs[target]:
            origin = f"the compose config mounted at {target}"
            text = INTERPOLATION.sub(INTERPOLATED, configs[target]["content"])
        else:
            raise AssertionError(f"Synapse reads {target}, which nothing in compose provides")
        loaded = yaml.safe_load(text)
        assert isinstance(loaded, dict), f"{origin} does not parse as a YAML mapping"
        merged.update(loaded)
        origins.append(origin)
    return merged, origins


def _published_ports(service: dict[str, Any]) -> list[tuple[str | None, str]]:
    """(host address or None, container port) for each published port."""
    published = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            published.append((entry.get("host_ip"), str(entry.get("target"))))
            continue
        text = str(entry).split("/")[0]
        parts = text.rsplit(":", 2)
        host_ip = parts[0] if len(parts) == 3 else None
        published.append((host_ip, parts[-1]))
    return published


def test_every_service_has_an_image_or_a_dockerfile_that_exists() -> None:
    assert SERVICES, "docker-compose.yml defines no services"
    for name, service in SERVICES.items():
        build = _build(service)
        assert service.get("image") or build, f"service {name!r} has neither image nor build"
        if build is not None:
            context, dockerfile = build
            assert context.is_dir(), f"service {name!r}: build context {context} does not exist"
            assert dockerfile.is_file(), f"service {name!r}: {dockerfile} does not exist"


def test_every_bind_mounted_host_path_exists_or_is_a_documented_generated_path() -> None:
    for name, service in SERVICES.items():
        for kind, source, _target in _mounts(service):
            if kind != "bind":
                continue
            assert source.startswith("./"), (
                f"service {name!r} mounts {source!r}: bind mounts must be paths inside the "
                "repository, written ./..."
            )
            relative = source[2:].rstrip("/")
            if relative in GENERATED_PATHS:
                continue
            assert (ROOT / relative).exists(), (
                f"service {name!r} mounts {source!r}, which does not exist in the repository "
                f"(if it is generated, add it to GENERATED_PATHS with what creates it)"
            )
    for name, config in (COMPOSE.get("configs") or {}).items():
        if "file" in config:
            assert (ROOT / config["file"]).exists(), f"config {name!r}: {config['file']} is missing"


@pytest.mark.parametrize("stack", STACKS)
def test_every_named_volume_network_config_and_secret_used_is_declared(stack: str) -> None:
    compose = STACKS[stack]
    declared_volumes = set(compose.get("volumes") or {})
    declared_networks = set(compose.get("networks") or {})
    declared_configs = set(compose.get("configs") or {})
    declared_secrets = set(compose.get("secrets") or {})
    for name, service in compose["services"].items():
        for secret in service.get("secrets") or []:
            source = secret["source"] if isinstance(secret, dict) else secret
            assert source in declared_secrets, (
                f"{stack}: service {name!r} uses secret {source!r}, not declared under secrets:"
            )
        for kind, source, _target in _mounts(service):
            if kind == "volume":
                assert source in declared_volumes, (
                    f"service {name!r} uses volume {source!r}, not declared under volumes:"
                )
        for network in _service_networks(service):
            assert network in declared_networks, (
                f"service {name!r} uses network {network!r}, not declared under networks:"
            )
        for config in service.get("configs") or []:
            source = config["source"] if isinstance(config, dict) else config
            assert source in declared_configs, (
                f"service {name!r} uses config {source!r}, not declared under configs:"
            )


@pytest.mark.parametrize("stack", STACKS)
def test_every_interpolated_variable_is_documented_in_env_example(stack: str) -> None:
    compose = STACKS[stack]
    used = set().union(*(_interpolated(text) for text in _strings(compose)))
    # A secret taken from a variable names it bare, without ${}.
    used |= {secret["environment"] for secret in (compose.get("secrets") or {}).values()}
    missing = sorted(used - _documented_variables())
    assert not missing, (
        f"{stack} uses {', '.join(missing)}, not documented in .env.example "
        "(as VAR= or # VAR=)"
    )


def test_every_dependency_exists_has_a_healthcheck_and_is_awaited_healthy() -> None:
    for name, service in SERVICES.items():
        depends_on = service.get("depends_on") or {}
        conditions = (
            {target: None for target in depends_on}
            if isinstance(depends_on, list)
            else {target: (spec or {}).get("condition") for target, spec in depends_on.items()}
        )
        for target, condition in conditions.items():
            assert target in SERVICES, f"service {name!r} depends on unknown service {target!r}"
            assert SERVICES[target].get("healthcheck"), (
                f"service {name!r} depends on {target!r}, which has no healthcheck"
            )
            assert condition == "service_healthy", (
                f"service {name!r} should wait for {target!r} with condition: service_healthy"
            )


@pytest.fixture(scope="module")
def bot_subcommands() -> set[str]:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"python -m bot --help failed:\n{result.stderr}"
    listed = re.search(r"\{([\w,-]+)\}", result.stdout)
    assert listed, f"no subcommand list in python -m bot --help:\n{result.stdout}"
    return set(listed.group(1).split(","))


def test_the_bot_command_is_a_bot_subcommand(bot_subcommands: set[str]) -> None:
    command = _command(SERVICES["bot"])
    assert command, "the bot service has no command"
    assert command[0] in bot_subcommands, (
        f"the bot service runs {command[0]!r}, which `python -m bot --help` does not list "
        f"({', '.join(sorted(bot_subcommands))})"
    )


def test_the_bot_healthcheck_is_a_bot_subcommand(bot_subcommands: set[str]) -> None:
    words = _healthcheck_words(SERVICES["bot"])
    assert words[:3] == ["python", "-m", "bot"], f"the bot's healthcheck is {words}"
    assert words[3] in bot_subcommands, f"the bot's healthcheck runs unknown {words[3]!r}"


@pytest.mark.parametrize("stack", STACKS)
def test_only_synapse_and_the_webhook_publish_a_port_and_only_on_loopback(stack: str) -> None:
    for name, service in STACKS[stack]["services"].items():
        assert service.get("network_mode") != "host", f"service {name!r} uses the host network"
        published = _published_ports(service)
        if name not in PUBLISHED_SERVICES[stack]:
            assert not published, f"{stack}: service {name!r} publishes {published}"
            continue
        assert published, f"{stack}: {name} publishes no port: nothing could reach it"
        for host_ip, _port in published:
            assert host_ip == PUBLISHED_HOST_IP, (
                f"{stack}: {name} publishes a port on {host_ip or 'every interface'}: bind it "
                f"to {PUBLISHED_HOST_IP}, behind the reverse proxy"
            )


def test_every_service_restarts_unless_stopped() -> None:
    for name, service in SERVICES.items():
        assert service.get("restart") == "unless-stopped", (
            f"service {name!r} has restart: {service.get('restart')!r}"
        )


@pytest.mark.parametrize("stack", STACKS)
def test_no_secret_is_written_literally_in_compose(stack: str) -> None:
    for name, service in STACKS[stack]["services"].items():
        for variable, value in _environment(service).items():
            if value and SECRET_NAME.search(variable):
                assert _interpolated(value), (
                    f"service {name!r} sets {variable} literally: take it from .env "
                    "with ${VAR:?message}"
                )
            if value and "://" in value:
                masked = INTERPOLATION.sub(INTERPOLATED, value.replace("$$", ""))
                password = urlsplit(masked).password
                assert not password or password == INTERPOLATED, (
                    f"service {name!r}: {variable} carries a literal password"
                )
        command = _command(service)
        for flag, argument in itertools.pairwise(command):
            if flag.startswith("--") and SECRET_NAME.search(flag.upper().replace("-", "_")):
                assert _interpolated(argument), f"service {name!r} passes {flag} literally"


def test_synapse_config_parses_uses_postgres_and_listens_where_probed() -> None:
    config, origins = _synapse_config()
    assert any(origin.startswith("./") for origin in origins), (
        f"Synapse's config comes from {origins}, none of them a file of the repository"
    )
    assert config.get("server_name"), "Synapse's config has no server_name"

    database = config.get("database") or {}
    assert database.get("name") == "psycopg2", "Synapse's database must be PostgreSQL (psycopg2)"
    host = (database.get("args") or {}).get("host")
    assert host in SERVICES, f"Synapse's database host {host!r} is not a compose service"
    for secret in ("password", "registration_shared_secret", "macaroon_secret_key", "form_secret"):
        inline = secret in config or secret in (database.get("args") or {})
        assert not inline, f"Synapse's config holds {secret} inline: use a *_path file or env"

    listening = {int(listener["port"]) for listener in config.get("listeners") or []}
    probe = " ".join(_healthcheck_words(SERVICES[PUBLISHED_SERVICE]))
    probed = re.search(r"https?://(?:localhost|127\.0\.0\.1):(\d+)/health\b", probe)
    assert probed, f"Synapse's healthcheck does not probe /health on localhost: {probe!r}"
    assert int(probed.group(1)) in listening, (
        f"Synapse's healthcheck probes port {probed.group(1)}, it listens on {sorted(listening)}"
    )
    for _host_ip, port in _published_ports(SERVICES[PUBLISHED_SERVICE]):
        assert int(port) in listening, f"Synapse publishes port {port}, where it does not listen"


def test_dockerfile_copy_sources_exist() -> None:
    builds = [build for service in SERVICES.values() if (build := _build(service))]
    assert builds, "no service is built from the repository"
    for context, dockerfile in builds:
        for keyword, rest in _dockerfile_instructions(dockerfile):
            if keyword not in {"COPY", "ADD"}:
                continue
            flags = re.match(r"(?:--\S+\s+)*", rest)
            assert flags is not None
            if "--from=" in flags.group():
                continue
            arguments = rest[flags.end() :]
            json_form = arguments.startswith("[")
            words = yaml.safe_load(arguments) if json_form else shlex.split(arguments)
            sources = words[:-1]
            assert sources, f"{dockerfile.name}: {keyword} {rest} has no source"
            for source in sources:
                assert list(context.glob(source)), (
                    f"{dockerfile.name}: {keyword} source {source!r} does not exist in "
                    f"the build context {context}"
                )


def test_the_bot_image_runs_as_a_non_root_user() -> None:
    for context, dockerfile in filter(None, (_build(service) for service in SERVICES.values())):
        instructions = _dockerfile_instructions(dockerfile)
        users = [rest for keyword, rest in instructions if keyword == "USER"]
        assert users, f"{dockerfile.relative_to(context)} never leaves root: add USER"
        assert users[-1] not in {"root", "0"}, f"{dockerfile.name} ends as {users[-1]!r}"


def test_the_bot_image_leaves_the_development_tools_out() -> None:
    """The demo, the embedded homeserver and the test person stay out of the image, and
    nothing the image runs imports them when it starts."""
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert "bot/dev" in ignored, ".dockerignore must leave bot/dev out of the build context"
    for module in sorted((ROOT / "bot").rglob("*.py")):
        if (ROOT / "bot" / "dev") in module.parents:
            continue
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in tree.body:
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                assert not name.startswith("bot.dev"), (
                    f"{module.relative_to(ROOT)} imports {name} at start: the image has no bot/dev"
                )


def _image_user_ids(dockerfile: Path) -> set[str]:
    """The uid and gid the image's user is created with."""
    instructions = _dockerfile_instructions(dockerfile)
    commands = " ".join(rest for keyword, rest in instructions if keyword == "RUN")
    return set(re.findall(r"--(?:uid|gid) (\d+)", commands))


def test_telegram_secrets_reach_the_bot_as_files_only_its_user_reads() -> None:
    """The token and the webhook secret never sit in the container's environment: compose
    mounts each as a file, owned by the image's user, that the bot accepts (mode 0400)."""
    bot = FULL_STACK["services"]["bot"]
    environment = _environment(bot)
    build = _build(bot)
    assert build is not None
    owner = _image_user_ids(build[1])
    assert len(owner) == 1, f"the Dockerfile must create its user with one fixed id: {owner}"
    mounted = {}
    for secret in bot.get("secrets") or []:
        assert isinstance(secret, dict), f"secret {secret!r}: give its uid, gid and mode"
        assert {str(secret["uid"]), str(secret["gid"])} == owner, (
            f"secret {secret['source']} belongs to {secret['uid']}:{secret['gid']}, not the "
            f"image's user {owner}: the bot could not read it"
        )
        assert not secret["mode"] & 0o077, f"secret {secret['source']} is readable by others"
        mounted[secret["target"] if "target" in secret else RUN_SECRETS + secret["source"]] = secret
    for variable in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET"):
        assert variable not in environment, f"{variable} is in the bot's environment"
        path = environment[f"{variable}_FILE"]
        assert path in mounted, f"{variable}_FILE names {path}, where no secret is mounted"
        declared = FULL_STACK["secrets"][mounted[path]["source"]]
        assert declared == {"environment": variable}, f"{path} does not hold {variable}"
