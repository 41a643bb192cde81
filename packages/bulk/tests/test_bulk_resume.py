"""Acceptance: 20,000 real texts through Ray local mode (2 CPUs), killed midway with SIGKILL, resumed.

One job does it all, to keep the suite short: ``youtu-embed batch`` runs in a subprocess and is
killed (with every Ray process it started) once a few partitions are written; the same job rerun
in-process must skip those partitions (same files, same markers, untouched), compute only the
others, and leave every input id exactly once in the output, with the embeddings of an in-process
``Encoder.encode`` of the same texts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from youtu_embedding.bulk import decode_embeddings, embed_to_parquet
from youtu_embedding.bulk.output import MANIFEST_NAME, MARKER_DIR
from youtu_embedding.bulk.testing import BatchProcess, write_jsonl, write_parquet

FILES, ROWS_PER_FILE = 20, 1000


def _markers(output: Path) -> dict[str, tuple[int, int]]:
    """part name -> (mtime_ns, inode) of the finished partitions' files."""
    done = output / MARKER_DIR
    names = [p.stem + ".parquet" for p in done.glob("part-*.json")] if done.is_dir() else []
    return {name: ((output / name).stat().st_mtime_ns, (output / name).stat().st_ino) for name in names}


@pytest.mark.timeout(900)
def test_20k_texts_killed_midway_then_resumed(
    tmp_path: Path, real_texts: list[tuple[str, str]], minilm_path: Path
) -> None:
    # 10 JSONL files and 10 Parquet files (4 row groups each) of 1,000 real texts, in two sub-folders
    source = tmp_path / "corpus"
    for f in range(FILES):
        rows = [{"id": i, "text": t} for i, t in real_texts[f * ROWS_PER_FILE : (f + 1) * ROWS_PER_FILE]]
        if f % 2:
            write_parquet(source / "parquet" / f"shard-{f:02d}.parquet", rows, row_group_size=250)
        else:
            write_jsonl(source / "jsonl" / f"shard-{f:02d}.jsonl", rows)
    output = tmp_path / "embeddings"
    args = [
        "-m",
        "all-MiniLM-L6-v2",
        "-i",
        str(source),
        "-o",
        str(output),
        "--num-cpus",
        "2",
        "--rows-per-partition",
        str(ROWS_PER_FILE),
    ]

    # 1. the job in a subprocess, SIGKILLed (whole process tree) once 3 partitions are finished
    job = BatchProcess(args, tmp_path / "first-run.log")
    try:
        reached = job.wait_until(lambda: len(_markers(output)) >= 3, timeout=600)
    finally:
        job.kill()
    assert reached, f"no 3 partitions written before the job ended:\n{job.log()[-3000:]}"
    before = _markers(output)
    assert 3 <= len(before) < FILES, "the kill must happen midway"
    assert job.popen.returncode == -9

    # 2. the same job again (in-process): finished partitions skipped, the others computed once
    result = embed_to_parquet(
        source, output, "all-MiniLM-L6-v2", rows_per_partition=ROWS_PER_FILE, num_cpus=2, progress=False
    )
    finished = {f"part-{i:05d}.parquet" for i in result.already_done}
    assert finished == set(before)
    assert sorted(result.already_done + result.written) == list(range(FILES))
    assert result.rows == (FILES - len(before)) * ROWS_PER_FILE
    after = _markers(output)
    assert {name: after[name] for name in before} == before, "a finished partition was rewritten"
    assert len(after) == FILES
    listing = sorted(p.name for p in output.iterdir())
    assert listing == sorted([MANIFEST_NAME, MARKER_DIR, *(f"part-{i:05d}.parquet" for i in range(FILES))])

    # 3. every input id exactly once; embeddings equal an in-process encode of the same texts
    import pyarrow.parquet as pq

    from youtu_embedding.core import Encoder

    table = pq.read_table(output)  # the folder: hidden/underscore files are ignored
    ids = table.column("id").to_pylist()
    assert len(ids) == len(set(ids)) == len(real_texts)
    assert set(ids) == {i for i, _ in real_texts}
    assert table.schema.field("embedding").type.list_size == 384
    position = {i: n for n, (i, _) in enumerate(real_texts)}
    order = np.argsort([position[i] for i in ids])
    assert table.column("text").take(order).to_pylist() == [t for _, t in real_texts]
    embeddings = decode_embeddings(table.column("embedding"))[order]
    reference = Encoder("all-MiniLM-L6-v2", device="cpu").encode([t for _, t in real_texts])
    assert float(np.abs(embeddings - reference).max()) < 1e-6
