"""The launch check of a training run: presets, the time and size estimate, and what blocks Start.

Token counts are real (the base model's own tokenizer when it is on this host, else the stored counts) and
the speed is the worker's measured one (a default guess before the first run on that model).
"""

import math
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.orm import Session

from app.curation.records import HELDOUT, TRAIN, ExampleRecord
from app.curation.tokens import CHARS_PER_TOKEN, get_token_counter, prompt_text
from app.models import BaseModel
from app.services import model_catalog as catalog
from app.services.datasets import get_dataset
from app.services.errors import FieldErrors
from app.services.health import load_records
from app.training.estimate import (
    SMOLLM2_135M_LINEAR_SHAPES,
    SMOLLM2_TEMPLATE_TOKENS,
    STARTUP_SECONDS,
    Estimate,
    estimate,
)
from app.training.presets import (
    PRESET_NAMES,
    REFERENCE_PARAMS,
    DataProfile,
    Hyperparameters,
    describe,
    presets,
    validate,
)


@dataclass
class LaunchCheck:
    """What the launch form shows: presets, the estimate, problems that block Start and warnings."""

    model: BaseModel | None
    train_count: int
    heldout_count: int
    presets: dict[str, Hyperparameters]
    preset_text: dict[str, str]
    hyperparameters: Hyperparameters | None
    estimate: Estimate | None
    tokens_per_second: float
    speed_measured: bool  # False while the speed is the default guess
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def can_start(self) -> bool:
        """True when nothing blocks Start."""
        return not self.problems

    @property
    def estimate_text(self) -> str:
        """E.g. 'about 4 minutes on this machine; adapter ~19 MB' (a first guess before any measured run)."""
        if self.estimate is None:
            return ""
        text = self.estimate.summary()
        return text if self.speed_measured else f"{text} (a first guess until a run has been measured)"


def token_count(record: ExampleRecord, template_tokens: int = SMOLLM2_TEMPLATE_TOKENS) -> int:
    """Rendered tokens of one example: its counted prompt and answer plus the chat template's share."""
    prompt = record.prompt_tokens
    if prompt is None:
        prompt = math.ceil((len(record.instruction) + len(record.input) + 2) / CHARS_PER_TOKEN)
    output = record.output_tokens
    if output is None:
        output = math.ceil(len(record.output) / CHARS_PER_TOKEN)
    return prompt + output + template_tokens


def token_counts(model: BaseModel, records: list[ExampleRecord]) -> list[int]:
    """Rendered tokens of each example, counted with the model's own tokenizer when it is on this host."""
    return token_lengths(model, records)[0]


def token_lengths(model: BaseModel, records: list[ExampleRecord]) -> tuple[list[int], list[int]]:
    """(rendered tokens, answer tokens) of each example, with the model's own tokenizer when it is here."""
    counter = get_token_counter(catalog.tokenizer_path(model))
    if not counter.exact or not records:
        answers = [r.output_tokens or math.ceil(len(r.output) / CHARS_PER_TOKEN) for r in records]
        return [token_count(r) for r in records], answers
    prompts = counter.count([prompt_text(r.instruction, r.input) for r in records])
    outputs = counter.count([r.output for r in records])
    rendered = [p + o + counter.template_tokens for p, o in zip(prompts, outputs, strict=True)]
    return rendered, outputs


def with_overrides(
    value: Hyperparameters | dict[str, Any] | None, fallback: Hyperparameters
) -> Hyperparameters:
    """`value` as Hyperparameters: a dict overrides the fallback's fields (unknown keys ignored).

    A preset may end inside its last pass (`max_steps`); whoever sets the passes or the batch themselves
    gets every step of every pass they asked for.
    """
    if value is None:
        return fallback
    if isinstance(value, Hyperparameters):
        return value
    values = {**fallback.to_dict(), **value}
    if "max_steps" not in value and {"epochs", "batch_size", "grad_accum"} & set(value):
        values["max_steps"] = 0
    return Hyperparameters.from_dict(values)


def launch_check(
    session: Session,
    workspace_id: int,
    dataset_id: int,
    base_model_id: int | None,
    hp: Hyperparameters | dict[str, Any] | None = None,
    preset: str = "balanced",
) -> LaunchCheck:
    """Presets, the estimate (real token counts, measured speed) and what blocks or warns about a run."""
    dataset = get_dataset(session, workspace_id, dataset_id)
    records = [r for r in load_records(session, workspace_id, dataset_id=dataset.id) if r.included]
    return check_records(session, workspace_id, dataset.name, records, base_model_id, hp, preset)


def check_records(
    session: Session,
    workspace_id: int,
    name: str,
    records: list[ExampleRecord],
    base_model_id: int | None,
    hp: Hyperparameters | dict[str, Any] | None = None,
    preset: str = "balanced",
) -> LaunchCheck:
    """The launch check of a run on `records` (a dataset's included examples, or a frozen snapshot's)."""
    train = [r for r in records if r.split == TRAIN]
    heldout = [r for r in records if r.split == HELDOUT]
    model = (
        catalog.get_model(session, workspace_id, base_model_id)
        if base_model_id is not None
        else catalog.default_model(session, workspace_id)
    )
    counts, answers = token_lengths(model, train)
    kinds = Counter(r.kind for r in train)
    choices = presets(
        DataProfile(counts, answers, kinds, model.params or REFERENCE_PARAMS, model.context_tokens)
    )
    if preset not in choices:
        # A typo must not silently train for another length of time.
        raise FieldErrors(
            {"preset": f"“{preset[:40]}” is not a preset; choose one of {', '.join(PRESET_NAMES)}."}
        )
    chosen = with_overrides(hp, choices[preset])
    speed_row = catalog.measured_speed(session, model.id)
    speed = speed_row.tokens_per_second if speed_row else catalog.guessed_tokens_per_second(model)
    check = LaunchCheck(
        model=model,
        train_count=len(train),
        heldout_count=len(heldout),
        presets=choices,
        preset_text={name: describe(name, choices[name], len(train)) for name in PRESET_NAMES},
        hyperparameters=chosen,
        estimate=None,
        tokens_per_second=speed,
        speed_measured=speed_row is not None,
    )
    if not records:
        check.problems.append(
            f"“{name}” has no included examples. Add examples to the dataset, or include excluded ones."
        )
    elif not train:
        check.problems.append(
            f"All examples of “{name}” are held out; mark some as training examples on the examples page."
        )
    if records and not heldout:
        check.problems.append(
            f"“{name}” has no held-out examples, so nobody could tell whether training helped. "
            "Use “Split automatically” on the dataset page, or mark a few examples as held-out."
        )
    check.problems.extend(validate(chosen, model.context_tokens))
    over = sum(count > model.context_tokens for count in counts)
    if over:
        check.warnings.append(context_warning(over, model))
    fit, capacity = catalog.worker_for(session, model)
    if fit is False and capacity is not None:
        check.problems.append(catalog.too_large_message(model, capacity))
    elif fit is None:
        check.warnings.append("No worker has reported yet; the run waits until one starts.")
    if train and not check.problems:
        shapes = model.layer_shapes or SMOLLM2_135M_LINEAR_SHAPES
        est = estimate(
            counts, chosen, speed, model.params, {k: tuple(v) for k, v in shapes.items()},
            # A measured speed already includes the held-out checks' time (see ProgressWriter.steady_speed).
            None if speed_row is not None else token_counts(model, heldout),
        )  # fmt: skip
        if speed_row is not None:
            # The worker measured its own fixed cost (loading, saving): use it instead of the generic one.
            est = _with_overhead(est, speed_row.overhead_seconds)
        check.estimate = est
        if est.cut_examples > over:  # cut by the chosen length, not only by the model's context
            check.warnings.append(
                f"{est.cut_examples} examples are longer than {chosen.max_length:,} tokens and will be cut."
            )
    return check


def context_warning(count: int, model: BaseModel) -> str:
    """ "7 examples are longer than Qwen2.5 0.5B's 2,048 tokens: split them or they will be cut"."""
    examples = "1 example is" if count == 1 else f"{count:,} examples are"
    return (
        f"{examples} longer than {model.name}'s {model.context_tokens:,} tokens: split them or they will be "
        "cut (Split is on the examples page, beside each one and in the health panel)."
    )


def _with_overhead(est: Estimate, overhead: float) -> Estimate:
    """The estimate with the generic startup time replaced by the measured overhead."""
    return replace(est, seconds=max(0.0, est.seconds - STARTUP_SECONDS + overhead))
