"""Run by torchrun from test_distributed.py: one IR micro-step of the real trainer on 2 gloo ranks.

Writes the rank-averaged loss and the (DDP-averaged) gradients of every parameter to OUT/rank{r}.pt.
"""

from __future__ import annotations

import sys

import torch
import torch.distributed as dist

from youtu_embedding.train.config import build_config
from youtu_embedding.train.sampler import ItemRef
from youtu_embedding.train.trainer import Trainer


def main(model: str, data: str, out: str, per_rank: int) -> None:
    cfg = build_config(
        {
            "model": model,
            "data": [data],
            "output_dir": out,
            "num_threads": 1,
            "max_length": 48,
            "num_positives": 2,
            "num_negatives": 3,
            "ir_batch_size": per_rank,
            "dist_timeout": 120,
        }
    )
    trainer = Trainer(cfg)
    trainer._setup()
    rank, world = trainer.info.rank, trainer.info.world_size
    refs = tuple(ItemRef(0, i) for i in range(rank * per_rank, (rank + 1) * per_rank))
    loss, _ = trainer._micro_loss(refs, epoch=0, step=0, gather=True)
    loss.backward()
    mean = loss.detach().clone()
    dist.all_reduce(mean)
    grads = {n: p.grad.detach().clone() for n, p in trainer.model.named_parameters() if p.grad is not None}
    torch.save({"loss": float(mean) / world, "grads": grads, "world": world}, f"{out}/rank{rank}.pt")
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
