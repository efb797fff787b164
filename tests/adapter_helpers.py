"""Test data for the adapter library and drafting tests: finished runs with adapters whose files are in the
artifact store, and generations in any state, written straight to the database (no worker)."""

from typing import Any

from sqlalchemy.orm import Session

from app.models import Adapter, Run
from app.review_models import Generation
from app.services.datasets import freeze_snapshot, get_dataset
from app.services.model_catalog import default_model
from app.settings import get_settings
from tests.run_helpers import make_dataset

ADAPTER_FILES = ("adapter_model.safetensors", "adapter_config.json", "README.md")


def make_adapter(
    session: Session,
    workspace_id: int,
    name: str = "Client replies on SmolLM2",
    base_model_id: int | None = None,
    dataset_name: str = "",
    weights: bytes = b"weights",
    preset: str = "quick",
) -> Adapter:
    """A succeeded run on a fresh dataset (8 training, 2 held-out examples) and its adapter (committed).

    The adapter's three files are written into the artifact store; the base model is the bundled one
    unless `base_model_id` says otherwise.
    """
    dataset = make_dataset(session, workspace_id, name=dataset_name or f"Examples of {name}")
    snapshot, _ = freeze_snapshot(session, workspace_id, get_dataset(session, workspace_id, dataset.id))
    model_id = base_model_id or default_model(session, workspace_id).id
    run = Run(
        workspace_id=workspace_id, dataset_id=dataset.id, snapshot_id=snapshot.id,
        snapshot_sha256=snapshot.sha256, train_count=snapshot.train_count,
        heldout_count=snapshot.heldout_count, base_model_id=model_id, name=name, preset=preset,
        hyperparameters={}, state="succeeded", loss_history=[], heldout_history=[[0, 2.4], [4, 1.2]],
    )  # fmt: skip
    session.add(run)
    session.flush()
    adapter = Adapter(
        workspace_id=workspace_id, run_id=run.id, base_model_id=model_id, snapshot_id=snapshot.id,
        snapshot_sha256=snapshot.sha256, name=name, path=f"adapters/{run.id}", size_bytes=4_500_000,
        trainable_share=0.0123, metrics={"heldout_loss_before": 2.4, "heldout_loss_after": 1.2},
    )  # fmt: skip
    session.add(adapter)
    session.commit()
    folder = get_settings().data_dir / adapter.path
    folder.mkdir(parents=True, exist_ok=True)
    contents = {ADAPTER_FILES[0]: weights, ADAPTER_FILES[1]: b'{"r": 8}', ADAPTER_FILES[2]: b"# Card\n"}
    for file_name, data in contents.items():
        (folder / file_name).write_bytes(data)
    return adapter


def make_generation(session: Session, workspace_id: int, adapter: Adapter | None = None, **fields: Any):
    """A generation of `adapter` (or of the bundled model alone), queued unless `fields` say otherwise."""
    model_id = adapter.base_model_id if adapter is not None else default_model(session, workspace_id).id
    values: dict[str, Any] = {
        "workspace_id": workspace_id,
        "adapter_id": adapter.id if adapter is not None else None,
        "base_model_id": model_id,
        "purpose": "draft",
        "messages": [{"role": "user", "content": "Tell Anna her container is late."}],
        **fields,
    }
    generation = Generation(**values)
    session.add(generation)
    session.commit()
    return generation


def tiny_adapter(session: Session, workspace_id: int, model_id: int) -> Adapter:
    """A LoRA adapter of the tiny test model with random (not zero) weights, saved as a run saves one, so
    its drafts differ from the base model's (committed)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from tests.tiny_model import tiny_model_dir

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir()))
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    adapter = Adapter(workspace_id=workspace_id, base_model_id=model_id, name="Tiny replies", path="")
    session.add(adapter)
    session.flush()
    adapter.path = f"adapters/tiny-{adapter.id}"
    folder = get_settings().data_dir / adapter.path
    get_peft_model(base, config).save_pretrained(str(folder), safe_serialization=True)
    (folder / "README.md").write_text("# Tiny replies\n")
    adapter.size_bytes = (folder / ADAPTER_FILES[0]).stat().st_size
    session.commit()
    return adapter
