"""The numbers at the top of the health panel: included examples, the split, and the longest example."""

from dataclasses import dataclass

from sqlalchemy import case, exists, func, select
from sqlalchemy.orm import Session

from app.curation.records import HELDOUT, TRAIN
from app.models import DatasetExample, Example, ExampleFlag


@dataclass(frozen=True)
class HealthSummary:
    """Counts for the panel header."""

    total: int
    included: int
    flagged: int
    train: int
    heldout: int
    longest_tokens: int
    context_tokens: int
    tokens_exact: bool

    @property
    def fits_context(self) -> bool:
        """True when the longest included example fits the model's context window."""
        return self.longest_tokens <= self.context_tokens


def health_summary(
    session: Session,
    workspace_id: int,
    context_tokens: int,
    tokens_exact: bool,
    dataset_id: int | None = None,
) -> HealthSummary:
    """Count the workspace's (or a dataset's) examples for the panel, using the stored flags."""
    flagged = exists().where(ExampleFlag.example_id == Example.id)
    included = Example.included.is_(True)
    length = func.coalesce(Example.prompt_tokens, 0) + func.coalesce(Example.output_tokens, 0)
    stmt = select(
        func.count(),
        func.sum(case((included, 1), else_=0)),
        func.sum(case((flagged, 1), else_=0)),
        func.sum(case((included & (Example.split == TRAIN), 1), else_=0)),
        func.sum(case((included & (Example.split == HELDOUT), 1), else_=0)),
        func.max(case((included, length), else_=0)),
    ).where(Example.workspace_id == workspace_id)
    if dataset_id is not None:
        stmt = stmt.where(
            exists().where(DatasetExample.example_id == Example.id, DatasetExample.dataset_id == dataset_id)
        )
    row = [int(value or 0) for value in session.execute(stmt).one()]
    return HealthSummary(
        total=row[0],
        included=row[1],
        flagged=row[2],
        train=row[3],
        heldout=row[4],
        longest_tokens=row[5],
        context_tokens=context_tokens,
        tokens_exact=tokens_exact,
    )
