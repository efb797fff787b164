"""A tiny Llama-shaped causal LM and byte-level BPE tokenizer with a ChatML chat template, built in-process.

Like PEFT's own tests, the training tests use a model small enough to train in milliseconds: hidden size 32,
2 layers, 4 heads and a ~320-token vocabulary learnt from a small corpus. It is saved once per test
session (safetensors, tokenizer files) into a temp folder and shared through a module-level cache.
"""

import atexit
import shutil
import tempfile
import threading
from pathlib import Path

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# ChatML with a default system prompt, like SmolLM2's: the prompt/answer split must cope with it.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
CORPUS = [
    "Dear client, thank you for your message. We will ship the order on Monday.",
    "Classify the support ticket: billing, delivery, damage or other.",
    "Summarise the monthly report for the board in three sentences.",
    "Extract the booking reference, the port and the date from the request.",
    "Kind regards, the Brightwater Logistics team. Rotterdam, Hamburg, Antwerp.",
    "The container arrived late because of a storm; the invoice stays the same.",
    "system user assistant You are a helpful assistant.",
    "0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz .,;:!?'\"()-",
]

_cache: dict[bool, Path] = {}
_lock = threading.Lock()
_root: Path | None = None


def build_tokenizer(chat_template: bool = True):
    """A byte-level BPE `PreTrainedTokenizerFast` (any text encodes; no unknown tokens) with eos and pad."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    raw.train_from_iterator(CORPUS, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    if chat_template:
        tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_model(vocab_size: int, pad_token_id: int, eos_token_id: int):
    """A randomly initialised (seeded) Llama causal LM: hidden 32, 2 layers, 4 heads, tied embeddings."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        pad_token_id=pad_token_id,
        eos_token_id=eos_token_id,
        bos_token_id=None,
        # Large initial weights: with the usual 0.02 the logits of a 32-wide model stay near zero and even
        # LoRA on every layer cannot make one answer likely, so nothing could be memorised in a test.
        initializer_range=0.3,
    )
    torch.manual_seed(0)
    return LlamaForCausalLM(config)


def _build(target: Path, chat_template: bool) -> None:
    """Build and save the tokenizer and the model into `target`."""
    tokenizer = build_tokenizer(chat_template)
    model = build_model(len(tokenizer), tokenizer.pad_token_id, tokenizer.eos_token_id)
    model.save_pretrained(target, safe_serialization=True)
    tokenizer.save_pretrained(target)


def tiny_model_dir(chat_template: bool = True) -> Path:
    """The folder of the tiny model (built once per process); `chat_template=False` gives one without."""
    global _root
    with _lock:
        if chat_template not in _cache:
            if _root is None:
                _root = Path(tempfile.mkdtemp(prefix="lastmile-tiny-model-"))
                atexit.register(shutil.rmtree, _root, ignore_errors=True)
            target = _root / ("chat" if chat_template else "no-chat-template")
            shutil.rmtree(target, ignore_errors=True)
            _build(target, chat_template)
            _cache[chat_template] = target
        return _cache[chat_template]
