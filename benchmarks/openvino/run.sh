#!/usr/bin/env bash
# One command from a fresh clone: create the sentence-transformers peer venv when missing, then run the
# CPU peer benchmark (benchmarks/test_bench_openvino.py, group minilm-cpu-peers) and print the ratios.
#
# Usage: benchmarks/openvino/run.sh [OUT_DIR]   (default: benchmarks/results/cpu-peers/, git-ignored). Needs the project's own venv
# active (with the youtu-embedding-openvino plugin installed) and ../shared/data.
# Environment: YOUTU_BENCH_OPENVINO_VENV (peer venv, default /work/venvs/st-openvino),
# YOUTU_BENCH_CPU_ROUNDS (timed rounds per path, default 1), YOUTU_BENCH_CPU_TEXTS (default 1500) and
# YOUTU_BENCH_CPU_STSB_PAIRS (default all) for a quicker run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="${1:-$ROOT/benchmarks/results/cpu-peers}"
export YOUTU_BENCH_OPENVINO_VENV="${YOUTU_BENCH_OPENVINO_VENV:-/work/venvs/st-openvino}"
if [ ! -x "$YOUTU_BENCH_OPENVINO_VENV/bin/python" ]; then
    "$ROOT/benchmarks/openvino/setup_venv.sh" "$YOUTU_BENCH_OPENVINO_VENV"
fi
mkdir -p "$OUT"
cd "$ROOT"
{ lscpu | grep -E 'Model name|^CPU\(s\)'; grep -o -w 'avx512_bf16\|avx512_vnni\|amx_bf16\|amx_int8' /proc/cpuinfo | sort -u | tr '\n' ' '; echo; uptime; } | tee "$OUT/machine.txt"
HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false python -m pytest benchmarks/test_bench_openvino.py \
    -p no:cacheprovider -q --benchmark-only --benchmark-json "$OUT/cpu-peers.json"
python benchmarks/summarize.py "$OUT/cpu-peers.json" "$OUT/cpu-peers.md"
cat "$OUT/cpu-peers.md"
uptime | tee -a "$OUT/machine.txt"
