"""GPU check of `utu` at full size: a random 32-layer, hidden-2048 checkpoint in bf16 (about 2.1B parameters
with an 8,000-token vocabulary), run through ``Encoder`` with padded and with packed (unpadded) batches, and
through ``youtu-embed serve`` (gRPC on loopback), on mixed real texts.

Reports (JSON on stdout, and ``--output``): tokens/s of each path, and the agreement of the two attention
paths (padded SDPA vs the backend's variable-length kernel: flash_attn varlen where installed, else SDPA on
jagged tensors). Planned to take under 10 minutes on one H100/H200; everything here also runs on the CPU
with ``--tiny --device cpu`` (a 2-layer, hidden-256 model), which is how it is dry-run without a GPU::

    python benchmarks/gpu/check_utu_gpu.py                      # the GPU check
    python benchmarks/gpu/check_utu_gpu.py --tiny --device cpu  # dry run of the same code paths

Texts: ../shared/data (STS-B sentences, XQuAD paragraphs and questions) when present, else generated
sentences of mixed lengths (the GPU machine may not have the data folder).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

FULL = dict(num_layers=32, hidden_size=2048, num_heads=32, head_dim=64, intermediate_size=8192, vocab_size=8000)
TINY = dict(num_layers=2, hidden_size=256, num_heads=4, head_dim=64, intermediate_size=512, vocab_size=2000)


def load_texts(n: int) -> list[str]:
    """Mixed real texts from ../shared/data, else generated ones of mixed lengths (8 to 600 words)."""
    data = Path(__file__).resolve().parents[2].parent / "shared" / "data"
    if data.is_dir():
        from youtu_embedding.core.testing import read_jsonl

        sts = [r["sentence1"] for r in read_jsonl(data / "eval" / "sts" / "stsb-en" / "test.jsonl")]
        xquad = data / "eval" / "retrieval" / "xquad-en"
        paragraphs = [r["text"] for r in read_jsonl(xquad / "corpus.jsonl")]
        questions = [r["text"] for r in read_jsonl(xquad / "queries.jsonl")]
        pool = sts[: n // 2] + paragraphs[: n // 4] + questions[: n - n // 2 - n // 4]
    else:
        rng = random.Random(0)
        words = ["the", "a", "model", "text", "query", "passage", "search", "rank", "vector", "token", "layer"]
        pool = [
            " ".join(rng.choice(words) for _ in range(rng.choice([8, 12, 20, 40, 120, 300, 600]))) for _ in range(n)
        ]
    random.Random(1).shuffle(pool)
    return pool[:n]


def timed(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    """Best wall time of ``fn`` over ``repeats`` runs after one warm-up, with device syncs."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def served_tokens_per_s(model: Path, device: str, texts: list[str], tokens: int, clients: int) -> dict[str, float]:
    """``youtu-embed serve`` on loopback, `clients` threads sending one text per request."""
    try:
        from youtu_embedding.serve.client import EmbeddingClient
        from youtu_embedding.serve.testing import ServerProcess
    except ImportError as exc:
        return {"skipped": f"youtu-embedding-serve is not installed ({exc})"}  # type: ignore[dict-item]
    log_dir = Path(tempfile.mkdtemp(prefix="utu-gpu-serve-"))
    server = ServerProcess(model, log_dir, "--device", device, "--dtype", "bfloat16")
    try:
        server.wait_serving(timeout=600)
        queue = list(range(len(texts)))
        lock = threading.Lock()

        def worker() -> None:
            client = EmbeddingClient(server.target)
            while True:
                with lock:
                    if not queue:
                        return
                    i = queue.pop()
                client.embed([texts[i]], timeout=300)

        warm = EmbeddingClient(server.target)
        warm.embed(texts[:8], timeout=600)
        threads = [threading.Thread(target=worker) for _ in range(clients)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - start
        return {"tokens_per_s": tokens / seconds, "seconds": seconds, "clients": clients}
    finally:
        server.proc.terminate()
        server.proc.wait(timeout=60)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="a 2-layer hidden-256 model (dry run)")
    parser.add_argument("--texts", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--no-serve", action="store_true", help="skip the served path")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)

    from youtu_embedding.core import Encoder
    from youtu_embedding.core.testing import make_tiny_utu

    shape = TINY if args.tiny else FULL
    texts = load_texts(args.texts if not args.tiny else min(args.texts, 64))
    report: dict[str, object] = {"device": args.device, "shape": shape, "texts": len(texts), "torch": torch.__version__}
    if args.device.startswith("cuda"):
        report["gpu"] = torch.cuda.get_device_name()
    with tempfile.TemporaryDirectory(prefix="utu-gpu-") as tmp:
        start = time.perf_counter()
        model = make_tiny_utu(Path(tmp) / "utu", texts=texts, **shape)  # type: ignore[arg-type]
        report["build_seconds"] = round(time.perf_counter() - start, 1)
        paths = {"padded": False, "unpadded": None}  # None: the backend's default (packed on CUDA)
        vectors = {}
        for name, unpadded in paths.items():
            enc = Encoder(model, device=args.device, dtype="bfloat16", max_length=1024, unpadded=unpadded)
            tokens = sum(len(r) for r in enc.tokenize(texts))
            report[f"{name}_attention"] = enc.info()["fast_paths"]["attention"]
            vectors[name] = np.asarray(enc.encode_documents(texts))
            seconds = timed(lambda enc=enc: enc.encode_documents(texts), args.repeats)
            report[f"{name}_tokens_per_s"] = round(tokens / seconds, 1)
            del enc
        report["tokens"] = tokens
        a, b = vectors["padded"], vectors["unpadded"]
        cosine = (a * b).sum(1)
        report["padded_vs_unpadded"] = {"min_cosine": float(cosine.min()), "max_abs_diff": float(np.abs(a - b).max())}
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        if not args.no_serve:
            report["served"] = served_tokens_per_s(model, args.device, texts, tokens, args.clients)
    report["ok"] = report["padded_vs_unpadded"]["min_cosine"] >= 0.999  # type: ignore[index]
    text = json.dumps(report, indent=2)
    print(text)
    if args.output:
        args.output.write_text(text)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
