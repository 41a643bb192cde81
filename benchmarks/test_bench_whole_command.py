"""The whole command: ``youtu-embed encode`` of 3,000 mixed texts against a plain sentence-transformers script.

Group ``whole-command-3000``: each benchmark is one fresh process, start to finish (imports, model
load, every batch, the ``.npy`` written), on the same 3,000 texts (the 2,758 STS-B en test sentences,
the 240 XQuAD-en paragraphs and 2 XQuAD-en questions, interleaved), batch size 32. The baseline is the
script a sentence-transformers user writes (``SentenceTransformer(model).encode(texts)``, float32, then
``np.save``). Ours: ``youtu-embed encode --dtype bfloat16`` (target >= 2.0x) and the OpenVINO runtime
(bf16, 2 streams).

Start-up is measured separately for each, in another fresh process (``benchmarks/startup_phases.py``):
seconds for the imports, the model load (and runtime preparation), the first batch of 32 and the rest,
recorded in ``extra_info``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from youtu_embedding.core.testing import read_jsonl

GROUP = "whole-command-3000"
DATA_DIR = Path(os.environ.get("YOUTU_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
ROUNDS = int(os.environ.get("YOUTU_BENCH_WHOLE_ROUNDS", "1"))
#: ours: core bf16 and, when YOUTU_BENCH_WHOLE_OPENVINO=1, the OpenVINO runtime (bf16, 2 streams; an untimed
#: run converts first)
PATHS = ["bfloat16", "openvino-bf16"] if os.environ.get("YOUTU_BENCH_WHOLE_OPENVINO") == "1" else ["bfloat16"]
PHASES = Path(__file__).resolve().parent / "startup_phases.py"

ST_SCRIPT = """
import sys
import numpy as np
from sentence_transformers import SentenceTransformer

texts = open(sys.argv[2], encoding="utf-8").read().splitlines()
model = SentenceTransformer(sys.argv[1], device="cpu")
np.save(sys.argv[3], model.encode(texts, batch_size=32))
"""


def whole_command_texts(data_dir: Path) -> list[str]:
    """3,000 texts: STS-B en test sentences (both sides), XQuAD-en paragraphs and 2 questions, interleaved."""
    sts = read_jsonl(data_dir / "eval" / "sts" / "stsb-en" / "test.jsonl")
    corpus = read_jsonl(data_dir / "eval" / "retrieval" / "xquad-en" / "corpus.jsonl")
    queries = read_jsonl(data_dir / "eval" / "retrieval" / "xquad-en" / "queries.jsonl")
    texts = [r["sentence1"] for r in sts] + [r["sentence2"] for r in sts] + [r["text"] for r in corpus]
    texts += [r["text"] for r in queries[: 3000 - len(texts)]]
    texts = [" ".join(t.split()) for t in texts]  # one text per line of the input file
    return [texts[i] for i in sorted(range(len(texts)), key=lambda i: (i * 7919) % len(texts))]


@pytest.fixture(scope="module")
def texts_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not DATA_DIR.is_dir():
        pytest.skip(f"shared data not found at {DATA_DIR}")
    path = tmp_path_factory.mktemp("whole-command") / "texts.txt"
    texts = whole_command_texts(DATA_DIR)
    assert len(texts) == 3000
    path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def model_dir() -> Path:
    from youtu_embedding.core.hub import resolve_model_dir

    return Path(resolve_model_dir("all-MiniLM-L6-v2")[1])


@pytest.fixture(scope="module")
def reference(model_dir: Path, texts_file: Path) -> np.ndarray:
    from youtu_embedding.core import Encoder

    return Encoder(str(model_dir), device="cpu").encode(texts_file.read_text(encoding="utf-8").splitlines())


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def _phases(kind: str, model_dir: Path, texts_file: Path, *extra: str) -> dict[str, float]:
    """Start-up phases (imports, load, first batch, rest) of one fresh process."""
    cmd = [sys.executable, str(PHASES), kind, str(model_dir), str(texts_file), *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, env=_env(), check=True, timeout=1800)
    return {f"startup_{k}_s": round(v, 3) for k, v in json.loads(done.stdout.strip().splitlines()[-1]).items()}


def _run(cmd: list[str]) -> None:
    subprocess.run(cmd, env=_env(), check=True, timeout=1800, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.benchmark(group=GROUP)
def test_whole_st_script_baseline(benchmark, model_dir: Path, texts_file: Path, reference, tmp_path: Path) -> None:
    script = tmp_path / "st_encode.py"
    script.write_text(ST_SCRIPT)
    out = tmp_path / "st.npy"
    benchmark.pedantic(
        _run, args=([sys.executable, str(script), str(model_dir), str(texts_file), str(out)],), rounds=ROUNDS
    )
    vectors = np.load(out)
    assert vectors.shape == (3000, 384)
    benchmark.extra_info.update(_phases("st", model_dir, texts_file))
    benchmark.extra_info["min_cosine_to_core_fp32"] = float((vectors * reference).sum(1).min())


@pytest.mark.benchmark(group=GROUP)
@pytest.mark.parametrize("path", PATHS)
def test_whole_youtu_embed_encode(
    benchmark, path: str, model_dir: Path, texts_file: Path, reference, tmp_path: Path
) -> None:
    cli = shutil.which("youtu-embed")
    assert cli is not None, "youtu-embed is not on PATH (install the core package)"
    extra = ["--dtype", "bfloat16"]
    if path.startswith("openvino"):
        pytest.importorskip("youtu_embedding_openvino")
        cache = tmp_path / "openvino-cache"
        extra = ["--runtime", "openvino", "--runtime-option", "precision=bf16", "--runtime-option", "streams=2"]
        extra += ["--runtime-option", f"cache_dir={cache}"]
    base = [cli, "encode", "--model", str(model_dir), "--input", str(texts_file), "--device", "cpu"]
    if path.startswith("openvino"):  # the first run converts the model to OpenVINO IR (cached): not timed
        _run([*base, "--output", str(tmp_path / "warm.npy"), *extra])
    out = tmp_path / "ours.npy"
    cmd = [*base, "--output", str(out), *extra]
    benchmark.pedantic(_run, args=(cmd,), rounds=ROUNDS)
    vectors = np.load(out)
    assert vectors.shape == (3000, 384)
    cosine = (vectors * reference).sum(1)
    benchmark.extra_info.update(_phases("ours", model_dir, texts_file, *extra))
    benchmark.extra_info.update(
        mean_cosine_to_core_fp32=float(cosine.mean()), min_cosine_to_core_fp32=float(cosine.min())
    )
    assert cosine.mean() >= 0.9999
