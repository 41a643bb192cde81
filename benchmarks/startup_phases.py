"""Start-up phases of one fresh process: imports, model load, first batch, then the rest of the texts.

Usage: python benchmarks/startup_phases.py st|ours MODEL_DIR TEXTS_FILE [--dtype D] [--runtime R]
[--runtime-option K=V ...]. Prints one JSON line of seconds: ``imports``, ``load`` (with the runtime's
preparation), ``first_batch`` (the first 32 texts of the file, cold) and ``all_texts_warm`` (every text,
after that). Used by benchmarks/test_bench_whole_command.py.
"""

from __future__ import annotations

import argparse
import json
import time

START = time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["st", "ours"])
    parser.add_argument("model")
    parser.add_argument("texts")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--runtime", default="torch")
    parser.add_argument("--runtime-option", action="append", default=[])
    args = parser.parse_args()
    with open(args.texts, encoding="utf-8") as fh:
        texts = fh.read().splitlines()
    phases: dict[str, float] = {}
    mark = START
    if args.kind == "st":
        from sentence_transformers import SentenceTransformer

        phases["imports"] = time.perf_counter() - mark
        mark = time.perf_counter()
        model = SentenceTransformer(args.model, device="cpu")
        encode = model.encode
    else:
        from youtu_embedding.core import Encoder

        phases["imports"] = time.perf_counter() - mark
        mark = time.perf_counter()
        options = dict(item.split("=", 1) for item in args.runtime_option)
        enc = Encoder(args.model, device="cpu", dtype=args.dtype, runtime=args.runtime, runtime_options=options)
        encode = enc.encode
    phases["load"] = time.perf_counter() - mark
    mark = time.perf_counter()
    encode(texts[:32], batch_size=32)
    phases["first_batch"] = time.perf_counter() - mark
    mark = time.perf_counter()
    encode(texts, batch_size=32)
    phases["all_texts_warm"] = time.perf_counter() - mark
    print(json.dumps(phases))


if __name__ == "__main__":
    main()
