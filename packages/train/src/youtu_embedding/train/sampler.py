"""Batch plans: which items every rank trains on at each optimizer step.

A plan for one epoch is a list of :class:`Step`; a step holds ``grad_accum`` micro-steps, and each
micro-step holds one local batch per rank. Every rank computes the same plan from
``(seed, epoch)`` and takes its own slice, so shards are disjoint and resuming at a step index
reproduces the rest of the epoch exactly.

* ``dynamic`` (default, CoDiEmb): every file is shuffled and cut into **global** batches of its
  task's size (per-device size x world size x grad accumulation; remainder dropped); all global
  batches of all files are pooled and permuted. Every step is single-task and single-source, all
  ranks agree on the task, and each task gets updates in proportion to its data.
* ``single``: the same with one batch size for every task.
* ``mixed``: items of all files are pooled and shuffled together; a local batch may mix tasks and
  sources and ranks may be on different tasks (IR negatives then stay on the device).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from youtu_embedding.train.data import SubDataset

SAMPLERS = ("dynamic", "single", "mixed")


@dataclass(frozen=True)
class ItemRef:
    """One item: dataset index and row index."""

    dataset: int
    index: int


@dataclass(frozen=True)
class Step:
    """One optimizer step: ``micro[a][r]`` is rank r's local batch of micro-step a."""

    micro: tuple[tuple[tuple[ItemRef, ...], ...], ...]
    task: str  # "ir", "sts" or "mixed"
    dataset: str  # the sub-dataset name, or "mixed"

    def local(self, rank: int) -> list[tuple[ItemRef, ...]]:
        """This rank's local batches, one per micro-step."""
        return [m[rank] for m in self.micro]


def _rng(seed: int, epoch: int, salt: int = 0) -> np.random.Generator:
    return np.random.default_rng([seed, epoch, salt])


def _split(batch: list[ItemRef], world_size: int, grad_accum: int) -> tuple[tuple[tuple[ItemRef, ...], ...], ...]:
    per = len(batch) // (world_size * grad_accum)
    return tuple(
        tuple(tuple(batch[(a * world_size + r) * per : (a * world_size + r + 1) * per]) for r in range(world_size))
        for a in range(grad_accum)
    )


def epoch_plan(
    datasets: list[SubDataset],
    *,
    sampler: str = "dynamic",
    batch_sizes: dict[str, int],
    seed: int,
    epoch: int,
    world_size: int = 1,
    grad_accum: int = 1,
) -> list[Step]:
    """The steps of one epoch (identical on every rank).

    ``batch_sizes`` maps a task type (``ir``, ``sts``) or a dataset name to its per-device batch
    size; a dataset name wins over its task type. ``single`` and ``mixed`` use ``batch_sizes["all"]``.
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {list(SAMPLERS)}, got '{sampler}'")
    if world_size < 1 or grad_accum < 1:
        raise ValueError("world_size and grad_accum must be >= 1")
    steps: list[Step] = []
    if sampler == "mixed":
        size = batch_sizes["all"]
        items = [ItemRef(d, i) for d, ds in enumerate(datasets) for i in range(len(ds))]
        order = _rng(seed, epoch).permutation(len(items))
        glob = size * world_size * grad_accum
        for start in range(0, len(items) - glob + 1, glob):
            batch = [items[k] for k in order[start : start + glob]]
            steps.append(Step(_split(batch, world_size, grad_accum), "mixed", "mixed"))
        return steps
    for d, ds in enumerate(datasets):
        size = batch_sizes["all"] if sampler == "single" else batch_sizes.get(ds.name, batch_sizes[ds.task_type])
        glob = size * world_size * grad_accum
        order = _rng(seed, epoch, d + 1).permutation(len(ds))
        for start in range(0, len(ds) - glob + 1, glob):
            batch = [ItemRef(d, int(i)) for i in order[start : start + glob]]
            steps.append(Step(_split(batch, world_size, grad_accum), ds.task_type, ds.name))
    perm = _rng(seed, epoch).permutation(len(steps))
    return [steps[k] for k in perm]


def draw_texts(n_available: int, n_wanted: int, rng: np.random.Generator) -> list[int]:
    """Indices of ``n_wanted`` items out of ``n_available``: without replacement when enough, else with."""
    if n_available == 0 or n_wanted == 0:
        return []
    if n_available >= n_wanted:
        return [int(i) for i in rng.choice(n_available, size=n_wanted, replace=False)]
    return [int(i) for i in rng.choice(n_available, size=n_wanted, replace=True)]


def item_rng(seed: int, epoch: int, step: int, ref: ItemRef) -> np.random.Generator:
    """RNG for drawing one item's positives/negatives: the same on any rank and after a resume."""
    return np.random.default_rng([seed, epoch, step, ref.dataset, ref.index, 7])
