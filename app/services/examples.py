"""Creating and editing Example rows: content hash, token counts, tags and per-example flags."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from sqlalchemy.orm import Session

from app.auth.audit import record
from app.auth.deps import Actor
from app.curation.normalise import content_hash
from app.curation.records import ExampleRecord
from app.curation.tokens import TokenCounter, get_token_counter, prompt_text
from app.ingest.types import ExampleDraft
from app.models import SPLITS, TASK_KINDS, Example, ExampleTag, utcnow
from app.services.errors import FieldErrors, NotFound
from app.services.lookup import get_owned
from app.settings import get_settings

MAX_TAG_CHARS = 100
# The split value that hands an example back to automatic splitting.
AUTO_SPLIT = "auto"


def token_counter() -> TokenCounter:
    """The token counter of the configured default model (an estimate when its tokenizer is not cached)."""
    settings = get_settings()
    path = settings.models_dir / settings.default_model / "tokenizer.json"
    return get_token_counter(path if path.is_file() else None)


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
