"""Batch plans: dynamic single-task, single, mixed; determinism; disjoint shards; same task on every rank."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path

import pytest

from youtu_embedding.train.data import Example, SubDataset, Text
from youtu_embedding.train.sampler import draw_texts, epoch_plan


def _ds(name: str, task: str, n: int) -> SubDataset:
    t = Text("", "", "x")
    ex = [Example(task, t, (t,), (), (0.5,) if task == "sts" else ()) for _ in range(n)]
    return SubDataset(name, Path(name), task, ex)


DATASETS = [_ds("ir/a", "ir", 50), _ds("ir/b", "ir", 23), _ds("sts/c", "sts", 70)]
SIZES = {"ir": 4, "sts": 6, "all": 5}


def _flat(step, rank):
    return [ref for micro in step.local(rank) for ref in micro]


@pytest.mark.parametrize(("world", "accum"), [(1, 1), (2, 1), (2, 2), (3, 1)])
def test_dynamic_single_task_disjoint_shards(world, accum):
    plan = epoch_plan(DATASETS, batch_sizes=SIZES, seed=1, epoch=0, world_size=world, grad_accum=accum)
    seen = Counter()
    for step in plan:
        ds_ids = {ref.dataset for r in range(world) for ref in _flat(step, r)}
        assert len(ds_ids) == 1  # single-source, hence single-task, on every rank
        size = SIZES[DATASETS[ds_ids.pop()].task_type]
        for r in range(world):
            assert all(len(m) == size for m in step.local(r))
        refs = [ref for r in range(world) for ref in _flat(step, r)]
        assert len(set(refs)) == len(refs)  # ranks and micro-steps are disjoint
        seen.update(refs)
    assert max(seen.values()) == 1  # no item twice in an epoch
    # every dataset contributes floor(n / global batch) steps: updates in proportion to its data
    steps_per_ds = Counter(step.dataset for step in plan)
    for ds in DATASETS:
        assert steps_per_ds.get(ds.name, 0) == len(ds) // (SIZES[ds.task_type] * world * accum)


def test_deterministic_by_seed_and_epoch():
    a = epoch_plan(DATASETS, batch_sizes=SIZES, seed=3, epoch=1, world_size=2)
    assert a == epoch_plan(DATASETS, batch_sizes=SIZES, seed=3, epoch=1, world_size=2)
    assert a != epoch_plan(DATASETS, batch_sizes=SIZES, seed=3, epoch=2, world_size=2)
    assert a != epoch_plan(DATASETS, batch_sizes=SIZES, seed=4, epoch=1, world_size=2)


def test_tasks_are_interleaved_not_blocked():
    plan = epoch_plan(DATASETS, batch_sizes=SIZES, seed=0, epoch=0)
    tasks = [s.task for s in plan]
    switches = sum(1 for x, y in itertools.pairwise(tasks) if x != y)
    assert switches > 3


def test_dataset_batch_size_override_and_single_sampler():
    plan = epoch_plan(DATASETS, batch_sizes={**SIZES, "ir/b": 2}, seed=0, epoch=0)
    assert {len(s.micro[0][0]) for s in plan if s.dataset == "ir/b"} == {2}
    single = epoch_plan(DATASETS, sampler="single", batch_sizes=SIZES, seed=0, epoch=0)
    assert {len(s.micro[0][0]) for s in single} == {5}
    assert all(s.task in ("ir", "sts") for s in single)


def test_mixed_sampler_mixes_sources():
    plan = epoch_plan(DATASETS, sampler="mixed", batch_sizes=SIZES, seed=0, epoch=0, world_size=2)
    assert all(s.task == "mixed" for s in plan)
    assert len(plan) == sum(len(d) for d in DATASETS) // (5 * 2)
    assert any(len({ref.dataset for ref in s.micro[0][0]}) > 1 for s in plan)


def test_unknown_sampler():
    with pytest.raises(ValueError, match="sampler must be one of"):
        epoch_plan(DATASETS, sampler="random", batch_sizes=SIZES, seed=0, epoch=0)


def test_draw_with_and_without_replacement():
    import numpy as np

    rng = np.random.default_rng(0)
    assert sorted(draw_texts(5, 5, rng)) == [0, 1, 2, 3, 4]
    drawn = draw_texts(1, 3, rng)
    assert drawn == [0, 0, 0]
    assert draw_texts(0, 4, rng) == []
