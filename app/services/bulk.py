"""Bulk actions on many examples at once: chosen ids or every example matching a filter."""

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from app.auth.audit import record
from app.auth.deps import Actor, role_at_least
from app.auth.errors import Forbidden, role_message
from app.models import SPLITS, Dataset, Example, ExampleTag, utcnow
from app.services import datasets as datasets_service
from app.services.errors import FieldErrors
from app.services.example_query import ExampleFilter, matching_ids
from app.services.examples import clean_tags, count_phrase
from app.services.health import refresh_health
from app.services.health_fixes import exclude_ids

BULK_ACTIONS: dict[str, str] = {
    "include": "Include",
    "exclude": "Exclude",
    "add_tag": "Add tag",
    "remove_tag": "Remove tag",
    "set_split": "Set split",
    "add_to_dataset": "Add to dataset",
    "remove_from_dataset": "Remove from dataset",
    "delete": "Delete",
}
# Actions that change what the health check sees (inclusion, split, existence) refresh the flags.
HEALTH_ACTIONS = {"include", "exclude", "set_split", "delete"}
# The lowest role that may take each action when it is above editor (deleting is for admins).
ACTION_ROLES = {"delete": "admin"}


@dataclass(frozen=True)
class BulkResult:
    """What a bulk action did: how many examples it was asked about, how many changed, in words."""

    action: str
    matched: int
    changed: int
    message: str
    dataset_id: int | None = None


def _chunks(ids: list[int], size: int = 500) -> Iterable[list[int]]:
    """`ids` in slices small enough for any database's bound-parameter limit."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def target_ids(
    session: Session, workspace_id: int, ids: Iterable[int] | None, flt: ExampleFilter | None
) -> list[int]:
    """The workspace's example ids a bulk action applies to: the chosen ids, or all matching the filter."""
    if flt is not None:
        return list(session.scalars(matching_ids(workspace_id, flt).order_by(Example.id)))
    wanted = list(dict.fromkeys(ids or []))
    found: list[int] = []
    for chunk in _chunks(wanted):
        found += session.scalars(
            select(Example.id).where(Example.workspace_id == workspace_id, Example.id.in_(chunk))
        )
    return sorted(found)


def check_action_role(actor: Actor | None, action: str) -> None:
    """Forbidden when `actor`'s role is below what `action` needs (None: a caller without a person)."""
    minimum = ACTION_ROLES.get(action, "editor")
    if actor is not None and not role_at_least(actor.role, minimum):
        raise Forbidden(role_message(actor.role, actor.workspace.name, minimum))


def _tag_value(value: str) -> str:
    """The cleaned tag a tag action acts on, or a FieldErrors naming the field."""
    tags = clean_tags([value])
    if not tags:
        raise FieldErrors({"value": "Type the tag to add or remove."})
    return tags[0]


def _update(session: Session, workspace_id: int, ids: list[int], **values: object) -> int:
    """UPDATE the given examples with `values`; returns the number of rows changed."""
    changed = 0
    for chunk in _chunks(ids):
        result = session.execute(
            update(Example)
            .where(Example.workspace_id == workspace_id, Example.id.in_(chunk))
            .values(**values, updated_at=utcnow())
        )
        changed += result.rowcount or 0
    return changed


def _add_tag(session: Session, ids: list[int], tag: str) -> int:
    """Give `tag` to the examples that do not have it yet; returns how many got it."""
    added = 0
    for chunk in _chunks(ids):
        present = set(
            session.scalars(
                select(ExampleTag.example_id).where(ExampleTag.tag == tag, ExampleTag.example_id.in_(chunk))
            )
        )
        rows = [{"example_id": i, "tag": tag} for i in chunk if i not in present]
        if rows:
            session.execute(insert(ExampleTag), rows)
        added += len(rows)
    return added


def _remove_tag(session: Session, ids: list[int], tag: str) -> int:
    """Take `tag` off the given examples; returns how many had it."""
    removed = 0
    for chunk in _chunks(ids):
        result = session.execute(
            delete(ExampleTag).where(ExampleTag.tag == tag, ExampleTag.example_id.in_(chunk))
        )
        removed += result.rowcount or 0
    return removed


def _dataset_for(
    session: Session, workspace_id: int, value: str, new_name: str, actor: Actor | None = None
) -> tuple[Dataset, bool]:
    """The dataset named by id in `value`, or a new one called `new_name`; (dataset, created)."""
    if new_name.strip():
        return datasets_service.create_dataset(session, workspace_id, new_name, actor=actor), True
    if not value.strip().isdigit():
        raise FieldErrors({"value": "Pick a dataset, or type a name for a new one."})
    return datasets_service.get_dataset(session, workspace_id, int(value)), False


def bulk_apply(
    session: Session,
    workspace_id: int,
    action: str,
    value: str = "",
    ids: Iterable[int] | None = None,
    flt: ExampleFilter | None = None,
    new_dataset_name: str = "",
    actor: Actor | None = None,
) -> BulkResult:
    """Apply `action` to the chosen examples (or all matching `flt`), commit, and refresh health if needed.

    `value` is the tag for tag actions, 'train'/'heldout' for set_split, and the dataset id for dataset
    actions (or `new_dataset_name` to create one). Raises FieldErrors for a bad action or value, and
    Forbidden when `actor` may not take the action (deleting needs an admin). A new dataset and deleted
    examples are noted in the audit log as `actor`'s doing.
    """
    if action not in BULK_ACTIONS:
        raise FieldErrors({"action": f"Choose one of: {', '.join(BULK_ACTIONS)}."})
    check_action_role(actor, action)
    if ids is None and flt is None:
        raise FieldErrors({"ids": "Select at least one example, or choose “all matching”."})
    chosen = target_ids(session, workspace_id, ids, flt)
    if not chosen:
        raise FieldErrors({"ids": "No examples are selected: tick some rows first."})
    dataset_id: int | None = None
    if action in ("include", "exclude"):
        if action == "exclude":
            changed = exclude_ids(session, workspace_id, chosen)
        else:
            changed = _update(session, workspace_id, chosen, included=True)
        message = f"{'Included' if action == 'include' else 'Excluded'} {count_phrase(len(chosen))}."
    elif action == "set_split":
        if value not in SPLITS:
            raise FieldErrors({"value": "Choose train or held-out as the split."})
        changed = _update(session, workspace_id, chosen, split=value, split_locked=True)
        label = "held-out" if value == "heldout" else "train"
        message = f"Moved {count_phrase(len(chosen))} to {label}; automatic splitting will leave them there."
    elif action == "add_tag":
        tag = _tag_value(value)
        changed = _add_tag(session, chosen, tag)
        message = f"Tagged {count_phrase(changed)} “{tag}”."
    elif action == "remove_tag":
        tag = _tag_value(value)
        changed = _remove_tag(session, chosen, tag)
        message = f"Removed the tag “{tag}” from {count_phrase(changed)}."
    elif action in ("add_to_dataset", "remove_from_dataset"):
        if action == "add_to_dataset":
            dataset, _ = _dataset_for(session, workspace_id, value, new_dataset_name, actor)
            changed = datasets_service.add_examples(session, workspace_id, dataset, chosen)
            message = f"Added {count_phrase(changed)} to “{dataset.name}”."
        else:
            dataset, _ = _dataset_for(session, workspace_id, value, "")
            changed = datasets_service.remove_examples(session, dataset, chosen)
            message = f"Removed {count_phrase(changed)} from “{dataset.name}”."
        dataset_id = dataset.id
    else:  # delete
        changed = 0
        for chunk in _chunks(chosen):
            result = session.execute(
                delete(Example).where(Example.workspace_id == workspace_id, Example.id.in_(chunk))
            )
            changed += result.rowcount or 0
        message = f"Deleted {count_phrase(changed)}."
        if actor is not None:
            record(session, actor, "delete_examples", count_phrase(changed), {"count": changed})
    session.commit()
    if action in HEALTH_ACTIONS:
        refresh_health(session, workspace_id)
    else:
        session.expire_all()
    return BulkResult(action, len(chosen), changed, message, dataset_id)
