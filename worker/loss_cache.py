"""The base model's losses in the database: an example's loss under a base model is computed once and read
by every later run on the same model and the same tokens (table base_losses; keys from
worker/training/evaluation.py: loss_key)."""

from collections.abc import Sequence

from sqlalchemy import select

from app.db import insert_for, session_scope
from app.models import BaseLoss

# Keys per query: well under the bound-parameter limits of SQLite and PostgreSQL.
CHUNK = 500


class DatabaseLossCache:
    """The base losses of one base model (a LossCache for worker/training/evaluation.py)."""

    def __init__(self, base_model_id: int) -> None:
        """The cache of the catalog's base model `base_model_id`."""
        self.base_model_id = base_model_id

    def get(self, keys: Sequence[str]) -> dict[str, tuple[float, int]]:
        """The known losses among `keys`: key -> (loss sum, answer tokens)."""
        found: dict[str, tuple[float, int]] = {}
        with session_scope() as session:
            for start in range(0, len(keys), CHUNK):
                chunk = list(keys[start : start + CHUNK])
                rows = session.execute(
                    select(BaseLoss.key, BaseLoss.loss_sum, BaseLoss.answer_tokens).where(
                        BaseLoss.base_model_id == self.base_model_id, BaseLoss.key.in_(chunk)
                    )
                )
                found.update({key: (loss, tokens) for key, loss, tokens in rows})
        return found

    def put(self, values: dict[str, tuple[float, int]]) -> None:
        """Keep these losses; a key another run stored meanwhile keeps its value (same model, same tokens)."""
        rows = [
            {"base_model_id": self.base_model_id, "key": key, "loss_sum": loss, "answer_tokens": tokens}
            for key, (loss, tokens) in values.items()
        ]
        with session_scope() as session:
            for start in range(0, len(rows), CHUNK):
                insert = insert_for(session)(BaseLoss).values(rows[start : start + CHUNK])
                session.execute(insert.on_conflict_do_nothing(index_elements=["base_model_id", "key"]))
