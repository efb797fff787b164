"""JSON API for examples and workspace health (OpenAPI tags "examples" and "health")."""

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.db import get_session
from app.routes.roles import Admin, Editor, Reader
from app.schemas import (
    BulkOut,
    BulkRequest,
    ExampleCreate,
    ExampleFilterParams,
    ExampleList,
    ExampleOut,
    ExamplePatch,
    FixOut,
    FixRequest,
    HealthOut,
)
from app.services import examples as examples_service
from app.services.bulk import bulk_apply
from app.services.example_query import find_examples
from app.services.examples import ExampleChanges
from app.services.health import (
    refresh_example_flags,
    refresh_health,
    refresh_in_background,
    workspace_report,
)
from app.services.health_fixes import apply_fix
from app.settings import get_settings

router = APIRouter(prefix="/api")


class SplitOut(BaseModel):
    """What splitting did: a sentence for people, and the examples that replaced the long one(s)."""

    message: str
    examples: list[ExampleOut]


class SplitLongOut(BaseModel):
    """What splitting every over-long example did, and the health afterwards."""

    message: str
    split: int
    parts: int
    health: HealthOut


def split_message(split: int, parts: int) -> str:
    """ "Split 3 examples into 11 parts that fit the model." (or why nothing was split)."""
    if not split:
        return (
            "No example was split: none is too long for the model, or only their instructions and inputs "
            "are (shorten those, or exclude the examples)."
        )
    what = examples_service.count_phrase(split)
    return f"Split {what} into {parts:,} parts that fit the model."


def recheck_example(
    session: Session, workspace_id: int, example_id: int, background: BackgroundTasks
) -> None:
    """Flag an edited example at once; the workspace-wide check (near copies) runs after the response."""
    refresh_example_flags(session, workspace_id, example_id)
    background.add_task(refresh_in_background, workspace_id)


def health_out(session: Session, workspace_id: int) -> HealthOut:
    """The workspace's current health as API data."""
    report = workspace_report(session, workspace_id)
    return HealthOut.of(report, get_settings().context_tokens, examples_service.token_counter().exact)


@router.get("/examples", tags=["examples"])
def list_examples(
    params: Annotated[ExampleFilterParams, Query()],
    actor: Reader,
    session: Session = Depends(get_session),
) -> ExampleList:
    """Examples matching the filters, sorted and paginated like the examples page."""
    page = find_examples(session, actor.workspace.id, params.to_filter(), page_size=params.page_size)
    return ExampleList(
        items=[ExampleOut.of(e) for e in page.items],
        total=page.total,
        page=page.page,
        pages=page.pages,
        page_size=params.page_size,
    )


@router.post("/examples", tags=["examples"], status_code=201)
def create_example(
    body: ExampleCreate,
    actor: Editor,
    session: Session = Depends(get_session),
) -> ExampleOut:
    """Create one example by hand; its flags are computed before it is returned."""
    workspace = actor.workspace
    changes = ExampleChanges(**body.model_dump())
    counter = examples_service.token_counter()
    example = examples_service.create_example(session, workspace.id, changes, counter)
    session.commit()
    refresh_health(session, workspace.id)
    return ExampleOut.of(example)


@router.get("/examples/{example_id}", tags=["examples"])
def get_example(
    example_id: int,
    actor: Reader,
    session: Session = Depends(get_session),
) -> ExampleOut:
    """One example with its tags and flags."""
    return ExampleOut.of(examples_service.get_example(session, actor.workspace.id, example_id))


@router.patch("/examples/{example_id}", tags=["examples"])
def patch_example(
    example_id: int,
    body: ExamplePatch,
    background: BackgroundTasks,
    actor: Editor,
    session: Session = Depends(get_session),
) -> ExampleOut:
    """Change an example; hash, token counts and flags are recomputed. A split set here is locked."""
    workspace = actor.workspace
    example = examples_service.get_example(session, workspace.id, example_id)
    examples_service.update_example(
        example, ExampleChanges(**body.model_dump(exclude_unset=True)), examples_service.token_counter()
    )
    session.commit()
    recheck_example(session, workspace.id, example.id, background)
    return ExampleOut.of(example)


@router.delete("/examples/{example_id}", tags=["examples"], status_code=204)
def delete_example(
    example_id: int,
    actor: Admin,
    session: Session = Depends(get_session),
) -> Response:
    """Delete an example (it also leaves every dataset); admins only, noted in the audit log."""
    example = examples_service.get_example(session, actor.workspace.id, example_id)
    examples_service.delete_example(session, example, actor)
    refresh_health(session, actor.workspace.id)
    return Response(status_code=204)


@router.post("/examples/{example_id}/split", tags=["examples"])
def split_example(
    example_id: int,
    actor: Editor,
    session: Session = Depends(get_session),
) -> SplitOut:
    """Replace an example too long for the model by consecutive parts that fit it (same kind, tags, split,
    source and datasets), in one transaction; 422 with the reason when it cannot be split."""
    workspace = actor.workspace
    parts = examples_service.split_one(session, workspace.id, example_id, actor)
    refresh_health(session, workspace.id)
    return SplitOut(message=split_message(1, len(parts)), examples=[ExampleOut.of(p) for p in parts])


@router.post("/examples/bulk", tags=["examples"])
def bulk(
    body: BulkRequest,
    actor: Editor,
    session: Session = Depends(get_session),
) -> BulkOut:
    """One action on the listed ids or on every example matching the filter."""
    result = bulk_apply(
        session,
        actor.workspace.id,
        action=body.action,
        value=body.value,
        ids=body.ids,
        flt=body.filter.to_filter() if body.filter else None,
        new_dataset_name=body.new_dataset_name,
        actor=actor,
    )
    return BulkOut.of(result)


@router.get("/health", tags=["health"])
def get_health(
    actor: Reader,
    session: Session = Depends(get_session),
) -> HealthOut:
    """The workspace's health findings, most severe first."""
    return health_out(session, actor.workspace.id)


@router.post("/health/split-long", tags=["health"])
def post_split_long(
    actor: Editor,
    session: Session = Depends(get_session),
) -> SplitLongOut:
    """Split every example flagged too long for the model into parts that fit, and return the health."""
    workspace = actor.workspace
    split, parts = examples_service.split_too_long(session, workspace.id, actor)
    refresh_health(session, workspace.id)
    return SplitLongOut(
        message=split_message(split, parts),
        split=split,
        parts=parts,
        health=health_out(session, workspace.id),
    )


@router.post("/health/fix", tags=["health"])
def post_health_fix(
    body: FixRequest,
    actor: Editor,
    session: Session = Depends(get_session),
) -> FixOut:
    """Apply the one-click fix of a finding (by its code) and return the health afterwards."""
    workspace = actor.workspace
    result = apply_fix(session, workspace.id, body.code)
    return FixOut(message=result.message, changed=result.changed, health=health_out(session, workspace.id))
