"""Running an upload batch: parse each stored file and write its examples."""


def run_batch(batch_id: int) -> None:
    """Parse every pending item of batch `batch_id`, recording progress in the database."""
    raise NotImplementedError
