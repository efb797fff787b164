"""Ingest accuracy on the labelled real-world corpus (issue 13): python -m bench.ingest_accuracy.

Every tests/corpus/<folder>/<file>.expected.json labels one real public file, written by reading it.
Each file is parsed the way the ingest worker parses one stored upload (app.ingest.sandbox.
parse_in_sandbox, with the configured limits), compared with its label, and counted per category and
per format. Options: --verbose (full differences), --json PATH (the numbers), --corpus DIR (another
corpus folder, e.g. to score an older checkout; repeat it to score several together, e.g. the committed
corpus and the local one kept out of git: --corpus tests/corpus --corpus /work/corpus-fetched), folder
names to score only those (emails pdf ...).
"""

import argparse
import difflib
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from app.ingest import batch_messages
from app.ingest.fork_server import SandboxLimits
from app.ingest.registry import extension
from app.ingest.sandbox import parse_in_sandbox
from app.ingest.types import Limits, ParsedFile
from app.settings import get_settings

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "corpus"
LABEL_SUFFIX = ".expected.json"
FIELDS = ("instruction", "input", "output")
TARGETS = {"reply_split": 0.95, "signature": 0.95, "non_human": 0.95}
HINT_CHARS = 70


@dataclass
class FileScore:
    """How one corpus file compared with its label."""

    name: str  # folder/file
    categories: list[str]
    format: str
    matched: bool
    hints: list[str] = field(default_factory=list)  # one line per difference
    diffs: list[str] = field(default_factory=list)  # full differences, for --verbose
    examples: int = 0
    over_context: int = 0


@dataclass
class Report:
    """Files matched per category and format, examples past the model's context, and the mismatches."""

    rows: dict[str, tuple[int, int]]  # "category: reply_split" → (matched, total)
    files: list[FileScore]
    context_tokens: int
    over_context: int
    exact_tokens: bool

    def share(self, row: str) -> float:
        """The matched share of a row (1.0 for a row without files)."""
        matched, total = self.rows.get(row, (0, 0))
        return matched / total if total else 1.0


def normalise(text: str) -> str:
    """Runs of whitespace as one space, stripped: how labels and results are compared."""
    return " ".join(str(text).split())


class ContextFit:
    """Counts an example's tokens as training renders it (the default model's chat template)."""

    def __init__(self) -> None:
        """Load the default model's tokenizer when it is cached; else estimate from characters."""
        settings = get_settings()
        self.context = settings.context_tokens
        self._tokenizer: Any = None
        model_dir = settings.models_dir / settings.default_model
        try:
            from worker.training.data import load_tokenizer

            self._tokenizer = load_tokenizer(model_dir)
        except Exception:  # no ML stack or no converted model: the estimate will do
            from app.services.examples import token_counter

            self._counter = token_counter()

    @property
    def exact(self) -> bool:
        """True when counts come from the model's own tokenizer and chat template."""
        return self._tokenizer is not None

    def tokens(self, instruction: str, input: str, output: str) -> int:
        """The example's length in the model's tokens, chat template included."""
        if self._tokenizer is None:
            from app.curation.tokens import prompt_text

            return sum(self._counter.count([prompt_text(instruction, input), output]))
        from worker.training.data import render

        example = argparse.Namespace(instruction=instruction, input=input, output=output)
        prompt, answer = render(self._tokenizer, example)
        return len(self._tokenizer(prompt + answer, add_special_tokens=False)["input_ids"])


def labels(root: Path, folders: list[str] | None = None) -> list[Path]:
    """The label files under `root` (only those in `folders` when given), sorted."""
    found = sorted(root.glob(f"*/*{LABEL_SUFFIX}"))
    return [p for p in found if not folders or p.parent.name in folders]


def parse_like_worker(path: Path, mapping: dict[str, str] | None = None) -> list[ParsedFile]:
    """The file parsed as the ingest worker parses one stored upload: in the sandbox, with the settings.

    `mapping` is a table's column choice, as the user gives it when Lastmile asks for one.
    """
    settings = get_settings()
    return parse_in_sandbox(
        path, path.name, Limits.from_settings(settings), SandboxLimits.from_settings(settings), mapping
    )


Parse = Callable[[Path, dict[str, str] | None], list[ParsedFile]]


def user_message(parsed: ParsedFile) -> str:
    """The file's result line as the upload page shows it."""
    name = batch_messages.short_name(parsed.filename)
    if parsed.error:
        return batch_messages.with_warnings(parsed.error, parsed.warnings)
    make = getattr(batch_messages, "parsed_result", None)
    if make is None:  # an older checkout: its pipeline wrote the count and the warnings
        base = f"{batch_messages.count_phrase(len(parsed.examples), 'example')} from {name}"
        return batch_messages.with_warnings(base, parsed.warnings)
    return make(parsed, len(parsed.examples), name)[1]


def outcome(parsed: ParsedFile) -> str:
    """ "refused", "examples", "skipped" or "empty"."""
    if parsed.error:
        return "refused"
    if parsed.examples:
        return "examples"
    return "skipped" if getattr(parsed, "skipped", None) else "empty"


def _hint(label: str, want: str, got: str) -> str:
    """One line showing where two texts first differ."""
    at = next(
        (i for i, (a, b) in enumerate(zip(want, got, strict=False)) if a != b), min(len(want), len(got))
    )
    start = max(0, at - 20)
    return f"{label}: want …{want[start : start + HINT_CHARS]!r} got …{got[start : start + HINT_CHARS]!r}"


def _diff(label: str, want: str, got: str) -> str:
    """A unified diff of two texts, for --verbose."""
    lines = difflib.unified_diff(want.splitlines(), got.splitlines(), "expected", "parsed", lineterm="")
    return f"{label}:\n" + "\n".join(lines)


def _compare_examples(label: dict[str, Any], examples: list[Any], score: FileScore) -> None:
    """Compare the expected examples, in order, field by field after whitespace normalisation."""
    expected = label.get("examples")
    if expected is None:
        return
    if len(expected) != len(examples):
        score.hints.append(f"want {len(expected)} examples, got {len(examples)}")
    for index, (want, got) in enumerate(zip(expected, examples, strict=False), start=1):
        for name in FIELDS:
            if name not in want:
                continue
            w, g = normalise(want[name]), normalise(getattr(got, name))
            if w != g:
                score.hints.append(_hint(f"example {index} {name}", w, g))
                score.diffs.append(_diff(f"example {index} {name}", str(want[name]), getattr(got, name)))


def _check(checks: dict[str, Any], parsed: ParsedFile, score: FileScore) -> None:
    """The label's checks for files whose exact text is impractical to write down."""
    examples = parsed.examples
    text = normalise(" ".join(f"{e.instruction} {e.input} {e.output}" for e in examples))
    for phrase in checks.get("contains", []):
        if normalise(phrase) not in text:
            score.hints.append(f"missing {phrase!r}")
    for phrase in checks.get("absent", []):
        if normalise(phrase) in text:
            score.hints.append(f"should not contain {phrase!r}")
    if "min_examples" in checks and len(examples) < checks["min_examples"]:
        score.hints.append(f"want at least {checks['min_examples']} examples, got {len(examples)}")
    if "max_examples" in checks and len(examples) > checks["max_examples"]:
        score.hints.append(f"want at most {checks['max_examples']} examples, got {len(examples)}")
    if checks.get("within_context") and score.over_context:
        score.hints.append(f"{score.over_context} examples longer than the model's context")
    for key, got in (
        ("signatures_removed", getattr(parsed, "signatures_removed", 0)),
        ("skipped_count", len(getattr(parsed, "skipped", []))),
    ):
        if key in checks and checks[key] != got:
            score.hints.append(f"want {key} {checks[key]}, got {got}")


def score_file(label_path: Path, fit: ContextFit, parse: Parse = parse_like_worker) -> FileScore:
    """Parse one corpus file like the worker does and compare it with its label."""
    label = json.loads(label_path.read_text(encoding="utf-8"))
    path = label_path.with_name(label_path.name[: -len(LABEL_SUFFIX)])
    parsed_files = parse(path, label.get("mapping"))
    score = FileScore(
        name=f"{path.parent.name}/{path.name}",
        categories=list(label.get("categories", [])),
        format=extension(path.name) or "none",
        matched=False,
    )
    # An archive comes back as its members: their examples count together.
    parsed = parsed_files[0]
    if len(parsed_files) > 1:
        parsed = ParsedFile(path.name, b"", score.format, [e for p in parsed_files for e in p.examples])
    score.examples = len(parsed.examples)
    score.over_context = sum(
        fit.tokens(e.instruction, e.input, e.output) > fit.context for e in parsed.examples
    )
    got = outcome(parsed)
    want = label.get("outcome", "examples")
    if got != want:
        why = normalise(user_message(parsed))[:160]
        score.hints.append(f"want {want}, got {got}: {why}")
    if want in ("skipped", "refused") and label.get("reason"):
        message = user_message(parsed)
        if label["reason"].lower() not in message.lower():
            score.hints.append(f"message lacks {label['reason']!r}: {normalise(message)[:160]}")
    if want == "examples":
        _compare_examples(label, parsed.examples, score)
    _check(label.get("checks", {}), parsed, score)
    score.matched = not score.hints
    return score


def score_corpus(
    root: Path | list[Path] = CORPUS,
    folders: list[str] | None = None,
    parse: Parse = parse_like_worker,
    fit: ContextFit | None = None,
) -> Report:
    """Score every labelled file under `root` or each of several roots (`parse`: how a file is parsed,
    the worker's way by default)."""
    fit = fit or ContextFit()
    roots = [root] if isinstance(root, Path) else root
    files = [score_file(path, fit, parse) for top in roots for path in labels(top, folders)]
    rows: dict[str, tuple[int, int]] = {}
    for score in files:
        for key in [*(f"category: {c}" for c in score.categories), f"format: {score.format}", "all files"]:
            matched, total = rows.get(key, (0, 0))
            rows[key] = (matched + score.matched, total + 1)
    order = sorted(rows, key=lambda k: (k == "all files", not k.startswith("category"), k))
    return Report(
        rows={key: rows[key] for key in order},
        files=files,
        context_tokens=fit.context,
        over_context=sum(s.over_context for s in files),
        exact_tokens=fit.exact,
    )


def table(report: Report) -> str:
    """The report as a Markdown table."""
    lines = ["| row | matched | share |", "| --- | --- | --- |"]
    for key, (matched, total) in report.rows.items():
        lines.append(f"| {key} | {matched}/{total} | {matched / total:.0%} |")
    how = (
        "the model's tokenizer and chat template"
        if report.exact_tokens
        else "an estimate of 4 characters a token"
    )
    examples = sum(s.examples for s in report.files)
    lines.append(
        f"| examples longer than the context ({report.context_tokens:,} tokens, {how}) | "
        f"{report.over_context} of {examples} | |"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the accuracy table and the mismatches; write the numbers with --json."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folders", nargs="*", help="corpus folders to score (default: all)")
    parser.add_argument("--corpus", type=Path, action="append", help="a corpus folder (repeatable)")
    parser.add_argument("--verbose", action="store_true", help="show full differences")
    parser.add_argument("--json", type=Path, help="write the numbers to this file")
    args = parser.parse_args(argv)
    report = score_corpus(args.corpus or [CORPUS], args.folders or None)
    print(table(report))
    misses = [s for s in report.files if not s.matched]
    if misses:
        print(f"\n{len(misses)} files do not match their labels:")
    for score in misses:
        print(
            f"- {score.name}: {score.hints[0]}"
            + (f" (+{len(score.hints) - 1} more)" if len(score.hints) > 1 else "")
        )
        if args.verbose:
            for line in [*score.hints[1:], *score.diffs]:
                print("    " + line.replace("\n", "\n    "))
    if args.json:
        numbers = {
            "rows": {k: {"matched": m, "total": t} for k, (m, t) in report.rows.items()},
            "over_context": report.over_context,
            "context_tokens": report.context_tokens,
            "exact_tokens": report.exact_tokens,
            "files": [asdict(s) for s in report.files],
        }
        args.json.write_text(json.dumps(numbers, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
