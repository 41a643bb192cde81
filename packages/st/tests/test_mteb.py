"""The shim under ``mteb.evaluate`` on an STS task built from the local STS-B files, prompts per task type."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from youtu_embedding.core import Encoder
from youtu_embedding.core.templates import get_template
from youtu_embedding.st import SentenceTransformer, local_sts_task, mteb_prompts

mteb = pytest.importorskip("mteb")
PAIRS = 150
MINILM_PAIRS = 60


def _cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def _rows(data_dir, pairs: int = PAIRS) -> dict[str, list]:
    from youtu_embedding.core.testing import read_jsonl

    rows = read_jsonl(data_dir / "eval" / "sts" / "stsb-en" / "test.jsonl")[:pairs]
    return {key: [r[key] for r in rows] for key in ("sentence1", "sentence2", "score")}


def test_mteb_prompts_follow_the_task_kind() -> None:
    prompts = mteb_prompts()
    youtu = get_template("youtu")
    assert prompts["STS"] == youtu.render("Retrieve semantically similar text")
    assert prompts["Retrieval-document"] == "" and prompts["Retrieval-query"].startswith("Instruction: ")
    assert prompts["T2Retrieval-query"] == youtu.render(youtu.task("T2Retrieval").instruction)
    assert prompts["STSB"] == youtu.render(youtu.task("STSB").instruction)  # symmetric: both sides


def test_mteb_evaluate_local_sts_with_task_type_prompt(utu_release, data_dir, stsb_sentences) -> None:
    task = local_sts_task(data_dir / "eval" / "sts" / "stsb-en", "test", limit=PAIRS)
    model = SentenceTransformer(str(utu_release), device="cpu", prompts=mteb_prompts(include_task_names=False))
    result = mteb.evaluate(model, task, cache=None, show_progress_bar=False)
    score = result.task_results[0].get_score()

    rows = _rows(data_dir)
    core = Encoder(utu_release, device="cpu", dtype="float32")
    prefix = mteb_prompts()["STS"]
    a = core.encode(list(rows["sentence1"]), prompt=prefix)
    b = core.encode(list(rows["sentence2"]), prompt=prefix)
    expected = spearmanr(_cosine_rows(a, b), rows["score"]).statistic
    assert score == pytest.approx(expected, abs=1e-4)
    unprompted = spearmanr(
        _cosine_rows(core.encode(list(rows["sentence1"])), core.encode(list(rows["sentence2"]))), rows["score"]
    ).statistic
    assert abs(unprompted - expected) > 1e-4  # the STS prompt was really applied


def test_mteb_evaluate_minilm_reproduces_scipy(minilm_st, data_dir) -> None:
    task = local_sts_task(data_dir / "eval" / "sts" / "stsb-en", "test", limit=MINILM_PAIRS)
    result = mteb.evaluate(minilm_st, task, cache=None, show_progress_bar=False)
    rows = _rows(data_dir, MINILM_PAIRS)
    a, b = minilm_st.encode(list(rows["sentence1"])), minilm_st.encode(list(rows["sentence2"]))
    assert result.task_results[0].get_score() == pytest.approx(
        spearmanr(_cosine_rows(a, b), rows["score"]).statistic, abs=1e-6
    )
