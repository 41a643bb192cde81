"""Served throughput and latency: our server (gRPC and HTTP) against infinity (``infinity-emb``).

Groups ``served-vs-infinity-float32`` and ``served-vs-infinity-bfloat16``. In each, the baseline is
infinity (torch engine, CPU, ``--dtype`` = the group's dtype) serving the all-MiniLM-L6-v2 model
directory over its OpenAI-compatible HTTP ``/embeddings``; the other benchmarks are ``youtu-embed
serve`` on the same directory with the same ``--dtype``, over gRPC (``Embed``) and over its
OpenAI-compatible HTTP ``/v1/embeddings`` (the same aiohttp client as infinity's). Each server
runs alone on 127.0.0.1 and is driven by ``benchmarks/infinity/loadgen.py`` in a separate
process: 32 concurrent clients, ONE text per request, the issue's workload (1000 STS-B en test
sentences + the 240 XQuAD-en paragraphs, interleaved), one warm-up round, then
``YOUTU_BENCH_INFINITY_ROUNDS`` (default 3) measured rounds.
Recorded in ``extra_info``: texts/s, p50/p99 request latency, server and client CPU ms per text
(user + system of each process tree over the measured rounds), and for ours the ratios to infinity
(target: texts/s >= 1.2x, p99 <= infinity's; HTTP also >= 0.9x our gRPC texts/s) and the minimum
cosine between the two servers' embeddings of a length-spread sample (must be >= 0.999 for the
comparison to count).

infinity runs from its own venv (``YOUTU_BENCH_INFINITY_VENV``, default ``/work/venvs/infinity``,
made by ``benchmarks/infinity/setup_venv.sh``); without it the baseline is skipped with the reason.
Every server and load-generator process tree is stopped at the end, on failure too.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest

from youtu_embedding.core.pytest_fixtures import require_shared_data
from youtu_embedding.core.testing import read_jsonl

DATA_DIR = Path(os.environ.get("YOUTU_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
DTYPES = ("float32", "bfloat16")
CLIENTS = 32
MODEL_NAME = "all-MiniLM-L6-v2"
ROUNDS = int(os.environ.get("YOUTU_BENCH_INFINITY_ROUNDS", "3"))
STARTUP_TIMEOUT_S = float(os.environ.get("YOUTU_BENCH_STARTUP_TIMEOUT", "300"))
ROUND_TIMEOUT_S = 1800.0
INFINITY_VENV = Path(os.environ.get("YOUTU_BENCH_INFINITY_VENV", "/work/venvs/infinity"))
LOADGEN = Path(__file__).resolve().parent / "infinity" / "loadgen.py"
SAMPLE_SIZE = 32
MIN_COSINE = 0.999

# Filled as the benchmarks run (infinity, then our gRPC, then our HTTP): per dtype, figures and sample.
_INFINITY: dict[str, dict[str, Any]] = {}
_GRPC: dict[str, dict[str, Any]] = {}


def stop_tree(pid: int, timeout: float = 30.0) -> None:
    """SIGTERM a process and all its descendants, SIGKILL whatever is left after ``timeout``."""
    try:
        parent = psutil.Process(pid)
        procs = [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.terminate()
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(alive, timeout=10)


def tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds used so far by a process and its live descendants."""
    try:
        parent = psutil.Process(pid)
        procs = [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


def free_port() -> int:
    from youtu_embedding.serve.testing import free_port as _free_port

    return _free_port()


class InfinityProcess:
    """``infinity_emb v2`` (torch engine, CPU) on 127.0.0.1 in a subprocess, from its own venv."""

    def __init__(self, venv: Path, model_dir: Path, dtype: str, log_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"infinity-{dtype}-{self.port}.log"
        cmd = [
            str(venv / "bin" / "infinity_emb"),
            "v2",
            "--model-id",
            str(model_dir),
            "--served-model-name",
            MODEL_NAME,
            "--engine",
            "torch",
            "--device",
            "cpu",
            "--dtype",
            dtype,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-model-warmup",  # the benchmark warms both servers up with a full round of the workload
            "--log-level",
            "warning",  # no per-request access log (ours has none either)
        ]
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        env.update(
            {
                "HF_HUB_OFFLINE": "1",
                "DO_NOT_TRACK": "1",
                "INFINITY_ANONYMOUS_USAGE_STATS": "0",
                "TOKENIZERS_PARALLELISM": "false",
                "VIRTUAL_ENV": str(venv),
                "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            }
        )
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float) -> None:
        """Poll ``GET /health`` until it answers 200; fail early if the process exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"infinity exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"infinity not ready after {timeout}s:\n{self.log()[-3000:]}")

    def stop(self) -> None:
        stop_tree(self.proc.pid)
        self.proc.wait(10)
        self._log.close()


class LoadGenerator:
    """``benchmarks/infinity/loadgen.py`` in its own process, driven one JSON line at a time."""

    def __init__(self, protocol: str, target: str, texts_file: Path, log_dir: Path, server_pid: int) -> None:
        self.server_pid = server_pid
        self.log_path = log_dir / f"loadgen-{protocol}.log"
        self._log = self.log_path.open("w")
        cmd = [sys.executable, str(LOADGEN), "--protocol", protocol, "--target", target, "--texts", str(texts_file)]
        cmd += ["--clients", str(CLIENTS), "--model", MODEL_NAME]
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True, env=env
        )
        self.rounds: list[dict[str, Any]] = []
        try:
            self.ready = self._read(timeout=120)
        except BaseException:
            self.stop()
            raise

    def _read(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            state = "exited" if self.proc.poll() is not None else f"silent for {timeout}s"
            raise RuntimeError(f"load generator {state}:\n{self.log_path.read_text(errors='replace')[-3000:]}")
        return json.loads(line)

    def _call(self, command: dict[str, Any], timeout: float) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        return self._read(timeout)

    def run_round(self) -> int:
        """One round over every text; returns how many were embedded. Also records the CPU time used."""
        server_cpu, client_cpu = tree_cpu_s(self.server_pid), tree_cpu_s(self.proc.pid)
        result = self._call({"cmd": "run"}, ROUND_TIMEOUT_S)
        result["server_cpu_s"] = tree_cpu_s(self.server_pid) - server_cpu
        result["client_cpu_s"] = tree_cpu_s(self.proc.pid) - client_cpu
        self.rounds.append(result)
        return int(result["texts"])

    def embed(self, indices: list[int]) -> np.ndarray:
        return np.asarray(self._call({"cmd": "embed", "indices": indices}, 600)["embeddings"], dtype=np.float64)

    def stop(self) -> None:
        try:
            if self.proc.poll() is None and self.proc.stdin is not None:
                self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                self.proc.stdin.close()
                self.proc.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            pass
        finally:
            stop_tree(self.proc.pid, timeout=5)
            self._log.close()


@pytest.fixture(scope="module")
def served_texts() -> list[str]:
    """The issue's workload: 1000 STS-B en test sentences + the 240 XQuAD-en paragraphs, interleaved."""
    require_shared_data(DATA_DIR)
    sts = read_jsonl(DATA_DIR / "eval" / "sts" / "stsb-en" / "test.jsonl")
    corpus = read_jsonl(DATA_DIR / "eval" / "retrieval" / "xquad-en" / "corpus.jsonl")
    texts = [r["sentence1"] for r in sts[:1000]] + [r["text"] for r in corpus]
    return [texts[i] for i in sorted(range(len(texts)), key=lambda i: (i * 7919) % len(texts))]


@pytest.fixture(scope="module")
def texts_file(served_texts: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("served-texts") / "texts.json"
    path.write_text(json.dumps(served_texts))
    return path


@pytest.fixture(scope="module")
def sample_indices(served_texts: list[str]) -> list[int]:
    """Texts spread over the length range (shortest and longest, i.e. truncated, included)."""
    by_length = sorted(range(len(served_texts)), key=lambda i: len(served_texts[i]))
    return [by_length[round(k * (len(by_length) - 1) / (SAMPLE_SIZE - 1))] for k in range(SAMPLE_SIZE)]


@pytest.fixture(scope="module")
def model_dir() -> Path:
    from youtu_embedding.core.hub import resolve_model_dir

    return Path(resolve_model_dir(MODEL_NAME)[1])


def _measure(benchmark, generator: LoadGenerator) -> dict[str, float]:
    """Warm-up round, ROUNDS measured rounds; texts/s and latency percentiles into extra_info."""
    assert generator.ready["dimension"] == 384
    done = benchmark.pedantic(generator.run_round, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    measured = generator.rounds[-ROUNDS:]
    assert done == generator.ready["texts"]
    assert all(r["dimensions"] == [384] for r in measured)
    latencies = np.concatenate([r["latencies_s"] for r in measured])
    figures = {
        "texts_per_s": done / benchmark.stats.stats.mean,
        "p50_s": float(np.percentile(latencies, 50)),
        "p99_s": float(np.percentile(latencies, 99)),
        # CPU time per text: less sensitive than wall time to other load on a shared machine
        "server_cpu_ms_per_text": 1000 * sum(r["server_cpu_s"] for r in measured) / (done * len(measured)),
        "client_cpu_ms_per_text": 1000 * sum(r["client_cpu_s"] for r in measured) / (done * len(measured)),
        "clients": CLIENTS,
        "texts": done,
    }
    benchmark.extra_info.update(figures)
    return figures


def _min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return float(np.min(np.sum(a * b, axis=1)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_infinity_baseline_32_clients(
    benchmark, dtype: str, model_dir: Path, texts_file: Path, sample_indices: list[int], tmp_path: Path
) -> None:
    benchmark.group = f"served-vs-infinity-{dtype}"
    if not (INFINITY_VENV / "bin" / "infinity_emb").is_file():
        pytest.skip(
            f"infinity venv not found at {INFINITY_VENV}: create it with benchmarks/infinity/setup_venv.sh "
            "or point YOUTU_BENCH_INFINITY_VENV at one"
        )
    server = InfinityProcess(INFINITY_VENV, model_dir, dtype, tmp_path)
    generator = None
    try:
        server.wait_ready(STARTUP_TIMEOUT_S)
        generator = LoadGenerator("openai", server.url, texts_file, tmp_path, server.proc.pid)
        figures = _measure(benchmark, generator)
        sample = generator.embed(sample_indices)
    finally:
        if generator is not None:
            generator.stop()
        server.stop()
    assert sample.shape == (len(sample_indices), 384)
    _INFINITY[dtype] = {**figures, "sample": sample}


@contextlib.contextmanager
def _ours(protocol: str, dtype: str, model_dir: Path, texts_file: Path, tmp_path: Path) -> Iterator[LoadGenerator]:
    """A load generator against ``youtu-embed serve``, over gRPC or its OpenAI-compatible HTTP route."""
    from youtu_embedding.serve.testing import ServerProcess

    server = ServerProcess(model_dir, tmp_path, "--dtype", dtype, "--served-model-name", MODEL_NAME)
    generator = None
    try:
        server.wait_serving(timeout=STARTUP_TIMEOUT_S)
        target = server.target if protocol == "grpc" else server.http_url + "/v1"
        generator = LoadGenerator(protocol, target, texts_file, tmp_path, server.pid)
        yield generator
    finally:
        if generator is not None:
            generator.stop()
        stop_tree(server.pid)
        server.terminate(timeout=10)


def _measure_ours(
    benchmark, protocol: str, dtype: str, model_dir: Path, texts_file: Path, indices: list[int], tmp_path: Path
) -> tuple[dict[str, float], np.ndarray]:
    with _ours(protocol, dtype, model_dir, texts_file, tmp_path) as generator:
        figures = _measure(benchmark, generator)
        sample = generator.embed(indices)
    assert sample.shape == (len(indices), 384)
    return figures, sample


def _compare(benchmark, dtype: str, figures: dict[str, float], sample: np.ndarray) -> dict[str, Any] | None:
    """Ratios to infinity's figures of the same dtype (None: no baseline); checks the embeddings agree."""
    baseline = _INFINITY.get(dtype)
    if baseline is None:
        benchmark.extra_info["vs_infinity"] = "no baseline (infinity skipped or failed)"
        return None
    ratios = {
        "min_cosine_vs_infinity": _min_cosine(sample, baseline["sample"]),
        "texts_per_s_ratio": figures["texts_per_s"] / baseline["texts_per_s"],
        "p99_ratio": figures["p99_s"] / baseline["p99_s"],
        # infinity's CPU ms per text / ours
        "server_cpu_efficiency_ratio": baseline["server_cpu_ms_per_text"] / figures["server_cpu_ms_per_text"],
    }
    benchmark.extra_info.update(ratios)
    return ratios


@pytest.mark.parametrize("dtype", DTYPES)
def test_youtu_grpc_32_clients(
    benchmark, dtype: str, model_dir: Path, texts_file: Path, sample_indices: list[int], tmp_path: Path
) -> None:
    benchmark.group = f"served-vs-infinity-{dtype}"
    figures, sample = _measure_ours(benchmark, "grpc", dtype, model_dir, texts_file, sample_indices, tmp_path)
    _GRPC[dtype] = {**figures, "sample": sample}
    ratios = _compare(benchmark, dtype, figures, sample)
    if ratios is None:
        return
    benchmark.extra_info["target_met"] = bool(ratios["texts_per_s_ratio"] >= 1.2 and ratios["p99_ratio"] <= 1.0)
    # Apples to apples: both servers must compute the same embeddings for the ratio to mean anything.
    cosine = ratios["min_cosine_vs_infinity"]
    assert cosine >= MIN_COSINE, f"embeddings differ from infinity's ({dtype}): min cosine {cosine:.6f}"


@pytest.mark.parametrize("dtype", DTYPES)
def test_youtu_http_32_clients(
    benchmark, dtype: str, model_dir: Path, texts_file: Path, sample_indices: list[int], tmp_path: Path
) -> None:
    """Our OpenAI-compatible ``/v1/embeddings`` with the same client as infinity's (base64 float32)."""
    benchmark.group = f"served-vs-infinity-{dtype}"
    figures, sample = _measure_ours(benchmark, "openai", dtype, model_dir, texts_file, sample_indices, tmp_path)
    grpc_run = _GRPC.get(dtype)
    vs_grpc = None
    if grpc_run is not None:
        vs_grpc = figures["texts_per_s"] / grpc_run["texts_per_s"]
        benchmark.extra_info.update(
            {
                "texts_per_s_ratio_vs_grpc": vs_grpc,
                "p99_ratio_vs_grpc": figures["p99_s"] / grpc_run["p99_s"],
                "max_abs_diff_vs_grpc": float(np.abs(sample - grpc_run["sample"]).max()),
            }
        )
        # the same server through two front doors: the same vectors
        assert np.abs(sample - grpc_run["sample"]).max() < 1e-5
    ratios = _compare(benchmark, dtype, figures, sample)
    if ratios is None or vs_grpc is None:
        return
    benchmark.extra_info["target_met"] = bool(
        vs_grpc >= 0.9 and ratios["texts_per_s_ratio"] >= 1.2 and ratios["p99_ratio"] <= 1.0
    )
    cosine = ratios["min_cosine_vs_infinity"]
    assert cosine >= MIN_COSINE, f"embeddings differ from infinity's ({dtype}): min cosine {cosine:.6f}"
