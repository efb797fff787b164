"""Web-side commands of `lastmile`: migrate, serve, worker, and run (web + worker together)."""

import argparse
import os
import subprocess
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


def serve(host: str, port: int, reload: bool = False) -> None:
    """Run the web process."""
    import uvicorn

    uvicorn.run("app.main:app", host=host, port=port, reload=reload, log_level="info")


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


def run(host: str, port: int) -> None:
    """Embedded default: migrate, then one worker and the web together; Ctrl-C stops both."""
    migrate()
    proc = subprocess.Popen(worker_command("ingest,gpu", 1), cwd=ROOT)
    print(f"Lastmile is starting at http://{host}:{port}  (Ctrl-C stops web and worker)", flush=True)
    try:
        serve(host, port)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


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
    return parser, sub


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
