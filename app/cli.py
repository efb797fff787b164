"""Web-side commands of `lastmile`: migrate, serve, worker, and run (web + worker together)."""

import argparse
import os
import sys
from pathlib import Path

from app.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent


def migrate(url: str | None = None) -> None:
    """Bring the database schema to the latest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["configure_logging"] = False
    if url:
        config.attributes["url"] = url
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    command.upgrade(config, "head")


def sweep_uploads() -> None:
    """Remove what uploads cut short by a crash (kill -9, power loss) left in the originals store."""
    from app.db import session_scope
    from app.services.uploads import sweep_upload_leftovers

    try:
        with session_scope() as session:
            swept = sweep_upload_leftovers(session, get_settings())
    except Exception as exc:  # e.g. a database not migrated yet: the web starts all the same
        print(f"Skipped the sweep of interrupted uploads: {exc}", file=sys.stderr)
        return
    if swept is None:
        print("Skipped the sweep of interrupted uploads: files were being stored.", file=sys.stderr)
    elif swept.partial_files or swept.orphans:
        print(f"Removed {swept.partial_files} partial and {swept.orphans} unrecorded uploaded file(s).")


def serve(host: str, port: int, reload: bool = False) -> None:
    """Run the web process, after sweeping what interrupted uploads left behind."""
    import uvicorn

    sweep_uploads()
    # On SIGTERM requests in flight (an upload arriving) get half the stop time, then are cut off.
    grace = max(1, int(get_settings().stop_seconds // 2))
    uvicorn.run(
        "app.main:app", host=host, port=port, reload=reload, log_level="info", timeout_graceful_shutdown=grace
    )


def worker_command(queues: str, concurrency: int) -> list[str]:
    """The command line of a Celery worker process on `queues`."""
    return [
        sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker",
        "--queues", queues, "--concurrency", str(concurrency), "--loglevel", "INFO",
        "--without-gossip", "--without-mingle", "--hostname", f"lastmile-{queues.replace(',', '-')}@%h",
    ]  # fmt: skip


def worker(queues: str, concurrency: int) -> None:
    """Run a Celery worker in this process's place."""
    cmd = worker_command(queues, concurrency)
    os.execv(cmd[0], cmd)


def republish_imports() -> None:
    """Put unfinished uploads back in the queue: a worker killed mid-import (a SIGKILL, a power cut) left its
    batch with no message in the embedded broker."""
    from app.db import session_scope
    from app.services.uploads import republish_unfinished

    with session_scope() as session:
        count = republish_unfinished(session)
    if count:
        print(f"Queued {count} unfinished upload(s) again.", flush=True)


def run(host: str, port: int) -> None:
    """Embedded default: migrate, then the web and its workers together; Ctrl-C or SIGTERM stops them all."""
    from app.supervisor import Supervisor

    supervisor = Supervisor(get_settings().stop_seconds, ROOT)
    # First: a signal during the migrations lets them finish (a half-applied one would break the next
    # start), then nothing else starts.
    supervisor.install()
    migrate()
    republish_imports()
    if supervisor.signal is not None:
        raise SystemExit("Stopped before the web and the workers started.")
    # One worker per queue: uploads are read while a run trains (for hours, one at a time, on `gpu`). On one
    # machine the pages come first: training on the CPU would otherwise slow every click. (Not the ingest
    # worker: it holds the database's write lock while it records a file, and the web waits on it.)
    supervisor.start("training worker", worker_command("gpu", 1), niceness=10)
    supervisor.start("ingest worker", worker_command("ingest", 1))
    web = [sys.executable, "-m", "worker.cli", "serve", "--host", host, "--port", str(port)]
    supervisor.start("web", web)
    print(f"Lastmile is starting at http://{host}:{port}  (Ctrl-C stops web and workers)", flush=True)
    reason = supervisor.wait()
    print(f"Stopping web and workers ({reason}).", flush=True)
    killed = supervisor.stop()
    print(f"Stopped; killed after the time limit: {', '.join(killed)}." if killed else "Stopped.", flush=True)
    if killed or supervisor.signal is None:  # something had to be killed, or a child ended on its own
        raise SystemExit(1)


def read_new_password(from_stdin: bool) -> str:
    """The new admin's password: the first line of stdin, or typed twice at a hidden prompt."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass("Password for the admin: ")
    if getpass.getpass("Same password again: ") != first:
        raise SystemExit("The two passwords are not the same; nothing was created. Run the command again.")
    return first


def create_admin(email: str, name: str, password_stdin: bool, force_new: bool) -> None:
    """`lastmile create-admin`: the first admin (admin of every workspace), with no default password."""
    from app.auth.accounts import AccountError
    from app.auth.deps import user_memberships
    from app.auth.first_run import create_admin as create
    from app.auth.passwords import password_problem
    from app.db import session_scope

    migrate()
    password = read_new_password(password_stdin)
    problem = password_problem(password, email=email)
    if problem:
        raise SystemExit(f"{problem} Nothing was created.")
    try:
        with session_scope() as session:
            user = create(session, email, name, password, force_new=force_new)
            workspaces = ", ".join(m.workspace.name for m in user_memberships(session, user.id))
            summary = f"Created admin {user.email} ({user.name}); admin of: {workspaces}."
    except AccountError as exc:
        raise SystemExit(f"{exc} Nothing was created.") from None
    print(summary)
    print("Sign in at the Lastmile address with this email and password.")


def build_parser() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    """The web-side commands; worker/cli.py adds the worker-side ones."""
    settings = get_settings()
    parser = argparse.ArgumentParser(
        prog="lastmile", description="Lastmile: teach an open model how you write."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations")
    for name in ("serve", "run"):
        p = sub.add_parser(name, help="start the web" if name == "serve" else "start web and worker together")
        p.add_argument("--host", default=settings.host)
        p.add_argument("--port", type=int, default=settings.port)
    p = sub.add_parser("worker", help="start a Celery worker")
    p.add_argument("--queues", default="ingest,gpu")
    p.add_argument("--concurrency", type=int, default=1)
    p = sub.add_parser("add-model", help="add a local model folder (safetensors) to the catalog")
    p.add_argument("--name", required=True)
    p.add_argument("--folder", required=True)
    p = sub.add_parser("create-admin", help="create an admin account (admin of every workspace)")
    p.add_argument("--email", required=True)
    p.add_argument("--name", default="")
    p.add_argument(
        "--password-stdin", action="store_true", help="read the password from the first line of stdin"
    )
    p.add_argument("--force-new", action="store_true", help="create another admin even though one exists")
    p = sub.add_parser("backup", help="back up the database and files into a new folder (online)")
    p.add_argument("folder")
    p = sub.add_parser("restore", help="restore a backup folder into a fresh instance, then migrate it")
    p.add_argument("folder")
    return parser, sub


def add_model(name: str, folder: str) -> None:
    """`lastmile add-model`: put a model folder on this server into every workspace's catalog."""
    from app.db import session_scope
    from app.services.errors import FieldErrors
    from app.services.model_catalog import register_local_model

    try:
        with session_scope() as session:
            model = register_local_model(session, None, name, folder)
            print(f"Added {model.name} ({folder}) to the model catalog.")
    except FieldErrors as exc:
        raise SystemExit("; ".join(exc.errors.values())) from exc


def backup(folder: Path) -> None:
    """`lastmile backup`: an online backup of the database and the data folder's files into `folder`."""
    from app.services import backup as svc

    try:
        done = svc.backup(get_settings(), folder)
    except svc.BackupError as exc:
        raise SystemExit(f"{exc} Nothing was backed up.") from None
    print(
        f"Backed up the {done.database} database and {done.files} files ({done.bytes / 1e6:,.1f} MB) to "
        f"{folder} in {done.seconds:.1f} s. The model cache is not included: it is converted or "
        "downloaded again when needed."
    )


def known_revision(revision: str) -> bool:
    """Whether this version of Lastmile has the database migration `revision`."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(Config(str(ROOT / "alembic.ini")))
    try:
        return scripts.get_revision(revision) is not None
    except Exception:  # alembic raises several kinds for an unknown revision
        return False


def restore(folder: Path) -> None:
    """`lastmile restore`: restore the backup in `folder` into this fresh instance, then migrate it."""
    from app.services import backup as svc

    try:
        revision = svc.read_manifest(folder)["schema_revision"]
        if not known_revision(revision):
            raise svc.BackupError(
                f"This backup was made by a newer version of Lastmile (database revision {revision}). "
                "Install that version (or a later one) and restore again."
            )
        done = svc.restore(get_settings(), folder)
    except svc.BackupError as exc:
        raise SystemExit(str(exc)) from None
    migrate()
    print(
        f"Restored the {done.database} database and {done.files} files from {folder} in "
        f"{done.seconds:.1f} s; Lastmile can start."
    )


def dispatch(args: argparse.Namespace) -> None:
    """Run a web-side command parsed by build_parser."""
    if args.command == "migrate":
        migrate()
    elif args.command == "serve":
        serve(args.host, args.port)
    elif args.command == "run":
        run(args.host, args.port)
    elif args.command == "worker":
        worker(args.queues, args.concurrency)
    elif args.command == "add-model":
        add_model(args.name, args.folder)
    elif args.command == "create-admin":
        create_admin(args.email, args.name, args.password_stdin, args.force_new)
    elif args.command == "backup":
        backup(Path(args.folder))
    elif args.command == "restore":
        restore(Path(args.folder))
