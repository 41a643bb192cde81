"""Process-group helpers: torchrun environment, and all-gather with gradients (cross-device negatives)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """Rank, world size and local rank of this process (1 process: 0, 1, 0)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device_type: str, timeout_s: float = 1800.0) -> DistInfo:
    """Join the torchrun process group (gloo on CPU, NCCL on CUDA) when ``WORLD_SIZE`` > 1.

    ``timeout_s`` bounds how long this rank waits for the others, so a lost peer fails the run
    with an error instead of hanging it.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout_s))
        _OWNED_GROUP.append(True)
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


_OWNED_GROUP: list[bool] = []  # non-empty when init_distributed created the default group


def shutdown_distributed() -> None:
    """Leave the process group that :func:`init_distributed` created (a no-op otherwise).

    Every rank waits for the others first; exiting with a live gloo group can hang at interpreter exit.
    """
    if _OWNED_GROUP and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
        _OWNED_GROUP.clear()


def gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor`` from every rank along dim 0, keeping gradients to every rank's part.

    Shapes may differ along dim 0 (ranks pad to the largest and the padding is cut off again).
    Uses :func:`torch.distributed.nn.functional.all_gather`, whose backward sends each rank the
    gradient of its own slice summed over all ranks' losses.
    """
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return tensor
    from torch.distributed.nn.functional import all_gather

    n = torch.tensor([tensor.shape[0]], device=tensor.device)
    sizes = [torch.zeros_like(n) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, n)
    counts = [int(s) for s in sizes]
    longest = max(counts)
    if tensor.shape[0] < longest:
        pad = tensor.new_zeros((longest - tensor.shape[0], *tensor.shape[1:]))
        tensor = torch.cat([tensor, pad], dim=0)
    parts = all_gather(tensor)
    return torch.cat([p[:c] for p, c in zip(parts, counts, strict=True)], dim=0)


def all_reduce_mean(value: float, device: torch.device) -> float:
    """Mean of a float over ranks (for logging)."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t) / dist.get_world_size()


def barrier() -> None:
    """Wait for every rank (no-op in one process)."""
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()
