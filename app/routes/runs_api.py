"""JSON API for training: runs (list, start, read with progress and loss history, cancel), the estimate
before a start, and the base-model catalog (tags "runs" and "models")."""

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel as Schema
from pydantic import Field
from sqlalchemy.orm import Session

from app.db import get_session
from app.models import Run
from app.routes.roles import Editor, Reader
from app.routes.run_views import model_choices, run_view
from app.services import runs as runs_service

router = APIRouter(prefix="/api", tags=["runs"])
SessionDep = Annotated[Session, Depends(get_session)]


class RunRequest(Schema):
    """What to train: a dataset, a base model (default: the bundled one), a preset or explicit settings."""

    dataset_id: int
    base_model_id: int | None = Field(None, description="A model from GET /api/models; empty = the default")
    preset: Literal["quick", "balanced", "thorough"] = Field("balanced", description="How long to train")
    hyperparameters: dict[str, Any] | None = Field(
        None,
        description="Settings overriding the preset (rank, alpha, epochs, ...); makes the run custom",
    )
    name: str = Field("", max_length=200, description="Empty: '<dataset> on <model>'")


class GeneralExampleOut(Schema):
    """One everyday instruction where the adapter's loss rose most; both drafts when the guard warned."""

    kind: str
    instruction: str
    input: str
    reference: str = Field(description="A good answer (written with the set)")
    base: str | None = Field(None, description="The base model's draft (written when the guard warns)")
    adapted: str | None = None
    base_stop: str | None = None
    adapted_stop: str | None = None
    base_loss: float
    adapted_loss: float


class GeneralWritingOut(Schema):
    """The regression guard: base vs adapted on everyday instructions, after training."""

    worse: bool = Field(description="The adapter writes general text noticeably worse than the base model")
    headline: str
    detail: str
    advice: list[str]
    items: int = Field(description="Everyday instructions scored")
    base_loss: float = Field(description="Mean loss per answer token of the base model on good answers")
    adapted_loss: float
    change: float = Field(description="Relative change of the loss: 0.38 = it rose 38%")
    rose: int = Field(description="Instructions whose loss rose")
    threshold: float = Field(description="A rise above this share counts as noticeably worse")
    examples: list[GeneralExampleOut]


class AdapterOut(Schema):
    """The adapter a succeeded run produced."""

    size_mb: float
    trainable_share: float
    heldout_loss_before: float | None
    heldout_loss_after: float | None
    general_writing: GeneralWritingOut | None = Field(description="null when it was not checked")


class RunOut(Schema):
    """A run as the list shows it: state in words, queue position, progress and time left."""

    id: int
    name: str
    state: str
    status_text: str
    queue_position: int | None
    dataset_id: int | None
    dataset_name: str
    base_model_id: int | None
    model_name: str
    preset: str
    step: int
    total_steps: int
    percent: int
    eta_seconds: float | None
    eta_text: str
    tokens_per_second: float | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, session: Session, run: Run) -> "RunOut":
        """The list view of `run`."""
        view = run_view(session, run)
        return cls(**cls._fields(run, view))

    @staticmethod
    def _fields(run: Run, view: dict[str, Any]) -> dict[str, Any]:
        """The fields shared by RunOut and RunDetail."""
        return {
            "id": run.id,
            "name": run.name,
            "state": run.state,
            "status_text": view["status_text"],
            "queue_position": view["queue_position"],
            "dataset_id": run.dataset_id,
            "dataset_name": view["dataset_name"],
            "base_model_id": run.base_model_id,
            "model_name": view["model_name"],
            "preset": run.preset,
            "step": run.step,
            "total_steps": run.total_steps,
            "percent": view["percent"],
            "eta_seconds": run.eta_seconds if run.state == "running" else None,
            "eta_text": view["eta_text"],
            "tokens_per_second": run.tokens_per_second,
            "error": run.error,
            "created_at": run.created_at,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
        }


class RunDetail(RunOut):
    """A run with its settings, loss histories ([step, loss] pairs), recent log lines and adapter."""

    hyperparameters: dict[str, Any]
    train_count: int
    heldout_count: int
    snapshot_sha256: str
    loss_history: list[list[float]]
    heldout_history: list[list[float]]
    log: list[str]
    adapter: AdapterOut | None

    @classmethod
    def of(cls, session: Session, run: Run) -> "RunDetail":
        """The full view of `run`."""
        view = run_view(session, run, detail=True)
        adapter = view["adapter"]
        return cls(
            **cls._fields(run, view),
            hyperparameters=run.hyperparameters,
            train_count=run.train_count,
            heldout_count=run.heldout_count,
            snapshot_sha256=run.snapshot_sha256,
            loss_history=view["loss_history"],
            heldout_history=view["heldout_history"],
            log=view["log_lines"],
            adapter=AdapterOut(**{k: adapter[k] for k in AdapterOut.model_fields}) if adapter else None,
        )


class PresetOut(Schema):
    """One preset for the chosen dataset: its one-line description and settings."""

    name: str
    description: str
    hyperparameters: dict[str, Any]


class EstimateOut(Schema):
    """Before a start: whether the run can start (with the reasons when not), and how long it would take."""

    can_start: bool
    problems: list[str]
    warnings: list[str]
    summary: str
    seconds: float | None
    adapter_mb: float | None
    cut_examples: int | None
    steps: int | None
    train_count: int
    heldout_count: int
    hyperparameters: dict[str, Any] | None
    presets: list[PresetOut]


class ModelOut(Schema):
    """A base model of the catalog, and whether the workers can run it."""

    id: int
    key: str
    name: str
    source: str
    params: int
    size_bytes: int
    context_tokens: int
    description: str
    runs_here: bool | None = Field(description="null until a worker has reported its memory")
    reason: str


def _blocked(problems: list[str]) -> JSONResponse:
    """422 naming every reason the run cannot start."""
    return JSONResponse({"detail": " ".join(problems), "problems": problems}, status_code=422)


@router.get("/runs")
def list_runs(actor: Reader, session: SessionDep) -> list[RunOut]:
    """The workspace's training runs, newest first."""
    return [RunOut.of(session, run) for run in runs_service.list_runs(session, actor.workspace.id)]


@router.post("/runs", status_code=201, response_model=RunDetail, responses={422: {"description": "Blocked"}})
def start_run(body: RunRequest, actor: Editor, session: SessionDep) -> Any:
    """Freeze the dataset and queue a run; 422 with `problems` when something blocks it."""
    try:
        run = runs_service.create_run(
            session, actor, body.dataset_id, body.base_model_id, body.preset, body.hyperparameters, body.name
        )
    except runs_service.RunBlocked as exc:
        session.rollback()
        return _blocked(exc.problems)
    return RunDetail.of(session, run)


@router.post("/runs/estimate")
def estimate(body: RunRequest, actor: Reader, session: SessionDep) -> EstimateOut:
    """What a run with these choices would take, and what would block it (nothing is started)."""
    check = runs_service.launch_check(
        session, actor.workspace.id, body.dataset_id, body.base_model_id, body.hyperparameters, body.preset
    )
    est = check.estimate
    return EstimateOut(
        can_start=check.can_start,
        problems=check.problems,
        warnings=check.warnings,
        summary=check.estimate_text,
        seconds=round(est.seconds, 1) if est else None,
        adapter_mb=round(est.adapter_mb, 2) if est else None,
        cut_examples=est.cut_examples if est else None,
        steps=est.steps if est else None,
        train_count=check.train_count,
        heldout_count=check.heldout_count,
        hyperparameters=check.hyperparameters.to_dict() if check.hyperparameters else None,
        presets=[
            PresetOut(name=name, description=check.preset_text[name], hyperparameters=hp.to_dict())
            for name, hp in check.presets.items()
        ],
    )


@router.get("/runs/{run_id}")
def get_run(run_id: int, actor: Reader, session: SessionDep) -> RunDetail:
    """A run's state, progress, loss histories, recent log and adapter (poll it while it is active)."""
    return RunDetail.of(session, runs_service.get_run(session, actor.workspace.id, run_id))


@router.post("/runs/{run_id}/cancel")
def cancel_run(run_id: int, actor: Editor, session: SessionDep) -> RunDetail:
    """Cancel a queued run at once, or ask a running one to stop at its next step."""
    run = runs_service.cancel_run(session, actor.workspace.id, run_id, actor=actor)
    return RunDetail.of(session, run)


@router.get("/models", tags=["models"])
def list_models(actor: Reader, session: SessionDep) -> list[ModelOut]:
    """The base models this workspace can train, smallest first, with whether the workers can run them."""
    return [
        ModelOut(
            id=c["model"].id,
            key=c["model"].key,
            name=c["model"].name,
            source=c["model"].source,
            params=c["model"].params,
            size_bytes=c["model"].size_bytes,
            context_tokens=c["model"].context_tokens,
            description=c["model"].description,
            runs_here=c["fits"],
            reason=c["reason"],
        )
        for c in model_choices(session, actor.workspace.id)
    ]
