"""How the draft page and the new-brief box present generations and the models to draft with."""

from typing import Any

from sqlalchemy.orm import Session

from app.curation.tokens import prompt_text
from app.models import Adapter, BaseModel
from app.rendering import render_document
from app.review_models import Generation
from app.services import adapters as adapters_service
from app.services import generation_requests as generations
from app.services import model_catalog as catalog
from app.services.draft_files import FORMATS

# Why a draft ended, for people.
STOP_TEXT = {
    "eos": "The model finished on its own.",
    "length": "It stopped at the length limit; ask for a longer draft to get the rest.",
    "repetition": "It stopped because it began repeating itself.",
}
# Each state as a badge: (label, css class).
BADGES = {
    "queued": ("Waiting", "badge"),
    "running": ("Writing", "badge badge-info"),
    "succeeded": ("Done", "badge badge-ok"),
    "failed": ("Failed", "badge badge-err"),
}
# The lengths the draft form offers: (form value, new tokens, label).
LENGTHS = (
    ("short", 256, "Short (about 200 words)"),
    ("medium", 512, "Medium (about 400 words)"),
    ("long", 1024, "Long (about 800 words)"),
)
DEFAULT_LENGTH = "medium"


def length_tokens(value: str | None) -> int:
    """The new-token limit of a length choice (medium when unknown)."""
    chosen = {name: tokens for name, tokens, _ in LENGTHS}
    return chosen.get(value or DEFAULT_LENGTH, chosen[DEFAULT_LENGTH])


def brief_messages(brief: str, material: str) -> list[dict[str, str]]:
    """The chat a brief becomes: one user turn, rendered as training renders examples."""
    return [{"role": "user", "content": prompt_text(brief.strip(), material.strip())}]


def model_groups(session: Session, workspace_id: int) -> list[dict[str, Any]]:
    """The draft form's model choices: adapters grouped by base model, then the base models alone.

    Each option's value is the model's name in the OpenAI-compatible API ("adapter-12" or a model key).
    """
    groups = [
        {
            "label": f"Adapters for {shelf.model.name}",
            "options": [(generations.adapter_model_id(e.adapter.id), e.adapter.name) for e in shelf.entries],
        }
        for shelf in adapters_service.library(session, workspace_id)
        if shelf.model is not None
    ]
    models = catalog.list_models(session, workspace_id)
    # list_models seeds the built-in catalog (flushed only): keep those rows so the offered keys exist.
    session.commit()
    groups.append({"label": "Base models alone (no adapter)", "options": [(m.key, m.name) for m in models]})
    return groups


def brief_of(generation: Generation) -> str:
    """The last user message: the brief the generation answers."""
    users = [m["content"] for m in generation.messages or [] if m.get("role") == "user"]
    return users[-1] if users else ""


def model_label(session: Session, generation: Generation) -> str:
    """The adapter's name, or the base model's (with "alone"); what the draft was written with."""
    if generation.adapter_id is not None:
        adapter = session.get(Adapter, generation.adapter_id)
        if adapter is not None:
            return adapter.name
    model = session.get(BaseModel, generation.base_model_id) if generation.base_model_id else None
    return f"{model.name} alone" if model is not None else "A removed model"


def generation_view(session: Session, generation: Generation) -> dict[str, Any]:
    """Everything the draft and brief partials show about a generation."""
    active = generation.state in ("queued", "running")
    label, css = BADGES.get(generation.state, (generation.state, "badge"))
    return {
        "badge_text": label,
        "badge_class": css,
        "id": generation.id,
        "purpose": generation.purpose,
        "state": generation.state,
        "active": active,
        "status_text": generations.status_text(session, generation),
        "brief": brief_of(generation),
        "model_label": model_label(session, generation),
        "adapter_id": generation.adapter_id,
        "output": generation.output or "",
        # Drafts are shown as the documents they are (headings, lists; raw HTML off), copied as written.
        "output_html": render_document(generation.output or "", "draft"),
        "base_output_html": render_document(generation.base_output or "", "draft"),
        "tokens": generation.completion_tokens,
        "stop_text": STOP_TEXT.get(generation.stop_reason, ""),
        "error": generation.error or "",
        "formats": list(FORMATS),
        "queued_text": generation.queued_at.strftime("%d %b %Y, %H:%M"),
    }
