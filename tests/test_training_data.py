"""Examples are rendered with the model's chat template; only the answer carries a loss; cuts are counted."""

from pathlib import Path

import pytest

from tests.tiny_model import tiny_model_dir
from worker.training.batching import IGNORE, micro_batches
from worker.training.config import TrainingError
from worker.training.data import TrainingExample, dropped_message, load_tokenizer, prepare

SMOLLM2 = Path(__file__).resolve().parent.parent / "data" / "models" / "smollm2-135m-instruct"
REPLY = TrainingExample("Reply to the client", "The container is late", "Dear client, we apologise.")


@pytest.fixture(scope="module")
def tokenizer():
    """The tiny model's tokenizer (ChatML template with a default system prompt)."""
    return load_tokenizer(tiny_model_dir())


def test_the_prompt_is_rendered_with_the_models_template_and_only_the_answer_is_learnt(tokenizer):
    example = prepare(tokenizer, [REPLY], 512).examples[0]
    full = tokenizer.apply_chat_template(
        [
            {"role": "user", "content": "Reply to the client\n\nThe container is late"},
            {"role": "assistant", "content": "Dear client, we apologise."},
        ],
        tokenize=False,
    )
    assert tokenizer.decode(list(example.ids)) == full
    prompt = tokenizer.decode(list(example.ids[: example.answer_start]))
    # The template's own system prompt comes first, and the prompt ends with the assistant header.
    assert prompt.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>")
    assert prompt.endswith("<|im_start|>assistant\n")
    assert (
        tokenizer.decode(list(example.ids[example.answer_start :]))
        == "Dear client, we apologise.<|im_end|>\n"
    )

    batch = micro_batches([example], 1, tokenizer.pad_token_id)[0]
    targets = batch.targets[0].tolist()
    learnt = [t for t, target in enumerate(targets) if target != IGNORE]
    # Position t predicts token t+1: the first learnt position is the last prompt token.
    assert learnt == list(range(example.answer_start - 1, len(example.ids) - 1))
    assert [targets[t] for t in learnt] == list(example.ids[example.answer_start :])
    assert batch.loss_tokens == example.answer_tokens == len(learnt)


def test_an_example_without_input_sends_the_instruction_alone(tokenizer):
    example = prepare(tokenizer, [TrainingExample("Say hello", "", "Hello")], 512).examples[0]
    prompt = tokenizer.decode(list(example.ids[: example.answer_start]))
    assert "<|im_start|>user\nSay hello<|im_end|>" in prompt


def test_long_answers_are_cut_at_the_end_and_counted_and_answerless_examples_are_dropped(tokenizer):
    whole = prepare(tokenizer, [REPLY], 4096).examples[0]
    limit = whole.answer_start + 3
    short = TrainingExample("Say hello", "", "Hi")
    long_prompt = TrainingExample("Summarise " + "the report " * 60, "", "Fine")
    data = prepare(tokenizer, [short, REPLY, long_prompt, REPLY], limit)

    assert data.cut == [1, 3]
    assert data.dropped == [2]
    assert [e.source for e in data.examples] == [0, 1, 3]
    cut = data.examples[1]
    # The prompt is kept whole; the answer keeps its first 3 tokens.
    assert cut.ids == whole.ids[:limit] and cut.answer_tokens == 3 and cut.cut
    assert not data.examples[0].cut
    message = dropped_message(data, limit)
    assert "2 training examples were cut" in message and "1 training example was left out" in message
    assert dropped_message(prepare(tokenizer, [short], 4096), 4096) is None


def test_a_model_without_a_chat_template_is_refused_with_a_clear_message():
    with pytest.raises(TrainingError) as error:
        load_tokenizer(tiny_model_dir(chat_template=False), "tiny-base")
    assert "tiny-base has no chat template; Lastmile needs an instruct/chat model" in str(error.value)


def test_a_template_that_rewrites_the_prompt_once_answered_is_refused(tokenizer):
    odd = load_tokenizer(tiny_model_dir())
    odd.chat_template = (
        "{% for m in messages %}{% if loop.last and m.role == 'user' %}LAST {% endif %}{{ m.content }}"
        "{% endfor %}"
    )
    with pytest.raises(TrainingError, match="renders the prompt differently"):
        prepare(odd, [REPLY], 512)


@pytest.mark.skipif(
    not (SMOLLM2 / "tokenizer.json").is_file(), reason="bundled model not imported (make setup)"
)
def test_smollm2s_template_with_its_system_prompt_splits_prompt_and_answer():
    tokenizer = load_tokenizer(SMOLLM2)
    example = prepare(tokenizer, [REPLY], 512).examples[0]
    prompt = tokenizer.decode(list(example.ids[: example.answer_start]))
    assert prompt.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    assert prompt.endswith("<|im_start|>assistant\n")
    assert tokenizer.decode(list(example.ids[example.answer_start :])).startswith(
        "Dear client, we apologise."
    )
