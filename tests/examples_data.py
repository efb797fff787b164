"""Test data for the examples, datasets and health tests: examples inserted straight through the session."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from app.curation.tokens import TokenCounter
from app.ingest.types import ExampleDraft
from app.models import Document, ExampleTag, Workspace
from app.services.examples import new_example

ESTIMATE = TokenCounter()
BASE_TIME = datetime(2024, 1, 1, tzinfo=UTC)


def add_examples(session: Session, workspace_id: int, specs: list[dict[str, Any]]) -> list[int]:
    """Insert one example per spec (texts, kind, tags, included, split, document_id); ids in order.

    Each example gets a creation time one minute after the previous one, so "newest" is predictable.
    """
    examples = []
    for position, spec in enumerate(specs):
        draft = ExampleDraft(
            instruction=spec.get("instruction", f"Write reply number {position}"),
            output=spec.get(
                "output", f"Dear client, here is the considered answer number {position} for you."
            ),
            input=spec.get("input", ""),
            kind=spec.get("kind", "draft"),
            tags=spec.get("tags", []),
        )
        example = new_example(workspace_id, draft, spec.get("document_id"), ESTIMATE)
        example.included = spec.get("included", True)
        example.split = spec.get("split", "train")
        example.split_locked = spec.get("split_locked", False)
        example.created_at = BASE_TIME + timedelta(minutes=position)
        examples.append(example)
    session.add_all(examples)
    session.commit()
    return [e.id for e in examples]


def bulk_examples(session: Session, workspace_id: int, count: int, **fields: Any) -> list[int]:
    """Insert `count` distinct plain examples quickly (core bulk insert); returns their ids."""
    from sqlalchemy import select

    from app.curation.normalise import content_hash
    from app.models import Example

    rows = []
    for i in range(count):
        instruction = f"Summarise meeting {i}"
        output = f"Meeting {i} agreed on budget line {i * 7} and a follow-up with team {i % 13} next week."
        rows.append(
            {
                "workspace_id": workspace_id,
                "kind": fields.get("kind", "draft"),
                "instruction": instruction,
                "input": "",
                "output": output,
                "included": True,
                "split": "train",
                "split_locked": False,
                "content_hash": content_hash(instruction, "", output),
                "prompt_tokens": len(instruction) // 4,
                "output_tokens": len(output) // 4,
                "created_at": BASE_TIME + timedelta(seconds=i),
                # Real edit times: the health cache keys on them, and tests must not share a fingerprint.
                "updated_at": datetime.now(UTC),
            }
        )
    session.execute(insert(Example), rows)
    session.commit()
    return list(
        session.scalars(select(Example.id).where(Example.workspace_id == workspace_id).order_by(Example.id))
    )


def add_document(session: Session, workspace_id: int, filename: str) -> int:
    """A parsed document row to hang examples on; returns its id."""
    doc = Document(
        workspace_id=workspace_id, sha256=filename.encode().hex()[:64].ljust(64, "0"), filename=filename,
        size_bytes=10, format="txt", status="parsed",
    )  # fmt: skip
    session.add(doc)
    session.commit()
    return doc.id


def add_workspace(session: Session) -> int:
    """A second workspace (unique slug: the tests' cleanup keeps workspaces) to prove isolation."""
    slug = f"other-{uuid.uuid4().hex[:10]}"
    workspace = Workspace(name=f"Workspace {slug}", slug=slug)
    session.add(workspace)
    session.commit()
    return workspace.id


def tag_rows(session: Session, example_id: int, *tags: str) -> None:
    """Attach tags to an example directly."""
    session.execute(insert(ExampleTag), [{"example_id": example_id, "tag": t} for t in tags])
    session.commit()
