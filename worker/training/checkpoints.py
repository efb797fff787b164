"""Checkpoints a killed run resumes from, written so that a kill at any moment leaves a complete one or none.

A checkpoint is a folder `checkpoints/step-N` holding `state.safetensors` (LoRA weights, optimizer
moments, random-generator states, the best adapter so far) and `state.json` (step, data position,
histories, counters). It is written into a hidden temp folder beside it and renamed into place, so
`step-N` either exists complete or not at all; temp folders left by a kill are ignored and removed.
Everything is safetensors and JSON: nothing is unpickled when a run resumes.
"""

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

STATE_TENSORS = "state.safetensors"
STATE_JSON = "state.json"
FORMAT = 1
_STEP_DIR = re.compile(r"^step-(\d+)$")


def _fsync(path: Path) -> None:
    """Flush a written file to disk, so the rename never publishes a folder with empty files."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


@contextlib.contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield a temp folder beside `target`; on success it replaces `target` in one rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield tmp
        for path in tmp.rglob("*"):
            if path.is_file():
                _fsync(path)
        old = None
        if target.exists():
            # A folder cannot be renamed over a non-empty one: move the old one aside first.
            old = target.parent / f".{target.name}.old-{tmp.name.rsplit('-', 1)[-1]}"
            target.rename(old)
        tmp.rename(target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def remove_leftovers(folder: Path) -> None:
    """Delete temp folders a killed write left behind in `folder` (names starting with a dot)."""
    if folder.is_dir():
        for path in folder.iterdir():
            if path.is_dir() and path.name.startswith(".") and (".tmp-" in path.name or ".old-" in path.name):
                shutil.rmtree(path, ignore_errors=True)


def complete_checkpoints(folder: Path) -> list[tuple[int, Path]]:
    """(step, path) of every complete checkpoint in `folder`, oldest first."""
    found = []
    if folder.is_dir():
        for path in folder.iterdir():
            match = _STEP_DIR.match(path.name)
            if match and (path / STATE_JSON).is_file() and (path / STATE_TENSORS).is_file():
                found.append((int(match.group(1)), path))
    return sorted(found)


def latest_checkpoint(path: Path) -> Path | None:
    """The newest complete checkpoint at `path`: a checkpoint itself, a checkpoints folder or a run folder."""
    if (path / STATE_JSON).is_file() and (path / STATE_TENSORS).is_file():
        return path
    for folder in (path, path / "checkpoints"):
        found = complete_checkpoints(folder)
        if found:
            return found[-1][1]
    return None


def save_checkpoint(folder: Path, step: int, tensors: dict[str, torch.Tensor], state: dict[str, Any]) -> Path:
    """Write checkpoint `step-<step>` into `folder` atomically; returns its path."""
    target = folder / f"step-{step}"
    with atomic_dir(target) as tmp:
        # Clones on the CPU: safetensors refuses views and tensors sharing memory.
        save_file(
            {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}, tmp / STATE_TENSORS
        )
        (tmp / STATE_JSON).write_text(json.dumps({"format": FORMAT, **state}, indent=1))
    return target


def load_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The tensors and the state of the checkpoint at `path`."""
    return load_file(path / STATE_TENSORS), json.loads((path / STATE_JSON).read_text())


def prune(folder: Path, keep: int = 2) -> None:
    """Remove all but the `keep` newest complete checkpoints."""
    for _step, path in complete_checkpoints(folder)[:-keep]:
        shutil.rmtree(path, ignore_errors=True)


def remove_all(folder: Path) -> None:
    """Delete the checkpoints folder of a finished run (checkpoints only serve to resume)."""
    shutil.rmtree(folder, ignore_errors=True)


def prefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`tensors` with every name under `prefix.`."""
    return {f"{prefix}.{name}": tensor for name, tensor in tensors.items()}


def unprefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors stored under `prefix.`, with the prefix taken off."""
    start = len(prefix) + 1
    return {name[start:]: tensor for name, tensor in tensors.items() if name.startswith(f"{prefix}.")}


def optimizer_tensors(
    optimizer: torch.optim.Optimizer,
) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    """The optimizer's per-parameter state as flat tensors, and its param groups as JSON-ready dicts."""
    state = optimizer.state_dict()
    tensors = {
        f"{index}.{key}": value if isinstance(value, torch.Tensor) else torch.tensor(value)
        for index, entries in state["state"].items()
        for key, value in entries.items()
    }
    groups = [
        {key: list(value) if isinstance(value, tuple) else value for key, value in group.items()}
        for group in state["param_groups"]
    ]
    return tensors, groups


def restore_optimizer(
    optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], groups: list[dict[str, Any]]
) -> None:
    """Load what `optimizer_tensors` saved back into `optimizer`."""
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, tensor in tensors.items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = tensor
    restored = [{k: tuple(v) if k == "betas" else v for k, v in group.items()} for group in groups]
    optimizer.load_state_dict({"state": state, "param_groups": restored})


def rng_tensors() -> dict[str, torch.Tensor]:
    """The random generators' states (dropout draws from them), so a resumed run draws the same masks."""
    tensors = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        tensors["cuda"] = torch.stack(torch.cuda.get_rng_state_all())
    return tensors


def restore_rng(tensors: dict[str, torch.Tensor]) -> None:
    """Put back the generator states that `rng_tensors` saved."""
    torch.set_rng_state(tensors["cpu"])
    if "cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(tensors["cuda"]))
