"""Workspace health: stored per-example flags, the findings panel, automatic splits and one-click fixes."""

import logging
from collections import OrderedDict
from collections.abc import Iterable
from threading import Lock

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from app.curation.health import HealthReport, analyse
from app.curation.records import HELDOUT, TRAIN, ExampleRecord
from app.curation.split import assign_heldout
from app.db import get_sessionmaker
from app.models import DatasetExample, Example, ExampleFlag, ExampleTag, Workspace, utcnow
from app.settings import get_settings

log = logging.getLogger(__name__)

# Held-out share and floor used by the automatic split and the "auto_split" fix.
HELDOUT_FRACTION = 0.1
HELDOUT_MINIMUM = 5
# Below this many included examples a held-out set would starve training, so refresh leaves splits alone.
AUTO_SPLIT_MIN_EXAMPLES = 20
# Fixed seed: the same examples always get the same automatic split, on every host.
SPLIT_SEED = 0

# Findings are not stored; analysing 10,000 examples takes about two seconds, so the panel reuses the
# last report of a workspace while its examples have not changed (the fingerprint changes on any edit).
# Each entry also says whether the stored flags were written from that report.
_CACHE_SIZE = 32
_cache: "OrderedDict[tuple, tuple[HealthReport, bool]]" = OrderedDict()
_cache_lock = Lock()
# One analysis per workspace at a time in this process: a panel request arriving while a refresh runs
# waits for it and reuses its report instead of doing the same two seconds of work alongside.
_workspace_locks: dict[tuple, Lock] = {}


def load_records(
    session: Session,
    workspace_id: int,
    example_ids: Iterable[int] | None = None,
    dataset_id: int | None = None,
) -> list[ExampleRecord]:
    """The workspace's examples as curation records, ordered by id (optionally only some ids or a dataset)."""
    stmt = select(
        Example.id,
        Example.kind,
        Example.instruction,
        Example.input,
        Example.output,
        Example.included,
        Example.split,
        Example.prompt_tokens,
        Example.output_tokens,
    ).where(Example.workspace_id == workspace_id)
    tag_stmt = (
        select(ExampleTag.example_id, ExampleTag.tag)
        .join(Example, Example.id == ExampleTag.example_id)
        .where(Example.workspace_id == workspace_id)
    )
    if dataset_id is not None:
        members = select(DatasetExample.example_id).where(DatasetExample.dataset_id == dataset_id)
        stmt = stmt.where(Example.id.in_(members))
        tag_stmt = tag_stmt.where(Example.id.in_(members))
    if example_ids is not None:
        ids = list(example_ids)
        stmt = stmt.where(Example.id.in_(ids))
        tag_stmt = tag_stmt.where(Example.id.in_(ids))
    tags: dict[int, list[str]] = {}
    for example_id, tag in session.execute(tag_stmt):
        tags.setdefault(example_id, []).append(tag)
    return [
        ExampleRecord(*row, tags=tuple(sorted(tags.get(row[0], ()))))
        for row in session.execute(stmt.order_by(Example.id))
    ]


def fingerprint(session: Session, workspace_id: int) -> tuple:
    """A cheap summary that changes whenever an example of the workspace is added, edited or deleted.

    Every change through the app sets updated_at (the column's onupdate, or explicitly in bulk
    statements); the id sum catches a delete plus an insert that happen to keep the count.
    """
    row = session.execute(
        select(
            func.count(Example.id), func.sum(Example.id), func.max(Example.id), func.max(Example.updated_at)
        ).where(Example.workspace_id == workspace_id)
    ).one()
    return (row[0], row[1], row[2], str(row[3]))


def _cache_key(session: Session, workspace_id: int) -> tuple:
    """Cache key of the workspace's current report: database, workspace, content fingerprint, context."""
    url = session.get_bind().url.render_as_string(hide_password=True)
    return (url, workspace_id, fingerprint(session, workspace_id), get_settings().context_tokens)


def _remember(key: tuple, report: HealthReport, written: bool) -> None:
    """Keep `report` for `key`, dropping the oldest entries beyond the cache size."""
    with _cache_lock:
        _cache[key] = (report, written)
        _cache.move_to_end(key)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)


def _cached(key: tuple) -> tuple[HealthReport, bool] | None:
    """The cached (report, flags written) for `key`, if any."""
    with _cache_lock:
        return _cache.get(key)


def _workspace_lock(session: Session, workspace_id: int) -> Lock:
    """The lock serialising analyses of one workspace of one database in this process."""
    key = (session.get_bind().url.render_as_string(hide_password=True), workspace_id)
    with _cache_lock:
        return _workspace_locks.setdefault(key, Lock())


def workspace_report(session: Session, workspace_id: int) -> HealthReport:
    """The current health report of the workspace (from the cache when nothing changed since)."""
    key = _cache_key(session, workspace_id)
    hit = _cached(key)
    if hit is not None:
        return hit[0]
    with _workspace_lock(session, workspace_id):
        # A refresh may have finished while this request waited: its report is the current one.
        key = _cache_key(session, workspace_id)
        hit = _cached(key)
        if hit is not None:
            return hit[0]
        report = analyse(load_records(session, workspace_id), get_settings().context_tokens)
        _remember(key, report, written=False)
        return report


def dataset_report(session: Session, workspace_id: int, dataset_id: int) -> HealthReport:
    """Health findings computed over a dataset's members only."""
    records = load_records(session, workspace_id, dataset_id=dataset_id)
    return analyse(records, get_settings().context_tokens)


def _apply_splits(session: Session, splits: dict[int, str], workspace_id: int) -> int:
    """Write the new split of each example whose split changes; returns how many changed."""
    current = dict(
        session.execute(
            select(Example.id, Example.split).where(
                Example.workspace_id == workspace_id, Example.id.in_(list(splits))
            )
        ).all()
    )
    changed = 0
    for split in (TRAIN, HELDOUT):
        ids = [i for i, s in splits.items() if s == split and current.get(i) not in (None, split)]
        for chunk in chunks(ids):
            session.execute(
                update(Example)
                .where(Example.workspace_id == workspace_id, Example.id.in_(chunk))
                .values(split=split, updated_at=utcnow())
            )
        changed += len(ids)
    return changed


def auto_split(session: Session, workspace_id: int, records: list[ExampleRecord]) -> int:
    """Split the unlocked included examples ~10% held-out; returns how many examples changed split."""
    locked = set(
        session.scalars(
            select(Example.id).where(Example.workspace_id == workspace_id, Example.split_locked.is_(True))
        )
    )
    splits = assign_heldout(
        records, fraction=HELDOUT_FRACTION, minimum=HELDOUT_MINIMUM, seed=SPLIT_SEED, locked_ids=locked
    )
    return _apply_splits(session, splits, workspace_id)


def _needs_first_split(records: list[ExampleRecord]) -> bool:
    """True when enough examples are included and none is held out yet (a fresh import)."""
    included = [r for r in records if r.included]
    return len(included) >= AUTO_SPLIT_MIN_EXAMPLES and not any(r.split == HELDOUT for r in included)


def _write_flags(session: Session, report: HealthReport, example_ids: Iterable[int] | None = None) -> None:
    """Store the report's flags for the given examples (all of the report's when None), flushed."""
    wanted = None if example_ids is None else set(example_ids)
    rows = [
        {"example_id": example_id, "code": flag.code, "detail": flag.detail or None}
        for example_id, flags in report.flags.items()
        if wanted is None or example_id in wanted
        for flag in {f.code: f for f in flags}.values()  # one row per code: the primary key
    ]
    if rows:
        session.execute(insert(ExampleFlag), rows)


def refresh_health(session: Session, workspace_id: int) -> HealthReport:
    """Analyse the workspace and rewrite its stored flags in one transaction (splitting a fresh import first).

    Commits the session. The workspace row is locked first (PostgreSQL) so that two refreshes, e.g.
    an upload finishing while a fix is applied, cannot interleave their delete and insert.
    """
    with _workspace_lock(session, workspace_id):
        session.execute(select(Workspace.id).where(Workspace.id == workspace_id).with_for_update())
        records = load_records(session, workspace_id)
        if _needs_first_split(records) and auto_split(session, workspace_id, records):
            records = load_records(session, workspace_id)
        hit = _cached(_cache_key(session, workspace_id))
        if hit is not None and hit[1]:
            # Nothing changed since flags were last written from this very report.
            session.commit()
            return hit[0]
        # A panel request may already have analysed exactly these examples: reuse its report.
        report = hit[0] if hit is not None else analyse(records, get_settings().context_tokens)
        example_ids = select(Example.id).where(Example.workspace_id == workspace_id)
        session.execute(delete(ExampleFlag).where(ExampleFlag.example_id.in_(example_ids)))
        _write_flags(session, report)
        session.commit()
        # Bulk statements bypass the identity map: loaded examples must re-read their flags and splits.
        session.expire_all()
        _remember(_cache_key(session, workspace_id), report, written=True)
        return report


def refresh_example_flags(session: Session, workspace_id: int, example_id: int) -> None:
    """Re-check one just-edited example at once: its own flags, and exact copies found by content hash.

    Commits. Near duplicates need the whole workspace (about two seconds at 10,000 examples), so
    callers follow up with refresh_health, e.g. as a background task after the response is sent.
    """
    with _workspace_lock(session, workspace_id):
        session.execute(select(Workspace.id).where(Workspace.id == workspace_id).with_for_update())
        digest = session.scalar(
            select(Example.content_hash).where(Example.id == example_id, Example.workspace_id == workspace_id)
        )
        if digest is None:
            session.commit()
            return
        copies = select(Example.id).where(
            Example.workspace_id == workspace_id, Example.content_hash == digest
        )
        records = load_records(session, workspace_id, example_ids=session.scalars(copies).all())
        report = analyse(records, get_settings().context_tokens)
        session.execute(delete(ExampleFlag).where(ExampleFlag.example_id == example_id))
        _write_flags(session, report, [example_id])
        session.commit()
        session.expire_all()


def refresh_in_background(workspace_id: int) -> None:
    """refresh_health in its own session, for a background task: a failure is logged, not raised."""
    try:
        with get_sessionmaker()() as session:
            refresh_health(session, workspace_id)
    except Exception:
        log.exception("Refreshing the health of workspace %s failed", workspace_id)


def chunks(ids: list[int], size: int = 500) -> Iterable[list[int]]:
    """`ids` in slices small enough for any database's bound-parameter limit."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]
