"""JSON API for comparisons and blind review: comparisons with metrics and items, the next blind pair,
votes, win rates, and the two fixes (promote a draft, mark a reference bad). Tag "review"."""

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel as Schema
from pydantic import Field
from sqlalchemy.orm import Session

from app.db import get_session
from app.evaluation.win_rate import WinRate
from app.models import Adapter
from app.review_models import Comparison
from app.routes.compare_views import comparison_header, verdict_evidence
from app.routes.roles import Editor, Reader
from app.services import comparisons as comparisons_service
from app.services import reviews as reviews_service
from app.services.comparison_summary import summarise

router = APIRouter(prefix="/api", tags=["review"])
SessionDep = Annotated[Session, Depends(get_session)]


class WinRateOut(Schema):
    """Blind judgements of an adapter: the share the adapted draft won (a tie counts half) and its 95% CI."""

    rate: float | None = Field(description="0–1; null before any judgement")
    low: float
    high: float
    wins: int = Field(description="adapted draft preferred")
    losses: int = Field(description="base draft preferred")
    ties: int
    both_bad: int
    judged: int = Field(description="wins + losses + ties")
    sentence: str
    verdict: str

    @classmethod
    def of(cls, rate: WinRate) -> "WinRateOut":
        """The API view of a WinRate."""
        low, high = rate.interval
        return cls(
            rate=rate.rate, low=round(low, 4), high=round(high, 4), wins=rate.wins, losses=rate.losses,
            ties=rate.ties, both_bad=rate.both_bad, judged=rate.judged, sentence=rate.sentence(),
            verdict=rate.verdict(),
        )  # fmt: skip


class ComparisonOut(Schema):
    """A comparison: which adapter, whether the worker is done writing drafts, and the win rate."""

    id: int
    adapter_id: int
    adapter_name: str
    run_id: int | None
    state: str
    status_text: str
    error: str | None
    done: int
    total: int
    queued_at: datetime
    finished_at: datetime | None
    win_rate: WinRateOut

    @staticmethod
    def fields(session: Session, comparison: Comparison) -> dict[str, Any]:
        """The fields ComparisonOut and ComparisonDetail share."""
        header = comparison_header(session, comparison)
        rate = reviews_service.comparison_win_rate(session, comparison)
        return {
            "id": comparison.id, "adapter_id": comparison.adapter_id, "adapter_name": header["adapter_name"],
            "run_id": header["run_id"], "state": comparison.state, "status_text": header["status_text"],
            "error": comparison.error, "done": comparison.done, "total": comparison.total,
            "queued_at": comparison.queued_at, "finished_at": comparison.finished_at,
            "win_rate": WinRateOut.of(rate),
        }  # fmt: skip


class MetricOut(Schema):
    """One measure, base vs adapted, with which way is better and what it means."""

    key: str
    label: str
    base: float | None
    adapted: float | None
    base_text: str
    adapted_text: str
    better: str = Field(description="lower | higher | closer_to_1")
    winner: str | None = Field(description="base | adapted | null when equal")
    explanation: str


class HouseTermOut(Schema):
    """A term frequent in the training outputs and rare in the base drafts; drafts of each model using it."""

    term: str
    train_share: float
    base_uses: int
    adapted_uses: int


class ItemOut(Schema):
    """One held-out example: the brief, the reference, both drafts and their scores (null until written)."""

    id: int
    position: int
    kind: str
    example_id: int | None
    instruction: str
    input: str
    reference: str
    base_output: str | None
    adapted_output: str | None
    base_tokens: int
    adapted_tokens: int
    base_stop: str
    adapted_stop: str
    base_chrf: float | None
    adapted_chrf: float | None
    drafts_chrf: float | None = Field(description="similarity of the two drafts to each other")
    verdict: str | None = Field(description="better | worse | even: adapted vs base, by closeness")
    reference_bad: bool


class IntervalOut(Schema):
    """A mean with its 95% confidence interval."""

    mean: float
    low: float
    high: float


class EvidenceOut(Schema):
    """One row of evidence beside the verdict, as the page shows it."""

    label: str
    base: str
    adapted: str
    base_range: str = Field("", description="95% interval of the base value, when it has one")
    adapted_range: str = Field("", description="95% interval of the adapted value, when it has one")
    note: str


class VerdictOut(Schema):
    """Whether the adapter made the drafts closer to the references, in words, with the numbers behind it."""

    kind: str = Field(description="helped | no_help | hurt | unclear | too_few | waiting")
    headline: str
    detail: str
    advice: list[str] = Field(description="What to try when the adapter did not clearly help")
    cases: int = Field(description="Held-out examples with both drafts and a trusted reference")
    better: int = Field(description="Examples where the adapted draft is clearly closer")
    worse: int = Field(description="Examples where the base draft is clearly closer")
    even: int
    base: IntervalOut | None = Field(description="Mean similarity (chrF 0–100) of the base drafts")
    adapted: IntervalOut | None = Field(description="Mean similarity (chrF 0–100) of the adapted drafts")
    gain: IntervalOut | None = Field(description="Adapted minus base, example by example")
    evidence: list[EvidenceOut]


class ReviewerOut(Schema):
    """Someone who judged pairs of this comparison."""

    name: str
    judgements: int


class ComparisonDetail(ComparisonOut):
    """A comparison with its metrics, house terms, reviewers and items (filtered by `show`)."""

    metrics: list[MetricOut]
    house_terms: list[HouseTermOut]
    scored: int
    better: int
    worse: int
    even: int
    verdict: VerdictOut
    reviewers: list[ReviewerOut]
    items: list[ItemOut]


class PairOut(Schema):
    """A blind pair: the brief and drafts A and B (which model wrote which is not said)."""

    item_id: int
    kind: str
    instruction: str
    input: str
    reference: str
    a: str
    b: str
    your_vote: str | None = Field(description="A | B | same | both_bad, when you judged it before")
    comment: str
    number: int


class NextPairOut(Schema):
    """The pair to judge next (null when you have judged every written pair) and how far you are."""

    pair: PairOut | None
    reviewed: int
    total: int


class VoteIn(Schema):
    """A verdict on a blind pair, in the A/B terms it was shown in; voting again replaces it."""

    choice: str = Field(description="A | B | same | both_bad")
    comment: str = Field("", max_length=reviews_service.MAX_COMMENT_CHARS)


class VoteOut(Schema):
    """The verdict recorded, and the adapter's win rate with it."""

    item_id: int
    choice: str
    comment: str
    win_rate: WinRateOut


class PromoteIn(Schema):
    """The draft (edited as needed) to keep as a training example; brief and input default to the pair's."""

    output: str
    instruction: str | None = None
    input: str | None = None


class FixOut(Schema):
    """What a fix did: the example it made or changed, the dataset it joined, in words."""

    example_id: int
    dataset_id: int | None = None
    message: str


@router.get("/comparisons")
def list_comparisons(
    actor: Reader,
    session: SessionDep,
    adapter_id: int | None = Query(None, description="Only this adapter's"),
) -> list[ComparisonOut]:
    """The workspace's comparisons, newest first, with progress and win rate."""
    rows = comparisons_service.list_comparisons(session, actor.workspace.id, adapter_id)
    return [ComparisonOut(**ComparisonOut.fields(session, comparison)) for comparison, _ in rows]


@router.get("/comparisons/{comparison_id}")
def get_comparison(
    comparison_id: int,
    actor: Reader,
    session: SessionDep,
    show: str = Query("all", description="all | better | worse | different"),
) -> ComparisonDetail:
    """A comparison's metrics, house terms, win rate and items (poll it while the worker writes drafts)."""
    comparison = comparisons_service.get_comparison(session, actor.workspace.id, comparison_id)
    scores = comparisons_service.score_items(session, comparison.items)
    summary = summarise(session, comparison, scores)
    items = comparisons_service.filter_items(comparison.items, scores, show)
    adapter = session.get(Adapter, comparison.adapter_id)
    rate = reviews_service.comparison_win_rate(session, comparison)
    evidence = verdict_evidence(summary, rate, (adapter.metrics or {}) if adapter else {})
    return ComparisonDetail(
        **ComparisonOut.fields(session, comparison),
        metrics=[MetricOut(**vars(m), winner=m.winner) for m in summary.metrics],
        house_terms=[HouseTermOut(**vars(t)) for t in summary.house_terms],
        scored=summary.scored,
        better=summary.better,
        worse=summary.worse,
        even=summary.even,
        verdict=VerdictOut(**asdict(summary.verdict), evidence=[EvidenceOut(**row) for row in evidence]),
        reviewers=[
            ReviewerOut(name=n, judgements=c) for n, c in reviews_service.reviewers(session, comparison)
        ],
        items=[_item_out(item, scores.get(item.id)) for item in items],
    )


def _item_out(item: Any, score: comparisons_service.ItemScores | None) -> ItemOut:
    """The API view of one item and its scores."""
    return ItemOut(
        id=item.id, position=item.position, kind=item.kind, example_id=item.example_id,
        instruction=item.instruction, input=item.input, reference=item.reference,
        base_output=item.base_output, adapted_output=item.adapted_output, base_tokens=item.base_tokens,
        adapted_tokens=item.adapted_tokens, base_stop=item.base_stop, adapted_stop=item.adapted_stop,
        base_chrf=score.base_chrf if score else None, adapted_chrf=score.adapted_chrf if score else None,
        drafts_chrf=score.drafts_chrf if score else None, verdict=score.verdict if score else None,
        reference_bad=bool(score and score.reference_bad),
    )  # fmt: skip


@router.get("/comparisons/{comparison_id}/next-pair")
def next_pair(
    comparison_id: int,
    actor: Reader,
    session: SessionDep,
    item_id: int | None = Query(None, description="This pair instead (to look again or change a vote)"),
) -> NextPairOut:
    """The next pair you have not judged, as A and B in your own random order."""
    comparison = comparisons_service.get_comparison(session, actor.workspace.id, comparison_id)
    pair = reviews_service.blind_pair(session, comparison, actor.user.id, item_id)
    total = len(reviews_service.reviewable(comparison))
    if pair is None:
        return NextPairOut(pair=None, reviewed=total, total=total)
    out = PairOut(
        item_id=pair.item.id, kind=pair.item.kind, instruction=pair.item.instruction, input=pair.item.input,
        reference=pair.item.reference, a=pair.a_text, b=pair.b_text, your_vote=pair.verdict,
        comment=pair.comment, number=pair.number,
    )  # fmt: skip
    return NextPairOut(pair=out, reviewed=pair.reviewed, total=pair.total)


@router.put("/comparison-items/{item_id}/judgement")
def vote(item_id: int, body: VoteIn, actor: Reader, session: SessionDep) -> VoteOut:
    """Judge a blind pair (A, B, same or both_bad, with an optional comment); again to change it."""
    item = reviews_service.get_item(session, actor.workspace.id, item_id)
    judgement = reviews_service.cast_vote(
        session, actor.workspace.id, actor.user.id, item_id, body.choice, body.comment
    )
    comparison = session.get(Comparison, item.comparison_id)
    return VoteOut(
        item_id=item_id,
        choice=body.choice,
        comment=judgement.comment,
        win_rate=WinRateOut.of(reviews_service.comparison_win_rate(session, comparison)),
    )


@router.post("/comparison-items/{item_id}/promote", status_code=201)
def promote(item_id: int, body: PromoteIn, actor: Editor, session: SessionDep) -> FixOut:
    """Keep a (edited) draft as a new training example, added to the run's dataset."""
    example, dataset = reviews_service.promote_draft(
        session, actor, item_id, body.output, body.instruction, body.input
    )
    return FixOut(
        example_id=example.id,
        dataset_id=dataset.id if dataset else None,
        message=reviews_service.promoted_message(example, dataset),
    )


@router.post("/comparison-items/{item_id}/bad-reference")
def bad_reference(item_id: int, actor: Editor, session: SessionDep) -> FixOut:
    """Mark the pair's reference bad: its example is tagged and excluded from training."""
    example = reviews_service.mark_reference_bad(session, actor, item_id)
    return FixOut(example_id=example.id, message=reviews_service.bad_reference_message(example))
