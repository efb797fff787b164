"""Pydantic models of the JSON API for examples, health and datasets (requests and responses)."""

from dataclasses import asdict
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.curation.health import FLAG_LABELS, Finding, HealthReport
from app.models import Dataset, DatasetSnapshot, Example
from app.services.bulk import BulkResult
from app.services.datasets import DatasetSummary
from app.services.example_query import FLAG_CHOICES, ExampleFilter
from app.services.examples import to_record

Kind = Literal["draft", "summarise", "classify", "extract"]
Split = Literal["train", "heldout"]
Sort = Literal["newest", "oldest", "longest", "shortest", "flagged"]
BulkAction = Literal[
    "include",
    "exclude",
    "add_tag",
    "remove_tag",
    "set_split",
    "add_to_dataset",
    "remove_from_dataset",
    "delete",
]


class Strict(BaseModel):
    """Request bodies refuse unknown fields, so a typo in a field name is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class ExampleFilterParams(Strict):
    """Filters, sort and page of an examples listing (the same as the examples page's GET parameters)."""

    q: str = Field("", max_length=200, description="Text searched in instruction, input and output.")
    kind: Kind | None = None
    tag: str | None = Field(None, max_length=100)
    document: int | None = Field(None, description="Source document id.")
    flag: str | None = Field(None, description="A flag code, 'any' or 'none'.")
    split: Split | None = None
    included: bool | None = None
    dataset: int | None = Field(None, description="Only members of this dataset.")
    sort: Sort = "newest"
    page: int = Field(1, ge=1)
    page_size: int = Field(50, ge=1, le=500)

    @field_validator("flag")
    @classmethod
    def _known_flag(cls, value: str | None) -> str | None:
        if value is not None and value not in FLAG_CHOICES:
            raise ValueError(f"unknown flag; use one of: {', '.join(FLAG_CHOICES)}")
        return value

    def to_filter(self) -> ExampleFilter:
        """The service-level filter."""
        included = "" if self.included is None else ("yes" if self.included else "no")
        return ExampleFilter(
            q=self.q.strip(),
            kind=self.kind or "",
            tag=(self.tag or "").strip(),
            document=self.document,
            flag=self.flag or "",
            split=self.split or "",
            included=included,
            dataset=self.dataset,
            sort=self.sort,
            page=self.page,
        )


class FlagOut(BaseModel):
    """A quality flag on an example."""

    code: str
    label: str
    detail: str | None = None


class ExampleOut(BaseModel):
    """An example as the API returns it."""

    id: int
    kind: str
    instruction: str
    input: str
    output: str
    included: bool
    split: str
    split_locked: bool
    tags: list[str]
    flags: list[FlagOut]
    content_hash: str
    prompt_tokens: int | None
    output_tokens: int | None
    document_id: int | None
    source_file: str | None
    source_ref: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, example: Example) -> "ExampleOut":
        """The API view of an Example row."""
        # The fields the curation record copies (texts, kind, split, tokens, sorted tags), then the rest.
        record = to_record(example)
        return cls(
            **asdict(record) | {"tags": list(record.tags)},
            split_locked=example.split_locked,
            flags=[
                FlagOut(code=f.code, label=FLAG_LABELS.get(f.code, f.code), detail=f.detail)
                for f in example.flags
            ],
            content_hash=example.content_hash,
            document_id=example.document_id,
            source_file=example.document.filename if example.document else None,
            source_ref=example.source_ref,
            created_at=example.created_at,
            updated_at=example.updated_at,
        )


class ExampleList(BaseModel):
    """One page of examples and the total number matching."""

    items: list[ExampleOut]
    total: int
    page: int
    pages: int
    page_size: int


class ExampleCreate(Strict):
    """A new example typed in by a person."""

    instruction: str
    input: str = ""
    output: str
    kind: Kind = "draft"
    tags: list[str] = Field(default_factory=list)
    split: Split | None = Field(None, description="Choosing a split locks it against automatic splitting.")
    included: bool = True


class ExamplePatch(Strict):
    """Changes to an example; omitted fields stay as they are."""

    instruction: str | None = None
    input: str | None = None
    output: str | None = None
    kind: Kind | None = None
    tags: list[str] | None = None
    split: Split | Literal["auto"] | None = Field(
        None, description="Setting a split locks it against automatic splitting; 'auto' unlocks it."
    )
    included: bool | None = None


class BulkRequest(Strict):
    """A bulk action on the listed ids, or on every example matching `filter`."""

    action: BulkAction
    value: str = Field(
        "", description="Tag, split ('train'/'heldout') or dataset id, depending on the action."
    )
    ids: list[int] | None = None
    filter: ExampleFilterParams | None = None
    new_dataset_name: str = Field("", description="For add_to_dataset: create a dataset with this name.")

    @model_validator(mode="after")
    def _one_target(self) -> "BulkRequest":
        if (self.ids is None) == (self.filter is None):
            raise ValueError("give either ids or filter (exactly one)")
        return self


class BulkOut(BaseModel):
    """What a bulk action did."""

    action: str
    matched: int
    changed: int
    message: str
    dataset_id: int | None = None

    @classmethod
    def of(cls, result: BulkResult) -> "BulkOut":
        """The API view of a bulk result."""
        return cls(**result.__dict__)


class FindingOut(BaseModel):
    """One health finding: what is wrong, why it matters, and the fix that applies."""

    code: str
    severity: str
    title: str
    explanation: str
    example_ids: list[int]
    fix: str | None
    fix_ids: list[int]
    groups: list[list[int]]
    flag: str | None
    examples_url: str | None = Field(None, description="The examples page filtered to the affected examples.")

    @classmethod
    def of(cls, finding: Finding, dataset_id: int | None = None) -> "FindingOut":
        """The API view of a finding."""
        url = None
        if finding.flag:
            url = f"/examples?flag={finding.flag}" + (f"&dataset={dataset_id}" if dataset_id else "")
        return cls(
            code=finding.code,
            severity=finding.severity,
            title=finding.title,
            explanation=finding.explanation,
            example_ids=list(finding.example_ids),
            fix=finding.fix,
            fix_ids=list(finding.fix_ids),
            groups=[list(g) for g in finding.groups],
            flag=finding.flag,
            examples_url=url,
        )


class HealthOut(BaseModel):
    """The health panel: findings, most severe first, and how exact the token counts are."""

    findings: list[FindingOut]
    flagged_examples: int
    context_tokens: int
    tokens_exact: bool

    @classmethod
    def of(
        cls, report: HealthReport, context_tokens: int, tokens_exact: bool, dataset_id: int | None = None
    ) -> "HealthOut":
        """The API view of a health report."""
        return cls(
            findings=[FindingOut.of(f, dataset_id) for f in report.findings],
            flagged_examples=sum(1 for flags in report.flags.values() if flags),
            context_tokens=context_tokens,
            tokens_exact=tokens_exact,
        )


class FixRequest(Strict):
    """Apply the one-click fix of the finding with this code."""

    code: str = Field(min_length=1, max_length=80)


class FixOut(BaseModel):
    """What the fix did, and the health afterwards."""

    message: str
    changed: int
    health: HealthOut


class SnapshotOut(BaseModel):
    """A frozen, hashed dataset snapshot."""

    id: int
    sha256: str
    short_hash: str
    example_count: int
    train_count: int
    heldout_count: int
    created_at: datetime

    @classmethod
    def of(cls, snapshot: DatasetSnapshot) -> "SnapshotOut":
        """The API view of a snapshot row."""
        return cls(
            id=snapshot.id,
            sha256=snapshot.sha256,
            short_hash=snapshot.sha256[:12],
            example_count=snapshot.example_count,
            train_count=snapshot.train_count,
            heldout_count=snapshot.heldout_count,
            created_at=snapshot.created_at,
        )


class SnapshotCreated(SnapshotOut):
    """A snapshot, and whether this request created it (False: the same content was frozen before)."""

    created: bool


class DatasetOut(BaseModel):
    """A dataset with its counts."""

    id: int
    name: str
    description: str
    created_at: datetime
    examples: int
    included: int
    train: int
    heldout: int
    last_snapshot: SnapshotOut | None

    @classmethod
    def of(cls, item: DatasetSummary) -> "DatasetOut":
        """The API view of a dataset summary."""
        d: Dataset = item.dataset
        return cls(
            id=d.id,
            name=d.name,
            description=d.description,
            created_at=d.created_at,
            examples=item.examples,
            included=item.included,
            train=item.train,
            heldout=item.heldout,
            last_snapshot=SnapshotOut.of(item.last_snapshot) if item.last_snapshot else None,
        )


class DatasetDetail(DatasetOut):
    """A dataset with its snapshots and its own health findings."""

    snapshots: list[SnapshotOut]
    health: HealthOut


class DatasetCreate(Strict):
    """A new dataset: its examples are the listed ids, or those matching `filter`, or none."""

    name: str = Field(max_length=200)
    description: str = Field("", max_length=5000)
    example_ids: list[int] | None = None
    filter: ExampleFilterParams | None = None

    @model_validator(mode="after")
    def _one_source(self) -> "DatasetCreate":
        if self.example_ids is not None and self.filter is not None:
            raise ValueError("give example_ids or filter, not both")
        return self


class DatasetPatch(Strict):
    """Rename or describe a dataset."""

    name: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=5000)


class AddExamples(Strict):
    """Examples to add to (or remove from) a dataset."""

    ids: list[int] = Field(min_length=1)


class MembershipOut(BaseModel):
    """How many examples changed membership, and the dataset afterwards."""

    changed: int
    dataset: DatasetOut
