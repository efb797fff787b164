"""Looking up one row of a workspace by id: another workspace's row counts as missing."""

from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.services.errors import NotFound

Row = TypeVar("Row")


def get_owned(
    session: Session, model: type[Row], workspace_id: int, row_id: int, missing: NotFound, fresh: bool = False
) -> Row:
    """The `model` row `row_id` if it belongs to the workspace; raises `missing` otherwise.

    `fresh` reloads a row the session already holds (a polled batch must show the worker's progress).
    """
    stmt = select(model).where(model.id == row_id, model.workspace_id == workspace_id)  # type: ignore[attr-defined]
    row = session.scalar(stmt.execution_options(populate_existing=fresh))
    if row is None:
        raise missing
    return row
