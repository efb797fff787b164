"""The repetition guard: notices when a draft has begun to loop, and where the loop began.

Small or freshly adapted models fall into loops that greedy decoding never leaves: "the the the", one
sentence over and over, two items alternating with their separators ("Rotterdam, Hamburg, Rotterdam, ..."),
a sentence or a record repeated with a word or a number changed each time ("We ship on Monday. We ship on
Tuesday. ..."). Without a guard such a draft runs to the length limit. The guard watches a draft token by
token and knows three signs of a loop:

- exact: the newest tokens are one cycle of up to MAX_PERIOD tokens, repeated MIN_REPEATS times back to back
  over at least MIN_SPAN tokens;
- similar: over FUZZY_ROUNDS rounds of a cycle after its first (and at least FUZZY_SPAN tokens), FUZZY_SHARE
  of the tokens equal the token one round earlier (give or take a token: a changed word may be longer);
- near: NEAR_SHARE of the last NEAR_WINDOW tokens each end an NGRAM-token sequence the draft already wrote
  (a long passage repeated, or phrases shuffled around);
- line: a line of at least LINE_MIN_TOKENS tokens written twice in a row, to the token (a list of figures
  gone wrong: "- Credits: 100 (15.9%)" again; seen in an adapted monthly report, bench.quality).

Real documents repeat phrases and structure (bullets that start alike, headers, a repeated sign-off), but not
for that long: the thresholds were measured against real reports, emails and a change log, and against the
loops the bundled model writes (bench/RESULTS.md, "Decoding: looping drafts before and after"). When a loop is
seen, the draft keeps what it wrote up to the start of the loop's second round: the first round is content,
the repeats are the loop. A draft that reaches its length limit is looked at once more with shorter spans
(`settle`), so that no draft ends inside a loop that had no room to grow to the full spans.
"""

MAX_PERIOD = 32
MIN_REPEATS = 3
MIN_SPAN = 32
FUZZY_SHARE = 0.8
FUZZY_ROUNDS = 4
FUZZY_SPAN = 40
# From this period on (about a sentence) a round may be a token longer or shorter than the one before.
DRIFT_FROM = 6
NGRAM = 4
NEAR_WINDOW = 64
NEAR_SHARE = 0.9
# At the length limit: three rounds of an exact cycle or of similar rounds, over at least SETTLE_SPAN tokens,
# or a near loop over SETTLE_WINDOW.
SETTLE_SPAN = 12
SETTLE_WINDOW = 32
# A line this long is never written twice in a row in the real writing the guard was measured on.
LINE_MIN_TOKENS = 8


def _start(bits: list[bool], window: int, share: float) -> int:
    """The first set bit of the earliest window of the stretch of windows, ending at the last bit, that each
    hold at least `share` set bits."""
    start = len(bits) - window
    count = sum(bits[start:])
    while start > 0:
        count += bits[start - 1] - bits[start - 1 + window]
        if count < share * window:
            break
        start -= 1
    return next(t for t in range(start, len(bits)) if bits[t])


def _fuzzy_window(period: int, span: int, rounds: int) -> int:
    """Tokens the similar-rounds sign looks at: `rounds` rounds of a `period`-token cycle after its first."""
    return max(span, rounds * period)


def _runs_needed(span: int) -> tuple[int, ...]:
    """Per period, how long a run of repeats makes an exact loop: MIN_REPEATS rounds over `span` tokens."""
    return tuple(max(span, MIN_REPEATS * period) - period for period in range(MAX_PERIOD + 1))


FEED_WINDOWS = tuple(_fuzzy_window(period, FUZZY_SPAN, FUZZY_ROUNDS) for period in range(MAX_PERIOD + 1))
FEED_RUNS = _runs_needed(MIN_SPAN)


class LoopGuard:
    """Watches one draft's tokens; `feed` says when the draft now loops, `keep` how many tokens precede it."""

    def __init__(self) -> None:
        """An empty draft."""
        self.tokens: list[int] = []
        # runs[p]: how many of the newest tokens each equal the token p places before them.
        self.runs = [0] * (MAX_PERIOD + 1)
        # similar[p][t]: token t equals a token about p places before it; counts[p]: set bits in the window.
        self.similar: list[list[bool]] = [[] for _ in range(MAX_PERIOD + 1)]
        self.counts = [0] * (MAX_PERIOD + 1)
        self.seen: set[tuple[int, ...]] = set()
        self.repeated: list[bool] = []  # per token: it ends an n-gram the draft wrote before
        self.near = 0  # repeated n-grams among the last NEAR_WINDOW tokens
        self.keep: int | None = None  # set when a loop is seen: the tokens before its second round
        self.lines = (0, 0)  # where the line before the current one starts, and where the current one starts

    def feed(self, token: int, ends_line: bool = False) -> bool:
        """Add the draft's next token (`ends_line`: its text holds a line break); True when the draft now ends
        in a loop (then `keep` is set)."""
        tokens = self.tokens
        tokens.append(token)
        length = len(tokens)
        if ends_line and self._line_repeated():
            return True
        # same[k]: the token k places before this one is this token (k up to MAX_PERIOD + 1).
        same = [True, *(earlier == token for earlier in reversed(tokens[-2 - MAX_PERIOD : -1]))]
        same += [False] * (MAX_PERIOD + 2 - len(same))
        runs, counts = self.runs, self.counts
        for period in range(1, MAX_PERIOD + 1):
            hit = same[period]
            runs[period] = runs[period] + 1 if hit else 0
            # A round of a sentence may be a token longer or shorter than the one before (a longer word).
            if period >= DRIFT_FROM:
                hit = hit or same[period - 1] or same[period + 1]
            bits, window = self.similar[period], FEED_WINDOWS[period]
            bits.append(hit)
            counts[period] += hit - (bits[-1 - window] if length > window else 0)
        gram = tuple(tokens[-NGRAM:])
        repeated = length >= NGRAM and gram in self.seen
        self.seen.add(gram)
        self.repeated.append(repeated)
        self.near += repeated - (self.repeated[-1 - NEAR_WINDOW] if length > NEAR_WINDOW else 0)
        self.keep = self._look(MIN_SPAN, FUZZY_SPAN, FUZZY_ROUNDS, NEAR_WINDOW)
        return self.keep is not None

    def _line_repeated(self) -> bool:
        """At a line's end: whether it repeats the line before it, token for token (then `keep` is set)."""
        before, start = self.lines
        line = self.tokens[start:]
        self.lines = (start, len(self.tokens))
        if len(line) >= LINE_MIN_TOKENS and self.tokens[before:start] == line:
            self.keep = start
            return True
        return False

    def settle(self) -> bool:
        """At the draft's length limit: True (and `keep` set) when it ends in a loop by the shorter spans."""
        self.keep = self._look(SETTLE_SPAN, SETTLE_SPAN, MIN_REPEATS - 1, SETTLE_WINDOW)
        return self.keep is not None

    def _look(self, exact_span: int, fuzzy_span: int, fuzzy_rounds: int, near_window: int) -> int | None:
        """Where the loop the draft now ends in began its second round, or None."""
        length = len(self.tokens)
        feeding = fuzzy_rounds == FUZZY_ROUNDS  # `feed` keeps counts and thresholds for its own spans
        needed = FEED_RUNS if feeding else _runs_needed(exact_span)
        for period, (run, least) in enumerate(zip(self.runs, needed, strict=True)):
            if period and run >= least:
                return length - run
        for period in range(2, MAX_PERIOD + 1):
            window = FEED_WINDOWS[period] if feeding else _fuzzy_window(period, fuzzy_span, fuzzy_rounds)
            if window > length:
                break  # windows grow with the period
            bits = self.similar[period]
            if (self.counts[period] if feeding else sum(bits[-window:])) >= FUZZY_SHARE * window:
                return _start(bits, window, FUZZY_SHARE)
        near = self.near if feeding else sum(self.repeated[-near_window:])
        if near_window <= length and near >= NEAR_SHARE * near_window:
            return _start(self.repeated, near_window, NEAR_SHARE) - (NGRAM - 1)
        return None
