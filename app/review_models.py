"""Compare-and-draft tables: comparisons of base and adapted drafts, blind judgements, generations.

Kept apart from app/models.py (accounts, examples, runs) because they form one concept: what the models wrote
and what people thought of it. Every table carries a workspace_id like the others.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models import Base, utcnow

# queued → running → succeeded | failed (no cancel; a comparison whose worker died goes on from its drafts)
GENERATION_STATES = ("queued", "running", "succeeded", "failed")
# What a reviewer chose, in terms of the models (the page shows A and B in a random order).
CHOICES = ("adapted", "base", "same", "both_bad")


class Comparison(Base):
    """Base and adapted drafts for every held-out example of an adapter's run, written by a worker."""

    __tablename__ = "comparisons"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    adapter_id: Mapped[int] = mapped_column(ForeignKey("adapters.id", ondelete="CASCADE"), unique=True)
    state: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    status_text: Mapped[str] = mapped_column(Text, default="Waiting for a worker")
    error: Mapped[str | None] = mapped_column(Text)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    # Generation settings used (max_new_tokens, seed, ...): the drafts are reproducible from them.
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Which delivery of the task is writing it (a duplicate delivery leaves it alone), and its lease: the
    # holder refreshes heartbeat_at; a stale one is re-queued, or failed after run_max_attempts attempts.
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    worker: Mapped[str | None] = mapped_column(String(200))
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    seconds: Mapped[float | None] = mapped_column(Float)
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # When its task was last published (lost messages are published again).
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    items: Mapped[list["ComparisonItem"]] = relationship(
        cascade="all, delete-orphan", order_by="ComparisonItem.position", lazy="selectin"
    )


class ComparisonItem(Base):
    """One held-out example: its brief, the reference the company wrote, and both models' drafts."""

    __tablename__ = "comparison_items"
    __table_args__ = (Index("ix_comparison_items_cmp_pos", "comparison_id", "position"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    comparison_id: Mapped[int] = mapped_column(ForeignKey("comparisons.id", ondelete="CASCADE"))
    # The example it came from (None once that example is deleted; the texts below stay).
    example_id: Mapped[int | None] = mapped_column(ForeignKey("examples.id", ondelete="SET NULL"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(20), default="draft")
    instruction: Mapped[str] = mapped_column(Text, default="")
    input: Mapped[str] = mapped_column(Text, default="")
    reference: Mapped[str] = mapped_column(Text, default="")
    base_output: Mapped[str | None] = mapped_column(Text)
    adapted_output: Mapped[str | None] = mapped_column(Text)
    base_tokens: Mapped[int] = mapped_column(Integer, default=0)
    adapted_tokens: Mapped[int] = mapped_column(Integer, default=0)
    # Why each draft ended: eos (end of turn) | length (max tokens) | repetition (the guard stopped it)
    base_stop: Mapped[str] = mapped_column(String(20), default="")
    adapted_stop: Mapped[str] = mapped_column(String(20), default="")


class Judgement(Base):
    """One reviewer's blind verdict on one pair of drafts (a new vote by the same reviewer replaces it)."""

    __tablename__ = "judgements"
    __table_args__ = (UniqueConstraint("item_id", "user_id", name="uq_judgements_item_user"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("comparison_items.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # Which side ("A" or "B") showed the adapted draft: the order the reviewer saw (position-bias audits).
    adapted_side: Mapped[str] = mapped_column(String(1), default="A")
    choice: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Generation(Base):
    """A brief answered on demand by a worker: a new brief (both models), a draft, or an API completion."""

    __tablename__ = "generations"
    __table_args__ = (Index("ix_generations_state_queued", "state", "queued_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    base_model_id: Mapped[int | None] = mapped_column(ForeignKey("base_models.id", ondelete="SET NULL"))
    # None: the base model alone.
    adapter_id: Mapped[int | None] = mapped_column(ForeignKey("adapters.id", ondelete="SET NULL"), index=True)
    # The adapter's name when asked: an adapter deleted before the worker answers fails the draft by name
    # instead of letting the base model answer in its place (adapter_id is emptied by the delete).
    adapter_name: Mapped[str | None] = mapped_column(String(200))
    # brief (base and adapted side by side) | draft (one model) | api (OpenAI-compatible completion)
    purpose: Mapped[str] = mapped_column(String(20), default="draft")
    # Chat messages [{"role": ..., "content": ...}], as the chat template takes them.
    messages: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # Also answer with the base model (the brief's side-by-side view).
    with_base: Mapped[bool] = mapped_column(default=False)
    max_new_tokens: Mapped[int] = mapped_column(Integer, default=256)
    # 0 = greedy (reproducible); above 0 samples with this temperature and the seed.
    temperature: Mapped[float] = mapped_column(Float, default=0.0)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(20), default="queued")
    error: Mapped[str | None] = mapped_column(Text)
    output: Mapped[str | None] = mapped_column(Text)
    base_output: Mapped[str | None] = mapped_column(Text)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    # eos | length | repetition, of `output`
    stop_reason: Mapped[str] = mapped_column(String(20), default="")
    # The lease, as on comparisons.
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    worker: Mapped[str | None] = mapped_column(String(200))
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
