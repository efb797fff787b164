"""Benchmark: peak memory of importing a 1 GB mailbox through the product's path, against a 10 MB one.

Run with `.venv/bin/python -m bench.mbox_memory [--size-mb 1024] [--baseline-mb 10]`. Each arm runs in a
fresh process with its own SQLite database and data folder in a temp dir: it writes a generated mbox
(messages with a short text and a base64 attachment, as real exports are mostly attachments) to disk,
stores it with the web's upload function (app.services.uploads.create_batch, reading the file object
as it reads a request's spooled upload), then runs the ingest worker's task function (run_batch) turn
after turn until the batch is done, its sandbox children included. A sampler adds up the resident
memory of the process and all its descendants every 20 ms; the arm reports its peak above the idle
level measured just before the upload. The last line is one JSON object with both arms and the ratio.
"""

import argparse
import base64
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

MB = 1024 * 1024
ROOT = Path(__file__).resolve().parent.parent
ATTACHMENT_BYTES = 160 * 1024
SAMPLE_SECONDS = 0.02


def write_mbox(path: Path, size: int, seed: int = 7) -> int:
    """Write a mailbox of about `size` bytes to `path`, message by message; the number of messages."""
    rng = random.Random(seed)
    blob = base64.encodebytes(rng.randbytes(ATTACHMENT_BYTES)).decode("ascii")
    written = count = 0
    with open(path, "w", encoding="ascii", newline="\n") as out:
        while written < size:
            count += 1
            text = (
                f"From client{count % 97}@example.com Mon Mar  3 10:00:00 2025\n"
                f"From: Client {count % 97} <client{count % 97}@example.com>\nTo: desk@example.com\n"
                f"Subject: Order {count}\nMessage-ID: <{count}@example.com>\nMIME-Version: 1.0\n"
                'Content-Type: multipart/mixed; boundary="b"\n\n'
                "--b\nContent-Type: text/plain; charset=utf-8\n\n"
                f"Hello,\n\nplease find order {count} attached. Delivery to dock {count % 9} as usual.\n\n"
                f"--b\nContent-Type: application/pdf; name=order{count}.pdf\n"
                "Content-Transfer-Encoding: base64\n"
                f"Content-Disposition: attachment; filename=order{count}.pdf\n\n{blob}--b--\n\n"
            )
            out.write(text)
            written += len(text)
    return count


class TreeSampler:
    """Samples the summed resident memory of this process and its descendants in a thread."""

    def __init__(self) -> None:
        """Not started yet."""
        self.peak = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def now() -> int:
        """Resident bytes of this process and all its descendants, now."""
        me = psutil.Process()
        total = me.memory_info().rss
        for child in me.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                continue
        return total

    def _run(self) -> None:
        """Sample until stopped."""
        while not self.stop.is_set():
            self.peak = max(self.peak, self.now())
            time.sleep(SAMPLE_SECONDS)

    def __enter__(self) -> "TreeSampler":
        """Start sampling."""
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        """Stop sampling."""
        self.stop.set()
        self.thread.join()


def run_arm(size_mb: int, work: Path) -> dict[str, Any]:
    """One arm, in this process: generate, upload, import; what it measured."""
    os.environ.update(
        {
            "LASTMILE_DATA_DIR": str(work / "data"),
            "LASTMILE_MODEL_CACHE_DIR": str(ROOT / "data" / "models"),
            "LASTMILE_MAX_FILE_BYTES": str(4096 * MB),  # lets the code before mailbox limits read it too
            "LASTMILE_MAX_UPLOAD_BYTES": str(4096 * MB),
        }
    )
    from sqlalchemy import select

    from app.cli import migrate
    from app.db import session_scope
    from app.ingest.pipeline import run_batch
    from app.models import ImportBatch, ImportItem, Workspace
    from app.services import uploads as svc
    from app.settings import get_settings

    migrate()
    path = work / "export.mbox"
    messages = write_mbox(path, size_mb * MB)
    with session_scope() as session:
        workspace_id = session.scalars(select(Workspace.id).order_by(Workspace.id)).first()
    idle = TreeSampler.now()
    started = time.monotonic()
    turns = 0
    with TreeSampler() as sampler:
        with open(path, "rb") as handle, session_scope() as session:
            files = [svc.IncomingFile("export.mbox", io.BufferedReader(handle))]
            batch_id = svc.create_batch(session, workspace_id, files, get_settings()).id
        uploaded = time.monotonic() - started
        while True:
            turns += 1
            run_batch(batch_id)
            with session_scope() as session:
                batch = session.get(ImportBatch, batch_id)
                if batch.state in ("done", "failed"):
                    item = session.scalars(select(ImportItem).where(ImportItem.batch_id == batch_id)).one()
                    outcome = {"state": item.status, "examples": item.example_count, "message": item.message}
                    break
    seconds = time.monotonic() - started
    return {
        "size_mb": round(path.stat().st_size / MB, 1),
        "messages": messages,
        "upload_s": round(uploaded, 1),
        "import_s": round(seconds, 1),
        "turns": turns,
        "idle_mb": round(idle / MB),
        "peak_above_idle_mb": round((sampler.peak - idle) / MB),
        **outcome,
    }


def arm_in_subprocess(size_mb: int) -> dict[str, Any]:
    """Run one arm in a fresh interpreter (a clean idle level) and a temp dir; its JSON result."""
    with tempfile.TemporaryDirectory(prefix="lastmile-mbox-") as work:
        command = [sys.executable, "-m", "bench.mbox_memory", "--arm", str(size_mb), "--work", work]
        done = subprocess.run(command, cwd=Path.cwd(), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"arm {size_mb} MB failed:\n{done.stdout}\n{done.stderr}")
        return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Both arms, a table, and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--baseline-mb", type=int, default=10)
    parser.add_argument("--arm", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.arm:
        print(json.dumps(run_arm(args.arm, Path(args.work))))
        return
    baseline = arm_in_subprocess(args.baseline_mb)
    big = arm_in_subprocess(args.size_mb)
    print(f"{'arm':>10} | {'MB':>7} | {'messages':>8} | {'upload s':>8} | {'import s':>8} | turns | "
          "idle MB | peak above idle MB | result")  # fmt: skip
    for name, arm in (("baseline", baseline), ("big", big)):
        print(
            f"{name:>10} | {arm['size_mb']:>7} | {arm['messages']:>8} | {arm['upload_s']:>8} | "
            f"{arm['import_s']:>8} | {arm['turns']:>5} | {arm['idle_mb']:>7} | "
            f"{arm['peak_above_idle_mb']:>18} | {arm['state']}, {arm['examples']} examples"
        )
    ratio = big["peak_above_idle_mb"] / max(1, baseline["peak_above_idle_mb"])
    print(json.dumps({"baseline": baseline, "big": big, "peak_ratio_big_over_baseline": round(ratio, 2)}))


if __name__ == "__main__":
    main()
