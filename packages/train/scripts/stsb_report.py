"""Real-data report: fine-tune all-MiniLM-L6-v2 with CoDiEmb on STS-B + SICK + SICK-entailment (CPU).

One documented command reproduces every figure of docs/train.md ("Measured results")::

    nice -n 10 python packages/train/scripts/stsb_report.py all --workdir /tmp/stsb-report

Steps (each can be run alone, results are cached as JSON in the workdir):

* ``baseline``: the untouched model's STS-B en test/dev Spearman and XQuAD-en nDCG@10;
* ``train VARIANT``: ``dynamic`` (the CoDiEmb recipe), ``mixed`` (mixed-task sampler),
  ``infonce`` (InfoNCE-only STS loss: last-layer InfoNCE over pairs with gold >= 0.8),
  ``dynamic-seed2`` (second seed, for fusion); each trains with ``youtu_embedding.train`` and
  evaluates its final model;
* ``merge``: the uniform soup vs. delta-guided fusion (alpha -1, the default, and +1) of
  ``dynamic`` + ``dynamic-seed2`` (STS-B dev/test, XQuAD, SICK dev);
* ``report``: a markdown table of everything measured.

Evaluation: the core :class:`~youtu_embedding.core.Encoder` (no prompt, as the model was trained),
cosine similarity, scipy's Spearman; nDCG@10 with pytrec_eval (title + " " + text as documents).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[3]
DATA = Path(os.environ.get("YOUTU_SHARED_DATA", REPO.parent / "shared" / "data"))
TRAIN_FILES = ["train/sts/stsb-en.jsonl", "train/sts/sick.jsonl", "train/ir/sick-entailment.jsonl"]

#: The recipe (all other options: the package defaults = the CoDiEmb reference values).
BASE_OPTIONS = {
    "model": "all-MiniLM-L6-v2",
    "prefix_template": "",  # MiniLM was not trained with instructions; train and evaluate without
    "max_length": 128,
    "ir_batch_size": 32,
    "sts_batch_size": 32,
    "batch_size": 32,
    "num_positives": 1,  # SICK-entailment items have one positive; P=2 would only duplicate it
    "num_negatives": 4,
    "learning_rate": 1e-4,
    "warmup_ratio": 0.1,
    "epochs": 1,
    "max_steps": 160,  # ~45% of an epoch (354 steps): what fits the time budget on 2 shared cores
    "num_threads": 2,
    "seed": 49,
    "save_every_epoch": False,
    "progress": True,
}
VARIANTS = {
    "dynamic": {},
    "mixed": {"sampler": "mixed"},
    "infonce": {"sts_loss": "infonce", "sts_infonce_threshold": 0.8},
    "dynamic-seed2": {"seed": 7},
}


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def sts_spearman(encoder, split: str) -> float:
    from scipy.stats import spearmanr

    rows = read_jsonl(DATA / "eval" / "sts" / "stsb-en" / f"{split}.jsonl")
    a = encoder.encode([r["sentence1"] for r in rows], normalize=True)
    b = encoder.encode([r["sentence2"] for r in rows], normalize=True)
    return 100 * float(spearmanr((a * b).sum(1), [r["score"] for r in rows]).statistic)


def xquad_ndcg10(encoder) -> float:
    import pytrec_eval

    root = DATA / "eval" / "retrieval" / "xquad-en"
    corpus = read_jsonl(root / "corpus.jsonl")
    queries = read_jsonl(root / "queries.jsonl")
    qrels: dict[str, dict[str, int]] = {}
    for line in (root / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        qid, did, score = line.split("\t")
        qrels.setdefault(qid, {})[did] = int(score)
    queries = [q for q in queries if q["_id"] in qrels]
    docs = encoder.encode([(d.get("title", "") + " " + d["text"]).strip() for d in corpus], normalize=True)
    qs = encoder.encode([q["text"] for q in queries], normalize=True)
    sims = qs @ docs.T
    run = {}
    for i, q in enumerate(queries):
        top = sims[i].argsort()[::-1][:100]
        run[q["_id"]] = {corpus[j]["_id"]: float(sims[i, j]) for j in top}
    scores = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"}).evaluate(run)
    return 100 * sum(s["ndcg_cut_10"] for s in scores.values()) / len(scores)


def evaluate(model: str, *, retrieval: bool = True) -> dict[str, float]:
    from youtu_embedding.core import Encoder

    enc = Encoder(
        model, device="cpu", dtype="float32", batch_size=64, max_length=256, num_threads=BASE_OPTIONS["num_threads"]
    )
    out = {"stsb_test": sts_spearman(enc, "test"), "stsb_dev": sts_spearman(enc, "dev")}
    if retrieval:
        out["xquad_ndcg10"] = xquad_ndcg10(enc)
    return out


def _cached(workdir: Path, name: str, fn) -> dict:
    path = workdir / f"{name}.json"
    if path.is_file():
        return json.loads(path.read_text())
    result = fn()
    path.write_text(json.dumps(result, indent=2))
    print(name, json.dumps(result))
    return result


def run_baseline(workdir: Path) -> dict:
    return _cached(workdir, "baseline", lambda: evaluate("all-MiniLM-L6-v2"))


def run_variant(workdir: Path, variant: str) -> dict:
    def go() -> dict:
        from youtu_embedding.train import train

        options = {
            **BASE_OPTIONS,
            **VARIANTS[variant],
            "data": [str(DATA / f) for f in TRAIN_FILES],
            "output_dir": str(workdir / variant),
        }
        t0 = time.perf_counter()
        result = train(options)
        seconds = time.perf_counter() - t0
        scores = evaluate(str(result.final_model))
        return {"options": options, "train_seconds": seconds, "steps": result.global_step, **scores}

    return _cached(workdir, variant, go)


def sick_dev(encoder) -> float:
    from scipy.stats import spearmanr

    rows = read_jsonl(DATA / "eval" / "sts" / "sick" / "dev.jsonl")
    a = encoder.encode([r["sentence1"] for r in rows], normalize=True)
    b = encoder.encode([r["sentence2"] for r in rows], normalize=True)
    return 100 * float(spearmanr((a * b).sum(1), [r["score"] for r in rows]).statistic)


#: Merges compared: the uniform soup, delta-guided with the default alpha (-1, consensus) and alpha=+1.
MERGES = {"uniform": ("uniform", 0.0), "delta": ("delta", -1.0), "delta-alpha+1": ("delta", 1.0)}


def run_merge(workdir: Path) -> dict:
    def go() -> dict:
        from youtu_embedding.core import Encoder
        from youtu_embedding.train.merge import merge_models

        ckpts = [workdir / "dynamic" / "final", workdir / "dynamic-seed2" / "final"]
        out = {}
        for name, (method, alpha) in MERGES.items():
            target = workdir / f"merged-{name}"
            merge_models("all-MiniLM-L6-v2", ckpts, target, method=method, alpha=alpha, overwrite=True)
            out[name] = evaluate(str(target))
            enc = Encoder(str(target), device="cpu", num_threads=BASE_OPTIONS["num_threads"])
            out[name]["sick_dev"] = sick_dev(enc)
        return out

    return _cached(workdir, "merge", go)


def report(workdir: Path) -> str:
    rows = []
    base = json.loads((workdir / "baseline.json").read_text())
    rows.append(("all-MiniLM-L6-v2 (no fine-tuning)", base, None))
    for v in VARIANTS:
        p = workdir / f"{v}.json"
        if p.is_file():
            r = json.loads(p.read_text())
            rows.append((v, r, r["train_seconds"]))
    mp = workdir / "merge.json"
    if mp.is_file():
        m = json.loads(mp.read_text())
        labels = {
            "uniform": "uniform soup",
            "delta": "delta-guided, alpha=-1 (default)",
            "delta-alpha+1": "delta-guided, alpha=+1",
        }
        rows += [(f"merge: {labels[k]} (dynamic + dynamic-seed2)", v, None) for k, v in m.items()]
    lines = [
        "| model | STS-B en test | STS-B en dev | XQuAD-en nDCG@10 | train time |",
        "|---|---|---|---|---|",
    ]
    for name, r, sec in rows:
        t = f"{sec / 60:.1f} min" if sec else ""
        lines.append(
            f"| {name} | {r['stsb_test']:.2f} | {r['stsb_dev']:.2f} | {r.get('xquad_ndcg10', float('nan')):.2f} | {t} |"
        )
    text = "\n".join(lines)
    (workdir / "report.md").write_text(text + "\n")
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["baseline", "train", "merge", "report", "all"])
    parser.add_argument("variant", nargs="?", choices=list(VARIANTS))
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/stsb-report"))
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads per training run")
    args = parser.parse_args()
    BASE_OPTIONS["num_threads"] = args.threads
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.step in ("baseline", "all"):
        run_baseline(args.workdir)
    if args.step == "train":
        if not args.variant:
            parser.error("train needs a VARIANT")
        run_variant(args.workdir, args.variant)
    if args.step == "all":
        for v in VARIANTS:
            run_variant(args.workdir, v)
    if args.step in ("merge", "all"):
        run_merge(args.workdir)
    print(report(args.workdir))


if __name__ == "__main__":
    main()
