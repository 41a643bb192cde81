#!/usr/bin/env bash
# Recreate the separate virtual environment that runs the infinity (infinity-emb) baseline server
# for benchmarks/test_bench_infinity.py.
#
# infinity-emb 0.0.78 (the newest on PyPI) pins numpy<2, sentence-transformers<4 (hence
# transformers 4.x) and typer<0.13, which clash with the project's own environment, so it lives in
# its own venv. Its `torch` and `server` extras resolve cleanly against torch 2.13.0 (the CPU
# wheel of constraints.txt); torch is never upgraded or replaced. Resolved on 2026-11-28:
# infinity-emb 0.0.78, torch 2.13.0+cpu, sentence-transformers 3.4.1, transformers 4.57.6,
# tokenizers 0.22.2, numpy 1.26.4, fastapi 0.165.0, uvicorn 0.32.1, orjson 3.13.0.
# optimum is NOT installed, so infinity's default `--bettertransformer` silently stays off and
# the torch engine runs the plain transformers BERT (SDPA attention), as a default
# `pip install "infinity-emb[torch,server]"` does.
#
# Usage: benchmarks/infinity/setup_venv.sh [VENV_DIR]   (default: /work/venvs/infinity, or
#        $YOUTU_BENCH_INFINITY_VENV). Then run the benchmark with YOUTU_BENCH_INFINITY_VENV=VENV_DIR
#        if you chose another directory.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${1:-${YOUTU_BENCH_INFINITY_VENV:-/work/venvs/infinity}}"
INFINITY_VERSION="${INFINITY_VERSION:-0.0.78}"
PYTHON="${PYTHON:-python3}"

"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --upgrade pip
# constraints.txt pins torch==2.13.0: pip fails rather than install another torch.
"$VENV/bin/python" -m pip install -c "$ROOT/constraints.txt" torch==2.13.0 "infinity-emb[torch,server]==$INFINITY_VERSION"

# Smoke check: the CLI loads and torch is the pinned one.
"$VENV/bin/python" - <<'PY'
import importlib.metadata as md

import torch

assert torch.__version__.startswith("2.13.0"), torch.__version__
print("infinity-emb", md.version("infinity-emb"), "| torch", torch.__version__,
      "| sentence-transformers", md.version("sentence-transformers"), "| transformers", md.version("transformers"))
PY
"$VENV/bin/infinity_emb" v2 --help >/dev/null
echo "infinity venv ready at $VENV"
