"""The base-model catalog: bundled, Hub and local-folder models, and whether a worker can run them.

Plain functions for the web (no torch): the catalog rows, registering a local folder, the worker capacity
and measured speeds the worker records, and the memory check that blocks a too-large model.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.db import insert_for
from app.models import BaseModel, WorkerCapacity, WorkerSpeed, utcnow
from app.services.errors import FieldErrors, NotFound
from app.settings import get_settings
from app.training.estimate import llama_linear_shapes

GIB = 1024**3


@dataclass(frozen=True)
class CatalogSeed:
    """A model the install knows about out of the box."""

    key: str
    name: str
    source: str
    location: str
    params: int
    context_tokens: int
    description: str


# Parameter counts and context lengths from each model's published config; sizes are bf16 safetensors.
SEEDS = (
    CatalogSeed(
        "smollm2-135m-instruct", "SmolLM2 135M Instruct (bundled)", "bundled", "smollm2-135m-instruct",
        134_515_008, 8192, "Small and fast; trains on a laptop CPU. Good for a first try.",
    ),
    CatalogSeed(
        "smollm2-360m-instruct", "SmolLM2 360M Instruct", "hub", "HuggingFaceTB/SmolLM2-360M-Instruct",
        361_821_120, 8192, "A little larger than the bundled model; still fine on a CPU.",
    ),
    CatalogSeed(
        "smollm2-1.7b-instruct", "SmolLM2 1.7B Instruct", "hub", "HuggingFaceTB/SmolLM2-1.7B-Instruct",
        1_711_376_384, 8192, "Noticeably better writing; wants a GPU.",
    ),
    CatalogSeed(
        "qwen2.5-0.5b-instruct", "Qwen2.5 0.5B Instruct", "hub", "Qwen/Qwen2.5-0.5B-Instruct",
        494_032_768, 32768, "Small, multilingual, long context.",
    ),
    CatalogSeed(
        "qwen2.5-1.5b-instruct", "Qwen2.5 1.5B Instruct", "hub", "Qwen/Qwen2.5-1.5B-Instruct",
        1_543_714_304, 32768, "Multilingual, long context; wants a GPU.",
    ),
    CatalogSeed(
        "qwen2.5-7b-instruct", "Qwen2.5 7B Instruct", "hub", "Qwen/Qwen2.5-7B-Instruct",
        7_615_616_512, 32768, "Strong writer; needs a GPU with 24 GB or more.",
    ),
    CatalogSeed(
        "llama-3.2-1b-instruct", "Llama 3.2 1B Instruct", "hub", "meta-llama/Llama-3.2-1B-Instruct",
        1_235_814_400, 131072, "Meta's small model (the Hub asks you to accept its licence first).",
    ),
    CatalogSeed(
        "llama-3.2-3b-instruct", "Llama 3.2 3B Instruct", "hub", "meta-llama/Llama-3.2-3B-Instruct",
        3_212_749_824, 131072, "Meta's mid-size model; wants a GPU with 16 GB or more.",
    ),
)  # fmt: skip


class ModelNotFound(NotFound):
    """The base model does not exist (or belongs to another workspace)."""


class InvalidModelFolder(FieldErrors):
    """A local folder that cannot be registered as a base model."""


def ensure_catalog(session: Session) -> None:
    """Add the built-in catalog entries that are missing (idempotent; not committed)."""
    present = set(session.scalars(select(BaseModel.key)))
    bytes_per_weight = 2  # bf16 safetensors
    rows = [
        {
            "key": seed.key,
            "name": seed.name,
            "source": seed.source,
            "location": seed.location,
            "params": seed.params,
            "size_bytes": seed.params * bytes_per_weight,
            "context_tokens": seed.context_tokens,
            "description": seed.description,
        }
        for seed in SEEDS
        if seed.key not in present
    ]
    if rows:
        # The first pages of a new install may both add the seeds: the second skips them (a 500 under load).
        session.execute(insert_for(session)(BaseModel).values(rows).on_conflict_do_nothing())


def list_models(session: Session, workspace_id: int) -> list[BaseModel]:
    """Every enabled model the workspace may use (install-wide ones and its own folders), small first."""
    ensure_catalog(session)
    stmt = (
        select(BaseModel)
        .where(BaseModel.enabled.is_(True))
        .where(or_(BaseModel.workspace_id.is_(None), BaseModel.workspace_id == workspace_id))
        .order_by(BaseModel.params, BaseModel.id)
    )
    return list(session.scalars(stmt))


def get_model(session: Session, workspace_id: int, model_id: int) -> BaseModel:
    """The base model `model_id` if this workspace may use it, else ModelNotFound."""
    model = session.get(BaseModel, model_id)
    if model is None or model.workspace_id not in (None, workspace_id):
        raise ModelNotFound(f"Base model {model_id} does not exist; pick one from the list.")
    return model


def default_model(session: Session, workspace_id: int) -> BaseModel:
    """The bundled default model (the catalog is created when missing)."""
    ensure_catalog(session)
    key = get_settings().default_model
    model = session.scalar(select(BaseModel).where(BaseModel.key == key))
    return model if model is not None else list_models(session, workspace_id)[0]


def _folder_size(folder: Path) -> int:
    """Bytes of the safetensors weight files in `folder`."""
    return sum(path.stat().st_size for path in folder.glob("*.safetensors"))


def shapes_from_config(config: dict) -> dict[str, list[int]] | None:
    """LoRA-targetable linear layer shapes of a Llama-style model (Llama, Qwen2, SmolLM2) from its config."""
    try:
        hidden, heads = int(config["hidden_size"]), int(config["num_attention_heads"])
        shapes = llama_linear_shapes(
            hidden=hidden,
            intermediate=int(config["intermediate_size"]),
            layers=int(config["num_hidden_layers"]),
            heads=heads,
            kv_heads=int(config.get("num_key_value_heads") or heads),
            head_dim=int(config.get("head_dim") or hidden // heads),
        )
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None  # another architecture: the estimate falls back to the bundled model's shapes
    return {name: list(shape) for name, shape in shapes.items()}


def tokenizer_path(model: BaseModel) -> Path:
    """Where the model's tokenizer.json is (or will be, for a Hub model the worker has not fetched yet)."""
    if model.source == "hub":
        return get_settings().models_dir / "hub" / model.location.replace("/", "--") / "tokenizer.json"
    return model_dir(model) / "tokenizer.json"


def register_local_model(session: Session, workspace_id: int | None, name: str, folder: str) -> BaseModel:
    """Add a local model folder (config.json + safetensors weights) to the catalog (committed).

    Pickled weights (.bin, .pt) are refused: loading them could run code from the file.
    """
    path = Path(folder).expanduser()
    errors: dict[str, str] = {}
    if not name.strip():
        errors["name"] = "Give the model a name, e.g. “Our fine-tuned Qwen”."
    if not path.is_dir():
        errors["folder"] = (
            f"The folder {folder} does not exist on this server. Give the full path of a model folder."
        )
    elif not (path / "config.json").is_file():
        errors["folder"] = f"{folder} has no config.json, so it is not a model saved with transformers."
    elif not any(path.glob("*.safetensors")):
        errors["folder"] = (
            f"{folder} has no .safetensors weights. Only safetensors are accepted (pickled .bin files can "
            "run code when loaded); convert the model with save_pretrained(safe_serialization=True)."
        )
    if errors:
        raise InvalidModelFolder(errors)
    config = json.loads((path / "config.json").read_text())
    size = _folder_size(path)
    dtype = str(config.get("torch_dtype") or config.get("dtype") or "")
    dtype_bytes = 4 if dtype.endswith("32") else 2
    key = "local-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60]
    suffix, unique = 1, key
    while session.scalar(select(BaseModel.id).where(BaseModel.key == unique)) is not None:
        suffix += 1
        unique = f"{key}-{suffix}"
    model = BaseModel(
        workspace_id=workspace_id,
        key=unique,
        name=" ".join(name.split()),
        source="local",
        location=str(path.resolve()),
        params=size // dtype_bytes,
        size_bytes=size,
        context_tokens=int(config.get("max_position_embeddings") or 2048),
        description=f"Local folder {path.resolve()}",
        layer_shapes=shapes_from_config(config),
    )
    session.add(model)
    session.commit()
    return model


def record_capacity(session: Session, worker: str, device: str, device_name: str, memory_bytes: int) -> None:
    """Store what a worker reported it can hold (not committed)."""
    values = {
        "device": device,
        "device_name": device_name,
        "memory_bytes": memory_bytes,
        "updated_at": utcnow(),
    }
    # Workers of one host (`lastmile run` starts two) report at the same moment: one row, updated.
    insert = insert_for(session)(WorkerCapacity).values(worker=worker, **values)
    session.execute(insert.on_conflict_do_update(index_elements=["worker"], set_=values))


def capacities(session: Session) -> list[WorkerCapacity]:
    """Every worker host that reported, largest memory first."""
    stmt = select(WorkerCapacity).order_by(WorkerCapacity.memory_bytes.desc(), WorkerCapacity.id)
    return list(session.scalars(stmt))


def best_capacity(session: Session) -> WorkerCapacity | None:
    """The worker host with the most memory, or None before any worker reported."""
    hosts = capacities(session)
    return hosts[0] if hosts else None


def worker_for(session: Session, model: BaseModel) -> tuple[bool | None, WorkerCapacity | None]:
    """(whether some worker can hold the model, that worker or else the largest); (None, None) before any
    worker reported."""
    hosts = capacities(session)
    for host in hosts:
        if fits(model, host):
            return True, host
    return (False, hosts[0]) if hosts else (None, None)


def memory_needed(model: BaseModel, device: str) -> int:
    """Bytes of memory a LoRA run on `model` needs: weights (bf16 on a GPU, fp32 on a CPU) plus headroom."""
    # Activations, LoRA weights, optimizer moments and the framework itself: about half the weights again.
    weight_bytes = model.params * (2 if device == "cuda" else 4)
    return int(weight_bytes * 1.5) + GIB // 2


def fits(model: BaseModel, capacity: WorkerCapacity | None) -> bool | None:
    """Whether the worker can hold the model; None when no worker has reported yet."""
    if capacity is None or not capacity.memory_bytes:
        return None
    return memory_needed(model, capacity.device) <= capacity.memory_bytes


def too_large_message(model: BaseModel, capacity: WorkerCapacity) -> str:
    """Why the model cannot run on the worker, for the launch form."""
    memory = "GPU memory" if capacity.device == "cuda" else "memory"
    need = memory_needed(model, capacity.device) / GIB
    have = capacity.memory_bytes / GIB
    return (
        f"{model.name} needs about {need:.1f} GB of {memory}; the worker has {have:.1f} GB. "
        "Pick a smaller model or add a worker with a larger GPU."
    )


def record_speed(
    session: Session, worker: str, base_model_id: int, tokens_per_second: float, overhead_seconds: float
) -> None:
    """Store a worker's measured training speed on a base model (not committed)."""
    values = {
        "tokens_per_second": tokens_per_second,
        "overhead_seconds": overhead_seconds,
        "updated_at": utcnow(),
    }
    # Two workers of one host may finish their first run on a model together: one row, updated.
    insert = insert_for(session)(WorkerSpeed).values(worker=worker, base_model_id=base_model_id, **values)
    session.execute(insert.on_conflict_do_update(index_elements=["worker", "base_model_id"], set_=values))


def measured_speed(session: Session, base_model_id: int) -> WorkerSpeed | None:
    """The most recently measured speed of any worker on the model, or None before the first run."""
    stmt = (
        select(WorkerSpeed)
        .where(WorkerSpeed.base_model_id == base_model_id)
        .order_by(WorkerSpeed.updated_at.desc(), WorkerSpeed.id.desc())
    )
    return session.scalars(stmt).first()


def guessed_tokens_per_second(model: BaseModel) -> float:
    """A first guess before any run measured one: the default speed, scaled down for larger models."""
    base = get_settings().run_default_tokens_per_second
    return base * min(1.0, 134_515_008 / max(model.params, 1))


def model_dir(model: BaseModel) -> Path:
    """Where a bundled or local model's files are (Hub models are resolved by the worker)."""
    if model.source == "bundled":
        return get_settings().models_dir / model.location
    return Path(model.location)
