"""Which examples each optimizer step learns from, and how they are laid out in rows without padding waste.

Each epoch is a seeded shuffle of the examples; consecutive slices of `batch_size * grad_accum` of
them make the optimizer steps, so the data order depends only on (seed, epoch, step) and a resumed
run sees exactly what an uninterrupted one would. Inside a step the examples are sorted by length
and packed first-fit-decreasing into rows as long as the step's longest example: several short
examples share a row, each with position ids restarting at 0, which makes transformers build a
block-diagonal causal mask (no example attends to another). Rows go through the model
`batch_size` at a time, so memory stays within what a padded batch of `batch_size` would need. The
step's gradient is a sum over its examples, so the layout changes the speed, not the result.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from worker.training.data import TokenizedExample

IGNORE = -100  # target of a position whose next token carries no loss


@dataclass
class MicroBatch:
    """Rows for one forward pass. targets[r, t] is the token after position t when it carries a loss."""

    input_ids: torch.Tensor  # (rows, length), long
    position_ids: torch.Tensor  # restart at 0 for each example (and for the padding at a row's end)
    targets: torch.Tensor  # (rows, length), IGNORE where nothing is learnt
    real_tokens: int
    loss_tokens: int
    examples: int
    # owners[r, t]: the index (in the list given to micro_batches) of the example at that position, -1 for
    # padding: per-example losses of a packed batch are summed by it.
    owners: torch.Tensor | None = None

    @property
    def padded_tokens(self) -> int:
        """Positions that hold padding (computed for nothing)."""
        return self.input_ids.numel() - self.real_tokens

    def to(self, device: torch.device) -> "MicroBatch":
        """The same batch on `device`."""
        return MicroBatch(
            self.input_ids.to(device),
            self.position_ids.to(device),
            self.targets.to(device),
            self.real_tokens,
            self.loss_tokens,
            self.examples,
            self.owners.to(device) if self.owners is not None else None,
        )


@dataclass
class PaddedBatch:
    """The usual Hugging Face layout (one example per row, right padding, labels), kept for comparison."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    labels: torch.Tensor  # IGNORE on prompt and padding; the model shifts them itself
    real_tokens: int
    loss_tokens: int


def epoch_order(n_examples: int, seed: int, epoch: int) -> list[int]:
    """The seeded shuffle of example indices for one epoch (the same on every machine and every resume)."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n_examples, generator=generator).tolist()


def step_indices(n_examples: int, examples_per_step: int, seed: int, step: int) -> list[int]:
    """The example indices of optimizer step `step` (0-based, counting across epochs)."""
    per_epoch = -(-n_examples // examples_per_step)
    epoch, position = divmod(step, per_epoch)
    order = epoch_order(n_examples, seed, epoch)
    return order[position * examples_per_step : (position + 1) * examples_per_step]


def pack_rows(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """First-fit-decreasing bin packing: indices in rows of at most `capacity` tokens, longest first."""
    rows: list[list[int]] = []
    free: list[int] = []
    for index in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        size = lengths[index]
        for row, space in enumerate(free):
            if size <= space:
                rows[row].append(index)
                free[row] -= size
                break
        else:
            rows.append([index])
            free.append(capacity - size)
    return rows


def _row_tensors(
    row: Sequence[TokenizedExample], indices: Sequence[int], length: int, pad_id: int
) -> tuple[list[int], ...]:
    """ids, position ids, targets and owners (`indices`) of one row laid out over `length` positions."""
    ids: list[int] = []
    positions: list[int] = []
    targets: list[int] = []
    owners: list[int] = []
    for example, index in zip(row, indices, strict=True):
        n = len(example.ids)
        ids.extend(example.ids)
        positions.extend(range(n))
        owners.extend([index] * n)
        # Position t predicts token t+1; only answer tokens are learnt, never across an example's end.
        targets.extend(
            example.ids[t + 1] if example.answer_start - 1 <= t < n - 1 else IGNORE for t in range(n)
        )
    pad = length - len(ids)
    # Padding forms its own segment (positions from 0) at the row's end: causal attention keeps the real
    # tokens from ever seeing it, and it carries no loss.
    return ids + [pad_id] * pad, positions + list(range(pad)), targets + [IGNORE] * pad, owners + [-1] * pad


def micro_batches(
    examples: Sequence[TokenizedExample],
    rows_per_batch: int,
    pad_id: int,
    pack: bool = True,
    capacity: int | None = None,
) -> list[MicroBatch]:
    """The forward passes for one step's examples: packed rows (or one example per row), longest first.

    Rows hold up to `capacity` tokens, by default the longest example's length: attention per row then
    costs no more than in a padded batch, and memory stays within `rows_per_batch` x that length.
    """
    if not examples:
        return []
    lengths = [len(example.ids) for example in examples]
    if pack:
        layout = pack_rows(lengths, max(capacity or 0, *lengths))
    else:
        layout = [[i] for i in sorted(range(len(examples)), key=lambda i: (-lengths[i], i))]
    batches = []
    for start in range(0, len(layout), rows_per_batch):
        chunk = layout[start : start + rows_per_batch]
        rows = [[examples[i] for i in row] for row in chunk]
        length = max(sum(len(e.ids) for e in row) for row in rows)
        columns = list(
            zip(*(_row_tensors(r, i, length, pad_id) for r, i in zip(rows, chunk, strict=True)), strict=True)
        )
        ids, positions, targets, owners = (torch.tensor(column, dtype=torch.long) for column in columns)
        flat = [example for row in rows for example in row]
        batches.append(
            MicroBatch(
                input_ids=ids,
                position_ids=positions,
                targets=targets,
                real_tokens=sum(len(e.ids) for e in flat),
                loss_tokens=sum(e.answer_tokens for e in flat),
                examples=len(flat),
                owners=owners,
            )
        )
    return batches


def padded_batches(examples: Sequence[TokenizedExample], batch_size: int, pad_id: int) -> list[PaddedBatch]:
    """The naive layout: `batch_size` examples per pass in the given order, each padded to the longest."""
    batches = []
    for start in range(0, len(examples), batch_size):
        chunk = examples[start : start + batch_size]
        length = max(len(e.ids) for e in chunk)
        ids = torch.full((len(chunk), length), pad_id, dtype=torch.long)
        mask = torch.zeros((len(chunk), length), dtype=torch.long)
        labels = torch.full((len(chunk), length), IGNORE, dtype=torch.long)
        for row, example in enumerate(chunk):
            n = len(example.ids)
            ids[row, :n] = torch.tensor(example.ids)
            mask[row, :n] = 1
            labels[row, example.answer_start : n] = torch.tensor(example.ids[example.answer_start :])
        batches.append(
            PaddedBatch(
                ids,
                mask,
                labels,
                real_tokens=sum(len(e.ids) for e in chunk),
                loss_tokens=sum(e.answer_tokens for e in chunk),
            )
        )
    return batches


def padding_share(batches: Sequence[MicroBatch | PaddedBatch]) -> float:
    """Share of the positions fed to the model that hold padding."""
    total = sum(batch.input_ids.numel() for batch in batches)
    real = sum(batch.real_tokens for batch in batches)
    return (total - real) / total if total else 0.0
