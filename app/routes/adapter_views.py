"""How the adapter library presents adapters, for its page and its JSON API: plain words over the service."""

import math
from typing import Any

from sqlalchemy.orm import Session

from app.models import Workspace
from app.routes.run_views import PRESET_TITLES, adapter_view, model_choices
from app.services import adapters as adapters_service
from app.services.generation_requests import adapter_model_id
from app.training.presets import PRESET_NAMES


def _perplexity(loss: float | None) -> float | None:
    """exp(loss), rounded for people; None when unknown or too large to mean anything."""
    if loss is None or loss > 50:
        return None
    return round(math.exp(loss), 2)


def entry_view(entry: adapters_service.LibraryEntry) -> dict[str, Any]:
    """Everything the library and the API say about one adapter, in business words."""
    adapter, run, rate = entry.adapter, entry.run, entry.win_rate
    facts = adapter_view(run, adapter) or {}
    low, high = rate.interval if rate.rate is not None else (None, None)
    return {
        **facts,
        "id": adapter.id,
        "name": adapter.name,
        "model": adapter_model_id(adapter.id),
        "base_model_id": adapter.base_model_id,
        "run_id": adapter.run_id,
        "run_name": run.name if run is not None else "",
        "dataset_id": run.dataset_id if run is not None else None,
        "dataset_name": entry.dataset_name,
        "snapshot_sha256": adapter.snapshot_sha256,
        "train_count": run.train_count if run is not None else None,
        "heldout_count": run.heldout_count if run is not None else None,
        "perplexity_before": _perplexity(facts.get("heldout_loss_before")),
        "perplexity_after": _perplexity(facts.get("heldout_loss_after")),
        "comparison_id": entry.comparison_id,
        "win_rate": rate.rate,
        "win_rate_low": low,
        "win_rate_high": high,
        "judgements": rate.total,
        "win_rate_text": rate.sentence(),
        "verdict": rate.verdict(),
        "created_at": adapter.created_at,
        "created_text": adapter.created_at.strftime("%d %b %Y, %H:%M"),
    }


def library_context(
    session: Session,
    workspace: Workspace,
    errors: dict[int, str] | None = None,
    problems: dict[int, list[str]] | None = None,
) -> dict[str, Any]:
    """The library page: shelves of adapters per base model, the models to train again on, messages."""
    shelves = [
        {
            "model_id": shelf.model.id if shelf.model else None,
            "model_name": shelf.model.name if shelf.model else "Removed base model",
            "adapters": [entry_view(entry) for entry in shelf.entries],
        }
        for shelf in adapters_service.library(session, workspace.id)
    ]
    return {
        "workspace": workspace,
        "section": "adapters",
        "shelves": shelves,
        "models": model_choices(session, workspace.id),
        "presets": [(name, PRESET_TITLES[name]) for name in PRESET_NAMES],
        "errors": errors or {},
        "problems": problems or {},
    }
