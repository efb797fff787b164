"""A data folder of the stop chaos (tests/stop_chaos.py): its settings, its set-up through the application's
own functions (an admin token, the tiny model and a dataset), the work asked of it, what the database says."""

import contextlib
import os
import random
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from tests.chaos_helpers import FAST, FAST_LEASES
from tests.conftest import ROOT, clear_caches

# A run of the tiny model that trains for a few seconds, long enough to be stopped mid-way.
RUN_HP = {**FAST, "epochs": 6, "eval_every_steps": 4}


def lastmile_env(data_dir: Path, stop_seconds: float) -> dict[str, str]:
    """The LASTMILE_* settings of a run on `data_dir`: SQLite, the embedded broker, short leases."""
    return {
        "LASTMILE_DATA_DIR": str(data_dir),
        "LASTMILE_MODEL_CACHE_DIR": str(ROOT / "data" / "models"),
        "LASTMILE_STOP_SECONDS": str(stop_seconds),
        **FAST_LEASES,
    }


class Instance:
    """One data folder, its set-up, and what was asked of it (uploads, runs) so the end can check it."""

    def __init__(self, data_dir: Path, rng: random.Random, stop_seconds: float) -> None:
        """Nothing started; the folder is made on the first start."""
        self.data_dir, self.rng, self.stop_seconds = data_dir, rng, stop_seconds
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("LASTMILE_")}}
        self.env.update(lastmile_env(data_dir, stop_seconds))
        self.log = data_dir.parent / f"{data_dir.name}.log"
        self.token: str | None = None
        self.batches: list[int] = []
        self.runs: list[int] = []
        self.uploads = 0

    # --- set-up through the application's own functions (this process's settings name the folder) -------

    def prepare(self) -> None:
        """Once the schema is there: an admin with an API token, and the tiny model with a dataset."""
        if self.token is not None:
            return
        from app.db import session_scope
        from tests.auth_helpers import api_token, make_user

        clear_caches()
        with session_scope() as session:
            self.token, _ = api_token(session, make_user(session, "admin"), "stop chaos")

    def start_run(self) -> int:
        """Queue a training run of the tiny model (a few seconds of training) as the Start button does."""
        from app.db import session_scope
        from app.models import Workspace
        from app.services.runs import create_run
        from app.settings import get_settings
        from tests.run_helpers import make_actor, make_dataset, register_tiny

        with session_scope() as session:
            workspace_id = session.scalar(select(func.min(Workspace.id)))
            actor = make_actor(session, workspace_id)
            dataset = make_dataset(session, workspace_id, n_train=16, name=f"Chaos {len(self.runs) + 1}")
            model = register_tiny(session)
            run = create_run(session, actor, dataset.id, model.id, hp=RUN_HP)
            self.runs.append(run.id)
        assert get_settings().data_dir == self.data_dir
        return self.runs[-1]

    def upload(self, url: str, files: int, trickle_seconds: float = 0.0) -> None:
        """POST `files` small reports; with `trickle_seconds`, the body arrives that slowly (mid-upload)."""
        self.uploads += 1
        parts = []
        for index in range(files):
            text = f"Report {self.uploads}-{index}\n\n" + f"Volumes rose in week {index}. " * 40
            parts.append(("files", (f"report-{self.uploads}-{index}.txt", text.encode(), "text/plain")))
        request = httpx.Request("POST", f"{url}/api/uploads", files=parts)
        body = request.read()
        if trickle_seconds:
            pieces = [body[i : i + 512] for i in range(0, len(body), 512)]

            def slowly():
                for piece in pieces:
                    time.sleep(trickle_seconds / len(pieces))
                    yield piece

            content: Any = slowly()
        else:
            content = body
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": request.headers["Content-Type"]}
        with contextlib.suppress(httpx.HTTPError):  # a stop may cut the request off: then nothing was stored
            response = httpx.post(f"{url}/api/uploads", content=content, headers=headers, timeout=60)
            if response.status_code == 202:
                self.batches.append(response.json()["id"])

    # --- what is going on now, read from the database ---------------------------------------------------

    def busy(self) -> str:
        """Which job is running (or waiting) now: "comparing", "training", "importing", else "idle"."""
        from app.db import session_scope
        from app.models import ImportBatch, Run
        from app.review_models import Comparison

        with session_scope() as session:
            for state, table in (("comparing", Comparison), ("training", Run), ("importing", ImportBatch)):
                if session.scalar(select(func.count()).where(table.state.in_(("queued", "running")))):
                    return state
        return "idle"

    def doing(self, target: str) -> bool:
        """Whether the instance is at `target`: "training" once a run has trained a step, "comparing" while a
        comparison runs."""
        from app.db import session_scope
        from app.models import Run
        from app.review_models import Comparison

        with session_scope() as session:
            if target == "training":
                return bool(session.scalar(select(func.count()).where(Run.state == "running", Run.step > 0)))
            return bool(session.scalar(select(func.count()).where(Comparison.state == "running")))

    def all_done(self) -> bool:
        """Whether every accepted upload was read, every run trained and every comparison written."""
        from app.db import session_scope
        from app.models import ImportBatch, ImportItem, Run
        from app.review_models import Comparison

        with session_scope() as session:
            batches = session.scalars(select(ImportBatch.state).where(ImportBatch.id.in_(self.batches)))
            runs = session.scalars(select(Run.state).where(Run.id.in_(self.runs)))
            comparisons = session.scalars(select(Comparison.state))
            pending = session.scalar(select(func.count()).where(ImportItem.status == "pending"))
            return (
                all(state == "done" for state in batches)
                and all(state == "succeeded" for state in runs)
                and all(state == "succeeded" for state in comparisons)
                and not pending
            )

    def failures(self) -> list[str]:
        """Files refused because a stop cut their reading short, and runs or comparisons that failed."""
        from app.db import session_scope
        from app.models import ImportItem, Run
        from app.review_models import Comparison

        with session_scope() as session:
            cut_short = ImportItem.message.contains("stopped unexpectedly")
            crashed = session.scalars(select(ImportItem.message).where(cut_short))
            failed = session.scalars(select(Run.error).where(Run.state == "failed"))
            comparisons = session.scalars(select(Comparison.error).where(Comparison.state == "failed"))
            return [str(e) for e in [*crashed, *failed, *comparisons]]
