"""Where and how training runs: device, precision, thread count, and the error type shown to users."""

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch


class TrainingError(Exception):
    """A run that cannot go on; the message is shown to the user as is: what is wrong, what to do."""


def physical_cores() -> int:
    """Physical CPU cores this process may use (hyper-threads share a core's math units)."""
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    cores: set[tuple[str, str]] = set()
    try:
        physical_id = core_id = ""
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "physical id":
                physical_id = value.strip()
            elif key == "core id":
                core_id = value.strip()
                cores.add((physical_id, core_id))
    except OSError:
        return max(1, allowed)
    return max(1, min(allowed, len(cores) or allowed))


@dataclass(frozen=True)
class Runtime:
    """The device a run uses and its precision: fp32 on CPU, bf16 autocast on CUDA."""

    device: torch.device
    dtype: torch.dtype  # the base model's weights; LoRA weights always stay fp32

    @property
    def is_cuda(self) -> bool:
        """True on a GPU."""
        return self.device.type == "cuda"

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        """bf16 autocast on CUDA (matmuls in bf16, reductions in fp32); plain fp32 on CPU."""
        if self.is_cuda:
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
                yield
        else:
            yield


def pick_runtime() -> Runtime:
    """CUDA with bf16 weights when a GPU is present, else CPU fp32 with a thread per physical core."""
    if torch.cuda.is_available():
        return Runtime(torch.device("cuda"), torch.bfloat16)
    torch.set_num_threads(physical_cores())
    return Runtime(torch.device("cpu"), torch.float32)
