"""A guard against endless repetition: stops a row whose newest tokens are one short cycle, over and over.

Small or freshly adapted models sometimes fall into a loop ("the the the", or one sentence forever); greedy
decoding never leaves it, so without a guard each such draft runs to the token limit and reads as garbage.
"""

import torch

# A cycle of up to MAX_PERIOD tokens (about a sentence), repeated MIN_REPEATS times back to back and covering
# at least MIN_SPAN tokens, is a loop: documents repeat phrases, but not the same sentence three times in a
# row, nor one token 32 times (a long rule of dashes is a handful of tokens).
MAX_PERIOD = 32
MIN_REPEATS = 3
MIN_SPAN = 32


def ends_in_loop(tokens: torch.Tensor, max_period: int = MAX_PERIOD) -> torch.Tensor:
    """Per row of `tokens` (batch × new tokens so far), True where the row now ends in a loop."""
    rows, length = tokens.shape
    looping = torch.zeros(rows, dtype=torch.bool, device=tokens.device)
    for period in range(1, max_period + 1):
        span = max(MIN_SPAN, MIN_REPEATS * period)
        if span > length:
            break
        tail = tokens[:, -span:]
        looping |= (tail[:, period:] == tail[:, :-period]).all(dim=1)
    return looping
