"""Tests for token counting: a real (tiny) tokenizer from tokenizer.json, and the estimate without one."""

import os
from pathlib import Path

from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from app.curation.tokens import get_token_counter, prompt_text

SENTENCES = [
    "Write the monthly client report",
    "Revenue rose by ten percent in the third quarter",
    "Thank you for your order",
]


def build_tokenizer(path: Path, truncate_at: int | None = None) -> Path:
    """Train a word-level tokenizer on a few sentences and save it as tokenizer.json under `path`."""
    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(SENTENCES, trainers.WordLevelTrainer(special_tokens=["[UNK]"]))
    if truncate_at:
        tokenizer.enable_truncation(max_length=truncate_at)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(path / "tokenizer.json"))
    return path / "tokenizer.json"


def test_prompt_text_joins_instruction_and_input() -> None:
    """Instruction, blank line, input; no trailing blank line without input."""
    assert prompt_text("Summarise", "The text") == "Summarise\n\nThe text"
    assert prompt_text("Summarise", "") == "Summarise"


def test_exact_counts_from_tokenizer_file(tmp_path: Path) -> None:
    """Counts come from the real tokenizer (one token per word here, unknown words too)."""
    counter = get_token_counter(build_tokenizer(tmp_path / "model"))
    assert counter.exact
    assert counter.count(["Thank you for your order", "Revenue rose, unexpectedly", ""]) == [5, 4, 0]
    assert counter.count([]) == []


def test_saved_truncation_does_not_cap_counts(tmp_path: Path) -> None:
    """A tokenizer saved with truncation still counts every token, so long examples are seen as long."""
    counter = get_token_counter(build_tokenizer(tmp_path / "capped", truncate_at=3))
    assert counter.count(["Revenue rose by ten percent in the third quarter"]) == [9]


def test_counter_is_cached_per_path(tmp_path: Path) -> None:
    """The same file gives the same loaded counter; another file gives another one."""
    first = build_tokenizer(tmp_path / "a")
    second = build_tokenizer(tmp_path / "b")
    assert get_token_counter(first) is get_token_counter(first)
    assert get_token_counter(first) is not get_token_counter(second)


def test_estimate_without_tokenizer(tmp_path: Path) -> None:
    """No file (or no path): about one token per four characters, marked as not exact."""
    for counter in (get_token_counter(tmp_path / "missing" / "tokenizer.json"), get_token_counter(None)):
        assert not counter.exact
        assert counter.count(["a" * 8, "a" * 9, ""]) == [2, 3, 0]


def test_estimate_switches_to_exact_once_file_appears(tmp_path: Path) -> None:
    """The estimate is not cached for a path, so importing the model later gives exact counts."""
    path = tmp_path / "later" / "tokenizer.json"
    assert not get_token_counter(path).exact
    build_tokenizer(path.parent)
    assert get_token_counter(path).exact


def test_replaced_tokenizer_file_is_reloaded(tmp_path: Path) -> None:
    """A tokenizer.json written again (a re-imported model) is loaded afresh, not served from the cache."""
    path = build_tokenizer(tmp_path / "model")
    before = get_token_counter(path)
    tokenizer = Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer.save(str(path))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    after = get_token_counter(path)
    assert after is not before
    assert after.count(["Revenue rose, unexpectedly"]) == [3]


def test_template_tokens_are_measured_from_the_models_chat_template() -> None:
    """The chat template's share is measured with the model's own tokenizer, and an example's rendered
    count is what training tokenises (transformers' chat template), never less."""
    from types import SimpleNamespace

    from tests.tiny_model import tiny_model_dir
    from worker.training.data import load_tokenizer, render

    folder = tiny_model_dir()
    counter = get_token_counter(folder / "tokenizer.json")
    tokenizer = load_tokenizer(folder)
    empty = [{"role": "user", "content": ""}, {"role": "assistant", "content": ""}]
    rendered_empty = tokenizer.apply_chat_template(empty, tokenize=False)
    assert counter.template_tokens == len(tokenizer(rendered_empty, add_special_tokens=False)["input_ids"])
    assert counter.template_tokens != 32  # the tiny model's system prompt differs from SmolLM2's
    for instruction, input, output in [
        ("Write the report: Q3", "", "Dear client, the container arrived late."),
        ("Reply to this email", "From: Ann\n\nWhere is my order?", "It ships on Monday.\n\nKind regards"),
    ]:
        prompt, answer = render(
            tokenizer, SimpleNamespace(instruction=instruction, input=input, output=output)
        )
        trained = len(tokenizer(prompt + answer, add_special_tokens=False)["input_ids"])
        assert 0 <= counter.rendered([(instruction, input, output)])[0] - trained <= 2


def test_a_model_without_a_chat_template_counts_smollm2s_share(tmp_path: Path) -> None:
    """No template beside the tokenizer (or one that cannot be rendered here): SmolLM2's 32 tokens."""
    assert get_token_counter(build_tokenizer(tmp_path / "plain")).template_tokens == 32
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "chat_template.jinja").write_text(
        "{% for m in messages %}{{ m.nope() }}{% endfor %}"
    )
    assert get_token_counter(build_tokenizer(tmp_path / "broken")).template_tokens == 32


def test_the_vocabulary_tells_words_apart() -> None:
    """A whole word of the vocabulary (after a space) is a word; the estimate knows none."""
    from tests.tiny_model import tiny_model_dir

    counter = get_token_counter(tiny_model_dir() / "tokenizer.json")
    known = [word for word in ("the", "report", "container", "monthly") if counter.is_word(word)]
    assert known and not counter.is_word("xqzvw")
    assert not get_token_counter(None).is_word("the")
