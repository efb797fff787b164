"""Drafts and references as the documents they are, in HTML: markdown for letters and reports (raw HTML
off, so model output can never become markup), plain lines for labels and JSON; words a draft has that
the reference lacks are marked."""

import json
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token
from markupsafe import Markup

from app.evaluation.task_scores import parse_json
from app.evaluation.word_diff import changed_pieces

# Kinds whose outputs are documents (headings, lists, paragraphs); the others are short answers or JSON.
DOCUMENT_KINDS = ("draft", "summarise")
_PIECE = re.compile(r"\S+")
_SPACE_OR_PIECE = re.compile(r"(\s+)")


def _text_rule(self: Any, tokens: list[Token], idx: int, options: Any, env: dict[str, Any]) -> str:
    """Render a text token, wrapping the pieces the diff marked (env["marks"] yields one flag per piece)."""
    marks: Iterator[bool] | None = env.get("marks")
    if marks is None:
        return escapeHtml(tokens[idx].content)
    return _marked(tokens[idx].content, marks)


def _marked(text: str, marks: Iterator[bool]) -> str:
    """`text` escaped, each non-space piece wrapped in <mark> when its flag says it differs."""
    out = []
    for part in _SPACE_OR_PIECE.split(text):
        if not part or part.isspace():
            out.append(part)
        elif next(marks, False):
            out.append(f'<mark class="diff">{escapeHtml(part)}</mark>')
        else:
            out.append(escapeHtml(part))
    return "".join(out)


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    """CommonMark with tables; no raw HTML, links or images; a line break stays a line break (emails)."""
    md = MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False, "typographer": False})
    md.enable("table").disable(["html_inline", "html_block", "link", "image", "autolink"])
    md.add_render_rule("text", _text_rule)
    return md


def _text_pieces(tokens: list[Token]) -> list[str]:
    """The whitespace-separated pieces of every text token, in the order the renderer meets them."""
    return [
        piece
        for token in tokens
        if token.type == "inline"
        for child in token.children or []
        if child.type == "text"
        for piece in _PIECE.findall(child.content)
    ]


def _as_shown(text: str, kind: str) -> str:
    """The text as a short answer is shown: JSON indented, anything else as written."""
    valid, value = parse_json(text) if kind == "extract" else (False, None)
    return json.dumps(value, indent=2, ensure_ascii=False) if valid else text


def render_document(text: str, kind: str, reference: str | None = None) -> Markup:
    """`text` as HTML for its kind; with a `reference`, the words it lacks are marked in `text`."""
    if kind in DOCUMENT_KINDS:
        md = _markdown()
        tokens = md.parse(text)
        env: dict[str, Any] = {}
        if reference is not None:
            flags = changed_pieces(_text_pieces(tokens), _text_pieces(md.parse(reference)))
            env["marks"] = iter(flags)
        return Markup(f'<div class="doc">{md.renderer.render(tokens, md.options, env)}</div>')
    shown = _as_shown(text, kind)
    if reference is None:
        body = escapeHtml(shown)
    else:
        flags = changed_pieces(_PIECE.findall(shown), _PIECE.findall(_as_shown(reference, kind)))
        body = _marked(shown, iter(flags))
    return Markup(f'<div class="doc doc-plain">{body}</div>')
