"""Helpers the example and dataset pages share: rendering, the not-found page, the health panel context."""

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from app.curation.health import FLAG_LABELS, HealthReport
from app.models import Workspace
from app.services.examples import token_counter
from app.services.health import dataset_report, workspace_report
from app.services.health_summary import health_summary
from app.settings import get_settings
from app.templating import is_htmx, templates

COUNT_PREFIX = "count_"
SEVERITY_CLASSES = {"error": "err", "warning": "warn", "info": "info", "ok": "ok"}
SEVERITY_WORDS = {"error": "Must fix", "warning": "Worth fixing", "info": "Note", "ok": "Good"}
# The label of each one-click fix button, in the user's words.
FIX_LABELS = {
    "exclude_duplicates": "Exclude the copies (keep the first)",
    "exclude": "Exclude these examples",
    "redact_pii": "Replace personal data with placeholders",
    "move_to_train": "Fix the leak",
    "auto_split": "Split automatically",
}


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render a page or partial with Jinja (autoescape on)."""
    return templates.TemplateResponse(request, name, context, status_code=status_code, headers=headers)


def not_found(request: Request, workspace: Workspace, message: str, section: str) -> HTMLResponse:
    """A 404 that says what is missing: a notice for htmx swaps, a whole page otherwise."""
    context = {"workspace": workspace, "section": section, "message": message}
    name = "examples/_not_found.html" if is_htmx(request) else "examples/not_found.html"
    return render(request, name, context, status_code=404)


def health_panel_context(
    session: Session,
    workspace: Workspace,
    message: str = "",
    error: str = "",
    dataset_id: int | None = None,
) -> dict[str, Any]:
    """What the health panel shows: findings (workspace or one dataset), counts, and the token check."""
    settings = get_settings()
    report: HealthReport = (
        dataset_report(session, workspace.id, dataset_id)
        if dataset_id is not None
        else workspace_report(session, workspace.id)
    )
    summary = health_summary(
        session, workspace.id, settings.context_tokens, token_counter().exact, dataset_id=dataset_id
    )
    return {
        "workspace": workspace,
        "report": report,
        # The per-kind counts ("43 good examples; 100 recommended") head the panel, the rest is listed.
        "counts": [f for f in report.findings if f.code.startswith(COUNT_PREFIX)],
        "problems": [f for f in report.findings if not f.code.startswith(COUNT_PREFIX)],
        "summary": summary,
        "flag_labels": FLAG_LABELS,
        "severity_classes": SEVERITY_CLASSES,
        "severity_words": SEVERITY_WORDS,
        "fix_labels": FIX_LABELS,
        "message": message,
        "error": error,
        "dataset_id": dataset_id,
        # Fixes act on the whole workspace, so a dataset's panel links to them instead of offering them.
        "can_fix": dataset_id is None,
        "model_name": settings.default_model,
    }
