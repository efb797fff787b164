"""The bundled model converts from its GGUF file into a safetensors cache that loads fast."""

import json
import time
from pathlib import Path

import pytest

from worker.model_store import MANIFEST, import_bundled, is_imported


@pytest.mark.slow
def test_bundled_model_converts_once_and_loads_from_safetensors(tmp_path: Path):
    from tokenizers import Tokenizer
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = import_bundled(tmp_path)
    assert is_imported(target)
    files = {p.name for p in target.iterdir()}
    assert "model.safetensors" in files and "tokenizer.json" in files
    assert not any(name.endswith((".bin", ".pt", ".pth", ".pkl")) for name in files), files
    manifest = json.loads((target / MANIFEST).read_text())
    assert manifest["chat_template"] is True and manifest["context_tokens"] >= 2048
    assert "quantization_config" not in json.loads((target / "config.json").read_text())

    started = time.monotonic()
    assert import_bundled(tmp_path) == target  # second call: already there, no conversion
    assert time.monotonic() - started < 1

    model = AutoModelForCausalLM.from_pretrained(target, use_safetensors=True)
    tokenizer = AutoTokenizer.from_pretrained(target)
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Say hello."}],
        add_generation_prompt=True,
        return_dict=True,
        return_tensors="pt",
    )
    out = model.generate(**prompt, max_new_tokens=5, do_sample=False)
    assert out.shape[1] > prompt["input_ids"].shape[1]
    # The web counts tokens with the light `tokenizers` library on the same file.
    light = Tokenizer.from_file(str(target / "tokenizer.json"))
    expected = tokenizer("Kind regards", add_special_tokens=False)["input_ids"]
    assert light.encode("Kind regards").ids == expected


def test_a_half_written_import_is_not_taken_for_a_model(tmp_path: Path):
    target = tmp_path / "smollm2-135m-instruct"
    target.mkdir()
    (target / "config.json").write_text("{}")
    assert not is_imported(target)
