"""Small real jobs on one local Ray instance (2 CPUs): options, formats, errors raised by the actors, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from youtu_embedding.bulk import BulkJobError, decode_embeddings, embed_to_parquet
from youtu_embedding.bulk.partitions import plan_partitions
from youtu_embedding.bulk.runner import _check_output_location, model_weight_bytes, plan_actors
from youtu_embedding.bulk.testing import write_jsonl, write_parquet
from youtu_embedding.core import Encoder
from youtu_embedding.core.cli.app import build_app
from youtu_embedding.core.errors import InvalidArgumentError


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(build_app(), ["batch", *args])
    return result.exit_code, result.stderr


@pytest.mark.timeout(600)
def test_jobs_on_local_ray(
    ray_local: None, tmp_path: Path, real_texts: list[tuple[str, str]], minilm_path: Path
) -> None:
    texts = [t for _, t in real_texts[:90]]
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"text": t} for t in texts[:50]])
    write_parquet(tmp_path / "in" / "b.parquet", [{"text": t} for t in texts[50:]], row_group_size=10)

    # the pool is sized from the cluster: one CPU actor with both CPUs, or the CPUs shared out
    assert (plan_actors("auto", None, None).num_actors, plan_actors("auto", None, None).threads_per_actor) == (1, 2)
    assert plan_actors("cpu", 2, None).threads_per_actor == 1
    # with the weights' size known: one single-threaded actor per CPU while memory holds the copies
    small, huge = model_weight_bytes(str(minilm_path)), 1 << 40
    assert small is not None and 80e6 < small < 100e6  # all-MiniLM-L6-v2's safetensors
    for weights, expected in ((small, (2, 1)), (huge, (1, 2))):
        plan = plan_actors("cpu", None, None, weight_bytes=weights)
        assert (plan.num_actors, plan.threads_per_actor) == expected
    with pytest.raises(InvalidArgumentError, match="2 actors x 2 threads need 4 CPUs but Ray has 2"):
        plan_actors("cpu", 2, 2)
    with pytest.raises(InvalidArgumentError, match="device: 'cuda' was asked for but the Ray cluster has no GPU"):
        plan_actors("cuda", None, None)

    # binary format, generated ids, an instruction: same vectors as the in-process encoder
    out = tmp_path / "out-binary"
    result = embed_to_parquet(
        tmp_path / "in",
        out,
        "all-MiniLM-L6-v2",
        id_column=None,
        embedding_format="binary",
        instruction="Represent the sentence",
        template="e5",
        rows_per_partition=25,
        progress=False,
    )
    assert (len(result.partitions), result.rows, result.actors.num_actors) == (4, 90, 2)  # 2 CPUs: 2 actors x 1 thread
    table = pq.read_table(out)
    assert table.schema.field("embedding").type.byte_width == 384 * 4
    assert table.column("id").to_pylist()[:2] == ["a.jsonl:0", "a.jsonl:1"]
    assert table.column("id").to_pylist()[-1] == "b.parquet:39"
    assert table.schema.metadata[b"youtu_embedding.model"] == b"all-MiniLM-L6-v2"
    reference = Encoder("all-MiniLM-L6-v2", device="cpu").encode(
        texts, instruction="Represent the sentence", template="e5"
    )
    assert float(np.abs(decode_embeddings(table.column("embedding")) - reference).max()) < 1e-6
    plain = Encoder("all-MiniLM-L6-v2", device="cpu").encode(texts[:3])
    assert float(np.abs(decode_embeddings(table.column("embedding"))[:3] - plain).max()) > 1e-3  # instruction used

    # a second run of the same job has nothing to do
    again = embed_to_parquet(
        tmp_path / "in",
        out,
        "all-MiniLM-L6-v2",
        id_column=None,
        embedding_format="binary",
        instruction="Represent the sentence",
        template="e5",
        rows_per_partition=25,
        progress=False,
    )
    assert (again.written, again.already_done, again.actors) == ([], [0, 1, 2, 3], None)

    # an empty text found by an actor: the job fails naming the partition, the file and the line
    rows = [{"id": f"r{i}", "text": t} for i, t in enumerate(texts[:30])]
    rows[17]["text"] = ""
    write_jsonl(tmp_path / "bad" / "c.jsonl", rows)
    bad_out = tmp_path / "out-bad"
    with pytest.raises(BulkJobError, match=r"part-00001.parquet \(c.jsonl\): text_column: line 18 of 'c.jsonl'"):
        embed_to_parquet(tmp_path / "bad", bad_out, "all-MiniLM-L6-v2", rows_per_partition=15, progress=False)
    code, err = _cli(
        "-m", "all-MiniLM-L6-v2", "-i", str(tmp_path / "bad"), "-o", str(bad_out), "--rows-per-partition", "15"
    )
    assert code == 2 and "error: part-00001.parquet (c.jsonl): text_column: line 18" in err, err

    # other settings in the same folder: refused, then replaced with --overwrite (through the CLI)
    args = ["-m", "all-MiniLM-L6-v2", "-i", str(tmp_path / "bad"), "-o", str(bad_out), "--rows-per-partition", "15"]
    code, err = _cli(*args, "--skip-empty")
    assert code == 2 and "holds a job with different skip_empty" in err, err
    code, err = _cli(*args, "--skip-empty", "--overwrite")
    assert code == 0, err
    assert "wrote 2 partition(s), 29 texts on 2 actor(s)" in err and "1 empty texts skipped" in err
    ids = pq.read_table(bad_out).column("id").to_pylist()
    assert ids == [f"r{i}" for i in range(30) if i != 17]


def test_output_conflicts_and_option_errors(tmp_path: Path, real_texts: list[tuple[str, str]]) -> None:
    """Refused before Ray starts: every message names the option at fault."""
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"id": i, "text": t} for i, t in real_texts[:5]])
    base = ["-m", "all-MiniLM-L6-v2", "-i", str(tmp_path / "in")]
    (tmp_path / "file.parquet").write_text("")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "other.txt").write_text("not ours")
    cases = {
        str(tmp_path / "file.parquet"): "output: '.*file.parquet' exists and is not a folder",
        str(tmp_path / "busy"): "is not empty and was not written by youtu-embed batch",
        str(tmp_path / "in" / "out"): "is inside the input folder",
    }
    # beside a single input file or a JSONL glob is fine; where a glob would pick the output up is not
    parts = plan_partitions(tmp_path / "in")[1]
    _check_output_location(tmp_path / "in" / "emb", str(tmp_path / "in" / "a.jsonl"), parts)
    _check_output_location(tmp_path / "in" / "emb", str(tmp_path / "in" / "*.jsonl"), parts)
    with pytest.raises(InvalidArgumentError, match="would match the output files"):
        _check_output_location(tmp_path / "emb", str(tmp_path / "**" / "*.parquet"), parts)
    for output, message in cases.items():
        code, err = _cli(*base, "-o", output)
        assert code == 2 and err.startswith("error: output: ") and __import__("re").search(message, err), err
    code, err = _cli(*base, "-o", str(tmp_path / "o"), "--embedding-format", "float16")
    assert code == 2 and "embedding_format: unknown format 'float16' (allowed: list, binary)" in err
    code, err = _cli(*base, "-o", str(tmp_path / "o"), "--text-column", "body")
    assert code == 2 and "text_column: column 'body' is not in line 1" in err and "(columns: id, text)" in err
    code, err = _cli(*base, "-o", str(tmp_path / "o"), "--instruction", "x", "--prompt-name", "query")
    assert code == 2 and "at most one of prompt_name, instruction and task" in err
    code, err = _cli(*base, "-o", str(tmp_path / "o"), "--runtime", "tensorrt")
    assert code == 2 and "runtime: unknown runtime 'tensorrt'" in err and "torch" in err
    code, err = _cli(*base[:3], str(tmp_path / "nothing-*.jsonl"), "-o", str(tmp_path / "o"))
    assert code == 2 and "no .parquet or .jsonl file matches" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.timeout(600)
def test_job_with_a_runtime_plugin(ray_local: None, tmp_path: Path, real_texts: list[tuple[str, str]]) -> None:
    """--runtime reaches every actor's encoder (here the compiled float32 graph of the inductor plugin)."""
    pytest.importorskip("youtu_embedding_inductor")
    from youtu_embedding_inductor.runtime import unavailable_reason

    if unavailable_reason() is not None:
        pytest.skip(f"inductor runtime unavailable here: {unavailable_reason()}")
    texts = [t for _, t in real_texts[:30]]
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"id": i, "text": t} for i, t in enumerate(texts)])
    out = tmp_path / "out"
    result = embed_to_parquet(
        tmp_path / "in", out, "all-MiniLM-L6-v2", runtime="inductor", num_actors=1, progress=False
    )
    assert result.rows == 30
    table = pq.read_table(out)
    reference = Encoder("all-MiniLM-L6-v2", device="cpu").encode(texts)
    assert float(np.abs(decode_embeddings(table.column("embedding")) - reference).max()) < 1e-5
    manifest = json.loads((out / "_youtu_bulk.json").read_text())
    assert manifest["settings"]["runtime"] == "inductor"  # a rerun with another runtime is another job
