"""What the training benchmark measures, the same way for every arm: held-out loss, FLOPs, peak, memory.

FLOPs are the work the training *needs*, counted once from the token sequences and the model's shape,
never from what an arm happens to compute: a padded or full-logits arm does more arithmetic for the
same progress, and that shows up as a lower share of the peak, not as a higher FLOP count.
"""

import resource
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from worker.training.batching import micro_batches
from worker.training.config import Runtime, physical_cores
from worker.training.data import ExampleLike, TokenizedExample, prepare
from worker.training.loss import evaluate
from worker.training.model import linear_shapes

# x86 cores since Haswell / Zen have two FMA pipes; an FMA is two floating-point operations.
FMA_UNITS = 2
FLOPS_PER_FMA = 2


def heldout_loss(model: Any, tokenizer: Any, heldout: Sequence[ExampleLike], max_length: int) -> float:
    """Mean loss per answer token on the held-out pairs: one example per row, full logits, dropout off.

    Every arm's trained model goes through this one function, with Lastmile's tokenisation, so the
    numbers compare whatever each arm did inside its training loop.
    """
    examples = prepare(tokenizer, heldout, max_length).examples
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    batches = micro_batches(examples, 4, pad_id, pack=False)
    loss = evaluate(model, batches, Runtime(torch.device("cpu"), torch.float32), head_only=False)
    if loss is None:
        raise ValueError("The held-out examples have no answer tokens to score.")
    return loss


def peak_rss_bytes() -> int:
    """This process's peak resident memory so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclass(frozen=True)
class ModelShape:
    """What the FLOP count needs from a causal LM: linear layers, attention width, depth, vocabulary."""

    linears: dict[str, tuple[int, int]]  # decoder linear layers (LoRA targets), output layer left out
    attention_width: int  # heads x head dim
    layers: int
    hidden: int
    vocab: int

    @classmethod
    def of(cls, model_dir: Path) -> "ModelShape":
        """The shape of the model in `model_dir`, built on the meta device (no weights read)."""
        from transformers import AutoConfig, AutoModelForCausalLM

        config = AutoConfig.from_pretrained(str(model_dir))
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config)
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        return cls(
            linears=linear_shapes(model),
            attention_width=config.num_attention_heads * head_dim,
            layers=config.num_hidden_layers,
            hidden=config.hidden_size,
            vocab=config.vocab_size,
        )

    def training_flops(self, examples: Sequence[TokenizedExample], rank: int) -> float:
        """FLOPs one LoRA training pass over `examples` needs (forward + backward).

        Per token: 4 x the frozen linear weights (forward, and the gradient w.r.t. their input; none for
        the frozen weights themselves) + 6 x the LoRA weights (forward, input and weight gradients).
        Per answer token: 4 x the output layer (the only positions with a loss). Per example: causal
        attention scores and weighted sums, 4 x width x n(n+1)/2 per layer forward, twice that backward.
        """
        frozen = sum(i * o for i, o in self.linears.values())
        lora = sum(rank * (i + o) for i, o in self.linears.values())
        tokens = sum(len(e.ids) for e in examples)
        answers = sum(e.answer_tokens for e in examples)
        pairs = sum(len(e.ids) * (len(e.ids) + 1) // 2 for e in examples)
        attention = 3 * 4 * self.attention_width * pairs * self.layers
        return tokens * (4 * frozen + 6 * lora) + answers * 4 * self.hidden * self.vocab + attention


def _cpuinfo(field: str) -> str:
    """The first value of `field` in /proc/cpuinfo ('' when absent)."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.partition(":")[0].strip() == field:
            return line.partition(":")[2].strip()
    return ""


def fma_lanes(flags: set[str], vendor: str, family: int) -> int:
    """fp32 values one FMA unit handles per cycle: the width of its datapath, not of the instructions.

    AMD's Zen 3 and Zen 4 (family 25) run AVX-512 on 256-bit units, two passes per instruction, so
    avx512f there still means 8 lanes per cycle; Intel's AVX-512 cores and Zen 5 (family 26) have 512-bit
    units.
    """
    if "avx512f" in flags and not (vendor == "AuthenticAMD" and family < 26):
        return 16
    return 8 if "avx" in flags else 4


def _clock_ghz() -> float:
    """The highest clock /proc/cpuinfo reports (a VM shows the nominal clock, not the turbo)."""
    clocks = [
        float(line.partition(":")[2])
        for line in Path("/proc/cpuinfo").read_text().splitlines()
        if line.startswith("cpu MHz")
    ]
    return max(clocks) / 1000 if clocks else 0.0


@dataclass(frozen=True)
class CpuPeak:
    """This CPU's nominal fp32 peak and how it was derived."""

    cores: int
    lanes: int  # fp32 values per FMA unit and cycle
    clock_ghz: float
    cpu: str  # vendor, family and model name, as /proc/cpuinfo gives them

    @classmethod
    def of_this_machine(cls) -> "CpuPeak":
        """Physical cores, FMA datapath width from the flags and CPU family (`fma_lanes`), clock."""
        vendor, family = _cpuinfo("vendor_id"), int(_cpuinfo("cpu family") or 0)
        lanes = fma_lanes(set(_cpuinfo("flags").split()), vendor, family)
        return cls(
            physical_cores(), lanes, _clock_ghz(), f"{_cpuinfo('model name')} ({vendor}, family {family})"
        )

    @property
    def gflops(self) -> float:
        """cores x FMA units x lanes x 2 x clock."""
        return self.cores * FMA_UNITS * self.lanes * FLOPS_PER_FMA * self.clock_ghz

    def describe(self) -> str:
        """The derivation, for the benchmark's output."""
        return (
            f"{self.cpu}: {self.cores} cores x {FMA_UNITS} FMA units x {self.lanes} fp32 lanes x "
            f"{FLOPS_PER_FMA} x {self.clock_ghz:.2f} GHz = {self.gflops:.0f} GFLOP/s"
        )


def sgemm_gflops(size: int = 1536, repeats: int = 8) -> float:
    """What a large fp32 matrix product reaches here now: the practical ceiling under the current load."""
    torch.set_num_threads(physical_cores())
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm-up: thread pool and packing buffers
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - started) / 1e9
