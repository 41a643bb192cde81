"""Peak memory of `youtu-embed encode` is flat in corpus size (streamed input and output).

Each size runs in a fresh process; the peak RSS (ru_maxrss) of 200k texts must stay within 1.2x of
the peak for 20k. A tiny `utu` model keeps the run short: the pipeline, not the network, is measured.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

RUNNER = """
import resource, sys
from youtu_embedding.core.cli.app import main
sys.argv = ["youtu-embed", "encode", "-m", sys.argv[1], "-i", sys.argv[2], "-o", sys.argv[3], "--chunk-size", "4096"]
try:
    main()
except SystemExit as exc:
    if exc.code:
        raise
print("MAXRSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


@pytest.fixture(scope="module")
def bench_model(tmp_path_factory: pytest.TempPathFactory, mixed_texts: list[str]) -> Path:
    from youtu_embedding.core.testing import make_tiny_utu

    return make_tiny_utu(tmp_path_factory.mktemp("mem-utu"), texts=mixed_texts)


def _corpus(path: Path, texts: list[str], n: int) -> Path:
    short = [t for t in texts if len(t) < 200]
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(f"{short[i % len(short)]} #{i}\n")
    return path


def _peak_rss_mb(model: Path, src: Path, out: Path) -> float:
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, str(model), str(src), str(out)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return int(proc.stdout.split("MAXRSS_KB")[-1].split()[0]) / 1024


@pytest.mark.benchmark(group="memory")
def test_peak_rss_flat_in_corpus_size(benchmark, bench_model: Path, mixed_texts: list[str], tmp_path: Path) -> None:
    small = _peak_rss_mb(bench_model, _corpus(tmp_path / "20k.txt", mixed_texts, 20_000), tmp_path / "20k.npy")
    large = benchmark.pedantic(
        lambda: _peak_rss_mb(bench_model, _corpus(tmp_path / "200k.txt", mixed_texts, 200_000), tmp_path / "200k.npy"),
        rounds=1,
        iterations=1,
    )
    assert np.load(tmp_path / "200k.npy", mmap_mode="r").shape[0] == 200_000
    benchmark.extra_info.update(peak_rss_20k_mb=small, peak_rss_200k_mb=large, ratio=large / small)
    assert large <= 1.2 * small, (small, large)
