"""A kill at any moment leaves complete checkpoints or none, and the run resumes from the newest one."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from app.training.presets import Hyperparameters
from tests.tiny_model import tiny_model_dir
from worker.training import train
from worker.training.checkpoints import (
    atomic_dir,
    complete_checkpoints,
    latest_checkpoint,
    load_checkpoint,
    remove_leftovers,
)

ROOT = Path(__file__).resolve().parent.parent
HP = Hyperparameters(
    learning_rate=1e-2, epochs=8, batch_size=2, grad_accum=2, max_length=128,
    eval_every_steps=20, checkpoint_every_steps=1,
)  # fmt: skip
# The child trains the tiny model with a checkpoint after every step until it is killed.
CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from app.training.presets import Hyperparameters
    from tests.test_training_checkpoints import HP, examples
    from worker.training import train
    train(Path(sys.argv[1]), examples(), examples()[:2], HP, Path(sys.argv[2]),
          on_progress=lambda p: None, should_stop=lambda: False, keep_checkpoints=True)
    """
)


def examples():
    """Sixteen short tickets with their labels."""
    from worker.training import TrainingExample

    tickets = [("The invoice is wrong", "billing"), ("The box was broken", "damage")] * 8
    return [TrainingExample("Classify the ticket", text, label) for text, label in tickets]


def test_a_failed_write_leaves_the_previous_folder_untouched(tmp_path: Path):
    target = tmp_path / "adapter"
    with atomic_dir(target) as tmp:
        (tmp / "weights").write_text("first")
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "weights").write_text("half")
        raise RuntimeError("killed mid-write")
    assert (target / "weights").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["adapter"]  # the temp folder is gone
    with atomic_dir(target) as tmp:
        (tmp / "weights").write_text("second")
    assert (target / "weights").read_text() == "second"


def test_leftover_temp_folders_are_ignored_and_cleaned(tmp_path: Path):
    folder = tmp_path / "checkpoints"
    (folder / "step-2").mkdir(parents=True)
    for name in ("state.json", "state.safetensors"):
        (folder / "step-2" / name).write_text("x")
    (folder / ".step-4.tmp-abc").mkdir()
    (folder / "step-5").mkdir()  # no files: not a complete checkpoint
    assert latest_checkpoint(tmp_path).name == "step-2"
    remove_leftovers(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["step-2", "step-5"]


def test_a_run_killed_at_a_random_moment_resumes_from_a_complete_checkpoint(tmp_path: Path):
    out = tmp_path / "run"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tiny_model_dir()), str(out)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 90
    try:
        while len(complete_checkpoints(out / "checkpoints")) < 2:
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "the child made no checkpoints"
            time.sleep(0.01)
        # SIGKILL: no cleanup code runs, as when the host dies or the OOM killer strikes.
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
        child.stderr.close()
    found = complete_checkpoints(out / "checkpoints")
    assert found and all(load_checkpoint(path)[1]["run"]["step"] == step for step, path in found)
    last = found[-1][0]
    assert last < 32

    result = train(
        tiny_model_dir(), examples(), examples()[:2], HP, out,
        on_progress=lambda p: None, should_stop=lambda: False, resume_from=out,
    )  # fmt: skip
    assert result.state == "succeeded" and result.metrics["steps"] == 32
    assert [step for step, _ in result.metrics["loss_history"]] == list(range(1, 33))
    assert not any(p.name.startswith(".") for p in out.rglob("*"))
