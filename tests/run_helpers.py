"""Test data for the training-run tests: an actor, a dataset with train/held-out examples, the tiny model."""

from sqlalchemy.orm import Session

from app.auth.deps import Actor
from app.models import BaseModel, User, Workspace
from tests.auth_helpers import make_user
from tests.examples_data import add_examples

REPLIES = [
    ("Reply to the client about the late container", "Dear client, the storm delayed the container."),
    ("Classify the support ticket: my invoice is wrong", "billing"),
    ("Extract the port from: ship to Rotterdam on Monday", "Rotterdam"),
    ("Summarise the monthly report for the board", "The order volume grew; delivery stayed on time."),
]  # fmt: skip


def make_actor(session: Session, workspace_id: int, role: str = "editor") -> Actor:
    """An editor of the workspace, as the routes would pass it."""
    user = make_user(session, role, workspace_id)
    workspace = session.get(Workspace, workspace_id)
    return Actor(user=session.get(User, user.id), workspace=workspace, role=role, via_token=False)


def make_dataset(
    session: Session, workspace_id: int, n_train: int = 8, n_heldout: int = 2, name: str = "Replies"
):
    """A dataset of `n_train` training and `n_heldout` held-out short examples; returns it."""
    from app.services.datasets import create_dataset

    specs = []
    for i in range(n_train + n_heldout):
        instruction, output = REPLIES[i % len(REPLIES)]
        split = "train" if i < n_train else "heldout"
        specs.append({"instruction": f"{instruction} ({i})", "output": output, "split": split})
    ids = add_examples(session, workspace_id, specs) if specs else []
    return create_dataset(session, workspace_id, name, example_ids=ids)


def register_tiny(session: Session, workspace_id: int | None = None) -> BaseModel:
    """The tiny test model registered as a local-folder base model."""
    from app.services.model_catalog import register_local_model
    from tests.tiny_model import tiny_model_dir

    return register_local_model(session, workspace_id, "Tiny test model", str(tiny_model_dir()))
