"""Plain data passed between the parsers, the pipeline and the curation functions."""

from dataclasses import dataclass, field

from app.curation.tokens import default_tokenizer_path
from app.settings import Settings


class IngestError(Exception):
    """A file that cannot be read; the message is shown to the user as is: what is wrong, what to do."""


@dataclass
class ExampleDraft:
    """An example a parser found in a file, before it is stored."""

    instruction: str
    output: str
    input: str = ""
    kind: str = "draft"  # one of app.models.TASK_KINDS
    source_ref: str | None = None  # where in the file: "row 12", "message 3", "section: Findings"
    tags: list[str] = field(default_factory=list)


@dataclass
class ParsedFile:
    """What one file (or one member of an archive) yielded."""

    filename: str  # display name; archive members: "archive.zip/inner/path.eml"
    data: bytes  # the original bytes, stored content-addressed by the pipeline
    format: str  # txt, md, docx, pdf, eml, mbox, csv, json, jsonl
    examples: list[ExampleDraft] = field(default_factory=list)
    error: str | None = None  # set when the file was refused: the reason and what to do
    columns: list[str] | None = None  # set when a table's columns need a mapping from the user
    warnings: list[str] = field(default_factory=list)  # e.g. "3 rows skipped: row 4 has no output"
    # Emails: how many answers lost a signature, sign-off, contact block, mobile tagline or legal footer.
    signatures_removed: int = 0
    # Mail no person wrote, deliberately not used: one key of app.ingest.automated.KINDS per message.
    skipped: list[str] = field(default_factory=list)
    # Reports: how many parts a report was split into to fit the model (0 when it fitted whole).
    report_parts: int = 0


@dataclass(frozen=True)
class Limits:
    """Upload limits, taken from settings so an admin can change them."""

    max_file_bytes: int
    max_mailbox_bytes: int
    max_mailbox_messages: int
    max_archive_entries: int
    max_archive_expanded_bytes: int
    max_archive_ratio: int
    max_pdf_pages: int
    max_csv_rows: int
    max_line_chars: int
    max_example_chars: int
    max_table_columns: int
    # Reports are split into parts that fit the default base model: its context and its tokenizer.json
    # (a path; "" counts with the estimate of about 4 characters a token).
    context_tokens: int = 2048
    tokenizer_path: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> "Limits":
        """The limits configured in `settings`, and the default model's tokenizer."""
        names = [name for name in cls.__dataclass_fields__ if name != "tokenizer_path"]
        values = {name: getattr(settings, name) for name in names}
        return cls(**values, tokenizer_path=str(default_tokenizer_path(settings)))
