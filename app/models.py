"""SQLAlchemy models: every table that holds user data carries a workspace_id."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

TASK_KINDS = ("draft", "summarise", "classify", "extract")
SPLITS = ("train", "heldout")


def utcnow() -> datetime:
    """Timezone-aware now, the one clock every timestamp uses."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of every Lastmile table."""


class Workspace(Base):
    """A team's space: its documents, examples and datasets are invisible to other workspaces."""

    __tablename__ = "workspaces"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Optional: when a training run ends, a short JSON message with a link is POSTed here.
    webhook_url: Mapped[str | None] = mapped_column(String(2000))


class Document(Base):
    """One uploaded file, content-addressed by sha256 within its workspace."""

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("workspace_id", "sha256", name="uq_documents_workspace_sha"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(500))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    format: Mapped[str] = mapped_column(String(20))
    # stored → parsed | failed | needs_mapping
    status: Mapped[str] = mapped_column(String(20), default="stored")
    error: Mapped[str | None] = mapped_column(Text)
    example_count: Mapped[int] = mapped_column(Integer, default=0)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    columns: Mapped[list[str] | None] = mapped_column(JSON)
    column_mapping: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ImportBatch(Base):
    """One upload action; the database (not Celery) records its state and progress."""

    __tablename__ = "import_batches"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    # upload | paste | sample | mapping
    source: Mapped[str] = mapped_column(String(20), default="upload")
    # queued → running → done | failed
    state: Mapped[str] = mapped_column(String(20), default="queued")
    total_files: Mapped[int] = mapped_column(Integer, default=0)
    done_files: Mapped[int] = mapped_column(Integer, default=0)
    example_count: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    items: Mapped[list["ImportItem"]] = relationship(
        back_populates="batch", order_by="ImportItem.position", cascade="all, delete-orphan"
    )


class ImportItem(Base):
    """The per-file result of a batch: what the user sees next to each file name."""

    __tablename__ = "import_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batches.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(500))
    # The stored original, written by the web before the task is published.
    sha256: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    parent_item_id: Mapped[int | None] = mapped_column(ForeignKey("import_items.id", ondelete="CASCADE"))
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"))
    # pending → parsed | skipped | failed | duplicate | needs_mapping (skipped: mail no person wrote)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    message: Mapped[str | None] = mapped_column(Text)
    example_count: Mapped[int] = mapped_column(Integer, default=0)
    # A mailbox read in slices: the byte offset and message number it goes on from, and its running tally
    # (app.ingest.mailbox_import). Written in the same transaction as the slice's examples.
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    batch: Mapped[ImportBatch] = relationship(back_populates="items")


class Example(Base):
    """A training example: instruction, optional input, and the reference output."""

    __tablename__ = "examples"
    __table_args__ = (
        Index("ix_examples_ws_kind", "workspace_id", "kind"),
        Index("ix_examples_ws_split", "workspace_id", "split"),
        Index("ix_examples_ws_hash", "workspace_id", "content_hash"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    document_id: Mapped[int | None] = mapped_column(
        ForeignKey("documents.id", ondelete="SET NULL"), index=True
    )
    source_ref: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="draft")
    instruction: Mapped[str] = mapped_column(Text, default="")
    input: Mapped[str] = mapped_column(Text, default="")
    output: Mapped[str] = mapped_column(Text, default="")
    included: Mapped[bool] = mapped_column(Boolean, default=True)
    split: Mapped[str] = mapped_column(String(10), default="train")
    # True once a person chose the split, so automatic re-splitting leaves it alone.
    split_locked: Mapped[bool] = mapped_column(Boolean, default=False)
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    tags: Mapped[list["ExampleTag"]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    flags: Mapped[list["ExampleFlag"]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    document: Mapped[Document | None] = relationship()


class ExampleTag(Base):
    """A free-form label on an example."""

    __tablename__ = "example_tags"
    example_id: Mapped[int] = mapped_column(ForeignKey("examples.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)


class ExampleFlag(Base):
    """A quality finding on an example (duplicate, short output, PII, too long, ...)."""

    __tablename__ = "example_flags"
    example_id: Mapped[int] = mapped_column(ForeignKey("examples.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)
    detail: Mapped[str | None] = mapped_column(Text)


class Dataset(Base):
    """A named selection of examples ("Client reports", "Support replies")."""

    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("workspace_id", "name", name="uq_datasets_workspace_name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DatasetExample(Base):
    """Membership of an example in a dataset."""

    __tablename__ = "dataset_examples"
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    example_id: Mapped[int] = mapped_column(
        ForeignKey("examples.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class DatasetSnapshot(Base):
    """A frozen, hashed copy of a dataset's included examples; training runs point at one."""

    __tablename__ = "dataset_snapshots"
    __table_args__ = (UniqueConstraint("dataset_id", "sha256", name="uq_snapshots_dataset_sha"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    example_count: Mapped[int] = mapped_column(Integer)
    train_count: Mapped[int] = mapped_column(Integer)
    heldout_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# ---- accounts, sessions, roles and audit ------------------------------------------------------------

ROLES = ("reviewer", "editor", "admin")


class User(Base):
    """A person who signs in; has a role in each workspace through Membership."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    # Always stored lower-cased, so sign-in does not depend on how the address was typed.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    # None until an invited user accepts the invite and chooses a password.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Membership(Base):
    """A user's role ('reviewer' | 'editor' | 'admin') in one workspace."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "workspace_id", name="uq_memberships_user_workspace"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20), default="reviewer")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    workspace: Mapped[Workspace] = relationship(lazy="joined")
    user: Mapped[User] = relationship()


class AuthSession(Base):
    """A signed-in browser: the cookie holds a random id, the database only its sha256."""

    __tablename__ = "auth_sessions"
    # sha256 hex of the cookie value: a stolen database does not yield usable cookies.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The workspace this browser currently works in (the switcher changes it).
    workspace_id: Mapped[int | None] = mapped_column(ForeignKey("workspaces.id", ondelete="SET NULL"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    user: Mapped[User] = relationship(lazy="joined")


class OneTimeLink(Base):
    """An invite or password-reset link: usable once, until it expires; only its sha256 is stored."""

    __tablename__ = "one_time_links"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    # invite | reset
    kind: Mapped[str] = mapped_column(String(10))
    # For an invite: the pre-created user row, without a password until the invite is accepted.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    workspace_id: Mapped[int | None] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    role: Mapped[str | None] = mapped_column(String(20))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    user: Mapped[User] = relationship(foreign_keys=[user_id])


class ApiToken(Base):
    """A personal token for the JSON API, shown once; only its sha256 and a short prefix are kept."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The one workspace the token works in, chosen when it is made (None: made before tokens had one;
    # such a token is refused with a message saying to make a new one).
    workspace_id: Mapped[int | None] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    user: Mapped[User] = relationship(lazy="joined")
    workspace: Mapped[Workspace | None] = relationship(lazy="joined")


class MembershipOffer(Base):
    """A workspace's offer of membership to an existing account: it becomes a Membership only when the
    account's owner accepts it while signed in (an admin never adds someone without their consent)."""

    __tablename__ = "membership_offers"
    __table_args__ = (
        UniqueConstraint("user_id", "workspace_id", name="uq_membership_offers_user_workspace"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20), default="reviewer")
    offered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    workspace: Mapped[Workspace] = relationship(lazy="joined")
    user: Mapped[User] = relationship(foreign_keys=[user_id])


class LoginAttempt(Base):
    """One sign-in try, per key ('account:<email>' or 'ip:<address>'), for throttling across processes."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_key_at", "key", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(400))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    ok: Mapped[bool] = mapped_column(Boolean, default=False)


class AuditEvent(Base):
    """Who did what in a workspace (upload, delete, export, download, train, invite, ...)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_ws_created", "workspace_id", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    # Kept (as NULL) when the user is deleted, so the history stays.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(64))
    user: Mapped[User | None] = relationship()


# ---- training: base models, runs, adapters, notices, worker capacity -----------------------------------

RUN_STATES = ("queued", "running", "cancelling", "succeeded", "failed", "cancelled")
RUN_ACTIVE_STATES = ("queued", "running", "cancelling")
MODEL_SOURCES = ("bundled", "hub", "local")


class BaseModel(Base):
    """A catalog entry: a base model a run can adapt (bundled, a Hugging Face Hub id, or a local folder).

    workspace_id is NULL for the install-wide catalog; a local folder registered by a workspace is its own.
    """

    __tablename__ = "base_models"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int | None] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # bundled | hub | local
    source: Mapped[str] = mapped_column(String(20))
    # The Hub id for 'hub', the folder for 'local', the model-cache folder name for 'bundled'.
    location: Mapped[str] = mapped_column(String(1000))
    params: Mapped[int] = mapped_column(BigInteger, default=0)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    context_tokens: Mapped[int] = mapped_column(Integer, default=2048)
    description: Mapped[str] = mapped_column(Text, default="")
    # Module name -> [in, out] of its linear layers, recorded by the worker once (for adapter-size estimates).
    layer_shapes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WorkerCapacity(Base):
    """What one worker host reported it can hold: its device and memory (VRAM on a GPU, else RAM)."""

    __tablename__ = "worker_capacities"
    id: Mapped[int] = mapped_column(primary_key=True)
    worker: Mapped[str] = mapped_column(String(200), unique=True)
    device: Mapped[str] = mapped_column(String(20), default="cpu")
    device_name: Mapped[str] = mapped_column(String(200), default="")
    memory_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WorkerSpeed(Base):
    """Measured training throughput of one base model on one worker, from its latest finished run."""

    __tablename__ = "worker_speeds"
    __table_args__ = (UniqueConstraint("worker", "base_model_id", name="uq_worker_speeds_worker_model"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    worker: Mapped[str] = mapped_column(String(200))
    base_model_id: Mapped[int] = mapped_column(ForeignKey("base_models.id", ondelete="CASCADE"), index=True)
    tokens_per_second: Mapped[float] = mapped_column(default=0.0)
    # Seconds a run spends outside training steps (loading, tokenising, saving), measured.
    overhead_seconds: Mapped[float] = mapped_column(default=0.0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BaseLoss(Base):
    """The base model's loss on one tokenised example (held-out or general set), computed once and read by
    every later run. `key` hashes the model's weights and the example's token ids: see
    worker/training/evaluation.py."""

    __tablename__ = "base_losses"
    __table_args__ = (UniqueConstraint("base_model_id", "key", name="uq_base_losses_model_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    base_model_id: Mapped[int] = mapped_column(ForeignKey("base_models.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    # Summed cross-entropy over the example's answer tokens, and how many tokens that is.
    loss_sum: Mapped[float] = mapped_column()
    answer_tokens: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Run(Base):
    """A training run; the database is its record: state, lease, progress, histories and outcome."""

    __tablename__ = "runs"
    __table_args__ = (Index("ix_runs_state_queued", "state", "queued_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    dataset_id: Mapped[int | None] = mapped_column(ForeignKey("datasets.id", ondelete="SET NULL"), index=True)
    snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("dataset_snapshots.id", ondelete="SET NULL"))
    # The snapshot's hash and counts are copied: the run stays readable if the dataset is deleted.
    snapshot_sha256: Mapped[str] = mapped_column(String(64))
    train_count: Mapped[int] = mapped_column(Integer, default=0)
    heldout_count: Mapped[int] = mapped_column(Integer, default=0)
    base_model_id: Mapped[int | None] = mapped_column(ForeignKey("base_models.id", ondelete="SET NULL"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200), default="")
    # quick | balanced | thorough | custom
    preset: Mapped[str] = mapped_column(String(20), default="balanced")
    hyperparameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    # queued → running → succeeded | failed | cancelled, with cancelling between running and cancelled
    state: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    status_text: Mapped[str] = mapped_column(Text, default="Waiting for a worker")
    error: Mapped[str | None] = mapped_column(Text)
    step: Mapped[int] = mapped_column(Integer, default=0)
    total_steps: Mapped[int] = mapped_column(Integer, default=0)
    tokens_seen: Mapped[int] = mapped_column(BigInteger, default=0)
    tokens_per_second: Mapped[float | None] = mapped_column()
    eta_seconds: Mapped[float | None] = mapped_column()
    estimate_seconds: Mapped[float | None] = mapped_column()
    # [[step, loss], ...]
    loss_history: Mapped[list[Any]] = mapped_column(JSON, default=list)
    heldout_history: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # The lease: which delivery of the task owns the run, and when it last proved it is alive.
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    worker: Mapped[str | None] = mapped_column(String(200))
    # First-in first-out: the queue is ordered by this (an interrupted run keeps its place).
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # When the run's task was last published, set in the commit that queues it: a queued run whose message
    # was lost (a crash before the publish, a flushed broker) is published again some time after.
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    base_model: Mapped[BaseModel | None] = relationship(lazy="joined")


class RunLogLine(Base):
    """One line of a run's log, in plain language, shown on the run page."""

    __tablename__ = "run_log_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    message: Mapped[str] = mapped_column(Text)


class Adapter(Base):
    """The LoRA adapter a run produced: its files in the artifact store, size, metrics and lineage."""

    __tablename__ = "adapters"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), unique=True)
    base_model_id: Mapped[int | None] = mapped_column(ForeignKey("base_models.id", ondelete="SET NULL"))
    snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("dataset_snapshots.id", ondelete="SET NULL"))
    snapshot_sha256: Mapped[str] = mapped_column(String(64), default="")
    name: Mapped[str] = mapped_column(String(200))
    # Relative to settings.data_dir, e.g. "adapters/12".
    path: Mapped[str] = mapped_column(String(1000))
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    trainable_share: Mapped[float] = mapped_column(default=0.0)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Notice(Base):
    """A message in the app for a workspace ("Training “Client reports” finished"), until dismissed."""

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_ws_created", "workspace_id", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    # info | success | error
    level: Mapped[str] = mapped_column(String(20), default="info")
    message: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
