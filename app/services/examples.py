"""Creating and editing Example rows: content hash, token counts, tags and per-example flags."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.audit import record
from app.auth.deps import Actor
from app.curation.fitting import PART_SUFFIX, Fit, numbered_parts
from app.curation.normalise import content_hash
from app.curation.records import ExampleRecord
from app.curation.tokens import TokenCounter, default_token_counter, prompt_text
from app.ingest.types import ExampleDraft
from app.models import SPLITS, TASK_KINDS, DatasetExample, Example, ExampleFlag, ExampleTag, utcnow
from app.services.errors import FieldErrors, NotFound
from app.services.lookup import get_owned
from app.settings import get_settings

MAX_TAG_CHARS = 100
# The split value that hands an example back to automatic splitting.
AUTO_SPLIT = "auto"
# An answer budget below this many tokens would cut an example into slivers: its prompt is the problem.
MIN_PART_TOKENS = 128


def token_counter() -> TokenCounter:
    """The token counter of the configured default model (an estimate when its tokenizer is not cached)."""
    return default_token_counter(get_settings())


def default_fit() -> Fit:
    """How examples are fitted to the default model: its tokenizer, its context, the character limit.

    The same as an upload's (app.ingest.reports.report_fit): there is one default base model per install
    (LASTMILE_DEFAULT_MODEL, the catalog's default) and its context is LASTMILE_CONTEXT_TOKENS.
    """
    settings = get_settings()
    return Fit(token_counter(), settings.context_tokens, settings.max_example_chars)


def clean_tags(tags: Iterable[str]) -> list[str]:
    """Trimmed, non-empty, de-duplicated tags in their first-seen order (at most MAX_TAG_CHARS each)."""
    seen: dict[str, None] = {}
    for tag in tags:
        value = " ".join(tag.split())[:MAX_TAG_CHARS]
        if value:
            seen.setdefault(value, None)
    return list(seen)


def parse_tags(text: str) -> list[str]:
    """Tags typed in one input, separated by commas."""
    return clean_tags(text.split(","))


def apply_content(example: Example, instruction: str, input: str, output: str, counter: TokenCounter) -> None:
    """Set the texts of `example` and recompute its content hash and token counts."""
    example.instruction = instruction
    example.input = input
    example.output = output
    refresh_derived([example], counter)


def refresh_derived(examples: Sequence[Example], counter: TokenCounter) -> None:
    """Recompute content_hash and token counts of `examples` (counted in one batch, which is faster)."""
    if not examples:
        return
    prompts = counter.count([prompt_text(e.instruction, e.input) for e in examples])
    outputs = counter.count([e.output for e in examples])
    for example, prompt_tokens, output_tokens in zip(examples, prompts, outputs, strict=True):
        example.content_hash = content_hash(example.instruction, example.input, example.output)
        example.prompt_tokens = prompt_tokens
        example.output_tokens = output_tokens


def set_tags(example: Example, tags: Iterable[str]) -> None:
    """Replace the tags of `example` (keeps the rows of tags it already had)."""
    wanted = clean_tags(tags)
    example.tags = [t for t in example.tags if t.tag in wanted] + [
        ExampleTag(tag=tag) for tag in wanted if tag not in {t.tag for t in example.tags}
    ]


def new_example(
    workspace_id: int, draft: ExampleDraft, document_id: int | None, counter: TokenCounter
) -> Example:
    """An unsaved Example built from a parser's draft, with its content hash, token counts and tags."""
    kind = draft.kind if draft.kind in TASK_KINDS else "draft"
    example = Example(
        workspace_id=workspace_id,
        document_id=document_id,
        source_ref=(draft.source_ref or None) and draft.source_ref[:200],
        kind=kind,
        included=True,
        split="train",
        split_locked=False,
        tags=[ExampleTag(tag=tag) for tag in clean_tags(draft.tags)],
    )
    apply_content(example, draft.instruction, draft.input, draft.output, counter)
    return example


def to_record(example: Example) -> ExampleRecord:
    """The immutable copy of `example` that the pure curation functions work on."""
    return ExampleRecord(
        id=example.id,
        kind=example.kind,
        instruction=example.instruction,
        input=example.input,
        output=example.output,
        included=example.included,
        split=example.split,
        prompt_tokens=example.prompt_tokens,
        output_tokens=example.output_tokens,
        tags=tuple(sorted(t.tag for t in example.tags)),
    )


class ExampleNotFound(NotFound):
    """The example does not exist in this workspace (another workspace's example counts as missing)."""


class InvalidExample(FieldErrors):
    """Example fields that cannot be saved, with one message per field."""


@dataclass
class ExampleChanges:
    """Edits to an example; None leaves a field as it is."""

    instruction: str | None = None
    input: str | None = None
    output: str | None = None
    kind: str | None = None
    tags: list[str] | None = None
    split: str | None = None  # 'train' | 'heldout' lock the split; AUTO_SPLIT unlocks it
    included: bool | None = None


def validate_changes(changes: ExampleChanges, max_chars: int) -> None:
    """Raise InvalidExample naming each field that is empty, too long or not one of the allowed values."""
    errors: dict[str, str] = {}
    labels = {"instruction": "The instruction", "input": "The input", "output": "The output"}
    for name, label in labels.items():
        value = getattr(changes, name)
        if value is None:
            continue
        if name != "input" and not value.strip():
            errors[name] = f"{label} is empty: write what the model should be asked and answer."
        elif len(value) > max_chars:
            errors[name] = (
                f"{label} has {len(value):,} characters; the limit is {max_chars:,}. Shorten it or split it."
            )
    if changes.kind is not None and changes.kind not in TASK_KINDS:
        errors["kind"] = f"Choose one of: {', '.join(TASK_KINDS)}."
    if changes.split is not None and changes.split not in (*SPLITS, AUTO_SPLIT):
        errors["split"] = "Choose train, held-out, or automatic."
    if errors:
        raise InvalidExample(errors)


def get_example(session: Session, workspace_id: int, example_id: int) -> Example:
    """The example `example_id` of the workspace, or ExampleNotFound."""
    missing = ExampleNotFound(
        f"Example {example_id} does not exist in this workspace (it may have been deleted)."
    )
    return get_owned(session, Example, workspace_id, example_id, missing)


def update_example(example: Example, changes: ExampleChanges, counter: TokenCounter) -> None:
    """Apply `changes` (validated) to `example`; a chosen split locks it against automatic re-splitting."""
    validate_changes(changes, get_settings().max_example_chars)
    texts = (
        changes.instruction if changes.instruction is not None else example.instruction,
        changes.input if changes.input is not None else example.input,
        changes.output if changes.output is not None else example.output,
    )
    if texts != (example.instruction, example.input, example.output):
        apply_content(example, *texts, counter)
    if changes.kind is not None:
        example.kind = changes.kind
    if changes.tags is not None:
        set_tags(example, changes.tags)
    if changes.split == AUTO_SPLIT:
        # Handing the split back: the next automatic split may move the example.
        example.split_locked = False
    elif changes.split is not None:
        example.split = changes.split
        example.split_locked = True
    if changes.included is not None:
        example.included = changes.included
    # Tag changes alone do not touch a column, yet the health cache keys on updated_at.
    example.updated_at = utcnow()


def create_example(
    session: Session, workspace_id: int, changes: ExampleChanges, counter: TokenCounter
) -> Example:
    """A new example typed in by a person (flushed, not committed); its split is locked when chosen."""
    values = replace(
        changes,
        instruction=changes.instruction or "",
        input=changes.input or "",
        output=changes.output or "",
    )
    validate_changes(values, get_settings().max_example_chars)
    draft = ExampleDraft(
        instruction=values.instruction or "",
        input=values.input or "",
        output=values.output or "",
        kind=values.kind or "draft",
        source_ref="typed in",
        tags=values.tags or [],
    )
    example = new_example(workspace_id, draft, None, counter)
    if values.split in SPLITS:
        example.split, example.split_locked = values.split, True
    if values.included is not None:
        example.included = values.included
    session.add(example)
    session.flush()
    return example


def count_phrase(count: int) -> str:
    """'1 example', '1,204 examples': how the audit log and messages count examples."""
    return f"{count:,} example{'' if count == 1 else 's'}"


def delete_example(session: Session, example: Example, actor: Actor) -> None:
    """Delete one example (it leaves every dataset), note who did it in the audit log, and commit."""
    record(session, actor, "delete_examples", count_phrase(1), {"count": 1, "id": example.id})
    session.delete(example)
    session.commit()


class CannotSplit(FieldErrors):
    """An example that cannot be split: it fits the model already, or its prompt alone is too long."""


def split_example(session: Session, example: Example, fit: Fit) -> list[Example]:
    """Replace `example` by consecutive parts that each fit the model (flushed, not committed).

    The output is cut at headings, then paragraphs, lines and sentences; each part keeps the
    example's kind, tags, split, inclusion, source and datasets, and its instruction says which part
    it is ("(part 2 of 3)"). Raises CannotSplit when there is nothing to split or only the prompt is long.
    """
    tokens = fit.tokens(example.instruction, example.input, example.output)
    if tokens <= fit.context_tokens and len(example.output) <= fit.max_chars:
        raise CannotSplit(
            {
                "output": f"Example {example.id} already fits the model ({tokens:,} of "
                f"{fit.context_tokens:,} tokens), so there is nothing to split."
            }
        )
    if fit.answer_budget(example.instruction + PART_SUFFIX.format(999, 999), example.input) < MIN_PART_TOKENS:
        prompt = fit.counter.count([prompt_text(example.instruction, example.input)])[0]
        raise CannotSplit(
            {
                "input": f"The instruction and input of example {example.id} alone take {prompt:,} of the "
                f"{fit.context_tokens:,} tokens the model reads, and only the output can be split. "
                "Shorten the input (keep the part the answer needs), or exclude the example."
            }
        )
    drafts = numbered_parts(fit, example.instruction, example.input, example.output, example.source_ref or "")
    tags = [tag.tag for tag in example.tags]
    datasets = list(
        session.scalars(select(DatasetExample.dataset_id).where(DatasetExample.example_id == example.id))
    )
    parts = []
    for draft in drafts:
        part = new_example(
            example.workspace_id,
            replace(draft, kind=example.kind, tags=tags),
            example.document_id,
            fit.counter,
        )
        part.split, part.split_locked, part.included = example.split, example.split_locked, example.included
        parts.append(part)
    session.add_all(parts)
    session.flush()  # the parts need their ids for the dataset rows
    session.add_all(DatasetExample(dataset_id=d, example_id=p.id) for d in datasets for p in parts)
    session.delete(example)
    session.flush()
    return parts


def split_one(session: Session, workspace_id: int, example_id: int, actor: Actor) -> list[Example]:
    """Split one example of the workspace into parts that fit the model (committed); the parts.

    Raises ExampleNotFound, or CannotSplit with the reason for the user.
    """
    parts = split_example(session, get_example(session, workspace_id, example_id), default_fit())
    record(
        session, actor, "split_examples", count_phrase(1), {"count": 1, "id": example_id, "parts": len(parts)}
    )
    session.commit()
    return parts


def split_too_long(session: Session, workspace_id: int, actor: Actor) -> tuple[int, int]:
    """Split every example of the workspace flagged too long for the model (committed).

    Returns (examples split, parts made); an example that cannot be split (its prompt alone is too
    long) stays as it is, flagged.
    """
    ids = session.scalars(
        select(ExampleFlag.example_id)
        .join(Example, Example.id == ExampleFlag.example_id)
        .where(Example.workspace_id == workspace_id, ExampleFlag.code == "too_long")
        .order_by(ExampleFlag.example_id)
    ).all()
    fit = default_fit()
    split = made = 0
    for example_id in ids:
        try:
            parts = split_example(session, get_example(session, workspace_id, example_id), fit)
        except CannotSplit:
            continue
        split, made = split + 1, made + len(parts)
    if split:
        record(session, actor, "split_examples", count_phrase(split), {"count": split, "parts": made})
    session.commit()
    return split, made
