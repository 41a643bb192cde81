"""sentence-transformers CPU peers, driven one JSON line at a time (runs in the peer venv).

Started by benchmarks/test_bench_openvino.py with the peer venv's Python::

    python peers.py --model MODEL_DIR --work WORK_DIR --texts texts.json --stsb stsb.json --calibration calib.json

It copies the model directory into WORK_DIR (sentence-transformers writes its OpenVINO / ONNX exports
beside the model) and answers commands on stdin, one JSON object per line, with one JSON line on
stdout:

- ``{"cmd": "load", "peer": NAME}``: build the peer (export / quantise it first where needed);
  answers ``{"seconds": ...}``.
- ``{"cmd": "run", "peer": NAME}``: encode every text once (batch size 32); answers ``{"texts": N}``.
- ``{"cmd": "quality", "peer": NAME}``: STS-B en test Spearman x 100 and the mean / min cosine of
  the workload's embeddings to the ``torch-float32`` peer's.
- ``{"cmd": "quit"}``.

Peers (what a sentence-transformers user picks on a CPU): ``torch-float32``, ``torch-bfloat16``,
``openvino`` (``backend="openvino"``, OpenVINO's default precision), ``openvino-int8``
(``export_static_quantized_openvino_model``, default ``OVQuantizationConfig``, calibrated on the
local texts of ``--calibration``: nothing is downloaded) and ``onnx-int8``
(``backend="onnx"`` + ``export_dynamic_quantized_onnx_model(..., "avx512_vnni")``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

BATCH_SIZE = 32
PEERS = ("torch-float32", "torch-bfloat16", "openvino", "openvino-int8", "onnx-int8")


def _calibration_dir(texts: list[str], work: Path) -> Path:
    """A local dataset folder (``train.jsonl``, column ``sentence``) that ``datasets.load_dataset`` reads offline."""
    folder = work / "calibration-dataset"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "train.jsonl").open("w") as f:
        for text in texts:
            f.write(json.dumps({"sentence": text}) + "\n")
    return folder


class Peers:
    def __init__(self, model: Path, work: Path, texts: list[str], stsb: dict[str, Any], calibration: list[str]) -> None:
        self.dir = work / "model"
        if not self.dir.exists():
            shutil.copytree(model, self.dir, ignore=shutil.ignore_patterns("openvino", "onnx"))
        self.work, self.texts, self.stsb, self.calibration = work, texts, stsb, calibration
        self.models: dict[str, SentenceTransformer] = {}
        self.reference: np.ndarray | None = None

    def _build(self, name: str) -> SentenceTransformer:
        path = str(self.dir)
        if name == "torch-float32":
            return SentenceTransformer(path, device="cpu")
        if name == "torch-bfloat16":
            return SentenceTransformer(path, device="cpu").bfloat16()
        if name == "openvino":
            return SentenceTransformer(path, device="cpu", backend="openvino")
        if name == "openvino-int8":
            from sentence_transformers import export_static_quantized_openvino_model

            # a model of its own: the export quantises the model it is given in place, and the
            # "openvino" peer must stay the float one (it is timed again by the paired group)
            base = SentenceTransformer(path, device="cpu", backend="openvino")
            export_static_quantized_openvino_model(
                base,
                None,  # the default OVQuantizationConfig (int8, 300 samples)
                path,
                dataset_name=str(_calibration_dir(self.calibration, self.work)),
                dataset_config_name="default",
                dataset_split="train",
                column_name="sentence",
            )
            kwargs = {"file_name": "openvino/openvino_model_qint8_quantized.xml"}
            return SentenceTransformer(path, device="cpu", backend="openvino", model_kwargs=kwargs)
        if name == "onnx-int8":
            from sentence_transformers import export_dynamic_quantized_onnx_model

            base = SentenceTransformer(path, device="cpu", backend="onnx")
            export_dynamic_quantized_onnx_model(base, "avx512_vnni", path)
            kwargs = {"file_name": "onnx/model_qint8_avx512_vnni.onnx"}
            return SentenceTransformer(path, device="cpu", backend="onnx", model_kwargs=kwargs)
        raise ValueError(f"unknown peer {name!r}; known: {', '.join(PEERS)}")

    def load(self, name: str) -> dict[str, Any]:
        start = time.perf_counter()
        if name not in self.models:
            self.models[name] = self._build(name)
        return {"seconds": time.perf_counter() - start}

    def encode(self, name: str, texts: list[str]) -> np.ndarray:
        out = self.models[name].encode(texts, batch_size=BATCH_SIZE, normalize_embeddings=True)
        return np.asarray(out, dtype=np.float32)

    def run(self, name: str) -> dict[str, Any]:
        return {"texts": len(self.encode(name, self.texts))}

    def quality(self, name: str) -> dict[str, Any]:
        if self.reference is None:
            self.load("torch-float32")
            self.reference = self.encode("torch-float32", self.texts)
        cosine = (self.encode(name, self.texts) * self.reference).sum(1)
        emb = self.encode(name, self.stsb["texts"])
        half = len(emb) // 2
        scores = (emb[:half] * emb[half:]).sum(1)
        spearman = 100 * float(spearmanr(scores, self.stsb["gold"]).statistic)
        return {
            "stsb_spearman": spearman,
            "mean_cosine_to_fp32": float(cosine.mean()),
            "min_cosine_to_fp32": float(cosine.min()),
        }


def versions() -> dict[str, str]:
    import importlib.metadata as md

    dists = ("sentence-transformers", "transformers", "optimum", "optimum-intel", "openvino", "nncf", "onnxruntime")
    found = {}
    for dist in dists:
        try:
            found[dist] = md.version(dist)
        except md.PackageNotFoundError:
            found[dist] = "?"
    return {**found, "torch": torch.__version__, "torch_threads": str(torch.get_num_threads())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--texts", type=Path, required=True)
    parser.add_argument("--stsb", type=Path, required=True, help='JSON {"texts": [a..., b...], "gold": [...]}')
    parser.add_argument("--calibration", type=Path, required=True, help="JSON list of calibration texts")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="st-peers-"))
    peers = Peers(
        args.model,
        work,
        json.loads(args.texts.read_text()),
        json.loads(args.stsb.read_text()),
        json.loads(args.calibration.read_text()),
    )
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # library prints must not corrupt the protocol
    print(json.dumps({"ready": True, "texts": len(peers.texts), "versions": versions()}), file=real_stdout, flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        if command["cmd"] == "quit":
            break
        try:
            answer = getattr(peers, command["cmd"])(command["peer"])
        except Exception as exc:  # reported to the benchmark, which fails with it
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(answer), file=real_stdout, flush=True)


if __name__ == "__main__":
    main()
