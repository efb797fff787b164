"""Blind review: each reviewer sees a comparison's drafts as A and B, votes, and may change the vote; the
win rate per adapter; and the two fixes a reviewer's eye finds — a good (edited) draft becomes a training
example, a bad reference is set aside."""

import hashlib
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.auth.audit import record
from app.auth.deps import Actor
from app.evaluation.win_rate import WinRate, win_rate
from app.models import Adapter, Dataset, Example, Run, User, utcnow
from app.review_models import Comparison, ComparisonItem, Judgement
from app.services.comparisons import BAD_REFERENCE_TAG
from app.services.datasets import add_examples
from app.services.errors import FieldErrors, NotFound
from app.services.examples import ExampleChanges, create_example, get_example, set_tags, token_counter
from app.services.health import refresh_health
from app.services.health_fixes import exclude_ids
from app.services.lookup import get_owned

# What a reviewer may answer, in the A/B terms of the page; A and B become adapted/base per reviewer.
VERDICTS = ("A", "B", "same", "both_bad")
VERDICT_WORDS = {"A": "A is better", "B": "B is better", "same": "About the same", "both_bad": "Both are bad"}
MAX_COMMENT_CHARS = 2000
# Examples made from a reviewed draft carry this tag, so they can be found (and undone) on the Examples page.
PROMOTED_TAG = "from review"


def adapted_side(user_id: int, item_id: int) -> str:
    """'A' or 'B': where this reviewer sees this item's adapted draft — random-looking, stable per pair.

    Derived, not stored: a reviewer who reloads sees the same order, two reviewers see independent orders.
    """
    digest = hashlib.sha256(f"lastmile-blind:{user_id}:{item_id}".encode()).digest()
    return "A" if digest[0] % 2 == 0 else "B"


def choice_of(verdict: str, side: str) -> str:
    """The verdict in model terms (adapted | base | same | both_bad), given where the adapted draft was."""
    if verdict in ("A", "B"):
        return "adapted" if verdict == side else "base"
    return verdict


def verdict_of(choice: str, side: str) -> str:
    """The stored choice back in the A/B terms this reviewer saw."""
    if choice in ("adapted", "base"):
        other = "B" if side == "A" else "A"
        return side if choice == "adapted" else other
    return choice


def reviewable(comparison: Comparison) -> list[ComparisonItem]:
    """The comparison's items whose two drafts are both written, in order."""
    return [i for i in comparison.items if i.base_output is not None and i.adapted_output is not None]


@dataclass(frozen=True)
class BlindPair:
    """One pair as a reviewer sees it: the brief, drafts A and B, their current vote, and how far along."""

    item: ComparisonItem
    a_text: str
    b_text: str
    adapted_side: str
    verdict: str | None
    comment: str
    number: int
    reviewed: int
    total: int


def _judgements(session: Session, user_id: int, item_ids: list[int]) -> dict[int, Judgement]:
    """The user's judgements of these items, by item id."""
    if not item_ids:
        return {}
    stmt = select(Judgement).where(Judgement.user_id == user_id, Judgement.item_id.in_(item_ids))
    return {j.item_id: j for j in session.scalars(stmt)}


def blind_pair(
    session: Session, comparison: Comparison, user_id: int, item_id: int | None = None
) -> BlindPair | None:
    """The pair to show: `item_id` (to look again or change a vote), else the first not yet judged.

    None when the reviewer has judged every written pair.
    """
    items = reviewable(comparison)
    judged = _judgements(session, user_id, [i.id for i in items])
    if item_id is not None:
        item = next((i for i in items if i.id == item_id), None)
        if item is None:
            raise NotFound(f"Pair {item_id} is not (yet) part of this comparison.")
    else:
        item = next((i for i in items if i.id not in judged), None)
        if item is None:
            return None
    side = adapted_side(user_id, item.id)
    adapted, base = item.adapted_output or "", item.base_output or ""
    current = judged.get(item.id)
    return BlindPair(
        item=item,
        a_text=adapted if side == "A" else base,
        b_text=base if side == "A" else adapted,
        adapted_side=side,
        verdict=verdict_of(current.choice, side) if current else None,
        comment=current.comment if current else "",
        number=items.index(item) + 1,
        reviewed=len(judged),
        total=len(items),
    )


def get_item(session: Session, workspace_id: int, item_id: int) -> ComparisonItem:
    """A comparison item of the workspace, or NotFound."""
    missing = NotFound(f"Pair {item_id} does not exist in this workspace.")
    return get_owned(session, ComparisonItem, workspace_id, item_id, missing)


def cast_vote(
    session: Session, workspace_id: int, user_id: int, item_id: int, verdict: str, comment: str = ""
) -> Judgement:
    """Record (or replace) the reviewer's verdict on a pair, committed; FieldErrors for a bad answer."""
    item = get_item(session, workspace_id, item_id)
    comment = comment.strip()
    if verdict not in VERDICTS:
        raise FieldErrors({"choice": "Choose A, B, about the same, or both bad."})
    if len(comment) > MAX_COMMENT_CHARS:
        raise FieldErrors({"comment": f"Keep the comment under {MAX_COMMENT_CHARS:,} characters."})
    if item.base_output is None or item.adapted_output is None:
        raise FieldErrors({"choice": "The drafts of this pair are still being written; vote once they show."})
    side = adapted_side(user_id, item.id)
    values = {
        "choice": choice_of(verdict, side),
        "adapted_side": side,
        "comment": comment,
        "created_at": utcnow(),
    }
    for _ in range(2):
        existing = session.scalar(
            select(Judgement).where(Judgement.item_id == item.id, Judgement.user_id == user_id)
        )
        judgement = existing or Judgement(workspace_id=workspace_id, item_id=item.id, user_id=user_id)
        for key, value in values.items():
            setattr(judgement, key, value)
        session.add(judgement)
        try:
            session.commit()
            return judgement
        except IntegrityError:
            # The same reviewer voted twice at once (two tabs): the other vote landed first; replace it.
            session.rollback()
    raise FieldErrors({"choice": "The vote could not be saved; try again."})


def adapter_win_rates(session: Session, workspace_id: int, adapter_ids: list[int]) -> dict[int, WinRate]:
    """The blind-review win rate of each adapter (every adapter asked for is in the answer)."""
    rates = {adapter_id: WinRate() for adapter_id in adapter_ids}
    if not adapter_ids:
        return rates
    stmt = (
        select(Comparison.adapter_id, Judgement.choice, func.count())
        .join(ComparisonItem, ComparisonItem.id == Judgement.item_id)
        .join(Comparison, Comparison.id == ComparisonItem.comparison_id)
        .where(Judgement.workspace_id == workspace_id, Comparison.adapter_id.in_(adapter_ids))
        .group_by(Comparison.adapter_id, Judgement.choice)
    )
    counts: dict[int, dict[str, int]] = {}
    for adapter_id, choice, count in session.execute(stmt).tuples():
        counts.setdefault(adapter_id, {})[choice] = count
    return rates | {adapter_id: win_rate(choices) for adapter_id, choices in counts.items()}


def comparison_win_rate(session: Session, comparison: Comparison) -> WinRate:
    """The win rate of the comparison's adapter."""
    return adapter_win_rates(session, comparison.workspace_id, [comparison.adapter_id])[comparison.adapter_id]


def reviewers(session: Session, comparison: Comparison) -> list[tuple[str, int]]:
    """Who judged the comparison's pairs and how many each, most first ('Former member' once deleted)."""
    stmt = (
        select(User.name, User.email, func.count())
        .select_from(Judgement)
        .join(ComparisonItem, ComparisonItem.id == Judgement.item_id)
        .outerjoin(User, User.id == Judgement.user_id)
        .where(ComparisonItem.comparison_id == comparison.id)
        .group_by(Judgement.user_id, User.name, User.email)
        .order_by(func.count().desc(), User.email)
    )
    return [
        (name or email or "Former member", count) for name, email, count in session.execute(stmt).tuples()
    ]


def _run_dataset(session: Session, comparison_id: int) -> Dataset | None:
    """The dataset the comparison's adapter was trained from, if it still exists."""
    stmt = (
        select(Dataset)
        .join(Run, Run.dataset_id == Dataset.id)
        .join(Adapter, Adapter.run_id == Run.id)
        .join(Comparison, Comparison.adapter_id == Adapter.id)
        .where(Comparison.id == comparison_id)
    )
    return session.scalar(stmt)


def promote_draft(
    session: Session,
    actor: Actor,
    item_id: int,
    output: str,
    instruction: str | None = None,
    input: str | None = None,
) -> tuple[Example, Dataset | None]:
    """Make a (possibly edited) draft a new training example, added to the run's dataset; committed.

    Returns the example and the dataset it joined (None when that dataset was deleted). FieldErrors
    (InvalidExample) name a field that is empty or too long.
    """
    workspace_id = actor.workspace.id
    item = get_item(session, workspace_id, item_id)
    changes = ExampleChanges(
        instruction=item.instruction if instruction is None else instruction,
        input=item.input if input is None else input,
        output=output,
        kind=item.kind,
        tags=[PROMOTED_TAG],
        split="train",
        included=True,
    )
    example = create_example(session, workspace_id, changes, token_counter())
    dataset = _run_dataset(session, item.comparison_id)
    if dataset is not None:
        add_examples(session, workspace_id, dataset, [example.id])
    record(session, actor, "promote_draft", f"example {example.id}", {"item": item.id, "example": example.id})
    session.commit()
    refresh_health(session, workspace_id)
    return example, dataset


def mark_reference_bad(session: Session, actor: Actor, item_id: int) -> Example:
    """Tag the pair's example "bad reference" and exclude it from training; committed.

    Its drafts stay on the comparison page but no longer count in the metrics.
    """
    workspace_id = actor.workspace.id
    item = get_item(session, workspace_id, item_id)
    if item.example_id is None:
        raise NotFound("The example behind this reference was deleted, so there is nothing to mark.")
    example = get_example(session, workspace_id, item.example_id)
    set_tags(example, [*(t.tag for t in example.tags), BAD_REFERENCE_TAG])
    example.updated_at = utcnow()
    session.flush()
    exclude_ids(session, workspace_id, [example.id])
    record(session, actor, "mark_reference_bad", f"example {example.id}", {"item": item.id})
    session.commit()
    refresh_health(session, workspace_id)
    return example


def promoted_message(example: Example, dataset: Dataset | None) -> str:
    """What the user is told after promoting a draft."""
    where = f" and to “{dataset.name}”" if dataset else ""
    return f"Added as training example #{example.id}{where}. It counts from the next run."


def bad_reference_message(example: Example) -> str:
    """What the user is told after marking a reference bad."""
    return (
        f"Example #{example.id} is excluded from training and tagged “{BAD_REFERENCE_TAG}”; its pair no "
        "longer counts in the metrics. Fix it on the Examples page and include it again."
    )
