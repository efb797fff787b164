"""Reply splitting and signature removal: Lastmile's own against kept libraries, on the email corpus.

python -m bench.email_reply_libraries

Each arm replaces only the two steps a library can do — split a body into the reply and the quoted
message, and take the signature off a text — and leaves everything else as Lastmile does it (decoding,
non-human mail, the example's shape). The libraries name no sender: the quoted message's heading is
read with Lastmile's attribution reader in every arm, so only splitting and signatures differ.
Files are parsed in this process with app.ingest.registry.parse_file (the function the sandbox runs),
so that an arm's replacement is the one used.
"""

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from app.ingest import email as email_parser
from app.ingest.registry import parse_file
from app.ingest.replies import Quoted, attribution, header_block, sender_name
from app.ingest.signatures import Cleaned
from app.ingest.types import Limits, ParsedFile
from app.settings import get_settings
from bench.ingest_accuracy import CORPUS, ContextFit, Report, labels, score_corpus, table

Splitter = Callable[[str], Quoted | None]
Stripper = Callable[..., Cleaned]
ROWS = ("category: reply_split", "category: signature", "all files")


def _unquote(text: str) -> list[str]:
    """Lines with one level of `>` quoting removed."""
    lines = []
    for line in text.split("\n"):
        stripped = line.lstrip()
        lines.append(stripped[1:].removeprefix(" ") if stripped.startswith(">") else line)
    return lines


def _heading(header: str) -> tuple[str, str]:
    """(sender, subject) of a quoted message's heading, read by Lastmile's attribution and header readers."""
    lines = [line for line in _unquote(header) if line.strip()]
    if not lines:
        return "", ""
    found = attribution([" ".join(lines)], 0)
    if found:
        return found[0], ""
    headers, _end = header_block(lines, 0)
    return sender_name(headers.get("from", "")), headers.get("subject", "")


def mail_parser_reply() -> tuple[Splitter, Stripper]:
    """mail-parser-reply: replies split by its multi-language headers, signatures by its patterns."""
    from mailparser_reply import EmailReplyParser
    from mailparser_reply.constants import MAIL_LANGUAGES

    parser = EmailReplyParser(languages=list(MAIL_LANGUAGES))

    def split(body: str) -> Quoted | None:
        replies = parser.read(body).replies
        if len(replies) < 2:
            return None
        sender, subject = _heading(replies[1].headers)
        return Quoted(replies[0].body, "\n".join(_unquote(replies[1].body)), sender, subject)

    def strip(text: str, sender: str = "") -> Cleaned:
        cleaned = parser.read(text).replies[0].body if text.strip() else ""
        return Cleaned(cleaned, "".join(cleaned.split()) != "".join(text.split()))

    return split, strip


def email_reply_parser() -> tuple[Splitter, Stripper]:
    """email-reply-parser (the Python port of GitHub's): quoted and signature fragments, English only."""
    from email_reply_parser import EmailReplyParser

    def split(body: str) -> Quoted | None:
        fragments = EmailReplyParser.read(body).fragments
        quoted = [f.content for f in fragments if f.quoted]
        if not quoted:
            return None
        own = "\n".join(f.content for f in fragments if not f.quoted and not f.signature)
        lines = _unquote("\n".join(quoted))
        found = attribution(lines, 0) if lines else None
        sender = found[0] if found else ""
        return Quoted(own, "\n".join(lines[found[1] if found else 0 :]), sender, "")

    def strip(text: str, sender: str = "") -> Cleaned:
        cleaned = EmailReplyParser.parse_reply(text)
        return Cleaned(cleaned, "".join(cleaned.split()) != "".join(text.split()))

    return split, strip


@contextmanager
def arm(split: Splitter, strip: Stripper) -> Iterator[None]:
    """Lastmile's email reader with the reply splitter and signature stripper replaced."""
    saved = email_parser.split_quoted, email_parser.strip_signature
    email_parser.split_quoted, email_parser.strip_signature = split, strip
    try:
        yield
    finally:
        email_parser.split_quoted, email_parser.strip_signature = saved


def in_process(path: Path, mapping: dict[str, str] | None = None) -> list[ParsedFile]:
    """parse_file in this process, with the configured limits."""
    return parse_file(path.name, path.read_bytes(), Limits.from_settings(get_settings()), mapping)


def _heldout(label: Path) -> bool:
    """Whether a label marks its file as held out."""
    return bool(json.loads(label.read_text(encoding="utf-8")).get("heldout"))


def main() -> int:
    """Score each arm on the email corpus and print the rows that splitting and signatures decide."""
    fit = ContextFit()
    arms: dict[str, Callable[[], tuple[Splitter, Stripper]] | None] = {
        "Lastmile (app.ingest.replies + signatures)": None,
        "mail-parser-reply 1.36": mail_parser_reply,
        "email-reply-parser 0.5.12": email_reply_parser,
    }
    print(f"{len(labels(CORPUS, ['emails']))} labelled emails\n")
    print("| arm | " + " | ".join(ROWS) + " |")
    print("| --- |" + " --- |" * len(ROWS))
    reports: dict[str, Report] = {}
    for name, make in arms.items():
        if make is None:
            reports[name] = score_corpus(CORPUS, ["emails"], parse=in_process, fit=fit)
        else:
            with arm(*make()):
                reports[name] = score_corpus(CORPUS, ["emails"], parse=in_process, fit=fit)
        cells = [f"{m}/{t} ({m / t:.0%})" for m, t in (reports[name].rows[row] for row in ROWS)]
        print(f"| {name} | " + " | ".join(cells) + " |")
    # Files labelled before Lastmile's reader was run on them (issue 13's second batch).
    held = {f"emails/{p.name[: -len('.expected.json')]}" for p in labels(CORPUS, ["emails"]) if _heldout(p)}
    if held:  # the held-out batch is in the local corpus now, kept out of git
        print(f"\nOnly the {len(held)} held-out files (labelled before any arm ran on them):\n")
        print("| arm | matched |\n| --- | --- |")
        for name, report in reports.items():
            matched = sum(s.matched for s in report.files if s.name in held)
            print(f"| {name} | {matched}/{len(held)} ({matched / len(held):.0%}) |")
    if "-v" in sys.argv:
        for name, report in reports.items():
            print(f"\n## {name}\n{table(report)}")
            for score in report.files:
                if not score.matched:
                    print(f"- {score.name}: {score.hints[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
