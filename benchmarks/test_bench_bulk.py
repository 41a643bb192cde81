"""Throughput of bulk embedding on Ray Data against in-process ``Encoder.encode`` on the same texts.

Group ``bulk-minilm`` (ratios computed by summarize.py from the same run; target >= 0.85):

* ``baseline``: ``Encoder("all-MiniLM-L6-v2").encode(texts)`` in this process (model already loaded);
* ``library``: :func:`youtu_embedding.bulk.embed_to_parquet` on an already running local Ray
  (2 CPUs), as on a cluster that is up: actor start, model load, reading 20 JSONL partitions,
  embedding and writing Parquet are all inside the timing;
* ``cli``: the whole ``youtu-embed batch`` command in a fresh process, Ray start-up included.

The texts are 100,000 real sentences and questions from ../shared/data, in this order: STS-B en
and SICK training pairs (20,498), AFQMC, STS-B zh and SimCLUE training texts: a bulk job is large,
and at this size the fixed start-up (worker start, imports, model load; Ray start-up for the
command) is a few percent of the run. ``YOUTU_BENCH_BULK_TEXTS=N`` (a multiple of 100) runs the
first N of them instead (20000: the English ones only).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from youtu_embedding.core import Encoder
from youtu_embedding.core.pytest_fixtures import require_shared_data, shared_data_dir
from youtu_embedding.core.testing import read_jsonl

#: 100,000 texts by default in 100 partitions; YOUTU_BENCH_BULK_TEXTS=N (a multiple of 100) for another size.
N_TEXTS, PARTITIONS = int(os.environ.get("YOUTU_BENCH_BULK_TEXTS", "100000")), 100
MEANS: dict[str, float] = {}
DATA_DIR = shared_data_dir(Path(__file__).resolve().parent)


@pytest.fixture(scope="module")
def bulk_texts() -> list[str]:
    require_shared_data(DATA_DIR)
    texts = []
    for name in ("sts/stsb-en", "sts/sick", "sts/afqmc", "sts/stsb-zh", "ir/simclue-rank"):
        for row in read_jsonl(DATA_DIR / "train" / f"{name}.jsonl"):
            texts += [row["query"][2]] + [item[2] for item in row["positives"] + row.get("negatives", [])]
            if len(texts) >= N_TEXTS:
                return texts[:N_TEXTS]
    pytest.fail(f"only {len(texts)} texts in {DATA_DIR / 'train'}; set YOUTU_BENCH_BULK_TEXTS <= {len(texts)}")


@pytest.fixture(scope="module")
def bulk_input(tmp_path_factory: pytest.TempPathFactory, bulk_texts: list[str]) -> Path:
    folder = tmp_path_factory.mktemp("bulk-input")
    per = len(bulk_texts) // PARTITIONS
    for p in range(PARTITIONS):
        rows = [{"id": str(i), "text": bulk_texts[i]} for i in range(p * per, (p + 1) * per)]
        (folder / f"part-{p:02d}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


@pytest.fixture
def ray_running() -> Iterator[None]:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    try:
        yield
    finally:
        ray.shutdown()


def _fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    return path


def _rate(benchmark, name: str, n: int) -> None:
    mean = benchmark.stats.stats.mean
    MEANS[name] = mean
    benchmark.extra_info["texts_per_second"] = n / mean
    if "baseline" in MEANS and name != "baseline":
        benchmark.extra_info["throughput_ratio_vs_encode"] = MEANS["baseline"] / mean


@pytest.mark.benchmark(group="bulk-minilm")
def test_bulk_encode_in_process_baseline(benchmark, bulk_texts: list[str]) -> None:
    encoder = Encoder("all-MiniLM-L6-v2", device="cpu")
    encoder.encode(bulk_texts[:256])  # warm-up
    out = benchmark.pedantic(lambda: encoder.encode(bulk_texts), rounds=1, iterations=1)
    assert out.shape == (len(bulk_texts), 384)
    _rate(benchmark, "baseline", len(bulk_texts))


@pytest.mark.benchmark(group="bulk-minilm")
def test_bulk_library_on_running_ray(benchmark, ray_running: None, bulk_input: Path, tmp_path: Path) -> None:
    from youtu_embedding.bulk import embed_to_parquet

    out = tmp_path / "out"
    result = benchmark.pedantic(
        lambda: embed_to_parquet(bulk_input, _fresh(out), "all-MiniLM-L6-v2", device="cpu", progress=False),
        rounds=1,
        iterations=1,
    )
    assert result.rows == N_TEXTS and len(result.written) == PARTITIONS
    _rate(benchmark, "library", N_TEXTS)
    # start-up (actor, imports, model load) vs steady state: the actors' own time per partition (markers)
    in_actors = sum(json.loads(p.read_text())["seconds"] for p in (out / "_done").glob("part-*.json"))
    benchmark.extra_info["seconds_inside_actors"] = in_actors
    benchmark.extra_info["steady_state_texts_per_second"] = N_TEXTS / in_actors * result.actors.num_actors


@pytest.mark.benchmark(group="bulk-minilm")
def test_bulk_cli_fresh_process(benchmark, bulk_input: Path, tmp_path: Path) -> None:
    import ray

    assert not ray.is_initialized()  # the module's Ray instance is gone: the command starts its own
    from youtu_embedding.bulk.testing import BatchProcess

    out = tmp_path / "out"
    args = ["-m", "all-MiniLM-L6-v2", "--device", "cpu", "-i", str(bulk_input), "-o", str(out), "--num-cpus", "2"]

    def run() -> int:
        _fresh(out)
        return BatchProcess(args, tmp_path / "cli.log").wait(timeout=1800)  # kills Ray's process tree on timeout

    code = benchmark.pedantic(run, rounds=1, iterations=1)
    assert code == 0, (tmp_path / "cli.log").read_text()[-3000:]
    import pyarrow.parquet as pq

    assert len(np.unique(pq.read_table(out, columns=["id"]).column("id").to_numpy())) == N_TEXTS
    _rate(benchmark, "cli", N_TEXTS)
