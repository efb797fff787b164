"""Plain data of the curation functions: ExampleRecord (a light copy of an Example row) and health results."""

from dataclasses import dataclass, field

HELDOUT = "heldout"
TRAIN = "train"


@dataclass(frozen=True)
class ExampleRecord:
    """One example as the pure curation functions see it (no database session needed)."""

    id: int
    kind: str
    instruction: str
    input: str
    output: str
    included: bool
    split: str
    prompt_tokens: int | None
    output_tokens: int | None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Flag:
    """A quality flag on one example: a stable code (see FLAG_LABELS) and a detail for people."""

    code: str
    detail: str = ""


@dataclass(frozen=True)
class Finding:
    """One line of the health panel.

    `fix` is the one-click fix code ('exclude_duplicates', 'exclude', 'redact_pii', 'move_to_train',
    'auto_split' or None); `fix_ids` are the example ids that fix acts on (for 'exclude_duplicates': all
    but the first of each group; for 'move_to_train': the train copies to exclude; for 'exclude': the
    listed examples; for 'redact_pii': the examples to redact). `groups` lists duplicate groups.
    """

    code: str
    severity: str  # 'error' | 'warning' | 'info' | 'ok'
    title: str
    explanation: str
    example_ids: list[int] = field(default_factory=list)
    fix: str | None = None
    fix_ids: list[int] = field(default_factory=list)
    groups: list[list[int]] = field(default_factory=list)
    flag: str | None = None  # the flag code to filter the examples list by, when there is one


@dataclass
class HealthReport:
    """Findings for the panel (most severe first) and flags per example id."""

    findings: list[Finding]
    flags: dict[int, list[Flag]]
