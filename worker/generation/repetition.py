"""The repetition guard: notices when a draft has begun to loop, and where the loop began.

Small or freshly adapted models fall into loops that greedy decoding never leaves: "the the the", one
sentence over and over, two items alternating with their separators ("Rotterdam, Hamburg, Rotterdam, ..."),
a sentence or a record repeated with one word or value changed each time. Without a guard such a draft runs
to the length limit. The guard watches a draft token by token and knows two signs of a loop:

- exact: the newest tokens are one cycle of up to MAX_PERIOD tokens, repeated MIN_REPEATS times back to back
  over at least MIN_SPAN tokens;
- near: nearly all (NEAR_SHARE) of the last NEAR_WINDOW tokens each end an NGRAM-token sequence the draft
  already wrote: the text keeps copying itself, with a changed word or number now and then.

Real documents repeat phrases and structure (bullets that start alike, headers, a repeated sign-off), but
not over NEAR_WINDOW tokens on end; the thresholds are measured against real reports, emails and change
logs (bench/RESULTS.md, "Decoding"). When a loop is seen, the draft keeps what it wrote up to the start of
the loop's second round: the first round is content, the repeats are the loop. A draft that reaches its
length limit is looked at once more with shorter spans (`settle`), so that no draft ends inside a loop that
had no room to grow to the full spans.
"""

from collections import deque

MAX_PERIOD = 32
MIN_REPEATS = 3
MIN_SPAN = 32
NGRAM = 4
NEAR_WINDOW = 64
NEAR_SHARE = 0.9
# At the length limit: an exact cycle over at least SETTLE_SPAN tokens, or a near loop over SETTLE_WINDOW.
SETTLE_SPAN = 12
SETTLE_WINDOW = 32


class LoopGuard:
    """Watches one draft's tokens; `feed` says when the draft now loops, `keep` how many tokens precede it."""

    def __init__(self) -> None:
        """An empty draft."""
        self.tokens: list[int] = []
        # runs[p]: how many of the newest tokens each equal the token p places before them.
        self.runs = [0] * (MAX_PERIOD + 1)
        self.seen: set[tuple[int, ...]] = set()
        self.repeated: list[bool] = []  # per token: it ends an n-gram the draft wrote before
        self.window: deque[bool] = deque(maxlen=NEAR_WINDOW)
        self.keep: int | None = None  # set when a loop is seen: the tokens before its second round

    def feed(self, token: int) -> bool:
        """Add the draft's next token; True when the draft now ends in a loop (then `keep` is set)."""
        tokens = self.tokens
        tokens.append(token)
        length = len(tokens)
        for period in range(1, min(MAX_PERIOD, length - 1) + 1):
            self.runs[period] = self.runs[period] + 1 if tokens[-1 - period] == token else 0
        gram = tuple(tokens[-NGRAM:])
        repeated = length >= NGRAM and gram in self.seen
        self.seen.add(gram)
        self.repeated.append(repeated)
        self.window.append(repeated)
        self.keep = self._exact_start()
        full = len(self.window) == NEAR_WINDOW
        if self.keep is None and full and sum(self.window) >= NEAR_SHARE * NEAR_WINDOW:
            self.keep = self._near_start()
        return self.keep is not None

    def settle(self) -> bool:
        """At the draft's length limit: True (and `keep` set) when it ends in a loop by the shorter spans."""
        self.keep = self._exact_start(SETTLE_SPAN)
        tail = self.repeated[-SETTLE_WINDOW:]
        if self.keep is None and len(tail) == SETTLE_WINDOW and sum(tail) >= NEAR_SHARE * SETTLE_WINDOW:
            self.keep = self._near_start(SETTLE_WINDOW)
        return self.keep is not None

    def _exact_start(self, min_span: int = MIN_SPAN) -> int | None:
        """Where the second round of an exact cycle starts, when the newest tokens are one."""
        for period in range(1, MAX_PERIOD + 1):
            run = self.runs[period]
            if run + period >= max(min_span, MIN_REPEATS * period):
                return len(self.tokens) - run
        return None

    def _near_start(self, window: int = NEAR_WINDOW) -> int:
        """Where the second round of a near loop starts: the first repeated n-gram of the stretch of windows
        that all look like a loop, ending at the newest token."""
        repeated = self.repeated
        start = len(repeated) - window
        count = sum(repeated[start:])
        # Slide the window back while it still looks like a loop.
        while start > 0:
            count += repeated[start - 1] - repeated[start - 1 + window]
            if count < NEAR_SHARE * window:
                break
            start -= 1
        first = next(t for t in range(start, len(repeated)) if repeated[t])
        return first - (NGRAM - 1)
