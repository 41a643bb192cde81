#!/usr/bin/env bash
# Recreate the separate virtual environment that runs the sentence-transformers CPU peers
# (backend="openvino", OpenVINO static int8, backend="onnx" dynamic qint8, torch float32/bfloat16)
# for benchmarks/test_bench_openvino.py.
#
# optimum-intel (sentence-transformers' `openvino` extra) pins transformers < 5, which clashes with
# the project's own environment (transformers 5), so the peers live in their own venv. torch is the
# pinned CPU wheel of constraints.txt and is never upgraded or replaced. `datasets` is needed by
# export_static_quantized_openvino_model (NNCF calibration); the benchmark builds the calibration
# set in memory from ../shared/data, nothing is downloaded.
#
# Usage: benchmarks/openvino/setup_venv.sh [VENV_DIR]   (default: /work/venvs/st-openvino, or
#        $YOUTU_BENCH_OPENVINO_VENV). The benchmark finds it through the same variable.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${1:-${YOUTU_BENCH_OPENVINO_VENV:-/work/venvs/st-openvino}}"
PYTHON="${PYTHON:-python3}"

"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# constraints.txt pins torch==2.13.0: pip fails rather than install another torch.
"$VENV/bin/python" -m pip install -c "$ROOT/constraints.txt" torch==2.13.0 \
    "sentence-transformers[openvino,onnx]" datasets scipy

# Smoke check: the backends import and torch is the pinned one.
"$VENV/bin/python" - <<'PY'
import importlib.metadata as md

import openvino
import optimum.intel  # noqa: F401
import torch

assert torch.__version__.startswith("2.13.0"), torch.__version__
print(" | ".join(f"{d} {md.version(d)}" for d in (
    "sentence-transformers", "transformers", "optimum", "optimum-intel", "openvino", "nncf", "onnxruntime", "torch"
)))
PY
echo "sentence-transformers peer venv ready at $VENV"
