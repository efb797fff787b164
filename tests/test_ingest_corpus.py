"""The labelled real-world corpus (tests/corpus), scored like bench.ingest_accuracy, held to its targets."""

import json

import pytest

from bench.ingest_accuracy import CORPUS, LABEL_SUFFIX, TARGETS, Report, labels, score_corpus


@pytest.fixture(scope="module")
def report() -> Report:
    """Every labelled file parsed the way the ingest worker parses an upload, compared with its label."""
    return score_corpus()


def _misses(report: Report, category: str) -> list[str]:
    """The files of a category that do not match their labels, with the first difference."""
    return [f"{s.name}: {s.hints[0]}" for s in report.files if category in s.categories and not s.matched]


@pytest.mark.parametrize("category", sorted(TARGETS))
def test_each_category_meets_its_target(report: Report, category: str) -> None:
    """Reply splitting, signature removal and non-human mail reach their targets on real files."""
    matched, total = report.rows[f"category: {category}"]
    assert total >= 10, f"the corpus holds only {total} {category} files"
    assert matched / total >= TARGETS[category], "\n".join(_misses(report, category))


def test_no_example_is_longer_than_the_models_context(report: Report) -> None:
    """No file yields an example longer than the default model's context."""
    over = [f"{s.name}: {s.over_context}" for s in report.files if s.over_context]
    assert report.over_context == 0, over


def test_every_labelled_file_is_there_with_its_source_and_licence() -> None:
    """Each label sits beside its file, names the registry package it came from (the only source this
    folder may hold: see SOURCES.md) and its licence, and is listed in its folder's SOURCES.md."""
    found = labels(CORPUS)
    assert len(found) >= 60
    for path in found:
        label = json.loads(path.read_text(encoding="utf-8"))
        name = path.name[: -len(LABEL_SUFFIX)]
        assert path.with_name(name).is_file(), path
        assert label["source"].startswith(("pypi:", "npm:")) and label["licence"], path
        assert label["outcome"] in ("examples", "skipped", "refused"), path
        assert f"| {name} |" in path.parent.joinpath("SOURCES.md").read_text(encoding="utf-8"), path


def test_every_format_reads_all_its_files_as_labelled(report: Report) -> None:
    """Each format row (eml, msg, pdf, docx, csv, md) matches every one of its files: replies split, mail no
    person wrote skipped, encrypted PDFs opened or refused with advice, ligatures and hyphenation undone,
    tracked changes accepted, Strict OOXML read, long reports split into parts."""
    formats = [key for key in report.rows if key.startswith("format: ")]
    assert len(formats) >= 6, formats
    misses = [f"{s.name}: {s.hints[0]}" for s in report.files if not s.matched]
    assert not misses, "\n".join(misses)
