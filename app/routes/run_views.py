"""How the training pages present runs and the launch form: plain-language views over the runs service."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.evaluation.regression_guard import describe as describe_general_writing
from app.models import RUN_ACTIVE_STATES, Adapter, Dataset, Run, Workspace
from app.routes.compare_views import STOP_TEXTS
from app.services import model_catalog as catalog
from app.services import runs as runs_service
from app.services.datasets import DatasetSummary, summaries
from app.training.presets import PRESET_NAMES, Hyperparameters

PRESET_TITLES = {
    "quick": "Quick",
    "balanced": "Balanced",
    "thorough": "Thorough",
    "custom": "Custom settings",
}
BADGES = {
    "queued": ("Queued", "badge"),
    "running": ("Running", "badge badge-info"),
    "cancelling": ("Stopping", "badge badge-warn"),
    "succeeded": ("Succeeded", "badge badge-ok"),
    "failed": ("Failed", "badge badge-err"),
    "cancelled": ("Cancelled", "badge"),
}
LOG_LINES_SHOWN = 30


@dataclass(frozen=True)
class AdvancedField:
    """One input of the advanced panel: the Hyperparameters field it sets, and how to explain it."""

    name: str
    label: str
    hint: str
    kind: type  # int, float or str: how the typed text is read
    inputmode: str = "numeric"


ADVANCED_FIELDS = (
    AdvancedField("rank", "LoRA rank", "Size of the adapter; 16 suits most datasets.", int),
    AdvancedField("alpha", "LoRA alpha", "How strongly the adapter acts; twice the rank is usual.", int),
    AdvancedField("dropout", "Dropout", "Guards against memorising; 0.05 is usual.", float, "decimal"),
    AdvancedField("learning_rate", "Learning rate", "Step size; 2e-4 is usual for LoRA.", float, "decimal"),
    AdvancedField("epochs", "Passes over the data", "More passes learn more, and risk memorising.", int),
    AdvancedField("batch_size", "Batch size", "Examples per pass; lower it if memory runs out.", int),
    AdvancedField("max_length", "Maximum length (tokens)", "Longer examples are cut at this length.", int),
    AdvancedField("target_modules", "Target modules", "'all-linear', or e.g. q_proj,v_proj.", str, "text"),
)  # fmt: skip


# ---- presenting a run ------------------------------------------------------------------------------


def _when(moment: datetime | None) -> str:
    """A timestamp as the pages show it ('28 Nov 2026, 14:05'), '' when unset."""
    return moment.strftime("%d %b %Y, %H:%M") if moment else ""


def _last_loss(history: list[Any] | None) -> str:
    """The latest loss of a [[step, loss], ...] history, to 3 decimals ('' when empty)."""
    return f"{history[-1][1]:.3f}" if history else ""


def adapter_view(run: Run | None, adapter: Adapter | None) -> dict[str, Any] | None:
    """What the run page says about the adapter: size, trained share, held-out loss before and after."""
    if adapter is None:
        return None
    metrics = adapter.metrics or {}
    history = (run.heldout_history if run is not None else None) or []
    before = metrics.get("heldout_loss_before", history[0][1] if history else None)
    after = metrics.get("heldout_loss_after", min((h[1] for h in history), default=None))
    loss_text = ""
    if before is not None and after is not None:
        change = f" ({round(100 * (before - after) / before)}% lower)" if before and after < before else ""
        loss_text = f"base model {before:.3f} → adapted {after:.3f}{change}"
    share = adapter.trainable_share or 0.0
    return {
        "size_text": f"{adapter.size_bytes / 1e6:.1f} MB",
        "size_mb": round(adapter.size_bytes / 1e6, 2),
        "trainable_share": share,
        "trainable_text": f"{share:.2%} of the model’s weights" if share else "",
        "heldout_loss_before": before,
        "heldout_loss_after": after,
        "loss_text": loss_text,
        "download_url": f"/adapters/{adapter.id}/download",
        "general_writing": general_writing_view(metrics.get("general_writing")),
    }


def general_writing_view(result: dict[str, Any] | None) -> dict[str, Any] | None:
    """The regression guard's result in words, its examples with why each draft stopped; None if unchecked."""
    view = describe_general_writing(result)
    if view is not None:
        view["examples"] = [
            example
            | {
                "base_stop_text": STOP_TEXTS.get(example.get("base_stop", ""), ""),
                "adapted_stop_text": STOP_TEXTS.get(example.get("adapted_stop", ""), ""),
            }
            for example in view["examples"]
        ]
    return view


def run_view(
    session: Session, run: Run, dataset_names: dict[int, str] | None = None, detail: bool = False
) -> dict[str, Any]:
    """Everything the list and run page show about a run, in business words."""
    if dataset_names is None:
        dataset_names = _dataset_names(session, [run])
    position = runs_service.queue_position(session, run)
    percent = round(100 * run.step / run.total_steps) if run.total_steps else 0
    label, css = BADGES.get(run.state, (run.state, "badge"))
    if position is not None:
        label = f"Queued, position {position}"
    elif run.state == "running":
        label = f"Running · {percent}%"
    status = runs_service.run_status_text(run)
    if position is not None:
        status = f"{status} — position {position} in the queue"
    view: dict[str, Any] = {
        "id": run.id,
        "name": run.name,
        "state": run.state,
        "active": run.state in RUN_ACTIVE_STATES,
        "can_cancel": run.state in ("queued", "running"),
        "badge_text": label,
        "badge_class": css,
        "status_text": status,
        "queue_position": position,
        "dataset_id": run.dataset_id,
        "dataset_name": dataset_names.get(run.dataset_id or 0, "Deleted dataset"),
        "model_name": run.base_model.name if run.base_model else "Removed model",
        "preset": run.preset,
        "preset_label": PRESET_TITLES.get(run.preset, run.preset),
        "step": run.step,
        "total_steps": run.total_steps,
        "percent": percent,
        "eta_text": runs_service.eta_text(run),
        "tokens_per_second": run.tokens_per_second,
        "created_text": _when(run.created_at),
        "error": run.error,
    }
    if detail:
        view |= {
            "train_loss_text": _last_loss(run.loss_history),
            "heldout_loss_text": _last_loss(run.heldout_history),
            "loss_history": run.loss_history or [],
            "heldout_history": run.heldout_history or [],
            "log_lines": [
                f"{line.at.strftime('%H:%M:%S')}  {line.message}"
                for line in runs_service.run_log(session, run, LOG_LINES_SHOWN)
            ],
            "adapter": adapter_view(run, runs_service.run_adapter(session, run)),
        }
    return view


def _dataset_names(session: Session, runs: list[Run]) -> dict[int, str]:
    """Dataset id -> name for the runs' datasets (one query)."""
    ids = {run.dataset_id for run in runs if run.dataset_id is not None}
    if not ids:
        return {}
    return dict(session.execute(select(Dataset.id, Dataset.name).where(Dataset.id.in_(ids))).tuples().all())


def list_context(session: Session, workspace: Workspace) -> dict[str, Any]:
    """The runs list: every run newest first, and whether any is still moving (then the list polls)."""
    runs = runs_service.list_runs(session, workspace.id)
    names = _dataset_names(session, runs)
    views = [run_view(session, run, names) for run in runs]
    return {
        "workspace": workspace,
        "section": "runs",
        "runs": views,
        "any_active": any(v["active"] for v in views),
    }


# ---- the launch form -------------------------------------------------------------------------------


def _to_int(text: str | None) -> int | None:
    """A form value as an int, None when empty or not a number."""
    try:
        return int(text) if text else None
    except ValueError:
        return None


def read_overrides(form: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The advanced fields the user filled in, as Hyperparameters values, and messages for unreadable ones."""
    overrides: dict[str, Any] = {}
    problems = []
    for f in ADVANCED_FIELDS:
        raw = (form.get(f.name) or "").strip()
        if not raw:
            continue
        try:
            overrides[f.name] = f.kind(raw)
        except ValueError:
            kind = "a whole number" if f.kind is int else "a number"
            problems.append(f"{f.label} must be {kind}; “{raw}” is not. Clear the field to use the preset.")
    return overrides, problems


@dataclass
class LaunchChoice:
    """What the form asks for: dataset, model, preset, the advanced overrides and a run name."""

    dataset_id: int | None
    base_model_id: int | None
    preset: str
    overrides: dict[str, Any]
    unreadable: list[str]
    name: str

    @classmethod
    def from_form(cls, form: dict[str, str]) -> "LaunchChoice":
        """The choice from the submitted form (unknown presets fall back to balanced)."""
        preset = form.get("preset", "balanced")
        overrides, unreadable = read_overrides(form)
        return cls(
            dataset_id=_to_int(form.get("dataset_id")),
            base_model_id=_to_int(form.get("base_model_id")),
            preset=preset if preset in PRESET_NAMES else "balanced",
            overrides=overrides,
            unreadable=unreadable,
            name=form.get("name", ""),
        )


def model_choices(session: Session, workspace_id: int) -> list[dict[str, Any]]:
    """The catalog as the form and the models page show it: size, and whether it runs on this machine."""
    capacity = catalog.best_capacity(session)
    choices = []
    models = catalog.list_models(session, workspace_id)
    # list_models seeds the built-in catalog on first use (flushed only): keep those rows, so the ids the
    # page offers still exist when the form is posted.
    session.commit()
    for model in models:
        fit = catalog.fits(model, capacity)
        if fit is False and capacity is not None:
            reason = catalog.too_large_message(model, capacity)
        elif fit is None:
            reason = "No worker has reported its memory yet."
        else:
            reason = ""
        choices.append(
            {
                "model": model,
                "fits": fit,
                "reason": reason,
                "size_text": f"{model.params / 1e9:.1f}B weights"
                if model.params >= 1e9
                else f"{model.params / 1e6:.0f}M weights",
            }
        )
    return choices


def plan_context(session: Session, workspace_id: int, choice: LaunchChoice) -> dict[str, Any]:
    """The estimate box: summary, facts, blocking problems, warnings, and the preset descriptions."""
    if choice.dataset_id is None:
        problem = "Pick a dataset to train on."
        return {"plan": {"problems": [problem], "facts": [], "warnings": []}, "presets": []}
    check = runs_service.launch_check(
        session,
        workspace_id,
        choice.dataset_id,
        choice.base_model_id,
        choice.overrides or None,
        choice.preset,
    )
    hp = check.hyperparameters or Hyperparameters()
    facts = [
        ("Examples", f"{check.train_count:,} to train on, {check.heldout_count:,} held out"),
        ("Settings", f"{hp.epochs} passes, rank {hp.rank}, learning rate {hp.learning_rate:g}"),
        ("Cut at", f"{hp.max_length:,} tokens"),
    ]
    if check.estimate is not None:
        facts.insert(1, ("Training steps", f"{check.estimate.steps:,}"))
    presets = [
        {"name": name, "title": PRESET_TITLES[name], "description": check.preset_text[name]}
        for name in PRESET_NAMES
    ]
    return {
        "plan": {
            "summary": check.estimate_text,
            "facts": facts,
            "problems": choice.unreadable + check.problems,
            "warnings": check.warnings,
        },
        "presets": presets,
        "check": check,
    }


def launch_context(
    session: Session, workspace: Workspace, form: dict[str, str], problems: list[str] | None = None
) -> dict[str, Any]:
    """The launch page: datasets with counts, the model catalog, presets, advanced fields and the estimate."""
    datasets: list[DatasetSummary] = summaries(session, workspace.id)
    choice = LaunchChoice.from_form(form)
    if choice.dataset_id is None and datasets:
        choice.dataset_id = datasets[0].dataset.id
    models = model_choices(session, workspace.id)
    if choice.base_model_id is None and models:
        choice.base_model_id = catalog.default_model(session, workspace.id).id
    context: dict[str, Any] = {"workspace": workspace, "section": "runs", "datasets": datasets}
    context |= {"models": models, "advanced_fields": [], "plan": {}, "presets": []}
    if datasets:
        context |= plan_context(session, workspace.id, choice)
        if problems:
            context["plan"]["problems"] = problems
    check = context.get("check")
    defaults = check.hyperparameters.to_dict() if check and check.hyperparameters else {}
    context["advanced_fields"] = [
        {"name": f.name, "label": f.label, "hint": f.hint, "inputmode": f.inputmode,
         "placeholder": str(defaults.get(f.name, ""))}
        for f in ADVANCED_FIELDS
    ]  # fmt: skip
    context["values"] = {
        **form,
        "dataset_id": choice.dataset_id,
        "base_model_id": choice.base_model_id,
        "preset": choice.preset,
        "advanced_open": bool(choice.overrides or choice.unreadable),
    }
    return context


async def read_form(request: Request) -> dict[str, str]:
    """The submitted form's text fields."""
    return {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
