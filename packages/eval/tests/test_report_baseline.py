"""The released baseline and the report, on the released per-task scores (no model needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.eval.baselines import load_baseline
from youtu_embedding.eval.report import plot_size, write_report
from youtu_embedding.eval.results import overall_means, read_results_folder, type_means

#: REFERENCE.md, "C-MTEB (Sep 2025)".
REFERENCE_MEANS = {
    "Classification": 78.65,
    "Clustering": 84.27,
    "PairClassification": 86.12,
    "Reranking": 75.10,
    "Retrieval": 80.21,
    "STS": 68.82,
    "Mean(Task)": 77.58,
    "Mean(Type)": 78.86,
}


def test_released_baseline_is_consistent_with_reference() -> None:
    base = load_baseline("youtu-embedding-v1")
    assert base.published_means == REFERENCE_MEANS
    assert len(base.scores) + len(base.missing_tasks) == 31
    assert not set(base.scores) & set(base.missing_tasks)
    # the four clustering tasks are all known: their mean is the published Clust. figure
    assert type_means(base.scores.values())["Clustering"] == pytest.approx(REFERENCE_MEANS["Clustering"], abs=0.01)


def test_report_of_a_plain_mteb_results_folder(tmp_path: Path) -> None:
    """A folder of plain mteb result files (as mteb writes them) is read, summarised and plotted."""
    base = load_baseline("youtu-embedding-v1")
    folder = tmp_path / "mteb-results"
    folder.mkdir()
    for name, score in base.scores.items():
        scores = {
            split: [{"main_score": v / 100, "hf_subset": "default", "languages": ["cmn-Hans"]}]
            for split, v in score.split_scores.items()
        }
        (folder / f"{name}.json").write_text(json.dumps({"task_name": name, "scores": scores}), "utf-8")
    read = read_results_folder(folder)
    assert set(read) == set(base.scores)
    assert read["CovidRetrieval"].task_type == "Retrieval"  # looked up in mteb's task registry
    assert read["AFQMC"].main_score == pytest.approx(72.1944)
    files = write_report(read, tmp_path / "report", baseline=base, title="mteb folder")
    md = files.markdown.read_text("utf-8")
    means = overall_means(read.values())
    assert f"| Mean(Task) | {len(read)} | {means['Mean(Task)']:.2f} |" in md
    assert "Per-task scores of tencent/Youtu-Embedding (released) not in our sources: BQ" in md
    from matplotlib.image import imread

    image = imread(files.plot)
    assert image.shape[:2] == plot_size(len(read))[::-1]


def test_unknown_baseline_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="baseline: 'nope' is neither a results folder"):
        load_baseline("nope")
