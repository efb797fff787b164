"""What can be checked of docker-compose.yml without a Docker engine."""

import shlex
from pathlib import Path

import yaml

from app.cli import build_parser
from app.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_parses_and_names_the_services():
    services = _compose()["services"]
    assert {"db", "redis", "migrate", "web", "worker"} <= set(services)


def test_every_lastmile_command_in_compose_is_a_real_subcommand():
    parser, _ = build_parser()
    commands = [s["command"] for s in _compose()["services"].values() if "command" in s]
    lastmile = [c for c in commands if c[0] == "lastmile"]
    assert lastmile, "no lastmile commands found"
    for command in lastmile:
        args = parser.parse_args(command[1:])  # raises SystemExit on an unknown command or flag
        assert args.command in {"migrate", "serve", "worker", "run"}


def test_every_lastmile_variable_is_a_setting():
    fields = set(Settings.model_fields)
    for service in _compose()["services"].values():
        for key in service.get("environment") or {}:
            if key.startswith("LASTMILE_"):
                assert key.removeprefix("LASTMILE_").lower() in fields, f"{key} is not a setting"


def test_dockerfile_commands_exist():
    text = (ROOT / "Dockerfile").read_text()
    for line in text.splitlines():
        if line.startswith("CMD"):
            words = shlex.split(line.removeprefix("CMD").strip().strip("[]").replace(",", " "))
            assert words[0] == "lastmile"
            build_parser()[0].parse_args(words[1:])
