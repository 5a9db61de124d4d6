"""Devices and data-parallel training: `--device auto`, bf16 autocast, and torchrun's process group.

Under `torchrun --nproc_per_node K igan-lite train ...` every rank trains on its own batch (its own z,
cameras, real images and render workers: the preset's batch_size is per rank), and DistributedDataParallel
averages each net's gradients over the ranks at the backward pass of that net's own update. Rank 0 writes
the run folder; every rank keeps its RNG state beside the checkpoint, so a resumed run continues exactly.
"""
from __future__ import annotations

import contextlib
import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """"auto" -> cuda when present, else cpu; "cuda" without a GPU is an error, not a silent cpu run."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except RuntimeError as e:
        raise ValueError(f"device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}") from e
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: 'cuda' was asked for but torch sees no GPU (torch.cuda.is_available() is False); use --device auto or cpu")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device: only cpu and cuda are supported, got {device}")
    return device


def bf16_native(device: torch.device) -> bool:
    """Whether `device` computes bf16 convolutions natively: CUDA, or a CPU whose oneDNN has AVX512-BF16/AMX
    kernels (elsewhere bf16 is emulated and slower than float32)."""
    if device.type == "cuda":
        return True
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(torch.backends.mkldnn.is_available() and check is not None and check())


def autocast(device: torch.device, enabled: bool):
    """bf16 autocast for the generator's and the proxy's forward passes (the 3D convolutions, where the time
    goes); D, the losses and the renderer stay float32. bf16 keeps float32's range: no loss scaling needed."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


@dataclass(frozen=True)
class Rank:
    """This process's place in a torchrun job."""

    rank: int
    world: int

    @property
    def main(self) -> bool:
        return self.rank == 0

    def mean(self, value: float) -> float:
        """The average of `value` over the ranks (so all of them take the same decision)."""
        if self.world == 1:
            return value
        t = torch.tensor([float(value)], dtype=torch.float64)
        dist.all_reduce(t)
        return t.item() / self.world

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def wrap(self, module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        """`module` for the forward pass that precedes its own update: wrapped in DDP when world > 1."""
        if self.world == 1:
            return module
        return DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None)


SINGLE = Rank(0, 1)


def init_from_env(device: torch.device) -> Rank:
    """Join torchrun's process group when launched by it (WORLD_SIZE > 1), else the single-process Rank.
    Backend: nccl on cuda, gloo on cpu; each rank uses GPU LOCAL_RANK."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return SINGLE
    if device.type == "cuda":  # before the process group, so NCCL binds this rank to its own GPU
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Rank(dist.get_rank(), dist.get_world_size())


def leave() -> None:
    """Leave torchrun's process group (end of train()), and free it now: a gloo group left for the interpreter's
    teardown to free can abort the process there (SIGABRT, "terminate called without an active exception")."""
    if dist.is_initialized():
        dist.destroy_process_group()
        gc.collect()


def cuda_device_of(rank_device: torch.device) -> torch.device:
    """cuda -> cuda:LOCAL_RANK under torchrun; anything else unchanged."""
    if rank_device.type == "cuda" and rank_device.index is None and "LOCAL_RANK" in os.environ:
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return rank_device
