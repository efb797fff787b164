"""The generation engine on the tiny model with a tiny adapter trained for a few steps: batching, base drafts
from the same weights, determinism, the model's generation config, stops at end of turn, at a loop and at the
limit."""

from pathlib import Path

import pytest
import torch

from app.training.presets import Hyperparameters
from tests.tiny_model import tiny_model_dir
from worker.generation.engine import Decoding, Draft, Engine, GenerationError, Request, end_of_turn_ids
from worker.training import TrainingExample, train

TICKETS = [
    ("The invoice is wrong", "billing"),
    ("The container arrived late", "delivery"),
    ("The box was broken", "damage"),
    ("Where is my order", "delivery"),
]
# The port list is longer than max_length, so its end (and end of turn) is cut: the adapter learns a loop.
LOOP = TrainingExample("List the ports", "", "Rotterdam " * 120)
TRAIN = [TrainingExample("Classify the ticket", text, label) for text, label in TICKETS * 4] + [LOOP] * 4
# Prompts of different lengths, so a batch needs padding.
BRIEFS = [
    ("Classify the ticket", "The invoice is wrong"),
    ("Classify the ticket", "The container arrived late because of a storm in Rotterdam"),
    ("Summarise the monthly report for the board", ""),
    ("Reply", "Dear client"),
]
HP = Hyperparameters(
    learning_rate=1e-2, dropout=0.0, epochs=12, batch_size=2, grad_accum=2, max_length=128,
    eval_every_steps=60, checkpoint_every_steps=60, rank=8, alpha=16,
)  # fmt: skip


@pytest.fixture(scope="module")
def adapter_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA adapter of the tiny model that learnt the ticket labels and the endless port list (60 steps)."""
    out = tmp_path_factory.mktemp("adapter")
    result = train(
        tiny_model_dir(), TRAIN, TRAIN[:2], HP, out, on_progress=lambda _p: None, should_stop=lambda: False
    )
    return result.adapter_dir


@pytest.fixture(scope="module")
def engine(adapter_dir: Path) -> Engine:
    """An engine on the tiny model with the adapter loaded as "tickets"."""
    engine = Engine(tiny_model_dir())
    engine.use_adapter("tickets", adapter_dir)
    return engine


def prompts(engine: Engine) -> list[tuple[int, ...]]:
    """The briefs' prompt token ids."""
    return [engine.example_prompt(instruction, input) for instruction, input in BRIEFS]


def test_a_mixed_batch_gives_each_prompt_the_draft_it_gets_alone(engine: Engine):
    requests = [Request(p, adapter) for p in prompts(engine) for adapter in (None, "tickets")]
    assert len({len(r.prompt) for r in requests}) > 1  # the batch is padded
    decoding = Decoding(max_new_tokens=40)
    batched = engine.generate(requests, decoding)
    alone = [engine.generate([request], decoding)[0] for request in requests]
    assert batched == alone
    # Base-only and adapted-only batches (disable_adapter / set_adapter) give the same drafts too.
    assert engine.generate(requests[0::2], decoding) == batched[0::2]
    assert engine.generate(requests[1::2], decoding) == batched[1::2]
    # Deterministic: the same call again gives the same drafts.
    assert engine.generate(requests, decoding) == batched


def test_base_drafts_are_the_plain_models_and_the_adapter_changes_them(engine: Engine):
    from transformers import AutoModelForCausalLM

    plain = AutoModelForCausalLM.from_pretrained(tiny_model_dir()).eval()
    for prompt in prompts(engine):
        base, adapted = engine.generate([Request(prompt, None), Request(prompt, "tickets")], Decoding(30))
        ids = torch.tensor([prompt])
        with torch.no_grad():
            out = plain.generate(
                ids, attention_mask=torch.ones_like(ids), max_new_tokens=30, do_sample=False,
                eos_token_id=sorted(engine.stop_ids),
            )  # fmt: skip
        expected = out[0, len(prompt) :].tolist()
        end = next((k for k, token in enumerate(expected) if token in engine.stop_ids), len(expected))
        assert list(base.ids) == expected[: base.tokens]
        assert base.stop == "repetition" or base.tokens == end
        assert adapted != base


def test_the_adapter_answers_a_learnt_ticket_and_stops_at_the_end_of_its_turn(engine: Engine):
    assert engine.tokenizer.convert_tokens_to_ids("<|im_end|>") in engine.stop_ids
    prompt = engine.example_prompt("Classify the ticket", "The invoice is wrong")
    draft = engine.generate([Request(prompt, "tickets")], Decoding(max_new_tokens=60))[0]
    assert (draft.text, draft.stop) == ("billing", "eos") and 0 < draft.tokens < 60


def test_a_looping_draft_is_cut_back_to_before_its_loop(engine: Engine, adapter_dir: Path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    prompt = engine.example_prompt(LOOP.instruction, LOOP.input)
    other = engine.example_prompt("Classify the ticket", "The box was broken")
    looping, learnt = engine.generate([Request(prompt, "tickets"), Request(other, "tickets")], Decoding(300))
    # The guard stopped it before the loop, at the end of a word: the draft does not end inside the loop.
    assert looping.stop == "repetition" and 0 < looping.tokens < 64
    assert looping.text.split()[-1].endswith("dam") and looping.text.count("Rotterdam") <= 2
    assert (learnt.text, learnt.stop) == ("damage", "eos")  # the other row of the batch is not cut
    # Without the guard, plain PEFT generation goes on looping to the limit; the guarded draft is its start,
    # and what follows it is the same word over and over.
    plain = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir()), adapter_dir)
    ids = torch.tensor([prompt])
    with torch.no_grad():
        out = plain.eval().generate(
            input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=300, do_sample=False
        )
    endless = out[0, len(prompt) :].tolist()
    assert endless[: looping.tokens] == list(looping.ids) and len(endless) == 300
    rest = engine.tokenizer.decode(endless[looping.tokens :])
    assert rest.startswith("Rotterdam Rotterdam") and rest.count("Ro") > 20
    # A limit too short for a loop to show ends the same draft at the limit.
    short = engine.generate([Request(prompt, "tickets")], Decoding(max_new_tokens=10))[0]
    assert (short.stop, list(short.ids)) == ("length", endless[:10])


def test_decoding_follows_the_models_generation_config(engine: Engine):
    from transformers import AutoModelForCausalLM, GenerationConfig

    prompt = engine.example_prompt("Summarise the monthly report for the board", "")
    plain_draft = engine.generate([Request(prompt, None)], Decoding(40))[0]
    config = engine.model.generation_config
    config.repetition_penalty, config.no_repeat_ngram_size = 1.8, 2
    try:
        penalised = engine.generate([Request(prompt, None)], Decoding(40))[0]
        # top-k 1 leaves one token to sample: sampling then writes the greedy draft; greedy ignores top-k.
        config.top_k = 1
        sampled = engine.generate([Request(prompt, None)], Decoding(40, temperature=1.0, seed=7))[0]
    finally:
        config.repetition_penalty = config.no_repeat_ngram_size = config.top_k = None
    assert penalised != plain_draft and sampled == penalised
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir()).eval()
    ids = torch.tensor([prompt])
    with torch.no_grad():
        out = base.generate(
            ids, attention_mask=torch.ones_like(ids), max_new_tokens=40, do_sample=False,
            repetition_penalty=1.8, no_repeat_ngram_size=2, eos_token_id=sorted(engine.stop_ids),
        )  # fmt: skip
    expected = out[0, len(prompt) :].tolist()
    assert list(penalised.ids) == expected[: penalised.tokens]  # transformers' own processors, same draft
    # Every end-of-text id the config names ends a draft, besides the chat template's end of turn.
    im_end = engine.tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert end_of_turn_ids(engine.tokenizer, GenerationConfig(eos_token_id=[5, 7])) == {5, 7, im_end}


def test_a_prompt_longer_than_the_model_reads_gets_an_empty_draft(engine: Engine):
    long = tuple([5] * 600)  # the tiny model reads 512 positions
    short = engine.example_prompt("Reply", "")
    drafts = engine.generate([Request(long, None), Request(short, None)], Decoding(5))
    assert drafts[0] == Draft("", (), "too_long") and drafts[1].tokens == 5


def test_missing_adapter_files_are_a_plain_error(engine: Engine, tmp_path: Path):
    with pytest.raises(GenerationError, match="files are missing"):
        engine.use_adapter("gone", tmp_path / "nothing-here")
