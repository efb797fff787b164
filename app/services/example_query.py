"""Finding examples: filters, search, sort and pagination shared by the examples page, datasets and API."""

from dataclasses import dataclass, fields, replace
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from app.curation.health import FLAG_LABELS
from app.models import SPLITS, TASK_KINDS, DatasetExample, Document, Example, ExampleFlag, ExampleTag

PAGE_SIZE = 50
SORTS: dict[str, str] = {
    "newest": "Newest first",
    "oldest": "Oldest first",
    "longest": "Longest first",
    "shortest": "Shortest first",
    "flagged": "Flagged first",
}
# "any" finds examples with at least one flag, "none" those without; the other values are flag codes.
FLAG_CHOICES: dict[str, str] = {"any": "Any flag", "none": "No flags", **FLAG_LABELS}
INCLUDED_CHOICES: dict[str, str] = {"yes": "Included", "no": "Excluded"}
SEARCH_MAX_CHARS = 200


@dataclass(frozen=True)
class ExampleFilter:
    """Which examples to show and in what order; every field is a GET parameter of the examples page."""

    q: str = ""
    kind: str = ""
    tag: str = ""
    document: int | None = None
    flag: str = ""
    split: str = ""
    included: str = ""  # '' | 'yes' | 'no'
    dataset: int | None = None
    sort: str = "newest"
    page: int = 1

    @classmethod
    def from_params(cls, params: Any) -> "ExampleFilter":
        """A filter from query or form parameters; unknown or malformed values fall back to 'all'."""

        def text(name: str) -> str:
            value = params.get(name)
            return value.strip() if isinstance(value, str) else ""

        def number(name: str) -> int | None:
            value = text(name)
            return int(value) if value.isdigit() and len(value) < 12 else None

        return cls(
            q=text("q")[:SEARCH_MAX_CHARS],
            kind=text("kind") if text("kind") in TASK_KINDS else "",
            tag=text("tag")[:100],
            document=number("document"),
            flag=text("flag") if text("flag") in FLAG_CHOICES else "",
            split=text("split") if text("split") in SPLITS else "",
            included=text("included") if text("included") in INCLUDED_CHOICES else "",
            dataset=number("dataset"),
            sort=text("sort") if text("sort") in SORTS else "newest",
            page=max(1, number("page") or 1),
        )

    def params(self, **changes: Any) -> dict[str, str]:
        """The non-default fields as GET parameters (after `changes`), for links and hidden fields."""
        current = replace(self, **changes)
        defaults = ExampleFilter()
        return {
            f.name: str(getattr(current, f.name))
            for f in fields(self)
            if getattr(current, f.name) != getattr(defaults, f.name) and getattr(current, f.name) is not None
        }

    def query_string(self, **changes: Any) -> str:
        """The URL query string of this filter (with `changes`), without the leading '?'."""
        return urlencode(self.params(**changes))

    @property
    def narrowed(self) -> bool:
        """True when any filter or search is active (so an empty result is 'no match', not 'no examples')."""
        return bool(self.params(sort="newest", page=1, dataset=None))


@dataclass
class ExamplePage:
    """One page of matching examples and the numbers the page shows around it."""

    items: list[Example]
    total: int
    page: int
    pages: int
    first: int  # 1-based position of the first item shown, 0 when there is none
    last: int


def conditions(workspace_id: int, flt: ExampleFilter) -> list[ColumnElement[bool]]:
    """SQL conditions selecting the workspace's examples that match `flt` (sort and page aside)."""
    where: list[ColumnElement[bool]] = [Example.workspace_id == workspace_id]
    if flt.q:
        # icontains escapes % and _ and is case-insensitive on both SQLite (ASCII) and PostgreSQL (ILIKE).
        where.append(
            or_(
                Example.instruction.icontains(flt.q, autoescape=True),
                Example.input.icontains(flt.q, autoescape=True),
                Example.output.icontains(flt.q, autoescape=True),
            )
        )
    if flt.kind:
        where.append(Example.kind == flt.kind)
    if flt.tag:
        where.append(exists().where(ExampleTag.example_id == Example.id, ExampleTag.tag == flt.tag))
    if flt.document is not None:
        where.append(Example.document_id == flt.document)
    if flt.flag == "any":
        where.append(exists().where(ExampleFlag.example_id == Example.id))
    elif flt.flag == "none":
        where.append(~exists().where(ExampleFlag.example_id == Example.id))
    elif flt.flag:
        where.append(exists().where(ExampleFlag.example_id == Example.id, ExampleFlag.code == flt.flag))
    if flt.split:
        where.append(Example.split == flt.split)
    if flt.included:
        where.append(Example.included.is_(flt.included == "yes"))
    if flt.dataset is not None:
        where.append(
            exists().where(DatasetExample.example_id == Example.id, DatasetExample.dataset_id == flt.dataset)
        )
    return where


def matching_ids(workspace_id: int, flt: ExampleFilter) -> Select[tuple[int]]:
    """A subquery of the ids of the matching examples (for bulk actions on "all N matching")."""
    return select(Example.id).where(and_(*conditions(workspace_id, flt)))


def _order(sort: str) -> list[Any]:
    """ORDER BY clauses for a sort key; the id breaks ties so pages never overlap."""
    length = func.coalesce(Example.prompt_tokens, 0) + func.coalesce(Example.output_tokens, 0)
    if sort == "oldest":
        return [Example.created_at.asc(), Example.id.asc()]
    if sort == "longest":
        return [length.desc(), Example.id.desc()]
    if sort == "shortest":
        return [length.asc(), Example.id.asc()]
    if sort == "flagged":
        flag_count = (
            select(func.count())
            .where(ExampleFlag.example_id == Example.id)
            .correlate(Example)
            .scalar_subquery()
        )
        return [flag_count.desc(), Example.id.desc()]
    return [Example.created_at.desc(), Example.id.desc()]


def count_matching(session: Session, workspace_id: int, flt: ExampleFilter) -> int:
    """How many examples match `flt`."""
    stmt = select(func.count(Example.id)).where(and_(*conditions(workspace_id, flt)))
    return session.scalar(stmt) or 0


def _page_ids(
    session: Session, workspace_id: int, flt: ExampleFilter, page: int, page_size: int
) -> tuple[list[int], int | None]:
    """The ids on one page and the total matching (None when the page is past the end).

    Only ids are sorted, and the total comes from a window count in the same query: the matching rows
    are scanned once, and the sorter never carries the (long) texts of the examples.
    """
    stmt = (
        select(Example.id, func.count().over())
        .where(and_(*conditions(workspace_id, flt)))
        .order_by(*_order(flt.sort))
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    rows = session.execute(stmt).all()
    return [row[0] for row in rows], (rows[0][1] if rows else None)


def find_examples(
    session: Session, workspace_id: int, flt: ExampleFilter, page_size: int = PAGE_SIZE
) -> ExamplePage:
    """The page `flt.page` of matching examples (clamped to the last page), with totals."""
    page = flt.page
    ids, total = _page_ids(session, workspace_id, flt, page, page_size)
    if total is None:
        # Past the end (or nothing matches): count, then show the last page there is.
        total = count_matching(session, workspace_id, flt)
        page = max(1, -(-total // page_size))
        ids = _page_ids(session, workspace_id, flt, page, page_size)[0] if total else []
    pages = max(1, -(-total // page_size))
    by_id = {
        example.id: example
        for example in session.scalars(
            select(Example).where(Example.id.in_(ids)).options(selectinload(Example.document))
        )
    }
    items = [by_id[i] for i in ids if i in by_id]
    first = (page - 1) * page_size + 1 if items else 0
    last = first + len(items) - 1 if items else 0
    return ExamplePage(items=items, total=total, page=page, pages=pages, first=first, last=last)


def tag_counts(session: Session, workspace_id: int) -> list[tuple[str, int]]:
    """Every tag used in the workspace with how many examples carry it, by name."""
    stmt = (
        select(ExampleTag.tag, func.count())
        .join(Example, Example.id == ExampleTag.example_id)
        .where(Example.workspace_id == workspace_id)
        .group_by(ExampleTag.tag)
        .order_by(ExampleTag.tag)
    )
    return [(tag, count) for tag, count in session.execute(stmt)]


def source_documents(session: Session, workspace_id: int) -> list[tuple[int, str, int]]:
    """(id, file name, example count) of the workspace's documents that have examples, by name."""
    stmt = (
        select(Document.id, Document.filename, func.count(Example.id))
        .join(Example, Example.document_id == Document.id)
        .where(Document.workspace_id == workspace_id, Example.workspace_id == workspace_id)
        .group_by(Document.id, Document.filename)
        .order_by(Document.filename, Document.id)
    )
    return [(doc_id, name, count) for doc_id, name, count in session.execute(stmt)]
