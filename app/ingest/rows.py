"""Table rows to examples: recognising columns, the user's column mapping, task kinds, chat messages."""

import json
import re
from collections.abc import Iterator
from typing import Any

from app.ingest.decoding import display_name
from app.ingest.types import ExampleDraft, IngestError, ParsedFile

FIELDS = ("instruction", "input", "output", "kind", "tags")
# Recognised column names per field, best first (compared lower-case, with _ and - read as spaces).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "output": ("output", "completion", "response", "answer", "reply", "target", "summary", "label", "class",
               "category"),
    "instruction": ("instruction", "instructions", "prompt", "question", "task", "brief", "query"),
    "input": ("input", "context", "text", "source", "document", "source text", "passage", "message", "body",
              "content", "email", "ticket"),
    "kind": ("kind", "task kind", "type", "task type"),
    "tags": ("tags", "tag", "labels", "category", "categories", "keywords"),
}  # fmt: skip
CLASSIFY_COLUMNS = frozenset({"label", "class", "category"})
CHAT_KEYS = ("messages", "conversations", "conversation")
KINDS = {
    "draft": "draft", "drafting": "draft", "write": "draft", "writing": "draft", "generate": "draft",
    "summarise": "summarise", "summarize": "summarise", "summary": "summarise", "summarisation": "summarise",
    "summarization": "summarise", "classify": "classify", "classification": "classify", "label": "classify",
    "extract": "extract", "extraction": "extract",
}  # fmt: skip
DEFAULT_INSTRUCTIONS = {
    "draft": "Write a response to this text.",
    "summarise": "Summarise this text.",
    "classify": "Classify this text.",
    "extract": "Extract the information in this text as JSON.",
}
MAX_LISTED_PROBLEMS = 20
MAX_CLASS_LABELS = 20
MAX_TAG_CHARS = 100


def normalise_name(name: str) -> str:
    """A column name compared case-insensitively, with `_` and `-` read as spaces."""
    return " ".join(re.sub(r"[_\-]+", " ", name).lower().split())


class Problems:
    """Row-level problems: all counted, the first few listed for the user."""

    def __init__(self) -> None:
        """Start with none."""
        self.listed: list[str] = []
        self.count = 0

    def add(self, ref: str, reason: str) -> None:
        """Record a problem with the row `ref` ("row 14")."""
        self.count += 1
        if len(self.listed) < MAX_LISTED_PROBLEMS:
            self.listed.append(f"{ref}: {reason}")

    def warnings(self) -> list[str]:
        """The listed problems, and how many more were not listed."""
        more = self.count - len(self.listed)
        return self.listed + ([f"… and {more:,} more rows with problems."] if more else [])


def auto_mapping(columns: list[str]) -> dict[str, str]:
    """Lastmile's fields mapped to the columns whose names it recognises (output may be missing)."""
    by_name: dict[str, str] = {}
    for column in columns:
        by_name.setdefault(normalise_name(column), column)
    mapping: dict[str, str] = {}
    for field_name in ("output", "instruction", "input", "kind", "tags"):
        for synonym in SYNONYMS[field_name]:
            column = by_name.get(synonym)
            if column is not None and column not in mapping.values():
                mapping[field_name] = column
                break
    return mapping


def checked_mapping(filename: str, mapping: dict[str, str], columns: list[str]) -> dict[str, str]:
    """The user's mapping, keeping only chosen fields; refused when it names columns the file lacks."""
    chosen = {f: c for f, c in mapping.items() if f in FIELDS and isinstance(c, str) and c}
    if "output" not in chosen:
        raise IngestError(
            f"Choose the column of {display_name(filename)} that holds the output (the reference answer "
            "the model should learn to write)."
        )
    for field_name, column in chosen.items():
        # The kind may be chosen for the whole file instead of read from a column.
        if column not in columns and not (field_name == "kind" and column in KINDS):
            shown = ", ".join(columns[:30]) or "(none)"
            raise IngestError(
                f"The column '{column}' chosen for {field_name} is not in {display_name(filename)}; its "
                f"columns are: {shown}. Choose again."
            )
    return chosen


def as_text(value: Any) -> str:
    """A cell as text: objects and lists as JSON, numbers and booleans as written in JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.replace("\r\n", "\n").strip()
    return json.dumps(value, ensure_ascii=False)


def as_tags(value: Any) -> list[str]:
    """Tags from a list or a `,`/`;`/`|` separated cell; trimmed, deduplicated, bounded in length."""
    items = value if isinstance(value, list) else re.split(r"[,;|]", as_text(value))
    tags: list[str] = []
    for item in items:
        tag = " ".join(as_text(item).split())[:MAX_TAG_CHARS]
        if tag and tag.casefold() not in {t.casefold() for t in tags}:
            tags.append(tag)
    return tags


def _is_json_object(text: str) -> bool:
    """Whether `text` is a JSON object (an extraction answer)."""
    if not text.startswith("{"):
        return False
    try:
        return isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        return False


def _message_text(message: Any) -> tuple[str, str]:
    """(role, content) of a chat message in OpenAI (`role`/`content`) or ShareGPT (`from`/`value`) form."""
    if not isinstance(message, dict):
        return "", ""
    role = str(message.get("role") or message.get("from") or "").lower()
    role = {"human": "user", "gpt": "assistant", "bot": "assistant", "model": "assistant"}.get(role, role)
    content = message.get("content", message.get("value"))
    if isinstance(content, list):  # multi-part content: keep the text parts
        content = "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return role, as_text(content)


def chat_example(messages: Any, row: dict[str, Any]) -> ExampleDraft | str:
    """An example from chat messages (system+user → instruction and input, last assistant → output).

    With a system message, it is the instruction and the conversation is the input; without, the
    last user message is the instruction and any earlier turns are the input. A string is a problem.
    """
    if not isinstance(messages, list):
        return "'messages' is not a list of messages"
    parsed = [_message_text(m) for m in messages]
    last = max((i for i, (role, text) in enumerate(parsed) if role == "assistant" and text), default=None)
    if last is None:
        return "no assistant message with text — add the answer or remove the row"
    system = "\n\n".join(text for role, text in parsed[:last] if role == "system" and text)
    turns = [(role, text) for role, text in parsed[:last] if role in ("user", "assistant") and text]
    if not any(role == "user" for role, _ in turns):
        return "no user message before the answer — add it or remove the row"
    transcript = "\n\n".join(f"{role.capitalize()}: {text}" for role, text in turns)
    if system:
        instruction, input_text = system, turns[0][1] if len(turns) == 1 else transcript
    else:
        cut = max(i for i, (role, _) in enumerate(turns) if role == "user")
        instruction = turns[cut][1]
        input_text = "\n\n".join(f"{role.capitalize()}: {text}" for role, text in turns[:cut])
    kind = KINDS.get(as_text(row.get("kind")).lower(), "draft")
    return ExampleDraft(instruction, parsed[last][1], input_text, kind, tags=as_tags(row.get("tags")))


def row_example(row: dict[str, Any], mapping: dict[str, str], file_kind: str) -> ExampleDraft | str:
    """An example from one row through `mapping` (`file_kind` unless the row says otherwise).

    A string instead says what is wrong with the row.
    """
    output_value = row.get(mapping["output"])
    output = as_text(output_value)
    if not output:
        return "empty output — fill it in or remove the row"
    instruction = as_text(row.get(mapping["instruction"])) if "instruction" in mapping else ""
    input_text = as_text(row.get(mapping["input"])) if "input" in mapping else ""
    if not instruction and not input_text:
        return "no instruction or input — fill one in or remove the row"
    kind = file_kind
    if isinstance(output_value, dict) or (kind == "draft" and _is_json_object(output)):
        kind = "extract"
    kind_column = mapping.get("kind")
    if kind_column:
        value = as_text(row.get(kind_column)).lower()
        if value and value not in KINDS:
            return f"unknown kind '{value[:40]}' — use draft, summarise, classify or extract"
        kind = KINDS.get(value, kind)
    tags = as_tags(row.get(mapping["tags"])) if "tags" in mapping else []
    return ExampleDraft(instruction or DEFAULT_INSTRUCTIONS[kind], output, input_text, kind, tags=tags)


def default_kind(mapping: dict[str, str]) -> str:
    """The kind the column names suggest: a label column with a text column is classification."""
    output_name = normalise_name(mapping["output"])
    if output_name in CLASSIFY_COLUMNS and "input" in mapping:
        return "classify"
    return "summarise" if output_name == "summary" else "draft"


def rows_to_file(
    filename: str, data: bytes, fmt: str, columns: list[str], rows: Iterator[tuple[str, dict[str, Any]]],
    mapping: dict[str, str] | None, problems: Problems, notes: list[str],
) -> ParsedFile:  # fmt: skip
    """Map the (ref, row) pairs to examples; without an output column, ask the user for a mapping."""
    chosen = checked_mapping(filename, mapping, columns) if mapping else auto_mapping(columns)
    chat_column = next((c for c in columns if normalise_name(c) in CHAT_KEYS), None)
    if "output" not in chosen and chat_column is None:
        return ParsedFile(filename, data, fmt, columns=columns, warnings=notes)
    kind = default_kind(chosen) if "output" in chosen else "draft"
    if chosen.get("kind") in KINDS and chosen["kind"] not in columns:
        kind = KINDS[chosen.pop("kind")]  # one kind chosen for the whole file
    examples: list[ExampleDraft] = []
    for ref, row in rows:
        if "output" in chosen:
            result = row_example(row, chosen, kind)
        else:
            messages = row.get(chat_column)
            result = chat_example(_maybe_json(messages), row)
        if isinstance(result, str):
            problems.add(ref, result)
            continue
        result.source_ref = ref
        examples.append(result)
    _name_the_labels(examples)
    if not examples:
        reasons = "; ".join(problems.listed[:3]) or "it has no data rows"
        raise IngestError(
            f"{display_name(filename)} has no usable rows ({reasons}). Fix the rows and upload it again."
        )
    return ParsedFile(filename, data, fmt, examples, columns=columns, warnings=notes + problems.warnings())


def _maybe_json(value: Any) -> Any:
    """A chat cell from a CSV holds JSON text; JSON rows hold the list already."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value
    return value


def _name_the_labels(examples: list[ExampleDraft]) -> None:
    """Give classification examples without their own instruction the list of labels to choose from."""
    generic = [
        e for e in examples if e.kind == "classify" and e.instruction == DEFAULT_INSTRUCTIONS["classify"]
    ]
    labels = sorted({e.output for e in generic})
    if 2 <= len(labels) <= MAX_CLASS_LABELS:
        for example in generic:
            example.instruction = f"Classify this text. Answer with one of: {', '.join(labels)}."
